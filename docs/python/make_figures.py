#!/usr/bin/python3
"""Run the Fashion-MNIST walk-through of docs/python.md and draw its figures.

  AUTOENC_LIBRARY=build/src/libautoenc.so.0 /usr/bin/python3 docs/python/make_figures.py

Writes docs/python/{loss_curve,reconstructions,anomaly_scores,vae_samples}.png and prints
the figures quoted in docs/python.md (needs python3-matplotlib). The code below is the
walk-through's, step by step.
"""

import gzip
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

import autoenc  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


# --- 1. the data ---------------------------------------------------------------------------
def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def load(split, folder="/usr/share/datasets/fashion-mnist"):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(folder, prefix + "-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(folder, prefix + "-labels-idx1-ubyte.gz"))
    return images.reshape(len(images), 784).astype(np.float32) / 255, labels


def main():
    out = {}
    x_train, y_train = load("train")
    x_test, y_test = load("test")
    print("library", autoenc.library_path, autoenc.version_string())

    # --- 2. the low-level model ------------------------------------------------------------
    model = autoenc.Model([784, 512, 256, 64], output_activation="sigmoid", loss="bce",
                          batch_size=256, epochs=20, validation_fraction=0.1, patience=3, seed=0)
    report = model.fit(x_train, verbose=True)
    print(report.stop_reason, report.epochs_run, "epochs,", "%.0f samples/s" % report.samples_per_second)
    recon = model.reconstruct(x_test)
    mse = float(((recon - x_test) ** 2).mean())
    baseline = float(((x_test - x_train.mean(axis=0)) ** 2).mean())
    print("test MSE %.4f, mean image %.4f, BCE %.4f" % (mse, baseline, model.compute_loss(x_test)))
    out.update(epochs=report.epochs_run, best_epoch=report.best_epoch, mse=mse, baseline=baseline,
               bce=model.compute_loss(x_test), seconds=report.seconds,
               samples_per_second=report.samples_per_second, stop=str(report.stop_reason))

    epochs = np.arange(1, report.epochs_run + 1)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(epochs, report.train_loss_history, "o-", label="training loss")
    ax.plot(epochs, report.val_loss_history, "s-", label="validation loss (10% held out)")
    ax.axvline(report.best_epoch, color="grey", ls=":", label="best epoch (weights kept)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("binary cross-entropy")
    ax.set_title("784-512-256-64 autoencoder on Fashion-MNIST")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "loss_curve.png"), dpi=100)
    plt.close(fig)

    picks = [int(np.flatnonzero(y_test == c)[0]) for c in range(10)]
    fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
    for col, i in enumerate(picks):
        for row, image in enumerate((x_test[i], recon[i])):
            axes[row, col].imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
            axes[row, col].axis("off")
        axes[0, col].set_title(CLASSES[col], fontsize=7)
    fig.suptitle("test images (top) and their reconstructions from 64 numbers (bottom)", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "reconstructions.png"), dpi=100)
    plt.close(fig)
    model.save("/tmp/fashion.aemodel")
    model.close()

    # --- 3. codes as features: an estimator in a pipeline ----------------------------------
    pipe = make_pipeline(
        autoenc.Autoencoder(hidden_layer_sizes=(256,), latent_dim=32, output_activation="sigmoid",
                            loss="bce", batch_size=256, epochs=15, random_state=0),
        LogisticRegression(max_iter=1000))
    start = time.perf_counter()
    pipe.fit(x_train[:20000], y_train[:20000])
    accuracy = pipe.score(x_test, y_test)
    raw = LogisticRegression(max_iter=1000).fit(x_train[:20000], y_train[:20000]).score(x_test, y_test)
    print("accuracy from 32 codes %.3f, from 784 pixels %.3f (%.0f s)" % (
        accuracy, raw, time.perf_counter() - start))
    out.update(accuracy_codes=accuracy, accuracy_pixels=raw)

    # --- 4. anomaly detection: one class is normal -----------------------------------------
    det = autoenc.AnomalyDetector(hidden_layer_sizes=(128,), latent_dim=16, output_activation="sigmoid",
                                  loss="mse", epochs=30, contamination=0.05, random_state=0)
    det.fit(x_train[y_train == 7])  # sneakers
    scores = -det.score_samples(x_test)  # reconstruction error: higher is stranger
    auroc = roc_auc_score(y_test != 7, scores)
    flagged = det.predict(x_test) == -1
    print("sneaker detector: AUROC %.3f; flagged %.1f%% of test sneakers, %.1f%% of the rest" % (
        auroc, 100 * flagged[y_test == 7].mean(), 100 * flagged[y_test != 7].mean()))
    out.update(auroc=auroc, flagged_normal=float(flagged[y_test == 7].mean()),
               flagged_other=float(flagged[y_test != 7].mean()), threshold=det.threshold_)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bins = np.logspace(np.log10(scores.min()), np.log10(scores.max()), 60)
    ax.hist(scores[y_test == 7], bins=bins, alpha=0.7, label="sneakers (the trained class)")
    ax.hist(scores[(y_test == 5) | (y_test == 9)], bins=bins, alpha=0.6, label="sandals, ankle boots")
    ax.hist(scores[(y_test != 7) & (y_test != 5) & (y_test != 9)], bins=bins, alpha=0.5,
            label="the other seven classes")
    ax.axvline(det.threshold_, color="k", ls="--", label="threshold_ (contamination 0.05)")
    ax.set_xscale("log")
    ax.set_xlabel("reconstruction error (mean squared, per image)")
    ax.set_ylabel("test images")
    ax.set_title("AnomalyDetector trained on sneakers: AUROC %.3f" % auroc)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "anomaly_scores.png"), dpi=100)
    plt.close(fig)

    # --- 5. a variational autoencoder: sampling and interpolation ---------------------------
    vae = autoenc.VariationalAutoencoder(hidden_layer_sizes=(512, 256), latent_dim=16,
                                         output_activation="sigmoid", loss="bce", epochs=20,
                                         batch_size=128, kl_warmup_epochs=5, random_state=0)
    vae.fit(x_train)
    print("VAE ELBO per image %.1f" % vae.fit_report_.final_elbo)
    out.update(elbo=vae.fit_report_.final_elbo)
    samples = vae.sample(30, random_state=1)
    a, b = x_test[picks[7]], x_test[picks[9]]  # a sneaker into an ankle boot
    path = vae.interpolate(a, b, n_steps=10)
    fig, axes = plt.subplots(4, 10, figsize=(10, 4.4))
    for i, image in enumerate(list(samples) + list(path)):
        ax = axes[i // 10, i % 10]
        ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
    fig.suptitle("VariationalAutoencoder: 30 samples from the prior (rows 1-3), "
                 "a sneaker turning into an ankle boot (row 4)", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "vae_samples.png"), dpi=100)
    plt.close(fig)
    print(out)


if __name__ == "__main__":
    main()
