//! Every method of the safe API, and every error path it can reach.
mod common;

use autoenc::{
    Activation, Architecture, Loss, MatrixMut, MatrixRef, Model, Noise, Optimizer, OptimizerState, Param, ParamKind,
    SaveFlags, Scaling, Status, StopReason,
};
use common::{crc32c, data, temp_path};

fn small() -> Model {
    Model::builder(&[8, 4, 2])
        .seed(1)
        .threads(1)
        .epochs(2)
        .batch_size(8)
        .build()
        .unwrap()
}

fn status<T: std::fmt::Debug>(result: autoenc::Result<T>) -> Status {
    result.unwrap_err().status()
}

// ---------------------------------------------------------------- making models

#[test]
fn new_mirrors_the_encoder() {
    let model = Model::new(&[8, 4, 2]).unwrap();
    assert_eq!(model.input_dim(), 8);
    assert_eq!(model.latent_dim(), 2);
    assert_eq!(model.layer_count(), 4);
    assert_eq!(model.encoder_layer_count(), 2);
    assert_eq!(model.param_count(), 8 * 4 + 4 * 2 + 2 * 4 + 4 * 8 + 4 + 2 + 4 + 8);
    assert_eq!(model.architecture(), Architecture::PLAIN);
    assert!(format!("{model:?}").contains("input_dim: 8"));
}

#[test]
fn new_refuses_bad_widths_with_the_librarys_message() {
    for widths in [&[][..], &[8][..], &[8, 0][..], &[autoenc::max_layer_width() + 1, 2][..]] {
        let err = Model::new(widths).unwrap_err();
        assert_eq!(err.status(), Status::InvalidArgument, "{widths:?}");
        assert!(!err.message().is_empty());
        assert_eq!(err.code(), -1);
        assert!(err.to_string().starts_with("invalid argument: "), "{err}");
    }
}

#[test]
fn a_model_too_large_for_memory_is_out_of_memory() {
    let wide = autoenc::max_layer_width();
    let err = Model::new(&[wide, wide]).unwrap_err();
    assert_eq!(err.status(), Status::OutOfMemory, "{err}");
}

#[test]
fn builder_applies_every_typed_setting() {
    let model = Model::builder(&[8, 4, 2])
        .decoder(&[2, 8])
        .seed(5)
        .hidden(Activation::Tanh)
        .latent(Activation::Sigmoid)
        .output(Activation::Sigmoid)
        .scaling(Scaling::MinMax)
        .loss(Loss::Bce)
        .optimizer(Optimizer::adamw(0.01, 0.05))
        .noise(Noise::SaltAndPepper(0.2))
        .epochs(7)
        .batch_size(3)
        .threads(1)
        .param(Param::Patience, 2.0)
        .build()
        .unwrap();
    assert_eq!(model.layer_count(), 3);
    let expect = [
        (Param::Seed, 5.0),
        (Param::HiddenActivation, 5.0),
        (Param::LatentActivation, 4.0),
        (Param::OutputActivation, 4.0),
        (Param::Scaling, 1.0),
        (Param::Loss, 1.0),
        (Param::Optimizer, 2.0),
        (Param::LearningRate, 0.01),
        (Param::WeightDecay, 0.05),
        (Param::Noise, 3.0),
        (Param::NoiseLevel, 0.2),
        (Param::Epochs, 7.0),
        (Param::BatchSize, 3.0),
        (Param::Threads, 1.0),
        (Param::Patience, 2.0),
    ];
    for (param, value) in expect {
        assert_eq!(model.param(param).unwrap(), value, "{param:?}");
    }
}

#[test]
fn builder_orders_settings_whatever_the_order_of_the_calls() {
    // The loss before the output it needs, sparsity before its sigmoid layer.
    let model = Model::builder(&[8, 4, 2])
        .param(Param::SparsityWeight, 0.1)
        .loss(Loss::Bce)
        .output(Activation::Sigmoid)
        .latent(Activation::Sigmoid)
        .build()
        .unwrap();
    assert_eq!(model.param(Param::Loss).unwrap(), 1.0);
    // The noise kind before a level above 1, which only Gaussian noise takes.
    let model = Model::builder(&[8, 2]).noise(Noise::Gaussian(3.0)).build().unwrap();
    assert_eq!(model.param(Param::NoiseLevel).unwrap(), 3.0);
}

#[test]
fn builder_applies_param_values_last_in_the_order_given() {
    // Called first, applied after the typed setter of the same setting.
    let model = Model::builder(&[8, 2])
        .param(Param::Epochs, 3.0)
        .epochs(5)
        .build()
        .unwrap();
    assert_eq!(model.param(Param::Epochs).unwrap(), 3.0);
    // Among themselves, in the order given: the last value wins.
    let model = Model::builder(&[8, 2])
        .param(Param::Patience, 2.0)
        .param(Param::Patience, 7.0)
        .build()
        .unwrap();
    assert_eq!(model.param(Param::Patience).unwrap(), 7.0);
    // Checked against every typed setting, wherever the call stands: in call
    // order the sigmoid output would come after this tanh one, but the tanh
    // output comes last and conflicts with the BCE loss.
    let tanh = f64::from(Activation::Tanh.raw());
    let err = Model::builder(&[8, 2])
        .param(Param::OutputActivation, tanh)
        .output(Activation::Sigmoid)
        .loss(Loss::Bce)
        .build()
        .unwrap_err();
    assert_eq!(err.status(), Status::State);
    assert!(err.message().contains("loss"), "{err}");
}

