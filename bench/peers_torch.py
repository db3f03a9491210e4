#!/usr/bin/python3
"""libautoenc against PyTorch, side by side in one process.

Trains the same autoencoder (encoder widths mirrored, ReLU inside, linear latent, sigmoid
output with binary cross-entropy computed from the logits, Adam with the same learning
rate, betas and eps) at the same batch size and thread count with libautoenc (through
ctypes on the built libautoenc.so) and with PyTorch (torch.nn.BCEWithLogitsLoss,
torch.optim.Adam), starting from the same weights, on the same batches. The frameworks
alternate in blocks of steps, the order flipping every repetition, so machine noise hits
both alike. A block runs for at least --block-seconds (and --block steps), and every
step is timed: torch's OpenMP workers spin for milliseconds after its last parallel region
(libgomp's default wait policy), OpenBLAS's for up to 0.1 s after a threaded product, and
those spinning threads hold cores the next block needs; blocks long enough make the steps
they slow a small minority, which the medians set aside. In the same process and run it
also times the GEMM-only floor: bare
cblas_sgemm calls with exactly the step's shapes on separate buffers per layer, through
the very OpenBLAS both frameworks use.

  /usr/bin/python3 bench/peers_torch.py --lib BUILD/src/libautoenc.so \
      [--model 784-512-256-64] [--batches 64,256] [--threads N] [--reps 15] [--block 5] [--block-seconds 0.2] \
      [--lr 1e-3] [--json FILE]

Needs Debian's python3-torch and python3-numpy (apt-get install -y python3-torch
python3-numpy); run it with /usr/bin/python3 so that Debian's modules are found.
Thread count: --threads, else OPENBLAS_NUM_THREADS, else the number of CPUs; it is
applied to OpenBLAS (shared by both), to libautoenc's AE_PARAM_THREADS (its elementwise
threads) and to torch.set_num_threads.
"""
import argparse
import ctypes
import gzip
import json
import os
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lib", default=None, help="path to libautoenc.so (default: $AE_LIB or ./src/libautoenc.so)")
    p.add_argument("--model", default="784-512-256-64", help="encoder widths, mirrored (default 784-512-256-64)")
    p.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    p.add_argument("--threads", type=int, default=0, help="threads for OpenBLAS and torch")
    p.add_argument("--reps", type=int, default=15, help="repetitions (blocks per framework, default 15)")
    p.add_argument("--block", type=int, default=5, help="at least this many steps per block (default 5)")
    p.add_argument("--block-seconds", type=float, default=0.2,
                   help="and at least this long a block, in seconds (default 0.2; 0 for --block steps)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps per framework first (default 5)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
                   help="IDX images for the batches (784 columns only); random data if missing")
    p.add_argument("--json", default=None, help="write the figures to this file")
    return p.parse_args()


ARGS = parse_args()
THREADS = ARGS.threads or int(os.environ.get("OPENBLAS_NUM_THREADS", "0") or 0) or os.cpu_count() or 1
# OpenBLAS reads this when it is loaded, by torch or by libautoenc, whichever is first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(THREADS))

import numpy as np  # noqa: E402
import torch  # noqa: E402

# ---- libautoenc through ctypes -------------------------------------------------------

AE_OK = 0
AE_PARAM_HIDDEN_ACTIVATION, AE_PARAM_LATENT_ACTIVATION, AE_PARAM_OUTPUT_ACTIVATION = 2, 3, 4
AE_PARAM_LOSS, AE_PARAM_OPTIMIZER, AE_PARAM_LEARNING_RATE = 5, 10, 11
AE_PARAM_ADAM_BETA1, AE_PARAM_ADAM_BETA2, AE_PARAM_ADAM_EPSILON = 14, 15, 16
AE_ACT_LINEAR, AE_ACT_RELU, AE_ACT_SIGMOID = 0, 1, 4
AE_LOSS_BCE, AE_OPT_ADAM = 1, 1
AE_PARAM_THREADS = 30  # the library's threads for elementwise work (optimizer, loss)

c_float_p = ctypes.POINTER(ctypes.c_float)
c_size_p = ctypes.POINTER(ctypes.c_size_t)


