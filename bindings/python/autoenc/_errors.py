"""Exceptions: one class per ``ae_status``, all under :class:`Error`.

Each class also derives from the built-in exception a Python user would catch
for that kind of failure, so ``except ValueError`` catches bad arguments and
bad data, ``except MemoryError`` an allocation failure, ``except OSError`` a
file that cannot be read or written.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

from . import _lib

_L = _lib.lib


class Error(Exception):
    """Base class of every error the library reports.

    Attributes
    ----------
    status : int
        The ``ae_status`` code (negative), pinned forever by the C library.
    message : str
        The library's message: what failed and why (the per-model message for
        calls that change a model, the calling thread's message otherwise).
    function : str or None
        The C function that failed, e.g. ``"ae_model_fit"``.
    """

    status: int = 0

    def __init__(self, message: str = "", status: Optional[int] = None,
                 function: Optional[str] = None) -> None:
        if status is not None:
            self.status = status
        self.message = message
        self.function = function
        text = message or status_str(self.status)
        if function:
            text = "%s: %s" % (function, text)
        super().__init__(text)

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.message, self.status, self.function))

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _rebuild(cls: Type[Error], message: str, status: int, function: Optional[str]) -> Error:
    return cls(message, status, function)


class InvalidArgumentError(Error, ValueError):
    """``AE_ERR_INVALID_ARGUMENT``: a value out of range, a wrong size or shape."""
    status = -1


class OutOfMemoryError(Error, MemoryError):
    """``AE_ERR_OUT_OF_MEMORY``: an allocation failed; nothing was changed."""
    status = -2


class SizeOverflowError(Error, ValueError):
    """``AE_ERR_SIZE_OVERFLOW``: a size product would overflow ``size_t``."""
    status = -3


class NonFiniteInputError(Error, ValueError):
    """``AE_ERR_NON_FINITE_INPUT``: the input holds NaN or infinity; the
    message names the row and the column."""
    status = -4


class InputRangeError(Error, ValueError):
    """``AE_ERR_INPUT_RANGE``: the input is outside the range the loss needs
    (binary cross-entropy needs [0, 1]); the message names row and column."""
    status = -5


class StateError(Error, RuntimeError):
    """``AE_ERR_STATE``: the call does not fit the model's configuration or
    state (a setting that conflicts with one chosen before, a threshold never
    set, a call that needs a decoder on an encoder-only model)."""
    status = -6


class CancelledError(Error):
    """``AE_ERR_CANCELLED``: the progress callback stopped the fit; the model is
    usable. :meth:`autoenc.Model.fit` does not raise it when your callback asks
    to stop: it returns the report, whose ``stop_reason`` says so."""
    status = -7


class DivergedError(Error, FloatingPointError):
    """``AE_ERR_DIVERGED``: the loss or gradient became non-finite (or exploded
    past ``divergence_factor``); the last finite weights were restored.

    Attributes
    ----------
    report : FitReport or None
        The report of the fit that diverged.
    """
    status = -8
    report: Any = None


class FileIOError(Error, OSError):
    """``AE_ERR_IO``: a file could not be opened, read, written or renamed."""
    status = -9


class FormatError(Error, ValueError):
    """``AE_ERR_FORMAT``: model data is malformed or truncated."""
    status = -10


class ChecksumError(FormatError):
    """``AE_ERR_CHECKSUM``: model data does not match its checksum."""
    status = -11


class VersionError(Error, ValueError):
    """``AE_ERR_VERSION``: model data needs a newer library."""
    status = -12


class BufferTooSmallError(Error, ValueError):
    """``AE_ERR_BUFFER_TOO_SMALL``: a caller's buffer is too small (the package
    sizes its buffers itself, so this means a bug)."""
    status = -13


class NonFiniteResultError(Error, FloatingPointError):
    """``AE_ERR_NON_FINITE_RESULT``: finite inputs too large for float
    arithmetic would give NaN or infinity; the message names the row."""
    status = -14


class BusyError(Error, RuntimeError):
    """``AE_ERR_BUSY``: the model is in use by another call this one may not
    overlap (a change while other calls use it, a read while another thread
    changes it, or a change from inside a progress callback); nothing was done."""
    status = -15


class PeerError(Error, RuntimeError):
    """``AE_ERR_PEER``: a distributed training call stopped because another
    participant failed (libraries that have distributed training hooks)."""
    status = -16


_BY_STATUS: Dict[int, Type[Error]] = {
    cls.status: cls
    for cls in (InvalidArgumentError, OutOfMemoryError, SizeOverflowError, NonFiniteInputError,
                InputRangeError, StateError, CancelledError, DivergedError, FileIOError,
                FormatError, ChecksumError, VersionError, BufferTooSmallError,
                NonFiniteResultError, BusyError, PeerError)
}


def error_class(status: int) -> Type[Error]:
    """The exception class for an ``ae_status`` (:class:`Error` for a status
    this package does not know yet)."""
    return _BY_STATUS.get(status, Error)


def status_str(status: int) -> str:
    """The library's English description of a status code (``ae_status_str``)."""
    text = _L.ae_status_str(int(status))
    return text.decode("utf-8", "replace") if text else ""


def _decode(raw: Optional[bytes]) -> str:
    return raw.decode("utf-8", "replace") if raw else ""


def make_error(status: int, function: str, handle: Optional[int] = None) -> Error:
    """The exception of a failed call. Called right after the call, in the same
    thread, so that the thread's message is the call's own.

    ``handle`` is the model of a non-const call: its message is read from the model
    (``ae_model_last_error``), except for ``AE_ERR_BUSY``, which only the calling
    thread records."""
    message = ""
    if handle is not None and status != BusyError.status:
        message = _decode(_L.ae_model_last_error(handle))
    if not message:
        message = _decode(_L.ae_last_error())
    return error_class(status)(message, status, function)


def raise_status(status: int, function: str, handle: Optional[int] = None) -> None:
    """Raise :func:`make_error` of a failed call."""
    raise make_error(status, function, handle)