#[test]
fn builder_fails_on_conflicts_and_bad_values() {
    let err = Model::builder(&[8, 2])
        .output(Activation::Relu)
        .loss(Loss::Bce)
        .build()
        .unwrap_err();
    assert_eq!(err.status(), Status::State);
    assert!(err.message().contains("output"), "{err}");
    let err = Model::builder(&[8, 2])
        .scaling(Scaling::Standardize)
        .output(Activation::Linear)
        .loss(Loss::Bce)
        .build()
        .unwrap_err();
    assert_eq!(err.status(), Status::State);
    // A probability above 1 conflicts with masking noise.
    assert_eq!(
        status(Model::builder(&[8, 2]).noise(Noise::Masking(1.5)).build()),
        Status::State
    );
    assert_eq!(
        status(Model::builder(&[8, 2]).noise(Noise::Gaussian(-1.0)).build()),
        Status::InvalidArgument
    );
    assert_eq!(
        status(Model::builder(&[8, 2]).epochs(0).build()),
        Status::InvalidArgument
    );
    assert_eq!(
        status(Model::builder(&[8, 2]).seed(1 << 60).build()),
        Status::InvalidArgument
    );
    assert_eq!(
        status(Model::builder(&[8, 2]).batch_size(0).build()),
        Status::InvalidArgument
    );
    assert_eq!(
        status(Model::builder(&[8, 2]).threads(1000).build()),
        Status::InvalidArgument
    );
    assert_eq!(
        status(Model::builder(&[8, 2]).optimizer(Optimizer::sgd(0.0)).build()),
        Status::InvalidArgument
    );
    assert_eq!(
        status(
            Model::builder(&[8, 2])
                .architecture(Architecture::from_bits(64))
                .build()
        ),
        Status::InvalidArgument
    );
    assert_eq!(
        status(
            Model::builder(&[8, 4, 2])
                .decoder(&[2, 8])
                .architecture(Architecture::TIED_WEIGHTS)
                .build()
        ),
        Status::InvalidArgument
    );
    assert_eq!(
        status(
            Model::builder(&[8, 2])
                .architecture(Architecture::VARIATIONAL)
                .latent(Activation::Relu)
                .build()
        ),
        Status::State
    );
}

#[test]
fn raw_handles_round_trip() {
    let mut model = small();
    let params = model.params().unwrap();
    assert!(!model.as_mut_ptr().is_null());
    assert_eq!(unsafe { autoenc::sys::ae_model_input_dim(model.as_ptr()) }, 8);
    let raw = model.into_raw();
    let model = unsafe { Model::from_raw(raw) }.unwrap();
    assert_eq!(model.params().unwrap(), params);
    assert!(unsafe { Model::from_raw(std::ptr::null_mut()) }.is_none());
}

#[test]
fn clones_are_independent_and_continue_identically() {
    let x = data(32, 8);
    let mut a = small();
    let mut b = a.clone();
    let mut c = a.try_clone().unwrap();
    a.fit(&x, 8).unwrap();
    b.fit(&x, 8).unwrap();
    assert_eq!(a.params().unwrap(), b.params().unwrap());
    assert_ne!(a.params().unwrap(), c.params().unwrap());
    c.set_seed(9).unwrap();
    assert_eq!(a.param(Param::Seed).unwrap(), 1.0);
}

#[test]
fn export_encoder_keeps_the_encoder_and_refuses_decoding() {
    let model = small();
    let encoder = model.export_encoder().unwrap();
    let x = data(4, 8);
    assert_eq!(encoder.encode(&x, 8).unwrap(), model.encode(&x, 8).unwrap());
    assert_eq!(encoder.layer_count(), 2);
    assert_eq!(status(encoder.decode(&[0.0; 2], 2)), Status::State);
    assert_eq!(status(encoder.reconstruct(&x, 8)), Status::State);
}

// ---------------------------------------------------------------- description and settings

#[test]
fn describe_layer_gives_the_flat_layout() {
    let model = small();
    let params = model.params().unwrap();
    let mut offset = 0;
    for layer in 0..model.layer_count() {
        let d = model.describe_layer(layer).unwrap();
        assert_eq!(d.weight_offset, offset);
        assert_eq!(d.weight_count, d.n_in * d.n_out);
        assert_eq!(
            &params[d.weight_offset..d.weight_offset + d.weight_count],
            &model.weights(layer).unwrap()[..]
        );
        assert_eq!(
            &params[d.bias_offset..d.bias_offset + d.bias_count],
            &model.bias(layer).unwrap()[..]
        );
        assert_eq!(d.tied_to, None);
        offset += d.weight_count;
    }
    assert_eq!(model.describe_layer(0).unwrap().activation, Some(Activation::Relu));
    assert_eq!(model.describe_layer(1).unwrap().activation, Some(Activation::Linear));
    assert_eq!(status(model.describe_layer(4)), Status::InvalidArgument);

    let tied = Model::builder(&[8, 4, 2])
        .architecture(Architecture::TIED_WEIGHTS)
        .build()
        .unwrap();
    let d = tied.describe_layer(3).unwrap();
    assert_eq!((d.tied_to, d.weight_count), (Some(0), 0));
    assert_eq!(status(tied.clone().set_weights(3, &[0.0; 32])), Status::State);
}

#[test]
fn every_param_has_a_name_bounds_and_a_value() {
    let model = small();
    for &param in Param::ALL {
        assert!(!param.name().is_empty(), "{param:?}");
        assert_eq!(Param::from_raw(param.raw()), Some(param));
        let bounds = param.bounds().unwrap();
        assert!(bounds.min <= bounds.max, "{param:?}");
        let value = model.param(param).unwrap();
        assert!(value >= bounds.min && value <= bounds.max, "{param:?} = {value}");
    }
    assert_eq!(Param::from_raw(0), None);
    for activation in Activation::ALL {
        assert_eq!(
            Param::HiddenActivation.value_name(f64::from(activation.raw())),
            Some(activation.name())
        );
        assert_eq!(Activation::from_raw(activation.raw()), Some(activation));
        assert!(!activation.name().is_empty());
    }
    assert_eq!(Loss::from_raw(Loss::Bce.raw()), Some(Loss::Bce));
}

