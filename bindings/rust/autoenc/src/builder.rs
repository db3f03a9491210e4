//! [`Builder`]: typed settings applied in an order the library accepts.
use crate::error::Result;
use crate::model::Model;
use crate::settings::{Activation, Architecture, Loss, Noise, Optimizer, Param, Scaling};

/// Makes a [`Model`] with its settings, from [`Model::builder`].
///
/// Each method records a setting; [`build`](Builder::build) makes the model
/// and applies the typed settings in an order that suits the library's
/// rules, whatever the order in which they were called: the seed, the
/// activations, the scaling, the loss (a BCE loss after the sigmoid output it
/// needs), the optimizer (its kind before its numbers), the noise (its kind
/// before its level), the typed run settings (epochs, batch size, threads).
/// Calling a typed setter twice keeps the last value.
///
/// The [`param`](Builder::param) values are not reordered: they are applied
/// after every typed setting, wherever their calls stand in the chain, one by
/// one in the order given. So a `param` value overrides a typed setter of the
/// same setting even when it is called before it, and it is checked against
/// every typed setting: `.param(Param::OutputActivation, tanh)` fails the
/// build beside [`output`](Builder::output)`(Activation::Sigmoid)` and
/// [`loss`](Builder::loss)`(Loss::Bce)`, even when called before them. A
/// setting the library refuses fails `build` with its error, and the
/// half-made model is freed.
///
/// ```
/// use autoenc::{Activation, Loss, Model, Noise, Optimizer, Param};
/// let model = Model::builder(&[784, 256, 32])
///     .hidden(Activation::Relu)
///     .output(Activation::Sigmoid)
///     .loss(Loss::Bce)
///     .optimizer(Optimizer::Adam { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 })
///     .noise(Noise::Masking(0.2))
///     .epochs(20)
///     .batch_size(128)
///     .param(Param::ValidationFraction, 0.1)
///     .param(Param::Patience, 3.0)
///     .build()?;
/// assert_eq!(model.param(Param::BatchSize)?, 128.0);
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until build() is called"]
pub struct Builder {
    encoder: Vec<usize>,
    decoder: Option<Vec<usize>>,
    architecture: Architecture,
    seed: Option<u64>,
    hidden: Option<Activation>,
    latent: Option<Activation>,
    output: Option<Activation>,
    scaling: Option<Scaling>,
    loss: Option<Loss>,
    optimizer: Option<Optimizer>,
    noise: Option<Noise>,
    epochs: Option<u64>,
    batch_size: Option<usize>,
    threads: Option<usize>,
    params: Vec<(Param, f64)>,
}

impl Builder {
    pub(crate) fn new(encoder_widths: &[usize]) -> Builder {
        Builder {
            encoder: encoder_widths.to_vec(),
            decoder: None,
            architecture: Architecture::PLAIN,
            seed: None,
            hidden: None,
            latent: None,
            output: None,
            scaling: None,
            loss: None,
            optimizer: None,
            noise: None,
            epochs: None,
            batch_size: None,
            threads: None,
            params: Vec::new(),
        }
    }

