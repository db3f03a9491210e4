//! Raw declarations of libautoenc's C API, exactly as `include/autoenc.h`
//! declares it: every function, enum value, constant and struct.
//!
//! This crate only declares and links; the safe API is the `autoenc` crate.
//! Everything here is `unsafe` to call and follows the C header's contracts
//! (the header is the specification: who owns memory, what NULL does, which
//! calls are thread-safe). The test `tests/abi.rs` compiles a C program
//! against the header and checks every enum value, constant, struct size and
//! field offset below, and that every function of the header and of
//! `tests/abi/exported-symbols.txt` is declared here with the same signature.
//!
//! Enums are type aliases of the integer type the C compiler gives them
//! (`c_uint` for an enum without negative values, `c_int` otherwise) with one
//! constant per value, so a value a newer library adds never becomes
//! undefined behaviour on the Rust side.
//!
//! The build script links `libautoenc` dynamically, found by `pkg-config
//! autoenc` or by the `AUTOENC_LIB_DIR` environment variable (a build tree's
//! `src/` folder); see the crate's `build.rs`.
//!
//! ```
//! use autoenc_sys::*;
//! use std::ptr;
//!
//! let widths: [usize; 3] = [8, 4, 2];
//! let mut model: *mut ae_model = ptr::null_mut();
//! let rc = unsafe { ae_model_create(&mut model, widths.as_ptr(), 3, ptr::null(), 0) };
//! assert_eq!(rc, AE_OK);
//! assert_eq!(unsafe { ae_model_latent_dim(model) }, 2);
//! let x = [0.5f32; 16]; // two rows of 8
//! let mut z = [0f32; 4];
//! let rc = unsafe { ae_model_encode(model, x.as_ptr(), 2, 8, z.as_mut_ptr(), 2) };
//! assert_eq!(rc, AE_OK);
//! unsafe { ae_model_free(model) };
//! ```
#![allow(non_camel_case_types)]
#![warn(missing_docs)]

use std::marker::{PhantomData, PhantomPinned};
use std::mem::size_of;

// std::os::raw rather than std::ffi / core::ffi: those names are stable only since 1.64.
pub use std::os::raw::{c_char, c_int, c_uint, c_void};

// ---------------------------------------------------------------- versions

/// `AE_VERSION_MAJOR` of the header these declarations follow.
pub const AE_VERSION_MAJOR: c_uint = 0;
/// `AE_VERSION_MINOR` of the header these declarations follow.
pub const AE_VERSION_MINOR: c_uint = 3;
/// `AE_VERSION_PATCH` of the header these declarations follow.
pub const AE_VERSION_PATCH: c_uint = 0;
/// `AE_VERSION_NUMBER`: `major * 10000 + minor * 100 + patch`.
pub const AE_VERSION_NUMBER: c_uint = AE_VERSION_MAJOR * 10000 + AE_VERSION_MINOR * 100 + AE_VERSION_PATCH;

// ---------------------------------------------------------------- limits

/// `AE_MAX_LAYERS`: the most dense layers a model may have.
pub const AE_MAX_LAYERS: usize = 4096;
/// `AE_MAX_LAYER_WIDTH`: the widest a layer's input or output may be (2^24).
pub const AE_MAX_LAYER_WIDTH: usize = 16_777_216;

// ---------------------------------------------------------------- statuses

/// `ae_status`: status codes, pinned forever.
pub type ae_status = c_int;
/// Success.
pub const AE_OK: ae_status = 0;
/// NULL pointer, zero size, value out of range, bad leading dimension.
pub const AE_ERR_INVALID_ARGUMENT: ae_status = -1;
/// An allocation failed; nothing was changed.
pub const AE_ERR_OUT_OF_MEMORY: ae_status = -2;
/// A size product would overflow `size_t`.
pub const AE_ERR_SIZE_OVERFLOW: ae_status = -3;
/// Input holds NaN or Inf.
pub const AE_ERR_NON_FINITE_INPUT: ae_status = -4;
/// Input outside the range the loss needs.
pub const AE_ERR_INPUT_RANGE: ae_status = -5;
/// The call does not fit the model's current configuration or state.
pub const AE_ERR_STATE: ae_status = -6;
/// The progress callback asked to stop; the model is usable.
pub const AE_ERR_CANCELLED: ae_status = -7;
/// Loss or gradient became non-finite; the last finite weights were restored.
pub const AE_ERR_DIVERGED: ae_status = -8;
/// A file could not be opened, read, written, flushed or renamed.
pub const AE_ERR_IO: ae_status = -9;
/// Model data is malformed or truncated.
pub const AE_ERR_FORMAT: ae_status = -10;
/// Model data does not match its checksum.
pub const AE_ERR_CHECKSUM: ae_status = -11;
/// Model data needs a newer library.
pub const AE_ERR_VERSION: ae_status = -12;
/// The caller's buffer is too small; the size needed is reported.
pub const AE_ERR_BUFFER_TOO_SMALL: ae_status = -13;
/// A result computed from finite inputs would be NaN or infinite.
pub const AE_ERR_NON_FINITE_RESULT: ae_status = -14;
/// The model is in use by another call that this one may not overlap.
pub const AE_ERR_BUSY: ae_status = -15;
/// A distributed training call stopped because another participant (or the engine) failed.
pub const AE_ERR_PEER: ae_status = -16;

