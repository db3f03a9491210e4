/* The C side of bench/bench_python.py, which measures the Python package against the C
 * API in one run: the same fit, and the per-call cost of a batch-1 encode.
 *
 *   bench_python_c fit [--rows N] [--epochs N] [--batch N] [--seed N] [--threads N] [--dir DIR]
 *                      [--params FILE]
 *   bench_python_c encode [--model W-W-...] [--calls N] [--blocks N]
 *
 * fit: the reference model 784-512-256-64 mirrored (ReLU, sigmoid output, BCE, Adam) on
 * the first N Fashion-MNIST training rows; prints one JSON line with the wall time of
 * the ae_model_fit() call alone (data loading excluded) and what the report says; with
 * --params, the trained parameters (float32, native order) go to FILE for comparison.
 * encode: one row through ae_model_encode() --calls times per block; prints the median
 * over --blocks blocks of the time per call. */
#include "bench_common.h"

#include <autoenc.h>
#include <fashion_mnist.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: bench_python_c fit [--rows N] [--epochs N] [--batch N] [--seed N] "
                    "[--threads N] [--dir DIR] [--params FILE]\n"
                    "       bench_python_c encode [--model W-W-...] [--calls N] [--blocks N]\n");
    return 2;
}

static int fail(const char *what, const char *message)
{
    fprintf(stderr, "bench_python_c: %s: %s\n", what, message);
    return 1;
}

static size_t parse_widths(const char *text, size_t *widths, size_t max)
{
    size_t n = 0;
    for (const char *p = text; *p && n < max;) {
        char *end;
        widths[n++] = (size_t)strtoull(p, &end, 10);
        if (end == p)
            return 0;
        p = *end == '-' ? end + 1 : end;
    }
    return n;
}

static int write_params(const ae_model *m, const char *path)
{
    const size_t n = ae_model_param_count(m);
    float *params = malloc(n * sizeof *params);
    if (!params || ae_model_get_params(m, params, n) != AE_OK)
        return fail("ae_model_get_params", ae_last_error());
    FILE *out = fopen(path, "wb");
    int ok = out && fwrite(params, sizeof *params, n, out) == n;
    if (out && fclose(out) != 0)
        ok = 0;
    free(params);
    return ok ? 0 : fail(path, "cannot write the parameters");
}

static int run_fit(size_t rows, size_t epochs, size_t batch, unsigned long long seed, int threads,
                   const char *dir, const char *params_path)
{
    fashion_mnist data;
    char err[256];
    if (fashion_mnist_load(dir, FASHION_MNIST_TRAIN, rows, &data, err, sizeof err) != 0)
        return fail("data", err);
    const size_t widths[] = {784, 512, 256, 64};
    ae_model *m = NULL;
    /* Warm up as a long-running process would be: OpenBLAS starts its threads at its
     * first call, the allocator maps its arenas. (The Python side's process did that in
     * its earlier calls.) */
    if (ae_model_create(&m, widths, 4, NULL, 0) != AE_OK)
        return fail("ae_model_create", ae_last_error());
    ae_model_set_param(m, AE_PARAM_THREADS, threads >= 0 ? threads : 0);
    ae_model_train_batch(m, data.pixels, data.n_rows < batch ? data.n_rows : batch, data.n_cols, NULL);
    ae_model_free(m);
    m = NULL;
    if (ae_model_create(&m, widths, 4, NULL, 0) != AE_OK)
        return fail("ae_model_create", ae_last_error());
    int rc = ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    if (rc == AE_OK) rc = ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    if (rc == AE_OK) rc = ae_model_set_param(m, AE_PARAM_EPOCHS, (double)epochs);
    if (rc == AE_OK) rc = ae_model_set_param(m, AE_PARAM_BATCH_SIZE, (double)batch);
    if (rc == AE_OK) rc = ae_model_set_param(m, AE_PARAM_SEED, (double)seed);
    if (rc == AE_OK && threads >= 0) rc = ae_model_set_param(m, AE_PARAM_THREADS, threads);
    if (rc != AE_OK)
        return fail("ae_model_set_param", ae_model_last_error(m));
    ae_fit_report report = {0};
    report.size = sizeof report;
    const double start = bench_now();
    rc = ae_model_fit(m, data.pixels, data.n_rows, data.n_cols, &report);
    const double seconds = bench_now() - start;
    if (rc != AE_OK)
        return fail("ae_model_fit", ae_model_last_error(m));
    if (params_path && write_params(m, params_path) != 0)
        return 1;
    printf("{\"seconds\": %.6f, \"report_seconds\": %.6f, \"steps\": %llu, \"final_train_loss\": %.17g, "
           "\"samples_per_second\": %.1f}\n",
           seconds, report.seconds, (unsigned long long)report.steps_run, report.final_train_loss,
           report.samples_per_second);
    ae_model_free(m);
    fashion_mnist_free(&data);
    return 0;
}

