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
 * sleeps of the caller: what OpenBLAS's workers spend spinning before they sleep. */
#include "bench_common.h"

#include <cblas.h>
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
    return 0;
}
