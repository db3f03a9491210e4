/* OpenBLAS's own threading against one thread on a model's product shapes, and how long its
 * workers keep a core busy after a threaded call: the two facts behind the library's chunks
 * (ae_blas_one_thread_rows in src/net.c).
 *
 *   bench_blas_threads [--units 32] [--inputs 64] [--calls 2000]
 *
 * Part 1 times out = x W^T (rows x inputs by units x inputs, row-major, as a forward layer)
 * at 32 to 1024 rows, best of 7 runs of --calls calls, with OpenBLAS on 2 threads and on 1;
 * OpenBLAS keeps a product of at most 65,536 x 4 multiply-adds on the calling thread (its
 * default GEMM_MULTITHREAD_THRESHOLD), so the two agree up to that size. Part 2 makes one
 * threaded product and then prints the process's processor time in each of ten 50 ms
 * sleeps of the caller: what OpenBLAS's workers spend spinning before they sleep. Part 3
 * times a narrow model's step products (30-16-4 at 128 rows and 64-32-8 at 32, the parts of
 * a split step), OpenBLAS on one thread, made by one thread alone and by two threads at
 * once, each on buffers of its own: what two parts' BLAS calls cost each other; the forward
 * as x W^T (W stored as torch.nn.Linear stores it), then as x V with V = W^T stored, as the
 * library's training passes of models from 2,048 weights a layer make it. Part 4 times one
 * forward product both ways, OpenBLAS on one thread, over a grid of 4 to 128 units and
 * inputs at 64 and 256 rows: the measurement behind the library's rule for when a layer
 * multiplies by such a copy (ae_multiplies_copy in src/net.c). */
#include "bench_common.h"

#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void openblas_set_num_threads(int threads);

enum { MAX_ROWS = 1024, MAX_WIDTH = 4096, REPEATS = 7 };

static double process_cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Best time of one call over REPEATS runs of `calls` calls. */
static double best_call(int threads, int rows, int units, int inputs, int calls, const float *x,
                        const float *w, float *out)
{
    openblas_set_num_threads(threads);
    double best = 1e30;
    for (int r = 0; r < REPEATS; r++) {
        double t0 = bench_now();
        for (int c = 0; c < calls; c++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, units, inputs, 1.0f, x,
                        inputs, w, inputs, 0.0f, out, units);
        double t = (bench_now() - t0) / calls;
        best = t < best ? t : best;
    }
    return best;
}

/* A mirrored model's step products over `rows` rows, row-major as the library makes them:
 * the forward, then from the top each layer's weight gradient and (but the first) its input
 * gradient. Buffers of its own per thread. */
typedef struct step_products {
    const int *widths; /* n_layers + 1 */
    int n_layers, rows, steps;
    int transposed; /* the forward multiplies by weight[l] as V = W^T (n_in x n_out) */
    float *act[5], *delta[5], *weight[4], *grad[4];
    double seconds; /* per step, the last run's */
} step_products;

static int step_products_init(step_products *p, const int *widths, int n_layers, int rows, int steps)
{
    *p = (step_products){.widths = widths, .n_layers = n_layers, .rows = rows, .steps = steps};
    int ok = 1;
    for (int l = 0; l <= n_layers; l++) {
        p->act[l] = calloc((size_t)rows * (size_t)widths[l], sizeof(float));
        p->delta[l] = calloc((size_t)rows * (size_t)widths[l], sizeof(float));
        ok = ok && p->act[l] && p->delta[l];
        for (int i = 0; ok && i < rows * widths[l]; i++)
            p->act[l][i] = (float)(i % 7) * 0.1f, p->delta[l][i] = (float)(i % 5) * 0.01f;
        if (l < n_layers) {
            p->weight[l] = calloc((size_t)widths[l] * (size_t)widths[l + 1], sizeof(float));
            p->grad[l] = calloc((size_t)widths[l] * (size_t)widths[l + 1], sizeof(float));
            ok = ok && p->weight[l] && p->grad[l];
            for (int i = 0; ok && i < widths[l] * widths[l + 1]; i++)
                p->weight[l][i] = (float)(i % 11) * 0.01f;
        }
    }
    return ok ? 0 : -1;
}

static void step_products_free(step_products *p)
{
    for (int l = 0; l <= p->n_layers; l++) {
        free(p->act[l]), free(p->delta[l]);
        if (l < p->n_layers)
            free(p->weight[l]), free(p->grad[l]);
    }
}

