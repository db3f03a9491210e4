//! The progress closure: calls, cancelling, and panics that never cross into C.
mod common;

use autoenc::{MatrixRef, Model, Param, Progress, Status, StopReason};
use common::data;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};

fn model(epochs: u64) -> Model {
    Model::builder(&[8, 4, 2])
        .seed(1)
        .threads(1)
        .epochs(epochs)
        .batch_size(10)
        .build()
        .unwrap()
}

#[test]
fn the_closure_sees_every_epoch_and_batch() {
    let x = data(40, 8);
    let mut m = model(3);
    m.set_param(Param::ProgressEveryBatch, 1.0).unwrap();
    let mut calls: Vec<Progress> = Vec::new();
    let report = m
        .fit_with_progress(MatrixRef::new(&x, 8).unwrap(), |p| {
            calls.push(*p);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(report.epochs_run, 3);
    assert_eq!(calls.len(), 3 * 4, "4 batches per epoch, the last being the epoch end");
    for (i, p) in calls.iter().enumerate() {
        assert_eq!(p.epoch, (i / 4 + 1) as u64);
        assert_eq!(p.batch, (i % 4 + 1) as u64);
        assert_eq!((p.epochs, p.batches), (3, 4));
        assert_eq!(p.epoch_end, i % 4 == 3);
        assert!(p.train_loss > 0.0 && p.seconds >= 0.0);
        assert_eq!(p.val_loss, None);
    }
    assert_eq!(calls.last().unwrap().train_loss, report.final_train_loss.unwrap());
}

#[test]
fn validation_losses_reach_the_closure() {
    let x = data(40, 8);
    let val = data(10, 8);
    let mut m = model(2);
    let mut losses = Vec::new();
    let report = m
        .fit_validated_with_progress(MatrixRef::new(&x, 8).unwrap(), MatrixRef::new(&val, 8).unwrap(), |p| {
            losses.push(p.val_loss.unwrap());
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(losses.len(), 2);
    assert_eq!(report.final_val_loss, Some(losses[1]));
}

#[test]
fn break_cancels_and_leaves_a_usable_model() {
    let x = data(40, 8);
    let mut m = model(50);
    let err = m
        .fit_with_progress(MatrixRef::new(&x, 8).unwrap(), |p| {
            if p.epoch == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap_err();
    assert_eq!(err.status(), Status::Cancelled);
    let report = err.fit_report().unwrap();
    assert_eq!(report.stop_reason, StopReason::Cancelled);
    assert_eq!(report.epochs_run, 2);
    // Usable: it trains on, without the old closure.
    m.set_epochs(1).unwrap();
    assert_eq!(m.fit(&x, 8).unwrap().epochs_run, 1);
}

#[test]
fn a_panic_in_the_closure_is_resumed_after_the_fit() {
    let x = data(40, 8);
    let mut m = model(50);
    let mut calls = 0;
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        m.fit_with_progress(MatrixRef::new(&x, 8).unwrap(), |p| {
            calls += 1;
            if p.epoch == 3 {
                panic!("stop at epoch {}", p.epoch);
            }
            ControlFlow::Continue(())
        })
    }));
    let payload = result.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("stop at epoch 3")
    );
    assert_eq!(calls, 3, "the fit stopped at the panic");
    // The model was not poisoned: the callback is gone and training goes on.
    m.set_epochs(2).unwrap();
    assert_eq!(m.fit(&x, 8).unwrap().epochs_run, 2);
    let copy = m.clone();
    assert_eq!(copy.params().unwrap(), m.params().unwrap());
}

#[test]
fn inference_on_a_clone_from_inside_the_closure() {
    // The closure may not touch the model being trained (the borrow checker
    // forbids it); a clone taken before the fit is a model of its own.
    let x = data(40, 8);
    let mut m = model(2);
    let before = m.clone();
    let mut codes = Vec::new();
    m.fit_with_progress(MatrixRef::new(&x, 8).unwrap(), |_| {
        codes.push(before.encode(&x[..8], 8).unwrap());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(codes.len(), 2);
    assert_eq!(codes[0], codes[1]);
}