// ---------------------------------------------------------------- enums

/// `ae_architecture_flags`: architecture variants for [`ae_model_create_ex`].
pub type ae_architecture_flags = c_uint;
/// Every layer has its own weights; a deterministic code.
pub const AE_ARCH_PLAIN: ae_architecture_flags = 0;
/// Decoder layers use the transposed weights of their mirror encoder layers.
pub const AE_ARCH_TIED_WEIGHTS: ae_architecture_flags = 1;
/// A variational autoencoder.
pub const AE_ARCH_VARIATIONAL: ae_architecture_flags = 2;

/// `ae_activation`: activation functions.
pub type ae_activation = c_uint;
/// f(z) = z
pub const AE_ACT_LINEAR: ae_activation = 0;
/// f(z) = max(z, 0)
pub const AE_ACT_RELU: ae_activation = 1;
/// f(z) = z > 0 ? z : slope * z
pub const AE_ACT_LEAKY_RELU: ae_activation = 2;
/// f(z) = z > 0 ? z : alpha * (exp(z) - 1)
pub const AE_ACT_ELU: ae_activation = 3;
/// f(z) = 1 / (1 + exp(-z))
pub const AE_ACT_SIGMOID: ae_activation = 4;
/// f(z) = tanh(z)
pub const AE_ACT_TANH: ae_activation = 5;
/// f(z) = log(1 + exp(z))
pub const AE_ACT_SOFTPLUS: ae_activation = 6;

/// `ae_loss`: reconstruction losses.
pub type ae_loss = c_uint;
/// Mean squared error.
pub const AE_LOSS_MSE: ae_loss = 0;
/// Binary cross-entropy (needs a sigmoid output).
pub const AE_LOSS_BCE: ae_loss = 1;

/// `ae_optimizer`: optimizers.
pub type ae_optimizer = c_uint;
/// SGD with optional (Nesterov) momentum.
pub const AE_OPT_SGD: ae_optimizer = 0;
/// Adam.
pub const AE_OPT_ADAM: ae_optimizer = 1;
/// AdamW (decoupled weight decay).
pub const AE_OPT_ADAMW: ae_optimizer = 2;

/// `ae_noise`: corruption of training inputs for denoising.
pub type ae_noise = c_uint;
/// Train on the clean input.
pub const AE_NOISE_NONE: ae_noise = 0;
/// Add normal noise.
pub const AE_NOISE_GAUSSIAN: ae_noise = 1;
/// Set values to 0 at random.
pub const AE_NOISE_MASKING: ae_noise = 2;
/// Set values to 0 or 1 at random.
pub const AE_NOISE_SALT_AND_PEPPER: ae_noise = 3;

/// `ae_scaling`: how input features are scaled.
pub type ae_scaling = c_uint;
/// Features are used as they are.
pub const AE_SCALING_NONE: ae_scaling = 0;
/// Fitted rows map into [0, 1].
pub const AE_SCALING_MINMAX: ae_scaling = 1;
/// Offset = mean, scale = standard deviation.
pub const AE_SCALING_STANDARDIZE: ae_scaling = 2;

