//! Every way a call can fail, with small models, so that valgrind (CTest's
//! `rust_failure_paths_valgrind`) sees each handle freed on each path: models
//! that are never made, models dropped half-built by the builder, models
//! dropped after failed calls, after a cancelled fit and after a panic in the
//! progress closure.
mod common;

use autoenc::{Activation, DataSource, Loss, MatrixRef, Model, Noise, Param, SaveFlags, Scaling, Status};
use common::{data, temp_path};
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};

fn tiny() -> Model {
    Model::builder(&[4, 2])
        .threads(1)
        .epochs(2)
        .batch_size(4)
        .build()
        .unwrap()
}

#[test]
fn making_a_model_fails_without_leaking() {
    assert!(Model::new(&[4]).is_err());
    assert!(Model::new(&[4, 0, 2]).is_err());
    assert!(Model::builder(&[4, 2]).decoder(&[3, 4]).build().is_err());
    assert_eq!(
        Model::new(&[autoenc::max_layer_width(), autoenc::max_layer_width()])
            .unwrap_err()
            .status(),
        Status::OutOfMemory
    );
    // Made, then refused a setting: the half-built model is dropped.
    for builder in [
        Model::builder(&[4, 2]).output(Activation::Relu).loss(Loss::Bce),
        Model::builder(&[4, 2]).noise(Noise::Masking(2.0)),
        Model::builder(&[4, 2])
            .scaling(Scaling::Standardize)
            .output(Activation::Sigmoid),
        Model::builder(&[4, 2]).param(Param::Epochs, -1.0),
    ] {
        assert!(builder.build().is_err());
    }
}

#[test]
fn loading_fails_without_leaking() {
    let model = tiny();
    let bytes = model.to_bytes(SaveFlags::OPTIMIZER_STATE).unwrap();
    assert_eq!(
        Model::from_bytes(&bytes[..bytes.len() / 2]).unwrap_err().status(),
        Status::Format
    );
    let mut flipped = bytes.clone();
    flipped[20] ^= 0x40;
    assert_eq!(Model::from_bytes(&flipped).unwrap_err().status(), Status::Checksum);
    assert_eq!(
        Model::load(temp_path("missing.aemodel")).unwrap_err().status(),
        Status::Io
    );
    let path = temp_path("half.aemodel");
    std::fs::write(&path, &bytes[..40]).unwrap();
    assert_eq!(Model::load(&path).unwrap_err().status(), Status::Format);
    std::fs::remove_file(&path).unwrap();
    let copy = Model::from_bytes(&bytes).unwrap();
    let encoder = copy.export_encoder().unwrap();
    assert_eq!(encoder.decode(&[0.0, 0.0], 2).unwrap_err().status(), Status::State);
    let _clone = encoder.clone();
}

#[test]
fn failed_calls_leave_models_that_drop_cleanly() {
    let x = data(8, 4);
    let mut model = tiny();
    assert!(model.fit(&x, 3).is_err());
    assert!(model.encode(&[f32::NAN; 4], 4).is_err());
    assert!(model.set_param(Param::LearningRate, -1.0).is_err());
    assert!(model.detect(MatrixRef::new(&x, 4).unwrap()).is_err());
    assert!(model.encode_distribution(MatrixRef::new(&x, 4).unwrap()).is_err());
    assert!(model.train_batch(MatrixRef::new(&[1e30; 4], 4).unwrap()).is_err());
    assert!(model
        .save(temp_path("no-such-folder/m.aemodel"), SaveFlags::DEFAULT)
        .is_err());
    let mut small_buffer = [0u8; 8];
    assert!(model.save_into(SaveFlags::DEFAULT, &mut small_buffer).is_err());
}

#[test]
fn a_cancelled_fit_drops_cleanly() {
    let x = data(16, 4);
    let mut model = tiny();
    let err = model
        .fit_with_progress(MatrixRef::new(&x, 4).unwrap(), |_| ControlFlow::Break(()))
        .unwrap_err();
    assert_eq!(err.status(), Status::Cancelled);
    assert!(err.fit_report().is_some());
}

#[test]
fn a_panic_in_the_progress_closure_drops_cleanly() {
    let x = data(16, 4);
    let mut model = tiny();
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        let _ = model.fit_with_progress(MatrixRef::new(&x, 4).unwrap(), |_| -> ControlFlow<()> {
            panic!("from the closure")
        });
    }));
    assert!(caught.is_err());
    model.fit(&x, 4).unwrap();
    // A panic while a model is alive on the stack unwinds through its Drop.
    let caught = panic::catch_unwind(|| {
        let _model = tiny();
        panic!("with a model in scope");
    });
    assert!(caught.is_err());
}

/// A source that fails (or panics) at its second read.
struct Failing {
    panics: bool,
    reads: usize,
}

impl DataSource for Failing {
    fn read(&mut self, rows: &mut [f32], n_cols: usize) -> std::io::Result<usize> {
        self.reads += 1;
        match self.reads {
            1 => Ok((rows.len() / n_cols).min(8)),
            _ if self.panics => panic!("source"),
            _ => Err(std::io::Error::new(std::io::ErrorKind::Other, "source failed")),
        }
    }
    fn rewind(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_or_panicking_source_drops_cleanly() {
    let mut model = tiny();
    let err = model
        .fit_source(
            &mut Failing {
                panics: false,
                reads: 0,
            },
            None,
        )
        .unwrap_err();
    assert_eq!(err.status(), Status::Io);
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        let _ = model.fit_source(&mut Failing { panics: true, reads: 0 }, None);
    }));
    assert!(caught.is_err());
}
