"""On real data: the estimators learn Fashion-MNIST (a slice of it, to stay quick).

- the Autoencoder's test-set reconstructions beat the mean training image by far;
- the AnomalyDetector, trained on one class, ranks the other classes as more
  abnormal (one-class AUROC well above chance);
- the VariationalAutoencoder beats the mean image too and samples images.
"""

import pytest
from sklearn.metrics import roc_auc_score

import autoenc
from fashion_data import load


@pytest.fixture(scope="module")
def fashion():
    try:
        x_train, y_train = load("train", 8000)
        x_test, y_test = load("test", 2000)
    except FileNotFoundError as exc:
        pytest.fail("Fashion-MNIST is missing (apt-get install dataset-fashion-mnist): %s" % exc)
    return x_train, y_train, x_test, y_test


def test_autoencoder_reconstructs_better_than_the_mean_image(fashion):
    x_train, _, x_test, _ = fashion
    est = autoenc.Autoencoder(hidden_layer_sizes=(256,), latent_dim=32, output_activation="sigmoid",
                              loss="bce", batch_size=128, epochs=6, random_state=0)
    est.fit(x_train)
    mse = float(((est.reconstruct(x_test) - x_test) ** 2).mean())
    baseline = float(((x_test - x_train.mean(axis=0)) ** 2).mean())
    print("test MSE %.4f, mean image %.4f" % (mse, baseline))
    assert mse < 0.35 * baseline, (mse, baseline)
    assert est.transform(x_test).shape == (len(x_test), 32)


def test_anomaly_detector_trained_on_one_class_ranks_the_others_above_it(fashion):
    x_train, y_train, x_test, y_test = fashion
    aurocs = {}
    for normal_class in (1, 7):  # trouser, sneaker
        det = autoenc.AnomalyDetector(hidden_layer_sizes=(128,), latent_dim=16,
                                      output_activation="sigmoid", loss="mse", epochs=15,
                                      batch_size=64, contamination=0.05, random_state=0)
        det.fit(x_train[y_train == normal_class])
        is_outlier = (y_test != normal_class).astype(int)
        aurocs[normal_class] = roc_auc_score(is_outlier, -det.score_samples(x_test))
        # the training class is mostly predicted normal, the rest mostly not
        pred = det.predict(x_test)
        assert (pred[y_test == normal_class] == 1).mean() > 0.8
        assert (pred[y_test != normal_class] == -1).mean() > 0.5
    print("one-class AUROC:", {k: round(v, 3) for k, v in aurocs.items()})
    assert all(v > 0.85 for v in aurocs.values()), aurocs


def test_variational_autoencoder_learns_and_samples(fashion):
    x_train, _, x_test, _ = fashion
    vae = autoenc.VariationalAutoencoder(hidden_layer_sizes=(256,), latent_dim=16,
                                         output_activation="sigmoid", loss="bce", epochs=6,
                                         batch_size=128, random_state=0)
    vae.fit(x_train)
    mse = float(((vae.reconstruct(x_test) - x_test) ** 2).mean())
    baseline = float(((x_test - x_train.mean(axis=0)) ** 2).mean())
    print("VAE test MSE %.4f, mean image %.4f, ELBO %.1f" % (mse, baseline, vae.fit_report_.final_elbo))
    assert mse < 0.6 * baseline
    samples = vae.sample(16, random_state=0)
    assert samples.shape == (16, 784) and ((samples >= 0) & (samples <= 1)).all()
    assert samples.std(axis=0).mean() > 0.01  # not one image 16 times