/// `ae_param`: settings.
pub type ae_param = c_uint;
/// Generator seed.
pub const AE_PARAM_SEED: ae_param = 1;
/// Activation of hidden layers.
pub const AE_PARAM_HIDDEN_ACTIVATION: ae_param = 2;
/// Activation of the latent layer.
pub const AE_PARAM_LATENT_ACTIVATION: ae_param = 3;
/// Activation of the output layer.
pub const AE_PARAM_OUTPUT_ACTIVATION: ae_param = 4;
/// The loss.
pub const AE_PARAM_LOSS: ae_param = 5;
/// Negative slope of leaky ReLU.
pub const AE_PARAM_LEAKY_SLOPE: ae_param = 6;
/// ELU alpha.
pub const AE_PARAM_ELU_ALPHA: ae_param = 7;
/// The optimizer.
pub const AE_PARAM_OPTIMIZER: ae_param = 10;
/// Step size.
pub const AE_PARAM_LEARNING_RATE: ae_param = 11;
/// SGD momentum.
pub const AE_PARAM_MOMENTUM: ae_param = 12;
/// SGD Nesterov momentum.
pub const AE_PARAM_NESTEROV: ae_param = 13;
/// Adam first-moment decay.
pub const AE_PARAM_ADAM_BETA1: ae_param = 14;
/// Adam second-moment decay.
pub const AE_PARAM_ADAM_BETA2: ae_param = 15;
/// Adam denominator term.
pub const AE_PARAM_ADAM_EPSILON: ae_param = 16;
/// L2 on weights (decoupled for AdamW).
pub const AE_PARAM_WEIGHT_DECAY: ae_param = 17;
/// Global gradient-norm clip.
pub const AE_PARAM_CLIP_NORM: ae_param = 18;
/// Passes over the data in a fit.
pub const AE_PARAM_EPOCHS: ae_param = 20;
/// Rows per step.
pub const AE_PARAM_BATCH_SIZE: ae_param = 21;
/// Reshuffle the rows every epoch.
pub const AE_PARAM_SHUFFLE: ae_param = 22;
/// Share of the rows held out for validation.
pub const AE_PARAM_VALIDATION_FRACTION: ae_param = 23;
/// Early stopping: epochs without improvement.
pub const AE_PARAM_PATIENCE: ae_param = 24;
/// Early stopping: smallest loss decrease that counts.
pub const AE_PARAM_MIN_DELTA: ae_param = 25;
/// Keep the best epoch's weights after a fit with validation.
pub const AE_PARAM_RESTORE_BEST: ae_param = 26;
/// Also call the progress callback after every batch.
pub const AE_PARAM_PROGRESS_EVERY_BATCH: ae_param = 27;
/// Loss growth factor that counts as divergence.
pub const AE_PARAM_DIVERGENCE_FACTOR: ae_param = 28;
/// `ae_model_fit_source`: rows held to shuffle a data source's rows.
pub const AE_PARAM_SHUFFLE_BUFFER: ae_param = 29;
/// Threads for the elementwise work of training.
pub const AE_PARAM_THREADS: ae_param = 30;
/// Denoising corruption.
pub const AE_PARAM_NOISE: ae_param = 40;
/// Deviation or probability of the corruption.
pub const AE_PARAM_NOISE_LEVEL: ae_param = 41;
/// Scaling of the input features.
pub const AE_PARAM_SCALING: ae_param = 50;
/// Smallest scale a fitted scaling gives a feature that is not constant.
pub const AE_PARAM_SCALING_MIN_SCALE: ae_param = 51;
/// Weight of the KL sparsity penalty.
pub const AE_PARAM_SPARSITY_WEIGHT: ae_param = 60;
/// Target mean activation of the sparsity penalty.
pub const AE_PARAM_SPARSITY_TARGET: ae_param = 61;
/// Encoder layer the sparsity penalty watches (-1: the latent layer).
pub const AE_PARAM_SPARSITY_LAYER: ae_param = 62;
/// Weight of the L1 penalty on the latent code.
pub const AE_PARAM_ACTIVITY_L1: ae_param = 63;
/// Weight of the contractive penalty.
pub const AE_PARAM_CONTRACTIVE_WEIGHT: ae_param = 64;
/// Dropout on the input (training only).
pub const AE_PARAM_DROPOUT_INPUT: ae_param = 70;
/// Dropout on hidden layers (training only).
pub const AE_PARAM_DROPOUT_HIDDEN: ae_param = 71;
/// Variational models: weight of the KL term.
pub const AE_PARAM_KL_WEIGHT: ae_param = 80;
/// Variational models: epochs of linear KL warm-up.
pub const AE_PARAM_KL_WARMUP_EPOCHS: ae_param = 81;

/// `ae_param_kind`: what kind of value a setting takes.
pub type ae_param_kind = c_uint;
/// Any double in the range.
pub const AE_PARAM_KIND_REAL: ae_param_kind = 0;
/// Whole numbers in the range.
pub const AE_PARAM_KIND_INTEGER: ae_param_kind = 1;
/// 0 or 1.
pub const AE_PARAM_KIND_BOOLEAN: ae_param_kind = 2;
/// The values of an enum, each with a name (`ae_param_value_name`).
pub const AE_PARAM_KIND_ENUM: ae_param_kind = 3;

/// `ae_stop_reason`: why a fit ended.
pub type ae_stop_reason = c_uint;
/// All epochs ran.
pub const AE_STOP_COMPLETED: ae_stop_reason = 0;
/// Early stopping.
pub const AE_STOP_EARLY: ae_stop_reason = 1;
/// The progress callback returned non-zero.
pub const AE_STOP_CANCELLED: ae_stop_reason = 2;
/// A non-finite loss or gradient.
pub const AE_STOP_DIVERGED: ae_stop_reason = 3;
/// A distributed fit stopped because another participant or the engine failed.
pub const AE_STOP_FAILED: ae_stop_reason = 4;

/// `ae_reduce_op`: how `ae_train_hooks::reduce` combines values across participants.
pub type ae_reduce_op = c_uint;
/// Elementwise sum.
pub const AE_REDUCE_SUM: ae_reduce_op = 0;
/// Elementwise maximum.
pub const AE_REDUCE_MAX: ae_reduce_op = 1;

/// `ae_save_flags`: flags for saving.
pub type ae_save_flags = c_uint;
/// Architecture, settings, parameters, generator state.
pub const AE_SAVE_DEFAULT: ae_save_flags = 0;
/// Also the optimizer state.
pub const AE_SAVE_OPTIMIZER_STATE: ae_save_flags = 1;

// ---------------------------------------------------------------- types

