#!/usr/bin/python3
"""The Python package (bindings/python) against the C API, measured in one run.

  /usr/bin/python3 bench/bench_python.py --build build [--rows 60000] [--epochs 1]
        [--batch 256] [--threads 2] [--reps 5] [--calls 20000] [--blocks 15] [--json FILE]

1. fit: the reference model 784-512-256-64 mirrored (ReLU, sigmoid output, BCE, Adam) on
   Fashion-MNIST, the same fit (same seed, settings and thread counts) three ways in each
   repetition, the order rotating: from C (build/bench/bench_python_c, the
   ae_model_fit() call timed after a warm-up), through autoenc.Model.fit() in this
   process (the Python call timed, with the package's progress callback after every
   batch, as in any fit from the main thread), and as one bare ctypes call of
   ae_model_fit in this process (the same process, data and BLAS as the package's fit,
   without the package). The parameters after the three fits must be bit-identical.
   Then what the package adds is accounted for directly: fit()'s time outside the
   library's own clock of the call, and the per-batch callbacks times their cost.
2. encode, batch 1: the time per call of ae_model_encode() from C, of Model.encode() on a
   float32 C-contiguous (1, d) array, and of a bare ctypes call with ready arguments
   (the floor of any ctypes binding); the overhead is the package's time minus C's.
3. threads: encodes of one model from 1 and from 2 Python threads, in a child process
   with OPENBLAS_NUM_THREADS=1, to show the calls running in parallel.

OPENBLAS_NUM_THREADS is inherited by the C program from this process's environment, so
both sides use the same BLAS threads (report it with `env | grep OPENBLAS`).
"""

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python", "tests"))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--rows", type=int, default=60000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=2, help="AE_PARAM_THREADS on both sides")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--calls", type=int, default=20000)
    p.add_argument("--blocks", type=int, default=15)
    p.add_argument("--skip-fit", action="store_true")
    p.add_argument("--json")
    return p.parse_args()


def c_fit(args, program, params_path):
    cmd = [program, "fit", "--rows", str(args.rows), "--epochs", str(args.epochs), "--batch",
           str(args.batch), "--seed", "0", "--threads", str(args.threads), "--params", params_path]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    import numpy as np
    out["params"] = np.fromfile(params_path, dtype=np.float32)
    return out


def py_fit(args, autoenc, x):
    with autoenc.Model([784, 512, 256, 64], output_activation="sigmoid", loss="bce",
                       epochs=args.epochs, batch_size=args.batch, seed=0, threads=args.threads) as m:
        start = time.perf_counter()
        report = m.fit(x)
        seconds = time.perf_counter() - start
        # what the package adds around the C call: the time of fit() outside the library's
        # own measurement of the call (report.seconds, clocked inside ae_model_fit)
        return {"seconds": seconds, "report_seconds": report.seconds, "steps": report.steps_run,
                "outside_call_s": seconds - report.seconds,
                "final_train_loss": report.final_train_loss, "params": m.get_flat_params()}


def callback_cost(autoenc, calls=20000, blocks=7):
    """Seconds per call of the package's progress callback (the per-batch one it runs
    while the SIGINT guard is on): called through its ctypes function pointer, so the
    time includes ctypes' glue both ways (an upper bound of the library calling it)."""
    from autoenc import _lib, _progress
    monitor = _progress.FitMonitor(None, False, False)
    p = _lib.Progress_c(ctypes.sizeof(_lib.Progress_c), 1, 1, 1, 10, 0, 0.5, float("nan"), 0.0)
    pointer = ctypes.pointer(p)
    fn = monitor.c_function
    return per_call(lambda: fn(pointer, None), calls, blocks)


def bare_fit(args, autoenc, x):
    """The same fit as one bare ctypes call of ae_model_fit in this process (no callback,
    no package code around it): the C call itself, with the process, the data buffer and
    the BLAS library of the package's fit."""
    from autoenc import _lib
    lib = _lib.lib
    with autoenc.Model([784, 512, 256, 64], output_activation="sigmoid", loss="bce",
                       epochs=args.epochs, batch_size=args.batch, seed=0, threads=args.threads) as m:
        report = _lib.FitReport_c()
        report.size = ctypes.sizeof(report)
        start = time.perf_counter()
        status = lib.ae_model_fit(m._h, x.ctypes.data, x.shape[0], x.shape[1], ctypes.byref(report))
        seconds = time.perf_counter() - start
        assert status == 0, status
        return {"seconds": seconds, "final_train_loss": report.final_train_loss,
                "params": m.get_flat_params()}