#[test]
fn params_match_the_librarys_table() {
    // The crate knows exactly the settings of the library it was written for.
    let known: Vec<u32> = Param::ALL.iter().map(|p| p.raw()).collect();
    assert_eq!(known, Param::library_params());
    let model = Model::new(&[8, 2]).unwrap();
    for &param in Param::ALL {
        let d = param.describe().unwrap();
        assert_eq!(d.name, param.name());
        assert_eq!(d.default, model.param(param).unwrap(), "{param:?}");
        let bounds = param.bounds().unwrap();
        assert_eq!((d.min, d.max), (bounds.min, bounds.max), "{param:?}");
        match d.kind {
            ParamKind::Real => assert!(!bounds.integral),
            ParamKind::Integer | ParamKind::Boolean => assert!(bounds.integral),
            ParamKind::Enum => assert!(param.value_name(d.default).is_some(), "{param:?}"),
            ParamKind::Unknown(kind) => panic!("{param:?}: kind {kind}"),
        }
        if d.min_open {
            let mut m = model.clone();
            assert_eq!(status(m.set_param(param, d.min)), Status::InvalidArgument, "{param:?}");
        }
    }
}

#[test]
fn set_param_refuses_out_of_bounds_non_integral_and_conflicting_values() {
    let mut model = small();
    assert_eq!(
        status(model.set_param(Param::LearningRate, 0.0)),
        Status::InvalidArgument
    );
    assert_eq!(status(model.set_param(Param::Epochs, 2.5)), Status::InvalidArgument);
    assert_eq!(
        status(model.set_param(Param::BatchSize, f64::NAN)),
        Status::InvalidArgument
    );
    let err = model.set_param(Param::Momentum, 1.0).unwrap_err();
    assert!(err.message().contains("momentum"), "{err}");
    model.set_output_activation(Activation::Tanh).unwrap();
    assert_eq!(status(model.set_loss(Loss::Bce)), Status::State);
    model.set_scaling(Scaling::Standardize).unwrap_err();
    assert_eq!(
        model.param(Param::Scaling).unwrap(),
        0.0,
        "a refused setting leaves the model unchanged"
    );
}

#[test]
fn typed_setters_set_their_params() {
    let mut model = small();
    model.set_hidden_activation(Activation::Elu).unwrap();
    model.set_latent_activation(Activation::Softplus).unwrap();
    model.set_output_activation(Activation::Sigmoid).unwrap();
    model.set_loss(Loss::Bce).unwrap();
    model
        .set_optimizer(Optimizer::Sgd {
            lr: 0.1,
            momentum: 0.5,
            nesterov: true,
            weight_decay: 0.01,
        })
        .unwrap();
    model.set_noise(Noise::Gaussian(0.5)).unwrap();
    model.set_noise(Noise::None).unwrap();
    model.set_scaling(Scaling::MinMax).unwrap();
    model.set_seed(3).unwrap();
    model.set_epochs(4).unwrap();
    model.set_batch_size(5).unwrap();
    assert_eq!(status(model.set_seed(u64::MAX)), Status::InvalidArgument);
    let expect = [
        (Param::HiddenActivation, 3.0),
        (Param::LatentActivation, 6.0),
        (Param::Optimizer, 0.0),
        (Param::Momentum, 0.5),
        (Param::Nesterov, 1.0),
        (Param::WeightDecay, 0.01),
        (Param::Noise, 0.0),
        (Param::NoiseLevel, 0.5),
        (Param::Seed, 3.0),
        (Param::Epochs, 4.0),
        (Param::BatchSize, 5.0),
    ];
    for (param, value) in expect {
        assert_eq!(model.param(param).unwrap(), value, "{param:?}");
    }
    model.set_optimizer(Optimizer::default()).unwrap();
    assert_eq!(model.param(Param::Optimizer).unwrap(), 1.0);
}

// ---------------------------------------------------------------- training

#[test]
fn fit_trains_and_reports() {
    let x = data(64, 8);
    let mut model = small();
    let before = model.loss(MatrixRef::new(&x, 8).unwrap()).unwrap();
    model.set_epochs(20).unwrap();
    let report = model.fit(&x, 8).unwrap();
    assert_eq!(report.epochs_run, 20);
    assert_eq!(report.steps_run, 20 * 8);
    assert_eq!(report.stop_reason, StopReason::Completed);
    assert!(report.final_train_loss.unwrap() > 0.0);
    assert_eq!(report.final_val_loss, None);
    assert!(report.best_epoch.is_some());
    assert!(report.samples_per_second > 0.0 && report.seconds > 0.0);
    assert_eq!((report.final_kl, report.final_elbo), (None, None));
    assert!(model.loss(MatrixRef::new(&x, 8).unwrap()).unwrap() < before);
}

#[test]
fn fit_with_validation_fraction_and_early_stopping() {
    let x = data(100, 8);
    let mut model = Model::builder(&[8, 4, 2])
        .threads(1)
        .epochs(200)
        .param(Param::ValidationFraction, 0.2)
        .param(Param::Patience, 1.0)
        .param(Param::MinDelta, 1.0)
        .build()
        .unwrap();
    let report = model.fit(&x, 8).unwrap();
    assert_eq!(report.stop_reason, StopReason::Early);
    assert!(report.epochs_run < 200);
    assert!(report.final_val_loss.is_some());
    assert!(report.best_loss.is_some());
}

#[test]
fn fit_matrix_and_fit_validated_take_strided_views() {
    let wide = data(40, 10);
    let x = MatrixRef::with_stride(&wide, 40, 8, 10).unwrap();
    let mut a = small();
    let mut b = small();
    a.fit_matrix(x).unwrap();
    let dense: Vec<f32> = (0..40).flat_map(|i| x.row(i).to_vec()).collect();
    b.fit(&dense, 8).unwrap();
    assert_eq!(a.params().unwrap(), b.params().unwrap(), "a stride changes nothing");

    let report = a.fit_validated(x.rows(0, 30), x.rows(30, 40)).unwrap();
    assert!(report.final_val_loss.is_some());
}

