"""autoenc.Model: every method of the low-level API against what the C API promises."""

import copy
import math
import os
import pathlib
import pickle

import numpy as np
import pytest

import autoenc
from autoenc import Activation, Loss, StopReason


# --- creating -----------------------------------------------------------------------------
def test_create_mirrors_the_encoder_by_default():
    with autoenc.Model([10, 6, 2]) as m:
        assert m.widths == (10, 6, 2, 6, 10)
        assert (m.input_dim, m.latent_dim, m.layer_count, m.encoder_layer_count) == (10, 2, 4, 2)
        assert m.param_count == 10 * 6 + 6 * 2 + 2 * 6 + 6 * 10 + 6 + 2 + 6 + 10
        assert m.architecture == autoenc.Architecture.PLAIN
        assert not m.tied and not m.variational and not m.encoder_only
        assert "10-6-2-6-10" in repr(m)


def test_create_with_an_explicit_decoder():
    with autoenc.Model([10, 4], [4, 7, 9, 10]) as m:
        assert m.widths == (10, 4, 7, 9, 10)
        assert m.layer_count == 4 and m.encoder_layer_count == 1


def test_create_tied_and_variational():
    with autoenc.Model([10, 6, 2], tied=True) as t:
        assert t.tied and t.architecture == autoenc.Architecture.TIED_WEIGHTS
        assert t.describe_layer(3).tied and t.describe_layer(3).weights_layer == 0
        assert "tied" in repr(t)
    with autoenc.Model([10, 6, 2], variational=True) as v:
        assert v.variational and v.latent_dim == 2
        assert v.layer_info(1)[0] == 4  # mean and log-variance rows
        assert v.widths == (10, 6, 2, 6, 10)


def test_create_refuses_bad_widths():
    with pytest.raises(ValueError, match="at least 2 widths"):
        autoenc.Model([10])
    with pytest.raises(ValueError, match="at least 1"):
        autoenc.Model([10, 0])
    with pytest.raises(ValueError, match="at least 1"):
        autoenc.Model([10, -3])  # would wrap around as a size_t
    with pytest.raises(TypeError):
        autoenc.Model([10, 2.5])
    with pytest.raises(TypeError):
        autoenc.Model("10-2")
    with pytest.raises(TypeError):
        autoenc.Model(5)
    with pytest.raises(ValueError, match="at least 2 widths"):
        autoenc.Model([10, 2], [2])
    # the library's own checks: a decoder that does not end at the input width
    with pytest.raises(autoenc.InvalidArgumentError) as info:
        autoenc.Model([10, 2], [2, 9])
    assert info.value.status == -1 and info.value.function == "ae_model_create"
    with pytest.raises(autoenc.InvalidArgumentError):
        autoenc.Model([10, 2], tied=True, variational=True)
    with pytest.raises(autoenc.InvalidArgumentError):
        autoenc.Model([10, autoenc.max_layer_width() + 1])


def test_create_applies_settings_in_order_and_frees_on_failure():
    m = autoenc.Model([4, 2], loss="bce", output_activation="sigmoid", epochs=3)
    assert m.loss is Loss.BCE and m.output_activation is Activation.SIGMOID and m.epochs == 3
    m.close()
    with pytest.raises(autoenc.StateError, match="standardize"):
        autoenc.Model([4, 2], output_activation="sigmoid", loss="bce", scaling="standardize")
    with pytest.raises(ValueError, match="no setting"):
        autoenc.Model([4, 2], no_such_setting=1)


# --- lifetime ------------------------------------------------------------------------------
def test_close_is_idempotent_and_later_use_is_an_error():
    m = autoenc.Model([4, 2])
    m.close()
    m.close()
    assert m.closed and "closed" in repr(m)
    for call in (lambda: m.encode(np.zeros((1, 4), np.float32)), lambda: m.epochs,
                 lambda: m.get_flat_params(), lambda: m.fit(np.zeros((2, 4))), m.clone,
                 lambda: m.to_bytes(), lambda: m.encode(np.zeros((2, 4)))):
        with pytest.raises(ValueError, match="closed"):
            call()
    with pytest.raises(ValueError, match="closed"):
        with m:
            pass


def test_context_manager_closes():
    with autoenc.Model([4, 2]) as m:
        assert not m.closed
    assert m.closed


def test_garbage_collection_frees_the_handle():
    m = autoenc.Model([4, 2])
    finalizer = m._finalizer
    assert finalizer.alive
    del m
    assert not finalizer.alive


def test_slots_catch_misspelt_settings():
    with autoenc.Model([4, 2]) as m:
        with pytest.raises(AttributeError):
            m.learning_rat = 0.1


