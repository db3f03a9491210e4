//! Row-major views of `f32` data with an explicit column count and row stride.
use crate::error::{Error, Result};
use crate::Status;

/// The number of floats a matrix of this shape spans: `(n_rows - 1) * stride + n_cols`.
fn span(n_rows: usize, n_cols: usize, stride: usize) -> Result<usize> {
    if n_rows == 0 {
        return Ok(0);
    }
    (n_rows - 1)
        .checked_mul(stride)
        .and_then(|s| s.checked_add(n_cols))
        .ok_or_else(|| {
            Error::new(
                Status::SizeOverflow,
                format!("{n_rows} rows of stride {stride} overflow usize"),
            )
        })
}

fn check_shape(len: usize, n_rows: usize, n_cols: usize, stride: usize) -> Result<()> {
    if n_cols == 0 {
        return Err(Error::new(
            Status::InvalidArgument,
            "a matrix needs at least one column",
        ));
    }
    if stride < n_cols {
        return Err(Error::new(
            Status::InvalidArgument,
            format!("row stride {stride} is smaller than the column count {n_cols}"),
        ));
    }
    let needed = span(n_rows, n_cols, stride)?;
    if len < needed {
        return Err(Error::new(
            Status::InvalidArgument,
            format!(
                "{n_rows} rows of {n_cols} columns with stride {stride} need {needed} floats; \
                 the slice holds {len}"
            ),
        ));
    }
    Ok(())
}

fn dense_rows(len: usize, n_cols: usize) -> Result<usize> {
    if n_cols == 0 {
        return Err(Error::new(
            Status::InvalidArgument,
            "a matrix needs at least one column",
        ));
    }
    if len % n_cols != 0 {
        return Err(Error::new(
            Status::InvalidArgument,
            format!("{len} floats are not a whole number of rows of {n_cols} columns"),
        ));
    }
    Ok(len / n_cols)
}

/// A read-only row-major matrix over a `&[f32]`: `n_rows x n_cols` values,
/// row `i` starting at `i * stride` (the C API's leading dimension).
///
/// A dense matrix has `stride == n_cols`; a larger stride passes a column
/// block of a wider table without copying. The shape is checked when the
/// view is made, so every view is valid for the library.
///
/// ```
/// use autoenc::MatrixRef;
/// let table = [1.0f32, 2.0, 9.0, 3.0, 4.0, 9.0]; // 2 rows of 3, last column unwanted
/// let x = MatrixRef::with_stride(&table, 2, 2, 3)?;
/// assert_eq!(x.row(1), &[3.0, 4.0]);
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MatrixRef<'a> {
    data: &'a [f32],
    n_rows: usize,
    n_cols: usize,
    stride: usize,
}

impl<'a> MatrixRef<'a> {
    /// A dense matrix: `data.len() / n_cols` rows of `n_cols` values.
    /// Fails when `n_cols` is 0 or does not divide `data.len()`.
    ///
    /// ```
    /// let x = autoenc::MatrixRef::new(&[0.0; 12], 4)?;
    /// assert_eq!((x.n_rows(), x.n_cols(), x.stride()), (3, 4, 4));
    /// assert!(autoenc::MatrixRef::new(&[0.0; 10], 4).is_err());
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn new(data: &'a [f32], n_cols: usize) -> Result<MatrixRef<'a>> {
        let n_rows = dense_rows(data.len(), n_cols)?;
        Ok(MatrixRef {
            data,
            n_rows,
            n_cols,
            stride: n_cols,
        })
    }

    /// `n_rows` rows of `n_cols` values, row `i` at `data[i * stride..]`.
    /// Fails when `stride < n_cols`, `n_cols` is 0, or `data` is too short.
    ///
    /// ```
    /// let data = [0.0f32; 10];
    /// let x = autoenc::MatrixRef::with_stride(&data, 3, 2, 4)?; // needs 2 * 4 + 2 floats
    /// assert_eq!(x.n_rows(), 3);
    /// assert!(autoenc::MatrixRef::with_stride(&data, 4, 2, 4).is_err());
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn with_stride(data: &'a [f32], n_rows: usize, n_cols: usize, stride: usize) -> Result<MatrixRef<'a>> {
        check_shape(data.len(), n_rows, n_cols, stride)?;
        Ok(MatrixRef {
            data,
            n_rows,
            n_cols,
            stride,
        })
    }

    /// Rows.
    ///
    /// ```
    /// assert_eq!(autoenc::MatrixRef::new(&[0.0; 6], 3)?.n_rows(), 2);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Columns.
    ///
    /// ```
    /// assert_eq!(autoenc::MatrixRef::new(&[0.0; 6], 3)?.n_cols(), 3);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Floats from the start of one row to the start of the next.
    ///
    /// ```
    /// assert_eq!(autoenc::MatrixRef::with_stride(&[0.0; 8], 2, 3, 5)?.stride(), 5);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The underlying slice, padding included.
    ///
    /// ```
    /// let data = [1.0f32, 2.0];
    /// assert_eq!(autoenc::MatrixRef::new(&data, 1)?.as_slice(), &data);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// Row `i` (its `n_cols` values). Panics if `i >= n_rows`.
    ///
    /// ```
    /// let x = autoenc::MatrixRef::new(&[1.0, 2.0, 3.0, 4.0], 2)?;
    /// assert_eq!(x.row(0), &[1.0, 2.0]);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn row(&self, i: usize) -> &'a [f32] {
        assert!(i < self.n_rows, "row {i} of a matrix of {} rows", self.n_rows);
        &self.data[i * self.stride..i * self.stride + self.n_cols]
    }

    /// The rows `start..end` as a matrix of their own. Panics if the range is
    /// out of bounds.
    ///
    /// ```
    /// let x = autoenc::MatrixRef::new(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2)?;
    /// let tail = x.rows(1, 3);
    /// assert_eq!((tail.n_rows(), tail.row(0)), (2, &[3.0f32, 4.0][..]));
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn rows(&self, start: usize, end: usize) -> MatrixRef<'a> {
        assert!(
            start <= end && end <= self.n_rows,
            "rows {start}..{end} of {}",
            self.n_rows
        );
        let data = if start == end {
            &self.data[..0]
        } else {
            &self.data[start * self.stride..]
        };
        MatrixRef {
            data,
            n_rows: end - start,
            n_cols: self.n_cols,
            stride: self.stride,
        }
    }

