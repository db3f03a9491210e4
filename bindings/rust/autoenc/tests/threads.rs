//! The threading contract in the type system: `Model` is `Send` and `Sync`,
//! inference through `&Model` runs from many threads at once and gives what
//! one thread gives, and training needs `&mut Model` (see the compile_fail
//! doctest on `Model`).
mod common;

use autoenc::{MatrixRef, Model};
use common::data;
use std::sync::Arc;
use std::thread;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn model_is_send_and_sync() {
    assert_send_sync::<Model>();
    assert_send_sync::<autoenc::Error>();
}

#[test]
fn encoding_from_several_threads_equals_one_thread() {
    let x = data(300, 16);
    let mut model = Model::builder(&[16, 8, 4])
        .seed(4)
        .threads(1)
        .epochs(3)
        .build()
        .unwrap();
    model.fit(&x, 16).unwrap();
    let model = model; // from here on shared, read-only

    let one_thread_codes = model.encode(&x, 16).unwrap();
    let one_thread_scores = model.score(&x, 16).unwrap();
    let one_thread_recon = model.reconstruct(&x, 16).unwrap();

    // Eight threads at once, each over every row, many times, so that calls overlap.
    thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (model, x) = (&model, &x);
                s.spawn(move || {
                    let mut results = Vec::new();
                    for _ in 0..20 {
                        match t % 3 {
                            0 => results.push(model.encode(x, 16).unwrap()),
                            1 => results.push(model.score(x, 16).unwrap()),
                            _ => results.push(model.reconstruct(x, 16).unwrap()),
                        }
                    }
                    (t, results)
                })
            })
            .collect();
        for handle in handles {
            let (t, results) = handle.join().unwrap();
            let expected = match t % 3 {
                0 => &one_thread_codes,
                1 => &one_thread_scores,
                _ => &one_thread_recon,
            };
            for result in results {
                assert_eq!(&result, expected, "thread {t}");
            }
        }
    });

    // Row blocks encoded on different threads equal the same blocks encoded one after the
    // other on this thread (blocks of the same shape: OpenBLAS picks its kernels by shape,
    // so a row's last bits may depend on the call's number of rows).
    let blocks: Vec<Vec<f32>> = thread::scope(|s| {
        let view = MatrixRef::new(&x, 16).unwrap();
        let handles: Vec<_> = (0..3)
            .map(|b| {
                let model = &model;
                s.spawn(move || {
                    let rows = view.rows(b * 100, (b + 1) * 100);
                    let mut codes = vec![0.0; 100 * 4];
                    model
                        .encode_into(rows, autoenc::MatrixMut::new(&mut codes, 4).unwrap())
                        .unwrap();
                    codes
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let view = MatrixRef::new(&x, 16).unwrap();
    for (b, block) in blocks.iter().enumerate() {
        let mut codes = vec![0.0; 100 * 4];
        model
            .encode_into(
                view.rows(b * 100, (b + 1) * 100),
                autoenc::MatrixMut::new(&mut codes, 4).unwrap(),
            )
            .unwrap();
        assert_eq!(block, &codes, "block {b}");
    }
}

#[test]
fn a_model_moves_to_another_thread_to_train() {
    let x = Arc::new(data(64, 8));
    let mut here = Model::builder(&[8, 4, 2]).seed(2).threads(1).build().unwrap();
    let there = here.clone();
    let x2 = Arc::clone(&x);
    let trained_there = thread::spawn(move || {
        let mut model = there;
        model.fit(&x2, 8).unwrap();
        model
    })
    .join()
    .unwrap();
    here.fit(&x, 8).unwrap();
    assert_eq!(here.params().unwrap(), trained_there.params().unwrap());
}

#[test]
fn shared_through_an_arc_and_errors_cross_threads() {
    let model = Arc::new(Model::new(&[8, 2]).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let model = Arc::clone(&model);
            thread::spawn(move || model.encode(&[0.5; 7], 7))
        })
        .collect();
    for handle in handles {
        // Each thread reads its own message, right after its own call.
        let err = handle.join().unwrap().unwrap_err();
        assert!(err.message().contains("columns"), "{err}");
    }
}