# --- settings ------------------------------------------------------------------------------
def test_every_setting_is_a_typed_attribute_that_round_trips():
    with autoenc.Model([6, 3]) as m:
        settings = m.settings()
        assert set(settings) == set(autoenc.PARAMS)
        for name, info in autoenc.PARAMS.items():
            value = getattr(m, name)
            assert value == settings[name]
            expected = {"enum": info.enum, "bool": bool, "int": int, "float": float}[info.kind]
            assert isinstance(value, expected), name
            setattr(m, name, value)  # the default is valid
            assert getattr(m, name) == value
            assert m.get_param(name) == value == m.get_param(info.id)


def test_param_table_comes_from_the_library():
    lib = autoenc._lib.lib
    for name, info in autoenc.PARAMS.items():
        assert autoenc.param_name(info.id) == name
        assert autoenc.param_bounds(name) == (info.min_value, info.max_value, info.integral)
        assert autoenc.Param[name.upper()] == info.id
    assert autoenc.param_name(9999) is None
    assert autoenc.PARAMS["learning_rate"].kind == "float"
    assert autoenc.PARAMS["epochs"].kind == "int"
    assert autoenc.PARAMS["shuffle"].kind == "bool"
    assert autoenc.PARAMS["loss"].kind == "enum"
    assert autoenc.activation_name(4) == "sigmoid" and autoenc.activation_name(99) is None
    if autoenc._lib.has("ae_param_describe"):
        lr = autoenc.PARAMS["learning_rate"]
        assert lr.min_open and not lr.max_open and lr.range_text == "(0, 1000]" and lr.default == 1e-3
        assert autoenc.PARAMS["sparsity_target"].range_text == "(0, 1)"
        with autoenc.Model([4, 2]) as fresh:
            for name, info in autoenc.PARAMS.items():
                assert info.from_c(info.default) == fresh.get_param(name), name
    if autoenc._lib.has("ae_param_value_name"):
        for name, info in autoenc.PARAMS.items():
            if info.kind == "enum":
                for member in info.enum:
                    assert lib.ae_param_value_name(info.id, float(member)).decode() == member.name.lower()
    assert "learning_rate" in autoenc.Model.learning_rate.__doc__
    assert lib is not None
    with pytest.raises(ValueError, match="no setting"):
        autoenc.param_info("nope")
    with pytest.raises(ValueError, match="no setting"):
        autoenc.param_info(9999)
    with pytest.raises(TypeError):
        autoenc.param_info(1.5)


def test_enum_settings_take_names_members_and_values():
    with autoenc.Model([6, 3]) as m:
        m.hidden_activation = "leaky_relu"
        assert m.hidden_activation is Activation.LEAKY_RELU
        m.hidden_activation = "ELU"
        assert m.hidden_activation is Activation.ELU
        m.hidden_activation = "leaky-relu"
        assert m.hidden_activation is Activation.LEAKY_RELU
        m.hidden_activation = Activation.TANH
        assert m.hidden_activation is Activation.TANH
        m.hidden_activation = 6
        assert m.hidden_activation is Activation.SOFTPLUS
        m.optimizer = "sgd"
        assert m.optimizer is autoenc.Optimizer.SGD
        m.noise = "salt_and_pepper"
        assert str(m.noise) == "salt_and_pepper"
        m.scaling = "minmax"
        assert m.scaling is autoenc.Scaling.MINMAX
        with pytest.raises(ValueError, match="relu"):
            m.hidden_activation = "rectifier"
        with pytest.raises(ValueError):
            m.hidden_activation = 42
        with pytest.raises(TypeError):
            m.hidden_activation = 1.5j
        with pytest.raises(TypeError):
            m.loss = True


def test_setting_types_are_checked():
    with autoenc.Model([6, 3]) as m:
        m.shuffle = False
        assert m.shuffle is False
        m.epochs = 5.0  # an integral float is a whole number
        assert m.epochs == 5
        with pytest.raises(TypeError):
            m.epochs = 2.5
        with pytest.raises(TypeError):
            m.learning_rate = "fast"
        with pytest.raises(TypeError):
            m.shuffle = "yes"
        with pytest.raises(TypeError):
            m.set_param("epochs", None)


def test_out_of_bounds_values_are_refused_by_the_library():
    with autoenc.Model([6, 3]) as m:
        with pytest.raises(autoenc.InvalidArgumentError, match="learning_rate") as info:
            m.learning_rate = 2e3
        assert isinstance(info.value, ValueError)
        assert m.learning_rate == 1e-3  # unchanged
        with pytest.raises(autoenc.InvalidArgumentError, match="epochs"):
            m.epochs = 0
        with pytest.raises(autoenc.InvalidArgumentError):
            m.learning_rate = math.nan
        with pytest.raises(autoenc.InvalidArgumentError):
            m.sparsity_target = 1.0  # an open end
        assert "learning_rate" in m.last_error or "sparsity_target" in m.last_error


