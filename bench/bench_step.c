/* Training-step and encode throughput against the GEMM-only floor measured in the same
 * process and run: bare BLAS calls with exactly the shapes a step (or an encode) performs,
 * on separate buffers per layer like the real step, interleaved with the library's calls
 * so that machine noise hits all of them alike.
 *
 *   bench_step [--models LIST] [--batches LIST] [--reps N] [--min-reps N] [--warmup N]
 *              [--budget SECONDS] [--threads N] [--scaling] [--json FILE] [--threaded-floor]
 *
 *   --models   comma-separated: reference (784-512-256-64), wide (4096-2048-1024-256),
 *              narrow (64-32-8), or encoder widths such as 784-1024-64; all mirrored,
 *              ReLU inside, linear latent, sigmoid output, BCE loss, Adam (lr 1e-3).
 *              Variants of the reference model: denoising (Gaussian noise 0.1), dropout
 *              (hidden 0.2), tied (tied weights), variational, sparse (sigmoid latent, KL
 *              sparsity penalty 0.1), or VARIANT:WIDTHS (e.g. tied:64-32-8); each is timed
 *              against the plain model of its widths, interleaved in the same loop.
 *              --models variants is all five. Default: reference,wide,narrow.
 *   --batches  comma-separated batch sizes. Default: 1,64,256,1024.
 *   --reps     most repetitions per configuration (default 2000: a step of a few
 *              microseconds needs thousands for a steady median); fewer are run when a
 *              repetition is slow, so that one configuration takes about --budget
 *              seconds (default 3), but never fewer than --min-reps (default 5).
 *   --warmup   untimed repetitions first (default 3).
 *   --threads  OpenBLAS threads and the library's AE_PARAM_THREADS (default: OpenBLAS's own
 *              choice, OPENBLAS_NUM_THREADS, and the library's default, one per processor).
 *              Row-split training (OpenBLAS on one thread, the model's threads each running
 *              their own rows): run with OPENBLAS_NUM_THREADS=1 and without --threads, and
 *              compare its step with the floor of a run with OpenBLAS's threads. Both in one
 *              process would time OpenBLAS's idle workers too, which spin for a while after
 *              every threaded call and take the core the split needs.
 *   --threaded-floor  with OPENBLAS_NUM_THREADS=1 (the row split): time each repetition's
 *              floor, and the library's step unsplit, with OpenBLAS on the library's threads
 *              (its workers woken first by a small product of their own); then put
 *              OpenBLAS back on one thread and let its idle workers fall asleep
 *              (BLAS_WORKERS_ASLEEP_S, the crew spinning on every core meanwhile) before
 *              anything else is timed. The split step and OpenBLAS's threading then compare
 *              in one process, alternating, so that the machine's drift between two runs
 *              (minutes apart on a shared host) does not enter their ratio.
 *   --scaling  instead of the models above, sweep width (784-W-W-64, W = 128..2048) and
 *              depth (784, k layers of 512, 64; k = 1..6) at batch 256 (or --batches).
 *   --json     also write every figure to FILE.
 *   --profile N  only N training steps of the first model and batch, nothing else timed
 *              (for perf record: the profile then holds the step alone).
 *   --check FILE  compare this run's ratios (step and encode against their floors, for the
 *              models and batches both runs have) with FILE, the --json output of a
 *              baseline run (bench/baseline_step.json is committed); exit 3 if any fell by
 *              more than --tolerance (default 0.15, relative) below the baseline's (or
 *              than the ratio's own spread in this run, where that is larger), and 2 at
 *              once, before the run, if FILE is missing or is not such an output. The
 *              step's ratio to the machine's limit is shown beside them, not judged; so is
 *              every ratio of a baseline measured with other OpenBLAS kernels. For use
 *              before merging performance work.
 *
 * Reported per configuration: medians of step and encode time as samples/s and GFLOP/s (a
 * one-row encode, the serving case, as the mean of a burst of ENCODE_BURST calls per turn),
 * the floor's, the ratio floor/library (100% = at the floor), for one-row encode also the
 * floor with a call's duties (floor_encode_duties: what any call that keeps them costs at
 * least), the machine's limit (the same
 * products with OpenBLAS on one thread, that time divided by the threads OpenBLAS otherwise
 * uses: every core at the single-core rate, as if each ran its own rows of the batch), the
 * ratio limit/library; where a step's time goes (the gradient against the floor, the
 * update against the update's floor: its memory traffic with an add for Adam's arithmetic,
 * and the best step: the GEMMs at the machine's limit plus the faster of the two updates;
 * with OpenBLAS on one thread, also the step's products split by columns between the
 * library's threads by hand, and that split plus the update: what a split step can reach);
 * the library's own heap
 * (through the allocation hook: live bytes of the trained model, peak during a step and
 * an encode, allocations per call) and the peak resident memory the model added. */
#include "bench_common.h"

#include <autoenc.h>
#include <cblas.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define MAX_WIDTHS 16
#define MAX_MODELS 32
#define MAX_BATCHES 16
#define ENCODE_BURST 16 /* one-row encode calls per timed turn */

typedef enum variant {
    VARIANT_PLAIN, VARIANT_DENOISING, VARIANT_DROPOUT, VARIANT_TIED, VARIANT_VARIATIONAL, VARIANT_SPARSE
} variant;

static const char *const variant_names[] = {"plain", "denoising", "dropout", "tied", "variational", "sparse"};
#define N_VARIANTS (sizeof variant_names / sizeof *variant_names)

typedef struct model_spec {
    char name[64];
    size_t widths[MAX_WIDTHS]; /* encoder widths; the decoder mirrors them */
    size_t n_widths;
    variant kind;
} model_spec;

typedef struct options {
    model_spec models[MAX_MODELS];
    size_t n_models;
    size_t batches[MAX_BATCHES];
    size_t n_batches;
    int reps, min_reps, warmup, threads, profile_steps;
    int blas_threads; /* OpenBLAS's threads for the floor; the limit's divisor */
    bool threaded_floor; /* the floor on the library's threads in a one-thread process */
    double budget, tolerance;
    const char *json_path, *check_path;
} options;

typedef struct timing {
    double median_s, q25_s, q75_s;
} timing;

typedef struct result {
    const model_spec *spec;
    size_t batch;
    int reps;
    double step_flops, encode_flops;
    timing step, floor, encode, encode_floor;
    timing encode_duties; /* one row: floor_encode_duties, the floor with a call's duties */
    timing one_core; /* the step's GEMMs with OpenBLAS on one thread */
    double limit_s;  /* one_core's median divided by the threads: the machine's limit */
    timing split;    /* the same products split by columns between the library's threads, when
                      * OpenBLAS runs one thread (split_floor_time); median 0 when not timed */
    timing gradient; /* ae_model_gradient: forward and backward, no update (plus copying the gradient out) */
    timing plain_step; /* a variant's plain twin (same widths), timed in the same loop */
    timing update_floor; /* the update's memory traffic alone, on the library's threads */
    timing threaded_step; /* --threaded-floor: the library's step with OpenBLAS's threads */
    const char *floor_kind, *encode_floor_kind;
    double loss_first, loss_last;
    int64_t lib_model_bytes, lib_step_peak_bytes, lib_encode_peak_bytes;
    double allocs_per_step, allocs_per_encode;
    int64_t rss_model_peak_bytes, rss_floor_bytes;
} result;

/* ---- the floor: bare BLAS with the step's shapes, one set of buffers per layer ---- */

typedef struct floor_bufs {
    size_t n_layers, n_encoder_layers, batch;
    size_t width[2 * MAX_WIDTHS];   /* width[l] = input width of layer l, width[n_layers] = output */
    float *act[2 * MAX_WIDTHS];     /* batch x width[l] */
    float *delta[2 * MAX_WIDTHS];   /* batch x width[l], l >= 1 */
    float *weight[2 * MAX_WIDTHS];  /* width[l+1] x width[l] */
    float *grad[2 * MAX_WIDTHS];    /* width[l+1] x width[l] */
} floor_bufs;

static int64_t g_max_rss; /* highest peak RSS seen at the end of any configuration */
static int g_blas_threads; /* OpenBLAS's threads for the floor */

static uint64_t g_fill_state = 0x9e3779b97f4a7c15u;

static float fill_value(void)
{
    g_fill_state ^= g_fill_state << 13;
    g_fill_state ^= g_fill_state >> 7;
    g_fill_state ^= g_fill_state << 17;
    return (float)(g_fill_state >> 40) / 16777216.0f; /* [0, 1) */
}

static float *filled(size_t n, float scale)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (p)
        for (size_t i = 0; i < n; i++)
            p[i] = scale * (fill_value() - 0.5f);
    return p;
}

