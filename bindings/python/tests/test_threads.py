"""Threads: calls release the GIL, several threads encode with one model in parallel and
get identical results, misuse across threads is a BusyError, never a crash, and a forked
child goes on training a model whose worker threads started in its parent."""

import multiprocessing
import threading
import time

import numpy as np
import pytest

import autoenc


@pytest.fixture(scope="module")
def big():
    """A model and data large enough that one encode takes milliseconds."""
    rng = np.random.default_rng(3)
    x = rng.random((3000, 256), dtype=np.float32)
    m = autoenc.Model([256, 512, 256, 32], seed=1)
    yield m, x
    m.close()


def test_calls_release_the_gil(big):
    """While one thread is inside encode, another thread runs Python code."""
    model, x = big
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.01)
        advances = []
        for _ in range(5):
            before = counter[0]
            model.encode(x)
            advances.append(counter[0] - before)
    finally:
        stop.set()
        spinner.join()
    # Holding the GIL through the call would leave the counter still; the interpreter
    # also switches at most every 5 ms, so a few advances alone prove little: ask for
    # thousands in a call of several milliseconds.
    print("counter advances during encode calls:", advances)
    assert max(advances) > 1000, advances


def test_threads_encoding_with_one_model_overlap_and_agree(big):
    model, x = big
    expected = model.encode(x)
    n_threads, calls = 4, 6
    spans = {}
    results = {}
    barrier = threading.Barrier(n_threads)

    def work(k):
        barrier.wait()
        mine = []
        for _ in range(calls):
            t0 = time.perf_counter()
            z = model.encode(x)
            mine.append((t0, time.perf_counter()))
            results.setdefault(k, []).append(z)
        spans[k] = mine

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(n_threads):
        for z in results[k]:
            assert z.tobytes() == expected.tobytes()
    # Two calls from different threads were inside the library at the same time: the
    # overlap of their spans is most of a call, which the GIL would not allow.
    best = 0.0
    for a in range(n_threads):
        for b in range(a + 1, n_threads):
            for s0, s1 in spans[a]:
                for t0, t1 in spans[b]:
                    overlap = min(s1, t1) - max(s0, t0)
                    best = max(best, overlap / min(s1 - s0, t1 - t0))
    print("largest overlap of two threads' calls: %.0f%% of a call" % (100 * best))
    assert best > 0.5, best