def test_conflicting_settings_are_state_errors_naming_the_other_setting():
    with autoenc.Model([6, 3]) as m:
        m.loss = "bce"  # waits for the output activation
        m.output_activation = "sigmoid"
        with pytest.raises(autoenc.StateError, match="loss"):
            m.scaling = "standardize"
        assert m.scaling is autoenc.Scaling.NONE


def test_configure_returns_the_model():
    with autoenc.Model([6, 3]) as m:
        assert m.configure(epochs=4, batch_size=16) is m
        assert (m.epochs, m.batch_size) == (4, 16)


# --- training ------------------------------------------------------------------------------
def test_fit_returns_a_full_report(model, unit_data):
    report = model.fit(unit_data)
    assert isinstance(report, autoenc.FitReport)
    assert report.epochs_run == 3 and report.steps_run == 3 * math.ceil(300 / 32)
    assert report.stop_reason is StopReason.COMPLETED
    assert len(report.train_loss_history) == 3 and report.final_train_loss == report.train_loss_history[-1]
    assert all(math.isnan(v) for v in report.val_loss_history) and math.isnan(report.final_val_loss)
    assert report.seconds > 0 and report.samples_per_second > 0
    assert math.isnan(report.final_kl)
    assert model.progress_every_batch is False  # restored


def test_fit_continues_where_it_stopped(unit_data):
    with autoenc.Model([12, 3], epochs=2, seed=1) as a:
        first = a.fit(unit_data)
        second = a.fit(unit_data)
        assert a.get_optimizer_state().step == first.steps_run + second.steps_run
        assert second.train_loss_history[0] < first.train_loss_history[0]


def test_fit_with_validation_set_and_early_stopping(model, unit_data):
    model.configure(epochs=50, patience=2, min_delta=1.0)
    report = model.fit(unit_data[:250], unit_data[250:])
    assert report.stop_reason is StopReason.EARLY and report.epochs_run == 3
    assert len(report.val_loss_history) == 3 and not math.isnan(report.final_val_loss)
    assert report.best_epoch == 1 and report.restored_best