static void floor_free(floor_bufs *f)
{
    for (size_t l = 0; l <= f->n_layers; l++) {
        free(f->act[l]), free(f->delta[l]);
        if (l < f->n_layers)
            free(f->weight[l]), free(f->grad[l]);
    }
    memset(f, 0, sizeof *f);
}

static int floor_init(floor_bufs *f, const ae_model *m, size_t batch)
{
    memset(f, 0, sizeof *f);
    f->n_layers = ae_model_layer_count(m);
    f->n_encoder_layers = ae_model_encoder_layer_count(m);
    f->batch = batch;
    for (size_t l = 0; l < f->n_layers; l++) {
        size_t out, in;
        ae_model_layer_info(m, l, &out, &in, NULL);
        f->width[l] = in;
        f->width[l + 1] = out;
    }
    int ok = 1;
    for (size_t l = 0; l <= f->n_layers; l++) {
        f->act[l] = filled(batch * f->width[l], 1.0f);
        f->delta[l] = l ? filled(batch * f->width[l], 0.01f) : NULL;
        ok = ok && f->act[l] && (l == 0 || f->delta[l]);
        if (l < f->n_layers) {
            size_t n = f->width[l + 1] * f->width[l];
            f->weight[l] = filled(n, 2.0f / (float)f->width[l]);
            f->grad[l] = filled(n, 0.0f);
            ok = ok && f->weight[l] && f->grad[l];
        }
    }
    if (!ok)
        floor_free(f);
    return ok ? 0 : -1;
}

/* Forward for every layer; weight gradients for every layer and input gradients for all
 * but the first, from the last layer back, as a step does them. */
static void floor_step_gemm(const floor_bufs *f)
{
    int rows = (int)f->batch;
    for (size_t l = 0; l < f->n_layers; l++) {
        int in = (int)f->width[l], out = (int)f->width[l + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, f->act[l], in,
                    f->weight[l], in, 0.0f, f->act[l + 1], out);
    }
    for (size_t l = f->n_layers; l-- > 0;) {
        int in = (int)f->width[l], out = (int)f->width[l + 1];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, rows, 1.0f, f->delta[l + 1], out,
                    f->act[l], in, 0.0f, f->grad[l], in);
        if (l)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f, f->delta[l + 1],
                        out, f->weight[l], in, 0.0f, f->delta[l], in);
    }
}

/* The same step for one row with BLAS level 2: sgemv forward, sger for the weight
 * gradient (it accumulates where sgemm overwrites: the same traffic), sgemv back. */
static void floor_step_blas2(const floor_bufs *f)
{
    for (size_t l = 0; l < f->n_layers; l++) {
        int in = (int)f->width[l], out = (int)f->width[l + 1];
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, f->weight[l], in, f->act[l], 1, 0.0f,
                    f->act[l + 1], 1);
    }
    for (size_t l = f->n_layers; l-- > 0;) {
        int in = (int)f->width[l], out = (int)f->width[l + 1];
        cblas_sger(CblasRowMajor, out, in, 1e-6f, f->delta[l + 1], 1, f->act[l], 1, f->grad[l], in);
        if (l)
            cblas_sgemv(CblasRowMajor, CblasTrans, out, in, 1.0f, f->weight[l], in, f->delta[l + 1], 1,
                        0.0f, f->delta[l], 1);
    }
}

/* Encode: the encoder layers' forward products (sgemv for one row, as the library does). */
static void floor_encode(const floor_bufs *f)
{
    int rows = (int)f->batch;
    for (size_t l = 0; l < f->n_encoder_layers; l++) {
        int in = (int)f->width[l], out = (int)f->width[l + 1];
        if (rows == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, f->weight[l], in, f->act[l], 1, 0.0f,
                        f->act[l + 1], 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, f->act[l], in,
                        f->weight[l], in, 0.0f, f->act[l + 1], out);
    }
}

/* One row's encode with the duties every call of the library has beside its products, which
 * the sgemv floor leaves out: a reader's guard (one atomic add on entry, one on exit, a load
 * between), the scans of the input and of the code for values that are not finite (a call
 * refuses either), and each layer's bias and activation (ReLU inside, the latent layer
 * linear), the bias copied first and the product added to it as the library does. No argument checks, no calls between files: the least a
 * call that keeps those duties can cost on top of the bare products. The deltas' buffers
 * stand in for the biases (a row of each layer's width; their values do not matter).
 * Returns whether the call would have been refused. (Cloned for AVX-512 as the library's
 * scans are, it took 9% longer for 64-32-8: the plain build is the lower bound.) */
static int floor_encode_duties(const floor_bufs *f, _Atomic unsigned *readers, _Atomic uintptr_t *writer)
{
    atomic_fetch_add_explicit(readers, 1, memory_order_seq_cst);
    int refused = atomic_load_explicit(writer, memory_order_seq_cst) != 0;
    const float *x = f->act[0];
    for (size_t i = 0; i < f->width[0]; i++)
        refused |= !isfinite(x[i]);
    for (size_t l = 0; l < f->n_encoder_layers && !refused; l++) {
        int in = (int)f->width[l], out = (int)f->width[l + 1];
        float *y = f->act[l + 1];
        memcpy(y, f->delta[l + 1], (size_t)out * sizeof *y);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, f->weight[l], in, f->act[l], 1, 1.0f, y, 1);
        if (l + 1 < f->n_encoder_layers)
            for (int j = 0; j < out; j++)
                y[j] = y[j] > 0.0f ? y[j] : 0.0f;
    }
    const float *code = f->act[f->n_encoder_layers];
    for (size_t j = 0; j < f->width[f->n_encoder_layers]; j++)
        refused |= !isfinite(code[j]);
    atomic_fetch_sub_explicit(readers, 1, memory_order_release);
    return refused;
}

/* ---- a crew: the library's threads, for the floors they would share ------------------ */

/* Workers wait between runs as the library's pool does (src/parallel.c): they poll for the
 * next run for CREW_POLL_S, yielding the core, then sleep on a condition variable. A floor
 * whose threads slept between its runs would pay a virtual processor's wake-up (tens of
 * microseconds), which the library's step does not. Threads created for each measurement
 * instead start on a busy core: with OpenBLAS's idle workers still spinning after a threaded
 * call, such a split was timed at 1.3-6x its time. */
#define MAX_CREW 64
#define CREW_POLL_S 200e-6

typedef void (*crew_fn)(void *context, int index, int threads);

typedef struct crew crew;

typedef struct crew_member {
    crew *crew;
    int index;
} crew_member;

struct crew {
    int threads, started;
    pthread_t worker[MAX_CREW];
    crew_member member[MAX_CREW];
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* < 0: stop. Advanced under lock (release, after fn and context), polled without. */
    atomic_int round;
    crew_fn fn;
    void *context;
    atomic_int done;
};

static void *crew_worker(void *raw)
{
    crew_member *me = raw;
    crew *c = me->crew;
    int seen = 0;
    for (;;) {
        const double until = bench_now() + CREW_POLL_S;
        while (atomic_load_explicit(&c->round, memory_order_acquire) == seen && bench_now() < until)
            sched_yield();
        pthread_mutex_lock(&c->lock);
        while (atomic_load_explicit(&c->round, memory_order_acquire) == seen)
            pthread_cond_wait(&c->wake, &c->lock);
        pthread_mutex_unlock(&c->lock);
        seen = atomic_load_explicit(&c->round, memory_order_acquire);
        if (seen < 0)
            return NULL;
        c->fn(c->context, me->index, c->threads);
        atomic_fetch_add_explicit(&c->done, 1, memory_order_release);
    }
}