    pub(crate) fn as_ptr(&self) -> *const f32 {
        self.data.as_ptr()
    }
}

/// A writable row-major matrix over a `&mut [f32]`, for results written into
/// the caller's memory. Only the `n_cols` values of each row are written; the
/// padding between rows is left as it is.
///
/// ```
/// use autoenc::{MatrixMut, MatrixRef, Model};
/// let model = Model::new(&[4, 2])?;
/// let x = [0.5f32; 8];
/// let mut codes = [0.0f32; 6]; // 2 rows of 2 codes, stride 3
/// model.encode_into(MatrixRef::new(&x, 4)?, MatrixMut::with_stride(&mut codes, 2, 2, 3)?)?;
/// # Ok::<(), autoenc::Error>(())
/// ```
#[derive(Debug)]
pub struct MatrixMut<'a> {
    data: &'a mut [f32],
    n_rows: usize,
    n_cols: usize,
    stride: usize,
}

impl<'a> MatrixMut<'a> {
    /// A dense matrix: `data.len() / n_cols` rows of `n_cols` values.
    ///
    /// ```
    /// let mut out = vec![0.0f32; 8];
    /// let m = autoenc::MatrixMut::new(&mut out, 2)?;
    /// assert_eq!(m.n_rows(), 4);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn new(data: &'a mut [f32], n_cols: usize) -> Result<MatrixMut<'a>> {
        let n_rows = dense_rows(data.len(), n_cols)?;
        Ok(MatrixMut {
            data,
            n_rows,
            n_cols,
            stride: n_cols,
        })
    }

    /// `n_rows` rows of `n_cols` values, row `i` at `data[i * stride..]`.
    ///
    /// ```
    /// let mut out = vec![0.0f32; 7];
    /// let m = autoenc::MatrixMut::with_stride(&mut out, 2, 3, 4)?;
    /// assert_eq!(m.stride(), 4);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn with_stride(data: &'a mut [f32], n_rows: usize, n_cols: usize, stride: usize) -> Result<MatrixMut<'a>> {
        check_shape(data.len(), n_rows, n_cols, stride)?;
        Ok(MatrixMut {
            data,
            n_rows,
            n_cols,
            stride,
        })
    }

    /// Rows.
    ///
    /// ```
    /// assert_eq!(autoenc::MatrixMut::new(&mut [0.0; 6], 2)?.n_rows(), 3);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Columns.
    ///
    /// ```
    /// assert_eq!(autoenc::MatrixMut::new(&mut [0.0; 6], 2)?.n_cols(), 2);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Floats from the start of one row to the start of the next.
    ///
    /// ```
    /// assert_eq!(autoenc::MatrixMut::new(&mut [0.0; 6], 2)?.stride(), 2);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Row `i` (its `n_cols` values). Panics if `i >= n_rows`.
    ///
    /// ```
    /// let mut data = [0.0f32; 4];
    /// let mut m = autoenc::MatrixMut::new(&mut data, 2)?;
    /// m.row_mut(1)[0] = 7.0;
    /// assert_eq!(data, [0.0, 0.0, 7.0, 0.0]);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        assert!(i < self.n_rows, "row {i} of a matrix of {} rows", self.n_rows);
        &mut self.data[i * self.stride..i * self.stride + self.n_cols]
    }

    /// A read-only view of the same matrix.
    ///
    /// ```
    /// let mut data = [1.0f32, 2.0];
    /// let m = autoenc::MatrixMut::new(&mut data, 2)?;
    /// assert_eq!(m.view().row(0), &[1.0, 2.0]);
    /// # Ok::<(), autoenc::Error>(())
    /// ```
    pub fn view(&self) -> MatrixRef<'_> {
        MatrixRef {
            data: self.data,
            n_rows: self.n_rows,
            n_cols: self.n_cols,
            stride: self.stride,
        }
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut f32 {
        self.data.as_mut_ptr()
    }
}