def load_lib(path):
    lib = ctypes.CDLL(path)
    lib.ae_last_error.restype = ctypes.c_char_p
    lib.ae_version_string.restype = ctypes.c_char_p
    lib.ae_model_last_error.restype = ctypes.c_char_p
    lib.ae_model_last_error.argtypes = [ctypes.c_void_p]
    lib.ae_model_create.argtypes = [ctypes.POINTER(ctypes.c_void_p), c_size_p, ctypes.c_size_t, c_size_p,
                                    ctypes.c_size_t]
    lib.ae_model_free.argtypes = [ctypes.c_void_p]
    lib.ae_model_free.restype = None
    lib.ae_model_set_param.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_double]
    lib.ae_model_layer_count.argtypes = [ctypes.c_void_p]
    lib.ae_model_layer_count.restype = ctypes.c_size_t
    lib.ae_model_layer_info.argtypes = [ctypes.c_void_p, ctypes.c_size_t, c_size_p, c_size_p,
                                        ctypes.POINTER(ctypes.c_int)]
    lib.ae_model_get_weights.argtypes = [ctypes.c_void_p, ctypes.c_size_t, c_float_p, ctypes.c_size_t]
    lib.ae_model_get_bias.argtypes = [ctypes.c_void_p, ctypes.c_size_t, c_float_p, ctypes.c_size_t]
    lib.ae_model_train_batch.argtypes = [ctypes.c_void_p, c_float_p, ctypes.c_size_t, ctypes.c_size_t,
                                         ctypes.POINTER(ctypes.c_double)]
    return lib


class AeModel:
    def __init__(self, lib, widths, lr, threads):
        self.lib = lib
        self.handle = ctypes.c_void_p()
        arr = (ctypes.c_size_t * len(widths))(*widths)
        self.check(lib.ae_model_create(ctypes.byref(self.handle), arr, len(widths), None, 0), "create")
        for param, value in ((AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_RELU), (AE_PARAM_LATENT_ACTIVATION, AE_ACT_LINEAR),
                             (AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID), (AE_PARAM_LOSS, AE_LOSS_BCE),
                             (AE_PARAM_OPTIMIZER, AE_OPT_ADAM), (AE_PARAM_LEARNING_RATE, lr),
                             (AE_PARAM_ADAM_BETA1, 0.9), (AE_PARAM_ADAM_BETA2, 0.999),
                             (AE_PARAM_ADAM_EPSILON, 1e-8)):
            self.check(lib.ae_model_set_param(self.handle, param, float(value)), "set_param")
        self.check(lib.ae_model_set_param(self.handle, AE_PARAM_THREADS, float(threads)), "set_param(THREADS)")
        self.loss = ctypes.c_double()

    def check(self, status, what):
        if status != AE_OK:
            msg = (self.lib.ae_model_last_error(self.handle) if self.handle else self.lib.ae_last_error()).decode()
            raise RuntimeError(f"libautoenc {what}: {status}: {msg}")

    def layers(self):
        """(weight, bias) numpy arrays of every layer, for copying into torch."""
        out = []
        for layer in range(self.lib.ae_model_layer_count(self.handle)):
            n_out, n_in = ctypes.c_size_t(), ctypes.c_size_t()
            self.check(self.lib.ae_model_layer_info(self.handle, layer, ctypes.byref(n_out), ctypes.byref(n_in),
                                                    None), "layer_info")
            w = np.empty((n_out.value, n_in.value), dtype=np.float32)
            b = np.empty(n_out.value, dtype=np.float32)
            self.check(self.lib.ae_model_get_weights(self.handle, layer, w.ctypes.data_as(c_float_p), w.size), "w")
            self.check(self.lib.ae_model_get_bias(self.handle, layer, b.ctypes.data_as(c_float_p), b.size), "b")
            out.append((w, b))
        return out

    def step(self, x):
        self.check(self.lib.ae_model_train_batch(self.handle, x.ctypes.data_as(c_float_p), x.shape[0], x.shape[1],
                                                 ctypes.byref(self.loss)), "train_batch")
        return self.loss.value

    def free(self):
        self.lib.ae_model_free(self.handle)
        self.handle = ctypes.c_void_p()


