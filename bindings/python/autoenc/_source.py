"""Python data sources for ``ae_model_fit_source``: rows streamed a chunk at a time.

The library reads a source several times (a pass that counts and checks the
rows, a second one to fit a standardisation, then one per epoch), each pass
starting with ``rewind``. So a source must be able to start over:

- a callable: each call returns an iterable for one pass (a generator
  function, ``lambda: pandas.read_csv(path, chunksize=10000)``, ...);
- a re-iterable object: a list of arrays, or any object whose ``__iter__``
  starts a new pass;
- a 2-D numpy array (a ``numpy.memmap`` of a file larger than memory, say),
  read in blocks of 4096 rows.

An iterator (a generator object) gives one pass only and is refused. The
items of a pass are 2-D chunks of ``(n_rows, n_features)`` or single rows of
``(n_features,)``, of any real dtype (converted to float32 as they are copied
into the library's buffer).
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Iterable, Iterator, Optional

import numpy as np

from . import _lib
from ._arrays import as_array, to_float32

_BLOCK_ROWS = 4096


def _pass_factory(source: Any, n_cols: int, name: str) -> Callable[[], Iterable[Any]]:
    if isinstance(source, np.ndarray):
        if source.ndim != 2 or source.shape[1] != n_cols:
            raise ValueError("%s: expected an array of shape (n_rows, %d), got %s"
                             % (name, n_cols, source.shape))
        array = source
        return lambda: (array[i:i + _BLOCK_ROWS] for i in range(0, len(array), _BLOCK_ROWS))
    if callable(source):
        return source  # type: ignore[no-any-return]
    try:
        first = iter(source)
    except TypeError:
        raise TypeError("%s: a data source is a function returning an iterable of chunks, a "
                        "re-iterable object or a 2-D array, not %s" % (name, type(source).__name__)) from None
    if first is source:
        raise TypeError("%s: an iterator (such as a generator) gives one pass over the data, but "
                        "the library reads it several times (one pass to count and check the rows, "
                        "one per epoch): pass a function that returns a new iterator, or a "
                        "re-iterable object such as a list" % name)
    return lambda: source


class DataSource:
    """One Python source as an ``ae_data_source``; keeps its ctypes objects alive and
    the first exception raised while reading, which the caller re-raises."""

    def __init__(self, source: Any, n_cols: int, name: str) -> None:
        self.name = name
        self.n_cols = n_cols
        self.factory = _pass_factory(source, n_cols, name)
        self.exception: Optional[BaseException] = None
        self.monitor: Any = None  # the fit's FitMonitor, to see Ctrl-C during long passes
        self._iterator: Optional[Iterator[Any]] = None
        self._pending: Optional[np.ndarray] = None
        self._c_read = _lib.READ_FN(self._read)
        self._c_rewind = _lib.REWIND_FN(self._rewind)
        self.struct = _lib.DataSource_c(ctypes.sizeof(_lib.DataSource_c), None, self._c_read,
                                        self._c_rewind)

    def _rewind(self, _user_data: Any) -> int:
        try:
            if self.exception is not None:
                return 1
            self._iterator = iter(self.factory())
            self._pending = None
            return 0
        except BaseException as exc:  # noqa: B902 - re-raised after the C call
            self.exception = exc
            return 1

    def _chunk(self, item: Any) -> np.ndarray:
        array = as_array(item, "%s data source" % self.name)
        if array.dtype.kind not in "biuf":
            raise TypeError("%s data source: chunks must hold real numbers, got dtype %s"
                            % (self.name, array.dtype))
        if array.ndim == 1 and array.shape[0] == self.n_cols:
            return array.reshape(1, self.n_cols)
        if array.ndim != 2 or array.shape[1] != self.n_cols:
            raise ValueError("%s data source: expected chunks of shape (n_rows, %d) or rows of "
                             "shape (%d,), got %s" % (self.name, self.n_cols, self.n_cols,
                                                      array.shape))
        if array.dtype.itemsize > 4 and array.dtype.kind == "f":  # values beyond float32's range
            return to_float32(array, "%s data source, in a chunk" % self.name)
        return array

    def _read(self, _user_data: Any, rows: int, n_cols: int, max_rows: int, n_read: Any) -> int:
        try:
            if self.exception is not None:
                return 1
            monitor = self.monitor
            if monitor is not None and monitor.pending_signal is not None and monitor.deliver_signal():
                return 1  # Ctrl-C during a long pass: stop now
            if self._iterator is None:
                self._iterator = iter(self.factory())
            buffer = (ctypes.c_float * (max_rows * n_cols)).from_address(rows)
            out = np.frombuffer(buffer, np.float32).reshape(max_rows, n_cols)
            filled = 0
            while filled < max_rows:
                if self._pending is None or len(self._pending) == 0:
                    item = next(self._iterator, None)
                    if item is None:
                        break
                    self._pending = self._chunk(item)
                    continue
                take = min(max_rows - filled, len(self._pending))
                out[filled:filled + take] = self._pending[:take]
                self._pending = self._pending[take:]
                filled += take
            n_read[0] = filled
            return 0
        except BaseException as exc:  # noqa: B902 - re-raised after the C call
            self.exception = exc
            return 1
