"""Stage 3: tabular anomaly detection on the data sets that ship inside scikit-learn
(no download): libautoenc's AnomalyDetector against IsolationForest,
LocalOutlierFactor, OneClassSVM and PCA; AUROC and average precision, mean and spread
over seeds.

Protocol (one-class, as for the images): the normal rows are split at random into a
training part (60%) and a test part (40%); the detectors fit the training part; the
test set is the held-out normal rows plus anomalies drawn at random to make a fifth of
it (average precision depends on that share; AUROC does not). Each seed draws another
split and sample and seeds the models. Every detector sees features standardised with the training
part's means and deviations (the autoencoder does this itself, scaling="auto")."""

import warnings

import numpy as np
from sklearn import datasets
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

import autoenc
from common import fmt_ms

NAME = "tabular"
METHODS = ("libautoenc", "IsolationForest", "LocalOutlierFactor", "OneClassSVM", "PCA")


def _tasks(quick):
    """(name, description, features, list of (normal mask, anomaly mask, label))."""
    tasks = []
    bc = datasets.load_breast_cancer()
    # target 0 = malignant, 1 = benign
    tasks.append(("breast cancer", "569 rows, 30 features; normal: benign (357), anomalies: malignant (212)",
                  bc.data, [(bc.target == 1, bc.target == 0, "malignant")]))
    dg = datasets.load_digits()
    digits = (0, 3, 8) if quick else range(10)
    tasks.append(("digits", "1,797 rows, 64 features (8x8 images); normal: one digit (about 180 rows), "
                  "anomalies: the other nine; mean over the %s" % ("digits 0, 3, 8" if quick else "ten digits"),
                  dg.data, [(dg.target == d, dg.target != d, str(d)) for d in digits]))
    wn = datasets.load_wine()
    tasks.append(("wine", "178 rows, 13 features; normal: one cultivar (48-71 rows), anomalies: the "
                  "other two; mean over the three", wn.data,
                  [(wn.target == k, wn.target != k, str(k)) for k in range(3)]))
    ir = datasets.load_iris()
    tasks.append(("iris", "150 rows, 4 features; normal: one species (50 rows), anomalies: the other "
                  "two; mean over the three", ir.data,
                  [(ir.target == k, ir.target != k, str(k)) for k in range(3)]))
    return tasks


def _detectors(seed, n_features, n_train, quick=False):
    def ae(xtr, xte):
        epochs = (300 if n_train > 100 else 500) if not quick else 60
        det = autoenc.AnomalyDetector(epochs=epochs, batch_size=32, patience=20,
                                      validation_fraction=0.0, random_state=seed, n_threads=1)
        det.fit(xtr)
        return -det.score_samples(xte)

    def iforest(xtr, xte):
        return -IsolationForest(n_estimators=200, random_state=seed).fit(xtr).score_samples(xte)

    def lof(xtr, xte):
        k = max(5, min(20, n_train // 5))
        return -LocalOutlierFactor(n_neighbors=k, novelty=True).fit(xtr).score_samples(xte)

    def ocsvm(xtr, xte):
        return -OneClassSVM(kernel="rbf", gamma="scale", nu=0.1).fit(xtr).score_samples(xte)

    def pca(xtr, xte):
        k = max(1, min(n_features // 4, n_train - 1))   # a quarter of the features
        p = PCA(k, random_state=seed).fit(xtr)
        return ((p.inverse_transform(p.transform(xte)) - xte) ** 2).sum(axis=1)

    return dict(zip(METHODS, (ae, iforest, lof, ocsvm, pca)))


def run(ctx):
    seeds = list(range(max(5, len(ctx.seeds)))) if not ctx.quick else ctx.seeds[:2]
    res = {"seeds": len(seeds), "datasets": {}}
    for name, description, x, splits in _tasks(ctx.quick):
        x = np.asarray(x, dtype=np.float64)
        per = {m: {"auroc": [], "ap": []} for m in METHODS}
        prevalence, test_sizes = [], []
        for seed in seeds:
            aurocs = {m: [] for m in METHODS}
            aps = {m: [] for m in METHODS}
            for normal, anomaly, _label in splits:
                rng = np.random.default_rng(1000 + seed)
                idx = rng.permutation(np.flatnonzero(normal))
                n_tr = int(round(0.6 * len(idx)))
                tr, te_norm = idx[:n_tr], idx[n_tr:]
                n_anom = min(int(anomaly.sum()), max(2, int(round(len(te_norm) / 4))))
                te_anom = rng.permutation(np.flatnonzero(anomaly))[:n_anom]
                te = np.concatenate([te_norm, te_anom])
                y = np.concatenate([np.zeros(len(te_norm)), np.ones(n_anom)])
                prevalence.append(y.mean())
                test_sizes.append(len(y))
                scaler = StandardScaler().fit(x[tr])
                xtr_s, xte_s = scaler.transform(x[tr]), scaler.transform(x[te])
                for method, fn in _detectors(seed, x.shape[1], len(tr), ctx.quick).items():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        if method == "libautoenc":   # scales the raw features itself
                            s = fn(x[tr].astype(np.float32), x[te].astype(np.float32))
                        else:
                            s = fn(xtr_s, xte_s)
                    aurocs[method].append(roc_auc_score(y, s))
                    aps[method].append(average_precision_score(y, s))
            for m in METHODS:
                per[m]["auroc"].append(float(np.mean(aurocs[m])))
                per[m]["ap"].append(float(np.mean(aps[m])))
        res["datasets"][name] = {"description": description, "prevalence": float(np.mean(prevalence)),
                                 "test_rows": float(np.mean(test_sizes)),
                                 "methods": per}
        ctx.log(NAME, "%s: %s" % (name, ", ".join("%s AUROC %s" % (m, fmt_ms(per[m]["auroc"]))
                                                  for m in METHODS)))
        for m in METHODS:
            ok = all(0.0 <= v <= 1.0 for v in per[m]["auroc"] + per[m]["ap"])
            ctx.check(NAME, "%s: %s gives AUROC and AP in [0, 1]" % (name, m), ok)
        ctx.check(NAME, "%s: libautoenc better than chance" % name, np.mean(per["libautoenc"]["auroc"]) > 0.6,
                  "%.3f" % np.mean(per["libautoenc"]["auroc"]))
    ctx.results[NAME] = res
