//! Status codes and the error type.
use crate::report::FitReport;
use autoenc_sys as sys;
use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_char;

/// A status code of the C library: every `ae_status` of `autoenc.h`, and
/// [`Status::Unknown`] for a code a newer library may add.
///
/// The values are pinned forever by the library; [`Status::code`] gives the
/// C value back.
///
/// ```
/// use autoenc::Status;
/// assert_eq!(Status::from_code(-6), Status::State);
/// assert_eq!(Status::State.code(), -6);
/// assert_eq!(Status::from_code(-999), Status::Unknown(-999));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// `AE_OK`: success. An [`Error`] never carries it.
    Ok,
    /// `AE_ERR_INVALID_ARGUMENT`: a value out of range, a wrong length or shape.
    InvalidArgument,
    /// `AE_ERR_OUT_OF_MEMORY`: an allocation failed; nothing was changed.
    /// Also the error of a method that returns a new `Vec` (or `to_bytes`'
    /// bytes) the allocator cannot provide.
    OutOfMemory,
    /// `AE_ERR_SIZE_OVERFLOW`: a size product would overflow `usize`. Also
    /// the error of a method whose new `Vec` would exceed `isize::MAX` bytes.
    SizeOverflow,
    /// `AE_ERR_NON_FINITE_INPUT`: the input holds NaN or infinity.
    NonFiniteInput,
    /// `AE_ERR_INPUT_RANGE`: the input lies outside the range the loss needs.
    InputRange,
    /// `AE_ERR_STATE`: the call does not fit the model's configuration or state.
    State,
    /// `AE_ERR_CANCELLED`: the progress closure asked to stop; the model is usable.
    Cancelled,
    /// `AE_ERR_DIVERGED`: the loss or gradient became non-finite.
    Diverged,
    /// `AE_ERR_IO`: a file could not be opened, read, written or renamed.
    Io,
    /// `AE_ERR_FORMAT`: model data is malformed or truncated.
    Format,
    /// `AE_ERR_CHECKSUM`: model data does not match its checksum.
    Checksum,
    /// `AE_ERR_VERSION`: model data needs a newer library.
    Version,
    /// `AE_ERR_BUFFER_TOO_SMALL`: the caller's buffer is too small.
    BufferTooSmall,
    /// `AE_ERR_NON_FINITE_RESULT`: the float arithmetic overflowed on a row.
    NonFiniteResult,
    /// `AE_ERR_BUSY`: the model is in use by another call. Safe Rust cannot
    /// cause it: the borrow rules already keep changes and other calls apart.
    Busy,
    /// `AE_ERR_PEER`: a distributed training call stopped because another
    /// participant, or the engine joining them, failed.
    Peer,
    /// A code this crate does not know (from a newer library).
    Unknown(i32),
}

impl Status {
    /// The status for a C status code.
    ///
    /// ```
    /// use autoenc::Status;
    /// assert_eq!(Status::from_code(0), Status::Ok);
    /// assert_eq!(Status::from_code(-15), Status::Busy);
    /// ```
    pub fn from_code(code: i32) -> Status {
        match code {
            sys::AE_OK => Status::Ok,
            sys::AE_ERR_INVALID_ARGUMENT => Status::InvalidArgument,
            sys::AE_ERR_OUT_OF_MEMORY => Status::OutOfMemory,
            sys::AE_ERR_SIZE_OVERFLOW => Status::SizeOverflow,
            sys::AE_ERR_NON_FINITE_INPUT => Status::NonFiniteInput,
            sys::AE_ERR_INPUT_RANGE => Status::InputRange,
            sys::AE_ERR_STATE => Status::State,
            sys::AE_ERR_CANCELLED => Status::Cancelled,
            sys::AE_ERR_DIVERGED => Status::Diverged,
            sys::AE_ERR_IO => Status::Io,
            sys::AE_ERR_FORMAT => Status::Format,
            sys::AE_ERR_CHECKSUM => Status::Checksum,
            sys::AE_ERR_VERSION => Status::Version,
            sys::AE_ERR_BUFFER_TOO_SMALL => Status::BufferTooSmall,
            sys::AE_ERR_NON_FINITE_RESULT => Status::NonFiniteResult,
            sys::AE_ERR_BUSY => Status::Busy,
            sys::AE_ERR_PEER => Status::Peer,
            other => Status::Unknown(other),
        }
    }

