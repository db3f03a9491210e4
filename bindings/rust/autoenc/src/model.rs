//! [`Model`]: an owned `ae_model` handle whose methods follow the C threading contract.
use crate::builder::Builder;
use crate::error::{Error, Result};
use crate::matrix::{MatrixMut, MatrixRef};
use crate::report::{Detection, Distribution, FitReport, LayerDescription, OptimizerState, Progress, ScalingParams};
use crate::settings::{Activation, Architecture, Loss, Noise, Optimizer, Param, SaveFlags, Scaling};
use crate::source::{DataSource, SourceState};
use crate::Status;
use autoenc_sys as sys;
use std::any::Any;
use std::ffi::CString;
use std::fmt;
use std::ops::ControlFlow;
use std::os::raw::{c_int, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::ptr::{self, NonNull};

/// A deep stacked autoencoder: an owned handle of the C library, freed when dropped.
///
/// **Threads.** The type encodes the library's contract. A `Model` is
/// [`Send`]: it may move to another thread. It is [`Sync`] because every
/// method that takes `&self` is a call the library allows on one model from
/// many threads at once (inference: encode, decode, reconstruct, score, loss,
/// sampling, detection; getters; saving; cloning). Every method that changes
/// the model (training, settings, setting weights) takes `&mut self`, so the
/// borrow checker gives it the exclusive access the library requires, and the
/// library's `AE_ERR_BUSY` misuse check can never fire from safe Rust.
///
/// ```
/// use autoenc::Model;
/// let model = Model::new(&[8, 4, 2])?;
/// let x = vec![0.5f32; 8 * 10];
/// // Many readers at once:
/// std::thread::scope(|s| {
///     for _ in 0..2 {
///         s.spawn(|| model.encode(&x, 8).unwrap());
///     }
/// });
/// # Ok::<(), autoenc::Error>(())
/// ```
///
/// Training through a shared reference does not compile:
///
/// ```compile_fail,E0596
/// use autoenc::Model;
/// let model = Model::new(&[8, 4, 2]).unwrap();
/// let shared: &Model = &model;
/// shared.fit(&[0.5; 16], 8); // error: `shared` is a `&` reference
/// ```
///
/// **Data.** Matrices are row-major `f32`, one example per row. The plain
/// methods take a slice and its column count (`model.encode(&x, 784)`) and
/// return a `Vec<f32>`; the `_into` methods and the others take a
/// [`MatrixRef`] (with an optional row stride) and write into a
/// [`MatrixMut`] where they have outputs. Every shape is checked before the
/// library is called.
pub struct Model {
    raw: NonNull<sys::ae_model>,
}

// SAFETY: the library keeps no thread affinity on a model: its messages are
// per model or per calling thread and read right after each call.
unsafe impl Send for Model {}
// SAFETY: every `&self` method calls a function that takes a `const ae_model *`,
// which the library documents as safe to call concurrently on one model.
unsafe impl Sync for Model {}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: the handle is owned, and `&mut self` means no call uses it.
        unsafe { sys::ae_model_free(self.raw.as_ptr()) }
    }
}

impl Clone for Model {
    /// A deep copy through `ae_model_clone`. Panics if the library cannot
    /// allocate it; [`Model::try_clone`] returns the error instead.
    fn clone(&self) -> Model {
        match self.try_clone() {
            Ok(model) => model,
            Err(err) => panic!("autoenc: cloning a model failed: {err}"),
        }
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("input_dim", &self.input_dim())
            .field("latent_dim", &self.latent_dim())
            .field("layer_count", &self.layer_count())
            .field("param_count", &self.param_count())
            .field("architecture", &self.architecture())
            .finish()
    }
}

/// A progress closure, as fit_impl receives it.
type ProgressFn<'a> = dyn FnMut(&Progress) -> ControlFlow<()> + 'a;

/// What a fit trains on.
enum FitData<'a, 'b, 'c> {
    /// Rows in memory, and validation rows.
    Rows(MatrixRef<'a>, Option<MatrixRef<'a>>),
    /// Rows streamed from sources (training, validation).
    Sources(&'b mut dyn DataSource, Option<&'c mut dyn DataSource>),
}

/// The progress closure's state, reached by the trampoline through `user_data`.
struct ProgressState<'a> {
    callback: &'a mut ProgressFn<'a>,
    panic: Option<Box<dyn Any + Send + 'static>>,
}

/// The C callback: runs the closure, never lets a panic unwind into C (it is
/// kept and re-raised after the fit returns), and turns `Break` into a stop.
unsafe extern "C" fn progress_trampoline(progress: *const sys::ae_progress, user_data: *mut c_void) -> c_int {
    // SAFETY: user_data is the ProgressState installed by fit_impl for this fit.
    let state = &mut *user_data.cast::<ProgressState<'_>>();
    if state.panic.is_some() || progress.is_null() {
        return 1;
    }
    let progress = Progress::from_raw(progress);
    let callback = &mut state.callback;
    match panic::catch_unwind(AssertUnwindSafe(|| callback(&progress))) {
        Ok(ControlFlow::Continue(())) => 0,
        Ok(ControlFlow::Break(())) => 1,
        Err(payload) => {
            state.panic = Some(payload);
            1
        }
    }
}

fn invalid(message: String) -> Error {
    Error::new(Status::InvalidArgument, message)
}

/// `n` copies of `value` in a new `Vec`, for an output sized by the arguments
/// or the model: [`Status::SizeOverflow`] when `n` values cannot fit one allocation
/// (more than `isize::MAX` bytes), [`Status::OutOfMemory`] when the allocator
/// refuses them, never the panic or abort of `vec!`.
fn try_vec<T: Clone>(n: usize, value: T, what: &str) -> Result<Vec<T>> {
    let size = std::mem::size_of::<T>();
    let bytes = match n.checked_mul(size) {
        Some(bytes) if bytes <= isize::MAX as usize => bytes,
        _ => {
            return Err(Error::new(
                Status::SizeOverflow,
                format!("{what}: {n} values of {size} bytes exceed isize::MAX bytes"),
            ))
        }
    };
    let mut v = Vec::new();
    // The byte size is checked above, so a failure here is the allocator's.
    v.try_reserve_exact(n)
        .map_err(|_| Error::new(Status::OutOfMemory, format!("{what}: cannot allocate {bytes} bytes")))?;
    v.resize(n, value);
    Ok(v)
}

/// A zeroed output of `n_rows x n_cols` floats, as [`try_vec`].
fn zeros(n_rows: usize, n_cols: usize, what: &str) -> Result<Vec<f32>> {
    match n_rows.checked_mul(n_cols) {
        Some(n) => try_vec(n, 0.0, what),
        None => Err(Error::new(
            Status::SizeOverflow,
            format!("{what}: {n_rows} rows of {n_cols} values overflow usize"),
        )),
    }
}

fn path_cstring(what: &str, path: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = match path.to_str() {
        Some(s) => s.as_bytes().to_vec(),
        None => return Err(invalid(format!("{what}: the path is not valid Unicode"))),
    };
    CString::new(bytes).map_err(|_| invalid(format!("{what}: the path holds a NUL byte")))
}

impl Model {
    // ------------------------------------------------------------ making models

    /// A model with freshly initialised weights: the encoder widths
    /// `[input_dim, hidden..., latent_dim]` and a mirrored decoder, default
    /// settings (ReLU inside, linear latent and output, MSE, Adam 1e-3).
    /// [`Model::builder`] chooses everything else.
    ///
    /// ```
    /// let model = autoenc::Model::new(&[784, 256, 32])?;
    /// assert_eq!(model.layer_count(), 4); // 784-256-32-256-784
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn new(encoder_widths: &[usize]) -> Result<Model> {
        Model::create(encoder_widths, None, Architecture::PLAIN)
    }