#[test]
fn fit_refuses_bad_shapes_and_bad_data() {
    let mut model = small();
    let x = data(4, 8);
    assert_eq!(status(model.fit(&x, 7)), Status::InvalidArgument);
    assert_eq!(status(model.fit(&x, 4)), Status::InvalidArgument); // 4 columns, not 8
    assert_eq!(status(model.fit(&x, 0)), Status::InvalidArgument);
    assert_eq!(status(model.fit(&[], 8)), Status::InvalidArgument);
    let err = model.fit(&x[..8], 4).unwrap_err();
    assert!(err.message().contains("columns"), "{err}");
    let mut nan = x.clone();
    nan[10] = f32::NAN;
    let err = model.fit(&nan, 8).unwrap_err();
    assert_eq!(err.status(), Status::NonFiniteInput);
    assert!(err.message().contains("row 1"), "{err}");
    assert!(err.fit_report().is_none());
    let empty = MatrixRef::new(&[], 8).unwrap();
    assert_eq!(status(model.fit_matrix(empty)), Status::InvalidArgument);
    assert_eq!(
        status(model.fit_validated(MatrixRef::new(&x, 8).unwrap(), MatrixRef::new(&x[..4], 4).unwrap())),
        Status::InvalidArgument
    );

    let mut bce = Model::builder(&[8, 2])
        .output(Activation::Sigmoid)
        .loss(Loss::Bce)
        .build()
        .unwrap();
    let mut out_of_range = x.clone();
    out_of_range[3] = 2.0;
    assert_eq!(status(bce.fit(&out_of_range, 8)), Status::InputRange);
    assert_eq!(status(bce.score(&out_of_range, 8)), Status::InputRange);
}

#[test]
fn train_batch_and_gradient() {
    let x = data(16, 8);
    let view = MatrixRef::new(&x, 8).unwrap();
    let mut model = small();
    let (gradient, loss) = model.gradient(view).unwrap();
    assert_eq!(gradient.len(), model.param_count());
    let mut again = vec![0.0; model.param_count()];
    assert_eq!(model.gradient_into(view, &mut again).unwrap(), loss);
    assert_eq!(again, gradient);
    assert_eq!(model.train_batch(view).unwrap(), loss);
    assert!(model.train_batch(view).unwrap() < loss);
    assert_eq!(
        status(model.gradient_into(view, &mut again[1..])),
        Status::InvalidArgument
    );
    assert_eq!(
        status(model.train_batch(MatrixRef::new(&x, 4).unwrap())),
        Status::InvalidArgument
    );

    // A step whose loss overflows is skipped.
    let params = model.params().unwrap();
    let huge = vec![1e30f32; 8];
    let err = model.train_batch(MatrixRef::new(&huge, 8).unwrap()).unwrap_err();
    assert_eq!(err.status(), Status::Diverged, "{err}");
    assert_eq!(model.params().unwrap(), params);
    assert_eq!(
        status(model.gradient(MatrixRef::new(&huge, 8).unwrap())),
        Status::NonFiniteResult
    );
}

#[test]
fn a_diverging_fit_reports_what_it_did() {
    let x: Vec<f32> = data(64, 8).iter().map(|v| v * 1e18).collect();
    let mut model = Model::builder(&[8, 4, 2])
        .threads(1)
        .epochs(5)
        .optimizer(Optimizer::sgd(100.0))
        .build()
        .unwrap();
    let err = model.fit(&x, 8).unwrap_err();
    assert_eq!(err.status(), Status::Diverged, "{err}");
    let report = err.fit_report().unwrap();
    assert_eq!(report.stop_reason, StopReason::Diverged);
    // The model stays usable: finite weights, and it trains again after a reset.
    assert!(model.params().unwrap().iter().all(|p| p.is_finite()));
    model.reset().unwrap();
    model.encode(&data(2, 8), 8).unwrap();
}

#[test]
fn reset_redraws_the_initial_weights() {
    let mut model = small();
    let fresh = model.params().unwrap();
    model.fit(&data(16, 8), 8).unwrap();
    assert_ne!(model.params().unwrap(), fresh);
    model.reset().unwrap();
    assert_eq!(model.params().unwrap(), fresh);
}

#[test]
fn pretrain_gives_one_report_per_stage() {
    let x = data(32, 8);
    let mut model = small();
    let reports = model.pretrain(MatrixRef::new(&x, 8).unwrap()).unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| r.epochs_run == 2));
    let mut vae = Model::builder(&[8, 2])
        .architecture(Architecture::VARIATIONAL)
        .build()
        .unwrap();
    assert_eq!(status(vae.pretrain(MatrixRef::new(&x, 8).unwrap())), Status::State);
    assert_eq!(
        status(model.pretrain(MatrixRef::new(&x, 4).unwrap())),
        Status::InvalidArgument
    );
}

// ---------------------------------------------------------------- inference

