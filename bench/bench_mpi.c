/* Data-parallel training over MPI (libautoenc_mpi): samples/s of R ranks each training on its
 * own batch against what one rank does alone, and where a step's time goes: computing, and
 * waiting for the gradient sums with and without overlapping them with the backward pass.
 *
 *   mpiexec -np R bench_mpi [--widths 784-512-256-64] [--batch 256] [--steps N] [--reps N]
 *                           [--warmup N] [--threads N] [--configs LIST] [--json FILE]
 *
 *   --widths   encoder widths, decoder mirrored; ReLU inside, linear latent, sigmoid output,
 *              BCE, Adam (lr 1e-3): the reference model of bench_step by default.
 *   --batch    rows per rank and step (default 256); R ranks take R * batch rows a step.
 *   --steps    training steps per repetition (default 20); --reps repetitions (default 7)
 *              after --warmup untimed steps (default 5).
 *   --threads  the library's AE_PARAM_THREADS (default 1; set OPENBLAS_NUM_THREADS too).
 *   --configs  comma-separated engines, timed interleaved within each repetition:
 *                overlap:BYTES  buckets of BYTES started during the backward pass
 *                               (overlap:default is the library's default bucket size),
 *                end            one MPI_Allreduce of the whole gradient after the backward
 *                               pass (AE_MPI_PARAM_OVERLAP 0),
 *                compute        the same steps on a detached copy of the model: no MPI at
 *                               all (every rank computes at once, so memory and caches are
 *                               shared as in the real run),
 *                allreduce      a bare MPI_Allreduce of a gradient-sized float buffer, once
 *                               per step, nothing else.
 *              Default: overlap:default,overlap:0,overlap:1048576,overlap:4194304,end,compute,allreduce.
 *
 * Reported per engine (medians over repetitions; a repetition's time is the slowest rank's):
 * ms per step, samples/s over every rank (R * batch * steps / time), and the shares of the
 * step time rank 0 spent in the hooks: starting reductions during the backward pass (ready),
 * waiting for the sums after it (wait), combining figures (reduce: it includes waiting for
 * the slowest rank, since every step starts with one). */
#include "bench_common.h"

#include <autoenc_mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WIDTHS 16
#define MAX_CONFIGS 16
#define POOL_BATCHES 4

typedef enum config_kind { ENGINE_OVERLAP, ENGINE_END, ENGINE_COMPUTE, ENGINE_ALLREDUCE } config_kind;

typedef struct config {
    char name[40];
    config_kind kind;
    double bucket_bytes; /* ENGINE_OVERLAP; < 0 = the default */
    double *seconds, *ready, *wait, *reduce; /* per repetition */
    double buckets_per_step;
} config;

typedef struct options {
    size_t widths[MAX_WIDTHS], n_widths, batch;
    int steps, reps, warmup, threads;
    config configs[MAX_CONFIGS];
    size_t n_configs;
    const char *json_path;
} options;

static int rank, n_ranks;
static double default_bucket_bytes; /* the library's, read at attach */

static int fail(const char *what, const char *message)
{
    fprintf(stderr, "bench_mpi (rank %d): %s: %s\n", rank, what, message);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
}

static int parse_widths(const char *text, options *o)
{
    o->n_widths = 0;
    for (const char *p = text; *p && o->n_widths < MAX_WIDTHS;) {
        char *end = NULL;
        unsigned long long w = strtoull(p, &end, 10);
        if (end == p || w == 0)
            return -1;
        o->widths[o->n_widths++] = (size_t)w;
        p = *end == '-' ? end + 1 : end;
        if (*end && *end != '-')
            return -1;
    }
    return o->n_widths >= 2 ? 0 : -1;
}

static int parse_configs(const char *text, options *o)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", text);
    o->n_configs = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item && o->n_configs < MAX_CONFIGS;
         item = strtok_r(NULL, ",", &save)) {
        config *c = &o->configs[o->n_configs++];
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", item);
        if (strncmp(item, "overlap:", 8) == 0) {
            c->kind = ENGINE_OVERLAP;
            c->bucket_bytes = strcmp(item + 8, "default") == 0 ? -1 : strtod(item + 8, NULL);
        } else if (strcmp(item, "end") == 0) {
            c->kind = ENGINE_END;
        } else if (strcmp(item, "compute") == 0) {
            c->kind = ENGINE_COMPUTE;
        } else if (strcmp(item, "allreduce") == 0) {
            c->kind = ENGINE_ALLREDUCE;
        } else {
            return -1;
        }
    }
    return o->n_configs ? 0 : -1;
}

static int usage(void)
{
    if (rank == 0)
        fprintf(stderr, "usage: mpiexec -np R bench_mpi [--widths W-W-...] [--batch N] [--steps N] "
                        "[--reps N] [--warmup N] [--threads N] [--configs LIST] [--json FILE]\n");
    MPI_Finalize();
    return 64;
}

