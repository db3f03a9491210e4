/* Helpers shared by the benchmark programs (not part of the library): clock, medians,
 * a counting allocator for the library's allocation hook, and the process's resident
 * memory read from /proc (Linux), with its peak reset between measurements. */
#ifndef AE_BENCH_COMMON_H
#define AE_BENCH_COMMON_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Monotonic seconds. */
double bench_now(void);

/** A meeting point for threads of one benchmark: each round ends when `parties` have arrived
 *  (a count and a round number on cache lines of their own; zero-initialise it). */
typedef struct bench_meeting {
    alignas(64) atomic_int arrived;
    alignas(64) atomic_int round;
} bench_meeting;
/** Wait until @p parties threads have called this for the current round; the waiters yield the
 *  core between looks if @p yield (a thread they wait for may share it), else spin. */
void bench_meet(bench_meeting *m, int parties, bool yield);

/** Median of @p v (sorted in place); 0 for n == 0. */
double bench_median(double *v, size_t n);
/** Quantile q in [0, 1] of @p v, sorted in place (nearest rank, lower). */
double bench_quantile(double *v, size_t n, double q);

/** What the library allocated through its hook since bench_alloc_install(). */
typedef struct bench_alloc_stats {
    int64_t current_bytes; /**< live bytes now */
    int64_t peak_bytes;    /**< highest live bytes since the last bench_alloc_reset_peak() */
    int64_t n_allocs;      /**< allocations since bench_alloc_install() */
} bench_alloc_stats;

/** Route the library's allocations through a counting wrapper of malloc; call before any
 *  model exists. Returns 0 or -1. */
int bench_alloc_install(void);
bench_alloc_stats bench_alloc_get(void);
/** Set the peak to the current live bytes. */
void bench_alloc_reset_peak(void);

/** Resident set size now and its peak ("high water mark"), in bytes, from
 *  /proc/self/status; -1 if unavailable. */
int64_t bench_rss_now(void);
int64_t bench_rss_peak(void);
/** Reset the kernel's peak RSS to the current RSS (/proc/self/clear_refs "5").
 *  Returns 0, or -1 if the kernel refuses (then peaks are process-wide). */
int bench_rss_reset_peak(void);

#endif
