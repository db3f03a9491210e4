//! The settings as typed values: activations, losses, optimizers, noise,
//! scaling, architecture and save flags, and [`Param`] for every setting.
use crate::error::{static_str, Error, Result};
use autoenc_sys as sys;
use std::ops::{BitOr, BitOrAssign};

/// An activation function (`ae_activation`).
///
/// The slope of [`Activation::LeakyRelu`] and the alpha of [`Activation::Elu`]
/// are settings of their own ([`Param::LeakySlope`], [`Param::EluAlpha`]),
/// shared by every layer that uses them.
///
/// ```
/// use autoenc::Activation;
/// assert_eq!(Activation::Sigmoid.name(), "sigmoid");
/// assert_eq!(Activation::from_raw(1), Some(Activation::Relu));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// f(z) = z
    Linear,
    /// f(z) = max(z, 0)
    Relu,
    /// f(z) = z > 0 ? z : slope * z
    LeakyRelu,
    /// f(z) = z > 0 ? z : alpha * (exp(z) - 1)
    Elu,
    /// f(z) = 1 / (1 + exp(-z))
    Sigmoid,
    /// f(z) = tanh(z)
    Tanh,
    /// f(z) = log(1 + exp(z))
    Softplus,
}

impl Activation {
    /// Every activation, in the order of their C values.
    ///
    /// ```
    /// use autoenc::Activation;
    /// assert_eq!(Activation::ALL.len(), 7);
    /// ```
    pub const ALL: [Activation; 7] = [
        Activation::Linear,
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Elu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softplus,
    ];

    /// The C value (`AE_ACT_*`).
    ///
    /// ```
    /// assert_eq!(autoenc::Activation::Sigmoid.raw(), 4);
    /// ```
    pub fn raw(self) -> u32 {
        match self {
            Activation::Linear => sys::AE_ACT_LINEAR,
            Activation::Relu => sys::AE_ACT_RELU,
            Activation::LeakyRelu => sys::AE_ACT_LEAKY_RELU,
            Activation::Elu => sys::AE_ACT_ELU,
            Activation::Sigmoid => sys::AE_ACT_SIGMOID,
            Activation::Tanh => sys::AE_ACT_TANH,
            Activation::Softplus => sys::AE_ACT_SOFTPLUS,
        }
    }

    /// The activation of a C value, or `None` for a value this crate does not know.
    ///
    /// ```
    /// use autoenc::Activation;
    /// assert_eq!(Activation::from_raw(5), Some(Activation::Tanh));
    /// assert_eq!(Activation::from_raw(99), None);
    /// ```
    pub fn from_raw(raw: u32) -> Option<Activation> {
        Activation::ALL.iter().copied().find(|a| a.raw() == raw)
    }

    /// The library's name for it (`ae_activation_name`), e.g. "leaky_relu".
    ///
    /// ```
    /// assert_eq!(autoenc::Activation::LeakyRelu.name(), "leaky_relu");
    /// ```
    pub fn name(self) -> &'static str {
        // SAFETY: a static string, or NULL for values the library does not know.
        unsafe { static_str(sys::ae_activation_name(self.raw())) }
    }
}

/// A reconstruction loss (`ae_loss`).
///
/// [`Loss::Bce`] needs a sigmoid output and inputs in [0, 1].
///
/// ```
/// use autoenc::Loss;
/// assert_eq!(Loss::from_raw(1), Some(Loss::Bce));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Loss {
    /// Mean squared error.
    Mse,
    /// Binary cross-entropy, computed from the output layer's logits.
    Bce,
}

impl Loss {
    /// The C value (`AE_LOSS_*`).
    ///
    /// ```
    /// assert_eq!(autoenc::Loss::Mse.raw(), 0);
    /// ```
    pub fn raw(self) -> u32 {
        match self {
            Loss::Mse => sys::AE_LOSS_MSE,
            Loss::Bce => sys::AE_LOSS_BCE,
        }
    }

    /// The loss of a C value, or `None` for a value this crate does not know.
    ///
    /// ```
    /// assert_eq!(autoenc::Loss::from_raw(7), None);
    /// ```
    pub fn from_raw(raw: u32) -> Option<Loss> {
        [Loss::Mse, Loss::Bce].iter().copied().find(|l| l.raw() == raw)
    }
}