def bench_fit(args, autoenc, program):
    from fashion_data import load
    x, _ = load("train", args.rows)
    import tempfile
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        orders = [("c", "py", "bare"), ("py", "bare", "c"), ("bare", "c", "py")]
        for rep in range(args.reps):
            pair = {}
            for side in orders[rep % 3]:
                if side == "c":
                    pair[side] = c_fit(args, program, os.path.join(tmp, "params.f32"))
                elif side == "py":
                    pair[side] = py_fit(args, autoenc, x)
                else:
                    pair[side] = bare_fit(args, autoenc, x)
            params = [pair[s].pop("params").tobytes() for s in ("c", "py", "bare")]
            pair["identical"] = (pair["c"]["final_train_loss"] == pair["py"]["final_train_loss"]
                                 == pair["bare"]["final_train_loss"] and params[0] == params[1] == params[2])
            rows.append(pair)
            print("  rep %d: C program %.3f s, package %.3f s (%+.2f%%), bare ctypes call %.3f s "
                  "(package %+.2f%%); parameters bit-identical: %s" % (
                      rep + 1, pair["c"]["seconds"], pair["py"]["seconds"],
                      100 * (pair["py"]["seconds"] / pair["c"]["seconds"] - 1), pair["bare"]["seconds"],
                      100 * (pair["py"]["seconds"] / pair["bare"]["seconds"] - 1), pair["identical"]),
                  flush=True)
    c = statistics.median(r["c"]["seconds"] for r in rows)
    py = statistics.median(r["py"]["seconds"] for r in rows)
    ratios = [r["py"]["seconds"] / r["c"]["seconds"] for r in rows]
    bare = statistics.median(r["bare"]["seconds"] for r in rows)
    bare_ratios = [r["py"]["seconds"] / r["bare"]["seconds"] for r in rows]
    identical = all(r["identical"] for r in rows)
    per_callback = callback_cost(autoenc)
    outside = statistics.median(r["py"]["outside_call_s"] for r in rows)
    steps = rows[0]["py"]["steps"]
    added = outside + steps * per_callback
    return {"c_seconds_median": c, "python_seconds_median": py, "python_over_c": py / c,
            "bare_seconds_median": bare, "python_over_bare": py / bare, "bare_ratios": bare_ratios,
            "python_over_bare_median_of_ratios": statistics.median(bare_ratios),
            "python_over_c_median_of_ratios": statistics.median(ratios),
            "callback_seconds": per_callback, "outside_call_seconds_median": outside,
            "package_added_seconds": added, "package_added_fraction": added / c,
            "pair_ratios": ratios, "identical_results": identical, "steps": rows[0]["c"]["steps"],
            "samples_per_second_c": args.rows * args.epochs / c,
            "samples_per_second_python": args.rows * args.epochs / py, "reps": rows}


def per_call(fn, calls, blocks):
    for _ in range(min(calls, 2000)):
        fn()
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def bench_encode(args, autoenc, program, model):
    import numpy as np
    widths = [int(w) for w in model.split("-")]
    c = json.loads(subprocess.run([program, "encode", "--model", model, "--calls", str(args.calls),
                                   "--blocks", str(args.blocks)], check=True, capture_output=True,
                                  text=True).stdout)["seconds_per_call"]
    m = autoenc.Model(widths)
    d, k = widths[0], widths[-1]
    x = (np.arange(d) % 17 / 17.0).astype(np.float32).reshape(1, d)
    z = np.empty((1, k), np.float32)
    package = per_call(lambda: m.encode(x), args.calls, args.blocks)
    one_d = per_call(lambda: m.encode(x[0]), args.calls, args.blocks)
    with_out = per_call(lambda: m.encode(x, out=z), args.calls, args.blocks)
    # the floor of any ctypes binding: a bare call with every argument ready
    fn = autoenc._lib.lib.ae_model_encode
    h, xp, zp = m._h, x.ctypes.data, z.ctypes.data
    bare = per_call(lambda: fn(h, xp, 1, d, zp, k), args.calls, args.blocks)
    m.close()
    return {"model": model, "c_us": c * 1e6, "package_us": package * 1e6,
            "package_1d_us": one_d * 1e6, "package_out_us": with_out * 1e6,
            "bare_ctypes_us": bare * 1e6, "overhead_us": (package - c) * 1e6,
            "bare_overhead_us": (bare - c) * 1e6}


