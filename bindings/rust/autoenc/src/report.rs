//! What calls report back: fit reports, progress, layer descriptions,
//! optimizer state and the other small result types.
use crate::settings::Activation;
use autoenc_sys as sys;
use std::mem::size_of;

fn finite(value: f64) -> Option<f64> {
    if value.is_nan() {
        None
    } else {
        Some(value)
    }
}

/// Why a fit ended (`ae_stop_reason`).
///
/// ```
/// use autoenc::{Model, StopReason};
/// let mut model = Model::builder(&[4, 2]).epochs(1).build()?;
/// let report = model.fit(&[0.5; 16], 4)?;
/// assert_eq!(report.stop_reason, StopReason::Completed);
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// Every epoch ran.
    Completed,
    /// Early stopping: no improvement for `Param::Patience` epochs.
    Early,
    /// The progress closure asked to stop.
    Cancelled,
    /// A non-finite loss or gradient; the last finite weights were restored.
    Diverged,
    /// The fit stopped on another error (the returned error says which: a data source, a
    /// validation loss that overflowed, memory, or in a distributed fit another participant
    /// or the engine); the weights are as after the last step.
    Failed,
    /// A reason this crate does not know (from a newer library).
    Unknown(i32),
}

impl StopReason {
    fn from_raw(raw: i32) -> StopReason {
        match u32::try_from(raw) {
            Ok(sys::AE_STOP_COMPLETED) => StopReason::Completed,
            Ok(sys::AE_STOP_EARLY) => StopReason::Early,
            Ok(sys::AE_STOP_CANCELLED) => StopReason::Cancelled,
            Ok(sys::AE_STOP_DIVERGED) => StopReason::Diverged,
            Ok(sys::AE_STOP_FAILED) => StopReason::Failed,
            _ => StopReason::Unknown(raw),
        }
    }
}

/// What a fit did (`ae_fit_report`). Losses the fit did not compute are `None`.
///
/// ```
/// use autoenc::Model;
/// let mut model = Model::builder(&[4, 2]).epochs(3).build()?;
/// let report = model.fit(&[0.25; 40], 4)?;
/// assert_eq!(report.epochs_run, 3);
/// assert!(report.final_train_loss.is_some());
/// assert_eq!(report.final_val_loss, None); // no validation
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct FitReport {
    /// Completed epochs.
    pub epochs_run: u64,
    /// Optimizer steps taken.
    pub steps_run: u64,
    /// The 1-based epoch with the lowest monitored loss, if one completed.
    pub best_epoch: Option<u64>,
    /// Why the fit ended.
    pub stop_reason: StopReason,
    /// Whether the best epoch's weights were restored at the end.
    pub restored_best: bool,
    /// Mean training loss of the last completed epoch.
    pub final_train_loss: Option<f64>,
    /// Validation loss after the last completed epoch (with validation only).
    pub final_val_loss: Option<f64>,
    /// Lowest monitored loss: validation if any, else training.
    pub best_loss: Option<f64>,
    /// Wall-clock time of the whole call, in seconds.
    pub seconds: f64,
    /// Training rows processed per second, validation excluded.
    pub samples_per_second: f64,
    /// Variational models: mean KL divergence per row over the last epoch.
    pub final_kl: Option<f64>,
    /// Variational models: evidence lower bound per row over the last epoch.
    pub final_elbo: Option<f64>,
}

impl FitReport {
    pub(crate) fn from_raw(raw: &sys::ae_fit_report) -> FitReport {
        FitReport {
            epochs_run: raw.epochs_run,
            steps_run: raw.steps_run,
            best_epoch: if raw.best_epoch == 0 {
                None
            } else {
                Some(raw.best_epoch)
            },
            stop_reason: StopReason::from_raw(raw.stop_reason),
            restored_best: raw.restored_best != 0,
            final_train_loss: finite(raw.final_train_loss),
            final_val_loss: finite(raw.final_val_loss),
            best_loss: finite(raw.best_loss),
            seconds: raw.seconds,
            samples_per_second: raw.samples_per_second,
            final_kl: finite(raw.final_kl),
            final_elbo: finite(raw.final_elbo),
        }
    }
}