static void crew_stop(crew *c)
{
    pthread_mutex_lock(&c->lock);
    atomic_store_explicit(&c->round, -1, memory_order_release);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
    for (int t = 1; t < c->started; t++)
        pthread_join(c->worker[t], NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
}

/* @p threads threads, the caller's included (at most MAX_CREW); -1 if one would not start.
 * @p c must stay where it is until crew_stop. */
static int crew_start(crew *c, int threads)
{
    memset(c, 0, sizeof *c);
    c->threads = threads < 1 ? 1 : threads > MAX_CREW ? MAX_CREW : threads;
    c->started = 1;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    for (int t = 1; t < c->threads; t++) {
        c->member[t] = (crew_member){c, t};
        if (pthread_create(&c->worker[t], NULL, crew_worker, &c->member[t]) != 0) {
            crew_stop(c);
            return -1;
        }
        c->started++;
    }
    return 0;
}

/* fn(context, index, threads) on every thread, the caller as index 0; returns when all are
 * done. Waking the workers is part of the run, as in the library. */
static void crew_run(crew *c, crew_fn fn, void *context)
{
    const int done = atomic_load_explicit(&c->done, memory_order_acquire);
    pthread_mutex_lock(&c->lock);
    c->fn = fn;
    c->context = context;
    atomic_fetch_add_explicit(&c->round, 1, memory_order_release);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
    fn(context, 0, c->threads);
    while (atomic_load_explicit(&c->done, memory_order_acquire) < done + c->threads - 1)
        sched_yield();
}

/* OpenBLAS's idle workers spin (yielding) for about 2^28 clock ticks after a threaded call
 * before they sleep: some 0.1 s here. Twice that, and nothing timed after it shares a core
 * with them. The crew spins through the pause on every core rather than sleeping: a virtual
 * machine's processors that sleep 0.2 s came back slow (on a KVM guest the library's split
 * step took 4.5 ms after such a sleep against 3.2 ms without one). */
#define BLAS_WORKERS_ASLEEP_S 0.2

static void spin_until(void *deadline, int index, int threads)
{
    (void)index, (void)threads;
    while (bench_now() < *(const double *)deadline)
        continue;
}

/* OpenBLAS's workers, asleep after the library's split steps, woken for a threaded floor by
 * a product too large for OpenBLAS to keep on the calling thread (96^3 multiply-adds), on
 * buffers of its own: the floor's timed call then finds its data where the library's timed
 * step finds its own, after the other work of a repetition. (Woken by an untimed call of
 * the floor's own products, the floor was timed with its data in cache and the step
 * without: 2.85 ms against 3.05 ms at 64 rows of the reference model, where back to back
 * the step took 2.57 ms.) */
static void wake_blas_workers(void)
{
    enum { N = 96 };
    static float a[N * N], b[N * N], c[N * N];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
}

/* Back to one OpenBLAS thread after a threaded floor, once its workers sleep. */
static void blas_back_to_one_thread(crew *c)
{
    openblas_set_num_threads(1);
    double deadline = bench_now() + BLAS_WORKERS_ASLEEP_S;
    crew_run(c, spin_until, &deadline);
}

/* ---- the update's floor: its memory traffic without its arithmetic -------------------- */

/* The library's update makes two passes over the parameters: the gradient's norm (read the
 * gradient), then Adam (read parameters, gradient and both moments; write new parameters,
 * where the gradient was, and both moments). The floor makes the same passes with an add
 * in place of Adam's square root and division, each thread of the crew over its own range
 * as the library's threads: what a step's update costs at best on this machine, beside
 * the GEMMs' limit. */
/* The library updates up to 32,768 parameters (its grain) on the calling thread alone. */
#define UPDATE_GRAIN 32768

typedef struct update_floor {
    float *p, *g, *m, *v;
    size_t n;
    float sum[MAX_CREW]; /* the norm's partial sums, stored so that the pass is not optimised away */
} update_floor;

static void update_floor_range(void *context, int index, int threads)
{
    update_floor *u = context;
    const size_t begin = u->n * (size_t)index / (size_t)threads, end = u->n * (size_t)(index + 1) / (size_t)threads;
    float *restrict p = u->p, *restrict g = u->g, *restrict m = u->m, *restrict v = u->v;
    /* Sixteen lanes, so that the sum vectorises (a single float sum is a serial chain). */
    float lane[16] = {0};
    size_t i = begin;
    for (; i + 16 <= end; i += 16)
        for (size_t k = 0; k < 16; k++)
            lane[k] += g[i + k] * g[i + k];
    float sum = 0.0f;
    for (; i < end; i++)
        sum += g[i] * g[i];
    for (size_t k = 0; k < 16; k++)
        sum += lane[k];
    /* New parameters go where the gradient was, as the library's (it swaps the buffers). */
    for (i = begin; i < end; i++) {
        float gi = g[i], mi = 0.5f * m[i] + gi, vi = 0.5f * v[i] + gi * gi;
        m[i] = mi;
        v[i] = vi;
        g[i] = p[i] - 1e-3f * (mi + vi);
    }
    u->sum[index] = sum;
}

static int update_floor_init(update_floor *u, size_t n)
{
    memset(u, 0, sizeof *u);
    u->n = n;
    u->p = filled(n, 0.01f), u->g = filled(n, 1e-4f), u->m = filled(n, 0.0f), u->v = filled(n, 0.0f);
    return u->p && u->g && u->m && u->v ? 0 : -1;
}

static void update_floor_free(update_floor *u)
{
    free(u->p), free(u->g), free(u->m), free(u->v);
    memset(u, 0, sizeof *u);
}

/* Two passes on the crew, the second timed: the first leaves the arrays as warm as the
 * library's are after a backward pass, so the timed one is a lower bound. In seconds. */
static double update_floor_time(update_floor *u, crew *c)
{
    double elapsed = 0.0;
    for (int pass = 0; pass < 2; pass++) {
        double a = bench_now();
        if (u->n <= UPDATE_GRAIN) /* the caller alone, without waking the others */
            update_floor_range(u, 0, 1);
        else
            crew_run(c, update_floor_range, u);
        elapsed = bench_now() - a;
    }
    return elapsed;
}

/* ---- the products split by hand: the machine's limit as a step could reach it ---- */

/* The way past OpenBLAS's own threading: the library's threads each run
 * single-threaded BLAS on their share. Split by output columns (a layer's units), each
 * thread computes its columns of every forward product and input gradient and its rows of
 * every weight gradient, so nothing is summed afterwards (a split by batch rows adds a
 * pass over a gradient per thread), and the threads meet only where a step must: after
 * each layer's forward product and after each input gradient. Run with OpenBLAS on one
 * thread; the time is what such a step's products take, their synchronisation included. */
typedef struct split_floor {
    const floor_bufs *f;
    int threads;
    bench_meeting met;
} split_floor;

/* Waiters yield: one that only spins would hold up the thread it waits for, when both share a
 * core, until the scheduler's next slice. */
static void split_barrier(split_floor *s) { bench_meet(&s->met, s->threads, true); }

/* Part @p index of @p n columns in whole cache lines: [*begin, *end), possibly empty. */
static void split_columns(int n, int parts, int index, int *begin, int *end)
{
    int per = (n + parts - 1) / parts;
    per = (per + 15) / 16 * 16;
    *begin = index * per < n ? index * per : n;
    *end = (index + 1) * per < n ? (index + 1) * per : n;
}

static void split_floor_products(void *context, int index, int threads)
{
    split_floor *s = context;
    const floor_bufs *f = s->f;
    int rows = (int)f->batch, a, b;
    for (size_t l = 0; l < f->n_layers; l++) {
        int in = (int)f->width[l], out = (int)f->width[l + 1];
        split_columns(out, threads, index, &a, &b);
        if (b > a)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, b - a, in, 1.0f, f->act[l], in,
                        f->weight[l] + (size_t)a * in, in, 0.0f, f->act[l + 1] + a, out);
        split_barrier(s);
    }
    for (size_t l = f->n_layers; l-- > 0;) {
        int in = (int)f->width[l], out = (int)f->width[l + 1];
        /* This thread's rows of the weight gradient need only its own columns of delta. */
        split_columns(out, threads, index, &a, &b);
        if (b > a)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b - a, in, rows, 1.0f, f->delta[l + 1] + a,
                        out, f->act[l], in, 0.0f, f->grad[l] + (size_t)a * in, in);
        if (l) {
            split_columns(in, threads, index, &a, &b);
            if (b > a)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, b - a, out, 1.0f, f->delta[l + 1],
                            out, f->weight[l] + a, in, 0.0f, f->delta[l] + a, in);
            split_barrier(s);
        }
    }
}

/* One run of the split products on the crew, in seconds. */
static double split_floor_time(const floor_bufs *f, crew *c)
{
    split_floor s = {.f = f, .threads = c->threads};
    double a = bench_now();
    crew_run(c, split_floor_products, &s);
    return bench_now() - a;
}

/* ---- one configuration ---------------------------------------------------------- */

static timing summarize(double *v, size_t n)
{
    timing t;
    t.q25_s = bench_quantile(v, n, 0.25);
    t.q75_s = bench_quantile(v, n, 0.75);
    t.median_s = bench_median(v, n);
    return t;
}

static int fail(const char *what, const ae_model *m)
{
    fprintf(stderr, "bench_step: %s: %s\n", what, m ? ae_model_last_error(m) : ae_last_error());
    return -1;
}

