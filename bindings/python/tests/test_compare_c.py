"""The package computes exactly what the C API computes: weights bit-identical after a fit.

Three ways to the same fit, same data, same seed and the same thread settings
(``threads`` set explicitly, the OpenBLAS thread count from the one environment):

- a C program built in the tree (tests/c/reference_fit.c, path in
  AUTOENC_TEST_REFERENCE_FIT), run as a child process;
- the library called directly through bare ctypes, as the C example calls it;
- the package: autoenc.Model, and the Autoencoder estimator with random_state.
"""

import ctypes
import os
import subprocess

import numpy as np
import pytest

import autoenc

WIDTHS = [12, 8, 3]
SETTINGS = [("output_activation", "sigmoid", 4), ("loss", "bce", 1), ("epochs", 4, 4),
            ("batch_size", 32, 32), ("seed", 11, 11), ("threads", 2, 2),
            ("noise", "masking", 2), ("noise_level", 0.2, 0.2), ("shuffle", True, 1)]


def _package_fit(x):
    with autoenc.Model(WIDTHS, **{name: value for name, value, _ in SETTINGS}) as m:
        m.fit(x)
        return m.get_flat_params()


def _bare_ctypes_fit(x):
    lib = ctypes.CDLL(autoenc.library_path)
    size_t = ctypes.c_size_t
    handle = ctypes.c_void_p()
    widths = (size_t * 3)(*WIDTHS)
    lib.ae_model_create.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(size_t), size_t,
                                    ctypes.c_void_p, size_t]
    assert lib.ae_model_create(ctypes.byref(handle), widths, 3, None, 0) == 0
    lib.ae_model_set_param.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_double]
    for name, _, c_value in SETTINGS:
        assert lib.ae_model_set_param(handle, autoenc.PARAMS[name].id, float(c_value)) == 0
    lib.ae_model_fit.argtypes = [ctypes.c_void_p, ctypes.c_void_p, size_t, size_t, ctypes.c_void_p]
    assert lib.ae_model_fit(handle, x.ctypes.data, x.shape[0], x.shape[1], None) == 0
    lib.ae_model_param_count.restype = size_t
    lib.ae_model_param_count.argtypes = [ctypes.c_void_p]
    params = np.empty(lib.ae_model_param_count(handle), np.float32)
    lib.ae_model_get_params.argtypes = [ctypes.c_void_p, ctypes.c_void_p, size_t]
    assert lib.ae_model_get_params(handle, params.ctypes.data, params.size) == 0
    lib.ae_model_free.argtypes = [ctypes.c_void_p]
    lib.ae_model_free(handle)
    return params


def test_package_equals_bare_ctypes(unit_data):
    ours = _package_fit(unit_data)
    theirs = _bare_ctypes_fit(unit_data)
    assert ours.tobytes() == theirs.tobytes()


def test_package_equals_a_c_program(unit_data, tmp_path):
    program = os.environ.get("AUTOENC_TEST_REFERENCE_FIT")
    if not program:
        pytest.skip("AUTOENC_TEST_REFERENCE_FIT is not set (CTest sets it)")
    data = tmp_path / "x.f32"
    unit_data.astype("<f4").tofile(data)
    out = tmp_path / "params.f32"
    args = [program, str(data), str(unit_data.shape[0]), str(unit_data.shape[1]), str(out)]
    args += [str(w) for w in WIDTHS] + ["--"]
    args += ["%s=%r" % (name, float(c_value)) for name, _, c_value in SETTINGS]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    theirs = np.fromfile(out, dtype="<f4")
    ours = _package_fit(unit_data)
    assert ours.shape == theirs.shape
    assert ours.tobytes() == theirs.astype(np.float32).tobytes()


def test_estimator_random_state_is_the_seed(unit_data):
    est = autoenc.Autoencoder(hidden_layer_sizes=(8,), latent_dim=3, output_activation="sigmoid",
                              loss="bce", scaling="none", batch_size=32, epochs=4, patience=None,
                              noise="masking", noise_level=0.2, n_threads=2, random_state=11)
    est.fit(unit_data)
    assert est.model_.seed == 11
    assert est.model_.get_flat_params().tobytes() == _bare_ctypes_fit(unit_data).tobytes()


def test_results_of_a_fitted_model_match_bare_ctypes(unit_data):
    with autoenc.Model(WIDTHS, seed=5) as m:
        m.fit(unit_data)
        lib = ctypes.CDLL(autoenc.library_path)
        z = np.empty((300, 3), np.float32)
        lib.ae_model_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                        ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
        assert lib.ae_model_encode(m._h, unit_data.ctypes.data, 300, 12, z.ctypes.data, 3) == 0
        assert m.encode(unit_data).tobytes() == z.tobytes()