/// Progress passed to the closure of
/// [`Model::fit_with_progress`](crate::Model::fit_with_progress) (`ae_progress`).
///
/// ```
/// use autoenc::{MatrixRef, Model};
/// use std::ops::ControlFlow;
/// let mut model = Model::builder(&[4, 2]).epochs(2).build()?;
/// let mut epochs = Vec::new();
/// model.fit_with_progress(MatrixRef::new(&[0.5; 32], 4)?, |p| {
///     if p.epoch_end {
///         epochs.push((p.epoch, p.train_loss));
///     }
///     ControlFlow::Continue(())
/// })?;
/// assert_eq!(epochs.len(), 2);
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// The 1-based current epoch.
    pub epoch: u64,
    /// Epochs requested.
    pub epochs: u64,
    /// The 1-based batch within the epoch (equal to `batches` at the epoch's end).
    pub batch: u64,
    /// Batches per epoch.
    pub batches: u64,
    /// Whether this call ends an epoch (else it follows a single batch).
    pub epoch_end: bool,
    /// At an epoch's end the epoch's mean training loss, else this batch's loss.
    pub train_loss: f64,
    /// At an epoch's end with validation, the validation loss.
    pub val_loss: Option<f64>,
    /// Seconds since the fit began.
    pub seconds: f64,
}

impl Progress {
    /// Reads the library's struct, whose `size` says how many of its bytes
    /// the library filled (an older library fills fewer).
    ///
    /// # Safety
    /// `raw` points to an `ae_progress` of at least `raw.size` bytes.
    pub(crate) unsafe fn from_raw(raw: *const sys::ae_progress) -> Progress {
        let mut copy = sys::ae_progress {
            val_loss: f64::NAN,
            ..Default::default()
        };
        let filled = (*raw).size.min(size_of::<sys::ae_progress>());
        std::ptr::copy_nonoverlapping(
            raw.cast::<u8>(),
            (&mut copy as *mut sys::ae_progress).cast::<u8>(),
            filled,
        );
        Progress {
            epoch: copy.epoch,
            epochs: copy.epochs,
            batch: copy.batch,
            batches: copy.batches,
            epoch_end: copy.epoch_end != 0,
            train_loss: copy.train_loss,
            val_loss: finite(copy.val_loss),
            seconds: copy.seconds,
        }
    }
}

/// Everything that describes one layer (`ae_layer_description`), where its
/// parameters lie in the flat vector of [`Model::params`](crate::Model::params) included.
///
/// ```
/// use autoenc::{Activation, Model};
/// let model = Model::new(&[6, 3])?; // layers 6 -> 3 -> 6
/// let out = model.describe_layer(1)?;
/// assert_eq!((out.n_in, out.n_out), (3, 6));
/// assert_eq!(out.activation, Some(Activation::Linear));
/// assert_eq!(out.weight_offset, 18); // after layer 0's 3 x 6 weights
/// assert_eq!(out.bias_offset, 18 + 18 + 3);
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayerDescription {
    /// Input width.
    pub n_in: usize,
    /// Output width (for a variational latent layer, twice the code).
    pub n_out: usize,
    /// The activation (`None` for one newer than this crate).
    pub activation: Option<Activation>,
    /// With tied weights, the mirror encoder layer whose transposed weights this layer uses.
    pub tied_to: Option<usize>,
    /// Where the weights it uses start in the flat vector.
    pub weight_offset: usize,
    /// Weights the layer owns in the flat vector (0 when tied).
    pub weight_count: usize,
    /// Where its bias starts in the flat vector.
    pub bias_offset: usize,
    /// Its bias length, `n_out`.
    pub bias_count: usize,
}

