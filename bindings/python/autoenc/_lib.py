"""Finding and loading libautoenc, and the one table of its C functions.

The library is found, in this order:

1. the ``AUTOENC_LIBRARY`` environment variable: the path of the shared
   library file itself;
2. an installed ``libautoenc.so.0`` (the SONAME: the unversioned
   ``libautoenc.so`` belongs to the development package and is never loaded),
   through the dynamic loader's search (``LD_LIBRARY_PATH``, the ``ldconfig``
   cache, the standard folders) and then the usual install prefixes;
3. a build tree, for development: ``$AUTOENC_BUILD_DIR/src`` (or
   ``$AUTOENC_BUILD_DIR`` itself), then ``build/src`` of the source checkout
   this package lies in.

A library whose major version differs from :data:`ABI_MAJOR`, or that is older
than :data:`MIN_VERSION`, is refused with an :class:`ImportError` that says what
was found where.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_int,
    c_int32,
    c_size_t,
    c_uint,
    c_uint64,
    c_void_p,
)
from typing import List, Optional, Tuple

#: The ABI major version this package binds (the library's SONAME number).
ABI_MAJOR = 0
#: The oldest library version (``major * 10000 + minor * 100 + patch``) with every
#: function this package calls (0.3.0 added layer descriptions and optimizer state).
MIN_VERSION = 300
SONAME = "libautoenc.so.%d" % ABI_MAJOR


class FitReport_c(Structure):
    """``ae_fit_report`` (size-prefixed: the library fills what fits in ``size``)."""

    _fields_ = [
        ("size", c_size_t),
        ("epochs_run", c_uint64),
        ("steps_run", c_uint64),
        ("best_epoch", c_uint64),
        ("stop_reason", c_int32),
        ("restored_best", c_int32),
        ("final_train_loss", c_double),
        ("final_val_loss", c_double),
        ("best_loss", c_double),
        ("seconds", c_double),
        ("samples_per_second", c_double),
        ("final_kl", c_double),
        ("final_elbo", c_double),
    ]


class Progress_c(Structure):
    """``ae_progress``, as the library passes it to the progress callback."""

    _fields_ = [
        ("size", c_size_t),
        ("epoch", c_uint64),
        ("epochs", c_uint64),
        ("batch", c_uint64),
        ("batches", c_uint64),
        ("epoch_end", c_int32),
        ("train_loss", c_double),
        ("val_loss", c_double),
        ("seconds", c_double),
    ]


class LayerDescription_c(Structure):
    """``ae_layer_description`` (size-prefixed)."""

    _fields_ = [
        ("size", c_size_t),
        ("n_in", c_uint64),
        ("n_out", c_uint64),
        ("activation", c_int32),
        ("tied", c_int32),
        ("weights_layer", c_uint64),
        ("weight_offset", c_uint64),
        ("weight_count", c_uint64),
        ("bias_offset", c_uint64),
        ("bias_count", c_uint64),
    ]


class ParamDescription_c(Structure):
    """``ae_param_description`` (size-prefixed)."""

    _fields_ = [
        ("size", c_size_t),
        ("name", c_char_p),
        ("kind", c_int32),
        ("min_open", c_int32),
        ("max_open", c_int32),
        ("reserved", c_int32),
        ("default_value", c_double),
        ("min_value", c_double),
        ("max_value", c_double),
    ]


#: ``int (*ae_progress_fn)(const ae_progress *, void *)``
PROGRESS_FN = CFUNCTYPE(c_int, POINTER(Progress_c), c_void_p)
#: ``ae_data_source.read``: ``int (*)(void *, float *rows, size_t n_cols, size_t max_rows, size_t *n_read)``
READ_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_size_t, POINTER(c_size_t))
#: ``ae_data_source.rewind``: ``int (*)(void *)``
REWIND_FN = CFUNCTYPE(c_int, c_void_p)


class DataSource_c(Structure):
    """``ae_data_source`` (size-prefixed)."""

    _fields_ = [
        ("size", c_size_t),
        ("user_data", c_void_p),
        ("read", READ_FN),
        ("rewind", REWIND_FN),
    ]

# Shorthands for the table. Data pointers are passed as plain integers (addresses of
# numpy buffers), so they are declared c_void_p; sizes are c_size_t.
_P = c_void_p  # any data pointer or model handle
_Z = c_size_t
_PZ = POINTER(c_size_t)
_PD = POINTER(c_double)
_PP = POINTER(c_void_p)  # ae_model ** (out)

#: Every C function the package calls: name, result type, argument types. Nothing
#: else in the package declares a C signature.
FUNCTIONS: List[Tuple[str, object, List[object]]] = [
    ("ae_version_number", c_uint, []),
    ("ae_version_string", c_char_p, []),
    ("ae_max_layers", c_size_t, []),
    ("ae_max_layer_width", c_size_t, []),
    ("ae_status_str", c_char_p, [c_int]),
    ("ae_last_error", c_char_p, []),
    ("ae_model_create", c_int, [_PP, _PZ, _Z, _PZ, _Z]),
    ("ae_model_create_ex", c_int, [_PP, _PZ, _Z, _PZ, _Z, c_uint]),
    ("ae_model_architecture", c_uint, [_P]),
    ("ae_model_free", None, [_P]),
    ("ae_model_clone", c_int, [_P, _PP]),
    ("ae_model_reset", c_int, [_P]),
    ("ae_model_last_error", c_char_p, [_P]),
    ("ae_model_input_dim", c_size_t, [_P]),
    ("ae_model_latent_dim", c_size_t, [_P]),
    ("ae_model_layer_count", c_size_t, [_P]),
    ("ae_model_encoder_layer_count", c_size_t, [_P]),
    ("ae_model_param_count", c_size_t, [_P]),
    ("ae_model_layer_info", c_int, [_P, _Z, _PZ, _PZ, POINTER(c_int)]),
    ("ae_model_describe_layer", c_int, [_P, _Z, POINTER(LayerDescription_c)]),
    ("ae_model_set_param", c_int, [_P, c_int, c_double]),
    ("ae_model_get_param", c_int, [_P, c_int, _PD]),
    ("ae_param_bounds", c_int, [c_int, _PD, _PD, POINTER(c_int)]),
    ("ae_param_name", c_char_p, [c_int]),
    ("ae_activation_name", c_char_p, [c_int]),
    ("ae_model_set_progress", c_int, [_P, PROGRESS_FN, c_void_p]),
    ("ae_model_fit", c_int, [_P, _P, _Z, _Z, POINTER(FitReport_c)]),
    ("ae_model_fit_validated", c_int, [_P, _P, _Z, _Z, _P, _Z, _Z, POINTER(FitReport_c)]),
    ("ae_model_train_batch", c_int, [_P, _P, _Z, _Z, _PD]),
    ("ae_model_gradient", c_int, [_P, _P, _Z, _Z, _P, _Z, _PD]),
    ("ae_model_encode", c_int, [_P, _P, _Z, _Z, _P, _Z]),
    ("ae_model_decode", c_int, [_P, _P, _Z, _Z, _P, _Z]),
    ("ae_model_reconstruct", c_int, [_P, _P, _Z, _Z, _P, _Z]),
    ("ae_model_score", c_int, [_P, _P, _Z, _Z, _P]),
    ("ae_model_loss", c_int, [_P, _P, _Z, _Z, _PD]),
    ("ae_model_encode_distribution", c_int, [_P, _P, _Z, _Z, _P, _Z, _P, _Z]),
    ("ae_model_sample", c_int, [_P, c_uint64, _Z, _P, _Z]),
    ("ae_model_interpolate", c_int, [_P, _P, _P, _Z, _P, _Z]),
    ("ae_model_feature_errors", c_int, [_P, _P, _Z, _Z, _P, _Z]),
    ("ae_model_fit_threshold", c_int, [_P, _P, _Z, _Z, c_double, _PD]),
    ("ae_model_set_threshold", c_int, [_P, c_double]),
    ("ae_model_get_threshold", c_int, [_P, _PD]),
    ("ae_model_detect", c_int, [_P, _P, _Z, _Z, _P, _P]),
    ("ae_model_fit_scaling", c_int, [_P, _P, _Z, _Z]),
    ("ae_model_get_scaling", c_int, [_P, _P, _P, _Z]),
    ("ae_model_set_scaling", c_int, [_P, _P, _P, _Z]),
    ("ae_model_pretrain", c_int, [_P, _P, _Z, _Z, POINTER(FitReport_c), _Z]),
    ("ae_model_export_encoder", c_int, [_P, _PP]),
    ("ae_model_copy_layers", c_int, [_P, _Z, _P, _Z, _Z]),
    ("ae_model_save", c_int, [_P, c_char_p, c_uint]),
    ("ae_model_load", c_int, [_PP, c_char_p]),
    ("ae_model_save_size", c_int, [_P, c_uint, _PZ]),
    ("ae_model_save_to_memory", c_int, [_P, c_uint, _P, _Z, _PZ]),
    ("ae_model_load_from_memory", c_int, [_PP, _P, _Z]),
    ("ae_model_get_weights", c_int, [_P, _Z, _P, _Z]),
    ("ae_model_set_weights", c_int, [_P, _Z, _P, _Z]),
    ("ae_model_get_bias", c_int, [_P, _Z, _P, _Z]),
    ("ae_model_set_bias", c_int, [_P, _Z, _P, _Z]),
    ("ae_model_get_params", c_int, [_P, _P, _Z]),
    ("ae_model_set_params", c_int, [_P, _P, _Z]),
    ("ae_model_get_optimizer_state", c_int, [_P, POINTER(c_uint64), _P, _P, _Z]),
    ("ae_model_set_optimizer_state", c_int, [_P, c_uint64, _P, _P, _Z]),
]


#: Functions bound when the loaded library has them (libraries of 0.3.0 built before they
#: were added lack them: the package then derives the settings' table from ae_param_name
#: and ae_param_bounds, and Model.fit_source raises NotImplementedError).
OPTIONAL_FUNCTIONS: List[Tuple[str, object, List[object]]] = [
    ("ae_param_describe", c_int, [c_int, POINTER(ParamDescription_c)]),
    ("ae_param_count", c_size_t, []),
    ("ae_param_at", c_int, [c_size_t]),
    ("ae_param_value_name", c_char_p, [c_int, c_double]),
    ("ae_model_fit_source", c_int, [_P, POINTER(DataSource_c), POINTER(DataSource_c),
                                     POINTER(FitReport_c)]),
]

#: Exported functions the package leaves out, and why.
FUNCTIONS_NOT_BOUND = {
    "ae_set_allocator": "process-wide allocation hooks called from any thread, also from the "
                        "library's workers without the GIL; Python cannot serve them",
    "ae_model_set_train_hooks": "distributed training hooks for an engine written in C "
                                "(libautoenc_mpi); a Python engine would run in the "
                                "library's backward pass without the GIL",
}


def _multiarch() -> Optional[str]:
    """Debian's multiarch triplet (``x86_64-linux-gnu``), or None."""
    triplet = getattr(sys.implementation, "_multiarch", None)
    return triplet if isinstance(triplet, str) and triplet else None


