//! Deep stacked autoencoders in Rust: a safe API over libautoenc's C ABI.
//!
//! A [`Model`] owns a C model handle. Inference takes `&self` and may run on
//! one model from many threads at once; training and settings take
//! `&mut self` (see [`Model`] for how the types encode the C threading
//! contract). Every call returns a [`Result`] whose [`Error`] carries the C
//! [`Status`] and the library's message.
//!
//! ```
//! use autoenc::{Activation, Loss, Model, Optimizer};
//!
//! // 64 rows of 16 values in [0, 1]
//! let x: Vec<f32> = (0..64 * 16).map(|i| ((i * 37) % 100) as f32 / 100.0).collect();
//!
//! let mut model = Model::builder(&[16, 8, 4])  // 16-8-4-8-16
//!     .hidden(Activation::Relu)
//!     .output(Activation::Sigmoid)
//!     .loss(Loss::Bce)
//!     .optimizer(Optimizer::adam(1e-2))
//!     .epochs(5)
//!     .build()?;
//! let report = model.fit(&x, 16)?;
//! println!("{} epochs, {:.0} samples/s", report.epochs_run, report.samples_per_second);
//!
//! let codes = model.encode(&x, 16)?;          // 64 x 4
//! let restored = model.decode(&codes, 4)?;    // 64 x 16
//! let scores = model.score(&x, 16)?;          // 64 per-row errors
//! assert_eq!((codes.len(), restored.len(), scores.len()), (64 * 4, 64 * 16, 64));
//! # Ok::<(), autoenc::Error>(())
//! ```
//!
//! The crate links libautoenc dynamically through `autoenc-sys`, whose build
//! script finds it with `pkg-config autoenc` or in `AUTOENC_LIB_DIR` (a build
//! tree's `src/` folder). The raw declarations are re-exported as [`sys`].
#![warn(missing_docs)]

mod builder;
mod error;
mod matrix;
mod model;
mod report;
mod settings;
mod source;

pub use autoenc_sys as sys;
pub use builder::Builder;
pub use error::{Error, Result, Status};
pub use matrix::{MatrixMut, MatrixRef};
pub use model::Model;
pub use report::{
    Detection, Distribution, FitReport, LayerDescription, OptimizerState, Progress, ScalingParams, StopReason, Version,
};
pub use settings::{
    Activation, Architecture, Loss, Noise, Optimizer, Param, ParamBounds, ParamDescription, ParamKind, SaveFlags,
    Scaling,
};
pub use source::DataSource;

/// The version of the header this crate was written against.
///
/// ```
/// assert_eq!(autoenc::HEADER_VERSION.to_string(), "0.3.0");
/// ```
pub const HEADER_VERSION: Version = Version::from_number(sys::AE_VERSION_NUMBER);

/// The version of the library actually loaded (`ae_version_number`). It has
/// the header's major version, and at least its minor one.
///
/// ```
/// let v = autoenc::version();
/// assert_eq!(v.to_string(), autoenc::version_string());
/// ```
pub fn version() -> Version {
    // SAFETY: no arguments, thread-safe.
    Version::from_number(unsafe { sys::ae_version_number() })
}

/// The loaded library's version as text, e.g. "0.3.0" (`ae_version_string`).
///
/// ```
/// assert!(autoenc::version_string().starts_with("0."));
/// ```
pub fn version_string() -> &'static str {
    // SAFETY: a static string, never NULL.
    unsafe { error::static_str(sys::ae_version_string()) }
}

/// The most dense layers a model may have, encoder and decoder together.
///
/// ```
/// assert_eq!(autoenc::max_layers(), 4096);
/// ```
pub fn max_layers() -> usize {
    // SAFETY: no arguments, thread-safe.
    unsafe { sys::ae_max_layers() }
}

/// The widest a layer's input or output may be (2^24).
///
/// ```
/// assert_eq!(autoenc::max_layer_width(), 1 << 24);
/// ```
pub fn max_layer_width() -> usize {
    // SAFETY: no arguments, thread-safe.
    unsafe { sys::ae_max_layer_width() }
}