/* The benchmark's model of @p spec's widths as @p kind. */
static int make_model(const model_spec *spec, variant kind, const options *o, ae_model **out)
{
    unsigned flags = kind == VARIANT_TIED ? AE_ARCH_TIED_WEIGHTS : kind == VARIANT_VARIATIONAL ? AE_ARCH_VARIATIONAL : 0;
    ae_model *m = NULL;
    if (ae_model_create_ex(&m, spec->widths, spec->n_widths, NULL, 0, flags) != AE_OK)
        return fail("create", NULL);
    int status = AE_OK;
    if (status == AE_OK && kind == VARIANT_DENOISING)
        status = ae_model_set_param(m, AE_PARAM_NOISE, AE_NOISE_GAUSSIAN);
    if (status == AE_OK && kind == VARIANT_DENOISING)
        status = ae_model_set_param(m, AE_PARAM_NOISE_LEVEL, 0.1);
    if (status == AE_OK && kind == VARIANT_DROPOUT)
        status = ae_model_set_param(m, AE_PARAM_DROPOUT_HIDDEN, 0.2);
    if (status == AE_OK && kind == VARIANT_SPARSE)
        status = ae_model_set_param(m, AE_PARAM_LATENT_ACTIVATION, AE_ACT_SIGMOID);
    if (status == AE_OK && kind == VARIANT_SPARSE)
        status = ae_model_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.1);
    if (status != AE_OK || ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_ADAM) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_LEARNING_RATE, 1e-3) != AE_OK ||
        (o->threads > 0 && ae_model_set_param(m, AE_PARAM_THREADS, o->threads) != AE_OK)) {
        fail("set_param", m);
        ae_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

static int run_config(const model_spec *spec, size_t batch, const options *o, result *r)
{
    memset(r, 0, sizeof *r);
    r->spec = spec;
    r->batch = batch;
    size_t d = spec->widths[0];

    float *x = malloc(batch * d * sizeof *x);
    if (!x)
        return fail("out of memory", NULL);
    for (size_t i = 0; i < batch * d; i++)
        x[i] = fill_value();

    /* The model's memory: everything the library allocates, and what the process grew. */
    int64_t rss_base = bench_rss_now();
    bench_rss_reset_peak();
    int64_t lib_base = bench_alloc_get().current_bytes;
    bench_alloc_reset_peak();

    ae_model *m = NULL, *plain = NULL;
    if (make_model(spec, spec->kind, o, &m) != 0)
        return free(x), -1;
    if (spec->kind != VARIANT_PLAIN && make_model(spec, VARIANT_PLAIN, o, &plain) != 0)
        return ae_model_free(m), free(x), -1;
    size_t latent = ae_model_latent_dim(m);
    float *z = malloc(batch * latent * sizeof *z);
    if (!z)
        return ae_model_free(m), free(x), fail("out of memory", NULL);

    int status = AE_OK;
    for (int w = 0; w < o->warmup && status == AE_OK; w++)
        status = ae_model_train_batch(m, x, batch, d, w ? NULL : &r->loss_first);
    if (status != AE_OK)
        return free(z), ae_model_free(plain), ae_model_free(m), free(x), fail("train_batch", m);
    for (int w = 0; plain && w < (o->warmup > 0 ? o->warmup : 1) && status == AE_OK; w++)
        status = ae_model_train_batch(plain, x, batch, d, NULL);
    if (status != AE_OK)
        return free(z), ae_model_free(plain), ae_model_free(m), free(x), fail("train_batch", plain);
    r->lib_model_bytes = bench_alloc_get().current_bytes - lib_base;
    r->lib_step_peak_bytes = bench_alloc_get().peak_bytes - lib_base;
    bench_alloc_reset_peak();
    for (int w = 0; w < o->warmup && status == AE_OK; w++)
        status = ae_model_encode(m, x, batch, d, z, latent);
    if (status != AE_OK)
        return free(z), ae_model_free(m), free(x), fail("encode", m);
    r->lib_encode_peak_bytes = bench_alloc_get().peak_bytes - bench_alloc_get().current_bytes;
    int64_t rss_peak = bench_rss_peak();
    r->rss_model_peak_bytes = rss_peak >= 0 && rss_base >= 0 ? rss_peak - rss_base : -1;

    int64_t rss_before_floor = bench_rss_now();
    floor_bufs f;
    if (floor_init(&f, m, batch) != 0)
        return free(z), ae_model_free(m), free(x), fail("out of memory for the floor", NULL);
    int64_t rss_after_floor = bench_rss_now();
    r->rss_floor_bytes = rss_after_floor >= 0 && rss_before_floor >= 0 ? rss_after_floor - rss_before_floor : -1;

    /* Flops of a step and of an encode. */
    for (size_t l = 0; l < f.n_layers; l++) {
        double mult = 2.0 * (double)batch * (double)f.width[l] * (double)f.width[l + 1];
        r->step_flops += mult * (l ? 3 : 2);
        if (l < f.n_encoder_layers)
            r->encode_flops += mult;
    }

    /* Warm the floor, then time one repetition of everything to choose the count. */
    double t0 = bench_now();
    for (int w = 0; w < (o->warmup > 0 ? o->warmup : 1); w++) {
        floor_step_gemm(&f);
        if (batch == 1)
            floor_step_blas2(&f);
        floor_encode(&f);
    }
    double t_floor_warm = (bench_now() - t0) / (o->warmup > 0 ? o->warmup : 1);
    t0 = bench_now();
    status = ae_model_train_batch(m, x, batch, d, NULL);
    if (status == AE_OK)
        status = ae_model_encode(m, x, batch, d, z, latent);
    if (status != AE_OK) {
        floor_free(&f);
        return free(z), ae_model_free(m), free(x), fail("warm-up", m);
    }
    double t_rep = t_floor_warm + (bench_now() - t0) + (o->threaded_floor ? BLAS_WORKERS_ASLEEP_S : 0.0);
    int reps = (int)(o->budget / (t_rep > 1e-9 ? t_rep : 1e-9));
    reps = reps > o->reps ? o->reps : reps;
    reps = reps < o->min_reps ? o->min_reps : reps;
    r->reps = reps;

    size_t n_params = ae_model_param_count(m);
    float *gradient = malloc(n_params * sizeof *gradient);
    double *t = malloc(12 * (size_t)reps * sizeof *t);
    /* The update's floor on the library's own threads (AE_PARAM_THREADS). */
    update_floor upd;
    double threads_param = 1.0;
    ae_model_get_param(m, AE_PARAM_THREADS, &threads_param);
    if (threads_param < 1.0) /* 0: one per online processor, as the library counts them */
        threads_param = (double)sysconf(_SC_NPROCESSORS_ONLN);
    /* The crew: the library's threads, for the update's floor and the products split by
     * hand. The split is timed only when OpenBLAS runs one thread: with more, its idle
     * workers spin after every threaded call on the cores the split needs (it was timed at
     * up to 1.7x its time in a process of its own). */
    const bool time_split = o->blas_threads == 1 && threads_param > 1.0;
    crew team;
    if (crew_start(&team, (int)threads_param) != 0) {
        floor_free(&f);
        return free(t), free(gradient), free(z), ae_model_free(m), free(x),
               fail("could not start the floors' threads", NULL);
    }
    if (update_floor_init(&upd, n_params) != 0 || !gradient || !t) {
        update_floor_free(&upd);
        crew_stop(&team);
        floor_free(&f);
        return free(t), free(gradient), free(z), ae_model_free(m), free(x), fail("out of memory", NULL);
    }
    double *t_step = t, *t_floor = t + reps, *t_blas2 = t + 2 * reps, *t_enc = t + 3 * reps,
           *t_enc_floor = t + 4 * reps, *t_grad = t + 5 * reps, *t_one_core = t + 6 * reps,
           *t_plain = t + 7 * reps, *t_update_floor = t + 8 * reps, *t_split = t + 9 * reps,
           *t_threaded_step = t + 10 * reps, *t_enc_duties = t + 11 * reps;
    _Atomic unsigned duty_readers = 0; /* the duties floor's guard */
    _Atomic uintptr_t duty_writer = 0;
    int64_t step_allocs = 0, encode_allocs = 0;
    /* One row is the serving case, a stream of calls: each turn times a burst of them, so that
     * the first call's misses (the floors before it flush the caches) weigh as they do in a
     * server, not as one call in two. */
    const int encode_burst = batch == 1 ? ENCODE_BURST : 1;
    /* Floor and library alternate which goes first, so neither always finds the caches
     * warmed (or flushed) by the other. */
    for (int rep = 0; rep < reps && status == AE_OK; rep++) {
        for (int turn = 0; turn < 2 && status == AE_OK; turn++) {
            if ((turn == 0) == (rep % 2 == 0)) {
                if (o->threaded_floor) {
                    openblas_set_num_threads((int)threads_param);
                    wake_blas_workers();
                }
                double a = bench_now();
                floor_step_gemm(&f);
                t_floor[rep] = bench_now() - a;
                if (o->threaded_floor) {
                    /* The library's own step while OpenBLAS has threads: not split. */
                    a = bench_now();
                    status = ae_model_train_batch(m, x, batch, d, NULL);
                    t_threaded_step[rep] = bench_now() - a;
                    blas_back_to_one_thread(&team);
                    if (status != AE_OK)
                        break;
                }
                /* The same products on one core: the machine's limit is that rate times the
                 * cores (OpenBLAS's thread count is process-wide; this program is alone). */
                openblas_set_num_threads(1);
                a = bench_now();
                floor_step_gemm(&f);
                t_one_core[rep] = bench_now() - a;
                t_split[rep] = time_split ? split_floor_time(&f, &team) : 0.0;
                openblas_set_num_threads(o->blas_threads);
                if (batch == 1) {
                    a = bench_now();
                    floor_step_blas2(&f);
                    t_blas2[rep] = bench_now() - a;
                }
                t_update_floor[rep] = update_floor_time(&upd, &team);
            } else {
                int64_t n0 = bench_alloc_get().n_allocs;
                double a = bench_now();
                status = ae_model_train_batch(m, x, batch, d, rep == reps - 1 ? &r->loss_last : NULL);
                t_step[rep] = bench_now() - a;
                step_allocs += bench_alloc_get().n_allocs - n0;
                /* The same batch's loss and gradient without the update: what the
                 * optimizer costs is the difference. */
                a = bench_now();
                if (status == AE_OK)
                    status = ae_model_gradient(m, x, batch, d, gradient, n_params, NULL);
                t_grad[rep] = bench_now() - a;
                /* A variant's plain twin right after it, on the same batch. */
                if (plain && status == AE_OK) {
                    a = bench_now();
                    status = ae_model_train_batch(plain, x, batch, d, NULL);
                    t_plain[rep] = bench_now() - a;
                    if (status != AE_OK)
                        fail("train_batch (plain twin)", plain);
                }
            }
        }
        for (int turn = 0; turn < 2 && status == AE_OK; turn++) {
            if ((turn == 0) == (rep % 2 == 0)) {
                double a = bench_now();
                for (int call = 0; call < encode_burst; call++)
                    floor_encode(&f);
                t_enc_floor[rep] = (bench_now() - a) / encode_burst;
                if (batch == 1) {
                    a = bench_now();
                    for (int call = 0; call < encode_burst; call++)
                        (void)floor_encode_duties(&f, &duty_readers, &duty_writer);
                    t_enc_duties[rep] = (bench_now() - a) / encode_burst;
                }
            } else {
                int64_t n0 = bench_alloc_get().n_allocs;
                double a = bench_now();
                for (int call = 0; call < encode_burst && status == AE_OK; call++)
                    status = ae_model_encode(m, x, batch, d, z, latent);
                t_enc[rep] = (bench_now() - a) / encode_burst;
                encode_allocs += bench_alloc_get().n_allocs - n0;
            }
        }
    }
    if (status != AE_OK) {
        fail("timed run", m);
    } else {
        r->step = summarize(t_step, (size_t)reps);
        r->gradient = summarize(t_grad, (size_t)reps);
        if (plain)
            r->plain_step = summarize(t_plain, (size_t)reps);
        r->floor = summarize(t_floor, (size_t)reps);
        r->floor_kind = "sgemm";
        r->one_core = summarize(t_one_core, (size_t)reps);
        r->update_floor = summarize(t_update_floor, (size_t)reps);
        const double cores = o->threaded_floor ? threads_param : (double)o->blas_threads;
        r->limit_s = r->one_core.median_s / (cores > 0.0 ? cores : 1.0);
        r->split = summarize(t_split, (size_t)reps);
        if (o->threaded_floor)
            r->threaded_step = summarize(t_threaded_step, (size_t)reps);
        if (batch == 1) {
            timing blas2 = summarize(t_blas2, (size_t)reps);
            if (blas2.median_s < r->floor.median_s) { /* the faster way is the floor */
                r->floor = blas2;
                r->floor_kind = "sgemv+sger";
            }
        }
        r->encode = summarize(t_enc, (size_t)reps);
        r->encode_floor = summarize(t_enc_floor, (size_t)reps);
        r->encode_floor_kind = batch == 1 ? "sgemv" : "sgemm";
        if (batch == 1)
            r->encode_duties = summarize(t_enc_duties, (size_t)reps);
        r->allocs_per_step = (double)step_allocs / reps;
        r->allocs_per_encode = (double)encode_allocs / ((double)reps * encode_burst);
    }
    int64_t rss_now_peak = bench_rss_peak();
    g_max_rss = rss_now_peak > g_max_rss ? rss_now_peak : g_max_rss;
    free(t);
    free(gradient);
    update_floor_free(&upd);
    crew_stop(&team);
    floor_free(&f);
    free(z);
    ae_model_free(plain);
    ae_model_free(m);
    free(x);
    return status == AE_OK ? 0 : -1;
}

/* Training steps alone, for a profiler. */
static int profile_steps(const model_spec *spec, size_t batch, int steps)
{
    size_t d = spec->widths[0];
    float *x = malloc(batch * d * sizeof *x);
    ae_model *m = NULL;
    if (!x || ae_model_create(&m, spec->widths, spec->n_widths, NULL, 0) != AE_OK)
        return free(x), fail("create", NULL), 1;
    for (size_t i = 0; i < batch * d; i++)
        x[i] = fill_value();
    ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    double t0 = bench_now();
    int status = AE_OK;
    for (int s = 0; s < steps && status == AE_OK; s++)
        status = ae_model_train_batch(m, x, batch, d, NULL);
    double t = bench_now() - t0;
    if (status != AE_OK)
        fail("train_batch", m);
    else
        printf("%s batch %zu: %d steps, %.3f ms per step (mean), %.0f samples/s\n", spec->name, batch, steps,
               1e3 * t / steps, (double)batch * steps / t);
    ae_model_free(m);
    free(x);
    return status == AE_OK ? 0 : 1;
}

/* ---- output --------------------------------------------------------------------- */

static double mib(int64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* The faster of the library's update (step less gradient) and the update's floor. */
static double fastest_update_s(const result *r)
{
    const double update = r->step.median_s > r->gradient.median_s ? r->step.median_s - r->gradient.median_s : 0.0;
    return update < r->update_floor.median_s ? update : r->update_floor.median_s;
}

/* The fastest step this machine allows with such an update: the GEMMs at the machine's
 * limit plus the fastest update. */
static double best_step_s(const result *r)
{
    return r->limit_s + fastest_update_s(r);
}

/* The same with the products split by hand, their synchronisation included: what a
 * split step can reach. */
static double best_split_step_s(const result *r)
{
    return r->split.median_s > 0.0 ? r->split.median_s + fastest_update_s(r) : 0.0;
}

static void print_tables(const result *res, size_t n)
{
    printf("\nTraining step (BCE, Adam), medians; ratio = floor time / library time; limit = the step's\n"
           "GEMMs with OpenBLAS on one thread, that time / %d threads (every core at the single-core rate)\n",
           res && n ? g_blas_threads : 1);
    printf("%-22s %5s %4s | %10s %8s | %10s %8s %-10s | %6s | %10s %8s | %6s\n", "model", "batch", "reps",
           "samples/s", "GFLOP/s", "floor s/s", "GFLOP/s", "floor by", "ratio", "limit s/s", "GFLOP/s", "ratio");
    for (size_t i = 0; i < n; i++) {
        const result *r = &res[i];
        printf("%-22s %5zu %4d | %10.0f %8.1f | %10.0f %8.1f %-10s | %5.1f%% | %10.0f %8.1f | %5.1f%%\n",
               r->spec->name, r->batch, r->reps, (double)r->batch / r->step.median_s,
               r->step_flops / r->step.median_s * 1e-9, (double)r->batch / r->floor.median_s,
               r->step_flops / r->floor.median_s * 1e-9, r->floor_kind, 100.0 * r->floor.median_s / r->step.median_s,
               (double)r->batch / r->limit_s, r->step_flops / r->limit_s * 1e-9, 100.0 * r->limit_s / r->step.median_s);
    }
    printf("\nWhere a step's time goes, medians in ms: the gradient (ae_model_gradient: forward, backward\n"
           "and copying the gradient out) against the same floor, and the rest of the step (gradient norm\n"
           "and optimizer update) against the update's floor (its two passes' memory traffic on the\n"
           "library's threads, an add for Adam's arithmetic: memory-bound, as the update). best = the\n"
           "GEMMs at the machine's limit plus the faster of the update and its floor; split = the step's\n"
           "products split by columns between the library's threads by hand, single-threaded BLAS,\n"
           "meeting after each layer's product (timed only when OpenBLAS runs one thread); split best =\n"
           "split plus that update. A best/floor above 100%% means no step with such an update reaches\n"
           "the OpenBLAS floor on this machine. Compare split best with the floor of a run with\n"
           "OpenBLAS's threads: above it, no step that splits its products as the issue proposes does.\n");
    printf("%-22s %5s | %9s %9s %9s | %10s | %9s %9s | %9s %9s | %9s %9s %10s\n", "model", "batch", "step",
           "gradient", "floor", "grad/floor", "update", "upd floor", "best", "best/floor", "split", "split/flr",
           "sbest/flr");
    for (size_t i = 0; i < n; i++) {
        const result *r = &res[i];
        const double best = best_step_s(r), split_best = best_split_step_s(r);
        printf("%-22s %5zu | %9.3f %9.3f %9.3f | %9.1f%% | %9.3f %9.3f | %9.3f %8.1f%% | ", r->spec->name,
               r->batch, 1e3 * r->step.median_s, 1e3 * r->gradient.median_s, 1e3 * r->floor.median_s,
               100.0 * r->floor.median_s / r->gradient.median_s, 1e3 * (r->step.median_s - r->gradient.median_s),
               1e3 * r->update_floor.median_s, 1e3 * best, 100.0 * best / r->floor.median_s);
        if (split_best > 0.0)
            printf("%9.3f %8.1f%% %9.1f%%\n", 1e3 * r->split.median_s, 100.0 * r->split.median_s / r->floor.median_s,
                   100.0 * split_best / r->floor.median_s);
        else
            printf("%9s %9s %10s\n", "-", "-", "-");
    }
    if (n && res[0].threaded_step.median_s > 0.0) {
        printf("\nThe library's step both ways in this process, medians in ms: split by rows (OpenBLAS on\n"
               "one thread) and whole with OpenBLAS's %d threads; ratio = threaded time / split time\n",
               g_blas_threads);
        printf("%-22s %5s | %9s %9s | %6s\n", "model", "batch", "split", "threaded", "ratio");
        for (size_t i = 0; i < n; i++) {
            const result *r = &res[i];
            printf("%-22s %5zu | %9.3f %9.3f | %5.2fx\n", r->spec->name, r->batch, 1e3 * r->step.median_s,
                   1e3 * r->threaded_step.median_s, r->threaded_step.median_s / r->step.median_s);
        }
    }
    int any_variant = 0;
    for (size_t i = 0; i < n; i++)
        any_variant |= res[i].spec->kind != VARIANT_PLAIN;
    if (any_variant) {
        printf("\nVariants against the plain model of the same widths, timed in the same loop (medians);\n"
               "ratio = plain step time / variant step time\n");
        printf("%-22s %5s | %9s %9s | %6s | %10s\n", "model", "batch", "step ms", "plain ms", "ratio", "samples/s");
        for (size_t i = 0; i < n; i++) {
            const result *r = &res[i];
            if (r->spec->kind == VARIANT_PLAIN)
                continue;
            printf("%-22s %5zu | %9.3f %9.3f | %5.1f%% | %10.0f\n", r->spec->name, r->batch, 1e3 * r->step.median_s,
                   1e3 * r->plain_step.median_s, 100.0 * r->plain_step.median_s / r->step.median_s,
                   (double)r->batch / r->step.median_s);
        }
    }
    printf("\nEncode, medians; for one row also the floor with a call's duties (sgemv with the bias,\n"
           "the activation, the scans of input and code, a reader's guard of two atomic adds), the\n"
           "least such a call can cost: dut/floor is the most of the sgemv floor any call keeping\n"
           "them reaches\n");
    printf("%-22s %5s | %10s %8s | %10s %8s %-6s | %6s | %10s %9s %9s\n", "model", "batch", "samples/s",
           "GFLOP/s", "floor s/s", "GFLOP/s", "by", "ratio", "duties s/s", "to duties", "dut/floor");
    for (size_t i = 0; i < n; i++) {
        const result *r = &res[i];
        printf("%-22s %5zu | %10.0f %8.1f | %10.0f %8.1f %-6s | %5.1f%%", r->spec->name, r->batch,
               (double)r->batch / r->encode.median_s, r->encode_flops / r->encode.median_s * 1e-9,
               (double)r->batch / r->encode_floor.median_s, r->encode_flops / r->encode_floor.median_s * 1e-9,
               r->encode_floor_kind, 100.0 * r->encode_floor.median_s / r->encode.median_s);
        if (r->batch == 1)
            printf(" | %10.0f %8.1f%% %8.1f%%\n", 1.0 / r->encode_duties.median_s,
                   100.0 * r->encode_duties.median_s / r->encode.median_s,
                   100.0 * r->encode_floor.median_s / r->encode_duties.median_s);
        else
            printf(" | %10s %9s %9s\n", "-", "-", "-");
    }
    printf("\nMemory (library heap through the allocation hook; RSS = peak resident growth while\n"
           "creating and warming the model, including the first touch of its pages)\n");
    printf("%-22s %5s | %10s %10s %10s | %7s %7s | %9s %9s\n", "model", "batch", "model MiB", "step peak",
           "enc peak", "alloc/", "alloc/", "RSS peak", "floor buf");
    printf("%-22s %5s | %10s %10s %10s | %7s %7s | %9s %9s\n", "", "", "(live)", "MiB", "MiB", "step",
           "encode", "MiB", "MiB");
    for (size_t i = 0; i < n; i++) {
        const result *r = &res[i];
        printf("%-22s %5zu | %10.2f %10.2f %10.2f | %7.1f %7.1f | %9.1f %9.1f\n", r->spec->name, r->batch,
               mib(r->lib_model_bytes), mib(r->lib_step_peak_bytes), mib(r->lib_encode_peak_bytes),
               r->allocs_per_step, r->allocs_per_encode, mib(r->rss_model_peak_bytes), mib(r->rss_floor_bytes));
    }
}

static void json_timing(FILE *f, const char *key, timing t, double batch, double flops)
{
    fprintf(f, "\"%s\": {\"median_s\": %.9g, \"q25_s\": %.9g, \"q75_s\": %.9g, \"samples_per_s\": %.6g, "
               "\"gflops\": %.6g}",
            key, t.median_s, t.q25_s, t.q75_s, batch / t.median_s, flops / t.median_s * 1e-9);
}

static int write_json(const char *path, const result *res, size_t n, const options *o)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "{\n  \"benchmark\": \"bench_step\",\n  \"library_version\": \"%s\",\n", ae_version_string());
    fprintf(f, "  \"openblas\": {\"config\": \"%s\", \"core\": \"%s\", \"threads\": %d},\n", openblas_get_config(),
            openblas_get_corename(), openblas_get_num_threads());
    const char *ct = getenv("OPENBLAS_CORETYPE"), *l2 = getenv("OPENBLAS_L2_SIZE");
    fprintf(f, "  \"env\": {\"OPENBLAS_CORETYPE\": \"%s\", \"OPENBLAS_L2_SIZE\": \"%s\"},\n", ct ? ct : "",
            l2 ? l2 : "");
    fprintf(f, "  \"settings\": {\"warmup\": %d, \"max_reps\": %d, \"min_reps\": %d, \"budget_s\": %g, "
               "\"threaded_floor\": %s},\n",
            o->warmup, o->reps, o->min_reps, o->budget, o->threaded_floor ? "true" : "false");
    fprintf(f, "  \"results\": [\n");
    for (size_t i = 0; i < n; i++) {
        const result *r = &res[i];
        fprintf(f, "    {\"model\": \"%s\", \"encoder_widths\": [", r->spec->name);
        for (size_t k = 0; k < r->spec->n_widths; k++)
            fprintf(f, "%s%zu", k ? ", " : "", r->spec->widths[k]);
        fprintf(f, "], \"batch\": %zu, \"reps\": %d, \"step_flops\": %.6g, \"encode_flops\": %.6g,\n      ", r->batch,
                r->reps, r->step_flops, r->encode_flops);
        json_timing(f, "step", r->step, (double)r->batch, r->step_flops);
        fprintf(f, ",\n      ");
        json_timing(f, "step_floor", r->floor, (double)r->batch, r->step_flops);
        fprintf(f, ", \"step_floor_kind\": \"%s\", \"step_ratio\": %.4f,\n      ", r->floor_kind,
                r->floor.median_s / r->step.median_s);
        json_timing(f, "step_one_core", r->one_core, (double)r->batch, r->step_flops);
        fprintf(f, ", \"limit_threads\": %d, \"step_limit_s\": %.9g, \"step_limit_ratio\": %.4f,\n      ",
                g_blas_threads, r->limit_s, r->limit_s / r->step.median_s);
        json_timing(f, "gradient", r->gradient, (double)r->batch, r->step_flops);
        fprintf(f, ",\n      ");
        json_timing(f, "update_floor", r->update_floor, (double)r->batch, 0.0);
        fprintf(f, ", \"step_best_s\": %.9g,\n      ", best_step_s(r));
        if (r->split.median_s > 0.0) {
            json_timing(f, "step_split", r->split, (double)r->batch, r->step_flops);
            if (r->threaded_step.median_s > 0.0) {
                fprintf(f, ",\n      ");
                json_timing(f, "step_threaded", r->threaded_step, (double)r->batch, r->step_flops);
            }
            fprintf(f, ", \"step_split_best_s\": %.9g,\n      ", best_split_step_s(r));
        }
        if (r->spec->kind != VARIANT_PLAIN) {
            fprintf(f, "\"variant\": \"%s\", ", variant_names[r->spec->kind]);
            json_timing(f, "plain_step", r->plain_step, (double)r->batch, r->step_flops);
            fprintf(f, ", \"step_vs_plain\": %.4f,\n      ", r->plain_step.median_s / r->step.median_s);
        }
        json_timing(f, "encode", r->encode, (double)r->batch, r->encode_flops);
        fprintf(f, ",\n      ");
        json_timing(f, "encode_floor", r->encode_floor, (double)r->batch, r->encode_flops);
        fprintf(f, ", \"encode_floor_kind\": \"%s\", \"encode_ratio\": %.4f,\n      ", r->encode_floor_kind,
                r->encode_floor.median_s / r->encode.median_s);
        if (r->batch == 1) {
            json_timing(f, "encode_duties_floor", r->encode_duties, 1.0, r->encode_flops);
            fprintf(f, ", \"encode_to_duties\": %.4f, \"duties_to_floor\": %.4f,\n      ",
                    r->encode_duties.median_s / r->encode.median_s,
                    r->encode_floor.median_s / r->encode_duties.median_s);
        }
        fprintf(f, "\"memory\": {\"lib_model_bytes\": %lld, \"lib_step_peak_bytes\": %lld, "
                   "\"lib_encode_scratch_peak_bytes\": %lld, \"allocs_per_step\": %.3g, \"allocs_per_encode\": "
                   "%.3g, \"rss_model_peak_bytes\": %lld, \"rss_floor_buffers_bytes\": %lld},\n      ",
                (long long)r->lib_model_bytes, (long long)r->lib_step_peak_bytes, (long long)r->lib_encode_peak_bytes,
                r->allocs_per_step, r->allocs_per_encode, (long long)r->rss_model_peak_bytes,
                (long long)r->rss_floor_bytes);
        fprintf(f, "\"loss_first\": %.9g, \"loss_last\": %.9g}%s\n", r->loss_first, r->loss_last,
                i + 1 < n ? "," : "");
    }
    fprintf(f, "  ],\n  \"peak_rss_bytes\": %lld\n}\n", (long long)g_max_rss);
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- regression guard ------------------------------------------------------------ */

/* The number after `"key": ` inside [record, end), or NAN. */
static double json_number(const char *record, const char *end, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *at = strstr(record, pattern);
    if (!at || at >= end)
        return NAN;
    return strtod(at + strlen(pattern), NULL);
}

/* The whole of a text file, NUL-terminated; NULL (with a message) if it cannot be read. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = 2 * cap + 8192;
            char *grown = realloc(text, cap);
            if (!grown) {
                free(text), fclose(f);
                fprintf(stderr, "%s: out of memory\n", path);
                return NULL;
            }
            text = grown;
        }
        size_t got = fread(text + len, 1, 4096, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

/* The baseline's text, read before the run so that a file that is missing or is not a
 * bench_step --json output fails at once rather than after it. */
static char *read_baseline(const char *path)
{
    char *text = read_text(path);
    if (text && (!strstr(text, "\"benchmark\": \"bench_step\"") || !strstr(text, "\"step_ratio\""))) {
        fprintf(stderr, "bench_step: %s is not the --json output of bench_step\n", path);
        free(text);
        return NULL;
    }
    return text;
}

/* The OpenBLAS kernels (core) a bench_step --json output was measured with, into out; empty
 * if the file does not say. */
static void baseline_core(const char *text, char *out, size_t size)
{
    const char *key = "\"core\": \"", *at = strstr(text, key);
    const char *name = at ? at + strlen(key) : NULL, *quote = name ? strchr(name, '"') : NULL;
    const size_t len = quote ? (size_t)(quote - name) : 0;
    snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), name ? name : "");
}