def _install_candidates() -> List[str]:
    """Where an installed libautoenc.so.0 may lie when the loader's search misses it."""
    prefixes = []
    for prefix in (sys.prefix, sys.base_prefix, "/usr/local", "/usr"):
        if prefix not in prefixes:
            prefixes.append(prefix)
    triplet = _multiarch()
    out = []
    for prefix in prefixes:
        if triplet:
            out.append(os.path.join(prefix, "lib", triplet, SONAME))
        out.append(os.path.join(prefix, "lib64", SONAME))
        out.append(os.path.join(prefix, "lib", SONAME))
    return out


def _build_tree_candidates() -> List[str]:
    out = []
    build_dir = os.environ.get("AUTOENC_BUILD_DIR")
    if build_dir:
        out.append(os.path.join(build_dir, "src", SONAME))
        out.append(os.path.join(build_dir, SONAME))
    # bindings/python/autoenc/_lib.py -> the checkout's root is three folders up.
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    if os.path.isfile(os.path.join(root, "include", "autoenc.h")):
        out.append(os.path.join(root, "build", "src", SONAME))
    return out


def _describe(path: str) -> str:
    return os.path.realpath(path) if os.path.sep in path else path


def _open(path: str) -> ctypes.CDLL:
    # CDLL (not PyDLL): every call releases the GIL, so threads run in parallel.
    return ctypes.CDLL(path)