/// `ae_model`: an opaque model, only ever behind a pointer.
///
/// ```
/// use autoenc_sys::*;
/// let widths = [4usize, 2];
/// let mut model: *mut ae_model = std::ptr::null_mut();
/// assert_eq!(unsafe { ae_model_create(&mut model, widths.as_ptr(), 2, std::ptr::null(), 0) }, AE_OK);
/// unsafe { ae_model_free(model) };
/// unsafe { ae_model_free(std::ptr::null_mut()) }; // a no-op
/// ```
#[repr(C)]
pub struct ae_model {
    _opaque: [u8; 0],
    _not_send_sync_unpin: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `ae_layer_description`: everything that describes one layer. Set `size`
/// to `size_of::<ae_layer_description>()` before the call.
///
/// ```
/// use autoenc_sys::*;
/// let widths = [6usize, 3];
/// let mut model = std::ptr::null_mut();
/// unsafe { ae_model_create(&mut model, widths.as_ptr(), 2, std::ptr::null(), 0) };
/// let mut layer = ae_layer_description::new();
/// assert_eq!(unsafe { ae_model_describe_layer(model, 1, &mut layer) }, AE_OK);
/// assert_eq!((layer.n_in, layer.n_out, layer.weight_offset), (3, 6, 18));
/// unsafe { ae_model_free(model) };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ae_layer_description {
    /// Set by the caller: the struct's size.
    pub size: usize,
    /// Input width.
    pub n_in: u64,
    /// Output width.
    pub n_out: u64,
    /// The layer's `ae_activation`.
    pub activation: i32,
    /// 1 if the layer uses the transposed weights of `weights_layer`.
    pub tied: i32,
    /// The layer whose weights this layer uses.
    pub weights_layer: u64,
    /// Where the weights it uses start in the flat vector.
    pub weight_offset: u64,
    /// Weights the layer owns in the flat vector.
    pub weight_count: u64,
    /// Where its bias starts in the flat vector.
    pub bias_offset: u64,
    /// Its bias length.
    pub bias_count: u64,
}

impl Default for ae_layer_description {
    /// As [`ae_layer_description::new`]: zeroed, with `size` set.
    fn default() -> Self {
        Self::new()
    }
}

impl ae_layer_description {
    /// A zeroed description with `size` set, ready for [`ae_model_describe_layer`].
    ///
    /// ```
    /// let d = autoenc_sys::ae_layer_description::new();
    /// assert_eq!(d.size, std::mem::size_of::<autoenc_sys::ae_layer_description>());
    /// ```
    pub const fn new() -> Self {
        ae_layer_description {
            size: size_of::<Self>(),
            n_in: 0,
            n_out: 0,
            activation: 0,
            tied: 0,
            weights_layer: 0,
            weight_offset: 0,
            weight_count: 0,
            bias_offset: 0,
            bias_count: 0,
        }
    }
}

/// `ae_param_description`: everything a binding needs to offer a setting. Set
/// `size` to `size_of::<ae_param_description>()` before the call.
///
/// ```
/// use autoenc_sys::*;
/// let mut d = ae_param_description::new();
/// assert_eq!(unsafe { ae_param_describe(AE_PARAM_LEARNING_RATE, &mut d) }, AE_OK);
/// let name = unsafe { std::ffi::CStr::from_ptr(d.name) };
/// assert_eq!(name.to_str().unwrap(), "learning_rate");
/// assert_eq!((d.kind as u32, d.min_open, d.default_value), (AE_PARAM_KIND_REAL, 1, 1e-3));
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ae_param_description {
    /// Set by the caller: the struct's size.
    pub size: usize,
    /// As `ae_param_name`; static.
    pub name: *const c_char,
    /// The `ae_param_kind`.
    pub kind: i32,
    /// 1 if `min_value` itself is refused.
    pub min_open: i32,
    /// 1 if `max_value` itself is refused.
    pub max_open: i32,
    /// 0.
    pub reserved: i32,
    /// The value of a new model.
    pub default_value: f64,
    /// The smallest valid value (or the open end).
    pub min_value: f64,
    /// The largest valid value (or the open end).
    pub max_value: f64,
}

impl Default for ae_param_description {
    /// As [`ae_param_description::new`]: zeroed, with `size` set.
    fn default() -> Self {
        Self::new()
    }
}

impl ae_param_description {
    /// A zeroed description with `size` set, ready for [`ae_param_describe`].
    ///
    /// ```
    /// let d = autoenc_sys::ae_param_description::new();
    /// assert_eq!(d.size, std::mem::size_of::<autoenc_sys::ae_param_description>());
    /// ```
    pub const fn new() -> Self {
        ae_param_description {
            size: size_of::<Self>(),
            name: std::ptr::null(),
            kind: 0,
            min_open: 0,
            max_open: 0,
            reserved: 0,
            default_value: 0.0,
            min_value: 0.0,
            max_value: 0.0,
        }
    }
}

/// `ae_fit_report`: what a fit did. Set `size` to
/// `size_of::<ae_fit_report>()` before the call.
///
/// ```
/// use autoenc_sys::*;
/// let widths = [4usize, 2];
/// let x = [0.5f32; 4 * 10];
/// let mut model = std::ptr::null_mut();
/// unsafe { ae_model_create(&mut model, widths.as_ptr(), 2, std::ptr::null(), 0) };
/// let mut report = ae_fit_report::new();
/// assert_eq!(unsafe { ae_model_fit(model, x.as_ptr(), 10, 4, &mut report) }, AE_OK);
/// assert_eq!(report.epochs_run, 10);
/// unsafe { ae_model_free(model) };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ae_fit_report {
    /// Set by the caller: the struct's size.
    pub size: usize,
    /// Completed epochs.
    pub epochs_run: u64,
    /// Optimizer steps taken.
    pub steps_run: u64,
    /// 1-based epoch with the lowest monitored loss (0 if none completed).
    pub best_epoch: u64,
    /// The `ae_stop_reason`.
    pub stop_reason: i32,
    /// 1 if the best epoch's weights were restored at the end.
    pub restored_best: i32,
    /// Mean training loss of the last completed epoch (NaN if none).
    pub final_train_loss: f64,
    /// Validation loss after the last completed epoch (NaN without validation).
    pub final_val_loss: f64,
    /// Lowest monitored loss (NaN if none).
    pub best_loss: f64,
    /// Wall-clock time of the whole call.
    pub seconds: f64,
    /// Training rows processed per second.
    pub samples_per_second: f64,
    /// Variational: mean KL divergence per row of the last epoch (NaN otherwise).
    pub final_kl: f64,
    /// Variational: evidence lower bound per row of the last epoch (NaN otherwise).
    pub final_elbo: f64,
}

