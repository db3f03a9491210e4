/* The clock, the order statistics and the threads' meeting point every benchmark uses
 * (bench_common.h); no dependency on the library, so that programs loading it with dlopen
 * can link them. */
#include "bench_common.h"

#include <sched.h>
#include <stdlib.h>
#include <time.h>

double bench_now(void)
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

double bench_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double bench_quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, by_value);
    size_t i = (size_t)(q * (double)(n - 1));
    return v[i < n ? i : n - 1];
}

void bench_meet(bench_meeting *m, int parties, bool yield)
{
    const int round = atomic_load_explicit(&m->round, memory_order_acquire);
    if (atomic_fetch_add_explicit(&m->arrived, 1, memory_order_acq_rel) == parties - 1) {
        atomic_store_explicit(&m->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&m->round, round + 1, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&m->round, memory_order_acquire) == round)
        if (yield)
            sched_yield();
}