/// An optimizer and its hyper-parameters, with PyTorch's meaning
/// (`torch.optim.SGD`, `Adam`, `AdamW`).
///
/// The constructors fill in torch's defaults: `Optimizer::adam(1e-3)` is
/// `Optimizer::Adam { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8,
/// weight_decay: 0.0 }`. Setting an optimizer resets the optimizer state.
///
/// ```
/// use autoenc::Optimizer;
/// let adam = Optimizer::adam(1e-3);
/// assert_eq!(adam, Optimizer::Adam { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 });
/// let sgd = Optimizer::Sgd { lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.0 };
/// assert_eq!(sgd.learning_rate(), 0.1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// SGD with optional (Nesterov) momentum.
    Sgd {
        /// Learning rate, (0, 1e3].
        lr: f64,
        /// Momentum, [0, 1).
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 on the weights (not the biases), [0, 1e3].
        weight_decay: f64,
    },
    /// Adam, with L2 weight decay added to the gradient.
    Adam {
        /// Learning rate, (0, 1e3].
        lr: f64,
        /// First-moment decay, [0, 1).
        beta1: f64,
        /// Second-moment decay, [0, 1).
        beta2: f64,
        /// Denominator term, (0, 1].
        eps: f64,
        /// L2 on the weights (not the biases), [0, 1e3].
        weight_decay: f64,
    },
    /// AdamW: Adam with decoupled weight decay.
    AdamW {
        /// Learning rate, (0, 1e3].
        lr: f64,
        /// First-moment decay, [0, 1).
        beta1: f64,
        /// Second-moment decay, [0, 1).
        beta2: f64,
        /// Denominator term, (0, 1].
        eps: f64,
        /// Decoupled weight decay, [0, 1e3].
        weight_decay: f64,
    },
}

impl Optimizer {
    /// Plain SGD: no momentum, no weight decay.
    ///
    /// ```
    /// use autoenc::Optimizer;
    /// assert_eq!(Optimizer::sgd(0.01), Optimizer::Sgd { lr: 0.01, momentum: 0.0, nesterov: false, weight_decay: 0.0 });
    /// ```
    pub const fn sgd(lr: f64) -> Optimizer {
        Optimizer::Sgd {
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }

    /// Adam with torch's defaults (betas 0.9 and 0.999, eps 1e-8, no weight decay).
    ///
    /// ```
    /// assert_eq!(autoenc::Optimizer::adam(3e-4).learning_rate(), 3e-4);
    /// ```
    pub const fn adam(lr: f64) -> Optimizer {
        Optimizer::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }

    /// AdamW with torch's default betas and eps.
    ///
    /// ```
    /// use autoenc::Optimizer;
    /// let opt = Optimizer::adamw(1e-3, 0.01);
    /// assert!(matches!(opt, Optimizer::AdamW { weight_decay, .. } if weight_decay == 0.01));
    /// ```
    pub const fn adamw(lr: f64, weight_decay: f64) -> Optimizer {
        Optimizer::AdamW {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
        }
    }

    /// The learning rate.
    ///
    /// ```
    /// assert_eq!(autoenc::Optimizer::sgd(0.5).learning_rate(), 0.5);
    /// ```
    pub fn learning_rate(&self) -> f64 {
        match *self {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } | Optimizer::AdamW { lr, .. } => lr,
        }
    }

    /// The settings it stands for, in the order they must be set: the kind
    /// first (it resets the state), then its numbers.
    pub(crate) fn settings(&self) -> Vec<(Param, f64)> {
        match *self {
            Optimizer::Sgd {
                lr,
                momentum,
                nesterov,
                weight_decay,
            } => vec![
                (Param::Optimizer, f64::from(sys::AE_OPT_SGD)),
                (Param::LearningRate, lr),
                (Param::Momentum, momentum),
                (Param::Nesterov, if nesterov { 1.0 } else { 0.0 }),
                (Param::WeightDecay, weight_decay),
            ],
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            }
            | Optimizer::AdamW {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                let kind = if matches!(self, Optimizer::Adam { .. }) {
                    sys::AE_OPT_ADAM
                } else {
                    sys::AE_OPT_ADAMW
                };
                vec![
                    (Param::Optimizer, f64::from(kind)),
                    (Param::LearningRate, lr),
                    (Param::AdamBeta1, beta1),
                    (Param::AdamBeta2, beta2),
                    (Param::AdamEpsilon, eps),
                    (Param::WeightDecay, weight_decay),
                ]
            }
        }
    }
}