# ---- PyTorch ---------------------------------------------------------------------------

class TorchModel:
    def __init__(self, layers, lr, foreach):
        mods = []
        n = len(layers)
        n_encoder = n // 2
        for i, (w, b) in enumerate(layers):
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            mods.append(lin)
            if i != n - 1 and i != n_encoder - 1:  # linear latent; the output's sigmoid is in the loss
                mods.append(torch.nn.ReLU())
        self.net = torch.nn.Sequential(*mods)
        self.loss_fn = torch.nn.BCEWithLogitsLoss()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8,
                                    foreach=foreach)

    def step(self, x):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.net(x), x)
        loss.backward()
        self.opt.step()
        return loss.item()


# ---- the GEMM-only floor through the same OpenBLAS ---------------------------------------

CblasRowMajor, CblasNoTrans, CblasTrans = 101, 111, 112


class GemmFloor:
    """Bare cblas_sgemm with the step's shapes; separate activation, delta, weight and
    gradient buffers per layer, as a real step has."""

    def __init__(self, blas, widths_full, batch, rng):
        self.sgemm = blas.cblas_sgemm
        self.sgemm.restype = None
        self.sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, c_float_p, ctypes.c_int, c_float_p,
                                                    ctypes.c_int, ctypes.c_float, c_float_p, ctypes.c_int]
        self.w = widths_full
        self.batch = batch
        f32 = np.float32
        self.act = [rng.random((batch, d), dtype=f32) for d in widths_full]
        self.delta = [None] + [rng.random((batch, d), dtype=f32) * f32(0.01) for d in widths_full[1:]]
        self.weight = [(rng.random((o, i), dtype=f32) - f32(0.5)) * f32(2.0 / i)
                       for i, o in zip(widths_full, widths_full[1:])]
        self.grad = [np.zeros_like(w) for w in self.weight]
        p = lambda a: a.ctypes.data_as(c_float_p)  # noqa: E731
        self.calls = []
        n = len(self.weight)
        for l in range(n):
            i, o = widths_full[l], widths_full[l + 1]
            self.calls.append((CblasRowMajor, CblasNoTrans, CblasTrans, batch, o, i, 1.0, p(self.act[l]), i,
                               p(self.weight[l]), i, 0.0, p(self.act[l + 1]), o))
        for l in reversed(range(n)):
            i, o = widths_full[l], widths_full[l + 1]
            self.calls.append((CblasRowMajor, CblasTrans, CblasNoTrans, o, i, batch, 1.0, p(self.delta[l + 1]), o,
                               p(self.act[l]), i, 0.0, p(self.grad[l]), i))
            if l:
                self.calls.append((CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, i, o, 1.0,
                                   p(self.delta[l + 1]), o, p(self.weight[l]), i, 0.0, p(self.delta[l]), i))

    def step(self, _x=None):
        for c in self.calls:
            self.sgemm(*c)
        return 0.0


def load_images(path, n_rows, d, rng):
    if d == 784 and os.path.exists(path):
        with gzip.open(path, "rb") as f:
            raw = f.read()
        images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784)[:n_rows]
        return (images.astype(np.float32) / np.float32(255.0)), "Fashion-MNIST"
    return rng.random((n_rows, d), dtype=np.float32), "uniform random in [0, 1)"


def openblas_info():
    blas = ctypes.CDLL("libopenblas.so.0")
    blas.openblas_get_corename.restype = ctypes.c_char_p
    blas.openblas_get_config.restype = ctypes.c_char_p
    return blas, blas.openblas_get_corename().decode(), blas.openblas_get_config().decode()


