"""Stage 5: denoising. The test images corrupted three ways (half the pixels masked to
0, Gaussian noise of deviation 0.3, salt-and-pepper on 20% of the pixels), as the
library corrupts training batches (src/kernels.c: Gaussian noise is not clipped);
PSNR against the clean image of the corrupted image, of a plainly trained model's
reconstruction and of the reconstruction by a model trained with that noise."""

import numpy as np

from common import psnr, image_grid
from stage_recon import reference_model

NAME = "denoise"
LATENT = 64
NOISES = (("masking", 0.5, "masked (50%)"), ("gaussian", 0.3, "Gaussian (0.3)"),
          ("salt_and_pepper", 0.2, "salt and pepper (20%)"))


def corrupt(x, kind, level, rng):
    if kind == "masking":
        return np.where(rng.random(x.shape) < level, 0.0, x).astype(np.float32)
    if kind == "gaussian":
        return (x + level * rng.standard_normal(x.shape)).astype(np.float32)
    hit = rng.random(x.shape) < level
    return np.where(hit, rng.integers(0, 2, x.shape), x).astype(np.float32)


def run(ctx):
    x_train, y_train, x_test, y_test = ctx.fashion()
    plain = ctx.models["recon_%d" % LATENT]      # the stage-1 model: same epochs, no noise
    epochs = ctx.results["recon"]["epochs"]
    res = {"epochs": epochs, "latent": LATENT, "noises": {}}
    rng = np.random.default_rng(ctx.seeds[0] + 77)
    shown = [int(np.flatnonzero(y_test == c)[0]) for c in (0, 1, 2, 5, 7, 8, 9, 3)]
    grid = []
    for kind, level, label in NOISES:
        model = reference_model(LATENT, epochs, ctx.seeds[0], ctx.threads, noise=kind, noise_level=level)
        model.fit(x_train)
        noisy = corrupt(x_test, kind, level, rng)
        r_plain = plain.reconstruct(noisy)
        r_dn = model.reconstruct(noisy)
        entry = {"level": level, "label": label, "noisy": psnr(x_test, noisy),
                 "noisy_clipped": psnr(x_test, np.clip(noisy, 0, 1)),
                 "plain": psnr(x_test, r_plain), "denoising": psnr(x_test, r_dn),
                 "denoising_clean_input": psnr(x_test, model.reconstruct(x_test)),
                 "plain_clean_input": psnr(x_test, plain.reconstruct(x_test))}
        res["noises"][kind] = entry
        ctx.log(NAME, "%s: noisy %.1f dB, plain %.1f dB, denoising %.1f dB" % (
            label, entry["noisy"], entry["plain"], entry["denoising"]))
        ctx.check(NAME, "%s: the denoising model restores better than the noisy input" % label,
                  entry["denoising"] > entry["noisy_clipped"] + 1.0,
                  "%.1f vs %.1f dB" % (entry["denoising"], entry["noisy_clipped"]))
        ctx.check(NAME, "%s: the denoising model beats the plain one" % label,
                  entry["denoising"] > entry["plain"],
                  "%.1f vs %.1f dB" % (entry["denoising"], entry["plain"]))
        grid.append((label, noisy[shown], r_plain[shown], r_dn[shown]))
    ctx.results[NAME] = res
    _figure(ctx, x_test[shown], grid)


def _figure(ctx, clean, grid):
    import matplotlib.pyplot as plt
    rows, labels = [list(clean)], ["clean"]
    for label, noisy, r_plain, r_dn in grid:
        rows += [list(np.clip(noisy, 0, 1)), list(r_plain), list(r_dn)]
        labels += [label, "plain model", "denoising model"]
    fig, ax = plt.subplots(figsize=(6.5, 0.75 * len(rows) + 0.4))
    image_grid(ax, rows, row_labels=labels)
    fig.tight_layout()
    ctx.save_figure(NAME, fig, "denoise_grid.png")
