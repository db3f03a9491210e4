"""The scikit-learn estimators: check_estimator, the estimator rules, model selection."""

import io
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_blobs
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import autoenc
from autoenc import AnomalyDetector, Autoencoder, VariationalAutoencoder
from autoenc import default_architecture

ESTIMATORS = [Autoencoder(), AnomalyDetector(), VariationalAutoencoder()]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_check_estimator(estimator, check):
    check(estimator)


def test_only_subset_invariance_is_marked_as_expected_to_fail():
    # The one check float32 through OpenBLAS cannot promise (see _more_tags); every other
    # check must pass.
    for est in ESTIMATORS:
        xfail = est._get_tags().get("_xfail_checks", {})
        assert set(xfail) == {"check_methods_subset_invariance"}


def test_a_row_scores_alike_alone_and_among_others(rng):
    # What holds instead: to float32 rounding, whatever the kernels.
    X = rng.standard_normal((300, 12)).astype(np.float32)
    est = AnomalyDetector(epochs=2, random_state=0).fit(X)
    full = est.score_samples(X)
    alone = np.concatenate([est.score_samples(X[i : i + 1]) for i in range(0, 300, 7)])
    np.testing.assert_allclose(full[::7], alone, rtol=1e-5, atol=1e-6)
    codes = Autoencoder(epochs=2, random_state=0).fit(X)
    np.testing.assert_allclose(
        codes.transform(X)[::7],
        np.concatenate([codes.transform(X[i : i + 1]) for i in range(0, 300, 7)]),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def test_default_architecture_follows_the_width():
    assert default_architecture(784) == ((224,), 64)
    assert default_architecture(20) == ((8,), 3)
    assert default_architecture(2) == ((), 1)
    assert default_architecture(1) == ((), 1)
    with pytest.raises(ValueError):
        default_architecture(0)
    for d in (1, 2, 3, 7, 64, 100, 5000):
        hidden, k = default_architecture(d)
        assert 1 <= k <= d and all(k < h < d for h in hidden)


@pytest.mark.parametrize("cls", [Autoencoder, AnomalyDetector, VariationalAutoencoder])
def test_defaults_work_on_any_width(cls, rng):
    for d in (1, 2, 5, 40):
        X = rng.standard_normal((60, d)).astype(np.float32) * 3 + 1
        est = cls(epochs=3).fit(X)
        assert est.n_features_in_ == d
        assert est.widths_[0] == d == est.widths_[-1]
        assert est.latent_dim_ == default_architecture(d)[1]


def test_constructor_arguments_are_stored_unchanged():
    settings = {"clip_norm": 1.0}
    hidden = (32, 16)
    est = Autoencoder(hidden_layer_sizes=hidden, settings=settings, random_state=3)
    assert est.get_params()["hidden_layer_sizes"] is hidden
    assert est.get_params()["settings"] is settings
    twin = clone(est)
    assert twin.get_params()["settings"] == settings and twin.random_state == 3
    est.set_params(latent_dim=7, learning_rate=0.01)
    assert (est.latent_dim, est.learning_rate) == (7, 0.01)


def test_fitted_attributes(digits):
    X, _ = digits
    est = Autoencoder(hidden_layer_sizes=(32,), latent_dim=8, epochs=5, random_state=0,
                      validation_fraction=0.1)
    assert est.fit(X) is est
    assert isinstance(est.model_, autoenc.Model) and est.model_.widths == (64, 32, 8, 32, 64)
    assert est.widths_ == (64, 32, 8, 32, 64) and est.latent_dim_ == 8 and est.n_features_in_ == 64
    assert est.n_iter_ == est.fit_report_.epochs_run == len(est.loss_curve_)
    assert not np.isnan(est.validation_loss_curve_).any()
    assert est.model_.seed == 0 and est.model_.scaling is autoenc.Scaling.STANDARDIZE


def test_transform_inverse_transform_reconstruct_score(digits):
    X, _ = digits
    est = Autoencoder(hidden_layer_sizes=(48,), latent_dim=16, epochs=40, random_state=0)
    Z = est.fit_transform(X)
    assert Z.shape == (len(X), 16) and Z.dtype == np.float32
    np.testing.assert_array_equal(Z, est.transform(X))
    back = est.inverse_transform(Z)
    np.testing.assert_allclose(back, est.reconstruct(X), rtol=1e-4, atol=1e-4)
    # better than predicting the mean of every pixel
    mse = float(((est.reconstruct(X) - X) ** 2).mean())
    assert mse < 0.5 * float(((X - X.mean(axis=0)) ** 2).mean())
    assert est.score(X) == pytest.approx(-mse, rel=1e-5)  # in X's units, not the scaled ones
    errors = est.feature_errors(X)
    np.testing.assert_allclose(errors.mean(axis=1), est.reconstruction_error(X), rtol=1e-5)
    with pytest.raises(ValueError, match="16"):
        est.inverse_transform(np.zeros((3, 15)))
    with pytest.raises(ValueError, match="64 features"):
        est.transform(np.zeros((3, 63)))


def test_unfitted_use_raises_not_fitted(digits):
    X, _ = digits
    for est, calls in ((Autoencoder(), ("transform", "inverse_transform", "reconstruct", "score",
                                         "feature_errors", "reconstruction_error")),
                       (AnomalyDetector(), ("predict", "decision_function", "score_samples")),
                       (VariationalAutoencoder(), ("transform", "encode_distribution"))):
        for name in calls:
            with pytest.raises(NotFittedError):
                getattr(est, name)(X)
    with pytest.raises(NotFittedError):
        VariationalAutoencoder().sample(3)
    with pytest.raises(NotFittedError):
        VariationalAutoencoder().interpolate(X[0], X[1])


def test_invalid_parameters_are_value_errors_at_fit(digits):
    X, _ = digits
    for params in ({"epochs": 0}, {"batch_size": -1}, {"learning_rate": 0.0}, {"latent_dim": 0},
                   {"hidden_layer_sizes": (10, 0)}, {"hidden_layer_sizes": "wide"},
                   {"activation": "rectifier"}, {"loss": "hinge"}, {"validation_fraction": 0.95},
                   {"dropout_input": 1.0}, {"settings": {"no_such": 1}}, {"settings": [1]},
                   {"random_state": -1}, {"tied_weights": "yes"}, {"n_threads": -1},
                   {"settings": {"clip_norm": -1.0}}):
        with pytest.raises(ValueError):
            Autoencoder(**params).fit(X)
    with pytest.raises(ValueError, match="contamination"):
        AnomalyDetector(contamination=0.7).fit(X)
    with pytest.raises(ValueError, match="kl_weight"):
        VariationalAutoencoder(kl_weight=-1).fit(X)


def test_conflicting_parameters_are_value_errors_naming_both(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="incompatible parameters.*scaling.*output_activation"):
        Autoencoder(output_activation="sigmoid", loss="bce", scaling="standardize").fit(X)
    with pytest.raises(ValueError, match="incompatible parameters.*sigmoid"):
        Autoencoder(loss="bce").fit(X)  # bce needs a sigmoid output
    # "auto" scaling suits the output: standardised for a linear one, none for a sigmoid
    assert Autoencoder(epochs=2).fit(X).model_.scaling is autoenc.Scaling.STANDARDIZE
    est = Autoencoder(output_activation="sigmoid", loss="bce", epochs=2).fit(X)
    assert est.model_.scaling is autoenc.Scaling.NONE
    Autoencoder(output_activation="sigmoid", loss="bce", scaling="minmax", epochs=2).fit(X)


def test_random_state_maps_to_the_seed_and_makes_fits_repeatable(digits):
    X, _ = digits
    a = Autoencoder(epochs=3, random_state=42).fit(X)
    b = Autoencoder(epochs=3, random_state=42).fit(X)
    assert a.model_.seed == 42
    assert a.model_.get_flat_params().tobytes() == b.model_.get_flat_params().tobytes()
    c = Autoencoder(epochs=3, random_state=np.random.RandomState(0)).fit(X)
    d = Autoencoder(epochs=3, random_state=np.random.RandomState(0)).fit(X)
    assert c.model_.seed == d.model_.seed
    np.random.seed(5)
    e = Autoencoder(epochs=1).fit(X)
    np.random.seed(5)
    f = Autoencoder(epochs=1).fit(X)
    assert e.model_.seed == f.model_.seed  # None draws from numpy's global generator


def test_refitting_replaces_the_model(digits):
    X, _ = digits
    est = Autoencoder(epochs=2, random_state=0).fit(X)
    first = est.model_
    est.fit(X[:, :32])
    assert first.closed and est.n_features_in_ == 32


def test_partial_fit_trains_one_epoch_per_call(digits):
    X, _ = digits
    est = Autoencoder(epochs=50, random_state=0)
    est.partial_fit(X[:900])
    assert est.n_iter_ == 1 and est.model_.epochs == 50
    loss_before = est.score(X)
    for _ in range(5):
        est.partial_fit(X[900:])
    assert est.n_iter_ == 6 and len(est.loss_curve_) == 6
    assert est.score(X) > loss_before
    with pytest.raises(ValueError, match="64 features"):
        est.partial_fit(X[:, :10])


def test_pickle_and_joblib_round_trip_through_the_models_bytes(digits):
    X, _ = digits
    for est in (Autoencoder(epochs=3, random_state=0).fit(X),
                AnomalyDetector(epochs=3, random_state=0).fit(X),
                VariationalAutoencoder(epochs=3, random_state=0).fit(X)):
        data = pickle.dumps(est)
        assert est.model_.to_bytes(optimizer_state=True) in data
        back = pickle.loads(data)
        assert back.model_ is not est.model_
        assert back.model_.get_flat_params().tobytes() == est.model_.get_flat_params().tobytes()
        buffer = io.BytesIO()
        joblib.dump(est, buffer)
        buffer.seek(0)
        again = joblib.load(buffer)
        method = "decision_function" if isinstance(est, AnomalyDetector) else "transform"
        np.testing.assert_array_equal(getattr(again, method)(X), getattr(est, method)(X))
        assert again.get_params() == est.get_params()


def test_anomaly_detector_contract(rng):
    normal = rng.standard_normal((400, 6)).astype(np.float32) @ rng.standard_normal((6, 6)).astype(np.float32)
    det = AnomalyDetector(contamination=0.05, epochs=30, random_state=0).fit(normal)
    assert det.threshold_ > 0 and det.offset_ == -det.threshold_
    assert det.decision_scores_.shape == (400,) and det.decision_scores_.dtype == np.float64
    assert det.labels_.sum() == 20 and set(np.unique(det.labels_)) == {0, 1}
    # Far from the data in random directions (50 standard deviations): their errors are 45x
    # the threshold or more whatever the training's row order, unlike scaled copies of normal
    # rows, which can lie along what the model reconstructs well.
    outliers = (normal.mean(0) + 50 * normal.std(0) * rng.standard_normal((20, 6))).astype(np.float32)
    X = np.vstack([normal, outliers])
    pred = det.predict(X)
    assert pred.dtype.kind == "i" and set(np.unique(pred)) == {-1, 1}
    scores, decision = det.score_samples(X), det.decision_function(X)
    np.testing.assert_allclose(decision, scores - det.offset_)
    np.testing.assert_array_equal(np.where(decision >= 0, 1, -1), pred)
    assert (pred[400:] == -1).all()
    np.testing.assert_allclose(-scores, det.reconstruction_error(X), rtol=1e-6)
    assert det.feature_errors(X).shape == (420, 6)
    assert np.array_equal(det.fit_predict(normal), det.predict(normal))
    # partial_fit trains an epoch more and sets the threshold from the chunk
    stream = AnomalyDetector(contamination=0.1, random_state=0)
    for chunk in np.array_split(normal, 4):
        stream.partial_fit(chunk)
        assert stream.labels_.sum() == round(0.1 * len(chunk))
    assert stream.n_iter_ == 4 and (stream.predict(outliers) == -1).mean() > 0.5
    # fails closed: a row beyond float range is an outlier
    assert det.predict(np.full((1, 6), 3e38, np.float32))[0] == -1


def test_variational_autoencoder_samples_and_interpolates(digits):
    X, _ = digits
    vae = VariationalAutoencoder(hidden_layer_sizes=(32,), latent_dim=4, epochs=10, random_state=0,
                                 output_activation="sigmoid", loss="bce", scaling="none",
                                 kl_warmup_epochs=2)
    vae.fit(X)
    assert vae.model_.variational and not np.isnan(vae.fit_report_.final_elbo)
    samples = vae.sample(5, random_state=1)
    assert samples.shape == (5, 64) and ((samples >= 0) & (samples <= 1)).all()
    np.testing.assert_array_equal(samples, vae.sample(5, random_state=1))
    path = vae.interpolate(X[0], X[1], n_steps=7)
    assert path.shape == (7, 64)
    mean, log_var = vae.encode_distribution(X)
    np.testing.assert_array_equal(mean, vae.transform(X))
    assert log_var.shape == (len(X), 4)
    with pytest.raises(ValueError):
        vae.interpolate(X[0], X[1], n_steps=1)
    with pytest.raises(ValueError):
        vae.sample(-1)
    assert "tied_weights" not in vae.get_params() and "latent_activation" not in vae.get_params()


def test_pipeline_and_cross_val_score(digits):
    X, y = digits
    pipe = make_pipeline(MinMaxScaler(), Autoencoder(latent_dim=16, epochs=30, random_state=0),
                         LogisticRegression(max_iter=300))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.75, scores  # chance is 0.1
    pca = make_pipeline(PCA(n_components=16), LogisticRegression(max_iter=300))
    assert cross_val_score(pca, X, y, cv=3).mean() > 0.75


def test_grid_search_in_two_processes(digits):
    X, _ = digits
    # 20 epochs: after 8, in the data's units (score), the codes' widths hardly differ yet
    grid = GridSearchCV(Autoencoder(epochs=20, random_state=0),
                        {"latent_dim": [2, 16], "hidden_layer_sizes": [(32,), (48, 32)]},
                        n_jobs=2, cv=3)
    grid.fit(X[:900])
    assert grid.best_params_["latent_dim"] == 16  # a wider code reconstructs better
    assert isinstance(grid.best_estimator_.model_, autoenc.Model)
    assert grid.best_estimator_.transform(X[:5]).shape == (5, 16)


def test_anomaly_detector_in_grid_search_scoring(rng):
    X, _ = make_blobs(n_samples=300, centers=2, n_features=4, random_state=0)
    grid = GridSearchCV(AnomalyDetector(epochs=5, random_state=0), {"latent_dim": [1, 2]},
                        scoring=lambda est, X, y=None: float(est.score_samples(X).mean()), cv=2)
    grid.fit(X)
    assert grid.best_params_["latent_dim"] in (1, 2)


def _fitted_state(est):
    return {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")}


@pytest.mark.parametrize("make, bad_refit", [
    # refused while building the model, after the new data was validated
    (lambda: Autoencoder(epochs=2, random_state=0),
     lambda est, rng: est.set_params(loss="bce").fit(rng.random((80, 7)))),
    # refused by the library while training (rows outside [0, 1] with BCE)
    (lambda: AnomalyDetector(epochs=2, random_state=0),
     lambda est, rng: est.set_params(output_activation="sigmoid", loss="bce")
     .fit(3 * rng.random((80, 7)))),
])
def test_a_failed_refit_leaves_the_estimator_as_it_was(make, bad_refit, rng):
    X = rng.random((80, 10))
    est = make().fit(X)
    before = _fitted_state(est)
    expected = est.transform(X) if hasattr(est, "transform") else est.predict(X)
    params = est.get_params()
    with pytest.raises(ValueError):
        bad_refit(est, rng)
    est.set_params(**params)
    assert _fitted_state(est).keys() == before.keys()
    for name, value in before.items():
        assert _fitted_state(est)[name] is value, name
    assert not est.model_.closed and est.n_features_in_ == est.model_.input_dim == 10
    got = est.transform(X) if hasattr(est, "transform") else est.predict(X)
    np.testing.assert_array_equal(got, expected)


def test_a_failed_first_partial_fit_leaves_the_estimator_unfitted(rng):
    est = Autoencoder(loss="bce", random_state=0)  # refused: bce needs a sigmoid output
    with pytest.raises(ValueError):
        est.partial_fit(rng.random((40, 6)))
    assert _fitted_state(est) == {}
    est.set_params(loss="mse").partial_fit(rng.random((40, 5)))
    assert est.n_features_in_ == 5


@pytest.mark.parametrize("params", [
    dict(scaling="standardize"),
    dict(scaling="minmax"),
    dict(output_activation="sigmoid", loss="bce", scaling="none"),
])
def test_score_is_the_negative_mse_in_the_datas_own_units(params, rng):
    """Comparable across scalings and losses (the model's own loss is in scaled units,
    or a cross-entropy), so that model selection picks the better reconstructor."""
    X = (rng.random((120, 8)) * 0.01).astype(np.float32)
    est = Autoencoder(latent_dim=3, epochs=3, random_state=0, **params).fit(X)
    expected = -np.mean((est.reconstruct(X).astype(np.float64) - X) ** 2)
    assert est.score(X) == pytest.approx(expected, rel=1e-12)


def test_parameter_messages_name_the_estimators_parameter(rng):
    X = rng.random((40, 6))
    with pytest.raises(ValueError, match="n_threads must be at most") as info:
        Autoencoder(epochs=1, n_threads=100).fit(X)
    assert "threads =" not in str(info.value)
    for hidden in ("32", b"32"):  # a string is refused whole, not taken as widths 3 and 2
        with pytest.raises(ValueError, match="hidden_layer_sizes .*got .*'32'"):
            Autoencoder(epochs=1, hidden_layer_sizes=hidden).fit(X)


def test_settings_names_take_any_case_as_model_does(rng):
    est = Autoencoder(epochs=1, settings={"Clip_Norm": 0.5, " SHUFFLE ": False}).fit(rng.random((40, 6)))
    assert est.model_.clip_norm == 0.5 and est.model_.shuffle is False
    with pytest.raises(ValueError, match="settings: libautoenc has no setting 'clip_nrm'"):
        Autoencoder(epochs=1, settings={"clip_nrm": 0.5}).fit(rng.random((40, 6)))