impl Default for ae_fit_report {
    /// As [`ae_fit_report::new`]: zeroed, with `size` set.
    fn default() -> Self {
        Self::new()
    }
}

impl ae_fit_report {
    /// A zeroed report with `size` set, ready for [`ae_model_fit`].
    ///
    /// ```
    /// let r = autoenc_sys::ae_fit_report::new();
    /// assert_eq!(r.size, std::mem::size_of::<autoenc_sys::ae_fit_report>());
    /// ```
    pub const fn new() -> Self {
        ae_fit_report {
            size: size_of::<Self>(),
            epochs_run: 0,
            steps_run: 0,
            best_epoch: 0,
            stop_reason: 0,
            restored_best: 0,
            final_train_loss: 0.0,
            final_val_loss: 0.0,
            best_loss: 0.0,
            seconds: 0.0,
            samples_per_second: 0.0,
            final_kl: 0.0,
            final_elbo: 0.0,
        }
    }
}

/// `ae_progress`: progress passed to the callback. Fields may be appended;
/// read `size` first.
///
/// ```
/// use autoenc_sys::*;
/// unsafe extern "C" fn count_epochs(p: *const ae_progress, user_data: *mut c_void) -> c_int {
///     if (*p).epoch_end != 0 {
///         *user_data.cast::<u64>() += 1;
///     }
///     0 // go on
/// }
/// let widths = [4usize, 2];
/// let x = [0.5f32; 4 * 10];
/// let mut epochs = 0u64;
/// let mut model = std::ptr::null_mut();
/// unsafe {
///     ae_model_create(&mut model, widths.as_ptr(), 2, std::ptr::null(), 0);
///     ae_model_set_progress(model, Some(count_epochs), (&mut epochs as *mut u64).cast());
///     ae_model_fit(model, x.as_ptr(), 10, 4, std::ptr::null_mut());
///     ae_model_free(model);
/// }
/// assert_eq!(epochs, 10);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ae_progress {
    /// The struct's size in the library that filled it.
    pub size: usize,
    /// 1-based current epoch.
    pub epoch: u64,
    /// Epochs requested.
    pub epochs: u64,
    /// 1-based batch within the epoch.
    pub batch: u64,
    /// Batches per epoch.
    pub batches: u64,
    /// 1 at the end of an epoch, 0 after a single batch.
    pub epoch_end: i32,
    /// The epoch's mean training loss, or this batch's loss.
    pub train_loss: f64,
    /// The validation loss at an epoch end with validation, else NaN.
    pub val_loss: f64,
    /// Time since the fit began.
    pub seconds: f64,
}

/// `ae_progress_fn`: the progress callback; return 0 to go on, non-zero to stop.
pub type ae_progress_fn = Option<unsafe extern "C" fn(progress: *const ae_progress, user_data: *mut c_void) -> c_int>;
/// `ae_data_source`: rows a caller streams to [`ae_model_fit_source`]. Set
/// `size` to `size_of::<ae_data_source>()`; every pass must give the same rows
/// in the same order.
///
/// ```
/// use autoenc_sys::*;
/// /// 100 rows of 0.5, counted down in `user_data`.
/// unsafe extern "C" fn read(left: *mut c_void, rows: *mut f32, n_cols: usize, max: usize, n: *mut usize) -> c_int {
///     let left = &mut *left.cast::<usize>();
///     *n = (*left).min(max);
///     std::slice::from_raw_parts_mut(rows, *n * n_cols).fill(0.5);
///     *left -= *n;
///     0
/// }
/// unsafe extern "C" fn rewind(left: *mut c_void) -> c_int {
///     *left.cast::<usize>() = 100;
///     0
/// }
/// let mut left = 100usize;
/// let source = ae_data_source {
///     size: std::mem::size_of::<ae_data_source>(),
///     user_data: (&mut left as *mut usize).cast(),
///     read: Some(read),
///     rewind: Some(rewind),
/// };
/// let widths = [4usize, 2];
/// let mut model = std::ptr::null_mut();
/// unsafe {
///     ae_model_create(&mut model, widths.as_ptr(), 2, std::ptr::null(), 0);
///     assert_eq!(ae_model_fit_source(model, &source, std::ptr::null(), std::ptr::null_mut()), AE_OK);
///     ae_model_free(model);
/// }
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ae_data_source {
    /// Set by the caller: the struct's size.
    pub size: usize,
    /// Passed to the hooks untouched.
    pub user_data: *mut c_void,
    /// Write up to `max_rows` next rows of `n_cols` floats to `rows`, their number to
    /// `n_read` (0: the pass is over); non-zero stops the fit with `AE_ERR_IO`.
    pub read: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            rows: *mut f32,
            n_cols: usize,
            max_rows: usize,
            n_read: *mut usize,
        ) -> c_int,
    >,
    /// Start a new pass at the first row; non-zero stops the fit with `AE_ERR_IO`.
    pub rewind: Option<unsafe extern "C" fn(user_data: *mut c_void) -> c_int>,
}

