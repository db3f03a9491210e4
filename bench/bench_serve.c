/* Serving: T threads encoding single rows with one shared, trained model, as a server does
 * with one model and a thread per connection. Per thread count: throughput (calls per
 * second over all threads), the latency of one call (p50, p99 over every 16th call of every
 * thread: a clock read around every call would cost more than a small model's call), the
 * library's allocations per call (through the allocation hook) and the cores the process got (its CPU time over the wall time: on a shared machine the scheduler, not
 * the library, may be what keeps T threads from T cores). Beside each, the floor: the same
 * T threads making only the encoder's bare sgemv calls on one shared set of weights of the
 * model's shapes, so the floor's own scaling from T=1 is the machine's limit for the
 * library's (two cores that share caches, memory and a power budget may not give 2x). Thread
 * counts run in rounds, the order reversed every round, the library and the floor
 * alternating, so machine noise hits them alike; the figures are medians over rounds.
 *
 *   bench_serve [--models LIST] [--threads LIST] [--rows N] [--seconds S] [--rounds N]
 *               [--blas-threads N] [--json FILE]
 *
 *   --models        comma-separated: reference (784-512-256-64), narrow (64-32-8), tabular
 *                   (30-16-4), or encoder widths such as 784-1024-64 (default: all three)
 *   --threads       serving thread counts (default 1,2,4)
 *   --rows          rows per call (default 1)
 *   --seconds       time per thread count and round (default 1)
 *   --rounds        rounds (default 3)
 *   --blas-threads  openblas_set_num_threads before anything (default: OpenBLAS's choice)
 *   --json          also write every figure to FILE */
#include "bench_common.h"

#include <autoenc.h>
#include <cblas.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_WIDTHS 16
#define MAX_MODELS 16
#define MAX_COUNTS 8
#define MAX_ROUNDS 32
#define DATA_ROWS 4096
#define MAX_CALLS_PER_THREAD 2000000 /* latencies kept per thread */
#define LATENCY_SAMPLE 16           /* one call in this many is timed for the latencies */

typedef struct spec {
    char name[64];
    size_t widths[MAX_WIDTHS];
    size_t n_widths;
} spec;

/* The floor's encoder: bare row-major weights, one matrix per encoder layer. */
typedef struct bare_encoder {
    float *weights[MAX_WIDTHS];
    size_t widths[MAX_WIDTHS];
    size_t n_layers, max_width;
} bare_encoder;

/* Each worker on cache lines of its own (it counts its calls on every call: neighbours on one
 * line would make the threads' counting, not the library, what fails to scale). */
typedef struct worker {
    _Alignas(128) const ae_model *model;
    const bare_encoder *floor; /* non-NULL: time the floor's calls instead of the library */
    const float *x;
    size_t d, latent, rows, first_row;
    atomic_int *go, *stop;
    double *latencies; /* every LATENCY_SAMPLE-th call's, up to MAX_CALLS_PER_THREAD */
    size_t n_calls, n_timed;
    int failures;
    char error[256]; /* the first failure's message */
} worker;

/* The floor of one call: each layer's product alone (sgemv for one row, sgemm for more),
 * ping-ponging between the two halves of `scratch`. */
static void bare_encode(const bare_encoder *f, const float *x, size_t rows, float *scratch)
{
    const float *in = x;
    for (size_t l = 0; l < f->n_layers; l++) {
        float *out = scratch + (l % 2) * rows * f->max_width;
        const size_t n_in = f->widths[l], n_out = f->widths[l + 1];
        if (rows == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n_out, (int)n_in, 1.0f, f->weights[l], (int)n_in, in, 1,
                        0.0f, out, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)n_out, (int)n_in, 1.0f, in,
                        (int)n_in, f->weights[l], (int)n_in, 0.0f, out, (int)n_out);
        in = out;
    }
}

