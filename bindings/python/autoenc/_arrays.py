"""Passing numpy arrays to C: by pointer when their layout allows, converted once otherwise.

The library reads and writes row-major float matrices with a leading dimension
``ld`` (floats between the starts of two rows). A numpy array goes through
without a copy when it is float32 in native byte order, aligned, with a unit
column stride (4 bytes) and a positive row stride that is a multiple of 4 bytes:
a C-contiguous array, or a row-strided view of one such as ``a[::2]`` or
``a[:, :784]`` of a wider table; ``ld`` is then the row stride over 4. Anything
else (float64, Fortran order, a column-strided view, a list) is converted once
into a new C-contiguous float32 array. Output arrays are new, or given with
``out=`` and then must already have that layout, the exact shape and be
writeable (they are never converted: the results would land in a copy).
"""

from __future__ import annotations

import ctypes
from typing import Any, Optional, Tuple

import numpy as np

F32 = np.dtype(np.float32)
_addressof = ctypes.addressof
_from_buffer = ctypes.c_char.from_buffer


def address(array: np.ndarray) -> int:
    """The address of ``array``'s first element (the array must stay alive)."""
    try:  # fast (about 0.25 us) for a writeable C-contiguous array
        return _addressof(_from_buffer(array))
    except (TypeError, ValueError, BufferError):
        return int(array.__array_interface__["data"][0])


def _row_layout(array: np.ndarray, n_cols: int) -> Optional[int]:
    """The leading dimension of a 2-D float32 array the C library can read in
    place, or None when it must be copied."""
    if array.dtype != F32 or not array.dtype.isnative or not array.flags.aligned:
        return None
    n_rows = array.shape[0]
    if n_rows == 0:  # nothing to read or write (numpy gives empty arrays strides (0, 0))
        return n_cols
    row_stride, col_stride = array.strides
    if n_cols > 1 and col_stride != 4:
        return None
    if n_rows == 1:
        return n_cols
    if row_stride <= 0 or row_stride % 4 or row_stride // 4 < n_cols:
        return None
    return row_stride // 4