def test_fit_refuses_bad_shapes_before_calling(model):
    with pytest.raises(ValueError, match=r"expected shape \(n_rows, 12\), got \(10, 11\)"):
        model.fit(np.zeros((10, 11), np.float32))
    with pytest.raises(ValueError, match="at least one row"):
        model.fit(np.zeros((0, 12), np.float32))
    with pytest.raises(ValueError, match="x_val"):
        model.fit(np.zeros((10, 12)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="x_val"):
        model.fit(np.zeros((10, 12)), np.zeros((0, 12)))
    with pytest.raises(ValueError, match=r"got \(2, 3, 12\)"):
        model.fit(np.zeros((2, 3, 12)))


def test_train_batch_and_gradient(model, unit_data):
    before = model.get_flat_params()
    loss_g, grad = model.gradient(unit_data[:40])
    assert grad.shape == (model.param_count,) and grad.dtype == np.float32
    assert np.array_equal(model.get_flat_params(), before)  # gradient changes nothing
    out = np.empty(model.param_count, np.float32)
    loss_g2, grad2 = model.gradient(unit_data[:40], out=out)
    assert grad2 is out and np.array_equal(out, grad) and loss_g2 == loss_g
    loss = model.train_batch(unit_data[:40])
    assert loss == pytest.approx(loss_g, rel=1e-6)
    assert not np.array_equal(model.get_flat_params(), before)
    with pytest.raises(ValueError, match="at least one row"):
        model.train_batch(unit_data[:0])
    with pytest.raises(ValueError, match="at least one row"):
        model.gradient(unit_data[:0])
    with pytest.raises(ValueError, match=r"expected shape \(%d,\)" % model.param_count):
        model.gradient(unit_data[:4], out=np.empty(3, np.float32))


def test_reset_redraws_the_initial_weights(model, unit_data):
    initial = model.get_flat_params()
    model.fit(unit_data)
    model.reset()
    assert np.array_equal(model.get_flat_params(), initial)
    assert model.get_optimizer_state().step == 0


def test_pretrain_gives_one_report_per_encoder_layer(unit_data):
    with autoenc.Model([12, 8, 3], epochs=2) as m:
        seen = []
        reports = m.pretrain(unit_data, callback=lambda p: seen.append((p.stage, p.epoch)))
        assert len(reports) == 2 and all(r.epochs_run == 2 for r in reports)
        assert all(len(r.train_loss_history) == 2 for r in reports)
        assert seen == [(0, 1), (0, 2), (1, 1), (1, 2)]
    with autoenc.Model([12, 3], epochs=1) as m:  # one epoch per stage still counts stages
        assert len(m.pretrain(unit_data)) == 1
    with autoenc.Model([12, 3], variational=True) as v:
        with pytest.raises(autoenc.StateError):
            v.pretrain(unit_data)
    with autoenc.Model([12, 3]) as m:
        with pytest.raises(ValueError, match="at least one row"):
            m.pretrain(unit_data[:0])


# --- inference -----------------------------------------------------------------------------
def test_encode_decode_reconstruct_agree(trained, unit_data):
    z = trained.encode(unit_data)
    assert z.shape == (300, 3) and z.dtype == np.float32
    y = trained.decode(z)
    assert y.shape == (300, 12)
    r = trained.reconstruct(unit_data)
    np.testing.assert_allclose(r, y, rtol=1e-5, atol=1e-6)
    # one row in, one row out
    assert trained.encode(unit_data[0]).shape == (3,)
    assert trained.decode(z[0]).shape == (12,)
    assert trained.reconstruct(unit_data[0]).shape == (12,)
    np.testing.assert_allclose(trained.encode(unit_data[0]), z[0], rtol=1e-5, atol=1e-6)


def test_inference_with_zero_rows_returns_empty_results(trained):
    empty = np.zeros((0, 12), np.float32)
    assert trained.encode(empty).shape == (0, 3)
    assert trained.decode(np.zeros((0, 3))).shape == (0, 12)
    assert trained.reconstruct(empty).shape == (0, 12)
    assert trained.score(empty).shape == (0,)
    assert trained.feature_errors(empty).shape == (0, 12)
    trained.threshold = 1.0
    assert trained.detect(empty).shape == (0,)
    assert trained.sample(0).shape == (0, 12) if trained.variational else True
    with pytest.raises(ValueError, match="zero rows"):
        trained.compute_loss(empty)


def test_outputs_into_caller_arrays(trained, unit_data):
    out = np.empty((300, 3), np.float32)
    assert trained.encode(unit_data, out=out) is out
    assert np.array_equal(out, trained.encode(unit_data))
    wide = np.zeros((300, 8), np.float32)  # a row-strided view: ld = 8
    trained.encode(unit_data, out=wide[:, 2:5])
    assert np.array_equal(wide[:, 2:5], out) and not wide[:, :2].any() and not wide[:, 5:].any()
    one = np.empty(3, np.float32)
    assert trained.encode(unit_data[0], out=one) is one
    scores = np.empty(300, np.float32)
    assert trained.score(unit_data, out=scores) is scores
    errors = np.empty((300, 12), np.float32)
    assert trained.feature_errors(unit_data, out=errors) is errors
    np.testing.assert_allclose(errors.mean(axis=1), scores, rtol=1e-5)
    recon = np.empty((300, 12), np.float32)
    assert trained.reconstruct(unit_data, out=recon) is recon
    decoded = np.empty((300, 12), np.float32)
    assert trained.decode(out, out=decoded) is decoded


def test_out_arrays_are_checked(trained, unit_data):
    with pytest.raises(ValueError, match=r"out: expected shape \(300, 3\), got \(300, 4\)"):
        trained.encode(unit_data, out=np.empty((300, 4), np.float32))
    with pytest.raises(ValueError, match="float32"):
        trained.encode(unit_data, out=np.empty((300, 3), np.float64))
    with pytest.raises(ValueError, match="float32"):
        trained.encode(unit_data, out=np.empty((3, 300), np.float32).T)
    ro = np.empty((300, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        trained.encode(unit_data, out=ro)
    with pytest.raises(TypeError):
        trained.encode(unit_data, out=[[0.0] * 3] * 300)
    with pytest.raises(ValueError, match="overlap"):
        trained.reconstruct(unit_data, out=unit_data)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        trained.encode(unit_data[0], out=np.empty(4, np.float32))
    with pytest.raises(ValueError, match="dtype"):
        trained.score(unit_data, out=np.empty(300, np.float64))
    with pytest.raises(ValueError, match="contiguous"):
        trained.score(unit_data, out=np.empty(600, np.float32)[::2])


def test_score_loss_and_feature_errors(trained, unit_data):
    scores = trained.score(unit_data)
    assert scores.shape == (300,) and scores.dtype == np.float32
    assert trained.compute_loss(unit_data) == pytest.approx(float(scores.astype(np.float64).mean()), rel=1e-5)
    assert isinstance(trained.score(unit_data[0]), float)
    errors = trained.feature_errors(unit_data)
    np.testing.assert_allclose(errors.mean(axis=1), scores, rtol=1e-5)


def test_thresholds_and_detection(trained, unit_data):
    assert trained.threshold is None
    with pytest.raises(autoenc.StateError):
        trained.get_threshold()
    with pytest.raises(autoenc.StateError):
        trained.detect(unit_data)
    t = trained.fit_threshold(unit_data, contamination=0.1)
    assert trained.threshold == t == trained.get_threshold()
    scores = trained.score(unit_data)
    assert t == pytest.approx(np.quantile(scores.astype(np.float64), 0.9), rel=1e-6)
    labels = trained.detect(unit_data)
    assert labels.dtype == np.bool_ and labels.sum() == 30
    assert np.array_equal(labels, scores > t)
    labels2, scores2 = trained.detect(unit_data, return_scores=True)
    assert np.array_equal(labels2, labels) and np.array_equal(scores2, scores)
    assert isinstance(trained.detect(unit_data[0]), bool)
    assert trained.detect(unit_data[0], return_scores=True)[1] == pytest.approx(float(scores[0]), rel=1e-5)
    out = np.empty(300, np.bool_)
    assert trained.detect(unit_data, out=out) is out
    trained.threshold = 0.0
    assert trained.detect(unit_data).all()
    trained.set_threshold(1e9)
    assert not trained.detect(unit_data).any()
    with pytest.raises(autoenc.InvalidArgumentError):
        trained.set_threshold(-1.0)
    with pytest.raises(autoenc.InvalidArgumentError):
        trained.fit_threshold(unit_data, contamination=0.7)
    with pytest.raises(TypeError):
        trained.set_threshold("high")
    with pytest.raises(TypeError):
        trained.fit_threshold(unit_data, contamination="some")
    with pytest.raises(ValueError, match="at least one row"):
        trained.fit_threshold(unit_data[:0])
    with pytest.raises(ValueError, match="dtype"):
        trained.detect(unit_data, out=np.empty(300, np.uint16))


def test_detection_fails_closed_on_overflowing_rows():
    with autoenc.Model([4, 2], seed=3) as m:
        m.set_weights(0, np.ones((2, 4)))
        m.set_threshold(1e30)
        x = np.array([[0.1, 0.2, 0.3, 0.4], [3e38, 3e38, 3e38, 3e38]], np.float32)
        labels, scores = m.detect(x, return_scores=True)
        assert labels.tolist() == [False, True] and scores[1] == np.finfo(np.float32).max
        with pytest.raises(autoenc.NonFiniteResultError, match="row 1") as info:
            m.encode(x)
        assert isinstance(info.value, FloatingPointError)


def test_variational_model_samples_interpolates_and_gives_distributions(unit_data):
    with autoenc.Model([12, 8, 3], variational=True, epochs=3, seed=2) as v:
        report = v.fit(unit_data)
        assert not math.isnan(report.final_kl) and not math.isnan(report.final_elbo)
        mean, log_var = v.encode_distribution(unit_data)
        assert mean.shape == log_var.shape == (300, 3)
        np.testing.assert_array_equal(mean, v.encode(unit_data))
        m1, l1 = v.encode_distribution(unit_data[0])
        assert m1.shape == (3,) and l1.shape == (3,)
        om, ol = np.empty((300, 3), np.float32), np.empty((300, 3), np.float32)
        assert v.encode_distribution(unit_data, om, ol)[0] is om
        with pytest.raises(ValueError, match="overlap"):
            v.encode_distribution(unit_data, om, om)
        a, b = v.sample(5, seed=9), v.sample(5, seed=9)
        assert a.shape == (5, 12) and np.array_equal(a, b)
        assert not np.array_equal(a, v.sample(5, seed=10))
        path = v.interpolate(unit_data[0], unit_data[1], n_steps=6)
        assert path.shape == (6, 12)
        np.testing.assert_allclose(path[0], v.reconstruct(unit_data[0]), rtol=1e-4, atol=1e-5)
        with pytest.raises(ValueError, match="n_steps"):
            v.interpolate(unit_data[0], unit_data[1], n_steps=1)
        with pytest.raises(ValueError, match=r"x_b: expected shape \(12,\)"):
            v.interpolate(unit_data[0], unit_data[1, :5])
        with pytest.raises(ValueError, match="seed"):
            v.sample(2, seed=-1)
        with pytest.raises(ValueError, match="2\\*\\*64"):
            v.sample(2, seed=2 ** 64)


def test_plain_model_refuses_variational_calls(trained, unit_data):
    with pytest.raises(autoenc.StateError):
        trained.sample(3)
    with pytest.raises(autoenc.StateError):
        trained.encode_distribution(unit_data)
    assert trained.interpolate(unit_data[0], unit_data[1], 3).shape == (3, 12)


# --- weights -------------------------------------------------------------------------------
def test_weights_in_torch_linear_layout(trained):
    desc = trained.describe_layer(1)
    w = trained.get_weights(1)
    b = trained.get_bias(1)
    assert w.shape == (3, 8) and b.shape == (3,)
    flat = trained.get_flat_params()
    assert np.array_equal(flat[desc.weight_offset:desc.weight_offset + desc.weight_count], w.ravel())
    assert np.array_equal(flat[desc.bias_offset:desc.bias_offset + desc.bias_count], b)
    assert np.array_equal(trained.get_weights(-1), trained.get_weights(trained.layer_count - 1))
    trained.set_weights(1, w * 2)
    assert np.array_equal(trained.get_weights(1), w * 2)
    trained.set_weights(1, (w * 3).astype(np.float64))  # converted once
    assert np.array_equal(trained.get_weights(1), (w * 3))
    trained.set_bias(1, b + 1)
    assert np.array_equal(trained.get_bias(1), b + 1)
    trained.set_flat_params(flat)
    assert np.array_equal(trained.get_flat_params(), flat)
    out = np.empty(trained.param_count, np.float32)
    assert trained.get_flat_params(out=out) is out


def test_weight_errors(trained):
    with pytest.raises(ValueError, match=r"expected shape \(3, 8\), got \(8, 3\)"):
        trained.set_weights(1, np.zeros((8, 3)))
    with pytest.raises(ValueError, match=r"expected shape \(3, 8\)"):
        trained.set_weights(1, np.zeros(24))
    with pytest.raises(ValueError, match=r"expected shape \(3,\)"):
        trained.set_bias(1, np.zeros(4))
    with pytest.raises(IndexError, match="4 layers"):
        trained.get_weights(4)
    with pytest.raises(IndexError):
        trained.get_bias(-5)
    with pytest.raises(TypeError):
        trained.get_weights(1.0)
    with pytest.raises(autoenc.NonFiniteInputError, match="finite"):
        trained.set_weights(1, np.full((3, 8), np.inf))
    with pytest.raises(ValueError, match=r"expected shape \(%d,\)" % trained.param_count):
        trained.set_flat_params(np.zeros(5))


def test_tied_decoder_weights_are_the_transposed_mirror():
    with autoenc.Model([6, 4, 2], tied=True, seed=1) as t:
        assert np.array_equal(t.get_weights(3), t.get_weights(0).T)
        with pytest.raises(autoenc.StateError):
            t.set_weights(3, np.zeros((6, 4)))


def test_layers_describe_the_flat_layout(trained):
    layers = trained.layers
    assert [l.index for l in layers] == [0, 1, 2, 3]
    assert layers[0].n_in == 12 and layers[0].activation is Activation.RELU
    assert layers[3].activation is Activation.SIGMOID
    assert sum(l.weight_count + l.bias_count for l in layers) == trained.param_count
    assert trained.layer_info(0) == (8, 12, Activation.RELU)


def test_optimizer_state_round_trips(trained, unit_data):
    state = trained.get_optimizer_state()
    assert state.step == trained.fit(unit_data).steps_run + 30 or state.step > 0
    state = trained.get_optimizer_state()
    assert state.first_moment.shape == state.second_moment.shape == (trained.param_count,)
    with autoenc.Model([12, 8, 3], output_activation="sigmoid", loss="bce", seed=7, batch_size=32) as other:
        other.set_flat_params(trained.get_flat_params())
        other.set_optimizer_state(state.step, state.first_moment, state.second_moment)
        got = other.get_optimizer_state()
        assert got.step == state.step and np.array_equal(got.first_moment, state.first_moment)
        trained.train_batch(unit_data[:32])
        other.train_batch(unit_data[:32])
        assert np.array_equal(trained.get_flat_params(), other.get_flat_params())
        other.set_optimizer_state()  # clears it
        assert other.get_optimizer_state().step == 0
        with pytest.raises(autoenc.InvalidArgumentError):
            other.set_optimizer_state(3, state.first_moment)  # Adam needs both moments
        with pytest.raises(autoenc.NonFiniteInputError):
            other.set_optimizer_state(1, state.first_moment, -np.ones(trained.param_count))
        with pytest.raises(ValueError, match="step"):
            other.set_optimizer_state(-1)
    with autoenc.Model([4, 2], optimizer="sgd") as sgd:
        s = sgd.get_optimizer_state()
        assert s.second_moment is None and s.first_moment is None and s.step == 0
        sgd.momentum = 0.9
        sgd.train_batch(np.ones((2, 4)))
        s = sgd.get_optimizer_state()
        assert s.first_moment is not None and s.second_moment is None


# --- scaling -------------------------------------------------------------------------------
def test_scaling_is_fitted_stored_and_settable(rng):
    x = (rng.standard_normal((200, 5)) * [1, 10, 100, 0.1, 1] + [0, 5, -50, 1, 2]).astype(np.float32)
    with autoenc.Model([5, 2], scaling="standardize", epochs=2) as m:
        with pytest.raises(autoenc.StateError):
            m.get_scaling()
        m.fit(x)
        offset, scale = m.get_scaling()
        np.testing.assert_allclose(offset, x.mean(axis=0), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(scale, x.std(axis=0), rtol=1e-3)
        m.fit_scaling(x[:50])
        np.testing.assert_allclose(m.get_scaling()[0], x[:50].mean(axis=0), rtol=1e-4, atol=1e-4)
        m.set_scaling(np.zeros(5), np.ones(5))
        assert np.array_equal(m.get_scaling()[1], np.ones(5, np.float32))
        with pytest.raises(autoenc.InvalidArgumentError):
            m.set_scaling(np.zeros(5), np.zeros(5))
        with pytest.raises(ValueError, match=r"scale: expected shape \(5,\)"):
            m.set_scaling(np.zeros(5), np.ones(4))
        with pytest.raises(ValueError, match="at least one row"):
            m.fit_scaling(x[:0])
    with autoenc.Model([5, 2]) as plain:
        with pytest.raises(autoenc.StateError):
            plain.fit_scaling(x)


# --- transfer ------------------------------------------------------------------------------
def test_export_encoder_and_copy_layers(trained, unit_data):
    enc = trained.export_encoder()
    assert enc.encoder_only and enc.layer_count == 2 and "encoder only" in repr(enc)
    assert np.array_equal(enc.encode(unit_data), trained.encode(unit_data))
    with pytest.raises(autoenc.StateError):
        enc.reconstruct(unit_data)
    enc.close()
    with autoenc.Model([12, 8, 3], seed=99) as other:
        other.copy_layers(trained, src_layer=0, dst_layer=0, n_layers=2)
        assert np.array_equal(other.get_weights(1), trained.get_weights(1))
        assert np.array_equal(other.encode(unit_data), trained.encode(unit_data))
        with pytest.raises(autoenc.InvalidArgumentError):
            other.copy_layers(trained, 0, 1, 1)  # shapes differ
        with pytest.raises(autoenc.InvalidArgumentError):
            other.copy_layers(other, 0, 0, 1)  # a model into itself
        with pytest.raises(TypeError):
            other.copy_layers("model")
        with pytest.raises(ValueError):
            other.copy_layers(trained, -1)


def test_clone_copy_and_deepcopy_are_independent(trained, unit_data):
    for twin in (trained.clone(), copy.copy(trained), copy.deepcopy(trained)):
        assert np.array_equal(twin.get_flat_params(), trained.get_flat_params())
        assert twin.epochs == trained.epochs and twin.loss is trained.loss
        twin.fit(unit_data)  # no callback of the source's survives in the clone
        assert not np.array_equal(twin.get_flat_params(), trained.get_flat_params())
        twin.close()


# --- files and bytes -----------------------------------------------------------------------
def test_save_and_load_files(trained, unit_data, tmp_path):
    path = tmp_path / "model.ae"
    trained.save(path)
    assert path.stat().st_size == trained.save_size()
    with autoenc.Model.load(path) as back:
        assert np.array_equal(back.encode(unit_data), trained.encode(unit_data))
        assert back.get_optimizer_state().step == 0
    trained.save(str(path), optimizer_state=True)
    assert path.stat().st_size == trained.save_size(optimizer_state=True)
    with autoenc.Model.load(os.fsencode(str(path))) as back:
        assert back.get_optimizer_state().step == trained.get_optimizer_state().step



@pytest.mark.parametrize("kind", [str, os.fsencode, pathlib.Path])
def test_a_path_with_a_nul_byte_is_refused_as_open_refuses_it(trained, tmp_path, kind):
    """The C string would end at the NUL: another file, silently."""
    cut = tmp_path / "model"
    path = kind(str(cut) + "\0.ae")
    with pytest.raises(ValueError, match="null byte"):
        trained.save(path)
    assert not cut.exists()
    trained.save(cut)
    with pytest.raises(ValueError, match="null byte"):
        autoenc.Model.load(path)

def test_bytes_round_trip_and_pickle(trained, unit_data):
    data = trained.to_bytes()
    assert isinstance(data, bytes) and len(data) == trained.save_size()
    for source in (data, bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        with autoenc.Model.from_bytes(source) as back:
            assert np.array_equal(back.get_flat_params(), trained.get_flat_params())
    trained.threshold = 0.25
    back = pickle.loads(pickle.dumps(trained))
    assert back.threshold == 0.25
    assert back.get_optimizer_state().step == trained.get_optimizer_state().step
    assert np.array_equal(back.encode(unit_data), trained.encode(unit_data))
    with pytest.raises(TypeError):
        autoenc.Model.from_bytes(12)


def test_module_functions():
    assert autoenc.version_number() // 10000 == 0 and autoenc.version_number() >= 300
    assert autoenc.version_string().count(".") == 2
    assert autoenc.max_layers() == 4096 and autoenc.max_layer_width() == 1 << 24
    assert autoenc.status_str(-15) == "model busy"
    assert autoenc.status_str(-999) == "unknown status"
    assert os.path.exists(autoenc.library_path)
    assert "Model" in dir(autoenc) and "Autoencoder" in dir(autoenc)
    with pytest.raises(AttributeError):
        autoenc.NoSuchThing


def test_integers_beyond_their_c_type_are_refused_not_wrapped(rng):
    """ctypes passes size_t and uint64_t modulo 2**64: 2**64 + 5 would become 5."""
    big = 2 ** 64
    for widths in ([big + 5, 2], [4, big], [4, big + 2, 2]):
        with pytest.raises(ValueError, match=r"at most 2\*\*64 - 1"):
            autoenc.Model(widths)
    a, b = autoenc.Model([5, 3, 2], seed=1), autoenc.Model([5, 3, 2], seed=2)
    for args in ((big, 0, 1), (0, big, 1), (0, 0, big + 1), (0, 0, 2 ** 70)):
        with pytest.raises(ValueError, match="at most"):
            b.copy_layers(a, *args)
    with pytest.raises(ValueError, match="at most"):
        b.set_optimizer_state(step=big)
    with autoenc.Model([4, 2], variational=True) as v:
        with pytest.raises(ValueError, match="at most"):
            v.sample(big + 1)
        with pytest.raises(ValueError, match="at most"):
            v.sample(2, seed=big)
    x = rng.random((40, 6))
    for params in (dict(latent_dim=big + 2), dict(hidden_layer_sizes=(big,)),
                   dict(batch_size=big + 64)):
        with pytest.raises(ValueError, match="at most"):
            autoenc.Autoencoder(epochs=1, **params).fit(x)


def test_integer_settings_must_reach_the_library_exactly():
    """Settings travel as doubles: 2**53 + 1 would arrive as 2**53."""
    with pytest.raises(ValueError, match="exactly"):
        autoenc.Model([4, 2], seed=2 ** 53 + 1)
    assert autoenc.Model([4, 2], seed=2 ** 53).seed == 2 ** 53
    for name in ("epochs", "learning_rate", "seed"):  # float() would raise OverflowError
        with pytest.raises(ValueError, match="beyond the range of a double"):
            autoenc.Model([4, 2], **{name: 10 ** 400})
    with pytest.raises(ValueError, match="beyond the range of a double"):
        autoenc.Model([4, 2]).threshold = 10 ** 400


def test_numpy_bools_and_integers_are_taken_as_pythons():
    m = autoenc.Model([np.int64(4), np.uint8(2)], shuffle=np.False_, nesterov=np.True_,
                      epochs=np.int32(3), batch_size=np.uint64(16), patience=np.int8(2))
    assert m.widths == (4, 2, 4)
    assert (m.shuffle, m.nesterov, m.epochs, m.batch_size, m.patience) == (False, True, 3, 16, 2)
    with pytest.raises(TypeError):
        m.learning_rate = np.True_  # a bool is no number, numpy's neither
    with pytest.raises(TypeError):
        m.epochs = np.bool_(True)


def test_a_member_of_another_enum_is_refused():
    """Activation.RELU has the value of Loss.BCE; it is still no loss."""
    for name, member in (("loss", autoenc.Activation.RELU), ("scaling", autoenc.Noise.GAUSSIAN),
                         ("hidden_activation", autoenc.Loss.BCE),
                         ("optimizer", autoenc.StopReason.EARLY)):
        with pytest.raises(TypeError, match="member of"):
            autoenc.Model([4, 2], output_activation="sigmoid", **{name: member})
    with pytest.raises(TypeError):
        autoenc.Activation.parse(autoenc.Loss.MSE)
    m = autoenc.Model([4, 2], output_activation=autoenc.Activation.SIGMOID, loss=autoenc.Loss.BCE)
    assert m.loss is autoenc.Loss.BCE and m.output_activation is autoenc.Activation.SIGMOID


class _SubModel(autoenc.Model):
    """A subclass at module level, so that pickle can name it."""


def test_copies_and_pickles_of_a_subclass_keep_the_subclass(unit_data):
    m = _SubModel([12, 3], seed=4)
    for copied in (m.clone(), copy.copy(m), copy.deepcopy(m), pickle.loads(pickle.dumps(m)),
                   pickle.loads(pickle.dumps(m, protocol=2))):
        assert type(copied) is _SubModel
        np.testing.assert_array_equal(copied.encode(unit_data), m.encode(unit_data))
    # a pickle of an older package names no class: a plain Model
    assert type(autoenc._model._model_from_bytes(m.to_bytes())) is autoenc.Model