def main():
    lib_path = ARGS.lib or os.environ.get("AE_LIB") or "src/libautoenc.so"
    lib = load_lib(os.path.abspath(lib_path))
    blas, core, config = openblas_info()
    blas.openblas_set_num_threads(THREADS)
    torch.set_num_threads(THREADS)
    widths = [int(w) for w in ARGS.model.split("-")]
    widths_full = widths + widths[-2::-1]
    batches = [int(b) for b in ARGS.batches.split(",")]
    rng = np.random.default_rng(0)
    pool_batches = 16
    data, data_kind = load_images(ARGS.data, max(batches) * pool_batches, widths[0], rng)

    header = {
        "libautoenc": lib.ae_version_string().decode(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "openblas_core": core,
        "openblas_config": config,
        "openblas_threads": blas.openblas_get_num_threads(),
        "torch_threads": torch.get_num_threads(),
        "env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS") or k.startswith("OMP")},
        "model": "-".join(map(str, widths_full)),
        "data": data_kind,
        "lr": ARGS.lr,
    }
    print(f"libautoenc {header['libautoenc']} vs PyTorch {header['torch']}; OpenBLAS core {core} "
          f"({config}); threads: OpenBLAS {header['openblas_threads']}, torch {header['torch_threads']}; "
          f"env {header['env'] or '(no OPENBLAS_*/OMP_* set)'}")
    print(f"model {header['model']} (ReLU, linear latent, sigmoid+BCE from logits), Adam lr {ARGS.lr}, "
          f"data: {data_kind}; {ARGS.reps} repetitions x blocks of at least {ARGS.block} steps and "
          f"{ARGS.block_seconds:g} s per framework, medians per step")

    results = []
    for batch in batches:
        xs_np = [np.ascontiguousarray(data[i * batch:(i + 1) * batch]) for i in range(pool_batches)]
        xs_np = [x for x in xs_np if x.shape[0] == batch]
        xs_t = [torch.from_numpy(x) for x in xs_np]  # shares the memory: the same bytes for both
        ae = AeModel(lib, widths, ARGS.lr, THREADS)
        layers = ae.layers()
        runners = {
            "libautoenc": (ae.step, xs_np),
            "torch": (TorchModel(layers, ARGS.lr, foreach=None).step, xs_t),
            "torch_foreach": (TorchModel(layers, ARGS.lr, foreach=True).step, xs_t),
            "gemm_floor": (GemmFloor(blas, widths_full, batch, rng).step, xs_np),
        }
        # Same weights, same data: the losses of the first steps must agree.
        first = {name: [fn(xs[k % len(xs)]) for k in range(3)] for name, (fn, xs) in runners.items()
                 if name != "gemm_floor"}
        for name, (fn, xs) in runners.items():
            for k in range(ARGS.warmup):
                fn(xs[k % len(xs)])
        times = {name: [] for name in runners}
        names = list(runners)
        counter = 0
        for rep in range(ARGS.reps):
            order = names if rep % 2 == 0 else names[::-1]
            for name in order:
                fn, xs = runners[name]
                steps, block_start = 0, time.perf_counter()
                while steps < ARGS.block or time.perf_counter() - block_start < ARGS.block_seconds:
                    x = xs[counter % len(xs)]
                    counter += 1
                    steps += 1
                    t0 = time.perf_counter()
                    fn(x)
                    times[name].append(time.perf_counter() - t0)
        med = {name: statistics.median(v) for name, v in times.items()}
        rec = {"batch": batch, "steps": {name: len(v) for name, v in times.items()},
               "median_step_s": med,
               "samples_per_s": {name: batch / t for name, t in med.items()},
               "share_of_floor": {name: med["gemm_floor"] / t for name, t in med.items()},
               "libautoenc_over_torch": med["torch"] / med["libautoenc"],
               "libautoenc_over_torch_foreach": med["torch_foreach"] / med["libautoenc"],
               "first_losses": first}
        results.append(rec)
        ae.free()
        print(f"\nbatch {batch}: first three losses  libautoenc {['%.6f' % v for v in first['libautoenc']]}  "
              f"torch {['%.6f' % v for v in first['torch']]}")
        print(f"  {'':<16} {'samples/s':>10} {'ms/step':>9} {'of floor':>9} {'libautoenc is':>14}")
        for name in names:
            ratio = med[name] / med["libautoenc"]
            print(f"  {name:<16} {batch / med[name]:>10.0f} {1e3 * med[name]:>9.3f} "
                  f"{100 * med['gemm_floor'] / med[name]:>8.1f}% {ratio:>13.2f}x")
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump({"header": header, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
