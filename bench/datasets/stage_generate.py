"""Stage 6: generation. Variational autoencoders 784-512-256-L (L = 2 and 16; ReLU
inside, sigmoid output, binary cross-entropy, Adam, batch 128) on Fashion-MNIST; the
test ELBO in nats per image, a grid of samples from the prior, a traversal of the
2-D latent space, an interpolation strip, and the 2-D codes of the test images.

The test ELBO is estimated as usual: for each test image, the analytic KL divergence of
its code's Gaussian from the prior, plus the summed binary cross-entropy of the image
under the decoding of codes drawn from that Gaussian (the mean over a few draws)."""

import numpy as np
from scipy.stats import norm

import autoenc
from common import CLASS_NAMES, SHORT_NAMES, bce_per_image, image_grid

NAME = "generate"
LATENTS = (2, 16)
EPOCHS_FULL, EPOCHS_QUICK = 10, 2
DRAWS = 4


def test_elbo(model, x, seed, draws):
    mean, log_var = model.encode_distribution(x)
    kl = 0.5 * (np.exp(log_var) + mean ** 2 - 1.0 - log_var).sum(axis=1)
    rng = np.random.default_rng(seed)
    rec = np.zeros(len(x))
    for _ in range(draws):
        z = (mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape)).astype(np.float32)
        rec += bce_per_image(x, model.decode(z))
    rec /= draws
    return float(-(rec + kl).mean()), float(rec.mean()), float(kl.mean())


def run(ctx):
    x_train, y_train, x_test, y_test = ctx.fashion()
    epochs = EPOCHS_QUICK if ctx.quick else (ctx.epochs or EPOCHS_FULL)
    res = {"epochs": epochs, "models": {}}
    models = {}
    for latent in LATENTS:
        m = autoenc.Model([784, 512, 256, latent], variational=True, seed=ctx.seeds[0],
                          hidden_activation="relu", output_activation="sigmoid", loss="bce",
                          optimizer="adam", learning_rate=1e-3, batch_size=128, epochs=epochs,
                          kl_warmup_epochs=min(3, epochs - 1), threads=ctx.threads)
        report = m.fit(x_train)
        elbo, rec, kl = test_elbo(m, x_test, ctx.seeds[0], DRAWS)
        res["models"][latent] = {"test_elbo": elbo, "test_reconstruction": rec, "test_kl": kl,
                                 "train_elbo_last_epoch": report.final_elbo}
        models[latent] = m
        ctx.log(NAME, "VAE L=%d: test ELBO %.1f nats (reconstruction %.1f, KL %.1f)" % (latent, elbo, rec, kl))
        ctx.check(NAME, "VAE L=%d: test ELBO finite and negative" % latent, np.isfinite(elbo) and elbo < 0)
        ctx.check(NAME, "VAE L=%d: ELBO above the mean image's likelihood" % latent,
                  -elbo < bce_per_image(x_test, np.repeat(x_train.mean(0, keepdims=True), len(x_test), 0)).mean(),
                  "%.1f" % elbo)
    if not ctx.quick:  # a quick run's few epochs on a subset leave the two within noise
        ctx.check(NAME, "a 16-number code gives a better ELBO than a 2-number one",
                  res["models"][16]["test_elbo"] > res["models"][2]["test_elbo"])
    samples = models[16].sample(40, seed=ctx.seeds[0] + 1)
    ctx.check(NAME, "samples are images in [0, 1]",
              np.isfinite(samples).all() and samples.min() >= 0 and samples.max() <= 1)
    ctx.results[NAME] = res
    _figures(ctx, models, x_test, y_test, samples)


def _figures(ctx, models, x_test, y_test, samples):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.2))
    image_grid(ax, [list(samples[i * 10:(i + 1) * 10]) for i in range(4)])
    ax.set_title("40 samples from the prior, VAE 784-512-256-16", fontsize=9)
    fig.tight_layout()
    ctx.save_figure(NAME, fig, "vae_samples.png")

    # traversal of the 2-D code: decode a 15 x 15 grid at the prior's quantiles
    n = 15
    q = norm.ppf(np.linspace(0.03, 0.97, n))
    z = np.array([[a, b] for b in q[::-1] for a in q], dtype=np.float32)
    imgs = models[2].decode(z)
    fig, ax = plt.subplots(figsize=(7, 7))
    image_grid(ax, [list(imgs[i * n:(i + 1) * n]) for i in range(n)])
    ax.set_title("the 2-D code traversed: decodings at the prior's 3rd to 97th percentiles", fontsize=9)
    fig.tight_layout()
    ctx.save_figure(NAME, fig, "vae_traversal.png")

    # interpolation strips between test images of different classes (L = 16)
    pairs = ((7, 9), (0, 3), (1, 8), (5, 2))
    rows, labels = [], []
    for a, b in pairs:
        ia, ib = np.flatnonzero(y_test == a)[0], np.flatnonzero(y_test == b)[0]
        path = models[16].interpolate(x_test[ia], x_test[ib], n_steps=10)
        rows.append([x_test[ia]] + list(path) + [x_test[ib]])
        labels.append("%s to %s" % (SHORT_NAMES[a], SHORT_NAMES[b]))
    fig, ax = plt.subplots(figsize=(9, 3.6))
    image_grid(ax, rows, row_labels=labels)
    ax.set_title("interpolation (VAE, L=16): test image, 10 decoded steps, test image", fontsize=9)
    fig.tight_layout()
    ctx.save_figure(NAME, fig, "vae_interpolation.png")

    # the 2-D codes of the test images
    mean, _ = models[2].encode_distribution(x_test)
    fig, ax = plt.subplots(figsize=(7.5, 6.2))
    cmap = plt.get_cmap("tab10")
    for c in range(10):
        m = y_test == c
        ax.scatter(mean[m, 0], mean[m, 1], s=3, color=cmap(c), label=CLASS_NAMES[c], alpha=0.6)
    ax.legend(markerscale=4, fontsize=8, framealpha=0.8)
    ax.set_xlabel("code 1 (mean)")
    ax.set_ylabel("code 2 (mean)")
    ax.set_title("test images' 2-D codes, VAE 784-512-256-2 (trained without labels)", fontsize=9)
    fig.tight_layout()
    ctx.save_figure(NAME, fig, "vae_codes_2d.png")
