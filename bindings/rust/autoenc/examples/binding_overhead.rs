//! What the safe API costs over calling the C API directly, measured in one
//! process with the two interleaved: encoding at batch 1, 64 and 1024, and a
//! fit with a progress closure called after every batch against the bare C fit.
//!
//! ```text
//! OPENBLAS_NUM_THREADS=1 cargo run --release --example binding_overhead -- [--rounds N]
//! ```
//!
//! With one OpenBLAS thread (and the model's `Param::Threads` at 1) all the
//! work runs on the calling thread, so besides wall time the example reports
//! the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, Linux), which other jobs
//! on a shared machine barely disturb. The model is the reference one
//! (784-512-256-64 mirrored, sigmoid output, BCE, Adam); the data are
//! synthetic rows in [0, 1], so no dataset is needed.
use autoenc::{sys, Activation, Loss, MatrixMut, MatrixRef, Model, Param};
use std::ops::ControlFlow;
use std::os::raw::c_int;
use std::time::Instant;

const D: usize = 784;
const LATENT: usize = 64;

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: c_int, tp: *mut Timespec) -> c_int;
}

/// CLOCK_THREAD_CPUTIME_ID on Linux.
const CLOCK_THREAD_CPUTIME_ID: c_int = 3;

/// Wall time and the calling thread's CPU time.
#[derive(Clone, Copy)]
struct Clock {
    wall: Instant,
    cpu: f64,
}

impl Clock {
    fn now() -> Clock {
        let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: a valid out-pointer and a Linux clock id.
        let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime");
        Clock {
            wall: Instant::now(),
            cpu: ts.tv_sec as f64 + 1e-9 * ts.tv_nsec as f64,
        }
    }

    /// (wall, CPU) seconds since `self`.
    fn since(self) -> (f64, f64) {
        let now = Clock::now();
        (now.wall.duration_since(self.wall).as_secs_f64(), now.cpu - self.cpu)
    }
}

fn rows(n: usize) -> Vec<f32> {
    (0..n * D)
        .map(|i| ((i * 37 + i / D * 11) % 101) as f32 / 100.0)
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn reference_model() -> Model {
    Model::builder(&[D, 512, 256, LATENT])
        .output(Activation::Sigmoid)
        .loss(Loss::Bce)
        .threads(1)
        .build()
        .expect("model")
}

fn main() {
    let mut rounds = 7;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 2 && args[0] == "--rounds" {
        rounds = args[1].parse().expect("--rounds N");
    } else if !args.is_empty() {
        eprintln!("usage: binding_overhead [--rounds N]");
        std::process::exit(2);
    }
    let blas = std::env::var("OPENBLAS_NUM_THREADS").unwrap_or_else(|_| "unset".to_string());
    println!(
        "libautoenc {}: the safe Rust API against direct C calls, {rounds} interleaved rounds (medians), \
         OPENBLAS_NUM_THREADS={blas}\n",
        autoenc::version_string()
    );

    // Encoding, per call: the C call into a reused buffer, the safe call into a
    // reused buffer (views made and checked), and the safe call returning a new Vec.
    // The tiny model 8-4-2 shows the binding's own cost per call, which the
    // reference model's products hide.
    let reference = reference_model();
    let tiny = Model::builder(&[8, 4, 2]).threads(1).build().expect("model");
    println!(
        "| encode: model, batch | C µs/call (CPU) | Rust `encode_into` (CPU) | Rust `encode`, a new Vec (CPU) | \
         C / `encode_into`: CPU, wall | C / `encode`: CPU, wall |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let cases = [
        ("8-4-2", &tiny, 1usize, 100_000usize),
        ("reference", &reference, 1, 3000),
        ("reference", &reference, 64, 300),
        ("reference", &reference, 1024, 20),
    ];
    for &(name, model, batch, calls) in &cases {
        let (d, latent) = (model.input_dim(), model.latent_dim());
        let x: Vec<f32> = rows(batch).into_iter().take(batch * d).collect();
        let mut z = vec![0f32; batch * latent];
        let mut cpu = [Vec::new(), Vec::new(), Vec::new()];
        let mut wall = [Vec::new(), Vec::new(), Vec::new()];
        for round in 0..rounds {
            for step in 0..3 {
                let which = (step + round) % 3; // rotate the order every round
                let start = Clock::now();
                for _ in 0..calls {
                    match which {
                        0 => {
                            // SAFETY: x holds batch rows of d, z batch rows of latent.
                            let rc = unsafe {
                                sys::ae_model_encode(model.as_ptr(), x.as_ptr(), batch, d, z.as_mut_ptr(), latent)
                            };
                            assert_eq!(rc, sys::AE_OK);
                        }
                        1 => model
                            .encode_into(MatrixRef::new(&x, d).unwrap(), MatrixMut::new(&mut z, latent).unwrap())
                            .unwrap(),
                        _ => {
                            let codes = model.encode(&x, d).unwrap();
                            assert_eq!(codes.len(), batch * latent);
                        }
                    }
                }
                let (w, c) = start.since();
                wall[which].push(w * 1e6 / calls as f64);
                cpu[which].push(c * 1e6 / calls as f64);
            }
        }
        let [c, into, vec] = cpu.map(median);
        let [cw, intow, vecw] = wall.map(median);
        println!(
            "| {name}, {batch} | {c:.3} | {into:.3} | {vec:.3} | {:.1}%, {:.1}% | {:.1}%, {:.1}% |",
            100.0 * c / into,
            100.0 * cw / intow,
            100.0 * c / vec,
            100.0 * cw / vecw
        );
    }

    // A fit: 1 epoch of 4,096 rows in batches of 128 from the same weights each
    // time; the Rust side calls its closure after every one of the 32 batches.
    let x = rows(4096);
    let mut start_model = reference_model();
    start_model.set_param(Param::Epochs, 1.0).unwrap();
    start_model.set_param(Param::BatchSize, 128.0).unwrap();
    start_model.set_param(Param::ProgressEveryBatch, 1.0).unwrap();
    let mut cpu = [Vec::new(), Vec::new()];
    let mut wall = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for step in 0..2 {
            let which = (step + round) % 2;
            let mut m = start_model.clone();
            let start = Clock::now();
            if which == 0 {
                let mut report = sys::ae_fit_report::new();
                // SAFETY: x holds 4096 rows of D; the model is ours alone.
                let rc = unsafe { sys::ae_model_fit(m.as_mut_ptr(), x.as_ptr(), 4096, D, &mut report) };
                assert_eq!(rc, sys::AE_OK);
            } else {
                let mut calls = 0;
                m.fit_with_progress(MatrixRef::new(&x, D).unwrap(), |_| {
                    calls += 1;
                    ControlFlow::Continue(())
                })
                .unwrap();
                assert_eq!(calls, 32);
            }
            let (w, c) = start.since();
            wall[which].push(4096.0 / w);
            cpu[which].push(4096.0 / c);
        }
    }
    let [c, rust] = cpu.map(median);
    let [cw, rustw] = wall.map(median);
    println!(
        "\n| fit, 1 epoch of 4,096 rows, batch 128 | C samples per CPU second | Rust, a closure after every batch | \
         Rust / C: CPU, wall |"
    );
    println!("|---|---:|---:|---:|");
    println!(
        "| reference model | {c:.0} | {rust:.0} | {:.1}%, {:.1}% |",
        100.0 * rust / c,
        100.0 * rustw / cw
    );
}