static int run_encode(const char *model, size_t calls, size_t blocks)
{
    size_t widths[32];
    const size_t n_widths = parse_widths(model, widths, 32);
    if (n_widths < 2 || calls == 0 || blocks == 0 || blocks > 1000)
        return usage();
    ae_model *m = NULL;
    if (ae_model_create(&m, widths, n_widths, NULL, 0) != AE_OK)
        return fail("ae_model_create", ae_last_error());
    const size_t d = widths[0], k = widths[n_widths - 1];
    float *x = calloc(d, sizeof *x), *z = calloc(k, sizeof *z);
    if (!x || !z)
        return fail("memory", "out of memory");
    for (size_t j = 0; j < d; j++)
        x[j] = (float)(j % 17) / 17.0f;
    double per_call[1000];
    for (size_t i = 0; i < calls; i++) /* warm up */
        ae_model_encode(m, x, 1, d, z, k);
    for (size_t b = 0; b < blocks; b++) {
        const double start = bench_now();
        for (size_t i = 0; i < calls; i++)
            if (ae_model_encode(m, x, 1, d, z, k) != AE_OK)
                return fail("ae_model_encode", ae_last_error());
        per_call[b] = (bench_now() - start) / (double)calls;
    }
    printf("{\"model\": \"%s\", \"seconds_per_call\": %.9g}\n", model, bench_median(per_call, blocks));
    free(x);
    free(z);
    ae_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const int fit = strcmp(argv[1], "fit") == 0;
    if (!fit && strcmp(argv[1], "encode") != 0)
        return usage();
    size_t rows = 0, epochs = 1, batch = 256, calls = 20000, blocks = 15;
    unsigned long long seed = 0;
    int threads = -1;
    const char *dir = NULL, *model = "784-512-256-64", *params_path = NULL;
    for (int i = 2; i < argc; i += 2) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            return usage();
        if (strcmp(arg, "--rows") == 0) rows = (size_t)strtoull(val, NULL, 10);
        else if (strcmp(arg, "--epochs") == 0) epochs = (size_t)strtoull(val, NULL, 10);
        else if (strcmp(arg, "--batch") == 0) batch = (size_t)strtoull(val, NULL, 10);
        else if (strcmp(arg, "--seed") == 0) seed = strtoull(val, NULL, 10);
        else if (strcmp(arg, "--threads") == 0) threads = atoi(val);
        else if (strcmp(arg, "--dir") == 0) dir = val;
        else if (strcmp(arg, "--model") == 0) model = val;
        else if (strcmp(arg, "--params") == 0) params_path = val;
        else if (strcmp(arg, "--calls") == 0) calls = (size_t)strtoull(val, NULL, 10);
        else if (strcmp(arg, "--blocks") == 0) blocks = (size_t)strtoull(val, NULL, 10);
        else return usage();
    }
    return fit ? run_fit(rows, epochs, batch, seed, threads, dir, params_path) : run_encode(model, calls, blocks);
}
