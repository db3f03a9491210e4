/* Peak memory of ae_model_fit() on the Fashion-MNIST training set against the size of the
 * data itself. The library should hold no copy of the data: its peak should be the
 * parameters, their gradient, the optimizer state and per-batch scratch.
 *
 *   bench_fit_memory [--rows N] [--epochs N] [--batch N] [--validation F]
 *                    [--model reference|W-W-...] [--dir DIR] [--json FILE]
 *
 * Defaults: all 60000 rows, 1 epoch, batch 256, no validation, the reference model
 * 784-512-256-64 mirrored (ReLU, sigmoid output, BCE, Adam). One fit per run, so that
 * the process's peak resident memory belongs to it alone. */
#include "bench_common.h"

#include <autoenc.h>
#include <fashion_mnist.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double mib(int64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_fit_memory [--rows N] [--epochs N] [--batch N] [--validation F]\n"
                    "                        [--model reference|W-W-...] [--dir DIR] [--json FILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    size_t rows = 0, epochs = 1, batch = 256;
    double validation = 0;
    const char *dir = NULL, *json = NULL, *model = "784-512-256-64";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            return usage();
        i++;
        if (strcmp(arg, "--rows") == 0)
            rows = (size_t)strtoull(val, NULL, 10);
        else if (strcmp(arg, "--epochs") == 0)
            epochs = (size_t)strtoull(val, NULL, 10);
        else if (strcmp(arg, "--batch") == 0)
            batch = (size_t)strtoull(val, NULL, 10);
        else if (strcmp(arg, "--validation") == 0)
            validation = atof(val);
        else if (strcmp(arg, "--model") == 0)
            model = strcmp(val, "reference") == 0 ? "784-512-256-64" : val;
        else if (strcmp(arg, "--dir") == 0)
            dir = val;
        else if (strcmp(arg, "--json") == 0)
            json = val;
        else
            return usage();
    }
    size_t widths[16], n_widths = 0;
    for (const char *p = model; *p && n_widths < 16;) {
        char *end;
        widths[n_widths++] = (size_t)strtoull(p, &end, 10);
        if (end == p)
            return usage();
        p = *end == '-' ? end + 1 : end;
    }
    if (epochs == 0 || batch == 0 || n_widths < 2 || widths[0] != 784)
        return usage();
    if (bench_alloc_install() != 0) {
        fprintf(stderr, "bench_fit_memory: %s\n", ae_last_error());
        return 1;
    }

    int64_t rss_start = bench_rss_now();
    fashion_mnist data;
    char err[256];
    if (fashion_mnist_load(dir, FASHION_MNIST_TRAIN, rows, &data, err, sizeof err) != 0) {
        fprintf(stderr, "bench_fit_memory: %s\n", err);
        return 1;
    }
    int64_t data_bytes = (int64_t)(data.n_rows * data.n_cols * sizeof(float));

    ae_model *m = NULL;
    if (ae_model_create(&m, widths, n_widths, NULL, 0) != AE_OK) {
        fprintf(stderr, "bench_fit_memory: %s\n", ae_last_error());
        return 1;
    }
    int ok = ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID) == AE_OK &&
             ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE) == AE_OK &&
             ae_model_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_ADAM) == AE_OK &&
             ae_model_set_param(m, AE_PARAM_EPOCHS, (double)epochs) == AE_OK &&
             ae_model_set_param(m, AE_PARAM_BATCH_SIZE, (double)batch) == AE_OK &&
             ae_model_set_param(m, AE_PARAM_VALIDATION_FRACTION, validation) == AE_OK;
    if (!ok) {
        fprintf(stderr, "bench_fit_memory: %s\n", ae_model_last_error(m));
        return 1;
    }
    size_t n_params = ae_model_param_count(m);
    int64_t lib_before_fit = bench_alloc_get().current_bytes; /* the model: parameters and settings */

    /* From here on the peaks belong to the fit alone. */
    int64_t rss_before_fit = bench_rss_now();
    int rss_reset = bench_rss_reset_peak();
    bench_alloc_reset_peak();
    int64_t allocs_before = bench_alloc_get().n_allocs;
    ae_fit_report report;
    memset(&report, 0, sizeof report);
    report.size = sizeof report;
    int status = ae_model_fit(m, data.pixels, data.n_rows, data.n_cols, &report);
    int64_t rss_peak = bench_rss_peak();
    bench_alloc_stats lib = bench_alloc_get();
    if (status != AE_OK) {
        fprintf(stderr, "bench_fit_memory: fit: %s\n", ae_model_last_error(m));
        return 1;
    }

    int64_t lib_fit_peak = lib.peak_bytes - lib_before_fit; /* above the model's own memory */
    int64_t lib_after_fit = lib.current_bytes - lib_before_fit;
    int64_t rss_growth = rss_peak - rss_before_fit;
    int64_t param_bytes = (int64_t)(n_params * sizeof(float));
    printf("fit on Fashion-MNIST train: %zu rows x %zu, model %s mirrored (%zu parameters), batch %zu, "
           "%zu epoch(s), validation %.2f\n",
           data.n_rows, data.n_cols, model, n_params, batch, epochs, validation);
    printf("  %-52s %10.1f MiB\n", "data (floats the caller holds)", mib(data_bytes));
    printf("  %-52s %10.1f MiB\n", "parameters (4 bytes each)", mib(param_bytes));
    printf("  %-52s %10.1f MiB\n", "library heap before fit (the model)", mib(lib_before_fit));
    printf("  %-52s %10.1f MiB  (%.2f x parameters, %.3f x data)\n", "library heap peak during fit, above that",
           mib(lib_fit_peak), (double)lib_fit_peak / (double)param_bytes, (double)lib_fit_peak / (double)data_bytes);
    printf("  %-52s %10.1f MiB\n", "library heap kept after fit, above the model", mib(lib_after_fit));
    printf("  %-52s %10lld\n", "library allocations during fit", (long long)(lib.n_allocs - allocs_before));
    printf("  %-52s %10.1f MiB\n", "process RSS at start", mib(rss_start));
    printf("  %-52s %10.1f MiB\n", "process RSS before fit (data loaded, model built)", mib(rss_before_fit));
    printf("  %-52s %10.1f MiB%s\n", "process peak RSS during fit", mib(rss_peak),
           rss_reset == 0 ? "" : " (peak not reset: whole process)");
    printf("  %-52s %10.1f MiB  (%.3f x data)\n", "peak RSS growth during fit", mib(rss_growth),
           (double)rss_growth / (double)data_bytes);
    printf("  %-52s %10.0f samples/s, %.1f s, loss %.4f\n", "fit throughput", report.samples_per_second,
           report.seconds, report.final_train_loss);

    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            perror(json);
            return 1;
        }
        fprintf(f,
                "{\"benchmark\": \"bench_fit_memory\", \"rows\": %zu, \"cols\": %zu, \"model\": \"%s\", "
                "\"params\": %zu, \"batch\": %zu, \"epochs\": %zu, \"validation\": %g,\n"
                " \"data_bytes\": %lld, \"param_bytes\": %lld, \"lib_model_bytes\": %lld, "
                "\"lib_fit_peak_bytes_above_model\": %lld, \"lib_kept_after_fit_bytes\": %lld, "
                "\"lib_allocs_during_fit\": %lld,\n"
                " \"rss_start_bytes\": %lld, \"rss_before_fit_bytes\": %lld, \"rss_peak_during_fit_bytes\": %lld, "
                "\"rss_growth_during_fit_bytes\": %lld, \"rss_peak_reset\": %s,\n"
                " \"samples_per_s\": %.6g, \"seconds\": %.6g, \"final_train_loss\": %.9g}\n",
                data.n_rows, data.n_cols, model, n_params, batch, epochs, validation, (long long)data_bytes,
                (long long)param_bytes, (long long)lib_before_fit, (long long)lib_fit_peak,
                (long long)lib_after_fit, (long long)(lib.n_allocs - allocs_before), (long long)rss_start,
                (long long)rss_before_fit, (long long)rss_peak, (long long)rss_growth,
                rss_reset == 0 ? "true" : "false", report.samples_per_second, report.seconds,
                report.final_train_loss);
        if (fclose(f) != 0)
            return 1;
    }
    ae_model_free(m);
    fashion_mnist_free(&data);
    return 0;
}