impl Default for Optimizer {
    /// The library's default: Adam with a learning rate of 1e-3.
    fn default() -> Optimizer {
        Optimizer::adam(1e-3)
    }
}

/// Corruption of the training inputs for denoising (`ae_noise` and
/// `AE_PARAM_NOISE_LEVEL`). Each training batch is corrupted afresh while the
/// loss compares with the clean batch; validation and inference see clean inputs.
///
/// ```
/// use autoenc::Noise;
/// let noise = Noise::Masking(0.3); // zero each input value with probability 0.3
/// assert_eq!(noise.level(), 0.3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    /// Train on the clean input.
    None,
    /// Add normal noise of this standard deviation.
    Gaussian(f64),
    /// Set each value to 0 with this probability.
    Masking(f64),
    /// Set each value, with this probability, to 0 or 1 with equal chance.
    SaltAndPepper(f64),
}

impl Noise {
    /// The noise level: the deviation or the probability (0 for [`Noise::None`]).
    ///
    /// ```
    /// assert_eq!(autoenc::Noise::Gaussian(0.2).level(), 0.2);
    /// ```
    pub fn level(&self) -> f64 {
        match *self {
            Noise::None => 0.0,
            Noise::Gaussian(level) | Noise::Masking(level) | Noise::SaltAndPepper(level) => level,
        }
    }

    pub(crate) fn settings(&self) -> Vec<(Param, f64)> {
        let kind = match self {
            Noise::None => sys::AE_NOISE_NONE,
            Noise::Gaussian(_) => sys::AE_NOISE_GAUSSIAN,
            Noise::Masking(_) => sys::AE_NOISE_MASKING,
            Noise::SaltAndPepper(_) => sys::AE_NOISE_SALT_AND_PEPPER,
        };
        let mut settings = vec![(Param::Noise, f64::from(kind))];
        if !matches!(self, Noise::None) {
            settings.push((Param::NoiseLevel, self.level()));
        }
        settings
    }
}

/// How input features are scaled (`ae_scaling`). The scaling is fitted on the
/// first training data, stored in the model and its file, applied to every
/// input and undone on every output.
///
/// ```
/// assert_eq!(autoenc::Scaling::Standardize.raw(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scaling {
    /// Features are used as they are.
    None,
    /// The fitted rows map into [0, 1].
    MinMax,
    /// Mean 0 and standard deviation 1 per feature (needs a linear or leaky ReLU output).
    Standardize,
}

impl Scaling {
    /// The C value (`AE_SCALING_*`).
    ///
    /// ```
    /// assert_eq!(autoenc::Scaling::MinMax.raw(), 1);
    /// ```
    pub fn raw(self) -> u32 {
        match self {
            Scaling::None => sys::AE_SCALING_NONE,
            Scaling::MinMax => sys::AE_SCALING_MINMAX,
            Scaling::Standardize => sys::AE_SCALING_STANDARDIZE,
        }
    }
}

/// Architecture variants, chosen when a model is made (`ae_architecture_flags`).
/// Combine with `|`.
///
/// ```
/// use autoenc::Architecture;
/// let arch = Architecture::TIED_WEIGHTS;
/// assert!(arch.contains(Architecture::TIED_WEIGHTS));
/// assert!(!arch.contains(Architecture::VARIATIONAL));
/// assert_eq!((Architecture::PLAIN | Architecture::VARIATIONAL).bits(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Architecture(u32);

