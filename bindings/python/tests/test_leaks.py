"""No leak over thousands of create / fit / use / free cycles: neither in the library
(resident memory) nor in Python objects (tracemalloc)."""

import gc
import os
import tracemalloc

import numpy as np

import autoenc

PAGE = os.sysconf("SC_PAGESIZE")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def cycle(x, close):
    m = autoenc.Model([16, 8, 4], epochs=1, batch_size=32, seed=1)
    m.fit(x)
    m.encode(x[:5])
    m.score(x[:5])
    m.fit_threshold(x, 0.1)
    m.detect(x[:5])
    twin = autoenc.Model.from_bytes(m.to_bytes())
    twin.reconstruct(x[:2])
    if close:
        twin.close()
        m.close()
    # otherwise both go with their last reference (weakref.finalize)


def measure(x, n, close):
    for _ in range(200):  # warm up: allocator pools, OpenBLAS buffers, caches
        cycle(x, close)
    gc.collect()
    tracemalloc.start()
    try:
        rss0 = rss_bytes()
        traced0 = tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            cycle(x, close)
        gc.collect()
        return rss_bytes() - rss0, tracemalloc.get_traced_memory()[0] - traced0
    finally:
        tracemalloc.stop()


def test_no_leak_over_thousands_of_closed_models():
    x = np.random.default_rng(0).random((64, 16), dtype=np.float32)
    rss, traced = measure(x, 2000, close=True)
    print("2000 cycles with close(): RSS %+d KiB, Python objects %+d B" % (rss // 1024, traced))
    # one leaked model of this size is ~10 KiB: 2000 would be 20 MiB
    assert rss < 2 * 1024 * 1024, rss
    assert traced < 64 * 1024, traced


def test_no_leak_when_models_are_left_to_the_garbage_collector():
    x = np.random.default_rng(0).random((64, 16), dtype=np.float32)
    rss, traced = measure(x, 2000, close=False)
    print("2000 cycles freed by the collector: RSS %+d KiB, Python objects %+d B" % (rss // 1024, traced))
    assert rss < 2 * 1024 * 1024, rss
    assert traced < 64 * 1024, traced


def test_no_leak_in_failing_calls():
    x = np.random.default_rng(0).random((64, 16), dtype=np.float32)
    bad = x.copy()
    bad[3, 3] = np.nan

    def failing():
        with autoenc.Model([16, 4]) as m:
            for call in (lambda: m.fit(bad), lambda: m.encode(bad), lambda: m.set_threshold(-1),
                         lambda: autoenc.Model.from_bytes(b"junk"), lambda: m.sample(2)):
                try:
                    call()
                except autoenc.Error:
                    pass

    for _ in range(100):
        failing()
    gc.collect()
    tracemalloc.start()
    try:
        rss0, traced0 = rss_bytes(), tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            failing()
        gc.collect()
        rss, traced = rss_bytes() - rss0, tracemalloc.get_traced_memory()[0] - traced0
    finally:
        tracemalloc.stop()
    print("2000 cycles of failing calls: RSS %+d KiB, Python objects %+d B" % (rss // 1024, traced))
    assert rss < 2 * 1024 * 1024 and traced < 64 * 1024, (rss, traced)