#[test]
fn plain_and_view_forms_agree() {
    let model = small();
    let x = data(5, 8);
    let view = MatrixRef::new(&x, 8).unwrap();

    let codes = model.encode(&x, 8).unwrap();
    assert_eq!(codes.len(), 5 * 2);
    let mut codes_strided = vec![-1.0; 5 * 3];
    model
        .encode_into(view, MatrixMut::with_stride(&mut codes_strided, 5, 2, 3).unwrap())
        .unwrap();
    for i in 0..5 {
        assert_eq!(&codes_strided[i * 3..i * 3 + 2], &codes[i * 2..i * 2 + 2]);
        assert_eq!(codes_strided[i * 3 + 2], -1.0, "padding is left alone");
    }

    let decoded = model.decode(&codes, 2).unwrap();
    let mut decoded_into = vec![0.0; 5 * 8];
    model
        .decode_into(
            MatrixRef::new(&codes, 2).unwrap(),
            MatrixMut::new(&mut decoded_into, 8).unwrap(),
        )
        .unwrap();
    assert_eq!(decoded, decoded_into);

    let reconstructed = model.reconstruct(&x, 8).unwrap();
    assert_eq!(reconstructed, decoded);
    let mut reconstructed_into = vec![0.0; 5 * 8];
    model
        .reconstruct_into(view, MatrixMut::new(&mut reconstructed_into, 8).unwrap())
        .unwrap();
    assert_eq!(reconstructed, reconstructed_into);

    let scores = model.score(&x, 8).unwrap();
    let mut scores_into = vec![0.0; 5];
    model.score_into(view, &mut scores_into).unwrap();
    assert_eq!(scores, scores_into);
    for (i, score) in scores.iter().enumerate() {
        let mse: f32 = (0..8)
            .map(|j| (reconstructed[i * 8 + j] - x[i * 8 + j]).powi(2))
            .sum::<f32>()
            / 8.0;
        assert!((score - mse).abs() < 1e-6);
    }
    let errors = model.feature_errors(view).unwrap();
    for i in 0..5 {
        let mean: f32 = errors[i * 8..i * 8 + 8].iter().sum::<f32>() / 8.0;
        assert!((mean - scores[i]).abs() < 1e-6);
    }
    let loss = model.loss(view).unwrap();
    assert!((loss - scores.iter().map(|&s| f64::from(s)).sum::<f64>() / 5.0).abs() < 1e-6);
}

#[test]
fn inference_checks_every_shape_before_the_call() {
    let model = small();
    let x = data(3, 8);
    let view = MatrixRef::new(&x, 8).unwrap();
    let mut out = vec![0.0; 3 * 8];
    assert_eq!(status(model.encode(&x, 6)), Status::InvalidArgument);
    assert_eq!(status(model.encode(&x[..8], 4)), Status::InvalidArgument);
    assert_eq!(status(model.decode(&x, 8)), Status::InvalidArgument);
    assert_eq!(status(model.reconstruct(&x[1..], 8)), Status::InvalidArgument);
    assert_eq!(status(model.score(&[], 8)), Status::InvalidArgument);
    assert_eq!(
        status(model.encode_into(view, MatrixMut::new(&mut out[..4], 2).unwrap())),
        Status::InvalidArgument
    );
    assert_eq!(
        status(model.reconstruct_into(view, MatrixMut::new(&mut out, 4).unwrap())),
        Status::InvalidArgument
    );
    assert_eq!(
        status(model.decode_into(
            MatrixRef::new(&x[..4], 2).unwrap(),
            MatrixMut::new(&mut out, 8).unwrap()
        )),
        Status::InvalidArgument
    );
    assert_eq!(status(model.score_into(view, &mut out[..2])), Status::InvalidArgument);
    assert_eq!(
        status(model.loss(MatrixRef::new(&x, 4).unwrap())),
        Status::InvalidArgument
    );
    assert_eq!(
        status(model.feature_errors(MatrixRef::new(&x, 4).unwrap())),
        Status::InvalidArgument
    );
    assert_eq!(status(model.interpolate(&x[..8], &x[..7], 3)), Status::InvalidArgument);
    assert_eq!(
        status(model.interpolate(&x[..8], &x[8..16], 1)),
        Status::InvalidArgument
    );
    assert_eq!(status(model.sample(1, usize::MAX)), Status::SizeOverflow);
    assert_eq!(
        status(model.sample_into(1, MatrixMut::new(&mut out[..0], 8).unwrap())),
        Status::InvalidArgument
    );
}

// An output `Vec` the crate allocates is checked against isize::MAX bytes and
// reserved fallibly: a size no allocation can have is SizeOverflow, one the
// allocator refuses is OutOfMemory; neither panics nor aborts. The sizes
// refused here are at least 2^48 bytes, beyond any user address space, so
// the allocator fails at once whatever the overcommit policy: nothing is
// touched, and the most memory used is a wide model below (about 0.2 GiB).
#[test]
#[cfg(target_pointer_width = "64")]
fn outputs_past_isize_max_bytes_are_size_overflow() {
    let model = Model::new(&[4, 2]).unwrap();
    // The element count fits usize, the byte count does not.
    assert_eq!(status(model.sample(0, usize::MAX / 4)), Status::SizeOverflow);
    assert_eq!(
        status(model.interpolate(&[0.0; 4], &[1.0; 4], usize::MAX / 4)),
        Status::SizeOverflow
    );
    // 2^61 floats: 2^63 bytes fit usize but are isize::MAX + 1.
    let err = model.sample(0, 1 << 59).unwrap_err();
    assert_eq!(err.status(), Status::SizeOverflow, "{err}");
    assert!(err.message().starts_with("sample: "), "{err}");
    assert_eq!(
        status(model.interpolate(&[0.0; 4], &[1.0; 4], 1 << 59)),
        Status::SizeOverflow
    );
}

#[test]
#[cfg(target_pointer_width = "64")]
fn outputs_the_allocator_refuses_are_out_of_memory() {
    let model = Model::new(&[4, 2]).unwrap();
    // 2^58 floats, 2^60 bytes: within isize, beyond any address space.
    let err = model.sample(0, 1 << 56).unwrap_err();
    assert_eq!(err.status(), Status::OutOfMemory, "{err}");
    assert!(err.message().starts_with("sample: "), "{err}");
    assert_eq!(
        status(model.interpolate(&[0.0; 4], &[1.0; 4], 1 << 56)),
        Status::OutOfMemory
    );
    // Outputs wider than their inputs: 2^22 rows of one value each become
    // 2^22 rows of 2^24 (2^48 bytes).
    let codes = vec![0.5f32; 1 << 22];
    let wide = Model::new(&[autoenc::max_layer_width(), 1]).unwrap();
    assert_eq!(status(wide.decode(&codes, 1)), Status::OutOfMemory);
    drop(wide);
    let overcomplete = Model::new(&[1, autoenc::max_layer_width()]).unwrap();
    assert_eq!(status(overcomplete.encode(&codes, 1)), Status::OutOfMemory);
}