impl Architecture {
    /// Every layer has its own weights.
    pub const PLAIN: Architecture = Architecture(sys::AE_ARCH_PLAIN);
    /// Each decoder layer uses the transposed weights of its mirror encoder layer.
    pub const TIED_WEIGHTS: Architecture = Architecture(sys::AE_ARCH_TIED_WEIGHTS);
    /// A variational autoencoder: the latent layer gives a mean and a log-variance.
    pub const VARIATIONAL: Architecture = Architecture(sys::AE_ARCH_VARIATIONAL);

    /// The C flags.
    ///
    /// ```
    /// assert_eq!(autoenc::Architecture::TIED_WEIGHTS.bits(), 1);
    /// ```
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Flags from C bits, unchecked (the library refuses unknown ones).
    ///
    /// ```
    /// use autoenc::Architecture;
    /// assert_eq!(Architecture::from_bits(2), Architecture::VARIATIONAL);
    /// ```
    pub const fn from_bits(bits: u32) -> Architecture {
        Architecture(bits)
    }

    /// Whether every flag of `other` is set.
    ///
    /// ```
    /// use autoenc::Architecture;
    /// assert!(Architecture::VARIATIONAL.contains(Architecture::PLAIN));
    /// ```
    pub const fn contains(self, other: Architecture) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Architecture {
    type Output = Architecture;
    fn bitor(self, rhs: Architecture) -> Architecture {
        Architecture(self.0 | rhs.0)
    }
}

impl BitOrAssign for Architecture {
    fn bitor_assign(&mut self, rhs: Architecture) {
        self.0 |= rhs.0;
    }
}

/// What a saved model holds besides its architecture, settings, parameters
/// and generator state (`ae_save_flags`).
///
/// ```
/// use autoenc::SaveFlags;
/// assert_eq!(SaveFlags::default(), SaveFlags::DEFAULT);
/// assert_eq!(SaveFlags::OPTIMIZER_STATE.bits(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SaveFlags(u32);

impl SaveFlags {
    /// Architecture, settings, parameters, generator state.
    pub const DEFAULT: SaveFlags = SaveFlags(sys::AE_SAVE_DEFAULT);
    /// Also the optimizer state, so that training resumes exactly.
    pub const OPTIMIZER_STATE: SaveFlags = SaveFlags(sys::AE_SAVE_OPTIMIZER_STATE);