impl LayerDescription {
    pub(crate) fn from_raw(raw: &sys::ae_layer_description) -> LayerDescription {
        // The values are sizes of a model in memory, so they fit usize.
        let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        LayerDescription {
            n_in: size(raw.n_in),
            n_out: size(raw.n_out),
            activation: u32::try_from(raw.activation).ok().and_then(Activation::from_raw),
            tied_to: if raw.tied != 0 {
                Some(size(raw.weights_layer))
            } else {
                None
            },
            weight_offset: size(raw.weight_offset),
            weight_count: size(raw.weight_count),
            bias_offset: size(raw.bias_offset),
            bias_count: size(raw.bias_count),
        }
    }
}

/// The optimizer's state in the flat parameter layout, as torch names it:
/// Adam's `exp_avg`, `exp_avg_sq` and `step`, or SGD's `momentum_buffer`
/// (as `first_moment`, with `step` 0).
///
/// ```
/// use autoenc::{Model, OptimizerState};
/// let mut model = Model::new(&[4, 2])?;
/// let n = model.param_count();
/// let state = OptimizerState { step: 10, first_moment: Some(vec![0.0; n]), second_moment: Some(vec![1e-4; n]) };
/// model.set_optimizer_state(&state)?; // Adam, the default
/// assert_eq!(model.optimizer_state()?, state);
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OptimizerState {
    /// The step counter (Adam; 0 for SGD).
    pub step: u64,
    /// Adam's first moment or SGD's momentum buffer.
    pub first_moment: Option<Vec<f32>>,
    /// Adam's second moment.
    pub second_moment: Option<Vec<f32>>,
}

/// The Gaussian codes of a variational model's rows, from
/// [`Model::encode_distribution`](crate::Model::encode_distribution):
/// `n_rows x latent_dim` means and log-variances.
///
/// ```
/// use autoenc::{Architecture, MatrixRef, Model};
/// let model = Model::builder(&[4, 2]).architecture(Architecture::VARIATIONAL).build()?;
/// let d = model.encode_distribution(MatrixRef::new(&[0.5; 8], 4)?)?;
/// assert_eq!((d.mean.len(), d.log_variance.len()), (4, 4));
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Distribution {
    /// The means, row-major.
    pub mean: Vec<f32>,
    /// The log-variances, row-major.
    pub log_variance: Vec<f32>,
}

/// Labels and scores from [`Model::detect`](crate::Model::detect).
///
/// ```
/// use autoenc::{MatrixRef, Model};
/// let mut model = Model::new(&[4, 2])?;
/// model.set_threshold(0.5)?;
/// let d = model.detect(MatrixRef::new(&[0.1; 8], 4)?)?;
/// assert_eq!(d.anomalous.len(), 2);
/// assert_eq!(d.anomalous[0], d.scores[0] > 0.5);
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detection {
    /// Whether each row scores above the threshold.
    pub anomalous: Vec<bool>,
    /// Each row's score.
    pub scores: Vec<f32>,
}

/// A fitted per-feature scaling: the network sees `(x - offset) / scale`.
///
/// ```
/// use autoenc::{MatrixRef, Model, Scaling};
/// let mut model = Model::builder(&[2, 1]).scaling(Scaling::MinMax).build()?;
/// model.fit_scaling(MatrixRef::new(&[0.0, 10.0, 4.0, 30.0], 2)?)?;
/// let s = model.scaling_params().unwrap();
/// assert_eq!((s.offset, s.scale), (vec![0.0, 10.0], vec![4.0, 20.0]));
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScalingParams {
    /// Each feature's offset.
    pub offset: Vec<f32>,
    /// Each feature's scale.
    pub scale: Vec<f32>,
}

/// A library version.
///
/// ```
/// let v = autoenc::version();
/// assert_eq!(v.major, autoenc::HEADER_VERSION.major);
/// assert!(v >= autoenc::HEADER_VERSION);
/// println!("libautoenc {v}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Incremented on an incompatible ABI change.
    pub major: u32,
    /// Incremented when functions or enum values are added.
    pub minor: u32,
    /// Incremented for fixes.
    pub patch: u32,
}

impl Version {
    pub(crate) const fn from_number(number: u32) -> Version {
        Version {
            major: number / 10000,
            minor: number / 100 % 100,
            patch: number % 100,
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}
