"""Every status code becomes its exception, with the library's message."""

import pickle
import struct
import threading

import numpy as np
import pytest

import autoenc
from autoenc import _errors

EXPECTED = {
    -1: (autoenc.InvalidArgumentError, ValueError),
    -2: (autoenc.OutOfMemoryError, MemoryError),
    -3: (autoenc.SizeOverflowError, ValueError),
    -4: (autoenc.NonFiniteInputError, ValueError),
    -5: (autoenc.InputRangeError, ValueError),
    -6: (autoenc.StateError, RuntimeError),
    -7: (autoenc.CancelledError, autoenc.Error),
    -8: (autoenc.DivergedError, FloatingPointError),
    -9: (autoenc.FileIOError, OSError),
    -10: (autoenc.FormatError, ValueError),
    -11: (autoenc.ChecksumError, autoenc.FormatError),
    -12: (autoenc.VersionError, ValueError),
    -13: (autoenc.BufferTooSmallError, ValueError),
    -14: (autoenc.NonFiniteResultError, FloatingPointError),
    -15: (autoenc.BusyError, RuntimeError),
    -16: (autoenc.PeerError, RuntimeError),
}


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_each_status_has_its_class(status):
    cls, builtin = EXPECTED[status]
    assert autoenc.error_class(status) is cls
    assert issubclass(cls, autoenc.Error) and issubclass(cls, builtin)
    err = cls("what happened", status, "ae_model_fit")
    assert err.status == status and err.message == "what happened" and err.function == "ae_model_fit"
    assert str(err) == "ae_model_fit: what happened"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls and back.status == status and str(back) == str(err)


def test_unknown_status_gives_the_base_class():
    assert autoenc.error_class(-99) is autoenc.Error
    err = autoenc.Error("", -99)
    assert str(err) == "unknown status"


def test_status_strings_come_from_the_library():
    for status in EXPECTED:
        if status == -16 and autoenc.version_number() < 400:
            continue  # a status newer libraries may name
        assert autoenc.status_str(status) not in ("", "unknown status")
    assert autoenc.status_str(0) == "success"


def test_nan_in_data_is_a_value_error_naming_row_and_column(model):
    x = np.zeros((20, 12), np.float32)
    x[7, 4] = np.nan
    with pytest.raises(ValueError, match="row 7, column 4") as info:
        model.fit(x)
    assert isinstance(info.value, autoenc.NonFiniteInputError) and info.value.status == -4
    assert "row 7, column 4" in model.last_error  # a non-const call: the model's message
    x[7, 4] = np.inf
    with pytest.raises(autoenc.NonFiniteInputError, match="Inf at row 7, column 4"):
        model.encode(x)
    with pytest.raises(autoenc.NonFiniteInputError, match="row 7"):
        model.score(x)


def test_bce_data_outside_the_unit_range_names_row_and_column(model):
    x = np.full((5, 12), 0.5, np.float32)
    x[3, 2] = 1.5
    with pytest.raises(autoenc.InputRangeError, match="row 3, column 2"):
        model.fit(x)


def test_messages_are_per_thread():
    with autoenc.Model([4, 2]) as m:
        with pytest.raises(autoenc.InvalidArgumentError):
            m.epochs = 0
        mine = autoenc.last_error()
        assert "epochs" in mine
        seen = []
        t = threading.Thread(target=lambda: seen.append(autoenc.last_error()))
        t.start()
        t.join()
        assert seen == [""]  # another thread has its own message
        assert autoenc.last_error() == mine


def test_file_errors_are_os_errors(tmp_path):
    with pytest.raises(OSError) as info:
        autoenc.Model.load(tmp_path / "missing.aemodel")
    assert isinstance(info.value, autoenc.FileIOError) and "missing.aemodel" in str(info.value)
    with pytest.raises(autoenc.FileIOError):
        autoenc.Model.load(tmp_path)  # a folder
    with autoenc.Model([4, 2]) as m:
        with pytest.raises(autoenc.FileIOError):
            m.save(tmp_path)  # a folder
        with pytest.raises(autoenc.FileIOError):
            m.save(tmp_path / "no" / "such" / "folder" / "m.aemodel")