/* Compare the ratios of this run with a baseline written by --json: for every model and batch
 * both have, step and encode ratios against their floors (and the step's against the
 * machine's limit, when the baseline has it) may not fall below baseline * (1 - tolerance),
 * or below baseline * (1 - the ratio's own noise in this run) where that is larger: the
 * spread between the quartiles of the library's time or of the floor's, whichever is wider,
 * relative to its median (a one-row step of the reference model, memory-bound, spread 40%
 * in a quiet run and its ratio 15-23% from run to run, where most configurations spread a
 * few percent). A baseline measured with other OpenBLAS kernels is shown and not judged: the kernels move
 * the floor, and with it every ratio (SkylakeX's products are 2-3x Prescott's, so the same
 * library sits lower against them). Returns the number of drops, or -1 if the file shares
 * nothing with this run. */
/* A timing's spread between its quartiles, relative to its median. */
static double relative_spread(timing t)
{
    return t.median_s > 0.0 ? (t.q75_s - t.q25_s) / t.median_s : 0.0;
}

static int check_baseline(const char *path, const char *text, const result *res, size_t n, double tolerance)
{
    const size_t len = strlen(text);
    char core[64];
    baseline_core(text, core, sizeof core);
    const bool same_kernels = strcmp(core, openblas_get_corename()) == 0;
    if (same_kernels)
        printf("\nAgainst the baseline %s (a drop beyond %.0f%% of a baseline ratio fails, or beyond the "
               "ratio's spread in this run where that is larger)\n", path, 100.0 * tolerance);
    else
        printf("\nAgainst the baseline %s, shown only: it was measured with OpenBLAS's %s kernels and this "
               "run with its %s kernels,\nwhich move the floor and every ratio (make a baseline with "
               "these kernels: --json)\n", path, core[0] ? core : "(unnamed)", openblas_get_corename());
    printf("%-22s %5s %-12s | %9s %9s | %s\n", "model", "batch", "ratio", "baseline", "now", "");
    static const char *const keys[] = {"step_ratio", "encode_ratio", "step_limit_ratio"};
    int drops = 0, compared = 0, judged_count = 0;
    const char *marker = "\"model\": \"";
    for (const char *rec = strstr(text, marker); rec; ) {
        const char *next = strstr(rec + 1, marker);
        const char *end = next ? next : text + len;
        const char *name = rec + strlen(marker), *quote = strchr(name, '"');
        double batch = json_number(rec, end, "batch");
        for (size_t i = 0; quote && i < n; i++) {
            const result *r = &res[i];
            if (strlen(r->spec->name) != (size_t)(quote - name) || strncmp(r->spec->name, name, (size_t)(quote - name)) ||
                (double)r->batch != batch)
                continue;
            const double now[] = {r->floor.median_s / r->step.median_s, r->encode_floor.median_s / r->encode.median_s,
                                  r->limit_s / r->step.median_s};
            for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
                double base = json_number(rec, end, keys[k]);
                if (isnan(base))
                    continue;
                /* The limit's ratio is shown, not judged: a single-threaded floor gains most
                 * when other jobs share the machine, so it swings beyond any fair tolerance. */
                const double noise = k == 0 ? fmax(relative_spread(r->step), relative_spread(r->floor))
                                   : k == 1 ? fmax(relative_spread(r->encode), relative_spread(r->encode_floor)) : 0.0;
                const double allowed = fmax(noise, tolerance);
                const int judged = k < 2 && same_kernels;
                const int dropped = judged && now[k] < base * (1.0 - (allowed < 1.0 ? allowed : 1.0));
                drops += dropped;
                judged_count += judged;
                compared++;
                printf("%-22s %5zu %-12s | %8.1f%% %8.1f%% | %s", r->spec->name, r->batch,
                       k == 0 ? "step" : k == 1 ? "encode" : "step/limit", 100.0 * base, 100.0 * now[k],
                       dropped ? "DROPPED" : judged ? "ok" : "(shown only)");
                if (judged && allowed > tolerance)
                    printf(" (allowed %.0f%%: the run's spread)", 100.0 * allowed);
                printf("\n");
            }
        }
        rec = next;
    }
    if (!compared) {
        fprintf(stderr, "bench_step: %s shares no model and batch with this run\n", path);
        return -1;
    }
    if (same_kernels)
        printf("%d of %d ratios dropped\n", drops, judged_count);
    return drops;
}