#[test]
fn non_finite_inputs_and_results_are_refused_naming_the_row() {
    let mut model = small();
    let ones = vec![1.0; model.param_count()];
    model.set_params(&ones).unwrap(); // so that a row of 3e38s overflows
    let mut x = data(3, 8);
    x[2 * 8 + 5] = f32::INFINITY;
    let err = model.encode(&x, 8).unwrap_err();
    assert_eq!(err.status(), Status::NonFiniteInput);
    assert!(err.message().contains("row 2"), "{err}");
    let huge = vec![3e38f32; 16];
    let err = model.reconstruct(&huge, 8).unwrap_err();
    assert_eq!(err.status(), Status::NonFiniteResult, "{err}");
    assert_eq!(model.score(&huge, 8).unwrap(), vec![f32::MAX, f32::MAX]);
    assert_eq!(
        status(model.loss(MatrixRef::new(&huge, 8).unwrap())),
        Status::NonFiniteResult
    );
}

#[test]
fn variational_calls() {
    let x = data(32, 8);
    let mut vae = Model::builder(&[8, 4, 2])
        .architecture(Architecture::VARIATIONAL)
        .threads(1)
        .epochs(3)
        .build()
        .unwrap();
    assert_eq!(vae.architecture(), Architecture::VARIATIONAL);
    assert_eq!(vae.describe_layer(1).unwrap().n_out, 4, "mean and log-variance");
    let report = vae.fit(&x, 8).unwrap();
    assert!(report.final_kl.is_some() && report.final_elbo.is_some());
    let d = vae.encode_distribution(MatrixRef::new(&x, 8).unwrap()).unwrap();
    assert_eq!(d.mean, vae.encode(&x, 8).unwrap());
    assert_eq!(d.log_variance.len(), 32 * 2);
    let a = vae.sample(11, 4).unwrap();
    assert_eq!(a, vae.sample(11, 4).unwrap());
    assert_ne!(a, vae.sample(12, 4).unwrap());
    let mut b = vec![0.0; 4 * 9];
    vae.sample_into(11, MatrixMut::with_stride(&mut b, 4, 8, 9).unwrap())
        .unwrap();
    assert_eq!(&b[9..17], &a[8..16]);
    let path = vae.interpolate(&x[..8], &x[8..16], 4).unwrap();
    // The path's first point decodes x_a's mean code among four rows, reconstruct one row
    // alone: OpenBLAS picks its kernels by shape (sgemv for one row), so the last bits may
    // differ.
    let alone = vae.reconstruct(&x[..8], 8).unwrap();
    for (a, b) in path[..8].iter().zip(&alone) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
    }

    let plain = small();
    assert_eq!(status(plain.sample(1, 2)), Status::State);
    assert_eq!(
        status(plain.encode_distribution(MatrixRef::new(&x, 8).unwrap())),
        Status::State
    );
    assert_eq!(plain.interpolate(&x[..8], &x[8..16], 2).unwrap().len(), 16);
}

// ---------------------------------------------------------------- anomaly detection and scaling

#[test]
fn thresholds_and_detection() {
    let x = data(50, 8);
    let view = MatrixRef::new(&x, 8).unwrap();
    let mut model = small();
    assert_eq!(model.threshold(), None);
    assert_eq!(status(model.detect(view)), Status::State);
    let threshold = model.fit_threshold(view, 0.1).unwrap();
    assert_eq!(model.threshold(), Some(threshold));
    let detection = model.detect(view).unwrap();
    assert_eq!(detection.scores, model.score(&x, 8).unwrap());
    let flagged = detection.anomalous.iter().filter(|&&a| a).count();
    assert_eq!(flagged, 5);
    for (flag, score) in detection.anomalous.iter().zip(&detection.scores) {
        assert_eq!(*flag, f64::from(*score) > threshold);
    }
    assert_eq!(status(model.fit_threshold(view, 0.9)), Status::InvalidArgument);
    assert_eq!(status(model.set_threshold(f64::INFINITY)), Status::InvalidArgument);
    model.set_threshold(1e9).unwrap();
    let mut huge = x.clone();
    huge[..8].copy_from_slice(&[3e38; 8]);
    let detection = model.detect(MatrixRef::new(&huge, 8).unwrap()).unwrap();
    assert!(
        detection.anomalous[0] && !detection.anomalous[1],
        "an overflowing row is anomalous"
    );
    assert_eq!(
        status(model.fit_threshold(MatrixRef::new(&huge, 8).unwrap(), 0.1)),
        Status::NonFiniteResult
    );
}

#[test]
fn scaling_is_fitted_kept_and_set() {
    let x: Vec<f32> = data(20, 8)
        .iter()
        .enumerate()
        .map(|(i, v)| v * 10.0 + (i % 8) as f32)
        .collect();
    let view = MatrixRef::new(&x, 8).unwrap();
    let mut model = small();
    assert_eq!(model.scaling_params(), None);
    assert_eq!(status(model.fit_scaling(view)), Status::State);
    assert_eq!(status(model.set_scaling_params(&[0.0; 8], &[1.0; 8])), Status::State);
    model.set_scaling(Scaling::MinMax).unwrap();
    model.fit_scaling(view).unwrap();
    let fitted = model.scaling_params().unwrap();
    for j in 0..8 {
        let column = (0..20).map(|i| x[i * 8 + j]);
        let min = column.clone().fold(f32::INFINITY, f32::min);
        let max = column.fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(fitted.offset[j], min);
        assert!((fitted.scale[j] - (max - min)).abs() < 1e-5);
    }
    model.set_scaling_params(&[1.0; 8], &[2.0; 8]).unwrap();
    assert_eq!(model.scaling_params().unwrap().scale, vec![2.0; 8]);
    assert_eq!(
        status(model.set_scaling_params(&[1.0; 8], &[0.0; 8])),
        Status::InvalidArgument
    );
    assert_eq!(
        status(model.set_scaling_params(&[1.0; 7], &[2.0; 8])),
        Status::InvalidArgument
    );
    assert_eq!(
        status(model.fit_scaling(MatrixRef::new(&x, 4).unwrap())),
        Status::InvalidArgument
    );
}