def test_concurrent_fits_of_separate_models_equal_sequential_ones(unit_data):
    def fit(seed):
        with autoenc.Model([12, 8, 3], seed=seed, epochs=3, threads=1) as m:
            m.fit(unit_data)
            return m.get_flat_params()

    sequential = [fit(s) for s in range(4)]
    parallel = [None] * 4

    def run(s):
        parallel[s] = fit(s)

    threads = [threading.Thread(target=run, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(sequential, parallel):
        assert a.tobytes() == b.tobytes()


def test_reading_or_changing_a_model_while_another_thread_trains_it_is_busy(unit_data):
    m = autoenc.Model([12, 8, 3], epochs=2, batch_size=16, progress_every_batch=True)
    inside, release = threading.Event(), threading.Event()
    outcome = {}

    def callback(progress):
        inside.set()
        release.wait(10)  # the fit stays inside the library's call meanwhile
        return False

    def train():
        try:
            outcome["report"] = m.fit(unit_data, callback=callback)
        except BaseException as exc:  # noqa: B902
            outcome["error"] = exc

    trainer = threading.Thread(target=train)
    trainer.start()
    try:
        assert inside.wait(10)
        with pytest.raises(autoenc.BusyError) as info:
            m.encode(unit_data)
        assert info.value.status == -15 and info.value.function == "ae_model_encode"
        with pytest.raises(autoenc.BusyError):
            m.learning_rate = 0.5
        with pytest.raises(autoenc.BusyError):
            m.fit(unit_data)
        with pytest.raises(autoenc.BusyError, match="in use"):
            m.close()
    finally:
        release.set()
        trainer.join(30)
    assert "error" not in outcome, outcome.get("error")
    assert m.learning_rate == 1e-3
    m.encode(unit_data)
    m.close()


def test_a_fit_in_a_worker_thread_has_no_sigint_guard_and_works(unit_data):
    result = {}

    def run():
        with autoenc.Model([12, 3], epochs=2) as m:
            result["report"] = m.fit(unit_data, verbose=False)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert result["report"].epochs_run == 2


def test_fits_racing_with_a_reader_thread_never_leave_a_dangling_callback(unit_data):
    """A reader may hold the model the moment a fit returns; the package still removes
    its callback (retrying while BUSY) or keeps it alive, so later fits never call
    freed memory."""
    m = autoenc.Model([12, 8, 3], epochs=1, batch_size=64)
    big = np.tile(unit_data, (20, 1))
    stop = threading.Event()
    reads = [0, 0]

    def reader():
        while not stop.is_set():
            try:
                m.encode(big)
                reads[0] += 1
            except autoenc.BusyError:
                reads[1] += 1

    t = threading.Thread(target=reader)
    t.start()
    fits = busy = 0
    deadline = time.monotonic() + 5
    try:
        while fits < 20 and time.monotonic() < deadline:
            try:
                m.fit(unit_data, callback=lambda p: None)
                fits += 1
            except autoenc.BusyError:
                busy += 1
            time.sleep(0.002)  # a window between fits in which the reader can get the model
    finally:
        stop.set()
        t.join()
    assert fits > 0 and reads[0] > 0, (fits, busy, reads)
    for _ in range(3):  # no stale callback is ever called
        m.fit(unit_data)
        m.pretrain(unit_data)
    m.close()


def test_a_forked_child_trains_the_parents_model():
    """multiprocessing forks by default on Linux. The model's worker threads (threads=2)
    start at its first step in the parent and do not exist in the child, which used to wait
    for them for ever; its next step must equal the parent's, bit for bit."""
    rng = np.random.default_rng(5)
    x = rng.random((512, 96), dtype=np.float32)
    model = autoenc.Model([96, 256, 16], seed=11, threads=2)
    for _ in range(2):
        model.train_batch(x)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def child():
        model.train_batch(x)
        sender.send(model.get_flat_params())

    process = context.Process(target=child)
    process.start()
    try:
        model.train_batch(x)
        expected = model.get_flat_params()
        assert receiver.poll(120), "the child's training step hung"
        got = receiver.recv()
        process.join(30)
        assert process.exitcode == 0
        np.testing.assert_array_equal(got, expected)
    finally:
        if process.is_alive():
            process.kill()
            process.join()
        model.close()


class _BusyWhileReadersHold:
    """The library as the package sees it, except that changing ``progress_every_batch``
    back after a fit finds the model held by other threads' reads (AE_ERR_BUSY) for
    ``seconds``, as when reader threads keep taking it in turns."""

    def __init__(self, lib, seconds):
        self._lib, self._seconds, self._since = lib, seconds, None

    def __getattr__(self, name):
        return getattr(self._lib, name)

    def ae_model_set_param(self, handle, param, value):
        if param == autoenc.Param.PROGRESS_EVERY_BATCH and value == 0.0:
            self._since = self._since or time.monotonic()
            if time.monotonic() - self._since < self._seconds:
                return autoenc.BusyError.status
        return self._lib.ae_model_set_param(handle, param, value)


def test_a_fit_always_puts_progress_every_batch_back(unit_data, monkeypatch):
    """Readers holding the model for a while after a fit delay the setting's restore;
    they never leave it on (it would be saved with the model)."""
    import autoenc._model as model_module
    monkeypatch.setattr(model_module, "_L", _BusyWhileReadersHold(model_module._L, 2.5))
    m = autoenc.Model([12, 3], epochs=1)
    m.fit(unit_data)  # the main thread: Ctrl-C needs the call after every batch
    monkeypatch.undo()
    assert m.progress_every_batch is False
    m.close()


def test_readers_wait_while_a_fit_puts_its_settings_back(unit_data):
    """A read arriving while a fit restores its settings waits for that, and then runs."""
    m = autoenc.Model([12, 3], epochs=1)
    done = []
    with m._gate:
        reader = threading.Thread(target=lambda: done.append(m.encode(unit_data)))
        reader.start()
        time.sleep(0.05)
        assert not done
    reader.join(10)
    assert len(done) == 1
    m.close()


def test_a_second_training_call_is_busy_and_named(unit_data):
    m = autoenc.Model([12, 3], epochs=2)
    seen = {}

    def callback(progress):
        for name, call in (("fit", lambda: m.fit(unit_data)),
                           ("pretrain", lambda: m.pretrain(unit_data))):
            with pytest.raises(autoenc.BusyError) as info:
                call()
            seen[name] = info.value.function

    m.fit(unit_data, callback=callback)
    assert seen == {"fit": "fit", "pretrain": "pretrain"}
    assert m.progress_every_batch is False
    m.close()


def test_a_callback_that_cannot_be_called_is_refused_before_training(unit_data):
    m = autoenc.Model([12, 3], epochs=2)
    before = m.get_flat_params()
    for bad in (5, "print"):
        with pytest.raises(TypeError, match="callable"):
            m.fit(unit_data, callback=bad)
    np.testing.assert_array_equal(m.get_flat_params(), before)
    m.close()