/* ---- arguments ------------------------------------------------------------------ */

static int parse_widths(const char *text, model_spec *spec)
{
    spec->n_widths = 0;
    const char *p = text;
    while (*p) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || v == 0 || spec->n_widths == MAX_WIDTHS)
            return -1;
        spec->widths[spec->n_widths++] = (size_t)v;
        p = end;
        if (*p == '-')
            p++;
        else if (*p)
            return -1;
    }
    return spec->n_widths >= 2 ? 0 : -1;
}

static int add_variant(options *o, const char *name, const char *widths, variant kind)
{
    if (o->n_models == MAX_MODELS)
        return -1;
    model_spec *spec = &o->models[o->n_models];
    if (parse_widths(widths, spec) != 0)
        return -1;
    snprintf(spec->name, sizeof spec->name, "%s", name);
    spec->kind = kind;
    o->n_models++;
    return 0;
}

static int add_model(options *o, const char *name, const char *widths)
{
    return add_variant(o, name, widths, VARIANT_PLAIN);
}

static int parse_models(options *o, const char *list)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int rc;
        char *colon = strchr(tok, ':');
        size_t kind = 1;
        while (kind < N_VARIANTS && (colon ? strncmp(tok, variant_names[kind], (size_t)(colon - tok)) != 0 ||
                                                 strlen(variant_names[kind]) != (size_t)(colon - tok)
                                           : strcmp(tok, variant_names[kind]) != 0))
            kind++;
        if (strcmp(tok, "variants") == 0) {
            rc = 0;
            for (size_t k = 1; k < N_VARIANTS && rc == 0; k++)
                rc = add_variant(o, variant_names[k], "784-512-256-64", (variant)k);
        } else if (kind < N_VARIANTS)
            rc = add_variant(o, tok, colon ? colon + 1 : "784-512-256-64", (variant)kind);
        else if (strcmp(tok, "reference") == 0)
            rc = add_model(o, "reference", "784-512-256-64");
        else if (strcmp(tok, "wide") == 0)
            rc = add_model(o, "wide", "4096-2048-1024-256");
        else if (strcmp(tok, "narrow") == 0)
            rc = add_model(o, "narrow", "64-32-8");
        else
            rc = add_model(o, tok, tok);
        if (rc != 0)
            return -1;
    }
    return o->n_models ? 0 : -1;
}

