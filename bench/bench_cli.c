/* The autoenc tool against ae_model_fit called in-process, in one run, on the same data
 * and settings: training from a float32 NPY file (memory-mapped by the tool) and from
 * the gzip'ed IDX file, and the time the tool takes to read the 60,000 IDX images.
 *
 *   bench_cli AUTOENC [--reps N] [--epochs N] [--batch N] [--dir DIR] [--work DIR]
 *
 * Default: the reference model 784-512-256-64 mirrored (ReLU, sigmoid output, BCE, Adam),
 * 1 epoch at batch 256 on all 60,000 training images, 3 repetitions alternated between
 * the three ways; medians reported, and the tool's training rate as a share of the
 * in-process one (the fit report's samples_per_second of each). */
#define _POSIX_C_SOURCE 200809L
#include "bench_common.h"

#include <autoenc.h>
#include <fashion_mnist.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_npy(const char *path, const float *x, size_t rows, size_t cols)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                     rows, cols);
    size_t total = 10 + (size_t)n + 1, padded = (total + 63) / 64 * 64;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)((padded - 10) & 255),
                             (unsigned char)((padded - 10) >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)n, f);
    for (size_t i = total; i < padded; i++)
        fputc(' ', f);
    fputc('\n', f);
    fwrite(x, sizeof *x, rows * cols, f);
    return fclose(f);
}

static double in_process(const fashion_mnist *d, size_t epochs, size_t batch)
{
    const size_t widths[] = {784, 512, 256, 64};
    ae_model *m = NULL;
    ae_fit_report r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    if (ae_model_create(&m, widths, 4, NULL, 0) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_EPOCHS, (double)epochs) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_BATCH_SIZE, (double)batch) != AE_OK ||
        ae_model_fit(m, d->pixels, d->n_rows, 784, &r) != AE_OK) {
        fprintf(stderr, "bench_cli: in-process fit: %s\n", ae_last_error());
        exit(1);
    }
    ae_model_free(m);
    return r.samples_per_second;
}

/* Runs the tool and reads samples_per_second from its --json report. */
static double through_tool(const char *tool, const char *data, const char *work, size_t epochs,
                           size_t batch)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' train '%s' -o '%s/bench.aemodel' --widths 784,512,256,64 --loss bce "
             "--epochs %zu --batch %zu --json -q",
             tool, data, work, epochs, batch);
    FILE *p = popen(cmd, "r");
    char line[512];
    double rate = -1;
    while (p && fgets(line, sizeof line, p))
        if (strstr(line, "\"samples_per_second\""))
            rate = atof(strchr(line, ':') + 1);
    if (!p || pclose(p) != 0 || rate <= 0) {
        fprintf(stderr, "bench_cli: %s failed\n", cmd);
        exit(1);
    }
    return rate;
}

static double read_seconds(const char *tool, const char *data)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' info '%s' >/dev/null", tool, data);
    double t0 = bench_now();
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_cli: %s failed\n", cmd);
        exit(1);
    }
    return bench_now() - t0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_cli AUTOENC [--reps N] [--epochs N] [--batch N] [--dir DIR] [--work DIR]\n");
        return 2;
    }
    const char *tool = argv[1], *dir = getenv("FASHION_MNIST_DIR"), *work = "/tmp";
    size_t reps = 3, epochs = 1, batch = 256;
    if (!dir)
        dir = "/usr/share/datasets/fashion-mnist";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--reps") == 0) reps = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--epochs") == 0) epochs = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--batch") == 0) batch = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
        else if (strcmp(argv[i], "--work") == 0) work = argv[i + 1];
    }
    if (reps < 1 || reps > 100)
        reps = 3;
    fashion_mnist d;
    char err[512];
    if (fashion_mnist_load(dir, FASHION_MNIST_TRAIN, 0, &d, err, sizeof err) != 0) {
        fprintf(stderr, "bench_cli: %s\n", err);
        return 1;
    }
    char npy[1024], idx[1024];
    snprintf(npy, sizeof npy, "%s/bench_cli_train.npy", work);
    snprintf(idx, sizeof idx, "%s/train-images-idx3-ubyte.gz", dir);
    if (write_npy(npy, d.pixels, d.n_rows, 784) != 0) {
        fprintf(stderr, "bench_cli: cannot write %s\n", npy);
        return 1;
    }
    double *c_rate = calloc(reps, sizeof(double)), *npy_rate = calloc(reps, sizeof(double));
    double *idx_rate = calloc(reps, sizeof(double)), *read_s = calloc(reps, sizeof(double));
    double *ratio_npy = calloc(reps, sizeof(double)), *ratio_idx = calloc(reps, sizeof(double));
    printf("rep  in-process  tool(NPY)  tool(IDX)  samples/s; IDX read s\n");
    for (size_t r = 0; r < reps; r++) {
        c_rate[r] = in_process(&d, epochs, batch);
        npy_rate[r] = through_tool(tool, npy, work, epochs, batch);
        idx_rate[r] = through_tool(tool, idx, work, epochs, batch);
        read_s[r] = read_seconds(tool, idx);
        ratio_npy[r] = npy_rate[r] / c_rate[r];
        ratio_idx[r] = idx_rate[r] / c_rate[r];
        printf("%3zu  %10.0f  %9.0f  %9.0f  %.3f\n", r + 1, c_rate[r], npy_rate[r], idx_rate[r],
               read_s[r]);
        fflush(stdout);
    }
    printf("median: in-process %.0f samples/s, tool from NPY %.0f (%.1f%% of in-process, per-rep "
           "ratio median %.1f%%), tool from IDX %.0f (%.1f%%, ratio median %.1f%%); "
           "'autoenc info' reading the 60,000 gzip'ed IDX images: %.3f s\n",
           bench_median(c_rate, reps), bench_median(npy_rate, reps),
           100.0 * bench_median(npy_rate, reps) / bench_median(c_rate, reps),
           100.0 * bench_median(ratio_npy, reps), bench_median(idx_rate, reps),
           100.0 * bench_median(idx_rate, reps) / bench_median(c_rate, reps),
           100.0 * bench_median(ratio_idx, reps), bench_median(read_s, reps));
    remove(npy);
    fashion_mnist_free(&d);
    free(c_rate); free(npy_rate); free(idx_rate); free(read_s); free(ratio_npy); free(ratio_idx);
    return 0;
}
