"""Stopping a fit: Ctrl-C (a real SIGINT sent to a child process), the user's callback,
and exceptions raised inside the callback."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import autoenc
from conftest import subprocess_env

CHILD = textwrap.dedent(r"""
    import json, signal, sys
    import numpy as np
    import autoenc

    rows, batch = int(sys.argv[1]), 32
    x = np.random.default_rng(0).random((rows, 256), dtype=np.float32)
    m = autoenc.Model([256, 1024, 1024, 32], epochs=1000, batch_size=batch, seed=1)
    outcome = {"steps_per_epoch": rows // batch}
    print("training", flush=True)
    try:
        m.fit(x)  # one epoch takes seconds; no callback of the user's
        outcome["result"] = "completed"
    except KeyboardInterrupt as exc:
        outcome["result"] = "interrupted"
        outcome["message"] = str(exc)
    outcome["steps"] = m.get_optimizer_state().step
    outcome["finite"] = bool(np.isfinite(m.get_flat_params()).all())
    outcome["encodes"] = m.encode(x[:3]).shape[0]
    outcome["every_batch_restored"] = m.progress_every_batch is False
    outcome["handler_restored"] = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    m.epochs = 1
    outcome["trains_again"] = m.fit(x[:64]).epochs_run
    print(json.dumps(outcome), flush=True)
""")


def test_ctrl_c_stops_the_fit_at_the_next_batch_and_leaves_a_usable_model(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), "64000"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        line = child.stdout.readline()
        assert line.strip() == "training", child.stderr.read()
        time.sleep(1.0)  # inside the first epoch, which takes seconds
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
        elapsed = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    outcome = json.loads(out.strip().splitlines()[-1])
    print(outcome, "%.2f s from the signal to the end of the child" % elapsed)
    assert outcome["result"] == "interrupted" and "Ctrl-C" in outcome["message"]
    assert outcome["finite"] and outcome["encodes"] == 3
    assert outcome["every_batch_restored"] and outcome["handler_restored"]
    assert outcome["trains_again"] == 1
    # stopped inside the first epoch: at a batch, not at an epoch's end
    assert 0 < outcome["steps"] < outcome["steps_per_epoch"], outcome


APP_HANDLER_CHILD = textwrap.dedent(r"""
    import signal, sys
    import numpy as np
    import autoenc

    class Stop(Exception):
        pass

    seen = []

    def handler(signum, frame):
        seen.append(signum)
        if sys.argv[1] == "raise":
            raise Stop()

    signal.signal(signal.SIGINT, handler)
    rows = int(sys.argv[3])
    x = np.random.default_rng(0).random((rows, 64), dtype=np.float32)
    m = autoenc.Model([64, 512, 512, 8], epochs=int(sys.argv[2]), batch_size=16)
    print("training", flush=True)
    try:
        report = m.fit(x)
        print("completed", report.epochs_run, seen == [signal.SIGINT],
              signal.getsignal(signal.SIGINT) is handler, flush=True)
    except Stop:
        # the handler ran at the next batch, inside the package's callback; its
        # exception stopped the fit and surfaced here
        print("stopped", m.get_optimizer_state().step < rows // 16,
              signal.getsignal(signal.SIGINT) is handler, m.encode(x[:1]).shape, flush=True)
""")


def _run_app_handler_child(tmp_path, mode, epochs, rows):
    script = tmp_path / "child.py"
    script.write_text(APP_HANDLER_CHILD)
    child = subprocess.Popen([sys.executable, str(script), mode, str(epochs), str(rows)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert child.stdout.readline().strip() == "training"
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert "Exception ignored" not in err, err
    return out.strip()


def test_an_application_sigint_handler_runs_at_the_next_batch_and_may_stop_the_fit(tmp_path):
    assert _run_app_handler_child(tmp_path, "raise", 1000, 20000) == "stopped True True (1, 8)"


def test_an_application_sigint_handler_that_returns_lets_training_go_on(tmp_path):
    assert _run_app_handler_child(tmp_path, "log", 2, 3000) == "completed 2 True True"


def test_a_callback_returning_true_stops_the_fit_without_an_error(model, unit_data):
    calls = []

    def stop_after_two(progress):
        calls.append(progress)
        return progress.epoch == 2

    model.epochs = 10
    report = model.fit(unit_data, callback=stop_after_two)
    assert report.stop_reason is autoenc.StopReason.CANCELLED
    assert report.epochs_run == 2 and len(calls) == 2
    assert all(p.epoch_end for p in calls)
    assert calls[0].epochs == 10 and calls[0].batch == calls[0].batches


def test_an_exception_in_the_callback_cancels_the_fit_and_is_re_raised(model, unit_data):
    class Boom(Exception):
        pass

    def explode(progress):
        raise Boom("from the callback")

    before = model.get_flat_params()
    with pytest.raises(Boom, match="from the callback") as info:
        model.fit(unit_data, callback=explode)
    assert any(frame.name == "explode" for frame in info.traceback)
    assert not np.array_equal(model.get_flat_params(), before)  # epoch 1 ran
    assert model.fit(unit_data).stop_reason is autoenc.StopReason.COMPLETED  # usable, no callback


def test_keyboard_interrupt_raised_inside_a_callback_is_re_raised(model, unit_data):
    def interrupt(progress):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.fit(unit_data, callback=interrupt)
    assert np.isfinite(model.get_flat_params()).all()


def test_catch_interrupt_off_installs_no_handler(model, unit_data):
    seen = []
    model.fit(unit_data, callback=lambda p: seen.append(signal.getsignal(signal.SIGINT)),
              catch_interrupt=False)
    assert seen and all(h is signal.default_int_handler for h in seen)
    seen.clear()
    model.fit(unit_data, callback=lambda p: seen.append(signal.getsignal(signal.SIGINT)))
    assert seen and all(h is not signal.default_int_handler for h in seen)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