static int parse_batches(options *o, const char *list)
{
    o->n_batches = 0;
    const char *p = list;
    while (*p) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || v == 0 || v > 1000000 || o->n_batches == MAX_BATCHES)
            return -1;
        o->batches[o->n_batches++] = (size_t)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return o->n_batches ? 0 : -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_step [--models LIST] [--batches LIST] [--reps N] [--min-reps N] [--warmup N]\n"
                    "                  [--budget SECONDS] [--threads N] [--scaling] [--json FILE] [--profile N]\n"
                    "                  [--check BASELINE_JSON [--tolerance FRACTION]] [--threaded-floor]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static options o;
    o.reps = 2000, o.min_reps = 5, o.warmup = 3, o.budget = 3.0, o.tolerance = 0.15;
    int scaling = 0, batches_given = 0;
    const char *models = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--scaling") == 0) {
            scaling = 1;
            continue;
        }
        if (strcmp(arg, "--threaded-floor") == 0) {
            o.threaded_floor = true;
            continue;
        }
        if (!val)
            return usage();
        i++;
        if (strcmp(arg, "--models") == 0)
            models = val;
        else if (strcmp(arg, "--batches") == 0) {
            if (parse_batches(&o, val) != 0)
                return usage();
            batches_given = 1;
        } else if (strcmp(arg, "--reps") == 0)
            o.reps = atoi(val);
        else if (strcmp(arg, "--min-reps") == 0)
            o.min_reps = atoi(val);
        else if (strcmp(arg, "--warmup") == 0)
            o.warmup = atoi(val);
        else if (strcmp(arg, "--budget") == 0)
            o.budget = atof(val);
        else if (strcmp(arg, "--threads") == 0)
            o.threads = atoi(val);
        else if (strcmp(arg, "--json") == 0)
            o.json_path = val;
        else if (strcmp(arg, "--profile") == 0)
            o.profile_steps = atoi(val);
        else if (strcmp(arg, "--check") == 0)
            o.check_path = val;
        else if (strcmp(arg, "--tolerance") == 0)
            o.tolerance = atof(val);
        else
            return usage();
    }
    if (o.reps < 1 || o.min_reps < 1 || o.warmup < 0 || o.budget < 0 || o.threads < 0 || !(o.tolerance >= 0) ||
        o.tolerance >= 1)
        return usage();
    if (o.min_reps > o.reps)
        o.min_reps = o.reps;
    if (scaling) {
        static const char *const sweep[] = {
            "784-128-128-64", "784-256-256-64", "784-512-512-64", "784-1024-1024-64", "784-2048-2048-64",
            "784-512-64", "784-512-512-512-64", "784-512-512-512-512-64", "784-512-512-512-512-512-512-64"};
        for (size_t i = 0; i < sizeof sweep / sizeof *sweep; i++)
            add_model(&o, sweep[i], sweep[i]);
        if (!batches_given)
            o.batches[0] = 256, o.n_batches = 1;
    } else if (parse_models(&o, models ? models : "reference,wide,narrow") != 0) {
        return usage();
    }
    if (!batches_given && !scaling) {
        static const size_t def[] = {1, 64, 256, 1024};
        memcpy(o.batches, def, sizeof def);
        o.n_batches = 4;
    }
    if (o.threads > 0)
        openblas_set_num_threads(o.threads);
    o.blas_threads = g_blas_threads = openblas_get_num_threads();
    if (o.threaded_floor && o.blas_threads != 1) {
        fprintf(stderr, "bench_step: --threaded-floor is for a row-split run: set OPENBLAS_NUM_THREADS=1\n");
        return 2;
    }
    if (o.threaded_floor) /* the floor then runs on the library's threads: one per processor */
        g_blas_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
