"""Writes results.md from results/results.json (written by run.py), so that the report
can be rewritten without running anything again (run.py --report-only)."""

import json
import os

import numpy as np

from common import CLASS_NAMES, fmt_ms, mean_std

FIG = "results/"


def load(out):
    with open(os.path.join(out, "results", "results.json")) as f:
        return json.load(f)


def _int_keys(d):
    return {int(k): v for k, v in d.items()}


def _hms(seconds):
    seconds = int(round(seconds))
    return "%d min %02d s" % (seconds // 60, seconds % 60) if seconds >= 60 else "%d s" % seconds


def write(out, data):
    lines = []
    w = lines.append
    info, res = data["info"], data["results"]
    quick = data["quick"]
    w("# Results: libautoenc on reference datasets {#results}")
    w("")
    if quick:
        w("**This is a `--quick` run: small subsets and a couple of epochs, to check the pipeline; "
          "its numbers are not results.**")
        w("")
    w("Every number and figure on this page comes from the command(s) below, run on the machine "
      "below; nothing was copied in by hand except the published figures in the one-class "
      "table, which say where they come from. The code is in "
      "[`bench/datasets/`](../bench/datasets/); the raw numbers are in "
      "[`results/results.json`](results/results.json).")
    w("")
    w("| | |")
    w("|---|---|")
    runs = data.get("runs") or [{"command": data["command"], "stages": data["stages"],
                                 "seconds": data["total_seconds"], "started": info["date"]}]
    if len(runs) == 1:
        w("| command | `%s` (%s in all) |" % (runs[0]["command"], _hms(runs[0]["seconds"])))
    else:
        w("| commands | %s, side by side or one after the other as their start times say; their results "
          "merged by `--resume` |" % "; ".join(
              "`%s` (%s: %s, started %s)" % (
                  r["command"], ", ".join((r["stages"] or ([] if r.get("oneclass_classes") else ["nothing new"])) +
                                          (["one-class classes %s" % ", ".join(map(str, r["oneclass_classes"]))]
                                           if r.get("oneclass_classes") else []) +
                                          (["code at commit %s" % r["commit"]] if r.get("commit") else [])),
                  _hms(r["seconds"]), r["started"])
              for r in runs))
    w("| date | %s |" % info["date"])
    w("| machine | %s, %s cores, %s; %s, Linux %s |" % (info["cpu"], info["cores"], info["memory"], info["os"],
                                                     info["kernel"]))
    w("| libautoenc | %s (checkout at commit %s when the first run started), `%s` |" % (
        info["libautoenc"], info["commit"], info["library_path"]))
    w("| versions | Python %s, numpy %s, scikit-learn %s, matplotlib %s, PyTorch %s, OpenBLAS %s |" % (
        info["python"], info["numpy"], info["sklearn"], info["matplotlib"], info["torch"] or "not installed",
        info["openblas"] or "?"))
    w("| threads | %d (OpenBLAS, libautoenc's `threads`, `torch.set_num_threads`) |" % data["threads"])
    w("| load average | %s at the start, %s at the end (2 cores): the machine is shared with other "
      "engineers' builds and tests, so wall times are indicative only; ratios measured side by side "
      "(stage 7) are the ones to compare |" % (info["load_average"], info.get("load_average_end", "?")))
    def stage_time(s):
        secs = data["seconds"][s]
        parts = res.get(s, {}).get("seconds") if s == "oneclass" else None
        if isinstance(parts, dict) and sum(parts.values()) > secs:   # classes trained by earlier runs
            return "%s (its classes' work, over the runs that did them)" % _hms(sum(parts.values()))
        return _hms(secs)
    w("| stages | %s |" % ", ".join("%s %s" % (s, stage_time(s)) for s in data["stages"]))
    w("")
    if data.get("torch_error"):
        w("PyTorch could not be imported (%s): its columns are missing." % data["torch_error"])
        w("")
    if data["notes"]:
        for stage, text in data["notes"]:
            w("- note (%s): %s" % (stage, text))
        w("")
    sections = (("recon", _recon), ("oneclass", _oneclass), ("tabular", _tabular), ("features", _features),
                ("denoise", _denoise), ("generate", _generate), ("speed", _speed))
    for key, fn in sections:
        if key in res:
            fn(w, res[key], data)
    _checks(w, data)
    _reproduce(w, data)
    text = "\n".join(lines) + "\n"
    path = os.path.join(out, "results.md")
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


# ---- 1 -------------------------------------------------------------------------------

def _recon(w, r, data):
    lib, pca, tch = _int_keys(r["lib"]), _int_keys(r["pca"]), _int_keys(r["torch"])
    w("## 1. Reconstruction (Fashion-MNIST) {#results_recon}")
    w("")
    w("The demo's model (`examples/train_fashion_mnist.c`: 784-512-256-L mirrored, ReLU inside and "
      "at the code, sigmoid output, binary cross-entropy, Adam at 1e-3, batch %d) trained on %s "
      "training images for %d epochs (fixed, no validation split, so that the three methods see the "
      "same data; the demo's 20 epochs on all 60,000 with early stopping reach 0.0082 at L=64), PCA with L components "
      "(scikit-learn, randomized SVD), and a PyTorch autoencoder of the same architecture, loss "
      "(`BCEWithLogitsLoss`), optimizer, batch and epochs (PyTorch's default initialisation). Test "
      "errors over the %s test images, per pixel; PCA's reconstructions clipped to [0, 1]. Times are "
      "wall times of the fit in this run. The mean training image scores MSE %.4f, BCE %.3f."
      % (r["batch"], ("all %s" if r["rows"] >= 60000 or data["quick"] else "a stratified subset of %s of the "
                      "60,000 (`--train-rows`, to fit the run into its time on a shared machine)")
         % "{:,}".format(r["rows"]), r["epochs"], "{:,}".format(r["test_rows"]),
         r["mean_image"]["mse"], r["mean_image"]["bce"]))
    w("")
    head = "| L | libautoenc MSE | BCE | time |"
    sep = "|---|---|---|---|"
    if tch:
        head += " PyTorch MSE | BCE | time |"
        sep += "---|---|---|"
    head += " PCA MSE | BCE | time |"
    sep += "---|---|---|"
    w(head)
    w(sep)
    for L in sorted(lib):
        row = "| %d | %.4f | %.3f | %.0f s |" % (L, lib[L]["mse"], lib[L]["bce"], lib[L]["seconds"])
        if tch:
            t = tch.get(L)
            row += (" %.4f | %.3f | %.0f s |" % (t["mse"], t["bce"], t["seconds"])) if t else " | | |"
        row += " %.4f | %.3f | %.1f s |" % (pca[L]["mse"], pca[L]["bce"], pca[L]["seconds"])
        w(row)
    w("")
    ratio = {L: pca[L]["mse"] / lib[L]["mse"] for L in sorted(lib)}
    better = [L for L in ratio if ratio[L] > 1]
    text = ("PCA's test MSE divided by the autoencoder's, with as many numbers per image: %s (above 1, "
            "the autoencoder reconstructs better). " % ", ".join("%.2f at L=%d" % (ratio[L], L) for L in ratio))
    if len(better) < len(ratio):
        text += ("Where it is below 1 the autoencoder is undertrained for its size: %d epochs of %s images; "
                 "the demo's 20 epochs on all 60,000 reach 0.0082 at L=64, below PCA. " % (
                     r["epochs"], "{:,}".format(r["rows"])))
    if tch:
        d = [100 * (lib[L]["mse"] / tch[L]["mse"] - 1) for L in sorted(lib) if L in tch]
        text += ("Against PyTorch with the same architecture, optimizer and epochs, libautoenc's MSE differs "
                 "by %+.0f%% to %+.0f%% (different initialisations and batch orders), and its fits took "
                 "%.1f to %.1f times less wall time in this run." % (
                     min(d), max(d), min(tch[L]["seconds"] / lib[L]["seconds"] for L in tch),
                     max(tch[L]["seconds"] / lib[L]["seconds"] for L in tch)))
    w(text)
    w("")
    w("![Test error against latent size](%srecon_error.png)" % FIG)
    w("")
    w("![Test images and their reconstructions by each method](%srecon_grid.png)" % FIG)
    w("")


# ---- 2 -------------------------------------------------------------------------------

def _oneclass(w, r, data):
    methods = r["methods"]
    w("## 2. One-class anomaly detection (Fashion-MNIST) {#results_oneclass}")
    w("")
    w("The standard protocol: a detector is trained on all %s training images of one class and "
      "scores the %s test images; the other nine classes are the anomalies; the figure is the "
      "area under the ROC curve (AUROC), per class and its mean over the ten classes. Where "
      "several seeds were run, a cell is the mean over the seeds and the mean column gives the "
      "mean ± the sample standard deviation of the ten-class mean over the seeds."
      % ("about 6,000" if not data["quick"] else "the subset's", "{:,}".format(r["test_rows"])))
    w("")
    classes = r["classes"]
    w("| method | seeds | " + " | ".join(CLASS_NAMES[c].split("/")[0] for c in classes) + " | mean |")
    w("|---|---|" + "---|" * (len(classes) + 1))
    for key in r["order"]:
        m = methods[key]
        per = np.array(m["auroc"], dtype=float)          # seeds x classes
        cells = ["%.3f" % v for v in per.mean(axis=0)]
        w("| %s | %d | %s | **%s** |" % (m["label"], per.shape[0], " | ".join(cells),
                                          fmt_ms(m["mean_per_seed"])))
    for p in r["published"]:
        cells = ["%.3f" % p["per_class"][c] if p["per_class"] else "" for c in classes]
        w("| %s | | %s | %s |" % (p["label"], " | ".join(cells),
                                  ("%.3f" % p["mean"]) if p["mean"] is not None else "n/a"))
    w("")
    for key in r["order"]:
        if methods[key].get("description"):
            w("- **%s**: %s" % (methods[key]["label"], methods[key]["description"]))
    w("")
    w("Published figures, and what could be checked here (this machine has no network access, so "
      "none of them could be read again from the papers while writing this):")
    w("")
    for p in r["published"]:
        w("- **%s**: %s" % (p["label"], p["text"]))
    w("")
    w("![ROC curves per class](%soneclass_roc.png)" % FIG)
    w("")
    _experiments(w, r, data)


def _experiments(w, r, data):
    w("### How far a dense autoencoder goes {#results_oneclass_push}")
    w("")
    w(r["experiments_intro"])
    w("")
    hard = [c for c in (6, 2, 4) if c in r["classes"]]
    w("| # | experiment | what changed | mean AUROC | %s |" % ", ".join(CLASS_NAMES[c] for c in hard))
    w("|---|---|---|---|---|")
    for i, e in enumerate(r["experiments"], 1):
        per = np.array(e["auroc"], dtype=float).mean(axis=0)
        w("| %d | %s | %s | %s | %s |" % (i, e["name"], e["change"], fmt_ms(e["mean_per_seed"]),
                                          ", ".join("%.3f" % per[r["classes"].index(c)] for c in hard)))
    w("")
    for para in r["experiments_notes"]:
        w(para)
        w("")


# ---- 3 -------------------------------------------------------------------------------

def _tabular(w, r, data):
    from stage_tabular import METHODS
    w("## 3. Tabular anomaly detection {#results_tabular}")
    w("")
    w("The data sets that ship inside scikit-learn (no download). One-class protocol, as for the "
      "images: 60%% of the normal rows (drawn at random per seed) train each detector; the test set "
      "is the other 40%% and anomalies drawn at random to make a fifth of it (average precision "
      "depends on that share, AUROC does not; chance is 0.2 and 0.5). Each detector sees features standardised on its training "
      "rows. libautoenc: `autoenc.AnomalyDetector` with its defaults (the architecture from "
      "`autoenc.default_architecture`, standardised features, linear output, MSE; up to 300 epochs, "
      "batch 32, patience 20); IsolationForest with 200 trees; LocalOutlierFactor (novelty mode, "
      "k = 20 or a fifth of the training rows); OneClassSVM (RBF, gamma 'scale', nu 0.1); PCA "
      "reconstruction error with a quarter of the features as components. Mean ± standard deviation "
      "over %d seeds (splits and model seeds); where a data set has several normal classes, each "
      "seed's figure is the mean over them." % r["seeds"])
    w("")
    for metric, title in (("auroc", "AUROC"), ("ap", "average precision")):
        w("| %s | test rows, anomalies | %s |" % (title, " | ".join(METHODS)))
        w("|---|---|" + "---|" * len(METHODS))
        for name, d in r["datasets"].items():
            vals = {m: mean_std(d["methods"][m][metric])[0] for m in METHODS}
            top = max(vals.values())
            cells = []
            for m in METHODS:
                cell = fmt_ms(d["methods"][m][metric])
                cells.append("**%s**" % cell if vals[m] >= top - 1e-12 else cell)
            w("| %s | %.0f, %.0f%% | %s |" % (name, d.get("test_rows", 0), 100 * d["prevalence"], " | ".join(cells)))
        w("")
    for name, d in r["datasets"].items():
        w("- **%s**: %s." % (name, d["description"]))
    w("")


# ---- 4 -------------------------------------------------------------------------------

def _features(w, r, data):
    lib, pca = _int_keys(r["lib"]), _int_keys(r["pca"])
    w("## 4. Latent codes as features {#results_features}")
    w("")
    w("A logistic regression (scikit-learn, L2, C = 1, lbfgs up to %d iterations, features "
      "standardised) trained on the %s training images' features, accuracy on the %s test images. "
      "The codes are those of the stage-1 libautoenc models, which never saw a label."
      % (r["max_iter"], "{:,}".format(r["rows"]), "{:,}".format(r["test_rows"])))
    w("")
    w("| features | numbers per image | test accuracy |")
    w("|---|---|---|")
    for L in sorted(lib):
        dead = lib[L].get("dead_units", 0)
        w("| libautoenc codes | %d%s | %.2f%% |" % (L, " (%d never active)" % dead if dead else "",
                                                    100 * lib[L]["accuracy"]))
        w("| PCA | %d | %.2f%% |" % (L, 100 * pca[L]["accuracy"]))
    w("| raw pixels | 784 | %.2f%% |" % (100 * r["raw"]["accuracy"]))
    w("")
    w("The codes' ReLU makes some code units never active on the training images; they are counted "
      "in the table. A 2-D picture of the 32-number codes of %s test images (t-SNE, coloured by the "
      "class the model never saw):" % "{:,}".format(r["tsne"]["points"]))
    w("")
    w("![t-SNE of the test codes](%scodes_tsne.png)" % FIG)
    w("")


# ---- 5 -------------------------------------------------------------------------------

def _denoise(w, r, data):
    w("## 5. Denoising {#results_denoise}")
    w("")
    w("Test images corrupted as the library corrupts training batches (Gaussian noise not clipped). "
      "For each kind of noise, a model of the reference architecture (L = %d, %d epochs) trained with "
      "that noise (`noise`, `noise_level`) against the plainly trained stage-1 model; mean PSNR over "
      "the test images, in dB against the clean image (peak 1; higher is better)." % (r["latent"], r["epochs"]))
    w("")
    w("| corruption | corrupted input | plain model | denoising model | denoising model, clean input |")
    w("|---|---|---|---|---|")
    for kind, e in r["noises"].items():
        w("| %s | %.1f dB (%.1f dB clipped to [0, 1]) | %.1f dB | **%.1f dB** | %.1f dB |" % (
            e["label"], e["noisy"], e["noisy_clipped"], e["plain"], e["denoising"], e["denoising_clean_input"]))
    w("")
    first = next(iter(r["noises"].values()))
    w("For reference, the plain model reconstructs clean test images at %.1f dB." % first["plain_clean_input"])
    w("")
    w("![Corrupted test images and their restorations](%sdenoise_grid.png)" % FIG)
    w("")


# ---- 6 -------------------------------------------------------------------------------

def _generate(w, r, data):
    models = _int_keys(r["models"])
    w("## 6. Generation: variational autoencoders {#results_generate}")
    w("")
    w("Variational models 784-512-256-L (`variational=True`; ReLU inside, sigmoid output, binary "
      "cross-entropy, Adam at 1e-3, batch 128, %d epochs with the KL weight warmed up over the first "
      "3) on the %s training images. The test ELBO is in nats per image: the analytic KL divergence "
      "of each test image's code distribution from the prior plus the summed binary cross-entropy "
      "of the image under the decoding of codes drawn from it (the mean over 4 draws); higher is "
      "better." % (r["epochs"], "{:,}".format(data["results"]["recon"]["rows"])
                   if "recon" in data["results"] else ""))
    w("")
    w("| latent | test ELBO | reconstruction term | KL term | training ELBO, last epoch |")
    w("|---|---|---|---|---|")
    for L in sorted(models):
        m = models[L]
        w("| %d | **%.1f** | %.1f | %.1f | %.1f |" % (L, m["test_elbo"], m["test_reconstruction"], m["test_kl"],
                                                     m["train_elbo_last_epoch"]))
    w("")
    w("![Samples from the prior](%svae_samples.png)" % FIG)
    w("")
    w("![Traversal of the 2-D latent space](%svae_traversal.png)" % FIG)
    w("")
    w("![Interpolation between test images](%svae_interpolation.png)" % FIG)
    w("")
    w("![The test images' 2-D codes](%svae_codes_2d.png)" % FIG)
    w("")


# ---- 7 -------------------------------------------------------------------------------

def _speed(w, r, data):
    w("## 7. Speed {#results_speed}")
    w("")
    w("The reference model 784-512-256-64 (ReLU, sigmoid output, BCE, Adam, batch %d) in the same "
      "process: one training pass over %s images and one encode of the %s test images, the two "
      "frameworks alternating, the median of %d repetitions after a warm-up. On a shared machine "
      "the ratio is the figure to read. [docs/performance.md](performance.md) has the full benchmark "
      "(the GEMM-only floor, batch sizes, kann and FANN)." % (
          r["batch"], "{:,}".format(r["rows"]), "{:,}".format(r["encode_rows"]), r["reps"]))
    w("")
    w("| | libautoenc | PyTorch | ratio |")
    w("|---|---|---|---|")
    for key, label in (("train", "training, samples/s"), ("encode", "encoding, samples/s")):
        lib = r["lib_" + key]["samples_per_s"]
        if ("torch_" + key) in r:
            t = r["torch_" + key]["samples_per_s"]
            w("| %s | %s | %s | %.2fx |" % (label, "{:,.0f}".format(lib), "{:,.0f}".format(t), lib / t))
        else:
            w("| %s | %s | | |" % (label, "{:,.0f}".format(lib)))
    w("")
    if "recon" in data["results"]:
        rec = data["results"]["recon"]
        lib64 = _int_keys(rec["lib"]).get(64)
        t64 = _int_keys(rec["torch"]).get(64)
        if lib64 and t64:
            w("Over stage 1's whole fits at L = 64 (%d epochs of %s images) the rates were %s and %s "
              "samples/s." % (rec["epochs"], "{:,}".format(rec["rows"]), "{:,.0f}".format(lib64["samples_per_s"]),
                              "{:,.0f}".format(t64["samples_per_s"])))
            w("")


def _checks(w, data):
    checks = data["checks"]
    bad = [c for c in checks if not c[2]]
    w("## Checks {#results_checks}")
    w("")
    w("The run checks its own results and figures (every figure reads back as a picture with "
      "content; every autoencoder beats the mean image; detectors beat chance; denoising models "
      "beat the noisy input and the plain model; ...): %d checks, %d failed." % (len(checks), len(bad)))
    w("")
    for stage, what, _ok, detail in bad:
        w("- FAILED (%s): %s %s" % (stage, what, detail))
    if bad:
        w("")
    rec = data["results"].get("recon")
    if rec and not data["quick"] and any(c[0] == "recon" and "mean image" in c[1] for c in bad) \
            and (rec["rows"] < 60000 or rec["epochs"] < 10):
        ratios = ", ".join("%.1f at L=%s" % (rec["mean_image"]["mse"] / v["mse"], L)
                           for L, v in sorted(_int_keys(rec["lib"]).items()))
        w("The failed reconstruction checks ask a full run for a test MSE at least five times below the mean "
          "image's, a bar set for the unreduced design (all 60,000 images, 10 epochs); this run trained on "
          "%s images for %d epochs, and the mean image's MSE over libautoenc's is %s. They fail because the "
          "run was reduced to fit its time, and they are left failing rather than lowered."
          % ("{:,}".format(rec["rows"]), rec["epochs"], ratios))
        w("")


def _reproduce(w, data):
    w("## Reproduce {#results_reproduce}")
    w("")
    w("~~~sh")
    w("apt-get install -y python3-matplotlib python3-torch     # python3-torch: the PyTorch columns only")
    w("cmake -S . -B build && cmake --build build -j2 --target autoenc")
    w("cmake --build build --target results                    # = AUTOENC_LIBRARY=build/src/libautoenc.so.0 \\")
    w("                                                        #   /usr/bin/python3 bench/datasets/run.py")
    w("/usr/bin/python3 bench/datasets/run.py --quick --out /tmp/q  # the pipeline on small subsets (about a minute of CPU)")
    w("ctest --test-dir build -R results_quick_fashion         # the same as a test")
    w("~~~")
    w("")
    runs = data.get("runs") or []
    if runs:
        w("This page came from:")
        w("")
        w("~~~sh")
        for r in runs:   # side by side: each started in the background, then waited for
            w("AUTOENC_LIBRARY=build/src/libautoenc.so.0 %s%s" % (r["command"], " &" if len(runs) > 1 else ""))
        if len(runs) > 1:
            w("wait")
        w("~~~")
        w("")
        w("(a full run's `--out`, the folder written to, is left out of the commands). A full run with "
          "no options, as `cmake --build build --target results` starts it, is such a set of processes "
          "side by side (`--jobs`, by default one per CPU up to 3), each on one thread: one runs every "
          "stage but the one-class one, the others share the one-class classes, and each merges its "
          "results with `--resume`. One-threaded processes keep every core busy where one process's "
          "threads wait for each other: PyTorch's 784-512-256-8 fit took 910 s on two threads and 359 s "
          "on one on this machine. `--jobs 1` runs every stage in one process.")
        if any("--train-rows" in r["command"] or "--epochs" in r["command"] for r in runs):
            w("`--train-rows` and `--epochs` shrink the reference-size models' training, so that the run "
              "fitted its time on a machine shared with other builds; without them the run trains the "
              "unreduced design (all 60,000 images, 10 epochs, 20 for the one-class reference model).")
        w("")
    w("`--stages recon,oneclass,...` runs a subset, `--seeds N` sets the seeds where several are run, "
      "`--no-torch` leaves PyTorch out, `--report-only` rewrites this page from `results/results.json`.")
