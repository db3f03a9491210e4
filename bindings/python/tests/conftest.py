"""Shared fixtures. The tests run from the source tree (CTest sets PYTHONPATH and
AUTOENC_LIBRARY); run by hand, the package is taken from bindings/python and the
library as the package finds it (AUTOENC_LIBRARY, an installed one, build/src)."""

import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
if PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, PACKAGE_ROOT)

import autoenc  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def unit_data(rng):
    """300 rows of 12 features in [0, 1] with some structure (3 latent factors)."""
    factors = rng.random((300, 3), dtype=np.float32)
    mixing = rng.random((3, 12), dtype=np.float32)
    x = factors @ mixing / 3.0
    return np.clip(x + 0.02 * rng.standard_normal((300, 12)).astype(np.float32), 0, 1).astype(np.float32)


@pytest.fixture
def model():
    m = autoenc.Model([12, 8, 3], output_activation="sigmoid", loss="bce", epochs=3, seed=7,
                      batch_size=32)
    yield m
    m.close()


@pytest.fixture
def trained(model, unit_data):
    model.fit(unit_data)
    return model


def subprocess_env():
    """The environment for a child python: the package and the library of this run."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["AUTOENC_LIBRARY"] = autoenc.library_path
    return env