THREADS_CHILD = r"""
import json, sys, threading, time
import numpy as np
import autoenc
m = autoenc.Model([784, 512, 256, 64])
x = np.random.default_rng(0).random((512, 784), dtype=np.float32)
calls = int(sys.argv[1])
def work(n):
    for _ in range(n):
        m.encode(x)
work(5)
best = {}
for rep in range(3):
    for n_threads in (1, 2):
        threads = [threading.Thread(target=work, args=(calls // n_threads,)) for _ in range(n_threads)]
        start, cpu = time.perf_counter(), time.process_time()
        for t in threads: t.start()
        for t in threads: t.join()
        wall = time.perf_counter() - start
        if wall < best.get(n_threads, (1e9, 0))[0]:
            best[n_threads] = (wall, (time.process_time() - cpu) / wall)
print(json.dumps({"one_thread_s": best[1][0], "two_threads_s": best[2][0],
                  "speedup": best[1][0] / best[2][0], "cpus_busy_two_threads": best[2][1]}))
"""


def bench_threads():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.path.join(ROOT, "bindings", "python"))
    out = subprocess.run([sys.executable, "-c", THREADS_CHILD, "200"], check=True,
                         capture_output=True, text=True, env=env).stdout
    return json.loads(out)


def main():
    args = parse_args()
    build = os.path.abspath(args.build)
    os.environ.setdefault("AUTOENC_LIBRARY", os.path.join(build, "src", "libautoenc.so.0"))
    program = os.path.join(build, "bench", "bench_python_c")
    if not os.path.exists(program):
        sys.exit("%s is missing: cmake --build %s --target bench_python_c" % (program, args.build))
    import autoenc
    result = {"library": autoenc.library_path, "python": sys.version.split()[0],
              "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
              "loadavg": os.getloadavg(), "args": vars(args)}
    if not args.skip_fit:
        print("fit: %d rows, %d epoch(s), batch %d, threads %d, %d pairs" % (
            args.rows, args.epochs, args.batch, args.threads, args.reps), flush=True)
        fit = bench_fit(args, autoenc, program)
        result["fit"] = fit
        print("fit: C median %.3f s, Python median %.3f s: Python/C = %.4f (pairs: %s); "
              "results identical: %s" % (fit["c_seconds_median"], fit["python_seconds_median"],
                                         fit["python_over_c"],
                                         ", ".join("%.3f" % r for r in fit["pair_ratios"]),
                                         fit["identical_results"]), flush=True)
        print("fit: bare ctypes call median %.3f s: package/bare = %.4f (median of the per-rep "
              "ratios %.4f: %s)" % (fit["bare_seconds_median"], fit["python_over_bare"],
                                   fit["python_over_bare_median_of_ratios"],
                                   ", ".join("%.3f" % r for r in fit["bare_ratios"])), flush=True)
        print("fit: what the package adds: %.3f ms outside the C call + %d per-batch callbacks x "
              "%.2f us = %.2f ms, %.4f%% of the C fit" % (
                  1e3 * fit["outside_call_seconds_median"], fit["steps"], 1e6 * fit["callback_seconds"],
                  1e3 * fit["package_added_seconds"], 100 * fit["package_added_fraction"]), flush=True)
    result["encode"] = []
    for model in ("4-2", "784-512-256-64"):
        e = bench_encode(args, autoenc, program, model)
        result["encode"].append(e)
        print("encode batch 1, %s: C %.2f us, package %.2f us (1-D %.2f, out= %.2f), bare ctypes "
              "%.2f us: overhead %.2f us (bare ctypes %.2f us)" % (
                  model, e["c_us"], e["package_us"], e["package_1d_us"], e["package_out_us"],
                  e["bare_ctypes_us"], e["overhead_us"], e["bare_overhead_us"]), flush=True)
    result["threads"] = bench_threads()
    print("encode 512 rows from 1 and 2 threads (OPENBLAS_NUM_THREADS=1): %.3f s, %.3f s: "
          "speedup %.2fx, %.2f CPUs busy with 2 threads (CPU time / wall time)" % (
              result["threads"]["one_thread_s"], result["threads"]["two_threads_s"],
              result["threads"]["speedup"], result["threads"]["cpus_busy_two_threads"]), flush=True)
    result["loadavg_end"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