// ---------------------------------------------------------------- weights

#[test]
fn weights_biases_and_params_round_trip() {
    let mut model = small();
    let w: Vec<f32> = (0..32).map(|i| i as f32 / 32.0).collect();
    model.set_weights(0, &w).unwrap();
    assert_eq!(model.weights(0).unwrap(), w);
    model.set_bias(0, &[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!(model.bias(0).unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
    let params = model.params().unwrap();
    let mut other = Model::new(&[8, 4, 2]).unwrap();
    other.set_params(&params).unwrap();
    assert_eq!(
        other.encode(&data(3, 8), 8).unwrap(),
        model.encode(&data(3, 8), 8).unwrap()
    );

    assert_eq!(status(model.set_weights(0, &w[1..])), Status::InvalidArgument);
    assert_eq!(status(model.set_bias(0, &[0.0; 5])), Status::InvalidArgument);
    assert_eq!(status(model.set_params(&params[1..])), Status::InvalidArgument);
    assert_eq!(status(model.weights(9)), Status::InvalidArgument);
    assert_eq!(status(model.bias(9)), Status::InvalidArgument);
    assert_eq!(status(model.set_weights(9, &w)), Status::InvalidArgument);
    assert_eq!(status(model.set_bias(9, &w)), Status::InvalidArgument);
    let mut bad = w.clone();
    bad[0] = f32::NAN;
    assert_eq!(status(model.set_weights(0, &bad)), Status::NonFiniteInput);
    assert_eq!(model.weights(0).unwrap(), w, "unchanged after a refusal");
}

#[test]
fn copy_layers_moves_whole_layers() {
    let src = Model::builder(&[8, 4, 2]).seed(3).build().unwrap();
    let mut dst = Model::new(&[8, 4, 3]).unwrap();
    dst.copy_layers(0, &src, 0, 1).unwrap();
    assert_eq!(dst.weights(0).unwrap(), src.weights(0).unwrap());
    assert_eq!(dst.bias(0).unwrap(), src.bias(0).unwrap());
    let err = dst.copy_layers(1, &src, 1, 1).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument);
    assert!(!err.message().is_empty());
    assert_eq!(status(dst.copy_layers(0, &src, 3, 2)), Status::InvalidArgument);
}

#[test]
fn optimizer_state_for_each_optimizer() {
    let x = data(16, 8);
    let view = MatrixRef::new(&x, 8).unwrap();
    let n = small().param_count();

    let mut adam = small();
    let state = adam.optimizer_state().unwrap();
    assert_eq!(state.step, 0);
    assert_eq!(state.first_moment, Some(vec![0.0; n]));
    adam.train_batch(view).unwrap();
    adam.train_batch(view).unwrap();
    let state = adam.optimizer_state().unwrap();
    assert_eq!(state.step, 2);
    // A copy that gets the state continues exactly as the original.
    let mut copy = small();
    copy.set_params(&adam.params().unwrap()).unwrap();
    copy.set_optimizer_state(&state).unwrap();
    adam.train_batch(view).unwrap();
    copy.train_batch(view).unwrap();
    assert_eq!(adam.params().unwrap(), copy.params().unwrap());

    let mut sgd = small();
    sgd.set_optimizer(Optimizer::sgd(0.1)).unwrap();
    assert_eq!(sgd.optimizer_state().unwrap(), OptimizerState::default());
    sgd.set_optimizer(Optimizer::Sgd {
        lr: 0.1,
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
    })
    .unwrap();
    sgd.train_batch(view).unwrap();
    let state = sgd.optimizer_state().unwrap();
    assert!(state.first_moment.is_some() && state.second_moment.is_none());
    sgd.set_optimizer_state(&state).unwrap();

    let too_short = OptimizerState {
        step: 0,
        first_moment: Some(vec![0.0; n - 1]),
        second_moment: None,
    };
    assert_eq!(status(sgd.set_optimizer_state(&too_short)), Status::InvalidArgument);
    let second_for_sgd = OptimizerState {
        step: 0,
        first_moment: None,
        second_moment: Some(vec![0.0; n]),
    };
    assert_eq!(
        status(sgd.set_optimizer_state(&second_for_sgd)),
        Status::InvalidArgument
    );
    let negative = OptimizerState {
        step: 1,
        first_moment: Some(vec![0.0; n]),
        second_moment: Some(vec![-1.0; n]),
    };
    assert_eq!(status(adam.set_optimizer_state(&negative)), Status::NonFiniteInput);
}

// ---------------------------------------------------------------- files

#[test]
fn save_and_load_files() {
    let path = temp_path("save.aemodel");
    let mut model = small();
    model.fit(&data(16, 8), 8).unwrap();
    model.set_threshold(0.5).unwrap();
    model.save(&path, SaveFlags::OPTIMIZER_STATE).unwrap();
    let loaded = Model::load(&path).unwrap();
    assert_eq!(loaded.params().unwrap(), model.params().unwrap());
    assert_eq!(loaded.optimizer_state().unwrap(), model.optimizer_state().unwrap());
    assert_eq!(loaded.threshold(), Some(0.5));
    model.save(&path, SaveFlags::DEFAULT).unwrap();
    assert_eq!(Model::load(&path).unwrap().optimizer_state().unwrap().step, 0);
    std::fs::remove_file(&path).unwrap();

    assert_eq!(status(Model::load(&path)), Status::Io);
    let dir = temp_path("a-folder");
    std::fs::create_dir_all(&dir).unwrap();
    let err = model.save(&dir, SaveFlags::DEFAULT).unwrap_err();
    assert_eq!(err.status(), Status::Io);
    assert!(!err.message().is_empty());
    assert_eq!(status(Model::load(&dir)), Status::Io);
    std::fs::remove_dir(&dir).unwrap();
    assert_eq!(
        status(model.save("with\0nul", SaveFlags::DEFAULT)),
        Status::InvalidArgument
    );
    assert_eq!(status(Model::load("with\0nul")), Status::InvalidArgument);
}

#[test]
fn bytes_round_trip_and_damage_is_detected() {
    let model = small();
    let bytes = model.to_bytes(SaveFlags::DEFAULT).unwrap();
    assert_eq!(bytes.len(), model.save_size(SaveFlags::DEFAULT).unwrap());
    assert!(model.save_size(SaveFlags::OPTIMIZER_STATE).unwrap() > bytes.len());
    assert_eq!(
        Model::from_bytes(&bytes).unwrap().params().unwrap(),
        model.params().unwrap()
    );
    let mut buffer = vec![0u8; bytes.len() + 10];
    assert_eq!(model.save_into(SaveFlags::DEFAULT, &mut buffer).unwrap(), bytes.len());
    assert_eq!(&buffer[..bytes.len()], &bytes[..]);
    let err = model
        .save_into(SaveFlags::DEFAULT, &mut buffer[..bytes.len() - 1])
        .unwrap_err();
    assert_eq!(err.status(), Status::BufferTooSmall);

    assert_eq!(status(Model::from_bytes(&bytes[..bytes.len() - 1])), Status::Format);
    assert_eq!(status(Model::from_bytes(&[])), Status::Format);
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 1;
    assert_eq!(status(Model::from_bytes(&flipped)), Status::Checksum);
    // A newer major format version, with a valid checksum.
    let mut newer = bytes.clone();
    newer[8] = 2;
    let n = newer.len();
    let crc = crc32c(&newer[..n - 4]);
    newer[n - 4..].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(status(Model::from_bytes(&newer)), Status::Version);
}

// ---------------------------------------------------------------- statuses and versions

#[test]
fn statuses_map_both_ways() {
    for code in -20..=0 {
        let status = Status::from_code(code);
        assert_eq!(status.code(), code);
        assert!(!status.description().is_empty());
        assert_eq!(status.to_string(), status.description());
        if code < -16 {
            assert_eq!(status, Status::Unknown(code));
            assert_eq!(status.description(), "unknown status");
        } else {
            assert!(!matches!(status, Status::Unknown(_)), "{code}");
        }
    }
    assert_eq!(Status::from_code(-15), Status::Busy);
    assert_eq!(Status::from_code(-16), Status::Peer);
    assert_eq!(Status::from_code(7), Status::Unknown(7));
}

#[test]
fn errors_are_std_errors_with_display() {
    let err = Model::new(&[3]).unwrap_err();
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err.clone());
    assert_eq!(boxed.to_string(), err.to_string());
    assert!(format!("{err:?}").contains("InvalidArgument"));
    let mine = MatrixRef::new(&[0.0; 3], 2).unwrap_err();
    assert_eq!(mine.status(), Status::InvalidArgument);
    assert!(mine.to_string().contains("not a whole number of rows"), "{mine}");
}

#[test]
fn busy_is_the_librarys_misuse_check_and_unreachable_from_safe_code() {
    // Only raw C calls can break the contract: a change from inside a progress
    // call is refused with AE_ERR_BUSY, recorded in the calling thread.
    let mut model = small();
    let raw = model.as_mut_ptr();
    let mut seen = None;
    model
        .fit_with_progress(MatrixRef::new(&data(16, 8), 8).unwrap(), |_| {
            let rc = unsafe { autoenc::sys::ae_model_set_param(raw, autoenc::sys::AE_PARAM_EPOCHS, 3.0) };
            seen = Some((
                rc,
                unsafe { std::ffi::CStr::from_ptr(autoenc::sys::ae_last_error()) }.to_owned(),
            ));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    let (rc, message) = seen.unwrap();
    assert_eq!(Status::from_code(rc), Status::Busy);
    assert!(!message.to_bytes().is_empty());
}

#[test]
fn matrix_views_check_their_shape() {
    assert_eq!(status(MatrixRef::new(&[0.0; 4], 0)), Status::InvalidArgument);
    assert_eq!(
        status(MatrixRef::with_stride(&[0.0; 4], 2, 3, 2)),
        Status::InvalidArgument
    );
    assert_eq!(
        status(MatrixRef::with_stride(&[0.0; 4], 2, 2, 3)),
        Status::InvalidArgument
    );
    assert_eq!(
        status(MatrixRef::with_stride(&[0.0; 4], usize::MAX, 1, 2)),
        Status::SizeOverflow
    );
    assert_eq!(status(MatrixMut::new(&mut [0.0; 5], 2)), Status::InvalidArgument);
    assert_eq!(
        status(MatrixMut::with_stride(&mut [0.0; 5], 3, 2, 2)),
        Status::InvalidArgument
    );
    let view = MatrixRef::with_stride(&[1.0, 2.0, 0.0, 3.0, 4.0], 2, 2, 3).unwrap();
    assert_eq!(view.rows(1, 2).row(0), &[3.0, 4.0]);
    assert_eq!(view.rows(2, 2).n_rows(), 0);
    assert_eq!(view.as_slice().len(), 5);
    let empty = MatrixRef::with_stride(&[], 0, 3, 3).unwrap();
    assert_eq!(empty.n_rows(), 0);
}

#[test]
fn versions_and_limits() {
    let v = autoenc::version();
    assert_eq!(v.major, autoenc::HEADER_VERSION.major);
    assert!(v >= autoenc::HEADER_VERSION);
    assert_eq!(autoenc::version_string(), v.to_string());
    assert_eq!(autoenc::max_layers(), autoenc::sys::AE_MAX_LAYERS);
    assert_eq!(autoenc::max_layer_width(), autoenc::sys::AE_MAX_LAYER_WIDTH);
}
