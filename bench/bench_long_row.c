/* Long one-row training with two builds of the library in one process, interleaved: e.g.
 * before and after a change, each loaded with dlopen, so that machine noise hits both alike.
 *
 *   bench_long_row [--model 64-32-8] [--batch 1] [--steps 20000] [--block 100] LIB [LIB...]
 *
 * Each LIB (a path to libautoenc.so) gets its own model (the model's widths mirrored, ReLU
 * inside, linear latent, sigmoid output, BCE, Adam lr 1e-3, the default seed) trained on the
 * same fixed batch for --steps steps, in blocks of --block steps that alternate between the
 * libraries (the order flips every block). Reported per library: microseconds per step over
 * the first 500 steps and over the last quarter of the run (medians of blocks), their ratio, a few blocks along the
 * way, and how many of the optimizer's moments are subnormal floats at the end. Only the
 * public API is used (found with dlsym), so any two builds of the same ABI compare. */
#define _POSIX_C_SOURCE 200809L
#include "bench_common.h"

#include <autoenc.h>

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIBS 4
#define MAX_WIDTHS 16

typedef struct library {
    const char *path;
    void *handle;
    int (*create)(ae_model **, const size_t *, size_t, const size_t *, size_t);
    int (*set_param)(ae_model *, ae_param, double);
    int (*train_batch)(ae_model *, const float *, size_t, size_t, float *);
    int (*get_state)(const ae_model *, uint64_t *, float *, float *, size_t);
    size_t (*param_count)(const ae_model *);
    const char *(*last_error)(const ae_model *);
    void (*free_model)(ae_model *);
    ae_model *model;
    double *block_s; /* seconds per block */
} library;

static int open_library(library *lib)
{
    lib->handle = dlopen(lib->path, RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle) {
        fprintf(stderr, "bench_long_row: %s\n", dlerror());
        return -1;
    }
    /* POSIX guarantees that a data pointer from dlsym converts to a function pointer. */
#define FIND(field, name)                                                                       \
    do {                                                                                        \
        void *symbol = dlsym(lib->handle, name);                                                \
        if (!symbol) {                                                                          \
            fprintf(stderr, "bench_long_row: %s has no %s\n", lib->path, name);                 \
            return -1;                                                                          \
        }                                                                                       \
        memcpy(&lib->field, &symbol, sizeof symbol);                                            \
    } while (0)
    FIND(create, "ae_model_create");
    FIND(set_param, "ae_model_set_param");
    FIND(train_batch, "ae_model_train_batch");
    FIND(get_state, "ae_model_get_optimizer_state");
    FIND(param_count, "ae_model_param_count");
    FIND(last_error, "ae_model_last_error");
    FIND(free_model, "ae_model_free");
#undef FIND
    return 0;
}

static int parse_widths(const char *text, size_t *widths, size_t *n)
{
    *n = 0;
    for (const char *p = text; *p;) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || v == 0 || *n == MAX_WIDTHS)
            return -1;
        widths[(*n)++] = v;
        p = *end == '-' ? end + 1 : end;
        if (*end && *end != '-')
            return -1;
    }
    return *n >= 2 ? 0 : -1;
}

/* Median of n values (left in their order). */
static double median(const double *v, size_t n)
{
    double *copy = malloc(n * sizeof *copy);
    if (!copy || !n)
        return free(copy), NAN;
    memcpy(copy, v, n * sizeof *copy);
    double m = bench_median(copy, n);
    free(copy);
    return m;
}