static ae_model *make_model(const options *o)
{
    ae_model *m = NULL;
    if (ae_model_create(&m, o->widths, o->n_widths, NULL, 0) != AE_OK)
        fail("ae_model_create", ae_last_error());
    if (ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_ADAM) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_LEARNING_RATE, 1e-3) != AE_OK ||
        ae_model_set_param(m, AE_PARAM_THREADS, o->threads) != AE_OK)
        fail("ae_model_set_param", ae_model_last_error(m));
    return m;
}

static double load_average(void)
{
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1;
        fclose(f);
    }
    return load;
}

/* One repetition of one engine: `steps` steps; returns the slowest rank's seconds and fills
 * rank 0's shares. */
static double run_rep(const options *o, config *c, int rep, ae_model *attached,
                      ae_mpi_context *context, ae_model *alone, const float *pool, float *buffer,
                      size_t n_params)
{
    const size_t d = o->widths[0];
    if (c->kind == ENGINE_OVERLAP || c->kind == ENGINE_END) {
        double bucket = c->bucket_bytes < 0 ? default_bucket_bytes : c->bucket_bytes;
        if (c->kind == ENGINE_OVERLAP &&
            ae_mpi_set_param(context, AE_MPI_PARAM_BUCKET_BYTES, bucket) != AE_OK)
            fail("ae_mpi_set_param", ae_mpi_last_error());
        if (ae_mpi_set_param(context, AE_MPI_PARAM_OVERLAP, c->kind == ENGINE_OVERLAP) != AE_OK)
            fail("ae_mpi_set_param", ae_mpi_last_error());
        ae_mpi_reset_stats(context);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double started = bench_now();
    for (int s = 0; s < o->steps; s++) {
        const float *x = pool + (size_t)(s % POOL_BATCHES) * o->batch * d;
        int status = AE_OK;
        switch (c->kind) {
        case ENGINE_OVERLAP:
        case ENGINE_END: status = ae_model_train_batch(attached, x, o->batch, d, NULL); break;
        case ENGINE_COMPUTE: status = ae_model_train_batch(alone, x, o->batch, d, NULL); break;
        case ENGINE_ALLREDUCE:
            status = MPI_Allreduce(MPI_IN_PLACE, buffer, (int)n_params, MPI_FLOAT, MPI_SUM,
                                   MPI_COMM_WORLD) == MPI_SUCCESS ? AE_OK : AE_ERR_PEER;
            break;
        }
        if (status != AE_OK)
            fail(c->name, c->kind == ENGINE_COMPUTE ? ae_model_last_error(alone) : ae_last_error());
    }
    double seconds = bench_now() - started;
    MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (c->kind == ENGINE_OVERLAP || c->kind == ENGINE_END) {
        ae_mpi_stats stats = {.size = sizeof stats};
        ae_mpi_get_stats(context, &stats);
        c->ready[rep] = stats.gradient_ready_seconds / seconds;
        c->wait[rep] = stats.gradient_wait_seconds / seconds;
        c->reduce[rep] = stats.reduce_seconds / seconds;
        c->buckets_per_step = stats.steps ? (double)stats.buckets / (double)stats.steps : 0;
    }
    return seconds;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
    options o = {.batch = 256, .steps = 20, .reps = 7, .warmup = 5, .threads = 1};
    parse_widths("784-512-256-64", &o);
    parse_configs("overlap:default,overlap:0,overlap:1048576,overlap:4194304,end,compute,allreduce", &o);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            return usage();
        if (strcmp(arg, "--widths") == 0 && parse_widths(val, &o) == 0) {
        } else if (strcmp(arg, "--batch") == 0 && atol(val) > 0) {
            o.batch = (size_t)atol(val);
        } else if (strcmp(arg, "--steps") == 0 && atoi(val) > 0) {
            o.steps = atoi(val);
        } else if (strcmp(arg, "--reps") == 0 && atoi(val) > 0) {
            o.reps = atoi(val);
        } else if (strcmp(arg, "--warmup") == 0 && atoi(val) >= 0) {
            o.warmup = atoi(val);
        } else if (strcmp(arg, "--threads") == 0 && atoi(val) >= 0) {
            o.threads = atoi(val);
        } else if (strcmp(arg, "--configs") == 0 && parse_configs(val, &o) == 0) {
        } else if (strcmp(arg, "--json") == 0) {
            o.json_path = val;
        } else {
            return usage();
        }
        i++;
    }

    /* Every rank its own rows; the same model everywhere (same seed), and a detached copy. */
    const size_t d = o.widths[0];
    float *pool = malloc(POOL_BATCHES * o.batch * d * sizeof *pool);
    if (!pool)
        return fail("malloc", "out of memory");
    unsigned long long state = 0x9E3779B97F4A7C15ull * (unsigned long long)(rank + 1);
    for (size_t i = 0; i < POOL_BATCHES * o.batch * d; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        pool[i] = (float)(state >> 40) / (float)(1 << 24);
    }
    ae_model *attached = make_model(&o), *alone = NULL;
    if (ae_model_clone(attached, &alone) != AE_OK)
        return fail("ae_model_clone", ae_last_error());
    ae_mpi_context *context = NULL;
    if (ae_mpi_attach(attached, MPI_COMM_WORLD, &context) != AE_OK)
        return fail("ae_mpi_attach", ae_mpi_last_error());
    ae_mpi_get_param(context, AE_MPI_PARAM_BUCKET_BYTES, &default_bucket_bytes);
    const size_t n_params = ae_model_param_count(attached);
    float *buffer = calloc(n_params, sizeof *buffer);
    if (!buffer)
        return fail("calloc", "out of memory");
    for (size_t k = 0; k < o.n_configs; k++) {
        config *c = &o.configs[k];
        c->seconds = calloc((size_t)o.reps, sizeof(double));
        c->ready = calloc((size_t)o.reps, sizeof(double));
        c->wait = calloc((size_t)o.reps, sizeof(double));
        c->reduce = calloc((size_t)o.reps, sizeof(double));
        if (!c->seconds || !c->ready || !c->wait || !c->reduce)
            return fail("calloc", "out of memory");
    }
    double load_before = load_average();
    for (int w = 0; w < o.warmup; w++) {
        const float *x = pool + (size_t)(w % POOL_BATCHES) * o.batch * d;
        if (ae_model_train_batch(attached, x, o.batch, d, NULL) != AE_OK ||
            ae_model_train_batch(alone, x, o.batch, d, NULL) != AE_OK)
            return fail("warm-up", ae_last_error());
    }
    /* Repetitions interleave the engines, their order turning each time, so that the
     * machine's noise falls on all of them alike. */
    for (int rep = 0; rep < o.reps; rep++) {
        for (size_t j = 0; j < o.n_configs; j++) {
            config *c = &o.configs[(j + (size_t)rep) % o.n_configs];
            c->seconds[rep] = run_rep(&o, c, rep, attached, context, alone, pool, buffer, n_params);
        }
    }
    double load_after = load_average();

    if (rank == 0) {
        printf("bench_mpi: %d rank%s, encoder", n_ranks, n_ranks > 1 ? "s" : "");
        for (size_t i = 0; i < o.n_widths; i++)
            printf("%s%zu", i ? "-" : " ", o.widths[i]);
        printf(" mirrored (%zu parameters, %.2f MB of gradient), batch %zu per rank, %d steps x %d "
               "reps, AE_PARAM_THREADS %d, OPENBLAS_NUM_THREADS=%s, load %.2f -> %.2f\n",
               n_params, (double)n_params * 4 / 1e6, o.batch, o.steps, o.reps, o.threads,
               getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "(unset)",
               load_before, load_after);
        printf("%-18s %10s %12s %8s %8s %8s %8s\n", "engine", "ms/step", "samples/s", "ready", "wait",
               "reduce", "buckets");
    }
    FILE *json = NULL;
    if (rank == 0 && o.json_path && !(json = fopen(o.json_path, "w")))
        return fail("fopen", o.json_path);
    if (json)
        fprintf(json, "{\"ranks\": %d, \"batch\": %zu, \"steps\": %d, \"reps\": %d, \"parameters\": %zu, "
                      "\"load_before\": %.2f, \"load_after\": %.2f, \"engines\": [",
                n_ranks, o.batch, o.steps, o.reps, n_params, load_before, load_after);
    for (size_t k = 0; k < o.n_configs && rank == 0; k++) {
        config *c = &o.configs[k];
        double seconds = bench_median(c->seconds, (size_t)o.reps);
        double step_ms = 1e3 * seconds / o.steps;
        double samples = c->kind == ENGINE_ALLREDUCE ? 0 : (double)n_ranks * (double)o.batch * o.steps / seconds;
        double ready = bench_median(c->ready, (size_t)o.reps), wait = bench_median(c->wait, (size_t)o.reps),
               reduce = bench_median(c->reduce, (size_t)o.reps);
        if (c->kind == ENGINE_OVERLAP || c->kind == ENGINE_END)
            printf("%-18s %10.2f %12.0f %7.1f%% %7.1f%% %7.1f%% %8.0f\n", c->name, step_ms, samples,
                   100 * ready, 100 * wait, 100 * reduce, c->buckets_per_step);
        else if (c->kind == ENGINE_COMPUTE)
            printf("%-18s %10.2f %12.0f %8s %8s %8s\n", c->name, step_ms, samples, "-", "-", "-");
        else
            printf("%-18s %10.2f %12s %8s %8s %8s\n", c->name, step_ms, "-", "-", "-", "-");
        if (json)
            fprintf(json, "%s{\"engine\": \"%s\", \"ms_per_step\": %.4f, \"samples_per_second\": %.1f, "
                          "\"ready_share\": %.5f, \"wait_share\": %.5f, \"reduce_share\": %.5f, "
                          "\"buckets_per_step\": %.1f}",
                    k ? ", " : "", c->name, step_ms, samples, ready, wait, reduce, c->buckets_per_step);
    }
    if (json) {
        fprintf(json, "]}\n");
        fclose(json);
    }

    ae_mpi_detach(context);
    ae_model_free(attached);
    ae_model_free(alone);
    for (size_t k = 0; k < o.n_configs; k++) {
        free(o.configs[k].seconds);
        free(o.configs[k].ready);
        free(o.configs[k].wait);
        free(o.configs[k].reduce);
    }
    free(buffer);
    free(pool);
    MPI_Finalize();
    return 0;
}
