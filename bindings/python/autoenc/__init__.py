"""autoenc: deep stacked autoencoders for numpy and scikit-learn, over libautoenc's C ABI.

Two levels:

- :class:`Model`, the C API one-to-one: create, configure (every setting is a
  typed attribute), fit, encode, decode, score, detect, sample, weights,
  optimizer state, files and bytes;
- scikit-learn estimators built on it: :class:`Autoencoder` (a transformer),
  :class:`AnomalyDetector` (an outlier detector) and
  :class:`VariationalAutoencoder` (a transformer that also samples).

The package is pure Python over ctypes; it loads ``libautoenc.so.0`` (see
:mod:`autoenc._lib` for where it looks; ``AUTOENC_LIBRARY`` names the file).
Every failure of the library raises a subclass of :class:`Error` that carries
the library's status code and message.
"""

from __future__ import annotations

from typing import Any

from . import _lib
from ._enums import (
    PARAMS,
    Activation,
    Architecture,
    Loss,
    Noise,
    Optimizer,
    Param,
    ParamInfo,
    SaveFlags,
    Scaling,
    StopReason,
    param_bounds,
    param_info,
)
from ._errors import (
    BufferTooSmallError,
    BusyError,
    CancelledError,
    ChecksumError,
    DivergedError,
    Error,
    FileIOError,
    FormatError,
    InputRangeError,
    InvalidArgumentError,
    NonFiniteInputError,
    NonFiniteResultError,
    OutOfMemoryError,
    PeerError,
    SizeOverflowError,
    StateError,
    VersionError,
    error_class,
    status_str,
)
from ._model import FitReport, LayerDescription, Model, OptimizerState
from ._progress import Progress

__version__ = "0.3.0"

#: Where the loaded library was found.
library_path: str = _lib.path


def version_number() -> int:
    """The loaded library's version as ``major * 10000 + minor * 100 + patch``
    (``ae_version_number``)."""
    return int(_lib.lib.ae_version_number())


def version_string() -> str:
    """The loaded library's version, e.g. ``"0.3.0"`` (``ae_version_string``)."""
    return _lib.lib.ae_version_string().decode()


def max_layers() -> int:
    """The most dense layers a model may have (``ae_max_layers``)."""
    return int(_lib.lib.ae_max_layers())


def max_layer_width() -> int:
    """The widest a layer may be (``ae_max_layer_width``)."""
    return int(_lib.lib.ae_max_layer_width())


def last_error() -> str:
    """The message of the last failure in the calling thread (``ae_last_error``)."""
    raw = _lib.lib.ae_last_error()
    return raw.decode("utf-8", "replace") if raw else ""


def param_name(param: int) -> Any:
    """The name of a setting id, or None if the library has none (``ae_param_name``)."""
    raw = _lib.lib.ae_param_name(int(param))
    return raw.decode() if raw is not None else None


def activation_name(activation: int) -> Any:
    """The name of an activation value, or None (``ae_activation_name``)."""
    raw = _lib.lib.ae_activation_name(int(activation))
    return raw.decode() if raw is not None else None


_ESTIMATORS = ("Autoencoder", "AnomalyDetector", "VariationalAutoencoder", "default_architecture")


def __getattr__(name: str) -> Any:
    # The estimators need scikit-learn; import it only when they are used.
    if name in _ESTIMATORS:
        from . import _estimators
        return getattr(_estimators, name)
    raise AttributeError("module 'autoenc' has no attribute %r" % name)


def __dir__() -> Any:
    return sorted(list(globals()) + list(_ESTIMATORS))


__all__ = [
    "Model", "FitReport", "LayerDescription", "OptimizerState", "Progress",
    "Autoencoder", "AnomalyDetector", "VariationalAutoencoder", "default_architecture",
    "Activation", "Architecture", "Loss", "Noise", "Optimizer", "Scaling", "StopReason",
    "SaveFlags", "Param", "ParamInfo", "PARAMS", "param_info", "param_bounds", "param_name",
    "activation_name",
    "Error", "InvalidArgumentError", "OutOfMemoryError", "SizeOverflowError",
    "NonFiniteInputError", "InputRangeError", "StateError", "CancelledError", "DivergedError",
    "FileIOError", "FormatError", "ChecksumError", "VersionError", "BufferTooSmallError",
    "NonFiniteResultError", "BusyError", "PeerError", "error_class", "status_str",
    "version_number", "version_string", "max_layers", "max_layer_width", "last_error",
    "library_path", "__version__",
]