    /// A [`Builder`] for a model with these encoder widths.
    ///
    /// ```
    /// use autoenc::{Activation, Loss, Model, Optimizer};
    /// let model = Model::builder(&[784, 256, 32])
    ///     .hidden(Activation::Relu)
    ///     .output(Activation::Sigmoid)
    ///     .loss(Loss::Bce)
    ///     .optimizer(Optimizer::adam(1e-3))
    ///     .build()?;
    /// assert_eq!(model.latent_dim(), 32);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn builder(encoder_widths: &[usize]) -> Builder {
        Builder::new(encoder_widths)
    }

    pub(crate) fn create(encoder: &[usize], decoder: Option<&[usize]>, arch: Architecture) -> Result<Model> {
        let mut raw = ptr::null_mut();
        let (dec_ptr, dec_len) = match decoder {
            Some(d) => (d.as_ptr(), d.len()),
            None => (ptr::null(), 0),
        };
        // SAFETY: the width slices are valid for their lengths; raw is an out-pointer.
        let rc = unsafe {
            sys::ae_model_create_ex(&mut raw, encoder.as_ptr(), encoder.len(), dec_ptr, dec_len, arch.bits())
        };
        // SAFETY: on success raw is a new model this Model now owns.
        unsafe { Model::from_status(rc, raw) }
    }

    /// Wraps the out-pointer of a call that makes a model.
    unsafe fn from_status(rc: c_int, raw: *mut sys::ae_model) -> Result<Model> {
        if rc != sys::AE_OK {
            // The library sets the out-pointer to NULL on failure; free it anyway
            // should a future version not (ae_model_free(NULL) is a no-op).
            sys::ae_model_free(raw);
            return Err(Error::from_thread(rc));
        }
        match NonNull::new(raw) {
            Some(raw) => Ok(Model { raw }),
            None => Err(Error::new(Status::OutOfMemory, "the library returned no model")),
        }
    }

    /// Takes ownership of a handle made by the C API (for code that mixes
    /// this crate with `autoenc-sys`); `None` for NULL.
    ///
    /// # Safety
    /// `raw` must be a valid model that nothing else frees or uses afterwards.
    ///
    /// ```
    /// use autoenc::Model;
    /// let model = Model::new(&[4, 2])?;
    /// let raw = model.into_raw();
    /// let model = unsafe { Model::from_raw(raw) }.unwrap();
    /// assert_eq!(model.input_dim(), 4);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub unsafe fn from_raw(raw: *mut sys::ae_model) -> Option<Model> {
        NonNull::new(raw).map(|raw| Model { raw })
    }

    /// Gives up ownership of the handle; free it with `ae_model_free`.
    ///
    /// ```
    /// let raw = autoenc::Model::new(&[4, 2])?.into_raw();
    /// unsafe { autoenc::sys::ae_model_free(raw) };
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn into_raw(self) -> *mut sys::ae_model {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        raw
    }

    /// The handle, for the C API's const calls (`autoenc-sys`).
    ///
    /// ```
    /// let model = autoenc::Model::new(&[4, 2])?;
    /// assert_eq!(unsafe { autoenc::sys::ae_model_input_dim(model.as_ptr()) }, 4);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn as_ptr(&self) -> *const sys::ae_model {
        self.raw.as_ptr()
    }

    /// The handle, for the C API's calls that change the model (`autoenc-sys`).
    ///
    /// ```
    /// let mut model = autoenc::Model::new(&[4, 2])?;
    /// let rc = unsafe { autoenc::sys::ae_model_set_param(model.as_mut_ptr(), autoenc::sys::AE_PARAM_EPOCHS, 3.0) };
    /// assert_eq!(rc, 0);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn as_mut_ptr(&mut self) -> *mut sys::ae_model {
        self.raw.as_ptr()
    }

    /// A deep copy (`ae_model_clone`): architecture, settings, parameters,
    /// optimizer and generator state, so both continue identically.
    ///
    /// ```
    /// let model = autoenc::Model::new(&[4, 2])?;
    /// let copy = model.try_clone()?;
    /// assert_eq!(copy.params()?, model.params()?);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn try_clone(&self) -> Result<Model> {
        let mut raw = ptr::null_mut();
        // SAFETY: a const call on a valid model; raw is an out-pointer.
        let rc = unsafe { sys::ae_model_clone(self.as_ptr(), &mut raw) };
        unsafe { Model::from_status(rc, raw) }
    }

    /// A new model of the encoder alone (`ae_model_export_encoder`): its
    /// layers, weights, settings and scaling. It encodes, saves, loads and
    /// gives its layers to other models; calls that need a decoder fail with
    /// [`Status::State`].
    ///
    /// ```
    /// let model = autoenc::Model::new(&[6, 4, 2])?;
    /// let encoder = model.export_encoder()?;
    /// assert_eq!(encoder.layer_count(), 2);
    /// assert_eq!(encoder.encode(&[0.5; 6], 6)?, model.encode(&[0.5; 6], 6)?);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn export_encoder(&self) -> Result<Model> {
        let mut raw = ptr::null_mut();
        // SAFETY: a const call on a valid model; raw is an out-pointer.
        let rc = unsafe { sys::ae_model_export_encoder(self.as_ptr(), &mut raw) };
        unsafe { Model::from_status(rc, raw) }
    }

    // ------------------------------------------------------------ status helpers

    /// The result of a call that changed the model.
    fn check_mut(&self, rc: c_int) -> Result<()> {
        if rc == sys::AE_OK {
            Ok(())
        } else {
            // SAFETY: the model is valid; the message is read right after the call.
            Err(unsafe { Error::from_model(rc, self.as_ptr()) })
        }
    }

    /// The result of a const call (its message is the calling thread's).
    fn check(rc: c_int) -> Result<()> {
        if rc == sys::AE_OK {
            Ok(())
        } else {
            Err(Error::from_thread(rc))
        }
    }

    /// Checks an input matrix: at least one row, `n_cols` columns.
    fn check_input(what: &str, name: &str, x: &MatrixRef<'_>, n_cols: usize) -> Result<()> {
        if x.n_rows() == 0 {
            return Err(invalid(format!("{what}: {name} has no rows")));
        }
        if x.n_cols() != n_cols {
            return Err(invalid(format!(
                "{what}: {name} has {} columns; the model takes {n_cols}",
                x.n_cols()
            )));
        }
        Ok(())
    }

    /// Checks an output matrix against the rows and columns the call writes.
    fn check_output(what: &str, name: &str, out: &MatrixMut<'_>, n_rows: usize, n_cols: usize) -> Result<()> {
        if out.n_rows() != n_rows || out.n_cols() != n_cols {
            return Err(invalid(format!(
                "{what}: {name} is {} x {}; the call writes {n_rows} x {n_cols}",
                out.n_rows(),
                out.n_cols()
            )));
        }
        Ok(())
    }

    fn dense<'a>(what: &str, name: &str, x: &'a [f32], n_cols: usize) -> Result<MatrixRef<'a>> {
        MatrixRef::new(x, n_cols).map_err(|e| Error::new(e.status(), format!("{what}: {name}: {}", e.message())))
    }

    fn check_len(what: &str, name: &str, len: usize, expected: usize) -> Result<()> {
        if len != expected {
            return Err(invalid(format!(
                "{what}: {name} holds {len} values; it must hold {expected}"
            )));
        }
        Ok(())
    }

    // ------------------------------------------------------------ description

    /// The architecture flags it was made with.
    ///
    /// ```
    /// use autoenc::{Architecture, Model};
    /// let model = Model::builder(&[4, 2]).architecture(Architecture::TIED_WEIGHTS).build()?;
    /// assert_eq!(model.architecture(), Architecture::TIED_WEIGHTS);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn architecture(&self) -> Architecture {
        // SAFETY: a const call on a valid model.
        Architecture::from_bits(unsafe { sys::ae_model_architecture(self.as_ptr()) })
    }

    /// Input (and output) features.
    ///
    /// ```
    /// assert_eq!(autoenc::Model::new(&[10, 3])?.input_dim(), 10);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn input_dim(&self) -> usize {
        // SAFETY: a const call on a valid model.
        unsafe { sys::ae_model_input_dim(self.as_ptr()) }
    }

    /// The latent code's width.
    ///
    /// ```
    /// assert_eq!(autoenc::Model::new(&[10, 3])?.latent_dim(), 3);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn latent_dim(&self) -> usize {
        // SAFETY: a const call on a valid model.
        unsafe { sys::ae_model_latent_dim(self.as_ptr()) }
    }

    /// Dense layers, encoder and decoder together.
    ///
    /// ```
    /// assert_eq!(autoenc::Model::new(&[10, 6, 3])?.layer_count(), 4);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn layer_count(&self) -> usize {
        // SAFETY: a const call on a valid model.
        unsafe { sys::ae_model_layer_count(self.as_ptr()) }
    }

    /// Encoder layers (the latent layer is the last of them).
    ///
    /// ```
    /// assert_eq!(autoenc::Model::new(&[10, 6, 3])?.encoder_layer_count(), 2);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn encoder_layer_count(&self) -> usize {
        // SAFETY: a const call on a valid model.
        unsafe { sys::ae_model_encoder_layer_count(self.as_ptr()) }
    }

    /// Trainable scalars: every weight and bias.
    ///
    /// ```
    /// // 4x2 + 2x4 weights, 2 + 4 biases
    /// assert_eq!(autoenc::Model::new(&[4, 2])?.param_count(), 22);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn param_count(&self) -> usize {
        // SAFETY: a const call on a valid model.
        unsafe { sys::ae_model_param_count(self.as_ptr()) }
    }

    /// Describes layer `layer` (0 .. [`layer_count`](Model::layer_count)).
    ///
    /// ```
    /// let model = autoenc::Model::new(&[4, 2])?;
    /// assert_eq!(model.describe_layer(0)?.n_out, 2);
    /// assert!(model.describe_layer(2).is_err());
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn describe_layer(&self, layer: usize) -> Result<LayerDescription> {
        let mut raw = sys::ae_layer_description::new();
        // SAFETY: a const call on a valid model; raw has its size set.
        Model::check(unsafe { sys::ae_model_describe_layer(self.as_ptr(), layer, &mut raw) })?;
        Ok(LayerDescription::from_raw(&raw))
    }

    // ------------------------------------------------------------ settings

    /// Sets one setting. The library checks it against
    /// [`Param::bounds`] ([`Status::InvalidArgument`]) and against the
    /// settings already chosen ([`Status::State`], naming the other one); the
    /// model is unchanged on error. Enum settings take the enum's
    /// [`raw`](Activation::raw) value; the typed setters are easier.
    ///
    /// ```
    /// use autoenc::{Model, Param, Status};
    /// let mut model = Model::new(&[4, 2])?;
    /// model.set_param(Param::Patience, 3.0)?;
    /// assert_eq!(model.param(Param::Patience)?, 3.0);
    /// let err = model.set_param(Param::BatchSize, 0.0).unwrap_err();
    /// assert_eq!(err.status(), Status::InvalidArgument);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_param(&mut self, param: Param, value: f64) -> Result<()> {
        // SAFETY: a call that changes a model we hold exclusively.
        let rc = unsafe { sys::ae_model_set_param(self.as_mut_ptr(), param.raw(), value) };
        self.check_mut(rc)
    }

    /// Reads one setting.
    ///
    /// ```
    /// use autoenc::{Model, Param};
    /// assert_eq!(Model::new(&[4, 2])?.param(Param::Epochs)?, 10.0);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn param(&self, param: Param) -> Result<f64> {
        let mut value = 0.0;
        // SAFETY: a const call on a valid model.
        Model::check(unsafe { sys::ae_model_get_param(self.as_ptr(), param.raw(), &mut value) })?;
        Ok(value)
    }

    fn apply(&mut self, settings: &[(Param, f64)]) -> Result<()> {
        settings
            .iter()
            .try_for_each(|&(param, value)| self.set_param(param, value))
    }

    /// Sets the activation of every hidden layer, encoder and decoder.
    ///
    /// ```
    /// use autoenc::{Activation, Model};
    /// let mut model = Model::new(&[6, 4, 2])?;
    /// model.set_hidden_activation(Activation::Tanh)?;
    /// assert_eq!(model.describe_layer(0)?.activation, Some(Activation::Tanh));
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_hidden_activation(&mut self, activation: Activation) -> Result<()> {
        self.set_param(Param::HiddenActivation, f64::from(activation.raw()))
    }

    /// Sets the activation of the latent layer (the code).
    ///
    /// ```
    /// use autoenc::{Activation, Model};
    /// let mut model = Model::new(&[6, 2])?;
    /// model.set_latent_activation(Activation::Sigmoid)?;
    /// assert_eq!(model.describe_layer(0)?.activation, Some(Activation::Sigmoid));
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_latent_activation(&mut self, activation: Activation) -> Result<()> {
        self.set_param(Param::LatentActivation, f64::from(activation.raw()))
    }

    /// Sets the activation of the output layer.
    ///
    /// ```
    /// use autoenc::{Activation, Model};
    /// let mut model = Model::new(&[6, 2])?;
    /// model.set_output_activation(Activation::Sigmoid)?;
    /// assert_eq!(model.describe_layer(1)?.activation, Some(Activation::Sigmoid));
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_output_activation(&mut self, activation: Activation) -> Result<()> {
        self.set_param(Param::OutputActivation, f64::from(activation.raw()))
    }

    /// Sets the loss. [`Loss::Bce`] needs a sigmoid output: set with another
    /// output activation it is refused with [`Status::State`].
    ///
    /// ```
    /// use autoenc::{Activation, Loss, Model, Status};
    /// let mut model = Model::new(&[6, 2])?;
    /// model.set_output_activation(Activation::Tanh)?;
    /// assert_eq!(model.set_loss(Loss::Bce).unwrap_err().status(), Status::State);
    /// model.set_output_activation(Activation::Sigmoid)?;
    /// model.set_loss(Loss::Bce)?;
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_loss(&mut self, loss: Loss) -> Result<()> {
        self.set_param(Param::Loss, f64::from(loss.raw()))
    }

    /// Sets the optimizer and its hyper-parameters (which resets its state).
    /// On error the settings before the failing one stay set.
    ///
    /// ```
    /// use autoenc::{Model, Optimizer, Param};
    /// let mut model = Model::new(&[6, 2])?;
    /// model.set_optimizer(Optimizer::Sgd { lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 0.0 })?;
    /// assert_eq!(model.param(Param::Momentum)?, 0.9);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_optimizer(&mut self, optimizer: Optimizer) -> Result<()> {
        self.apply(&optimizer.settings())
    }

    /// Sets the denoising corruption and its level.
    ///
    /// ```
    /// use autoenc::{Model, Noise, Param};
    /// let mut model = Model::new(&[6, 2])?;
    /// model.set_noise(Noise::Masking(0.25))?;
    /// assert_eq!(model.param(Param::NoiseLevel)?, 0.25);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_noise(&mut self, noise: Noise) -> Result<()> {
        self.apply(&noise.settings())
    }

    /// Sets the scaling of the input features (forgetting a fitted one).
    ///
    /// ```
    /// use autoenc::{Model, Param, Scaling};
    /// let mut model = Model::new(&[6, 2])?;
    /// model.set_scaling(Scaling::Standardize)?;
    /// assert_eq!(model.param(Param::Scaling)?, 2.0);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_scaling(&mut self, scaling: Scaling) -> Result<()> {
        self.set_param(Param::Scaling, f64::from(scaling.raw()))
    }

    /// Sets the generator seed (at most 2^53). While the weights are fresh,
    /// this redraws them.
    ///
    /// ```
    /// let mut a = autoenc::Model::new(&[6, 2])?;
    /// let b = autoenc::Model::new(&[6, 2])?;
    /// a.set_seed(7)?;
    /// assert_ne!(a.params()?, b.params()?);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_seed(&mut self, seed: u64) -> Result<()> {
        if seed > 1 << 53 {
            return Err(invalid(format!("set_seed: {seed} is above 2^53")));
        }
        self.set_param(Param::Seed, seed as f64)
    }

    /// Sets the number of epochs a fit runs.
    ///
    /// ```
    /// let mut model = autoenc::Model::new(&[6, 2])?;
    /// model.set_epochs(2)?;
    /// assert_eq!(model.fit(&[0.5; 12], 6)?.epochs_run, 2);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_epochs(&mut self, epochs: u64) -> Result<()> {
        self.set_param(Param::Epochs, epochs as f64)
    }

    /// Sets the rows per optimizer step.
    ///
    /// ```
    /// let mut model = autoenc::Model::new(&[6, 2])?;
    /// model.set_batch_size(4)?;
    /// model.set_epochs(1)?;
    /// assert_eq!(model.fit(&[0.5; 6 * 10], 6)?.steps_run, 3);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_batch_size(&mut self, batch_size: usize) -> Result<()> {
        self.set_param(Param::BatchSize, batch_size as f64)
    }

    // ------------------------------------------------------------ training

    /// Trains on the rows of `x` (`n_cols` values each) for the model's
    /// epochs (`ae_model_fit`). Training resumes from the current weights
    /// and optimizer state.
    ///
    /// ```
    /// use autoenc::Model;
    /// let mut model = Model::builder(&[4, 2]).epochs(5).build()?;
    /// let x: Vec<f32> = (0..4 * 32).map(|i| (i % 7) as f32 / 7.0).collect();
    /// let report = model.fit(&x, 4)?;
    /// assert_eq!(report.epochs_run, 5);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn fit(&mut self, x: &[f32], n_cols: usize) -> Result<FitReport> {
        let x = Model::dense("fit", "x", x, n_cols)?;
        self.fit_impl("fit", FitData::Rows(x, None), None)
    }

    /// As [`fit`](Model::fit), on a [`MatrixRef`].
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// let mut model = Model::builder(&[2, 1]).epochs(1).build()?;
    /// let table = [0.1f32, 0.2, 99.0, 0.3, 0.4, 99.0]; // train on the first two columns
    /// model.fit_matrix(MatrixRef::with_stride(&table, 2, 2, 3)?)?;
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn fit_matrix(&mut self, x: MatrixRef<'_>) -> Result<FitReport> {
        self.fit_impl("fit", FitData::Rows(x, None), None)
    }

    /// As [`fit`](Model::fit), calling `progress` at the end of every epoch
    /// (and after every batch with [`Param::ProgressEveryBatch`]). Returning
    /// `ControlFlow::Break(())` stops the fit with [`Status::Cancelled`] (the
    /// model stays usable, [`Error::fit_report`] says what ran). A panic in
    /// the closure stops the fit and is resumed once the library has returned.
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model, Status};
    /// use std::ops::ControlFlow;
    /// let mut model = Model::builder(&[4, 2]).epochs(100).build()?;
    /// let x = vec![0.5f32; 4 * 8];
    /// let result = model.fit_with_progress(MatrixRef::new(&x, 4)?, |p| {
    ///     if p.epoch == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    /// });
    /// let err = result.unwrap_err();
    /// assert_eq!(err.status(), Status::Cancelled);
    /// assert_eq!(err.fit_report().unwrap().epochs_run, 3);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn fit_with_progress<F>(&mut self, x: MatrixRef<'_>, mut progress: F) -> Result<FitReport>
    where
        F: FnMut(&Progress) -> ControlFlow<()>,
    {
        self.fit_impl("fit", FitData::Rows(x, None), Some(&mut progress))
    }

    /// Trains with an explicit validation set (`ae_model_fit_validated`),
    /// which stays the same across calls, instead of a random
    /// [`Param::ValidationFraction`] of `x`.
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// let mut model = Model::builder(&[4, 2]).epochs(2).build()?;
    /// let (x, val) = (vec![0.4f32; 4 * 20], vec![0.6f32; 4 * 5]);
    /// let report = model.fit_validated(MatrixRef::new(&x, 4)?, MatrixRef::new(&val, 4)?)?;
    /// assert!(report.final_val_loss.is_some());
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn fit_validated(&mut self, x: MatrixRef<'_>, validation: MatrixRef<'_>) -> Result<FitReport> {
        self.fit_impl("fit_validated", FitData::Rows(x, Some(validation)), None)
    }

    /// [`fit_validated`](Model::fit_validated) with a progress closure, as
    /// [`fit_with_progress`](Model::fit_with_progress).
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// use std::ops::ControlFlow;
    /// let mut model = Model::builder(&[4, 2]).epochs(2).build()?;
    /// let (x, val) = (vec![0.4f32; 4 * 20], vec![0.6f32; 4 * 5]);
    /// let mut val_losses = Vec::new();
    /// model.fit_validated_with_progress(MatrixRef::new(&x, 4)?, MatrixRef::new(&val, 4)?, |p| {
    ///     val_losses.push(p.val_loss.unwrap());
    ///     ControlFlow::Continue(())
    /// })?;
    /// assert_eq!(val_losses.len(), 2);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn fit_validated_with_progress<F>(
        &mut self,
        x: MatrixRef<'_>,
        validation: MatrixRef<'_>,
        mut progress: F,
    ) -> Result<FitReport>
    where
        F: FnMut(&Progress) -> ControlFlow<()>,
    {
        self.fit_impl("fit_validated", FitData::Rows(x, Some(validation)), Some(&mut progress))
    }

    /// Trains on rows streamed from `train` a chunk at a time
    /// (`ae_model_fit_source`), with the validation loss from `validation`;
    /// memory stays bounded whatever the data's size ([`Param::ShuffleBuffer`]
    /// rows to shuffle, and a chunk). [`Param::ValidationFraction`] must be 0.
    /// An error of a source stops the fit with [`Status::Io`] and its text; a
    /// panic in a source is resumed once the library has returned.
    ///
    /// ```
    /// use autoenc::{DataSource, Model};
    /// use std::io;
    ///
    /// /// `n` rows of a constant, made up as they are read.
    /// struct Constant { n: usize, left: usize }
    /// impl DataSource for Constant {
    ///     fn read(&mut self, rows: &mut [f32], n_cols: usize) -> io::Result<usize> {
    ///         let n = self.left.min(rows.len() / n_cols);
    ///         rows[..n * n_cols].fill(0.5);
    ///         self.left -= n;
    ///         Ok(n)
    ///     }
    ///     fn rewind(&mut self) -> io::Result<()> {
    ///         self.left = self.n;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let mut model = Model::builder(&[4, 2]).epochs(3).build()?;
    /// let mut train = Constant { n: 1000, left: 1000 };
    /// let mut validation = Constant { n: 100, left: 100 };
    /// let report = model.fit_source(&mut train, Some(&mut validation))?;
    /// assert!(report.final_val_loss.is_some());
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn fit_source(
        &mut self,
        train: &mut dyn DataSource,
        validation: Option<&mut dyn DataSource>,
    ) -> Result<FitReport> {
        self.fit_impl("fit_source", FitData::Sources(train, validation), None)
    }

    /// [`fit_source`](Model::fit_source) with a progress closure, as
    /// [`fit_with_progress`](Model::fit_with_progress).
    ///
    /// ```
    /// use autoenc::{DataSource, Model};
    /// use std::{io, ops::ControlFlow};
    /// struct Zeros(usize);
    /// impl DataSource for Zeros {
    ///     fn read(&mut self, rows: &mut [f32], n_cols: usize) -> io::Result<usize> {
    ///         let n = self.0.min(rows.len() / n_cols);
    ///         self.0 -= n;
    ///         Ok(n) // rows arrive zeroed
    ///     }
    ///     fn rewind(&mut self) -> io::Result<()> {
    ///         self.0 = 64;
    ///         Ok(())
    ///     }
    /// }
    /// let mut model = Model::builder(&[4, 2]).epochs(2).build()?;
    /// let mut epochs = 0;
    /// model.fit_source_with_progress(&mut Zeros(64), None, |_| {
    ///     epochs += 1;
    ///     ControlFlow::Continue(())
    /// })?;
    /// assert_eq!(epochs, 2);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn fit_source_with_progress<F>(
        &mut self,
        train: &mut dyn DataSource,
        validation: Option<&mut dyn DataSource>,
        mut progress: F,
    ) -> Result<FitReport>
    where
        F: FnMut(&Progress) -> ControlFlow<()>,
    {
        self.fit_impl("fit_source", FitData::Sources(train, validation), Some(&mut progress))
    }

    fn fit_impl(
        &mut self,
        what: &str,
        data: FitData<'_, '_, '_>,
        progress: Option<&mut ProgressFn<'_>>,
    ) -> Result<FitReport> {
        let n_cols = self.input_dim();
        if let FitData::Rows(x, validation) = &data {
            Model::check_input(what, "x", x, n_cols)?;
            if let Some(val) = validation {
                Model::check_input(what, "the validation set", val, n_cols)?;
            }
        }
        let mut state = progress.map(|callback| ProgressState { callback, panic: None });
        if let Some(state) = state.as_mut() {
            let user_data = (state as *mut ProgressState<'_>).cast::<c_void>();
            // SAFETY: state outlives the fit; the callback is removed right after it.
            let rc = unsafe { sys::ae_model_set_progress(self.as_mut_ptr(), Some(progress_trampoline), user_data) };
            self.check_mut(rc)?;
        }
        let mut raw = sys::ae_fit_report::new();
        let mut sources: Vec<SourceState<'_>> = Vec::new();
        // SAFETY: the views are valid for their shapes (checked when made), the
        // source states outlive the call, the model is held exclusively, raw has
        // its size set.
        let rc = unsafe {
            match data {
                FitData::Rows(x, None) => {
                    sys::ae_model_fit(self.as_mut_ptr(), x.as_ptr(), x.n_rows(), x.stride(), &mut raw)
                }
                FitData::Rows(x, Some(val)) => sys::ae_model_fit_validated(
                    self.as_mut_ptr(),
                    x.as_ptr(),
                    x.n_rows(),
                    x.stride(),
                    val.as_ptr(),
                    val.n_rows(),
                    val.stride(),
                    &mut raw,
                ),
                FitData::Sources(train, validation) => {
                    sources.push(SourceState::new(train));
                    if let Some(val) = validation {
                        sources.push(SourceState::new(val));
                    }
                    let raw_sources: Vec<sys::ae_data_source> = sources.iter_mut().map(|s| s.raw()).collect();
                    let val_ptr = raw_sources
                        .get(1)
                        .map_or(ptr::null(), |v| v as *const sys::ae_data_source);
                    sys::ae_model_fit_source(self.as_mut_ptr(), &raw_sources[0], val_ptr, &mut raw)
                }
            }
        };
        let result = if rc == sys::AE_OK {
            Ok(FitReport::from_raw(&raw))
        } else {
            // SAFETY: read right after the call, before anything else fails.
            let mut err = unsafe { Error::from_model(rc, self.as_ptr()) };
            if let Some(source_error) = sources.iter().find_map(|s| s.error.as_ref()) {
                err = Error::new(err.status(), format!("{}: {source_error}", err.message()));
            }
            if rc == sys::AE_ERR_CANCELLED || rc == sys::AE_ERR_DIVERGED {
                Err(err.with_report(FitReport::from_raw(&raw)))
            } else {
                Err(err)
            }
        };
        let mut panics: Vec<Box<dyn Any + Send>> = sources.into_iter().filter_map(|s| s.panic).collect();
        if let Some(state) = state {
            // SAFETY: removing the callback cannot fail on a valid model.
            unsafe { sys::ae_model_set_progress(self.as_mut_ptr(), None, ptr::null_mut()) };
            panics.extend(state.panic);
        }
        if let Some(payload) = panics.into_iter().next() {
            panic::resume_unwind(payload);
        }
        result
    }

    /// One optimizer step on all rows of `x` at once (`ae_model_train_batch`);
    /// returns the batch's loss before the step. A step that would diverge is
    /// skipped with [`Status::Diverged`].
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// let mut model = Model::new(&[4, 2])?;
    /// let x = vec![0.5f32; 4 * 8];
    /// let first = model.train_batch(MatrixRef::new(&x, 4)?)?;
    /// let second = model.train_batch(MatrixRef::new(&x, 4)?)?;
    /// assert!(second < first);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn train_batch(&mut self, x: MatrixRef<'_>) -> Result<f64> {
        Model::check_input("train_batch", "x", &x, self.input_dim())?;
        let mut loss = 0.0;
        // SAFETY: a valid view, a model held exclusively.
        let rc = unsafe { sys::ae_model_train_batch(self.as_mut_ptr(), x.as_ptr(), x.n_rows(), x.stride(), &mut loss) };
        self.check_mut(rc)?;
        Ok(loss)
    }

    /// The loss and the gradient of the training objective on `x`, without
    /// changing the weights (`ae_model_gradient`): no noise, no dropout, in
    /// the flat layout of [`params`](Model::params).
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// let mut model = Model::new(&[4, 2])?;
    /// let (gradient, loss) = model.gradient(MatrixRef::new(&[0.5; 8], 4)?)?;
    /// assert_eq!(gradient.len(), model.param_count());
    /// assert!(loss > 0.0);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn gradient(&mut self, x: MatrixRef<'_>) -> Result<(Vec<f32>, f64)> {
        let mut gradient = try_vec(self.param_count(), 0.0, "gradient")?;
        let loss = self.gradient_into(x, &mut gradient)?;
        Ok((gradient, loss))
    }

    /// As [`gradient`](Model::gradient), into the caller's slice of
    /// [`param_count`](Model::param_count) floats; returns the loss.
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// let mut model = Model::new(&[4, 2])?;
    /// let mut gradient = vec![0.0; model.param_count()];
    /// let loss = model.gradient_into(MatrixRef::new(&[0.5; 8], 4)?, &mut gradient)?;
    /// assert!(loss > 0.0 && gradient.iter().any(|g| *g != 0.0));
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn gradient_into(&mut self, x: MatrixRef<'_>, gradient: &mut [f32]) -> Result<f64> {
        Model::check_input("gradient", "x", &x, self.input_dim())?;
        Model::check_len("gradient", "the gradient", gradient.len(), self.param_count())?;
        let mut loss = 0.0;
        // SAFETY: a valid view and output slice, a model held exclusively.
        let rc = unsafe {
            sys::ae_model_gradient(
                self.as_mut_ptr(),
                x.as_ptr(),
                x.n_rows(),
                x.stride(),
                gradient.as_mut_ptr(),
                gradient.len(),
                &mut loss,
            )
        };
        self.check_mut(rc)?;
        Ok(loss)
    }

    /// Redraws every weight from the seed and clears the optimizer state
    /// (`ae_model_reset`), to train again from scratch.
    ///
    /// ```
    /// let mut model = autoenc::Model::new(&[4, 2])?;
    /// let fresh = model.params()?;
    /// model.fit(&[0.5; 16], 4)?;
    /// model.reset()?;
    /// assert_eq!(model.params()?, fresh);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn reset(&mut self) -> Result<()> {
        // SAFETY: a model held exclusively.
        let rc = unsafe { sys::ae_model_reset(self.as_mut_ptr()) };
        self.check_mut(rc)
    }

    /// Greedy layer-wise pre-training (`ae_model_pretrain`): one report per
    /// stage, one stage per encoder layer. Needs a mirrored decoder and a
    /// model that is not variational. Fine-tune with [`fit`](Model::fit) afterwards.
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// let mut model = Model::builder(&[6, 4, 2]).epochs(2).build()?;
    /// let reports = model.pretrain(MatrixRef::new(&[0.3; 6 * 16], 6)?)?;
    /// assert_eq!(reports.len(), 2);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn pretrain(&mut self, x: MatrixRef<'_>) -> Result<Vec<FitReport>> {
        Model::check_input("pretrain", "x", &x, self.input_dim())?;
        let mut raw = try_vec(self.encoder_layer_count(), sys::ae_fit_report::new(), "pretrain")?;
        // SAFETY: a valid view, one sized report per stage, a model held exclusively.
        let rc = unsafe {
            sys::ae_model_pretrain(
                self.as_mut_ptr(),
                x.as_ptr(),
                x.n_rows(),
                x.stride(),
                raw.as_mut_ptr(),
                raw.len(),
            )
        };
        self.check_mut(rc)?;
        Ok(raw.iter().map(FitReport::from_raw).collect())
    }

    // ------------------------------------------------------------ inference

    /// The latent codes of the rows of `x` (`ae_model_encode`): a `Vec` of
    /// `n_rows x latent_dim` values.
    ///
    /// ```
    /// let model = autoenc::Model::new(&[4, 2])?;
    /// let codes = model.encode(&[0.5; 12], 4)?; // 3 rows
    /// assert_eq!(codes.len(), 3 * 2);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn encode(&self, x: &[f32], n_cols: usize) -> Result<Vec<f32>> {
        let x = Model::dense("encode", "x", x, n_cols)?;
        Model::check_input("encode", "x", &x, self.input_dim())?;
        let latent = self.latent_dim();
        let mut out = zeros(x.n_rows(), latent, "encode")?;
        self.encode_into(x, MatrixMut::new(&mut out, latent)?)?;
        Ok(out)
    }

    /// As [`encode`](Model::encode), from a [`MatrixRef`] into the caller's [`MatrixMut`].
    ///
    /// ```
    /// use autoenc::{MatrixMut, MatrixRef, Model};
    /// let model = Model::new(&[4, 2])?;
    /// let mut codes = vec![0.0; 2 * 2];
    /// model.encode_into(MatrixRef::new(&[0.5; 8], 4)?, MatrixMut::new(&mut codes, 2)?)?;
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn encode_into(&self, x: MatrixRef<'_>, mut codes: MatrixMut<'_>) -> Result<()> {
        Model::check_input("encode", "x", &x, self.input_dim())?;
        Model::check_output("encode", "the codes", &codes, x.n_rows(), self.latent_dim())?;
        // SAFETY: valid views of the checked shapes; a const call.
        Model::check(unsafe {
            sys::ae_model_encode(
                self.as_ptr(),
                x.as_ptr(),
                x.n_rows(),
                x.stride(),
                codes.as_mut_ptr(),
                codes.stride(),
            )
        })
    }

    /// Outputs from latent codes (`ae_model_decode`): `codes` holds rows of
    /// `n_cols` (= [`latent_dim`](Model::latent_dim)) values; the result
    /// `n_rows x input_dim`.
    ///
    /// ```
    /// let model = autoenc::Model::new(&[4, 2])?;
    /// let y = model.decode(&[0.1, 0.2], 2)?;
    /// assert_eq!(y.len(), 4);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn decode(&self, codes: &[f32], n_cols: usize) -> Result<Vec<f32>> {
        let codes = Model::dense("decode", "the codes", codes, n_cols)?;
        Model::check_input("decode", "the codes", &codes, self.latent_dim())?;
        let input = self.input_dim();
        let mut out = zeros(codes.n_rows(), input, "decode")?;
        self.decode_into(codes, MatrixMut::new(&mut out, input)?)?;
        Ok(out)
    }

    /// As [`decode`](Model::decode), into the caller's [`MatrixMut`].
    ///
    /// ```
    /// use autoenc::{MatrixMut, MatrixRef, Model};
    /// let model = Model::new(&[4, 2])?;
    /// let mut y = vec![0.0; 4];
    /// model.decode_into(MatrixRef::new(&[0.1, 0.2], 2)?, MatrixMut::new(&mut y, 4)?)?;
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn decode_into(&self, codes: MatrixRef<'_>, mut y: MatrixMut<'_>) -> Result<()> {
        Model::check_input("decode", "the codes", &codes, self.latent_dim())?;
        Model::check_output("decode", "the output", &y, codes.n_rows(), self.input_dim())?;
        // SAFETY: valid views of the checked shapes; a const call.
        Model::check(unsafe {
            sys::ae_model_decode(
                self.as_ptr(),
                codes.as_ptr(),
                codes.n_rows(),
                codes.stride(),
                y.as_mut_ptr(),
                y.stride(),
            )
        })
    }

    /// Reconstructions of the rows of `x` (`ae_model_reconstruct`).
    ///
    /// ```
    /// let model = autoenc::Model::new(&[4, 2])?;
    /// let x = [0.5f32; 8];
    /// assert_eq!(model.reconstruct(&x, 4)?.len(), 8);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn reconstruct(&self, x: &[f32], n_cols: usize) -> Result<Vec<f32>> {
        let x = Model::dense("reconstruct", "x", x, n_cols)?;
        Model::check_input("reconstruct", "x", &x, self.input_dim())?;
        let input = self.input_dim();
        let mut out = zeros(x.n_rows(), input, "reconstruct")?;
        self.reconstruct_into(x, MatrixMut::new(&mut out, input)?)?;
        Ok(out)
    }

    /// As [`reconstruct`](Model::reconstruct), into the caller's [`MatrixMut`].
    ///
    /// ```
    /// use autoenc::{MatrixMut, MatrixRef, Model};
    /// let model = Model::new(&[4, 2])?;
    /// let mut y = vec![0.0; 8];
    /// model.reconstruct_into(MatrixRef::new(&[0.5; 8], 4)?, MatrixMut::new(&mut y, 4)?)?;
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn reconstruct_into(&self, x: MatrixRef<'_>, mut y: MatrixMut<'_>) -> Result<()> {
        let input = self.input_dim();
        Model::check_input("reconstruct", "x", &x, input)?;
        Model::check_output("reconstruct", "the output", &y, x.n_rows(), input)?;
        // SAFETY: valid views of the checked shapes (distinct borrows, so no
        // overlap); a const call.
        Model::check(unsafe {
            sys::ae_model_reconstruct(
                self.as_ptr(),
                x.as_ptr(),
                x.n_rows(),
                x.stride(),
                y.as_mut_ptr(),
                y.stride(),
            )
        })
    }

    /// Each row's reconstruction error, the mean over its features of the
    /// model's loss (`ae_model_score`); a row whose error overflows scores
    /// `f32::MAX`.
    ///
    /// ```
    /// let model = autoenc::Model::new(&[4, 2])?;
    /// let scores = model.score(&[0.5; 12], 4)?;
    /// assert_eq!(scores.len(), 3);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn score(&self, x: &[f32], n_cols: usize) -> Result<Vec<f32>> {
        let x = Model::dense("score", "x", x, n_cols)?;
        let mut scores = try_vec(x.n_rows(), 0.0, "score")?;
        self.score_into(x, &mut scores)?;
        Ok(scores)
    }

    /// As [`score`](Model::score), into a slice of one score per row.
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// let model = Model::new(&[4, 2])?;
    /// let mut scores = [0.0f32; 2];
    /// model.score_into(MatrixRef::new(&[0.5; 8], 4)?, &mut scores)?;
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn score_into(&self, x: MatrixRef<'_>, scores: &mut [f32]) -> Result<()> {
        Model::check_input("score", "x", &x, self.input_dim())?;
        Model::check_len("score", "the scores", scores.len(), x.n_rows())?;
        // SAFETY: a valid view, one score per row; a const call.
        Model::check(unsafe {
            sys::ae_model_score(self.as_ptr(), x.as_ptr(), x.n_rows(), x.stride(), scores.as_mut_ptr())
        })
    }

    /// The mean loss over all rows of `x`, accumulated in `f64` (`ae_model_loss`).
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// let model = Model::new(&[4, 2])?;
    /// let x = [0.5f32; 8];
    /// let loss = model.loss(MatrixRef::new(&x, 4)?)?;
    /// let mean: f64 = model.score(&x, 4)?.iter().map(|s| *s as f64).sum::<f64>() / 2.0;
    /// assert!((loss - mean).abs() < 1e-6);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn loss(&self, x: MatrixRef<'_>) -> Result<f64> {
        Model::check_input("loss", "x", &x, self.input_dim())?;
        let mut loss = 0.0;
        // SAFETY: a valid view; a const call.
        Model::check(unsafe { sys::ae_model_loss(self.as_ptr(), x.as_ptr(), x.n_rows(), x.stride(), &mut loss) })?;
        Ok(loss)
    }

    /// Each row's elementwise loss (`ae_model_feature_errors`): `n_rows x
    /// input_dim` values whose row means are the [`score`](Model::score)s.
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// let model = Model::new(&[4, 2])?;
    /// let errors = model.feature_errors(MatrixRef::new(&[0.5; 8], 4)?)?;
    /// assert_eq!(errors.len(), 8);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn feature_errors(&self, x: MatrixRef<'_>) -> Result<Vec<f32>> {
        let input = self.input_dim();
        Model::check_input("feature_errors", "x", &x, input)?;
        let mut errors = zeros(x.n_rows(), input, "feature_errors")?;
        // SAFETY: a valid view and a dense output of the same shape; a const call.
        Model::check(unsafe {
            sys::ae_model_feature_errors(
                self.as_ptr(),
                x.as_ptr(),
                x.n_rows(),
                x.stride(),
                errors.as_mut_ptr(),
                input,
            )
        })?;
        Ok(errors)
    }

    /// A variational model's Gaussian codes (`ae_model_encode_distribution`);
    /// [`Status::State`] for other models.
    ///
    /// ```
    /// use autoenc::{Architecture, MatrixRef, Model, Status};
    /// let vae = Model::builder(&[4, 2]).architecture(Architecture::VARIATIONAL).build()?;
    /// let d = vae.encode_distribution(MatrixRef::new(&[0.5; 4], 4)?)?;
    /// assert_eq!(d.mean, vae.encode(&[0.5; 4], 4)?);
    /// let plain = Model::new(&[4, 2])?;
    /// let err = plain.encode_distribution(MatrixRef::new(&[0.5; 4], 4)?).unwrap_err();
    /// assert_eq!(err.status(), Status::State);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn encode_distribution(&self, x: MatrixRef<'_>) -> Result<Distribution> {
        Model::check_input("encode_distribution", "x", &x, self.input_dim())?;
        let latent = self.latent_dim();
        let mut mean = zeros(x.n_rows(), latent, "encode_distribution")?;
        let mut log_variance = zeros(x.n_rows(), latent, "encode_distribution")?;
        // SAFETY: a valid view and two dense outputs; a const call.
        Model::check(unsafe {
            sys::ae_model_encode_distribution(
                self.as_ptr(),
                x.as_ptr(),
                x.n_rows(),
                x.stride(),
                mean.as_mut_ptr(),
                latent,
                log_variance.as_mut_ptr(),
                latent,
            )
        })?;
        Ok(Distribution { mean, log_variance })
    }

    /// `n_rows` new rows from a variational model's prior (`ae_model_sample`);
    /// the same seed gives the same rows. [`Status::State`] for other models.
    ///
    /// ```
    /// use autoenc::{Architecture, Model};
    /// let vae = Model::builder(&[4, 2]).architecture(Architecture::VARIATIONAL).build()?;
    /// let rows = vae.sample(42, 3)?;
    /// assert_eq!(rows.len(), 3 * 4);
    /// assert_eq!(rows, vae.sample(42, 3)?);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn sample(&self, seed: u64, n_rows: usize) -> Result<Vec<f32>> {
        let input = self.input_dim();
        let mut out = zeros(n_rows, input, "sample")?;
        self.sample_into(seed, MatrixMut::new(&mut out, input)?)?;
        Ok(out)
    }

    /// As [`sample`](Model::sample), into the caller's [`MatrixMut`] (one new row per row).
    ///
    /// ```
    /// use autoenc::{Architecture, MatrixMut, Model};
    /// let vae = Model::builder(&[4, 2]).architecture(Architecture::VARIATIONAL).build()?;
    /// let mut rows = vec![0.0; 2 * 4];
    /// vae.sample_into(7, MatrixMut::new(&mut rows, 4)?)?;
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn sample_into(&self, seed: u64, mut y: MatrixMut<'_>) -> Result<()> {
        let input = self.input_dim();
        if y.n_rows() == 0 {
            return Err(invalid("sample: the output has no rows".to_string()));
        }
        Model::check_output("sample", "the output", &y, y.n_rows(), input)?;
        // SAFETY: a valid output view of input_dim columns; a const call.
        Model::check(unsafe { sys::ae_model_sample(self.as_ptr(), seed, y.n_rows(), y.as_mut_ptr(), y.stride()) })
    }

    /// Walks the latent space from row `a` to row `b` (`ae_model_interpolate`):
    /// `n_steps` (at least 2) decoded rows, the first from `a`'s code, the last from `b`'s.
    ///
    /// ```
    /// let model = autoenc::Model::new(&[4, 2])?;
    /// let path = model.interpolate(&[0.0; 4], &[1.0; 4], 5)?;
    /// assert_eq!(path.len(), 5 * 4);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn interpolate(&self, a: &[f32], b: &[f32], n_steps: usize) -> Result<Vec<f32>> {
        let input = self.input_dim();
        Model::check_len("interpolate", "a", a.len(), input)?;
        Model::check_len("interpolate", "b", b.len(), input)?;
        if n_steps < 2 {
            return Err(invalid(format!(
                "interpolate: n_steps is {n_steps}; it must be at least 2"
            )));
        }
        let mut out = zeros(n_steps, input, "interpolate")?;
        // SAFETY: two rows of input_dim, a dense output of n_steps rows; a const call.
        Model::check(unsafe {
            sys::ae_model_interpolate(self.as_ptr(), a.as_ptr(), b.as_ptr(), n_steps, out.as_mut_ptr(), input)
        })?;
        Ok(out)
    }

    // ------------------------------------------------------------ anomaly detection

    /// Sets the threshold to the `1 - contamination` quantile of the scores
    /// of `x`'s rows (`ae_model_fit_threshold`); returns it.
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// let mut model = Model::new(&[4, 2])?;
    /// let x: Vec<f32> = (0..40).map(|i| i as f32 / 40.0).collect();
    /// let threshold = model.fit_threshold(MatrixRef::new(&x, 4)?, 0.1)?;
    /// assert_eq!(model.threshold(), Some(threshold));
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn fit_threshold(&mut self, x: MatrixRef<'_>, contamination: f64) -> Result<f64> {
        Model::check_input("fit_threshold", "x", &x, self.input_dim())?;
        let mut threshold = 0.0;
        // SAFETY: a valid view, a model held exclusively.
        let rc = unsafe {
            sys::ae_model_fit_threshold(
                self.as_mut_ptr(),
                x.as_ptr(),
                x.n_rows(),
                x.stride(),
                contamination,
                &mut threshold,
            )
        };
        self.check_mut(rc)?;
        Ok(threshold)
    }

    /// Sets the threshold explicitly (finite, at least 0).
    ///
    /// ```
    /// let mut model = autoenc::Model::new(&[4, 2])?;
    /// model.set_threshold(0.25)?;
    /// assert!(model.set_threshold(-1.0).is_err());
    /// assert_eq!(model.threshold(), Some(0.25));
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_threshold(&mut self, threshold: f64) -> Result<()> {
        // SAFETY: a model held exclusively.
        let rc = unsafe { sys::ae_model_set_threshold(self.as_mut_ptr(), threshold) };
        self.check_mut(rc)
    }

    /// The threshold, or `None` when none was set or fitted.
    ///
    /// ```
    /// assert_eq!(autoenc::Model::new(&[4, 2])?.threshold(), None);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn threshold(&self) -> Option<f64> {
        let mut threshold = 0.0;
        // SAFETY: a const call on a valid model.
        let rc = unsafe { sys::ae_model_get_threshold(self.as_ptr(), &mut threshold) };
        if rc == sys::AE_OK {
            Some(threshold)
        } else {
            None
        }
    }

    /// Labels the rows of `x` scoring above the threshold (`ae_model_detect`);
    /// [`Status::State`] without a threshold. A row whose error overflows is
    /// anomalous whatever the threshold.
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model, Status};
    /// let mut model = Model::new(&[4, 2])?;
    /// let x = MatrixRef::new(&[0.5; 8], 4)?;
    /// assert_eq!(model.detect(x).unwrap_err().status(), Status::State);
    /// model.set_threshold(0.0)?;
    /// assert_eq!(model.detect(x)?.anomalous, vec![true, true]);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn detect(&self, x: MatrixRef<'_>) -> Result<Detection> {
        Model::check_input("detect", "x", &x, self.input_dim())?;
        let mut labels = try_vec(x.n_rows(), 1u8, "detect")?;
        let mut scores = try_vec(x.n_rows(), 0.0f32, "detect")?;
        let mut anomalous = try_vec(x.n_rows(), false, "detect")?;
        // SAFETY: a valid view, one label and one score per row; a const call.
        Model::check(unsafe {
            sys::ae_model_detect(
                self.as_ptr(),
                x.as_ptr(),
                x.n_rows(),
                x.stride(),
                labels.as_mut_ptr(),
                scores.as_mut_ptr(),
            )
        })?;
        for (a, &l) in anomalous.iter_mut().zip(&labels) {
            *a = l != 0;
        }
        Ok(Detection { anomalous, scores })
    }

    // ------------------------------------------------------------ scaling

    /// Fits the scaling of [`Param::Scaling`] to the rows of `x` now
    /// (`ae_model_fit_scaling`); [`Status::State`] without a scaling. (A first
    /// [`fit`](Model::fit) fits it by itself.)
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model, Scaling};
    /// let mut model = Model::builder(&[2, 1]).scaling(Scaling::Standardize).build()?;
    /// model.fit_scaling(MatrixRef::new(&[1.0, 5.0, 3.0, 5.0], 2)?)?;
    /// assert_eq!(model.scaling_params().unwrap().offset, vec![2.0, 5.0]);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn fit_scaling(&mut self, x: MatrixRef<'_>) -> Result<()> {
        Model::check_input("fit_scaling", "x", &x, self.input_dim())?;
        // SAFETY: a valid view, a model held exclusively.
        let rc = unsafe { sys::ae_model_fit_scaling(self.as_mut_ptr(), x.as_ptr(), x.n_rows(), x.stride()) };
        self.check_mut(rc)
    }

    /// The fitted offsets and scales, or `None` when no scaling is fitted.
    ///
    /// ```
    /// assert!(autoenc::Model::new(&[2, 1])?.scaling_params().is_none());
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn scaling_params(&self) -> Option<ScalingParams> {
        let n = self.input_dim();
        // The one output that may still abort on allocation failure: the
        // `Option` has no room for an error. input_dim is at most 2^24 (two
        // buffers of 64 MiB), and the model already holds a layer that wide.
        let mut params = ScalingParams {
            offset: vec![0.0; n],
            scale: vec![0.0; n],
        };
        // SAFETY: two buffers of input_dim floats; a const call.
        let rc = unsafe {
            sys::ae_model_get_scaling(self.as_ptr(), params.offset.as_mut_ptr(), params.scale.as_mut_ptr(), n)
        };
        if rc == sys::AE_OK {
            Some(params)
        } else {
            None
        }
    }

    /// Sets the offsets and scales explicitly (finite; scales positive), e.g.
    /// from another model; [`Status::State`] without a scaling setting.
    ///
    /// ```
    /// use autoenc::{Model, Scaling};
    /// let mut model = Model::builder(&[2, 1]).scaling(Scaling::MinMax).build()?;
    /// model.set_scaling_params(&[0.0, 1.0], &[2.0, 2.0])?;
    /// assert_eq!(model.scaling_params().unwrap().scale, vec![2.0, 2.0]);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_scaling_params(&mut self, offset: &[f32], scale: &[f32]) -> Result<()> {
        let n = self.input_dim();
        Model::check_len("set_scaling_params", "offset", offset.len(), n)?;
        Model::check_len("set_scaling_params", "scale", scale.len(), n)?;
        // SAFETY: two slices of input_dim floats, a model held exclusively.
        let rc = unsafe { sys::ae_model_set_scaling(self.as_mut_ptr(), offset.as_ptr(), scale.as_ptr(), n) };
        self.check_mut(rc)
    }

    // ------------------------------------------------------------ weights

    /// Copies `n_layers` consecutive layers of `src`, from `src_layer`, into
    /// this model from `dst_layer` (`ae_model_copy_layers`); the shapes must
    /// match. This model's optimizer state is reset.
    ///
    /// ```
    /// use autoenc::Model;
    /// let src = Model::builder(&[6, 4, 2]).seed(1).build()?;
    /// let mut dst = Model::new(&[6, 4, 3])?;
    /// dst.copy_layers(0, &src, 0, 1)?; // the 6 -> 4 layer
    /// assert_eq!(dst.weights(0)?, src.weights(0)?);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn copy_layers(&mut self, dst_layer: usize, src: &Model, src_layer: usize, n_layers: usize) -> Result<()> {
        // SAFETY: two valid models, distinct since one is borrowed mutably.
        let rc = unsafe { sys::ae_model_copy_layers(self.as_mut_ptr(), dst_layer, src.as_ptr(), src_layer, n_layers) };
        self.check_mut(rc)
    }

    fn layer_sizes(&self, what: &str, layer: usize) -> Result<(usize, usize)> {
        let d = self
            .describe_layer(layer)
            .map_err(|e| Error::new(e.status(), format!("{what}: {}", e.message())))?;
        Ok((d.n_out * d.n_in, d.n_out))
    }

    /// Layer `layer`'s weights, `n_out x n_in` row-major (as
    /// `torch.nn.Linear.weight`); for a tied decoder layer, the transpose of
    /// its mirror's.
    ///
    /// ```
    /// let model = autoenc::Model::new(&[4, 2])?;
    /// assert_eq!(model.weights(0)?.len(), 2 * 4);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn weights(&self, layer: usize) -> Result<Vec<f32>> {
        let (n, _) = self.layer_sizes("weights", layer)?;
        let mut w = try_vec(n, 0.0, "weights")?;
        // SAFETY: a buffer of n_out * n_in floats; a const call.
        Model::check(unsafe { sys::ae_model_get_weights(self.as_ptr(), layer, w.as_mut_ptr(), n) })?;
        Ok(w)
    }

    /// Replaces layer `layer`'s weights (`n_out x n_in` finite values).
    ///
    /// ```
    /// let mut model = autoenc::Model::new(&[4, 2])?;
    /// model.set_weights(0, &[0.5; 8])?;
    /// assert_eq!(model.weights(0)?, vec![0.5; 8]);
    /// assert!(model.set_weights(0, &[0.5; 7]).is_err());
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_weights(&mut self, layer: usize, weights: &[f32]) -> Result<()> {
        let (n, _) = self.layer_sizes("set_weights", layer)?;
        Model::check_len("set_weights", "the weights", weights.len(), n)?;
        // SAFETY: a slice of n_out * n_in floats, a model held exclusively.
        let rc = unsafe { sys::ae_model_set_weights(self.as_mut_ptr(), layer, weights.as_ptr(), n) };
        self.check_mut(rc)
    }

    /// Layer `layer`'s bias (`n_out` values).
    ///
    /// ```
    /// let model = autoenc::Model::new(&[4, 2])?;
    /// assert_eq!(model.bias(1)?, vec![0.0; 4]); // biases start at zero
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn bias(&self, layer: usize) -> Result<Vec<f32>> {
        let (_, n) = self.layer_sizes("bias", layer)?;
        let mut b = try_vec(n, 0.0, "bias")?;
        // SAFETY: a buffer of n_out floats; a const call.
        Model::check(unsafe { sys::ae_model_get_bias(self.as_ptr(), layer, b.as_mut_ptr(), n) })?;
        Ok(b)
    }

    /// Replaces layer `layer`'s bias (`n_out` finite values).
    ///
    /// ```
    /// let mut model = autoenc::Model::new(&[4, 2])?;
    /// model.set_bias(0, &[1.0, -1.0])?;
    /// assert_eq!(model.bias(0)?, vec![1.0, -1.0]);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_bias(&mut self, layer: usize, bias: &[f32]) -> Result<()> {
        let (_, n) = self.layer_sizes("set_bias", layer)?;
        Model::check_len("set_bias", "the bias", bias.len(), n)?;
        // SAFETY: a slice of n_out floats, a model held exclusively.
        let rc = unsafe { sys::ae_model_set_bias(self.as_mut_ptr(), layer, bias.as_ptr(), n) };
        self.check_mut(rc)
    }

    /// Every parameter in the flat layout: each layer's weights in layer
    /// order, then each layer's bias ([`describe_layer`](Model::describe_layer)
    /// gives the offsets).
    ///
    /// ```
    /// let model = autoenc::Model::new(&[4, 2])?;
    /// let params = model.params()?;
    /// assert_eq!(params.len(), model.param_count());
    /// assert_eq!(&params[..8], &model.weights(0)?[..]);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn params(&self) -> Result<Vec<f32>> {
        let n = self.param_count();
        let mut params = try_vec(n, 0.0, "params")?;
        // SAFETY: a buffer of param_count floats; a const call.
        Model::check(unsafe { sys::ae_model_get_params(self.as_ptr(), params.as_mut_ptr(), n) })?;
        Ok(params)
    }

    /// Replaces every parameter (flat layout, finite values).
    ///
    /// ```
    /// let mut model = autoenc::Model::new(&[4, 2])?;
    /// let zeros = vec![0.0; model.param_count()];
    /// model.set_params(&zeros)?;
    /// assert_eq!(model.encode(&[1.0; 4], 4)?, vec![0.0, 0.0]);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_params(&mut self, params: &[f32]) -> Result<()> {
        let n = self.param_count();
        Model::check_len("set_params", "the parameters", params.len(), n)?;
        // SAFETY: a slice of param_count floats, a model held exclusively.
        let rc = unsafe { sys::ae_model_set_params(self.as_mut_ptr(), params.as_ptr(), n) };
        self.check_mut(rc)
    }

    /// The optimizer state (`ae_model_get_optimizer_state`): both moments for
    /// Adam and AdamW, the momentum buffer for SGD with momentum, nothing for
    /// plain SGD.
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model};
    /// let mut model = Model::new(&[4, 2])?;
    /// model.train_batch(MatrixRef::new(&[0.5; 8], 4)?)?;
    /// let state = model.optimizer_state()?;
    /// assert_eq!(state.step, 1);
    /// assert_eq!(state.second_moment.unwrap().len(), model.param_count());
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn optimizer_state(&self) -> Result<OptimizerState> {
        let n = self.param_count();
        let kind = self.param(Param::Optimizer)?;
        let (first, second) = if kind == f64::from(sys::AE_OPT_SGD) {
            (self.param(Param::Momentum)? > 0.0, false)
        } else {
            (true, true)
        };
        let mut first_moment = if first {
            Some(try_vec(n, 0.0, "optimizer_state")?)
        } else {
            None
        };
        let mut second_moment = if second {
            Some(try_vec(n, 0.0, "optimizer_state")?)
        } else {
            None
        };
        let mut step = 0u64;
        let as_ptr = |v: &mut Option<Vec<f32>>| v.as_mut().map_or(ptr::null_mut(), |v| v.as_mut_ptr());
        // SAFETY: NULL or buffers of param_count floats; a const call.
        Model::check(unsafe {
            sys::ae_model_get_optimizer_state(
                self.as_ptr(),
                &mut step,
                as_ptr(&mut first_moment),
                as_ptr(&mut second_moment),
                n,
            )
        })?;
        Ok(OptimizerState {
            step,
            first_moment,
            second_moment,
        })
    }

    /// Sets the state of the model's current optimizer, e.g. from a PyTorch
    /// checkpoint (`ae_model_set_optimizer_state`). For Adam both moments (or
    /// neither, with step 0, to clear it); for SGD the momentum buffer or
    /// nothing, and step 0.
    ///
    /// ```
    /// use autoenc::{Model, OptimizerState};
    /// let mut model = Model::new(&[4, 2])?;
    /// model.set_optimizer_state(&OptimizerState::default())?; // cleared
    /// let wrong = OptimizerState { step: 1, first_moment: Some(vec![0.0; 3]), second_moment: None };
    /// assert!(model.set_optimizer_state(&wrong).is_err());
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn set_optimizer_state(&mut self, state: &OptimizerState) -> Result<()> {
        let n = self.param_count();
        let slice_ptr = |v: &Option<Vec<f32>>, name: &str| -> Result<*const f32> {
            match v {
                None => Ok(ptr::null()),
                Some(v) => {
                    Model::check_len("set_optimizer_state", name, v.len(), n)?;
                    Ok(v.as_ptr())
                }
            }
        };
        let first = slice_ptr(&state.first_moment, "the first moment")?;
        let second = slice_ptr(&state.second_moment, "the second moment")?;
        // SAFETY: NULL or slices of param_count floats, a model held exclusively.
        let rc = unsafe { sys::ae_model_set_optimizer_state(self.as_mut_ptr(), state.step, first, second, n) };
        self.check_mut(rc)
    }

    // ------------------------------------------------------------ files

    /// Saves the model to `path` atomically (`ae_model_save`): the path holds
    /// the old file or the new one, never a mix.
    ///
    /// ```
    /// use autoenc::{Model, SaveFlags};
    /// let model = Model::new(&[4, 2])?;
    /// let path = std::env::temp_dir().join(format!("autoenc-doc-save-{}.aemodel", std::process::id()));
    /// model.save(&path, SaveFlags::DEFAULT)?;
    /// assert_eq!(Model::load(&path)?.params()?, model.params()?);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>, flags: SaveFlags) -> Result<()> {
        let path = path_cstring("save", path.as_ref())?;
        // SAFETY: a NUL-terminated path; a const call.
        Model::check(unsafe { sys::ae_model_save(self.as_ptr(), path.as_ptr(), flags.bits()) })
    }

    /// Loads a model saved by [`save`](Model::save) (`ae_model_load`).
    /// Damaged files give [`Status::Format`], [`Status::Checksum`] or
    /// [`Status::Version`]; a missing one [`Status::Io`].
    ///
    /// ```
    /// use autoenc::{Model, Status};
    /// let err = Model::load("/nonexistent/model.aemodel").unwrap_err();
    /// assert_eq!(err.status(), Status::Io);
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let path = path_cstring("load", path.as_ref())?;
        let mut raw = ptr::null_mut();
        // SAFETY: a NUL-terminated path; raw is an out-pointer.
        let rc = unsafe { sys::ae_model_load(&mut raw, path.as_ptr()) };
        unsafe { Model::from_status(rc, raw) }
    }

    /// The exact size in bytes of [`to_bytes`](Model::to_bytes) with these flags.
    ///
    /// ```
    /// use autoenc::{Model, SaveFlags};
    /// let model = Model::new(&[4, 2])?;
    /// assert_eq!(model.save_size(SaveFlags::DEFAULT)?, model.to_bytes(SaveFlags::DEFAULT)?.len());
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn save_size(&self, flags: SaveFlags) -> Result<usize> {
        let mut size = 0;
        // SAFETY: a const call; size is an out-pointer.
        Model::check(unsafe { sys::ae_model_save_size(self.as_ptr(), flags.bits(), &mut size) })?;
        Ok(size)
    }

    /// The model as the bytes of a model file.
    ///
    /// ```
    /// use autoenc::{Model, SaveFlags};
    /// let bytes = Model::new(&[4, 2])?.to_bytes(SaveFlags::OPTIMIZER_STATE)?;
    /// assert_eq!(&bytes[1..4], b"AEN");
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn to_bytes(&self, flags: SaveFlags) -> Result<Vec<u8>> {
        let mut bytes = try_vec(self.save_size(flags)?, 0u8, "to_bytes")?;
        let written = self.save_into(flags, &mut bytes)?;
        bytes.truncate(written);
        Ok(bytes)
    }

    /// Writes the model file's bytes into `buffer`; returns how many.
    /// [`Status::BufferTooSmall`] (the message says how many are needed) when
    /// it cannot hold them.
    ///
    /// ```
    /// use autoenc::{Model, SaveFlags, Status};
    /// let model = Model::new(&[4, 2])?;
    /// let mut buffer = [0u8; 16];
    /// let err = model.save_into(SaveFlags::DEFAULT, &mut buffer).unwrap_err();
    /// assert_eq!(err.status(), Status::BufferTooSmall);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn save_into(&self, flags: SaveFlags, buffer: &mut [u8]) -> Result<usize> {
        let mut written = 0;
        // SAFETY: a buffer of its length; a const call.
        Model::check(unsafe {
            sys::ae_model_save_to_memory(
                self.as_ptr(),
                flags.bits(),
                buffer.as_mut_ptr().cast::<c_void>(),
                buffer.len(),
                &mut written,
            )
        })?;
        Ok(written)
    }

    /// Loads a model from the bytes of a model file (`ae_model_load_from_memory`).
    ///
    /// ```
    /// use autoenc::{Model, SaveFlags, Status};
    /// let model = Model::new(&[4, 2])?;
    /// let copy = Model::from_bytes(&model.to_bytes(SaveFlags::DEFAULT)?)?;
    /// assert_eq!(copy.params()?, model.params()?);
    /// assert_eq!(Model::from_bytes(b"not a model").unwrap_err().status(), Status::Format);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        let mut raw = ptr::null_mut();
        // SAFETY: a byte slice of its length; raw is an out-pointer.
        let rc = unsafe { sys::ae_model_load_from_memory(&mut raw, bytes.as_ptr().cast::<c_void>(), bytes.len()) };
        unsafe { Model::from_status(rc, raw) }
    }
}

#[cfg(test)]
mod tests {
    use super::try_vec;
    use crate::Status;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn try_vec_fills_or_fails_with_a_status() {
        assert_eq!(try_vec(3, 7u8, "t").unwrap(), vec![7u8; 3]);
        assert!(try_vec(0, 0.0f32, "t").unwrap().is_empty());
        let max = isize::MAX as usize;
        // Past isize::MAX bytes, whether or not the byte count fits usize.
        assert_eq!(try_vec(max + 1, 0u8, "t").unwrap_err().status(), Status::SizeOverflow);
        assert_eq!(
            try_vec(max / 4 + 1, 0.0f32, "t").unwrap_err().status(),
            Status::SizeOverflow
        );
        assert_eq!(
            try_vec(usize::MAX, 0.0f32, "t").unwrap_err().status(),
            Status::SizeOverflow
        );
        // Exactly isize::MAX bytes is a valid request no allocator grants.
        let err = try_vec(max, 0u8, "to_bytes").unwrap_err();
        assert_eq!(err.status(), Status::OutOfMemory);
        assert!(err.message().starts_with("to_bytes: "), "{err}");
        assert_eq!(try_vec(max / 4, 0.0f32, "t").unwrap_err().status(), Status::OutOfMemory);
    }
}
