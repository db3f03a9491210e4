"""What the stages of bench/datasets/run.py share: the data, the context of a run
(quick or full, seeds, where figures go, the checks), the machine's description,
timing and the figure helpers."""

import gzip
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FASHION_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")
SHORT_NAMES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Boot")


# ---- data ---------------------------------------------------------------------------

def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 8:
        raise ValueError("%s: not an IDX file of unsigned bytes" % path)
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def load_fashion(split, folder=FASHION_DIR):
    """(images, labels): float32 (n, 784) in [0, 1], C-contiguous, and int64 labels."""
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(os.path.join(folder, prefix + "-images-idx3-ubyte.gz"))
    labels = _read_idx(os.path.join(folder, prefix + "-labels-idx1-ubyte.gz"))
    x = np.ascontiguousarray(images.reshape(len(images), 784), dtype=np.float32) / np.float32(255)
    return np.ascontiguousarray(x), labels.astype(np.int64)


def stratified_subset(y, n, seed):
    """Indices of n rows with (about) the same number per class, sorted."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per = int(math.ceil(n / len(classes)))
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per] for c in classes])
    return np.sort(idx[:n] if len(idx) > n else idx)


# ---- the run ------------------------------------------------------------------------

class Context:
    """One run: its settings, data, results and checks."""

    def __init__(self, args):
        self.quick = args.quick
        self.out = os.path.abspath(args.out)
        self.fig_dir = os.path.join(self.out, "results")
        os.makedirs(self.fig_dir, exist_ok=True)
        self.seeds = list(range(args.seeds))
        self.threads = args.threads
        self.command = args.command
        # a full run's reductions (None: the stages' own defaults): the reference-size models'
        # training rows (a stratified subset of Fashion-MNIST's 60,000) and epochs
        self.train_rows = getattr(args, "train_rows", None)
        self.epochs = getattr(args, "epochs", None)
        self.resume = getattr(args, "resume", False)
        self.oneclass_classes = getattr(args, "oneclass_classes", None)
        self.results = {}
        self.checks = []          # (stage, what, ok, detail)
        self.notes = []           # (stage, text)
        self.figures = []         # file names written in fig_dir
        self.t0 = time.time()
        self._fashion = None
        self.torch = None
        self.torch_error = None

    # data, loaded once; quick runs take stratified subsets, and so do full runs given
    # --train-rows, except for the one-class stage (all_train: every image of a class)
    def fashion(self, all_train=False):
        if self._fashion is not None and self.train_rows and not self.quick:
            x_train, y_train, x_test, y_test = self._fashion
            if all_train:
                return self._fashion
            tr = stratified_subset(y_train, self.train_rows, 0)
            return np.ascontiguousarray(x_train[tr]), y_train[tr], x_test, y_test
        if self._fashion is None:
            x_train, y_train = load_fashion("train")
            x_test, y_test = load_fashion("test")
            if self.quick:
                tr = stratified_subset(y_train, 2500, 0)
                te = stratified_subset(y_test, 1000, 0)
                x_train, y_train = np.ascontiguousarray(x_train[tr]), y_train[tr]
                x_test, y_test = np.ascontiguousarray(x_test[te]), y_test[te]
            self._fashion = (x_train, y_train, x_test, y_test)
            if self.train_rows and not self.quick:
                return self.fashion(all_train)
        return self._fashion

    def log(self, stage, text):
        print("[%6.0f s] %s: %s" % (time.time() - self.t0, stage, text), flush=True)

    def check(self, stage, what, ok, detail=""):
        ok = bool(ok)
        self.checks.append((stage, what, ok, detail))
        if not ok:
            self.log(stage, "CHECK FAILED: %s (%s)" % (what, detail))

    def note(self, stage, text):
        self.notes.append((stage, text))
        self.log(stage, "note: " + text)

    def fig_path(self, name):
        return os.path.join(self.fig_dir, name)

    def save_figure(self, stage, fig, name, min_std=0.02):
        """Save a matplotlib figure as fig_dir/name and check the file reads back as a
        picture that is neither blank nor broken."""
        import matplotlib.image as mpimg
        import matplotlib.pyplot as plt
        path = self.fig_path(name)
        fig.savefig(path, dpi=100 if self.quick else 110, bbox_inches="tight", pad_inches=0.1)
        plt.close(fig)
        shrink_png(path)
        self.figures.append(name)
        try:
            img = mpimg.imread(path)
            gray = img[..., :3].mean(axis=2) if img.ndim == 3 else img
            ok = img.shape[0] >= 100 and img.shape[1] >= 100 and np.isfinite(gray).all() \
                and float(gray.std()) > min_std
            detail = "%dx%d px, grey std %.3f" % (img.shape[1], img.shape[0], float(gray.std()))
        except Exception as exc:  # noqa: BLE001 -- reported as a failed check
            ok, detail = False, "unreadable: %s" % exc
        self.check(stage, "figure %s is a picture with content" % name, ok, detail)


def shrink_png(path):
    """Rewrite a PNG with a palette of 256 colours when that makes it smaller (the figures
    are line plots and grey images: a palette loses nothing visible and keeps each file
    a few hundred kilobytes at most). Returns the size in bytes."""
    try:
        from PIL import Image
    except ImportError:
        return os.path.getsize(path)
    before = os.path.getsize(path)
    with Image.open(path) as img:
        if img.mode == "P":
            return before
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    tmp = path + ".tmp.png"
    small.save(tmp, optimize=True)
    if os.path.getsize(tmp) < before:
        os.replace(tmp, path)
    else:
        os.remove(tmp)
    return os.path.getsize(path)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return float("nan"), float("nan")
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def fmt_ms(values, digits=3, pct=False):
    """'0.912 ± 0.004' (sample standard deviation over the seeds) or one value."""
    m, s = mean_std(values)
    if pct:
        m, s = 100 * m, 100 * s
        digits = 1
    if len([v for v in values if v is not None]) > 1:
        return "%.*f ± %.*f" % (digits, m, digits, s)
    return "%.*f" % (digits, m)


# ---- the machine and the versions ---------------------------------------------------

def _run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:  # noqa: BLE001
        return ""


def machine_info(autoenc, torch_module):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.0f GiB" % (kb / 2 ** 20)
    except (OSError, ValueError, IndexError):
        pass
    import sklearn
    try:
        import matplotlib
        mpl = matplotlib.__version__
    except ImportError:
        mpl = "missing"
    openblas = ""
    dpkg = _run(["dpkg-query", "-W", "-f", "${Version}", "libopenblas0-pthread"])
    if dpkg:
        openblas = dpkg
    commit = _run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = _run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "src", "include"])
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": os_name or platform.platform(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "matplotlib": mpl,
        "torch": getattr(torch_module, "__version__", None),
        "openblas": openblas,
        "libautoenc": autoenc.version_string(),
        "library_path": autoenc.library_path,
        "commit": commit + (" (src/ or include/ modified)" if dirty else ""),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", ""),
        "load_average": "%.1f %.1f %.1f" % os.getloadavg(),
    }


def to_jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    return obj


def write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(to_jsonable(obj), f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


# ---- pictures -----------------------------------------------------------------------

def image_grid(ax, rows, titles=None, row_labels=None):
    """rows: list of lists of 784-vectors; drawn as one picture with thin gaps."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    canvas = np.ones((n_rows * 30, n_cols * 30), np.float32)
    for i, r in enumerate(rows):
        for j, img in enumerate(r):
            canvas[i * 30 + 1:i * 30 + 29, j * 30 + 1:j * 30 + 29] = 1 - np.clip(img, 0, 1).reshape(28, 28)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([] if titles is None else [j * 30 + 14.5 for j in range(len(titles))])
    if titles is not None:
        ax.set_xticklabels(titles, fontsize=8)
        ax.xaxis.tick_top()
    ax.set_yticks([] if row_labels is None else [i * 30 + 14.5 for i in range(n_rows)])
    if row_labels is not None:
        ax.set_yticklabels(row_labels, fontsize=9)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.tick_params(length=0)


def psnr(clean, other):
    """Mean over images of each image's PSNR in dB (peak 1)."""
    mse = ((clean.astype(np.float64) - other) ** 2).mean(axis=1)
    return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12))))


def bce_per_image(x, p):
    """Summed binary cross-entropy per image in nats (p clipped away from 0 and 1)."""
    p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    x = x.astype(np.float64)
    return -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(axis=1)