def _crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_damaged_model_data_gives_format_checksum_and_version_errors():
    with autoenc.Model([4, 2]) as m:
        data = bytearray(m.to_bytes())
    with pytest.raises(autoenc.FormatError):
        autoenc.Model.from_bytes(b"not a model at all, clearly")
    with pytest.raises(autoenc.FormatError):
        autoenc.Model.from_bytes(bytes(data[:-9]))
    flipped = bytearray(data)
    flipped[40] ^= 0xFF
    with pytest.raises(autoenc.ChecksumError) as info:
        autoenc.Model.from_bytes(bytes(flipped))
    assert isinstance(info.value, ValueError) and info.value.status == -11
    newer = bytearray(data)
    newer[8:10] = struct.pack("<H", 2)  # format_major 2
    newer[-4:] = struct.pack("<I", _crc32c(newer[:-4]))
    with pytest.raises(autoenc.VersionError):
        autoenc.Model.from_bytes(bytes(newer))
    with pytest.raises(autoenc.FormatError):
        autoenc.Model.from_bytes(b"")


def test_a_huge_model_is_a_memory_error():
    with pytest.raises(MemoryError) as info:
        autoenc.Model([1 << 24, 1 << 24, 1 << 24])
    assert isinstance(info.value, autoenc.OutOfMemoryError)


def test_divergence_restores_weights_and_carries_the_report(unit_data):
    with autoenc.Model([12, 8, 3], epochs=3, learning_rate=1e3, optimizer="sgd", seed=1,
                       divergence_factor=2.0) as m:
        before = m.get_flat_params()
        with pytest.raises(autoenc.DivergedError) as info:
            m.fit(unit_data * 100)
        report = info.value.report
        assert report is not None and report.stop_reason is autoenc.StopReason.DIVERGED
        assert "diverged" in str(info.value)
        after = m.get_flat_params()
        assert np.isfinite(after).all()
        assert np.array_equal(after, before)  # the first epoch diverged: its start is restored
        m.learning_rate = 1e-3
        m.fit(unit_data)  # usable


def test_busy_from_a_progress_callback_that_changes_the_model(model, unit_data):
    def change(progress):
        model.learning_rate = 0.1

    with pytest.raises(autoenc.BusyError) as info:
        model.fit(unit_data, callback=change)
    assert info.value.status == -15 and "const" in info.value.message
    assert model.learning_rate == 1e-3
    model.fit(unit_data)  # the callback is gone, the model usable

    def close_it(progress):
        model.close()

    with pytest.raises(autoenc.BusyError, match="in use"):
        model.fit(unit_data, callback=close_it)
    assert not model.closed


def test_encoder_only_model_refuses_decoder_calls(trained, unit_data):
    with trained.export_encoder() as enc:
        for call in (lambda: enc.fit(unit_data), lambda: enc.decode(np.zeros((1, 3))),
                     lambda: enc.score(unit_data), lambda: enc.train_batch(unit_data)):
            with pytest.raises(autoenc.StateError):
                call()


def test_input_conversion_errors(model):
    with pytest.raises(ValueError, match="cannot convert"):
        model.encode(np.array([["a"] * 12]))
    with pytest.raises(TypeError, match="complex"):
        model.encode(np.zeros((2, 12), np.complex64))
    with pytest.raises(ValueError, match=r"expected shape \(n_rows, 12\) or \(12,\), got \(5,\)"):
        model.encode(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"got \(\)"):
        model.encode(np.float32(1.0))
    with pytest.raises(ValueError, match=r"z: expected shape \(n_rows, 3\)"):
        model.decode(np.zeros((2, 12), np.float32))


def test_make_error_prefers_the_models_message_for_changing_calls():
    with autoenc.Model([4, 2]) as m:
        with pytest.raises(autoenc.InvalidArgumentError):
            m.batch_size = 0
        err = _errors.make_error(-1, "f", m._h)
        assert "batch_size" in err.message
        err = _errors.make_error(-15, "f", m._h)  # BUSY: the thread's message only
        assert err.message == autoenc.last_error()