static void *run_step_products(void *raw)
{
    step_products *p = raw;
    const int *w = p->widths, rows = p->rows;
    double t0 = bench_now();
    for (int s = 0; s < p->steps; s++) {
        for (int l = 0; l < p->n_layers; l++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, p->transposed ? CblasNoTrans : CblasTrans, rows, w[l + 1],
                        w[l], 1.0f, p->act[l], w[l], p->weight[l], p->transposed ? w[l + 1] : w[l], 1.0f,
                        p->act[l + 1], w[l + 1]);
        for (int l = p->n_layers - 1; l >= 0; l--) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, w[l + 1], w[l], rows, 1.0f, p->delta[l + 1],
                        w[l + 1], p->act[l], w[l], 0.0f, p->grad[l], w[l]);
            if (l)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, w[l], w[l + 1], 1.0f, p->delta[l + 1],
                            w[l + 1], p->weight[l], w[l], 0.0f, p->delta[l], w[l]);
        }
    }
    p->seconds = (bench_now() - t0) / p->steps;
    return NULL;
}

/* Part 3 for one model and one way of the forward: medians of 7 runs, alone and two
 * threads at once. */
static int time_parts_at_once(const int *widths, const char *name, int rows, int transposed)
{
    enum { STEPS = 5000 };
    step_products p[2];
    if (step_products_init(&p[0], widths, 4, rows, STEPS) != 0 ||
        step_products_init(&p[1], widths, 4, rows, STEPS) != 0)
        return -1;
    p[0].transposed = p[1].transposed = transposed;
    double alone[REPEATS], together[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
        run_step_products(&p[0]);
        alone[r] = p[0].seconds;
        pthread_t other;
        if (pthread_create(&other, NULL, run_step_products, &p[1]) != 0)
            return -1;
        run_step_products(&p[0]);
        pthread_join(other, NULL);
        together[r] = 0.5 * (p[0].seconds + p[1].seconds);
    }
    const double a = bench_median(alone, REPEATS), t = bench_median(together, REPEATS);
    printf("%-8s %5d %-7s | %10.2f %12.2f | %8.2fx\n", name, rows, transposed ? "x V" : "x W^T", 1e6 * a,
           1e6 * t, t / a);
    step_products_free(&p[0]);
    step_products_free(&p[1]);
    return 0;
}

/* Part 4: out += x W^T (W units x inputs, the transpose flag) and out += x V (V = W^T, inputs x
 * units, a plain operand), as the library's forward makes them (the bias in out, beta = 1):
 * best of REPEATS runs of `calls` calls, in microseconds. */
static double best_forward(int rows, int units, int inputs, int by_copy, int calls, const float *x,
                           const float *w, float *out)
{
    double best = 1e30;
    for (int r = 0; r < REPEATS; r++) {
        double t0 = bench_now();
        for (int c = 0; c < calls; c++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, by_copy ? CblasNoTrans : CblasTrans, rows, units, inputs,
                        1.0f, x, inputs, w, by_copy ? units : inputs, 1.0f, out, units);
        double t = (bench_now() - t0) / calls;
        best = t < best ? t : best;
    }
    return 1e6 * best;
}

static int time_forward_grid(void)
{
    enum { MOST_ROWS = 256, MOST_WIDTH = 128, CALLS = 300 };
    static const int rows[] = {64, 256}, widths[] = {4, 8, 16, 30, 32, 64, 128};
    enum { N_WIDTHS = sizeof widths / sizeof widths[0] };
    float *x = calloc((size_t)MOST_ROWS * MOST_WIDTH, sizeof *x);
    float *w = calloc((size_t)MOST_WIDTH * MOST_WIDTH, sizeof *w);
    float *out = calloc((size_t)MOST_ROWS * MOST_WIDTH, sizeof *out);
    if (!x || !w || !out)
        return free(x), free(w), free(out), -1;
    for (size_t i = 0; i < (size_t)MOST_ROWS * MOST_WIDTH; i++)
        x[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)MOST_WIDTH * MOST_WIDTH; i++)
        w[i] = (float)(i % 5) * 0.01f; /* the same values serve as W and as V: only the time counts */
    openblas_set_num_threads(1);
    printf("\none forward product, out += x W^T by the transpose flag against x V with V = W^T stored,\n"
           "OpenBLAS on 1 thread; best of %d x %d calls; flag / copy above 1: the copy is faster\n",
           REPEATS, CALLS);
    printf("%5s %6s %7s | %10s %10s | %11s\n", "rows", "units", "inputs", "flag us", "copy us", "flag / copy");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        for (int u = 0; u < N_WIDTHS; u++)
            for (int k = 0; k < N_WIDTHS; k++) {
                const double flag = best_forward(rows[r], widths[u], widths[k], 0, CALLS, x, w, out);
                const double copy = best_forward(rows[r], widths[u], widths[k], 1, CALLS, x, w, out);
                printf("%5d %6d %7d | %10.3f %10.3f | %10.2fx\n", rows[r], widths[u], widths[k], flag, copy,
                       flag / copy);
            }
    free(x), free(w), free(out);
    return 0;
}