/// `ae_train_hooks`: an outside engine's part in distributed training (see
/// the header's "Distributed training" group). Set `size` to
/// `size_of::<ae_train_hooks>()`; each hook returns 0, or non-zero when the
/// engine failed.
///
/// ```
/// use autoenc_sys::*;
/// // One participant: nothing to combine, so every hook only succeeds.
/// unsafe extern "C" fn reduce(_: *mut f64, _: usize, _: c_int, _: *mut c_void) -> c_int { 0 }
/// unsafe extern "C" fn ready(_: *mut f32, _: usize, _: usize, _: *mut c_void) -> c_int { 0 }
/// unsafe extern "C" fn wait(_: *mut f32, _: usize, _: *mut c_void) -> c_int { 0 }
/// let hooks = ae_train_hooks {
///     size: std::mem::size_of::<ae_train_hooks>(),
///     participant: 0,
///     participants: 1,
///     user_data: std::ptr::null_mut(),
///     reduce: Some(reduce),
///     gradient_ready: Some(ready),
///     gradient_wait: Some(wait),
/// };
/// let widths = [4usize, 2];
/// let x = [0.5f32; 4 * 10];
/// let mut model = std::ptr::null_mut();
/// unsafe {
///     ae_model_create(&mut model, widths.as_ptr(), 2, std::ptr::null(), 0);
///     assert_eq!(ae_model_set_train_hooks(model, &hooks), AE_OK);
///     assert_eq!(ae_model_fit(model, x.as_ptr(), 10, 4, std::ptr::null_mut()), AE_OK);
///     ae_model_free(model);
/// }
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ae_train_hooks {
    /// Set by the caller: the struct's size.
    pub size: usize,
    /// This participant's index, `0 .. participants - 1`.
    pub participant: u32,
    /// How many take part, at least 1.
    pub participants: u32,
    /// Passed to every hook untouched.
    pub user_data: *mut c_void,
    /// Combine `count` doubles across participants with `op` (an `ae_reduce_op`), in place.
    pub reduce:
        Option<unsafe extern "C" fn(values: *mut f64, count: usize, op: c_int, user_data: *mut c_void) -> c_int>,
    /// The span `gradients[offset .. offset + count)` is final for this step: start summing it.
    pub gradient_ready:
        Option<unsafe extern "C" fn(gradients: *mut f32, offset: usize, count: usize, user_data: *mut c_void) -> c_int>,
    /// Return once every span handed to `gradient_ready` holds the sum across participants.
    pub gradient_wait: Option<unsafe extern "C" fn(gradients: *mut f32, count: usize, user_data: *mut c_void) -> c_int>,
}

/// `ae_alloc_fn`: allocate `size` bytes aligned for any type, or return NULL.
pub type ae_alloc_fn = Option<unsafe extern "C" fn(size: usize, user_data: *mut c_void) -> *mut c_void>;
/// `ae_free_fn`: free memory from the matching allocation function.
pub type ae_free_fn = Option<unsafe extern "C" fn(ptr: *mut c_void, user_data: *mut c_void)>;

// ---------------------------------------------------------------- functions

