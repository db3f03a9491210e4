"""Stage 7: speed of the reference model 784-512-256-64 (ReLU, sigmoid output, BCE,
Adam, batch 128) in libautoenc and PyTorch, measured in the same process: training
samples per second over one pass of 12,800 rows, and encoding of the 10,000 test
images, the two frameworks alternating, the median of the repetitions. The thread
counts are the run's (OpenBLAS, libautoenc's own threads and torch.set_num_threads).
docs/performance.md has the full benchmark (the GEMM-only floor, batch sizes, kann,
FANN)."""

import statistics
import time

import numpy as np

from stage_recon import reference_model

NAME = "speed"


def run(ctx):
    x_train, _y, x_test, _yt = ctx.fashion()
    reps = 2 if ctx.quick else 7
    n_rows = min(len(x_train), 640 if ctx.quick else 12800)
    xs = np.ascontiguousarray(x_train[:n_rows])
    lib = reference_model(64, 1, ctx.seeds[0], ctx.threads, shuffle=True)
    tm = None
    if ctx.torch is not None:
        from torch_ae import TorchAE
        tm = TorchAE(ctx.torch, [784, 512, 256, 64], latent_relu=True, seed=ctx.seeds[0])
    # warm-up: one pass each
    lib.fit(xs)
    if tm is not None:
        tm.fit(xs, 1, 128)
    times = {"lib_train": [], "torch_train": [], "lib_encode": [], "torch_encode": []}
    for rep in range(reps):
        order = ("lib", "torch") if rep % 2 == 0 else ("torch", "lib")
        for who in order:
            if who == "lib":
                t = time.perf_counter()
                lib.fit(xs)
                times["lib_train"].append(time.perf_counter() - t)
                t = time.perf_counter()
                lib.encode(x_test)
                times["lib_encode"].append(time.perf_counter() - t)
            elif tm is not None:
                times["torch_train"].append(tm.fit(xs, 1, 128))
                t = time.perf_counter()
                tm.encode(x_test)
                times["torch_encode"].append(time.perf_counter() - t)
    res = {"rows": n_rows, "encode_rows": len(x_test), "reps": reps, "batch": 128}
    for key, vals in times.items():
        if vals:
            rows = n_rows if key.endswith("train") else len(x_test)
            res[key] = {"median_s": statistics.median(vals), "samples_per_s": rows / statistics.median(vals),
                        "min_s": min(vals), "max_s": max(vals)}
    if "torch_train" in res:
        res["train_ratio"] = res["lib_train"]["samples_per_s"] / res["torch_train"]["samples_per_s"]
        res["encode_ratio"] = res["lib_encode"]["samples_per_s"] / res["torch_encode"]["samples_per_s"]
        ctx.log(NAME, "training %.0f vs %.0f samples/s (%.2fx), encoding %.0f vs %.0f (%.2fx)" % (
            res["lib_train"]["samples_per_s"], res["torch_train"]["samples_per_s"], res["train_ratio"],
            res["lib_encode"]["samples_per_s"], res["torch_encode"]["samples_per_s"], res["encode_ratio"]))
    ctx.check(NAME, "timings measured", res["lib_train"]["samples_per_s"] > 0)
    ctx.results[NAME] = res