int main(int argc, char **argv)
{
    int units = 32, inputs = 64, calls = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--units") == 0)
            units = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--inputs") == 0)
            inputs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--calls") == 0)
            calls = atoi(argv[i + 1]);
    }
    if (units < 1 || units > MAX_WIDTH || inputs < 1 || inputs > MAX_WIDTH || calls < 1 || argc % 2 == 0) {
        fprintf(stderr, "usage: bench_blas_threads [--units 1..4096] [--inputs 1..4096] [--calls N]\n");
        return 2;
    }
    float *x = calloc((size_t)MAX_ROWS * (size_t)inputs, sizeof *x);
    float *w = calloc((size_t)units * (size_t)inputs, sizeof *w);
    float *out = calloc((size_t)MAX_ROWS * (size_t)units, sizeof *out);
    if (!x || !w || !out)
        return fprintf(stderr, "bench_blas_threads: out of memory\n"), 1;
    for (size_t i = 0; i < (size_t)MAX_ROWS * (size_t)inputs; i++)
        x[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)units * (size_t)inputs; i++)
        w[i] = (float)(i % 5) * 0.1f;

    printf("out = x W^T, W %d x %d; best of %d x %d calls\n", units, inputs, REPEATS, calls);
    printf("%6s %12s | %12s %12s | %9s\n", "rows", "M N K", "2 threads us", "1 thread us", "2 / 1");
    static const int rows[] = {32, 64, 96, 128, 160, 192, 256, 384, 512, 1024};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double two = best_call(2, rows[r], units, inputs, calls, x, w, out);
        double one = best_call(1, rows[r], units, inputs, calls, x, w, out);
        printf("%6d %12ld | %12.2f %12.2f | %8.2fx\n", rows[r], (long)rows[r] * units * inputs,
               1e6 * two, 1e6 * one, two / one);
    }

    enum { N = 512 };
    float *a = calloc((size_t)N * N, sizeof *a), *c = calloc((size_t)N * N, sizeof *c);
    if (!a || !c)
        return fprintf(stderr, "bench_blas_threads: out of memory\n"), 1;
    openblas_set_num_threads(2);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, a, N, 0.0f, c, N);
    printf("\nafter one threaded %d^3 product, the caller asleep: processor time per 50 ms\n", N);
    double before = process_cpu_seconds();
    for (int i = 1; i <= 10; i++) {
        nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
        double now = process_cpu_seconds();
        printf("  %4d ms: %5.1f ms\n", 50 * i, 1e3 * (now - before));
        before = now;
    }
    free(a), free(c), free(x), free(w), free(out);

    openblas_set_num_threads(1);
    printf("\na step's products (forward, weight and input gradients), OpenBLAS on 1 thread; medians of\n"
           "%d runs, per thread: made by one thread alone, and by two threads at once\n", REPEATS);
    printf("%-8s %5s %-7s | %10s %12s | %9s\n", "model", "rows", "forward", "alone us", "at once us", "at once");
    static const int tabular[] = {30, 16, 4, 16, 30}, narrow[] = {64, 32, 8, 32, 64};
    for (int transposed = 0; transposed < 2; transposed++)
        if (time_parts_at_once(tabular, "30-16-4", 128, transposed) != 0 ||
            time_parts_at_once(narrow, "64-32-8", 32, transposed) != 0 ||
            time_parts_at_once(narrow, "64-32-8", 64, transposed) != 0)
            return fprintf(stderr, "bench_blas_threads: out of memory or threads\n"), 1;
    if (time_forward_grid() != 0)
        return fprintf(stderr, "bench_blas_threads: out of memory\n"), 1;
    return 0;
}
