//! The safe API computes exactly what the C API computes: a C program and
//! this test train the same models with the same seed on the same data, and
//! every weight, code, score and sample agrees to the bit.
mod common;

use autoenc::{Activation, Architecture, Loss, MatrixRef, Model, Noise, Optimizer, Param};
use common::{data, temp_path};
use std::process::Command;

const C_PROGRAM: &str = r#"
#include <autoenc.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call) do { int rc_ = (call); if (rc_ != AE_OK) { \
    fprintf(stderr, "%s: %s: %s\n", #call, ae_status_str(rc_), ae_last_error()); exit(1); } } while (0)

static FILE *out;

static void put(const float *v, size_t n) { fwrite(v, sizeof *v, n, out); }

int main(int argc, char **argv)
{
    enum { N = 100, D = 12 };
    static float x[N * D], codes[N * 3], scores[N], samples[5 * D];
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < D; j++)
            x[i * D + j] = (float)((37 * i + 11 * j) % 101) / 100.0f;
    out = fopen(argv[1], "wb");
    if (argc != 2 || out == NULL) return 2;

    /* A plain model: BCE, Adam, masking noise, a validation split. */
    const size_t widths[] = {D, 6, 3};
    ae_model *m = NULL;
    CHECK(ae_model_create(&m, widths, 3, NULL, 0));
    CHECK(ae_model_set_param(m, AE_PARAM_SEED, 7));
    CHECK(ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID));
    CHECK(ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE));
    CHECK(ae_model_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_ADAM));
    CHECK(ae_model_set_param(m, AE_PARAM_LEARNING_RATE, 1e-2));
    CHECK(ae_model_set_param(m, AE_PARAM_NOISE, AE_NOISE_MASKING));
    CHECK(ae_model_set_param(m, AE_PARAM_NOISE_LEVEL, 0.1));
    CHECK(ae_model_set_param(m, AE_PARAM_EPOCHS, 4));
    CHECK(ae_model_set_param(m, AE_PARAM_BATCH_SIZE, 16));
    CHECK(ae_model_set_param(m, AE_PARAM_THREADS, 1));
    CHECK(ae_model_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.25));
    ae_fit_report report = {0};
    report.size = sizeof report;
    CHECK(ae_model_fit(m, x, N, D, &report));
    float *params = malloc(ae_model_param_count(m) * sizeof *params);
    CHECK(ae_model_get_params(m, params, ae_model_param_count(m)));
    put(params, ae_model_param_count(m));
    CHECK(ae_model_encode(m, x, N, D, codes, 3));
    put(codes, N * 3);
    CHECK(ae_model_score(m, x, N, D, scores));
    put(scores, N);
    double losses[2] = {report.final_train_loss, report.final_val_loss};
    fwrite(losses, sizeof losses[0], 2, out);
    free(params);
    ae_model_free(m);

    /* A variational model: SGD with momentum, then samples from the prior. */
    CHECK(ae_model_create_ex(&m, widths, 3, NULL, 0, AE_ARCH_VARIATIONAL));
    CHECK(ae_model_set_param(m, AE_PARAM_SEED, 11));
    CHECK(ae_model_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD));
    CHECK(ae_model_set_param(m, AE_PARAM_LEARNING_RATE, 0.05));
    CHECK(ae_model_set_param(m, AE_PARAM_MOMENTUM, 0.9));
    CHECK(ae_model_set_param(m, AE_PARAM_EPOCHS, 3));
    CHECK(ae_model_set_param(m, AE_PARAM_BATCH_SIZE, 10));
    CHECK(ae_model_set_param(m, AE_PARAM_THREADS, 1));
    CHECK(ae_model_fit(m, x, N, D, NULL));
    CHECK(ae_model_sample(m, 99, 5, samples, D));
    put(samples, 5 * D);
    ae_model_free(m);
    return fclose(out) == 0 ? 0 : 1;
}
"#;

/// A folder removed when dropped, also when the test panics.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn run_c_program() -> Vec<u8> {
    let include = match option_env!("AUTOENC_TEST_INCLUDE_DIR") {
        Some(dir) => dir,
        None => panic!("autoenc-sys found no autoenc.h: set AUTOENC_INCLUDE_DIR"),
    };
    let lib = env!("AUTOENC_TEST_LIB_DIR");
    let dir = TempDir(temp_path("c_api"));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (source, exe, output) = (dir.0.join("c_api.c"), dir.0.join("c_api"), dir.0.join("c_api.bin"));
    std::fs::write(&source, C_PROGRAM).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = Command::new(&cc)
        .args(["-std=c11", "-O2", "-I", include])
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{lib}"))
        .arg(format!("-Wl,-rpath,{lib}"))
        .arg("-lautoenc")
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(status.success(), "compiling the C program failed");
    let status = Command::new(&exe).arg(&output).status().unwrap();
    assert!(status.success(), "the C program failed");
    std::fs::read(&output).unwrap()
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn the_same_seed_gives_the_c_apis_results_to_the_bit() {
    let c = run_c_program();
    let x = data(100, 12);

    let mut model = Model::builder(&[12, 6, 3])
        .seed(7)
        .output(Activation::Sigmoid)
        .loss(Loss::Bce)
        .optimizer(Optimizer::adam(1e-2))
        .noise(Noise::Masking(0.1))
        .epochs(4)
        .batch_size(16)
        .threads(1)
        .param(Param::ValidationFraction, 0.25)
        .build()
        .unwrap();
    let report = model.fit(&x, 12).unwrap();
    let params = model.params().unwrap();
    let codes = model.encode(&x, 12).unwrap();
    let scores = model.score(&x, 12).unwrap();

    let mut at = 0;
    let mut next = |n: usize| {
        let part = &c[at..at + n];
        at += n;
        part
    };
    assert_eq!(bits(&params), bits(&floats(next(params.len() * 4))), "parameters");
    assert_eq!(bits(&codes), bits(&floats(next(codes.len() * 4))), "codes");
    assert_eq!(bits(&scores), bits(&floats(next(scores.len() * 4))), "scores");
    let losses = next(16);
    let train = f64::from_ne_bytes(losses[..8].try_into().unwrap());
    let val = f64::from_ne_bytes(losses[8..].try_into().unwrap());
    assert_eq!(report.final_train_loss.unwrap().to_bits(), train.to_bits());
    assert_eq!(report.final_val_loss.unwrap().to_bits(), val.to_bits());

    let mut vae = Model::builder(&[12, 6, 3])
        .architecture(Architecture::VARIATIONAL)
        .seed(11)
        .optimizer(Optimizer::Sgd {
            lr: 0.05,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        })
        .epochs(3)
        .batch_size(10)
        .threads(1)
        .build()
        .unwrap();
    vae.fit_matrix(MatrixRef::new(&x, 12).unwrap()).unwrap();
    let samples = vae.sample(99, 5).unwrap();
    assert_eq!(bits(&samples), bits(&floats(next(samples.len() * 4))), "samples");
    assert_eq!(at, c.len());
}