/* Subnormal values among the model's optimizer moments (Adam: m and v). */
static size_t count_subnormal(const library *lib, size_t *n_values)
{
    size_t n = lib->param_count(lib->model), count = 0;
    float *m = malloc(n * sizeof *m), *v = malloc(n * sizeof *v);
    *n_values = 0;
    if (m && v && lib->get_state(lib->model, NULL, m, v, n) == AE_OK) {
        for (size_t i = 0; i < n; i++)
            count += (fpclassify(m[i]) == FP_SUBNORMAL) + (fpclassify(v[i]) == FP_SUBNORMAL);
        *n_values = 2 * n;
    }
    free(m);
    free(v);
    return count;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_long_row [--model WIDTHS] [--batch N] [--steps N] [--block N] LIB [LIB...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *model_text = "64-32-8";
    long batch = 1, steps = 20000, block = 100;
    library libs[MAX_LIBS];
    size_t n_libs = 0;
    memset(libs, 0, sizeof libs);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strncmp(arg, "--", 2) != 0) {
            if (n_libs == MAX_LIBS)
                return usage();
            libs[n_libs++].path = arg;
            continue;
        }
        if (!val)
            return usage();
        i++;
        if (strcmp(arg, "--model") == 0)
            model_text = val;
        else if (strcmp(arg, "--batch") == 0)
            batch = atol(val);
        else if (strcmp(arg, "--steps") == 0)
            steps = atol(val);
        else if (strcmp(arg, "--block") == 0)
            block = atol(val);
        else
            return usage();
    }
    size_t widths[MAX_WIDTHS], n_widths;
    if (!n_libs || batch < 1 || block < 1 || steps < block || parse_widths(model_text, widths, &n_widths) != 0)
        return usage();
    const long n_blocks = steps / block;
    const size_t d = widths[0];
    float *x = malloc((size_t)batch * d * sizeof *x);
    if (!x)
        return 1;
    uint64_t state = 0x9e3779b97f4a7c15u; /* the same data as bench_step's */
    for (size_t i = 0; i < (size_t)batch * d; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        x[i] = (float)(state >> 40) / 16777216.0f;
    }
    int rc = 0;
    for (size_t k = 0; k < n_libs && rc == 0; k++) {
        library *lib = &libs[k];
        lib->block_s = calloc((size_t)n_blocks, sizeof *lib->block_s);
        if (!lib->block_s || open_library(lib) != 0 || lib->create(&lib->model, widths, n_widths, NULL, 0) != AE_OK ||
            lib->set_param(lib->model, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID) != AE_OK ||
            lib->set_param(lib->model, AE_PARAM_LOSS, AE_LOSS_BCE) != AE_OK ||
            lib->set_param(lib->model, AE_PARAM_OPTIMIZER, AE_OPT_ADAM) != AE_OK ||
            lib->set_param(lib->model, AE_PARAM_LEARNING_RATE, 1e-3) != AE_OK) {
            fprintf(stderr, "bench_long_row: could not set up %s\n", lib->path);
            rc = 1;
        }
    }
    for (long b = 0; b < n_blocks && rc == 0; b++) {
        for (size_t turn = 0; turn < n_libs && rc == 0; turn++) {
            library *lib = &libs[b % 2 ? n_libs - 1 - turn : turn];
            double t0 = bench_now();
            for (long s = 0; s < block && rc == 0; s++)
                if (lib->train_batch(lib->model, x, (size_t)batch, d, NULL) != AE_OK) {
                    fprintf(stderr, "bench_long_row: %s: %s\n", lib->path, lib->last_error(lib->model));
                    rc = 1;
                }
            lib->block_s[b] = bench_now() - t0;
        }
    }
    if (rc == 0) {
        const long last_quarter = n_blocks - (n_blocks / 4 > 0 ? n_blocks / 4 : 1);
        const long early = 500 / block > 0 ? (500 / block < n_blocks ? 500 / block : n_blocks) : 1;
        printf("model %s mirrored, batch %ld, Adam, %ld steps in blocks of %ld, %zu libraries interleaved\n",
               model_text, batch, steps, block, n_libs);
        printf("%-40s | %12s %14s %8s | %s\n", "library", "steps 1-500", "last quarter", "ratio",
               "subnormal moments at the end");
        printf("%-40s | %12s %14s %8s |\n", "", "us/step", "us/step (med)", "");
        for (size_t k = 0; k < n_libs; k++) {
            library *lib = &libs[k];
            double first = 1e6 * median(lib->block_s, (size_t)early) / (double)block;
            double late = 1e6 * median(lib->block_s + last_quarter, (size_t)(n_blocks - last_quarter)) / (double)block;
            size_t n_values, sub = count_subnormal(lib, &n_values);
            printf("%-40s | %12.2f %14.2f %7.2fx | %zu of %zu\n", lib->path, first, late, late / first, sub, n_values);
        }
        printf("\nus/step per block along the run\n%8s", "step");
        for (size_t k = 0; k < n_libs; k++)
            printf(" | lib %zu", k + 1);
        printf("\n");
        for (long b = 0; b < n_blocks; b += n_blocks > 20 ? n_blocks / 20 : 1) {
            printf("%8ld", (b + 1) * block);
            for (size_t k = 0; k < n_libs; k++)
                printf(" | %5.1f", 1e6 * libs[k].block_s[b] / (double)block);
            printf("\n");
        }
        if (n_libs == 2)
            printf("\nlast quarter, lib 1 / lib 2 time per step: %.2fx\n",
                   median(libs[0].block_s + last_quarter, (size_t)(n_blocks - last_quarter)) /
                       median(libs[1].block_s + last_quarter, (size_t)(n_blocks - last_quarter)));
    }
    for (size_t k = 0; k < n_libs; k++) {
        if (libs[k].model)
            libs[k].free_model(libs[k].model);
        free(libs[k].block_s);
        /* not dlclosed: OpenBLAS's threads may still be parked in code the library pulled in */
    }
    free(x);
    return rc;
}