    /// The C flags.
    ///
    /// ```
    /// assert_eq!(autoenc::SaveFlags::DEFAULT.bits(), 0);
    /// ```
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl BitOr for SaveFlags {
    type Output = SaveFlags;
    fn bitor(self, rhs: SaveFlags) -> SaveFlags {
        SaveFlags(self.0 | rhs.0)
    }
}

macro_rules! params {
    ($($(#[$doc:meta])* $name:ident = $raw:ident,)*) => {
        /// A setting (`ae_param`), for [`Model::set_param`](crate::Model::set_param)
        /// and [`Model::param`](crate::Model::param). Its valid range is
        /// [`Param::bounds`]; the defaults and meanings are those of `autoenc.h`.
        ///
        /// ```
        /// use autoenc::Param;
        /// assert_eq!(Param::LearningRate.name(), "learning_rate");
        /// assert_eq!(Param::from_raw(11), Some(Param::LearningRate));
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Param {
            $($(#[$doc])* $name,)*
        }

        impl Param {
            /// Every setting this crate knows.
            ///
            /// ```
            /// use autoenc::Param;
            /// assert!(Param::ALL.contains(&Param::Seed));
            /// ```
            pub const ALL: &'static [Param] = &[$(Param::$name,)*];

            /// The C value (`AE_PARAM_*`).
            ///
            /// ```
            /// assert_eq!(autoenc::Param::Seed.raw(), 1);
            /// ```
            pub fn raw(self) -> u32 {
                match self {
                    $(Param::$name => sys::$raw,)*
                }
            }
        }
    };
}

params! {
    /// Generator seed: initial weights, validation split, shuffling, noise. Default: 0.
    Seed = AE_PARAM_SEED,
    /// Activation of hidden layers ([`Activation::raw`]). Default: ReLU.
    HiddenActivation = AE_PARAM_HIDDEN_ACTIVATION,
    /// Activation of the latent layer. Default: linear.
    LatentActivation = AE_PARAM_LATENT_ACTIVATION,
    /// Activation of the output layer. Default: linear.
    OutputActivation = AE_PARAM_OUTPUT_ACTIVATION,
    /// The loss ([`Loss::raw`]). Default: MSE.
    Loss = AE_PARAM_LOSS,
    /// Negative slope of leaky ReLU, [0, 1). Default: 0.01.
    LeakySlope = AE_PARAM_LEAKY_SLOPE,
    /// ELU alpha, (0, 100]. Default: 1.
    EluAlpha = AE_PARAM_ELU_ALPHA,
    /// The optimizer kind (0 SGD, 1 Adam, 2 AdamW). Default: Adam.
    Optimizer = AE_PARAM_OPTIMIZER,
    /// Step size, (0, 1e3]. Default: 1e-3.
    LearningRate = AE_PARAM_LEARNING_RATE,
    /// SGD momentum, [0, 1). Default: 0.
    Momentum = AE_PARAM_MOMENTUM,
    /// SGD Nesterov momentum, 0 or 1. Default: 0.
    Nesterov = AE_PARAM_NESTEROV,
    /// Adam first-moment decay, [0, 1). Default: 0.9.
    AdamBeta1 = AE_PARAM_ADAM_BETA1,
    /// Adam second-moment decay, [0, 1). Default: 0.999.
    AdamBeta2 = AE_PARAM_ADAM_BETA2,
    /// Adam denominator term, (0, 1]. Default: 1e-8.
    AdamEpsilon = AE_PARAM_ADAM_EPSILON,
    /// L2 on weights (not biases); decoupled for AdamW, [0, 1e3]. Default: 0.
    WeightDecay = AE_PARAM_WEIGHT_DECAY,
    /// Global gradient-norm clip as torch's `clip_grad_norm_`; 0 = off. Default: 0.
    ClipNorm = AE_PARAM_CLIP_NORM,
    /// Passes over the data in a fit, [1, 1e9]. Default: 10.
    Epochs = AE_PARAM_EPOCHS,
    /// Rows per step, [1, 1e7]. Default: 64.
    BatchSize = AE_PARAM_BATCH_SIZE,
    /// Reshuffle the rows every epoch, 0 or 1. Default: 1.
    Shuffle = AE_PARAM_SHUFFLE,
    /// Share of the rows held out for validation, [0, 0.9]. Default: 0.
    ValidationFraction = AE_PARAM_VALIDATION_FRACTION,
    /// Early stopping: epochs without improvement, 0 = off. Default: 0.
    Patience = AE_PARAM_PATIENCE,
    /// Early stopping: smallest loss decrease that counts. Default: 0.
    MinDelta = AE_PARAM_MIN_DELTA,
    /// Keep the best epoch's weights after a fit with validation, 0 or 1. Default: 1.
    RestoreBest = AE_PARAM_RESTORE_BEST,
    /// Also call the progress closure after every batch, 0 or 1. Default: 0.
    ProgressEveryBatch = AE_PARAM_PROGRESS_EVERY_BATCH,
    /// A fit whose training loss grows this many times stops as diverged; 0 = off. Default: 1e3.
    DivergenceFactor = AE_PARAM_DIVERGENCE_FACTOR,
    /// [`Model::fit_source`](crate::Model::fit_source): rows held to shuffle a source's rows. Default: 10000.
    ShuffleBuffer = AE_PARAM_SHUFFLE_BUFFER,
    /// Threads for training's elementwise work; 0 = one per processor, [0, 64]. Default: 0.
    Threads = AE_PARAM_THREADS,
    /// The noise kind (see [`Noise`]). Default: none.
    Noise = AE_PARAM_NOISE,
    /// The noise's deviation or probability. Default: 0.1.
    NoiseLevel = AE_PARAM_NOISE_LEVEL,
    /// The scaling kind ([`Scaling::raw`]). Default: none.
    Scaling = AE_PARAM_SCALING,
    /// Smallest scale a fitted scaling gives a feature that is not constant. Default: 0.05.
    ScalingMinScale = AE_PARAM_SCALING_MIN_SCALE,
    /// Weight of the KL sparsity penalty; 0 = off. Default: 0.
    SparsityWeight = AE_PARAM_SPARSITY_WEIGHT,
    /// Target mean activation of the sparsity penalty, (0, 1). Default: 0.05.
    SparsityTarget = AE_PARAM_SPARSITY_TARGET,
    /// Encoder layer the sparsity penalty watches; -1 = the latent layer. Default: -1.
    SparsityLayer = AE_PARAM_SPARSITY_LAYER,
    /// Weight of the L1 penalty on the latent code; 0 = off. Default: 0.
    ActivityL1 = AE_PARAM_ACTIVITY_L1,
    /// Weight of the contractive penalty; 0 = off. Default: 0.
    ContractiveWeight = AE_PARAM_CONTRACTIVE_WEIGHT,
    /// Dropout on the input (training only), [0, 1). Default: 0.
    DropoutInput = AE_PARAM_DROPOUT_INPUT,
    /// Dropout on hidden layers (training only), [0, 1). Default: 0.
    DropoutHidden = AE_PARAM_DROPOUT_HIDDEN,
    /// Variational models: weight of the KL term. Default: 1.
    KlWeight = AE_PARAM_KL_WEIGHT,
    /// Variational models: epochs of linear KL warm-up; 0 = off. Default: 0.
    KlWarmupEpochs = AE_PARAM_KL_WARMUP_EPOCHS,
}

impl Param {
    /// The setting of a C value, or `None` for a value this crate does not know.
    ///
    /// ```
    /// use autoenc::Param;
    /// assert_eq!(Param::from_raw(21), Some(Param::BatchSize));
    /// assert_eq!(Param::from_raw(9999), None);
    /// ```
    pub fn from_raw(raw: u32) -> Option<Param> {
        Param::ALL.iter().copied().find(|p| p.raw() == raw)
    }

    /// The library's name for it (`ae_param_name`), e.g. "batch_size".
    ///
    /// ```
    /// assert_eq!(autoenc::Param::BatchSize.name(), "batch_size");
    /// ```
    pub fn name(self) -> &'static str {
        // SAFETY: a static string, or NULL for a parameter the library does not know.
        unsafe { static_str(sys::ae_param_name(self.raw())) }
    }

    /// Its valid closed range and whether it takes integers only
    /// (`ae_param_bounds`). Open ends, such as the learning rate's 0, are
    /// refused when set although the range includes them.
    ///
    /// ```
    /// use autoenc::Param;
    /// let bounds = Param::Epochs.bounds()?;
    /// assert_eq!((bounds.min, bounds.max, bounds.integral), (1.0, 1e9, true));
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn bounds(self) -> Result<ParamBounds> {
        let (mut min, mut max, mut integral) = (0.0, 0.0, 0);
        // SAFETY: three valid out-pointers.
        let rc = unsafe { sys::ae_param_bounds(self.raw(), &mut min, &mut max, &mut integral) };
        if rc != sys::AE_OK {
            return Err(Error::from_thread(rc));
        }
        Ok(ParamBounds {
            min,
            max,
            integral: integral != 0,
        })
    }
}

impl Param {
    /// Everything that describes the setting (`ae_param_describe`): its name,
    /// kind, default and range with its open ends.
    ///
    /// ```
    /// use autoenc::{Param, ParamKind};
    /// let d = Param::LearningRate.describe()?;
    /// assert_eq!((d.name, d.kind, d.default), ("learning_rate", ParamKind::Real, 1e-3));
    /// assert!(d.min_open && !d.max_open); // (0, 1e3]
    /// assert_eq!(Param::Loss.describe()?.kind, ParamKind::Enum);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn describe(self) -> Result<ParamDescription> {
        let mut raw = sys::ae_param_description::new();
        // SAFETY: a description with its size set; thread-safe.
        let rc = unsafe { sys::ae_param_describe(self.raw(), &mut raw) };
        if rc != sys::AE_OK {
            return Err(Error::from_thread(rc));
        }
        Ok(ParamDescription {
            // SAFETY: the library's static string.
            name: unsafe { static_str(raw.name) },
            kind: ParamKind::from_raw(raw.kind),
            default: raw.default_value,
            min: raw.min_value,
            max: raw.max_value,
            min_open: raw.min_open != 0,
            max_open: raw.max_open != 0,
        })
    }

    /// The library's name for value `value` of an enum setting
    /// (`ae_param_value_name`), e.g. "bce" for [`Param::Loss`] 1; `None` for a
    /// setting that is not an enum or a value that is none of its values.
    ///
    /// ```
    /// use autoenc::{Loss, Param};
    /// assert_eq!(Param::Loss.value_name(f64::from(Loss::Bce.raw())), Some("bce"));
    /// assert_eq!(Param::Optimizer.value_name(2.0), Some("adamw"));
    /// assert_eq!(Param::Epochs.value_name(1.0), None);
    /// ```
    pub fn value_name(self, value: f64) -> Option<&'static str> {
        // SAFETY: a static string or NULL; thread-safe.
        let name = unsafe { sys::ae_param_value_name(self.raw(), value) };
        if name.is_null() {
            None
        } else {
            // SAFETY: not NULL, static.
            Some(unsafe { static_str(name) })
        }
    }

    /// The C values of every setting the loaded library knows
    /// (`ae_param_count`, `ae_param_at`), in increasing order; a newer library
    /// may know some that [`Param::from_raw`] does not.
    ///
    /// ```
    /// use autoenc::Param;
    /// let known: Vec<u32> = Param::ALL.iter().map(|p| p.raw()).collect();
    /// assert!(known.iter().all(|raw| Param::library_params().contains(raw)));
    /// ```
    pub fn library_params() -> Vec<u32> {
        // SAFETY: no arguments, thread-safe.
        let count = unsafe { sys::ae_param_count() };
        // SAFETY: indexes below the count.
        (0..count).map(|i| unsafe { sys::ae_param_at(i) }).collect()
    }
}

/// What kind of value a setting takes (`ae_param_kind`).
///
/// ```
/// use autoenc::{Param, ParamKind};
/// assert_eq!(Param::Shuffle.describe()?.kind, ParamKind::Boolean);
/// assert_eq!(Param::BatchSize.describe()?.kind, ParamKind::Integer);
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// Any number in the range.
    Real,
    /// Whole numbers in the range.
    Integer,
    /// 0 or 1.
    Boolean,
    /// The values of an enum, each with a name ([`Param::value_name`]).
    Enum,
    /// A kind this crate does not know (from a newer library).
    Unknown(i32),
}

impl ParamKind {
    fn from_raw(raw: i32) -> ParamKind {
        match u32::try_from(raw) {
            Ok(sys::AE_PARAM_KIND_REAL) => ParamKind::Real,
            Ok(sys::AE_PARAM_KIND_INTEGER) => ParamKind::Integer,
            Ok(sys::AE_PARAM_KIND_BOOLEAN) => ParamKind::Boolean,
            Ok(sys::AE_PARAM_KIND_ENUM) => ParamKind::Enum,
            _ => ParamKind::Unknown(raw),
        }
    }
}

/// A setting's description, from [`Param::describe`].
///
/// ```
/// let d = autoenc::Param::Momentum.describe()?;
/// assert_eq!((d.min, d.max, d.min_open, d.max_open), (0.0, 1.0, false, true)); // [0, 1)
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ParamDescription {
    /// The library's name, as [`Param::name`].
    pub name: &'static str,
    /// The kind of value.
    pub kind: ParamKind,
    /// The value of a new model.
    pub default: f64,
    /// The smallest valid value, or the open end.
    pub min: f64,
    /// The largest valid value, or the open end.
    pub max: f64,
    /// Whether `min` itself is refused.
    pub min_open: bool,
    /// Whether `max` itself is refused.
    pub max_open: bool,
}

/// The valid range of a setting, from [`Param::bounds`].
///
/// ```
/// let b = autoenc::Param::Threads.bounds()?;
/// assert!(b.integral && b.min == 0.0 && b.max == 64.0);
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamBounds {
    /// The smallest value (refused when it is an open end).
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// Whether only integral values are taken.
    pub integral: bool,
}
