//! Fits from data sources: rows streamed a chunk at a time through the
//! `DataSource` trait, with errors and panics of the source kept on the Rust side.
mod common;

use autoenc::{DataSource, Model, Param, Status};
use common::data;
use std::io;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};

/// The rows of a vector; fails or panics on request after `fail_after` reads.
struct Rows {
    data: Vec<f32>,
    next: usize,
    reads: usize,
    fail_after: Option<usize>,
    panic_after: Option<usize>,
    overfill: bool,
}

impl Rows {
    fn new(data: Vec<f32>) -> Rows {
        Rows {
            data,
            next: 0,
            reads: 0,
            fail_after: None,
            panic_after: None,
            overfill: false,
        }
    }
}

impl DataSource for Rows {
    fn read(&mut self, rows: &mut [f32], n_cols: usize) -> io::Result<usize> {
        self.reads += 1;
        if self.fail_after.map_or(false, |n| self.reads > n) {
            return Err(io::Error::new(io::ErrorKind::Other, "the disk went away"));
        }
        if self.panic_after.map_or(false, |n| self.reads > n) {
            panic!("source panicked at read {}", self.reads);
        }
        assert!(rows.iter().all(|&v| v == 0.0), "the buffer arrives zeroed");
        if self.overfill {
            return Ok(rows.len() / n_cols + 1);
        }
        let n = (rows.len() / n_cols).min((self.data.len() - self.next) / n_cols);
        rows[..n * n_cols].copy_from_slice(&self.data[self.next..self.next + n * n_cols]);
        self.next += n * n_cols;
        Ok(n)
    }

    fn rewind(&mut self) -> io::Result<()> {
        self.next = 0;
        Ok(())
    }
}

fn model() -> Model {
    Model::builder(&[8, 4, 2])
        .seed(3)
        .threads(1)
        .epochs(3)
        .batch_size(16)
        .param(Param::Shuffle, 0.0)
        .build()
        .unwrap()
}

#[test]
fn a_source_trains_as_the_same_rows_in_memory() {
    let x = data(600, 8);
    let mut from_source = model();
    let report = from_source.fit_source(&mut Rows::new(x.clone()), None).unwrap();
    assert_eq!(report.epochs_run, 3);
    let mut from_memory = model();
    from_memory.fit(&x, 8).unwrap();
    assert_eq!(from_source.params().unwrap(), from_memory.params().unwrap());
}

#[test]
fn validation_and_progress_from_sources() {
    let mut m = model();
    let mut epochs = Vec::new();
    let report = m
        .fit_source_with_progress(&mut Rows::new(data(300, 8)), Some(&mut Rows::new(data(50, 8))), |p| {
            epochs.push(p.val_loss.unwrap());
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(epochs.len(), 3);
    assert_eq!(report.final_val_loss, Some(epochs[2]));
}

#[test]
fn an_error_of_the_source_is_io_with_its_text() {
    let mut m = model();
    let before = m.params().unwrap();
    let mut source = Rows::new(data(600, 8));
    source.fail_after = Some(1);
    let err = m.fit_source(&mut source, None).unwrap_err();
    assert_eq!(err.status(), Status::Io);
    assert!(err.message().contains("the disk went away"), "{err}");
    assert_eq!(
        m.params().unwrap(),
        before,
        "a failure in the first pass changes nothing"
    );

    let mut source = Rows::new(data(600, 8));
    source.overfill = true;
    let err = m.fit_source(&mut source, None).unwrap_err();
    assert_eq!(err.status(), Status::Io);
    assert!(err.message().contains("room for"), "{err}");
}

#[test]
fn a_panic_in_the_source_is_resumed_after_the_fit() {
    let mut m = model();
    let mut source = Rows::new(data(600, 8));
    source.panic_after = Some(4);
    let payload = panic::catch_unwind(AssertUnwindSafe(|| m.fit_source(&mut source, None))).unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("source panicked at read 5")
    );
    m.fit_source(&mut Rows::new(data(60, 8)), None).unwrap();
}

#[test]
fn bad_rows_and_settings_are_refused() {
    let mut m = model();
    let mut x = data(40, 8);
    x[17] = f32::NAN;
    assert_eq!(
        m.fit_source(&mut Rows::new(x), None).unwrap_err().status(),
        Status::NonFiniteInput
    );
    m.set_param(Param::ValidationFraction, 0.1).unwrap();
    assert_eq!(
        m.fit_source(&mut Rows::new(data(40, 8)), None).unwrap_err().status(),
        Status::State
    );
}