def _shape_text(shape: Tuple[Any, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def as_array(data: Any, name: str) -> np.ndarray:
    """``data`` as a numpy array of real numbers, as it is when it is one.

    Raises TypeError for complex data, ValueError for a masked array with masked
    values: the library would read whatever lies under the mask as data."""
    if isinstance(data, np.ma.MaskedArray):
        if np.ma.getmaskarray(data).any():
            raise ValueError("%s: a masked array with masked values is not supported (the mask "
                             "would be ignored): fill them (x.filled(value)) or drop their rows"
                             % name)
        data = data.data
    array = data if isinstance(data, np.ndarray) else np.asarray(data)
    if array.dtype.kind == "c":
        raise TypeError("%s: complex data is not supported, only real numbers (got dtype %s)"
                        % (name, array.dtype))
    return array


def to_float32(array: np.ndarray, name: str) -> np.ndarray:
    """``array`` converted once into a new C-contiguous float32 array.

    A finite value beyond float32's range would become Inf (with a numpy
    RuntimeWarning) and then be reported by the library as an Inf in the data;
    it is refused here with a ValueError that says where it is and why."""
    try:
        with np.errstate(over="ignore"):
            out = np.ascontiguousarray(array, dtype=F32)
    except (TypeError, ValueError) as exc:
        raise ValueError("%s: cannot convert %s data to float32: %s" % (name, array.dtype, exc)) from None
    if array.dtype.kind == "f" and array.dtype.itemsize > 4 and not np.isfinite(out).all():
        overflow = np.isinf(out) & np.isfinite(array)
        if overflow.any():
            at = np.unravel_index(int(np.argmax(overflow)), overflow.shape)
            place = "row %d, column %d" % at if len(at) == 2 else "index %d" % at
            raise ValueError("%s: %s holds %r, beyond the range of float32 (about %.4g)"
                             % (name, place, float(array[at]), float(np.finfo(F32).max)))
    return out


def as_matrix(data: Any, n_cols: int, name: str, what: str = "rows") -> Tuple[np.ndarray, int, int, bool]:
    """Make ``data`` a matrix of ``n_cols`` columns the library can read.

    Returns
    -------
    (array, ld, n_rows, one_row)
        The array to pass (the input itself, or a float32 copy), its leading
        dimension, its row count, and whether a 1-D input was taken as one row.

    Raises
    ------
    ValueError
        The shape does not fit (the message names expected and given shapes),
        or the values cannot be converted to float32.
    TypeError
        Complex data.
    """
    array = as_array(data, name)
    one_row = False
    if array.ndim == 1:
        if array.shape[0] != n_cols:
            raise ValueError("%s: expected shape (n_%s, %d) or (%d,), got %s"
                             % (name, what, n_cols, n_cols, _shape_text(array.shape)))
        array = array.reshape(1, n_cols)
        one_row = True
    elif array.ndim != 2 or array.shape[1] != n_cols:
        raise ValueError("%s: expected shape (n_%s, %d), got %s"
                         % (name, what, n_cols, _shape_text(array.shape)))
    ld = _row_layout(array, n_cols)
    if ld is None:
        array = to_float32(array, name)
        ld = n_cols
    return array, ld, array.shape[0], one_row


def as_vector(data: Any, length: int, name: str) -> np.ndarray:
    """A contiguous float32 vector of exactly ``length`` values (converted once if needed)."""
    array = as_array(data, name)
    if array.shape != (length,):
        raise ValueError("%s: expected shape (%d,), got %s" % (name, length, _shape_text(array.shape)))
    if array.dtype != F32 or not array.flags.c_contiguous or not array.dtype.isnative \
            or not array.flags.aligned:
        array = to_float32(array, name)
    return array


def output_matrix(out: Optional[np.ndarray], n_rows: int, n_cols: int, name: str) -> Tuple[np.ndarray, int]:
    """A new ``n_rows x n_cols`` float32 array, or ``out`` checked for that shape and a
    layout the library can write in place. Returns ``(array, ld)``."""
    if out is None:
        return np.empty((n_rows, n_cols), F32), n_cols
    if not isinstance(out, np.ndarray):
        raise TypeError("%s must be a numpy array, not %s" % (name, type(out).__name__))
    if out.shape != (n_rows, n_cols):
        raise ValueError("%s: expected shape (%d, %d), got %s"
                         % (name, n_rows, n_cols, _shape_text(out.shape)))
    if not out.flags.writeable:
        raise ValueError("%s is read-only" % name)
    ld = _row_layout(out, n_cols)
    if ld is None:
        raise ValueError("%s must be float32 with unit column stride and a row stride that is a "
                         "positive multiple of 4 bytes (got dtype %s, strides %s)"
                         % (name, out.dtype, out.strides))
    return out, ld


def output_vector(out: Optional[np.ndarray], length: int, name: str, dtype: Any = F32) -> np.ndarray:
    """A new contiguous vector of ``length`` values of ``dtype``, or ``out`` checked."""
    dtype = np.dtype(dtype)
    if out is None:
        return np.empty(length, dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError("%s must be a numpy array, not %s" % (name, type(out).__name__))
    if out.shape != (length,):
        raise ValueError("%s: expected shape (%d,), got %s" % (name, length, _shape_text(out.shape)))
    if out.dtype != dtype or not out.dtype.isnative:
        raise ValueError("%s must have dtype %s, not %s" % (name, dtype, out.dtype))
    if not out.flags.writeable:
        raise ValueError("%s is read-only" % name)
    if not out.flags.c_contiguous or not out.flags.aligned:
        raise ValueError("%s must be contiguous" % name)
    return out


def check_no_overlap(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if np.may_share_memory(a, b):
        raise ValueError("%s may not overlap %s" % (name_b, name_a))
