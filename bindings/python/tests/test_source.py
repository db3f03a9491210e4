"""Model.fit_source: rows streamed from Python sources (ae_model_fit_source)."""

import os
import signal

import numpy as np
import pytest

import autoenc

pytestmark = pytest.mark.skipif(not autoenc._lib.has("ae_model_fit_source"),
                                reason="the library has no ae_model_fit_source")


def model(**settings):
    return autoenc.Model([12, 8, 3], epochs=3, batch_size=32, shuffle=False, seed=4, **settings)


def test_streamed_fit_equals_the_in_memory_fit_bit_for_bit(unit_data, tmp_path):
    with model() as reference:
        reference.fit(unit_data)
        expected = reference.get_flat_params().tobytes()
    chunks = [unit_data[i:i + 70] for i in range(0, 300, 70)]
    path = tmp_path / "x.f32"
    unit_data.tofile(path)
    mapped = np.memmap(path, dtype=np.float32, mode="r", shape=unit_data.shape)
    for source in (chunks, lambda: iter(chunks), mapped, lambda: (row for row in unit_data),
                   [c.astype(np.float64) for c in chunks]):
        with model() as m:
            report = m.fit_source(source)
            assert report.epochs_run == 3 and len(report.train_loss_history) == 3
            assert m.get_flat_params().tobytes() == expected


def test_a_validation_source_is_read_every_epoch(unit_data):
    passes = []

    def validation():
        passes.append(1)
        return iter([unit_data[:50]])

    with autoenc.Model([12, 8, 3], epochs=4, seed=1) as m:
        report = m.fit_source([unit_data[50:]], validation)
        assert len(report.val_loss_history) == 4 and not np.isnan(report.final_val_loss)
        assert len(passes) >= 4


def test_with_shuffling_and_standardisation(unit_data):
    with autoenc.Model([12, 8, 3], epochs=2, scaling="standardize", shuffle_buffer=100) as m:
        m.fit_source([unit_data[:150], unit_data[150:]])
        offset, _ = m.get_scaling()
        np.testing.assert_allclose(offset, unit_data.mean(axis=0), rtol=1e-4, atol=1e-5)


def test_one_pass_iterators_and_other_objects_are_refused(unit_data):
    with model() as m:
        with pytest.raises(TypeError, match="iterator"):
            m.fit_source(iter([unit_data]))
        with pytest.raises(TypeError, match="iterator"):
            m.fit_source(row for row in unit_data)
        with pytest.raises(TypeError, match="data source"):
            m.fit_source(42)
        with pytest.raises(ValueError, match=r"\(n_rows, 12\)"):
            m.fit_source(unit_data[:, :5])


def test_bad_chunks_and_failing_sources_raise_their_own_errors(unit_data):
    with model() as m:
        before = m.get_flat_params()
        with pytest.raises(ValueError, match=r"expected chunks of shape \(n_rows, 12\).*got \(10, 5\)"):
            m.fit_source([unit_data[:20], unit_data[:10, :5]])
        with pytest.raises(TypeError, match="real numbers"):
            m.fit_source([unit_data.astype(np.complex64)])

        class DiskGone(Exception):
            pass

        def failing():
            yield unit_data[:100]
            raise DiskGone("the disk went away")

        with pytest.raises(DiskGone):
            m.fit_source(failing)
        assert np.array_equal(m.get_flat_params(), before)  # refused before any step
        nan_rows = unit_data.copy()
        nan_rows[123, 4] = np.nan
        with pytest.raises(autoenc.NonFiniteInputError, match="column 4"):
            m.fit_source([nan_rows])
        m.fit_source([unit_data])  # usable


def test_a_source_that_changes_between_passes_is_an_error(unit_data):
    calls = []

    def shrinking():
        calls.append(1)
        return iter([unit_data[: 300 - 100 * (len(calls) - 1)]])

    with model() as m:
        with pytest.raises(autoenc.Error):
            m.fit_source(shrinking)


def test_validation_fraction_conflicts_with_a_source(unit_data):
    with autoenc.Model([12, 3], validation_fraction=0.1) as m:
        with pytest.raises(autoenc.StateError):
            m.fit_source([unit_data])


def test_ctrl_c_while_the_library_counts_the_rows_stops_at_the_next_chunk(unit_data):
    sent = []

    def slow_source():
        for i in range(1000):
            if i == 3 and not sent:
                sent.append(1)
                os.kill(os.getpid(), signal.SIGINT)  # as if Ctrl-C were pressed
            yield unit_data[:5]

    with model() as m:
        with pytest.raises(KeyboardInterrupt):
            m.fit_source(slow_source)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        m.fit_source([unit_data])
