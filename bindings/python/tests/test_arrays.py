"""Arrays reach C without a copy when their layout allows, and are converted once otherwise."""

import tracemalloc
import warnings

import numpy as np
import pytest

import autoenc
from autoenc import _arrays


@pytest.fixture
def conversions(monkeypatch):
    """Counts the package's conversions (np.ascontiguousarray calls)."""
    calls = []
    real = np.ascontiguousarray

    def counting(array, dtype=None):
        calls.append((getattr(array, "dtype", None), getattr(array, "shape", None)))
        return real(array, dtype=dtype)

    monkeypatch.setattr(_arrays.np, "ascontiguousarray", counting)
    return calls


def test_float32_c_contiguous_and_row_strided_views_are_not_copied(trained, unit_data, conversions):
    expected = trained.encode(unit_data)
    wide = np.zeros((300, 20), np.float32)
    wide[:, 3:15] = unit_data
    every_other = np.repeat(unit_data, 2, axis=0)
    # The view of 10 rows is compared with a copy of the same 10 rows: OpenBLAS picks its
    # kernels by shape, so a row's last bits may depend on the call's number of rows.
    for x, same in ((unit_data, expected), (wide[:, 3:15], expected), (every_other[::2], expected),
                    (unit_data[10:20], trained.encode(unit_data[10:20].copy()))):
        got = trained.encode(x)
        np.testing.assert_array_equal(got, same)
        trained.score(x)
        trained.reconstruct(x)
        trained.feature_errors(x)
    assert conversions == []


def test_other_layouts_and_dtypes_are_converted_once(trained, unit_data, conversions):
    expected = trained.encode(unit_data)
    cases = [
        unit_data.astype(np.float64),
        np.asfortranarray(unit_data),
        unit_data.astype(">f4"),
        np.ascontiguousarray(np.repeat(unit_data, 2, axis=1))[:, ::2],  # column stride 8
    ]
    for x in cases:
        conversions.clear()
        np.testing.assert_array_equal(trained.encode(x), expected)
        assert len(conversions) == 1
    conversions.clear()
    reversed_rows = unit_data[::-1]
    np.testing.assert_array_equal(trained.encode(reversed_rows), expected[::-1])
    assert len(conversions) == 1
    np.testing.assert_array_equal(trained.encode(unit_data.tolist()), expected)
    np.testing.assert_array_equal(trained.encode((unit_data * 0).astype(np.int64)),
                                  trained.encode(np.zeros_like(unit_data)))


def test_misaligned_buffers_are_converted(trained, unit_data):
    raw = np.zeros(unit_data.nbytes + 1, np.uint8)
    misaligned = np.frombuffer(raw[1:].data, np.float32).reshape(unit_data.shape)
    misaligned[...] = unit_data  # writeable view with an odd address
    assert not misaligned.flags.aligned
    np.testing.assert_array_equal(trained.encode(misaligned), trained.encode(unit_data))


def test_read_only_and_memory_mapped_inputs(trained, unit_data, tmp_path):
    ro = unit_data.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(trained.encode(ro), trained.encode(unit_data))
    path = tmp_path / "x.f32"
    unit_data.tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=unit_data.shape)
    np.testing.assert_array_equal(trained.encode(mm), trained.encode(unit_data))
    trained.fit(mm)  # training reads it in place too


def test_no_copy_of_a_large_input(trained):
    """A 16 MB float32 input: encoding allocates its output (small) but no copy of it."""
    x = np.random.default_rng(1).random((350_000, 12), dtype=np.float32)
    trained.encode(x[:10])  # warm up
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        z = trained.encode(x[::2])  # a row-strided view of half the rows
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert z.shape == (175_000, 3)
    assert peak < z.nbytes + (1 << 20), peak  # the output and change, no 8 MB copy
    # and a float64 input is converted exactly once (one float32 copy)
    x64 = x[:100_000].astype(np.float64)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        trained.encode(x64)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    one_copy = 100_000 * 12 * 4
    assert one_copy <= peak < one_copy + 100_000 * 3 * 4 + (1 << 20), peak


