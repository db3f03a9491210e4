/* Training-step and encode throughput of a model against the GEMM-only floor measured in
 * the same run: bare cblas_sgemm calls with exactly the shapes a step performs.
 *
 *   bench_step [batch] [repetitions] [width ...]     default: 256 30 784 512 256 64
 *
 * Prints medians over the repetitions (after warm-up) and the ratio to the floor. */
#include <autoenc.h>
#include <cblas.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The GEMMs of one training step: forward for every layer, weight gradients for every
 * layer, input gradients for all layers but the first. */
static void gemm_floor_step(const ae_model *m, size_t batch, float *a, float *b, float *c, float *w)
{
    size_t n_layers = ae_model_layer_count(m);
    for (size_t l = 0; l < n_layers; l++) {
        size_t out, in;
        ae_model_layer_info(m, l, &out, &in, NULL);
        int rows = (int)batch, n_out = (int)out, n_in = (int)in;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_out, n_in, 1, a, n_in, w, n_in, 0, c, n_out);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, rows, 1, c, n_out, a, n_in, 0, w, n_in);
        if (l)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, n_in, n_out, 1, c, n_out, w, n_in, 0, b, n_in);
    }
}

int main(int argc, char **argv)
{
    size_t batch = argc > 1 ? (size_t)atol(argv[1]) : 256;
    int reps = argc > 2 ? atoi(argv[2]) : 30;
    size_t widths[32] = {784, 512, 256, 64};
    size_t n_widths = 4;
    if (argc > 3) {
        n_widths = 0;
        for (int i = 3; i < argc && n_widths < 32; i++)
            widths[n_widths++] = (size_t)atol(argv[i]);
    }
    if (batch == 0 || reps < 1 || n_widths < 2) {
        fprintf(stderr, "usage: bench_step [batch] [repetitions] [width ...]\n");
        return 2;
    }

    ae_model *m = NULL;
    if (ae_model_create(&m, widths, n_widths, NULL, 0) != AE_OK) {
        fprintf(stderr, "bench_step: %s\n", ae_last_error());
        return 1;
    }
    ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);

    size_t d = widths[0], max_width = 0, flops = 0, n_layers = ae_model_layer_count(m);
    for (size_t l = 0; l < n_layers; l++) {
        size_t out, in;
        ae_model_layer_info(m, l, &out, &in, NULL);
        max_width = out > max_width ? out : max_width;
        max_width = in > max_width ? in : max_width;
        flops += 2 * batch * out * in * (l ? 3 : 2);
    }
    float *x = malloc(batch * d * sizeof *x);
    float *a = calloc(batch * max_width, sizeof *a), *b = calloc(batch * max_width, sizeof *b);
    float *c = calloc(batch * max_width, sizeof *c), *w = calloc(max_width * max_width, sizeof *w);
    float *z = malloc(batch * ae_model_latent_dim(m) * sizeof *z);
    double *t_step = malloc((size_t)reps * sizeof *t_step), *t_floor = malloc((size_t)reps * sizeof *t_floor);
    double *t_enc = malloc((size_t)reps * sizeof *t_enc);
    if (!x || !a || !b || !c || !w || !z || !t_step || !t_floor || !t_enc) {
        fprintf(stderr, "bench_step: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < batch * d; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;

    for (int warm = 0; warm < 3; warm++) {
        gemm_floor_step(m, batch, a, b, c, w);
        ae_model_train_batch(m, x, batch, d, NULL);
    }
    /* Interleave the measurements so machine noise hits all of them alike. */
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        gemm_floor_step(m, batch, a, b, c, w);
        double t1 = now();
        if (ae_model_train_batch(m, x, batch, d, NULL) != AE_OK) {
            fprintf(stderr, "bench_step: %s\n", ae_last_error());
            return 1;
        }
        double t2 = now();
        ae_model_encode(m, x, batch, d, z, ae_model_latent_dim(m));
        double t3 = now();
        t_floor[r] = t1 - t0;
        t_step[r] = t2 - t1;
        t_enc[r] = t3 - t2;
    }
    double floor_s = median(t_floor, reps), step_s = median(t_step, reps), enc_s = median(t_enc, reps);
    printf("model");
    for (size_t i = 0; i < n_widths; i++)
        printf("%s%zu", i ? "-" : " ", widths[i]);
    printf(" mirrored, batch %zu, %d repetitions (medians)\n", batch, reps);
    printf("  GEMM-only floor : %10.0f samples/s  %7.1f GFLOP/s\n", batch / floor_s, flops / floor_s * 1e-9);
    printf("  training step   : %10.0f samples/s  %7.1f GFLOP/s  %5.1f%% of floor\n", batch / step_s,
           flops / step_s * 1e-9, 100.0 * floor_s / step_s);
    printf("  encode          : %10.0f samples/s\n", batch / enc_s);
    ae_model_free(m);
    free(x), free(a), free(b), free(c), free(w), free(z), free(t_step), free(t_floor), free(t_enc);
    return 0;
}