extern "C" {
    // Versions and limits
    /// The library's version number (`major * 10000 + minor * 100 + patch`).
    pub fn ae_version_number() -> c_uint;
    /// The library's version as a static string; never NULL.
    pub fn ae_version_string() -> *const c_char;
    /// `AE_MAX_LAYERS`.
    pub fn ae_max_layers() -> usize;
    /// `AE_MAX_LAYER_WIDTH`.
    pub fn ae_max_layer_width() -> usize;

    // Errors
    /// A static English description of a status; never NULL.
    pub fn ae_status_str(status: c_int) -> *const c_char;
    /// The last failure's message in the calling thread; never NULL.
    pub fn ae_last_error() -> *const c_char;

    // Models
    /// Create a model with freshly initialised weights.
    pub fn ae_model_create(
        out: *mut *mut ae_model,
        encoder_widths: *const usize,
        n_encoder_widths: usize,
        decoder_widths: *const usize,
        n_decoder_widths: usize,
    ) -> c_int;
    /// Create a model of an architecture variant.
    pub fn ae_model_create_ex(
        out: *mut *mut ae_model,
        encoder_widths: *const usize,
        n_encoder_widths: usize,
        decoder_widths: *const usize,
        n_decoder_widths: usize,
        flags: c_uint,
    ) -> c_int;
    /// The model's architecture flags.
    pub fn ae_model_architecture(model: *const ae_model) -> c_uint;
    /// Free a model; NULL is a no-op.
    pub fn ae_model_free(model: *mut ae_model);
    /// Make an independent deep copy.
    pub fn ae_model_clone(model: *const ae_model, out: *mut *mut ae_model) -> c_int;
    /// Redraw all weights and reset the optimizer state.
    pub fn ae_model_reset(model: *mut ae_model) -> c_int;
    /// The last failed non-const call's message on the model; never NULL.
    pub fn ae_model_last_error(model: *const ae_model) -> *const c_char;
    /// Input (and output) features.
    pub fn ae_model_input_dim(model: *const ae_model) -> usize;
    /// Width of the latent code.
    pub fn ae_model_latent_dim(model: *const ae_model) -> usize;
    /// Dense layers, encoder and decoder.
    pub fn ae_model_layer_count(model: *const ae_model) -> usize;
    /// Encoder layers.
    pub fn ae_model_encoder_layer_count(model: *const ae_model) -> usize;
    /// Trainable scalars.
    pub fn ae_model_param_count(model: *const ae_model) -> usize;
    /// A layer's widths and activation.
    pub fn ae_model_layer_info(
        model: *const ae_model,
        layer: usize,
        n_out: *mut usize,
        n_in: *mut usize,
        activation: *mut c_int,
    ) -> c_int;
    /// Describe a layer, its place in the flat parameter vector included.
    pub fn ae_model_describe_layer(
        model: *const ae_model,
        layer: usize,
        description: *mut ae_layer_description,
    ) -> c_int;

    // Settings
    /// Set one setting.
    pub fn ae_model_set_param(model: *mut ae_model, param: ae_param, value: f64) -> c_int;
    /// Read one setting.
    pub fn ae_model_get_param(model: *const ae_model, param: ae_param, value: *mut f64) -> c_int;
    /// A setting's valid closed range and whether it takes integers only.
    pub fn ae_param_bounds(param: ae_param, min_value: *mut f64, max_value: *mut f64, integral: *mut c_int) -> c_int;
    /// A setting's name, or NULL if unknown.
    pub fn ae_param_name(param: ae_param) -> *const c_char;
    /// Describe a setting: name, kind, default, range with its open ends.
    pub fn ae_param_describe(param: ae_param, description: *mut ae_param_description) -> c_int;
    /// The number of settings the library knows.
    pub fn ae_param_count() -> usize;
    /// The setting at an index, in increasing id order (0 out of range).
    pub fn ae_param_at(index: usize) -> ae_param;
    /// The name of a value of an enum setting, or NULL.
    pub fn ae_param_value_name(param: ae_param, value: f64) -> *const c_char;
    /// An activation's name, or NULL if unknown.
    pub fn ae_activation_name(activation: ae_activation) -> *const c_char;

    // Training
    /// Install (or with NULL remove) the progress callback.
    pub fn ae_model_set_progress(model: *mut ae_model, callback: ae_progress_fn, user_data: *mut c_void) -> c_int;
    /// Train for `AE_PARAM_EPOCHS` epochs.
    pub fn ae_model_fit(
        model: *mut ae_model,
        x: *const f32,
        n_rows: usize,
        ld_x: usize,
        report: *mut ae_fit_report,
    ) -> c_int;
    /// Train with an explicit validation set.
    pub fn ae_model_fit_validated(
        model: *mut ae_model,
        x: *const f32,
        n_rows: usize,
        ld_x: usize,
        x_val: *const f32,
        n_val_rows: usize,
        ld_val: usize,
        report: *mut ae_fit_report,
    ) -> c_int;
    /// Train on rows streamed from data sources, a chunk at a time.
    pub fn ae_model_fit_source(
        model: *mut ae_model,
        train: *const ae_data_source,
        validation: *const ae_data_source,
        report: *mut ae_fit_report,
    ) -> c_int;
    /// One optimizer step on a batch.
    pub fn ae_model_train_batch(
        model: *mut ae_model,
        x: *const f32,
        n_rows: usize,
        ld_x: usize,
        loss: *mut f64,
    ) -> c_int;
    /// Loss and gradient on a batch without changing the weights.
    pub fn ae_model_gradient(
        model: *mut ae_model,
        x: *const f32,
        n_rows: usize,
        ld_x: usize,
        gradient: *mut f32,
        n_gradient: usize,
        loss: *mut f64,
    ) -> c_int;

    /// Install (or with NULL remove) distributed-training hooks.
    pub fn ae_model_set_train_hooks(model: *mut ae_model, hooks: *const ae_train_hooks) -> c_int;

    // Inference
    /// Latent codes of rows.
    pub fn ae_model_encode(
        model: *const ae_model,
        x: *const f32,
        n_rows: usize,
        ld_x: usize,
        z: *mut f32,
        ld_z: usize,
    ) -> c_int;
    /// Outputs from latent codes.
    pub fn ae_model_decode(
        model: *const ae_model,
        z: *const f32,
        n_rows: usize,
        ld_z: usize,
        y: *mut f32,
        ld_y: usize,
    ) -> c_int;
    /// Reconstructions of rows.
    pub fn ae_model_reconstruct(
        model: *const ae_model,
        x: *const f32,
        n_rows: usize,
        ld_x: usize,
        y: *mut f32,
        ld_y: usize,
    ) -> c_int;
    /// Per-row reconstruction error.
    pub fn ae_model_score(model: *const ae_model, x: *const f32, n_rows: usize, ld_x: usize, scores: *mut f32)
        -> c_int;
    /// Mean loss over all rows.
    pub fn ae_model_loss(model: *const ae_model, x: *const f32, n_rows: usize, ld_x: usize, loss: *mut f64) -> c_int;
    /// Mean and log-variance of a variational model's codes.
    pub fn ae_model_encode_distribution(
        model: *const ae_model,
        x: *const f32,
        n_rows: usize,
        ld_x: usize,
        mean: *mut f32,
        ld_mean: usize,
        log_variance: *mut f32,
        ld_log_variance: usize,
    ) -> c_int;
    /// Rows generated from a variational model's prior.
    pub fn ae_model_sample(model: *const ae_model, seed: u64, n_rows: usize, y: *mut f32, ld_y: usize) -> c_int;
    /// Decoded rows along the line between two rows' codes.
    pub fn ae_model_interpolate(
        model: *const ae_model,
        x_a: *const f32,
        x_b: *const f32,
        n_steps: usize,
        y: *mut f32,
        ld_y: usize,
    ) -> c_int;

    // Anomaly detection
    /// Per-feature reconstruction error.
    pub fn ae_model_feature_errors(
        model: *const ae_model,
        x: *const f32,
        n_rows: usize,
        ld_x: usize,
        errors: *mut f32,
        ld_errors: usize,
    ) -> c_int;
    /// Set the threshold from data.
    pub fn ae_model_fit_threshold(
        model: *mut ae_model,
        x: *const f32,
        n_rows: usize,
        ld_x: usize,
        contamination: f64,
        threshold: *mut f64,
    ) -> c_int;
    /// Set the threshold explicitly.
    pub fn ae_model_set_threshold(model: *mut ae_model, threshold: f64) -> c_int;
    /// Read the threshold.
    pub fn ae_model_get_threshold(model: *const ae_model, threshold: *mut f64) -> c_int;
    /// Label rows scoring above the threshold.
    pub fn ae_model_detect(
        model: *const ae_model,
        x: *const f32,
        n_rows: usize,
        ld_x: usize,
        is_anomaly: *mut u8,
        scores: *mut f32,
    ) -> c_int;

    // Scaling
    /// Fit the scaling to rows now.
    pub fn ae_model_fit_scaling(model: *mut ae_model, x: *const f32, n_rows: usize, ld_x: usize) -> c_int;
    /// Copy the fitted offsets and scales.
    pub fn ae_model_get_scaling(model: *const ae_model, offset: *mut f32, scale: *mut f32, n: usize) -> c_int;
    /// Set the offsets and scales explicitly.
    pub fn ae_model_set_scaling(model: *mut ae_model, offset: *const f32, scale: *const f32, n: usize) -> c_int;

    // Pre-training and transfer
    /// Greedy layer-wise pre-training.
    pub fn ae_model_pretrain(
        model: *mut ae_model,
        x: *const f32,
        n_rows: usize,
        ld_x: usize,
        reports: *mut ae_fit_report,
        n_reports: usize,
    ) -> c_int;
    /// A new model of the encoder alone.
    pub fn ae_model_export_encoder(model: *const ae_model, out: *mut *mut ae_model) -> c_int;
    /// Copy whole layers between models of matching shapes.
    pub fn ae_model_copy_layers(
        dst: *mut ae_model,
        dst_layer: usize,
        src: *const ae_model,
        src_layer: usize,
        n_layers: usize,
    ) -> c_int;

    // Files
    /// Save to a file atomically.
    pub fn ae_model_save(model: *const ae_model, path: *const c_char, flags: c_uint) -> c_int;
    /// Load a model saved by `ae_model_save`.
    pub fn ae_model_load(out: *mut *mut ae_model, path: *const c_char) -> c_int;
    /// The exact number of bytes `ae_model_save_to_memory` writes.
    pub fn ae_model_save_size(model: *const ae_model, flags: c_uint, size: *mut usize) -> c_int;
    /// Save into a caller's buffer.
    pub fn ae_model_save_to_memory(
        model: *const ae_model,
        flags: c_uint,
        buffer: *mut c_void,
        capacity: usize,
        written: *mut usize,
    ) -> c_int;
    /// Load a model from bytes.
    pub fn ae_model_load_from_memory(out: *mut *mut ae_model, data: *const c_void, size: usize) -> c_int;

    // Allocation
    /// Route the library's allocations (process-wide; only while no other thread is inside the
    /// library; the functions and user data must outlive every block they give).
    pub fn ae_set_allocator(alloc_fn: ae_alloc_fn, free_fn: ae_free_fn, user_data: *mut c_void) -> c_int;

    // Weights
    /// Copy a layer's weights.
    pub fn ae_model_get_weights(model: *const ae_model, layer: usize, w: *mut f32, n_w: usize) -> c_int;
    /// Replace a layer's weights.
    pub fn ae_model_set_weights(model: *mut ae_model, layer: usize, w: *const f32, n_w: usize) -> c_int;
    /// Copy a layer's bias.
    pub fn ae_model_get_bias(model: *const ae_model, layer: usize, b: *mut f32, n_b: usize) -> c_int;
    /// Replace a layer's bias.
    pub fn ae_model_set_bias(model: *mut ae_model, layer: usize, b: *const f32, n_b: usize) -> c_int;
    /// Copy all parameters (flat layout).
    pub fn ae_model_get_params(model: *const ae_model, params: *mut f32, n: usize) -> c_int;
    /// Replace all parameters (flat layout).
    pub fn ae_model_set_params(model: *mut ae_model, params: *const f32, n: usize) -> c_int;
    /// Read the optimizer state.
    pub fn ae_model_get_optimizer_state(
        model: *const ae_model,
        step: *mut u64,
        first_moment: *mut f32,
        second_moment: *mut f32,
        n: usize,
    ) -> c_int;
    /// Set the optimizer state.
    pub fn ae_model_set_optimizer_state(
        model: *mut ae_model,
        step: u64,
        first_moment: *const f32,
        second_moment: *const f32,
        n: usize,
    ) -> c_int;
}
