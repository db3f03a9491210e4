#!/usr/bin/python3
"""Development experiments for the one-class recipe (bench/datasets/stage_oneclass.py), outside
the results run: one model (seed 0) per class, the recipe's scores, one change at a time.

  /usr/bin/python3 bench/datasets/oneclass_variants.py --classes 6,2,4 [--variants a,b,...]

Score variants (same trained model): the recipe; k = 10 neighbours instead of 5; neighbours
among all the class's images (held-out rows too); the minimum or mean of the recipe's score
over the image and its four one-pixel shifts; the pooled error or the hidden cosine distance
weighted twice. Training variants (a new model each): hidden layer 512, 40 epochs, a code of
16 or 64 numbers."""

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "bindings", "python"))

import autoenc  # noqa: E402
import stage_oneclass as oc  # noqa: E402
from common import load_fashion  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402

TRAINING = {"hidden512": dict(hidden=512), "epochs40": dict(epochs=40), "latent16": dict(latent=16),
            "latent64": dict(latent=64)}


def shift(x, dy, dx):
    """The images moved by (dy, dx) pixels, the uncovered border black."""
    im = np.roll(np.roll(x.reshape(len(x), 28, 28), dy, axis=1), dx, axis=2)
    if dy > 0:
        im[:, :dy] = 0
    elif dy < 0:
        im[:, dy:] = 0
    if dx > 0:
        im[:, :, :dx] = 0
    elif dx < 0:
        im[:, :, dx:] = 0
    return np.ascontiguousarray(im.reshape(len(x), 784))


def model(seed, hidden=256, latent=32, epochs=oc.EPOCHS):
    return autoenc.Model([784, hidden, latent], seed=seed, hidden_activation="relu", latent_activation="linear",
                         output_activation="sigmoid", loss="bce", optimizer="adam", learning_rate=1e-3,
                         batch_size=oc.BATCH, epochs=epochs, threads=1)


def score_variants(m, xf, xh, xs, lab):
    sc = oc.Scorer(m, xf, xh)
    s = sc.scores(xs)
    base = oc.combine(s, oc.RECIPE_KEYS)
    out = {"recipe": roc_auc_score(lab, base)}
    sc10 = oc.Scorer(m, xf, xh, k=10)
    out["k10"] = roc_auc_score(lab, oc.combine(sc10.scores(xs), oc.RECIPE_KEYS))
    sc10.close()
    full = np.ascontiguousarray(np.concatenate([xf, xh]))
    knn = NearestNeighbors(n_neighbors=5).fit(m.encode(full)).kneighbors(m.encode(xs))[0].mean(axis=1)
    nn_h = NearestNeighbors(n_neighbors=5).fit(oc._unit(sc.hidden.encode(full)))
    hcos = (nn_h.kneighbors(oc._unit(sc.hidden.encode(xs)))[0] ** 2 / 2).mean(axis=1)
    z = lambda v, k: (v - sc.calib[k][0]) / sc.calib[k][1]  # noqa: E731
    out["all-rows"] = roc_auc_score(lab, s["z_pool2"] + z(knn, "knn") + z(hcos, "hcos"))
    vs = [base] + [oc.combine(sc.scores(shift(xs, dy, dx)), oc.RECIPE_KEYS)
                   for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    out["shift-min"] = roc_auc_score(lab, np.min(vs, axis=0))
    out["shift-mean"] = roc_auc_score(lab, np.mean(vs, axis=0))
    out["pool2x2"] = roc_auc_score(lab, 2 * s["z_pool2"] + s["z_knn"] + s["z_hcos"])
    out["hcosx2"] = roc_auc_score(lab, s["z_pool2"] + s["z_knn"] + 2 * s["z_hcos"])
    sc.close()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--classes", default="6,2,4")
    p.add_argument("--variants", default="scores," + ",".join(TRAINING))
    args = p.parse_args()
    variants = args.variants.split(",")
    xt, yt = load_fashion("train")
    xs, ys = load_fashion("test")
    for c in (int(v) for v in args.classes.split(",")):
        lab = (ys != c).astype(int)
        xf, xh = oc.split_normal(xt[yt == c], 0)
        t0 = time.time()
        m = model(0)
        m.fit(xf)
        if "scores" in variants:
            out = score_variants(m, xf, xh, xs, lab)
        else:
            out = {"recipe": roc_auc_score(lab, oc.combine(oc.Scorer(m, xf, xh).scores(xs), oc.RECIPE_KEYS))}
        m.close()
        for name in variants:
            if name in TRAINING:
                m = model(0, **TRAINING[name])
                m.fit(xf)
                sc = oc.Scorer(m, xf, xh)
                out[name] = roc_auc_score(lab, oc.combine(sc.scores(xs), oc.RECIPE_KEYS))
                sc.close()
                m.close()
        print("class %d: %s (%.0f s)" % (c, ", ".join("%s %.4f" % kv for kv in out.items()), time.time() - t0),
              flush=True)


if __name__ == "__main__":
    main()