#ifdef __GLIBC__
    /* A fixed threshold: large blocks always come from mmap and go back to the system when
     * freed, so each configuration's resident memory starts from the same place (glibc
     * otherwise raises the threshold and keeps freed blocks in its heap). */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    if (bench_alloc_install() != 0)
        return fail("ae_set_allocator", NULL), 1;

    const char *ct = getenv("OPENBLAS_CORETYPE"), *l2 = getenv("OPENBLAS_L2_SIZE");
    printf("libautoenc %s; OpenBLAS core %s, %d threads (%s); OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s\n",
           ae_version_string(), openblas_get_corename(), openblas_get_num_threads(), openblas_get_config(),
           ct ? ct : "(unset)", l2 ? l2 : "(unset)");
    if (o.threaded_floor)
        printf("floor on OpenBLAS's %d threads, timed between the library's steps on one (a pause "
               "of %.1f s after each for its workers to sleep)\n",
               g_blas_threads, BLAS_WORKERS_ASLEEP_S);
    printf("ReLU inside, linear latent, sigmoid output, BCE, Adam lr 1e-3; mirrored decoders; "
           "warm-up %d, up to %d repetitions (at least %d, about %.1f s per configuration)\n",
           o.warmup, o.reps, o.min_reps, o.budget);
    fflush(stdout);

    if (o.profile_steps > 0)
        return profile_steps(&o.models[0], o.batches[0], o.profile_steps);

    /* before the run, so that a bad baseline fails at once */
    char *baseline = NULL;
    if (o.check_path && !(baseline = read_baseline(o.check_path)))
        return 2;
    result *res = calloc(o.n_models * o.n_batches, sizeof *res);
    if (!res)
        return free(baseline), 1;
    size_t n_res = 0;
    int rc = 0;
    double t_start = bench_now();
    for (size_t mi = 0; mi < o.n_models; mi++) {
        for (size_t bi = 0; bi < o.n_batches; bi++) {
            fprintf(stderr, "  %s, batch %zu ...", o.models[mi].name, o.batches[bi]);
            double t0 = bench_now();
            if (run_config(&o.models[mi], o.batches[bi], &o, &res[n_res]) == 0) {
                fprintf(stderr, " %d reps, %.1f s\n", res[n_res].reps, bench_now() - t0);
                n_res++;
            } else {
                rc = 1;
            }
        }
    }
    print_tables(res, n_res);
    printf("\nwhole run %.0f s; peak RSS of the process %.1f MiB\n", bench_now() - t_start, mib(g_max_rss));
    if (o.json_path && write_json(o.json_path, res, n_res, &o) != 0)
        rc = 1;
    if (baseline) {
        int checked = check_baseline(o.check_path, baseline, res, n_res, o.tolerance);
        rc = checked < 0 ? 1 : checked > 0 ? 3 : rc;
    }
    free(baseline);
    free(res);
    return rc;
}