static void *serve(void *raw)
{
    worker *w = raw;
    const bare_encoder *f = w->floor;
    const size_t code_floats = f ? 2 * w->rows * f->max_width : w->rows * w->latent;
    /* On cache lines of its own: a 16-byte code next to another thread's would be written
     * by both on every call. */
    const size_t code_bytes = (code_floats * sizeof(float) + 127) / 128 * 128;
    float *code = aligned_alloc(128, code_bytes);
    if (!code) {
        w->failures++;
        snprintf(w->error, sizeof w->error, "out of memory");
        return NULL;
    }
    while (!atomic_load_explicit(w->go, memory_order_acquire)) {
    }
    size_t row = w->first_row;
    /* At least one call each, however loaded the machine (a short warm-up round may end
     * before a thread is scheduled). */
    do {
        /* Every LATENCY_SAMPLE-th call is timed alone: reading the clock around every call
         * costs more than a small model's call and, on this VM, scaled worse between threads
         * than the calls themselves (1.6x against 1.85x at two threads). */
        const bool timed = w->n_calls % LATENCY_SAMPLE == 0 && w->n_timed < MAX_CALLS_PER_THREAD;
        const double a = timed ? bench_now() : 0.0;
        if (f)
            bare_encode(f, w->x + row * w->d, w->rows, code);
        else if (ae_model_encode(w->model, w->x + row * w->d, w->rows, w->d, code, w->latent) != AE_OK &&
                 w->failures++ == 0)
            snprintf(w->error, sizeof w->error, "%s", ae_model_last_error(w->model));
        if (timed)
            w->latencies[w->n_timed++] = bench_now() - a;
        w->n_calls++;
        row = (row + w->rows) % (DATA_ROWS - w->rows);
    } while (!atomic_load_explicit(w->stop, memory_order_relaxed));
    free(code);
    return NULL;
}

typedef struct measure {
    double calls_per_s, p50_s, p99_s, allocs_per_call;
    double cores; /* the process's CPU time over the wall time: the cores it got */
} measure;

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_sec +
           1e-6 * (double)u.ru_stime.tv_usec;
}

/* T threads serving for `seconds`. */
static int run_threads(const ae_model *m, const bare_encoder *floor, const float *x, size_t d, size_t rows,
                       int n_threads, double seconds, double *latency_buf, measure *out)
{
    worker w[64];
    pthread_t th[64];
    atomic_int go = 0, stop = 0;
    for (int t = 0; t < n_threads; t++) {
        w[t] = (worker){m, floor, x, d, ae_model_latent_dim(m), rows, (size_t)t * 97 % (DATA_ROWS - rows),
                        &go, &stop, latency_buf + (size_t)t * MAX_CALLS_PER_THREAD, 0, 0, 0, ""};
        if (pthread_create(&th[t], NULL, serve, &w[t]) != 0) {
            atomic_store(&stop, 1);
            atomic_store(&go, 1);
            for (int started = 0; started < t; started++)
                pthread_join(th[started], NULL);
            fprintf(stderr, "bench_serve: could not start thread %d\n", t);
            return -1;
        }
    }
    int64_t allocs0 = bench_alloc_get().n_allocs;
    double cpu0 = cpu_seconds();
    double t0 = bench_now();
    atomic_store(&go, 1);
    while (bench_now() - t0 < seconds) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < n_threads; t++)
        pthread_join(th[t], NULL);
    double wall = bench_now() - t0;
    double cpu = cpu_seconds() - cpu0;
    int64_t allocs = bench_alloc_get().n_allocs - allocs0;
    size_t total = 0, timed = 0;
    for (int t = 0; t < n_threads; t++) {
        if (w[t].failures) {
            fprintf(stderr, "bench_serve: %d of thread %d's calls failed: %s\n", w[t].failures, t, w[t].error);
            return -1;
        }
        /* Gather every thread's latencies in one run of the buffer. */
        if (timed != (size_t)t * MAX_CALLS_PER_THREAD)
            memmove(latency_buf + timed, w[t].latencies, w[t].n_timed * sizeof *latency_buf);
        timed += w[t].n_timed;
        total += w[t].n_calls;
    }
    out->calls_per_s = (double)total / wall;
    /* Latencies of every LATENCY_SAMPLE-th call of each thread. */
    out->p50_s = bench_quantile(latency_buf, timed, 0.50);
    out->p99_s = bench_quantile(latency_buf, timed, 0.99);
    out->allocs_per_call = (double)allocs / (double)total;
    out->cores = cpu / wall;
    return 0;
}

static int parse_list(const char *text, size_t *values, size_t max, size_t *n, char sep)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || v == 0 || *n == max)
            return -1;
        values[(*n)++] = (size_t)v;
        p = end;
        if (*p == sep)
            p++;
        else if (*p)
            return -1;
    }
    return *n ? 0 : -1;
}