    /// A decoder of its own, `[latent_dim, hidden..., input_dim]`, instead of
    /// the mirror of the encoder.
    ///
    /// ```
    /// let model = autoenc::Model::builder(&[8, 4, 2]).decoder(&[2, 8]).build()?;
    /// assert_eq!(model.layer_count(), 3);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn decoder(mut self, decoder_widths: &[usize]) -> Builder {
        self.decoder = Some(decoder_widths.to_vec());
        self
    }

    /// Architecture variants: tied weights or a variational model.
    ///
    /// ```
    /// use autoenc::{Architecture, Model};
    /// let tied = Model::builder(&[8, 2]).architecture(Architecture::TIED_WEIGHTS).build()?;
    /// assert_eq!(tied.param_count(), 8 * 2 + 2 + 8); // the decoder has biases only
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn architecture(mut self, architecture: Architecture) -> Builder {
        self.architecture = architecture;
        self
    }

    /// The generator seed (initial weights, splits, shuffling, noise).
    ///
    /// ```
    /// use autoenc::Model;
    /// let a = Model::builder(&[4, 2]).seed(3).build()?;
    /// let b = Model::builder(&[4, 2]).seed(3).build()?;
    /// assert_eq!(a.params()?, b.params()?);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> Builder {
        self.seed = Some(seed);
        self
    }

    /// The activation of every hidden layer.
    ///
    /// ```
    /// use autoenc::{Activation, Model};
    /// let model = Model::builder(&[6, 4, 2]).hidden(Activation::Elu).build()?;
    /// assert_eq!(model.describe_layer(2)?.activation, Some(Activation::Elu));
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn hidden(mut self, activation: Activation) -> Builder {
        self.hidden = Some(activation);
        self
    }

    /// The activation of the latent layer.
    ///
    /// ```
    /// use autoenc::{Activation, Model};
    /// let model = Model::builder(&[6, 4, 2]).latent(Activation::Tanh).build()?;
    /// assert_eq!(model.describe_layer(1)?.activation, Some(Activation::Tanh));
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn latent(mut self, activation: Activation) -> Builder {
        self.latent = Some(activation);
        self
    }

    /// The activation of the output layer.
    ///
    /// ```
    /// use autoenc::{Activation, Model};
    /// let model = Model::builder(&[6, 2]).output(Activation::Sigmoid).build()?;
    /// assert_eq!(model.describe_layer(1)?.activation, Some(Activation::Sigmoid));
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn output(mut self, activation: Activation) -> Builder {
        self.output = Some(activation);
        self
    }

    /// The loss. [`Loss::Bce`] needs [`output`](Builder::output)`(Activation::Sigmoid)`.
    ///
    /// ```
    /// use autoenc::{Activation, Loss, Model, Param, Status};
    /// // Between typed setters the order of the calls does not matter:
    /// Model::builder(&[6, 2]).loss(Loss::Bce).output(Activation::Sigmoid).build()?;
    /// // A conflict fails the build:
    /// let err = Model::builder(&[6, 2]).loss(Loss::Bce).output(Activation::Relu).build().unwrap_err();
    /// assert_eq!(err.status(), Status::State);
    /// // `param` values come after every typed setting, whatever the order of
    /// // the calls: this tanh output is set last, and conflicts with the loss.
    /// let tanh = f64::from(Activation::Tanh.raw());
    /// let err = Model::builder(&[6, 2])
    ///     .param(Param::OutputActivation, tanh)
    ///     .output(Activation::Sigmoid)
    ///     .loss(Loss::Bce)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.status(), Status::State);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn loss(mut self, loss: Loss) -> Builder {
        self.loss = Some(loss);
        self
    }

    /// The optimizer and its hyper-parameters.
    ///
    /// ```
    /// use autoenc::{Model, Optimizer, Param};
    /// let model = Model::builder(&[6, 2]).optimizer(Optimizer::adamw(1e-3, 0.01)).build()?;
    /// assert_eq!(model.param(Param::WeightDecay)?, 0.01);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn optimizer(mut self, optimizer: Optimizer) -> Builder {
        self.optimizer = Some(optimizer);
        self
    }

    /// Denoising: the corruption of the training inputs.
    ///
    /// ```
    /// use autoenc::{Model, Noise, Param};
    /// let model = Model::builder(&[6, 2]).noise(Noise::Gaussian(0.3)).build()?;
    /// assert_eq!(model.param(Param::NoiseLevel)?, 0.3);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn noise(mut self, noise: Noise) -> Builder {
        self.noise = Some(noise);
        self
    }

    /// The scaling of the input features.
    ///
    /// ```
    /// use autoenc::{Model, Param, Scaling};
    /// let model = Model::builder(&[6, 2]).scaling(Scaling::MinMax).build()?;
    /// assert_eq!(model.param(Param::Scaling)?, 1.0);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn scaling(mut self, scaling: Scaling) -> Builder {
        self.scaling = Some(scaling);
        self
    }

    /// Epochs per fit.
    ///
    /// ```
    /// let model = autoenc::Model::builder(&[6, 2]).epochs(3).build()?;
    /// assert_eq!(model.param(autoenc::Param::Epochs)?, 3.0);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn epochs(mut self, epochs: u64) -> Builder {
        self.epochs = Some(epochs);
        self
    }

    /// Rows per optimizer step.
    ///
    /// ```
    /// let model = autoenc::Model::builder(&[6, 2]).batch_size(32).build()?;
    /// assert_eq!(model.param(autoenc::Param::BatchSize)?, 32.0);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn batch_size(mut self, batch_size: usize) -> Builder {
        self.batch_size = Some(batch_size);
        self
    }

    /// Threads for training's elementwise work (0: one per processor).
    ///
    /// ```
    /// let model = autoenc::Model::builder(&[6, 2]).threads(1).build()?;
    /// assert_eq!(model.param(autoenc::Param::Threads)?, 1.0);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn threads(mut self, threads: usize) -> Builder {
        self.threads = Some(threads);
        self
    }

    /// Any other setting, checked by the library when the model is built.
    /// Unlike the typed setters, `param` values are applied last: after every
    /// typed setting whatever the position of the call, then in the order
    /// given (a later value of the same setting wins). See [`Builder`].
    ///
    /// ```
    /// use autoenc::{Model, Param, Status};
    /// let model = Model::builder(&[6, 2]).param(Param::ClipNorm, 1.0).build()?;
    /// assert_eq!(model.param(Param::ClipNorm)?, 1.0);
    /// // Called first, applied last: it overrides the typed setter.
    /// let model = Model::builder(&[6, 2]).param(Param::Epochs, 3.0).epochs(5).build()?;
    /// assert_eq!(model.param(Param::Epochs)?, 3.0);
    /// let err = Model::builder(&[6, 2]).param(Param::Momentum, 2.0).build().unwrap_err();
    /// assert_eq!(err.status(), Status::InvalidArgument);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn param(mut self, param: Param, value: f64) -> Builder {
        self.params.push((param, value));
        self
    }

    /// Makes the model and applies the settings (see [`Builder`] for the order).
    ///
    /// ```
    /// use autoenc::{Model, Status};
    /// assert_eq!(Model::builder(&[6]).build().unwrap_err().status(), Status::InvalidArgument);
    /// ```
    pub fn build(&self) -> Result<Model> {
        let mut model = Model::create(&self.encoder, self.decoder.as_deref(), self.architecture)?;
        // From here on an error drops `model`, which frees it.
        if let Some(seed) = self.seed {
            model.set_seed(seed)?;
        }
        if let Some(a) = self.hidden {
            model.set_hidden_activation(a)?;
        }
        if let Some(a) = self.latent {
            model.set_latent_activation(a)?;
        }
        if let Some(a) = self.output {
            model.set_output_activation(a)?;
        }
        if let Some(scaling) = self.scaling {
            model.set_scaling(scaling)?;
        }
        if let Some(loss) = self.loss {
            model.set_loss(loss)?;
        }
        if let Some(optimizer) = self.optimizer {
            model.set_optimizer(optimizer)?;
        }
        if let Some(noise) = self.noise {
            model.set_noise(noise)?;
        }
        if let Some(epochs) = self.epochs {
            model.set_epochs(epochs)?;
        }
        if let Some(batch_size) = self.batch_size {
            model.set_batch_size(batch_size)?;
        }
        if let Some(threads) = self.threads {
            model.set_param(Param::Threads, threads as f64)?;
        }
        for &(param, value) in &self.params {
            model.set_param(param, value)?;
        }
        Ok(model)
    }
}