def test_one_dimensional_input_is_one_row(trained, unit_data):
    np.testing.assert_allclose(trained.encode(unit_data[5]), trained.encode(unit_data[5:6])[0],
                               rtol=1e-5, atol=1e-6)
    assert trained.encode(list(unit_data[5])).shape == (3,)


def test_address_of_read_only_and_empty_arrays():
    a = np.arange(4, dtype=np.float32)
    a.flags.writeable = False
    assert _arrays.address(a) == a.__array_interface__["data"][0]
    b = np.arange(4, dtype=np.float32)
    assert _arrays.address(b) == b.__array_interface__["data"][0]


def test_weights_accept_lists_and_other_dtypes(trained):
    w = trained.get_weights(0)
    trained.set_weights(0, w.tolist())
    np.testing.assert_array_equal(trained.get_weights(0), w)
    trained.set_weights(0, np.asfortranarray(w.astype(np.float64)))
    np.testing.assert_array_equal(trained.get_weights(0), w)
    with pytest.raises(TypeError, match="complex"):
        trained.set_weights(0, w.astype(np.complex64))
    trained.set_bias(0, trained.get_bias(0).astype(np.float64)[::-1][::-1])


def test_zero_rows_with_out_arrays(trained):
    """numpy gives an empty array strides (0, 0); with no row to write, any layout fits."""
    m = trained
    empty_in, empty_code = np.empty((0, m.input_dim), np.float32), np.empty((0, m.latent_dim), np.float32)
    assert empty_code.strides == (0, 0)
    for method, x, width in ((m.encode, empty_in, m.latent_dim), (m.decode, empty_code, m.input_dim),
                             (m.reconstruct, empty_in, m.input_dim),
                             (m.feature_errors, empty_in, m.input_dim)):
        out = np.empty((0, width), np.float32)
        assert method(x, out=out) is out
    scores = np.empty(0, np.float32)
    assert m.score(empty_in, out=scores) is scores
    with autoenc.Model([12, 3], variational=True) as v:
        mean, logv = np.empty((0, 3), np.float32), np.empty((0, 3), np.float32)
        got = v.encode_distribution(empty_in, out_mean=mean, out_log_variance=logv)
        assert got[0] is mean and got[1] is logv
        out = np.empty((0, 12), np.float32)
        assert v.sample(0, out=out) is out


def test_finite_values_beyond_float32_are_refused_where_they_are(trained):
    """Not cast to Inf (a numpy warning, then 'input holds Inf'): a ValueError that names
    the place and the reason, and no warning."""
    m = trained
    x = np.zeros((3, m.input_dim))
    x[2, 5] = -1e300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for call in (lambda: m.encode(x), lambda: m.score(x), lambda: m.fit(x),
                     lambda: m.fit_source([x])):
            with pytest.raises(ValueError, match=r"row 2, column 5 holds -1e\+300, beyond the range of float32"):
                call()
        with pytest.raises(ValueError, match=r"index 1 holds 1e\+40, beyond the range of float32"):
            m.set_bias(-1, [0.0, 1e40] + [0.0] * (m.input_dim - 2))
        with pytest.raises(ValueError, match="beyond the range of float32"):
            m.set_weights(0, np.full(m.get_weights(0).shape, 4e38))
        x[2, 5] = np.inf  # a true Inf is still the library's NonFiniteInputError
        with pytest.raises(autoenc.NonFiniteInputError):
            m.encode(x)


def test_masked_values_are_refused_not_read(trained, unit_data):
    """The library would read what lies under the mask as data."""
    m = trained
    x = np.ma.masked_array(unit_data, mask=np.zeros(unit_data.shape, bool))
    np.testing.assert_array_equal(m.encode(x), m.encode(unit_data))  # nothing masked: its data
    x[3, 4] = np.ma.masked
    for call in (lambda: m.encode(x), lambda: m.score(x[3]), lambda: m.fit(x),
                 lambda: m.fit_source([x]), lambda: autoenc.Autoencoder(epochs=1).fit(x),
                 lambda: m.set_bias(0, np.ma.masked_array(np.zeros(8), mask=[1] + [0] * 7))):
        with pytest.raises(ValueError, match="masked array with masked values"):
            call()