static int parse_models(const char *list, spec *specs, size_t *n)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == MAX_MODELS)
            return -1;
        const char *widths = strcmp(tok, "reference") == 0 ? "784-512-256-64"
                             : strcmp(tok, "narrow") == 0  ? "64-32-8"
                             : strcmp(tok, "tabular") == 0 ? "30-16-4"
                                                           : tok;
        snprintf(specs[*n].name, sizeof specs[*n].name, "%s", tok);
        if (parse_list(widths, specs[*n].widths, MAX_WIDTHS, &specs[*n].n_widths, '-') != 0 ||
            specs[*n].n_widths < 2)
            return -1;
        (*n)++;
    }
    return *n ? 0 : -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_serve [--models LIST] [--threads LIST] [--rows N] [--seconds S] [--rounds N]\n"
                    "                   [--blas-threads N] [--json FILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static spec specs[MAX_MODELS];
    size_t n_specs = 0, counts[MAX_COUNTS] = {1, 2, 4}, n_counts = 3, rows = 1;
    int rounds = 3, blas_threads = 0;
    double seconds = 1.0;
    const char *json_path = NULL;
    if (parse_models("reference,narrow,tabular", specs, &n_specs) != 0)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            return usage();
        i++;
        if (strcmp(arg, "--models") == 0) {
            if (parse_models(val, specs, &n_specs) != 0)
                return usage();
        } else if (strcmp(arg, "--threads") == 0) {
            if (parse_list(val, counts, MAX_COUNTS, &n_counts, ',') != 0)
                return usage();
        } else if (strcmp(arg, "--rows") == 0)
            rows = (size_t)atoi(val);
        else if (strcmp(arg, "--seconds") == 0)
            seconds = atof(val);
        else if (strcmp(arg, "--rounds") == 0)
            rounds = atoi(val);
        else if (strcmp(arg, "--blas-threads") == 0)
            blas_threads = atoi(val);
        else if (strcmp(arg, "--json") == 0)
            json_path = val;
        else
            return usage();
    }
    if (rows < 1 || rows > DATA_ROWS / 2 || seconds <= 0 || rounds < 1 || rounds > MAX_ROUNDS || blas_threads < 0)
        return usage();
    for (size_t k = 0; k < n_counts; k++)
        if (counts[k] > 64)
            return usage();
    if (blas_threads > 0)
        openblas_set_num_threads(blas_threads);
    if (bench_alloc_install() != 0)
        return 1;
    printf("libautoenc %s; OpenBLAS core %s, %d threads (%s)\n", ae_version_string(), openblas_get_corename(),
           openblas_get_num_threads(), openblas_get_config());
    printf("serving: threads encoding %zu row%s per call with one shared model; %d rounds of %.1f s per "
           "thread count, medians over rounds\n\n",
           rows, rows == 1 ? "" : "s", rounds, seconds);

    size_t max_count = 1;
    for (size_t k = 0; k < n_counts; k++)
        max_count = counts[k] > max_count ? counts[k] : max_count;
    double *latency_buf = malloc(max_count * MAX_CALLS_PER_THREAD * sizeof *latency_buf);
    FILE *json = json_path ? fopen(json_path, "w") : NULL;
    if (!latency_buf || (json_path && !json))
        return 1;
    if (json)
        fprintf(json, "{\n  \"benchmark\": \"bench_serve\",\n  \"library_version\": \"%s\",\n  \"openblas_threads\": %d,\n"
                      "  \"rows_per_call\": %zu,\n  \"results\": [\n",
                ae_version_string(), openblas_get_num_threads(), rows);
    printf("%-16s %7s | %12s %8s | %10s %10s | %8s | %6s %14s | %12s %8s %8s\n", "model", "threads", "calls/s",
           "vs T=1", "p50 us", "p99 us", "alloc/call", "cores", "calls/CPU-s", "floor calls/s", "vs T=1", "of floor");
    int rc = 0, first_json = 1;
    for (size_t s = 0; s < n_specs && rc == 0; s++) {
        float *x = malloc(DATA_ROWS * specs[s].widths[0] * sizeof *x);
        ae_model *m = NULL;
        if (!x || ae_model_create(&m, specs[s].widths, specs[s].n_widths, NULL, 0) != AE_OK)
            return 1;
        const size_t d = specs[s].widths[0];
        uint64_t state = 0x9e3779b97f4a7c15u;
        for (size_t i = 0; i < DATA_ROWS * d; i++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            x[i] = (float)(state >> 40) / 16777216.0f;
        }
        /* A trained model (a few steps), warmed by one call from each thread count. */
        for (int k = 0; k < 5; k++)
            if (ae_model_train_batch(m, x + (size_t)k * 256 * d, 256, d, NULL) != AE_OK)
                return 1;
        bare_encoder bare = {.n_layers = specs[s].n_widths - 1};
        for (size_t l = 0; l < specs[s].n_widths; l++) {
            bare.widths[l] = specs[s].widths[l];
            bare.max_width = bare.widths[l] > bare.max_width ? bare.widths[l] : bare.max_width;
        }
        for (size_t l = 0; l < bare.n_layers; l++) {
            const size_t n = bare.widths[l] * bare.widths[l + 1];
            if (!(bare.weights[l] = malloc(n * sizeof(float))))
                return 1;
            for (size_t i = 0; i < n; i++)
                bare.weights[l][i] = x[i % (DATA_ROWS * d)] - 0.5f;
        }
        measure per[MAX_COUNTS][MAX_ROUNDS], floor_per[MAX_COUNTS][MAX_ROUNDS];
        for (size_t k = 0; k < n_counts; k++)
            if (run_threads(m, NULL, x, d, rows, (int)counts[k], 0.05, latency_buf, &per[k][0]) != 0 ||
                run_threads(m, &bare, x, d, rows, (int)counts[k], 0.05, latency_buf, &floor_per[k][0]) != 0)
                rc = 1;
        for (int r = 0; r < rounds && rc == 0; r++)
            for (size_t j = 0; j < n_counts && rc == 0; j++) {
                size_t k = r % 2 ? n_counts - 1 - j : j;
                if (run_threads(m, NULL, x, d, rows, (int)counts[k], seconds, latency_buf, &per[k][r]) != 0 ||
                    run_threads(m, &bare, x, d, rows, (int)counts[k], seconds, latency_buf, &floor_per[k][r]) != 0)
                    rc = 1;
            }
        double base = 0, floor_base = 0;
        for (size_t k = 0; k < n_counts && rc == 0; k++) {
            double v[5][MAX_ROUNDS];
            for (int r = 0; r < rounds; r++) {
                v[0][r] = per[k][r].calls_per_s;
                v[1][r] = per[k][r].p50_s;
                v[2][r] = per[k][r].p99_s;
                v[3][r] = per[k][r].allocs_per_call;
                v[4][r] = per[k][r].cores;
            }
            measure med = {bench_median(v[0], (size_t)rounds), bench_median(v[1], (size_t)rounds),
                           bench_median(v[2], (size_t)rounds), bench_median(v[3], (size_t)rounds),
                           bench_median(v[4], (size_t)rounds)};
            double floor_calls[MAX_ROUNDS], ratio[MAX_ROUNDS];
            for (int r = 0; r < rounds; r++) {
                floor_calls[r] = floor_per[k][r].calls_per_s;
                ratio[r] = per[k][r].calls_per_s / floor_per[k][r].calls_per_s;
            }
            const double floor_med = bench_median(floor_calls, (size_t)rounds);
            const double of_floor = bench_median(ratio, (size_t)rounds);
            if (k == 0)
                base = med.calls_per_s, floor_base = floor_med;
            printf("%-16s %7zu | %12.0f %7.2fx | %10.2f %10.2f | %8.3f | %6.2f %14.0f | %12.0f %7.2fx %7.1f%%\n",
                   specs[s].name, counts[k], med.calls_per_s, med.calls_per_s / base, 1e6 * med.p50_s,
                   1e6 * med.p99_s, med.allocs_per_call, med.cores, med.calls_per_s / med.cores, floor_med,
                   floor_med / floor_base, 100.0 * of_floor);
            if (json)
                fprintf(json, "%s    {\"model\": \"%s\", \"threads\": %zu, \"calls_per_s\": %.6g, \"vs_first\": %.4f, "
                              "\"p50_s\": %.6g, \"p99_s\": %.6g, \"allocs_per_call\": %.6g, \"cores\": %.4g, "
                              "\"floor_calls_per_s\": %.6g, \"floor_vs_first\": %.4f, \"of_floor\": %.4f}",
                        first_json ? "" : ",\n", specs[s].name, counts[k], med.calls_per_s, med.calls_per_s / base,
                        med.p50_s, med.p99_s, med.allocs_per_call, med.cores, floor_med, floor_med / floor_base,
                        of_floor);
            first_json = 0;
        }
        for (size_t l = 0; l < bare.n_layers; l++)
            free(bare.weights[l]);
        ae_model_free(m);
        free(x);
    }
    if (json) {
        fprintf(json, "\n  ]\n}\n");
        fclose(json);
    }
    free(latency_buf);
    if (rc)
        fprintf(stderr, "bench_serve: the run failed\n");
    return rc;
}