    /// The C status code.
    ///
    /// ```
    /// use autoenc::Status;
    /// assert_eq!(Status::InvalidArgument.code(), -1);
    /// assert_eq!(Status::Unknown(-42).code(), -42);
    /// ```
    pub fn code(self) -> i32 {
        match self {
            Status::Ok => sys::AE_OK,
            Status::InvalidArgument => sys::AE_ERR_INVALID_ARGUMENT,
            Status::OutOfMemory => sys::AE_ERR_OUT_OF_MEMORY,
            Status::SizeOverflow => sys::AE_ERR_SIZE_OVERFLOW,
            Status::NonFiniteInput => sys::AE_ERR_NON_FINITE_INPUT,
            Status::InputRange => sys::AE_ERR_INPUT_RANGE,
            Status::State => sys::AE_ERR_STATE,
            Status::Cancelled => sys::AE_ERR_CANCELLED,
            Status::Diverged => sys::AE_ERR_DIVERGED,
            Status::Io => sys::AE_ERR_IO,
            Status::Format => sys::AE_ERR_FORMAT,
            Status::Checksum => sys::AE_ERR_CHECKSUM,
            Status::Version => sys::AE_ERR_VERSION,
            Status::BufferTooSmall => sys::AE_ERR_BUFFER_TOO_SMALL,
            Status::NonFiniteResult => sys::AE_ERR_NON_FINITE_RESULT,
            Status::Busy => sys::AE_ERR_BUSY,
            Status::Peer => sys::AE_ERR_PEER,
            Status::Unknown(code) => code,
        }
    }

