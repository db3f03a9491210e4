//! [`DataSource`]: rows streamed to a fit a chunk at a time (`ae_data_source`).
use autoenc_sys as sys;
use std::any::Any;
use std::io;
use std::mem::size_of;
use std::os::raw::{c_int, c_void};
use std::panic::{self, AssertUnwindSafe};

/// Rows that [`Model::fit_source`](crate::Model::fit_source) reads a chunk at
/// a time, so that a fit never holds the data: a file larger than memory, a
/// database cursor, a generator. Every pass must give the same rows in the
/// same order.
///
/// ```
/// use autoenc::DataSource;
/// use std::io;
///
/// /// Rows of a vector, handed out a chunk at a time.
/// struct Rows { data: Vec<f32>, next: usize }
///
/// impl DataSource for Rows {
///     fn read(&mut self, rows: &mut [f32], n_cols: usize) -> io::Result<usize> {
///         let n = (rows.len() / n_cols).min((self.data.len() - self.next) / n_cols);
///         rows[..n * n_cols].copy_from_slice(&self.data[self.next..self.next + n * n_cols]);
///         self.next += n * n_cols;
///         Ok(n)
///     }
///     fn rewind(&mut self) -> io::Result<()> {
///         self.next = 0;
///         Ok(())
///     }
/// }
///
/// let mut model = autoenc::Model::builder(&[4, 2]).epochs(2).build()?;
/// let report = model.fit_source(&mut Rows { data: vec![0.5; 4 * 100], next: 0 }, None)?;
/// assert_eq!(report.epochs_run, 2);
/// # Ok::<(), autoenc::Error>(())
/// ```
pub trait DataSource {
    /// Writes the next rows of the pass into `rows`, `n_cols` values each,
    /// row after row, and returns how many: at most `rows.len() / n_cols`, and
    /// 0 when the pass is over. An error stops the fit with
    /// [`Status::Io`](crate::Status::Io), its text in the message.
    fn read(&mut self, rows: &mut [f32], n_cols: usize) -> io::Result<usize>;

    /// Starts a new pass at the first row.
    fn rewind(&mut self) -> io::Result<()>;
}

/// What the trampolines reach through `user_data`, and what they leave behind.
pub(crate) struct SourceState<'a> {
    source: &'a mut dyn DataSource,
    pub(crate) error: Option<io::Error>,
    pub(crate) panic: Option<Box<dyn Any + Send + 'static>>,
}

impl<'a> SourceState<'a> {
    pub(crate) fn new(source: &'a mut dyn DataSource) -> SourceState<'a> {
        SourceState {
            source,
            error: None,
            panic: None,
        }
    }

    /// The C struct whose hooks call this state's source.
    pub(crate) fn raw(&mut self) -> sys::ae_data_source {
        sys::ae_data_source {
            size: size_of::<sys::ae_data_source>(),
            user_data: (self as *mut SourceState<'a>).cast::<c_void>(),
            read: Some(read_trampoline),
            rewind: Some(rewind_trampoline),
        }
    }

    /// Runs `call` on the source unless an earlier call failed; keeps an error
    /// or a panic for after the fit, and tells the library to stop.
    fn call(&mut self, call: impl FnOnce(&mut dyn DataSource) -> io::Result<()>) -> c_int {
        if self.error.is_some() || self.panic.is_some() {
            return 1;
        }
        let source = &mut *self.source;
        match panic::catch_unwind(AssertUnwindSafe(|| call(source))) {
            Ok(Ok(())) => 0,
            Ok(Err(err)) => {
                self.error = Some(err);
                1
            }
            Err(payload) => {
                self.panic = Some(payload);
                1
            }
        }
    }
}

unsafe extern "C" fn read_trampoline(
    user_data: *mut c_void,
    rows: *mut f32,
    n_cols: usize,
    max_rows: usize,
    n_read: *mut usize,
) -> c_int {
    // SAFETY: user_data is the SourceState that made this struct, alive for the fit.
    let state = &mut *user_data.cast::<SourceState<'_>>();
    let len = match n_cols.checked_mul(max_rows) {
        Some(len) if !rows.is_null() && !n_read.is_null() && n_cols > 0 => len,
        _ => return 1,
    };
    // The library's chunk buffer may be uninitialised: zero it before lending it out.
    std::ptr::write_bytes(rows, 0, len);
    let rows = std::slice::from_raw_parts_mut(rows, len);
    let mut count = 0;
    let rc = state.call(|source| {
        count = source.read(rows, n_cols)?;
        if count > max_rows {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the data source read {count} rows into room for {max_rows}"),
            ));
        }
        Ok(())
    });
    *n_read = if rc == 0 { count } else { 0 };
    rc
}

unsafe extern "C" fn rewind_trampoline(user_data: *mut c_void) -> c_int {
    // SAFETY: user_data is the SourceState that made this struct, alive for the fit.
    let state = &mut *user_data.cast::<SourceState<'_>>();
    state.call(|source| source.rewind())
}
