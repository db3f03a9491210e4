"""Stage 4: latent codes as features. A logistic regression trained on the codes of the
training images (the stage-1 models, trained without labels, latent 16, 32, 64)
classifies the test images; against PCA features of the same size and the raw pixels.
A 2-D picture of the test codes (t-SNE of the latent-32 codes) coloured by class."""

import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.preprocessing import StandardScaler

from common import CLASS_NAMES, Timer

NAME = "features"
LATENTS = (16, 32, 64)


def _accuracy(f_train, y_train, f_test, y_test, max_iter):
    scaler = StandardScaler().fit(f_train)
    clf = LogisticRegression(max_iter=max_iter, C=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # lbfgs may stop at max_iter on raw pixels
        clf.fit(scaler.transform(f_train), y_train)
    return float(clf.score(scaler.transform(f_test), y_test)), int(np.max(clf.n_iter_))


def run(ctx):
    x_train, y_train, x_test, y_test = ctx.fashion()
    max_iter = 100 if ctx.quick else 1000
    res = {"rows": len(x_train), "test_rows": len(x_test), "max_iter": max_iter,
           "lib": {}, "pca": {}, "raw": None}
    codes32 = None
    for latent in LATENTS:
        model = ctx.models["recon_%d" % latent]
        z_train, z_test = model.encode(x_train), model.encode(x_test)
        acc, it = _accuracy(z_train, y_train, z_test, y_test, max_iter)
        res["lib"][latent] = {"accuracy": acc, "iterations": it,
                              "dead_units": int((z_train.max(axis=0) <= 0).sum())}
        if latent == 32:
            codes32 = z_test
        pca = PCA(latent, svd_solver="randomized", random_state=ctx.seeds[0]).fit(x_train)
        acc_p, it_p = _accuracy(pca.transform(x_train), y_train, pca.transform(x_test), y_test, max_iter)
        res["pca"][latent] = {"accuracy": acc_p, "iterations": it_p}
        ctx.log(NAME, "L=%d: codes %.4f, PCA %.4f" % (latent, acc, acc_p))
    with Timer() as t:
        acc, it = _accuracy(x_train, y_train, x_test, y_test, max_iter)
    res["raw"] = {"accuracy": acc, "iterations": it, "seconds": t.seconds}
    ctx.log(NAME, "raw pixels: %.4f (%d iterations, %.0f s)" % (acc, it, t.seconds))
    for latent in LATENTS:
        a = res["lib"][latent]["accuracy"]
        ctx.check(NAME, "codes L=%d far above chance (10%%)" % latent, a > 0.5, "%.3f" % a)

    # the picture: t-SNE of a stratified sample of the test codes
    rng = np.random.default_rng(ctx.seeds[0])
    n_pic = min(len(x_test), 300 if ctx.quick else 3000)
    pick = np.sort(rng.permutation(len(x_test))[:n_pic])
    with Timer() as t:
        emb = TSNE(n_components=2, init="pca", learning_rate="auto", perplexity=30,
                   n_iter=250 if ctx.quick else 1000,
                   random_state=ctx.seeds[0]).fit_transform(StandardScaler().fit_transform(codes32[pick]))
    res["tsne"] = {"points": int(n_pic), "seconds": t.seconds}
    _figure(ctx, emb, y_test[pick], res)
    ctx.results[NAME] = res


def _figure(ctx, emb, labels, res):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 6.2))
    cmap = plt.get_cmap("tab10")
    for c in range(10):
        m = labels == c
        ax.scatter(emb[m, 0], emb[m, 1], s=4, color=cmap(c), label=CLASS_NAMES[c], alpha=0.8)
    ax.legend(markerscale=4, fontsize=8, loc="best", framealpha=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("t-SNE of %d test images' 32-number codes (libautoenc, trained without labels)"
                 % res["tsne"]["points"], fontsize=9)
    fig.tight_layout()
    ctx.save_figure(NAME, fig, "codes_tsne.png")