    /// The library's English description of the status (`ae_status_str`).
    ///
    /// ```
    /// use autoenc::Status;
    /// assert_eq!(Status::OutOfMemory.description(), "out of memory");
    /// assert_eq!(Status::Unknown(-1000).description(), "unknown status");
    /// ```
    pub fn description(self) -> &'static str {
        // SAFETY: ae_status_str returns a static string for every value.
        unsafe { static_str(sys::ae_status_str(self.code())) }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A failed call: the [`Status`] and the library's message.
///
/// The message is the one the library recorded for the call: the model's
/// (`ae_model_last_error`) for a call that changes the model, else the calling
/// thread's (`ae_last_error`), read right after the call on the same thread.
/// Shape checks made in Rust before a call give [`Status::InvalidArgument`]
/// (or [`Status::SizeOverflow`]) with a message of their own.
///
/// Every method that returns a new `Vec` sized by its arguments or by the
/// model (`encode`, `decode`, `reconstruct`, `score`, `sample`,
/// `interpolate`, `feature_errors`, `encode_distribution`, `detect`,
/// `gradient`, `pretrain`, `weights`, `bias`, `params`, `optimizer_state`,
/// `to_bytes`) allocates it fallibly before calling the library: a size
/// over `isize::MAX` bytes gives [`Status::SizeOverflow`] and an allocation
/// the allocator refuses [`Status::OutOfMemory`], both with a message naming
/// the method, instead of the panic or abort of a failed allocation. (Only
/// [`Model::scaling_params`](crate::Model::scaling_params), whose `Option` has
/// no room for an error, allocates infallibly: at most 2 x 64 MiB.)
///
/// ```
/// use autoenc::{Model, Status};
/// let model = Model::new(&[4, 2])?;
/// let rows = isize::MAX as usize / 16; // rows of 4 floats, 16 bytes
/// assert_eq!(model.sample(0, rows + 1).unwrap_err().status(), Status::SizeOverflow);
/// // A valid size (2^63 - 16 bytes on 64 bits) that no allocator grants:
/// assert_eq!(model.sample(0, rows).unwrap_err().status(), Status::OutOfMemory);
/// # Ok::<(), autoenc::Error>(())
/// ```
///
/// ```
/// use autoenc::{Model, Status};
/// let err = Model::new(&[8]).unwrap_err();
/// assert_eq!(err.status(), Status::InvalidArgument);
/// assert!(!err.message().is_empty());
/// println!("{err}"); // "invalid argument: <the library's message>"
/// ```
#[derive(Clone, PartialEq)]
pub struct Error {
    status: Status,
    message: String,
    report: Option<Box<FitReport>>,
}

impl Error {
    /// An error of this crate's own checks (never [`Status::Ok`]).
    pub(crate) fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
            report: None,
        }
    }

    /// The error of a failed call, with the calling thread's message.
    pub(crate) fn from_thread(code: i32) -> Error {
        // SAFETY: ae_last_error never returns NULL; the string is copied at once.
        let message = unsafe { owned_str(sys::ae_last_error()) };
        Error::new(Status::from_code(code), message)
    }

    /// The error of a failed call that changes `model`, with the model's message.
    ///
    /// # Safety
    /// `model` must be a valid model.
    pub(crate) unsafe fn from_model(code: i32, model: *const sys::ae_model) -> Error {
        if code == sys::AE_ERR_BUSY {
            // Recorded in the calling thread only.
            return Error::from_thread(code);
        }
        let message = owned_str(sys::ae_model_last_error(model));
        Error::new(Status::from_code(code), message)
    }

    pub(crate) fn with_report(mut self, report: FitReport) -> Error {
        self.report = Some(Box::new(report));
        self
    }

    /// The status.
    ///
    /// ```
    /// use autoenc::{Model, Status};
    /// let err = Model::new(&[]).unwrap_err();
    /// assert_eq!(err.status(), Status::InvalidArgument);
    /// ```
    pub fn status(&self) -> Status {
        self.status
    }

    /// The C status code, as [`Status::code`].
    ///
    /// ```
    /// use autoenc::Model;
    /// assert_eq!(Model::new(&[]).unwrap_err().code(), -1);
    /// ```
    pub fn code(&self) -> i32 {
        self.status.code()
    }

    /// The library's message (or this crate's, for its own checks).
    ///
    /// ```
    /// use autoenc::Model;
    /// let model = Model::new(&[4, 2]).unwrap();
    /// let err = model.encode(&[0.0; 3], 3).unwrap_err();
    /// assert!(err.message().contains("columns"));
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What a fit did before it stopped, for a fit that ended with
    /// [`Status::Cancelled`] or [`Status::Diverged`] (the library fills the
    /// report in both cases); `None` for every other error.
    ///
    /// ```
    /// use autoenc::{MatrixRef, Model, Status};
    /// use std::ops::ControlFlow;
    /// let mut model = Model::new(&[4, 2])?;
    /// let x = vec![0.5f32; 4 * 16];
    /// let err = model
    ///     .fit_with_progress(MatrixRef::new(&x, 4)?, |_| ControlFlow::Break(()))
    ///     .unwrap_err();
    /// assert_eq!(err.status(), Status::Cancelled);
    /// assert_eq!(err.fit_report().unwrap().epochs_run, 1);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn fit_report(&self) -> Option<&FitReport> {
        self.report.as_deref()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Error");
        s.field("status", &self.status).field("message", &self.message);
        if let Some(report) = &self.report {
            s.field("report", report);
        }
        s.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.status.description())
        } else {
            write!(f, "{}: {}", self.status.description(), self.message)
        }
    }
}

impl std::error::Error for Error {}

/// `Result<T, Error>`.
///
/// ```
/// fn latent_width() -> autoenc::Result<usize> {
///     Ok(autoenc::Model::new(&[6, 3])?.latent_dim())
/// }
/// assert_eq!(latent_width().unwrap(), 3);
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A static string of the library (`ae_status_str`, names); "" for NULL.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that lives as long as the library.
pub(crate) unsafe fn static_str(ptr: *const c_char) -> &'static str {
    if ptr.is_null() {
        return "";
    }
    CStr::from_ptr(ptr).to_str().unwrap_or("")
}

/// A copy of a string the library owns only until its next failing call.
///
/// # Safety
/// `ptr` is NULL or a valid NUL-terminated string.
pub(crate) unsafe fn owned_str(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    CStr::from_ptr(ptr).to_string_lossy().into_owned()
}
