"""Fashion-MNIST from Debian's dataset-fashion-mnist (gzip'ed IDX files), as float32 in [0, 1].

Used by the Fashion-MNIST test, the Python benchmark and the docs' figures."""

import gzip
import os

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    n_dims = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * n_dims).reshape(dims)


def load(split="train", max_rows=None, directory=None):
    """``(images, labels)``: images ``(n, 784)`` float32 in [0, 1], labels ``(n,)`` uint8.

    @p split is "train" or "test"; @p directory defaults to FASHION_MNIST_DIR or Debian's
    folder. Raises FileNotFoundError when the files are missing."""
    directory = directory or os.environ.get("FASHION_MNIST_DIR") or DEFAULT_DIR
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(os.path.join(directory, "%s-images-idx3-ubyte.gz" % prefix))
    labels = _read_idx(os.path.join(directory, "%s-labels-idx1-ubyte.gz" % prefix))
    if max_rows is not None:
        images, labels = images[:max_rows], labels[:max_rows]
    return (images.reshape(len(images), -1).astype(np.float32) / 255.0), labels.copy()