def _check_version(lib: ctypes.CDLL, where: str) -> None:
    try:
        number_fn = lib.ae_version_number
    except AttributeError:
        raise ImportError("%s is not libautoenc (it has no ae_version_number)" % where) from None
    number_fn.restype = c_uint
    number_fn.argtypes = []
    number = int(number_fn())
    found = "%d.%d.%d" % (number // 10000, number // 100 % 100, number % 100)
    if number // 10000 != ABI_MAJOR:
        raise ImportError(
            "libautoenc %s found at %s has ABI major version %d; this package needs "
            "major version %d (%s). Set AUTOENC_LIBRARY to the path of a matching "
            "library." % (found, where, number // 10000, ABI_MAJOR, SONAME))
    if number < MIN_VERSION:
        raise ImportError(
            "libautoenc %s found at %s is too old: this package needs %d.%d.%d or newer "
            "of major version %d. Set AUTOENC_LIBRARY to the path of a newer library."
            % (found, where, MIN_VERSION // 10000, MIN_VERSION // 100 % 100,
               MIN_VERSION % 100, ABI_MAJOR))


def find_and_load() -> Tuple[ctypes.CDLL, str]:
    """Load the library as described in this module's docstring.

    Returns
    -------
    (lib, path) : the loaded library and where it was found.

    Raises
    ------
    ImportError
        No library was found, or the one found has another major version.
    """
    tried: List[str] = []
    explicit = os.environ.get("AUTOENC_LIBRARY")
    if explicit:
        try:
            lib = _open(explicit)
        except OSError as exc:
            raise ImportError("AUTOENC_LIBRARY=%s cannot be loaded: %s" % (explicit, exc)) from None
        _check_version(lib, _describe(explicit))
        return lib, _describe(explicit)

    # The loader's own search by SONAME (LD_LIBRARY_PATH, ldconfig cache, /lib, /usr/lib).
    try:
        lib = _open(SONAME)
    except OSError as exc:
        tried.append("%s through the dynamic loader (%s)" % (SONAME, exc))
    else:
        where = _loaded_path(lib) or SONAME
        _check_version(lib, where)
        return lib, where

    for path in _install_candidates() + _build_tree_candidates():
        if not os.path.isfile(path):
            tried.append(path)
            continue
        try:
            lib = _open(path)
        except OSError as exc:
            tried.append("%s (%s)" % (path, exc))
            continue
        _check_version(lib, _describe(path))
        return lib, _describe(path)
    raise ImportError(
        "libautoenc (%s) was not found. Install it, or set AUTOENC_LIBRARY to the library "
        "file, or AUTOENC_BUILD_DIR to a CMake build folder. Tried: %s"
        % (SONAME, "; ".join(tried)))


def _loaded_path(lib: ctypes.CDLL) -> Optional[str]:
    """The file the loader picked for ``lib``, read from /proc/self/maps (Linux)."""
    try:
        address = ctypes.cast(lib.ae_version_number, c_void_p).value
        with open("/proc/self/maps") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) < 6:
                    continue
                lo, hi = (int(v, 16) for v in parts[0].split("-"))
                if address is not None and lo <= address < hi:
                    return parts[5]
    except (OSError, ValueError, AttributeError):
        pass
    return None


def bind(lib: ctypes.CDLL) -> None:
    """Give every function of :data:`FUNCTIONS` its result and argument types."""
    missing = []
    for name, restype, argtypes in FUNCTIONS:
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    if missing:
        raise ImportError("libautoenc lacks functions this package needs: %s" % ", ".join(missing))
    for name, restype, argtypes in OPTIONAL_FUNCTIONS:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = restype
            fn.argtypes = argtypes


def has(name: str) -> bool:
    """Whether the loaded library exports ``name`` (for :data:`OPTIONAL_FUNCTIONS`)."""
    return getattr(lib, name, None) is not None


lib, path = find_and_load()
bind(lib)
