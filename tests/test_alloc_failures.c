/* Allocation failure: a counting allocator installed with ae_set_allocator() fails the
 * Nth allocation (once, or from N on) of every public entry point that allocates, for
 * every N until the call no longer reaches its Nth allocation. Each failure must give
 * AE_ERR_OUT_OF_MEMORY with a message, leak nothing, return no half-built handle, and
 * leave the model as it was and usable: the same call afterwards gives bit for bit what
 * it gives on an untouched clone. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, unlink, dirent */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------------------- */
/* The counting allocator                                                              */
/* ---------------------------------------------------------------------------------- */

#define LIVE_MAGIC 0x6c697665626c6f6bULL /* "liveblok" */
#define DEAD_MAGIC 0x64656164626c6f6bULL /* "deadblok" */

/* Prefix of every block: its size and a magic word, padded so the caller's part keeps
 * malloc's alignment. */
typedef union block_header {
    struct {
        size_t size;
        uint64_t magic;
    } h;
    max_align_t align;
} block_header;

typedef struct counting_allocator {
    size_t calls;       /* allocations asked for since the last arm() */
    size_t fail_at;     /* 0: never fail; else the 1-based call that fails */
    bool fail_onwards;  /* fail every call from fail_at on, not only that one */
    size_t failed;      /* allocations refused since the last arm() */
    size_t live_blocks; /* blocks handed out and not yet freed */
    size_t live_bytes;
    size_t misuses;     /* frees of NULL or of unknown blocks, wrong user_data */
} counting_allocator;

static counting_allocator counter;

static void *counting_alloc(size_t size, void *user_data)
{
    counting_allocator *c = user_data;
    if (c != &counter) {
        counter.misuses++;
        return NULL;
    }
    c->calls++;
    if (c->fail_at && (c->calls == c->fail_at || (c->fail_onwards && c->calls > c->fail_at))) {
        c->failed++;
        return NULL;
    }
    if (size == 0 || size > SIZE_MAX - sizeof(block_header)) {
        c->misuses++; /* the library never asks for 0 bytes or a wrapped size */
        return NULL;
    }
    block_header *b = malloc(sizeof *b + size);
    if (!b)
        return NULL;
    b->h.size = size;
    b->h.magic = LIVE_MAGIC;
    c->live_blocks++;
    c->live_bytes += size;
    return b + 1;
}

static void counting_free(void *ptr, void *user_data)
{
    counting_allocator *c = user_data;
    if (c != &counter || ptr == NULL) {
        counter.misuses++;
        return;
    }
    block_header *b = (block_header *)ptr - 1;
    if (b->h.magic != LIVE_MAGIC) {
        c->misuses++; /* double free, or a block that did not come from here */
        return;
    }
    b->h.magic = DEAD_MAGIC;
    c->live_blocks--;
    c->live_bytes -= b->h.size;
    free(b);
}

/* Count from zero; fail call @p fail_at (0: none), and every later one if @p onwards. */
static void arm(size_t fail_at, bool onwards)
{
    counter.calls = 0;
    counter.failed = 0;
    counter.fail_at = fail_at;
    counter.fail_onwards = onwards;
}

static void disarm(void) { counter.fail_at = 0; }

/* Preparations inside a call (saving the bytes a load reads) neither count nor fail. */
typedef struct armed_state {
    size_t calls, fail_at, failed;
    bool fail_onwards;
} armed_state;

static armed_state pause_counting(void)
{
    armed_state s = {counter.calls, counter.fail_at, counter.failed, counter.fail_onwards};
    disarm();
    return s;
}

static void resume_counting(armed_state s)
{
    counter.calls = s.calls;
    counter.fail_at = s.fail_at;
    counter.failed = s.failed;
    counter.fail_onwards = s.fail_onwards;
}

static int install_counting_allocator(void **state)
{
    (void)state;
    memset(&counter, 0, sizeof counter);
    return ae_set_allocator(counting_alloc, counting_free, &counter) == AE_OK ? 0 : -1;
}

static int restore_default_allocator(void **state)
{
    (void)state;
    disarm();
    size_t live = counter.live_blocks, misuses = counter.misuses;
    int rc = ae_set_allocator(NULL, NULL, NULL);
    if (live || misuses)
        print_error("after the test: %zu blocks still live, %zu allocator misuses\n", live, misuses);
    return rc == AE_OK && live == 0 && misuses == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------------------------- */
/* Models, data and what a call produced                                               */
/* ---------------------------------------------------------------------------------- */

#define IN 8
#define LATENT 3
#define ROWS 23
#define BIG_ROWS 2100 /* more than two inference chunks (1024 rows) */

static const ae_param ALL_PARAMS[] = {
    AE_PARAM_SEED, AE_PARAM_HIDDEN_ACTIVATION, AE_PARAM_LATENT_ACTIVATION,
    AE_PARAM_OUTPUT_ACTIVATION, AE_PARAM_LOSS, AE_PARAM_LEAKY_SLOPE, AE_PARAM_ELU_ALPHA,
    AE_PARAM_OPTIMIZER, AE_PARAM_LEARNING_RATE, AE_PARAM_MOMENTUM, AE_PARAM_NESTEROV,
    AE_PARAM_ADAM_BETA1, AE_PARAM_ADAM_BETA2, AE_PARAM_ADAM_EPSILON, AE_PARAM_WEIGHT_DECAY,
    AE_PARAM_CLIP_NORM, AE_PARAM_EPOCHS, AE_PARAM_BATCH_SIZE, AE_PARAM_SHUFFLE,
    AE_PARAM_VALIDATION_FRACTION, AE_PARAM_PATIENCE, AE_PARAM_MIN_DELTA,
    AE_PARAM_RESTORE_BEST, AE_PARAM_PROGRESS_EVERY_BATCH, AE_PARAM_SCALING,
    AE_PARAM_SPARSITY_WEIGHT, AE_PARAM_ACTIVITY_L1, AE_PARAM_CONTRACTIVE_WEIGHT,
    AE_PARAM_DROPOUT_INPUT, AE_PARAM_DROPOUT_HIDDEN, AE_PARAM_KL_WEIGHT};

typedef struct settings_snapshot {
    double values[ARRAY_LEN(ALL_PARAMS)];
} settings_snapshot;

static settings_snapshot settings_of(const ae_model *m)
{
    settings_snapshot s;
    for (size_t i = 0; i < ARRAY_LEN(ALL_PARAMS); i++)
        assert_int_equal(ae_model_get_param(m, ALL_PARAMS[i], &s.values[i]), AE_OK);
    return s;
}

/* The data every call reads: ROWS (or BIG_ROWS) rows in [0, 1], and latent codes. */
typedef struct fixture {
    float *x;      /* BIG_ROWS x IN */
    float *x_val;  /* 7 x IN */
    float *codes;  /* BIG_ROWS x LATENT */
    size_t n_rows; /* rows the inference calls use */
} fixture;

static fixture data;

static int make_data(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 2024);
    data.x = test_random_matrix(&rng, BIG_ROWS, IN, IN, 0.0f, 1.0f);
    data.x_val = test_random_matrix(&rng, 7, IN, IN, 0.0f, 1.0f);
    data.codes = test_random_matrix(&rng, BIG_ROWS, LATENT, LATENT, -1.0f, 1.0f);
    data.n_rows = ROWS;
    return data.x && data.x_val && data.codes ? 0 : -1;
}

static int free_data(void **state)
{
    (void)state;
    free(data.x);
    free(data.x_val);
    free(data.codes);
    return 0;
}

/* What one call produced, compared bit for bit between runs. */
typedef struct outcome {
    ae_model *model;   /* a model the call returned (create, clone, load) */
    float *floats;     /* an output matrix, gradient or scores (malloc'ed here) */
    size_t n_floats;
    double scalar;     /* a loss */
    ae_fit_report report;
    unsigned char *bytes; /* a saved model */
    size_t n_bytes;
} outcome;

static void outcome_free(outcome *o)
{
    ae_model_free(o->model);
    free(o->floats);
    free(o->bytes);
    memset(o, 0, sizeof *o);
}

static float *output_buffer(outcome *o, size_t n)
{
    o->floats = malloc(n * sizeof *o->floats);
    assert_non_null(o->floats);
    for (size_t i = 0; i < n; i++)
        o->floats[i] = NAN;
    o->n_floats = n;
    return o->floats;
}

static bool same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static bool same_report(const ae_fit_report *a, const ae_fit_report *b)
{
    /* everything but the timings */
    return a->size == b->size && a->epochs_run == b->epochs_run && a->steps_run == b->steps_run &&
           a->best_epoch == b->best_epoch && a->stop_reason == b->stop_reason &&
           a->restored_best == b->restored_best &&
           same_double(a->final_train_loss, b->final_train_loss) &&
           same_double(a->final_val_loss, b->final_val_loss) &&
           same_double(a->best_loss, b->best_loss);
}

/* Both have no fitted scaling, or the same one. */
static bool same_scaling(const ae_model *a, const ae_model *b)
{
    float oa[IN], sa[IN], ob[IN], sb[IN];
    int ra = ae_model_get_scaling(a, oa, sa, IN), rb = ae_model_get_scaling(b, ob, sb, IN);
    return ra == rb && (ra != AE_OK || (memcmp(oa, ob, sizeof oa) == 0 && memcmp(sa, sb, sizeof sa) == 0));
}

static bool same_model(const ae_model *a, const ae_model *b)
{
    if (ae_model_param_count(a) != ae_model_param_count(b) ||
        ae_model_layer_count(a) != ae_model_layer_count(b) ||
        ae_model_encoder_layer_count(a) != ae_model_encoder_layer_count(b) ||
        ae_model_architecture(a) != ae_model_architecture(b) ||
        (ae_model_input_dim(a) == IN && !same_scaling(a, b)))
        return false;
    settings_snapshot sa = settings_of(a), sb = settings_of(b);
    return memcmp(&sa, &sb, sizeof sa) == 0 && test_same_params(a, b);
}

static void assert_same_outcome(const char *what, const outcome *got, const outcome *want)
{
    bool same = got->n_floats == want->n_floats && same_double(got->scalar, want->scalar) &&
                same_report(&got->report, &want->report) && got->n_bytes == want->n_bytes &&
                (got->model == NULL) == (want->model == NULL);
    if (same && got->n_floats)
        same = memcmp(got->floats, want->floats, got->n_floats * sizeof *got->floats) == 0;
    if (same && got->n_bytes)
        same = memcmp(got->bytes, want->bytes, got->n_bytes) == 0;
    if (same && got->model)
        same = same_model(got->model, want->model);
    if (!same)
        fail_msg("%s: the result differs from the call on an untouched model", what);
}

/* ---------------------------------------------------------------------------------- */
/* The entry points                                                                    */
/* ---------------------------------------------------------------------------------- */

typedef int (*model_call)(ae_model *m, outcome *o);

static int call_clone(ae_model *m, outcome *o)
{
    o->model = (ae_model *)(uintptr_t)0x1; /* must be overwritten with NULL on failure */
    return ae_model_clone(m, &o->model);
}

static int call_fit(ae_model *m, outcome *o)
{
    o->report = test_new_fit_report();
    return ae_model_fit(m, data.x, ROWS, IN, &o->report);
}

static int call_fit_validated(ae_model *m, outcome *o)
{
    o->report = test_new_fit_report();
    return ae_model_fit_validated(m, data.x, ROWS, IN, data.x_val, 7, IN, &o->report);
}

/* Rows from data sources: the same rows and validation rows, a chunk at a time. */
typedef struct rows_source {
    const float *x;
    size_t rows, next;
} rows_source;

static int rows_read(void *user, float *rows, size_t n_cols, size_t max_rows, size_t *n_read)
{
    rows_source *s = user;
    size_t n = s->rows - s->next < max_rows ? s->rows - s->next : max_rows;
    memcpy(rows, s->x + s->next * n_cols, n * n_cols * sizeof(float));
    s->next += n;
    *n_read = n;
    return 0;
}

static int rows_rewind(void *user)
{
    ((rows_source *)user)->next = 0;
    return 0;
}

static int call_fit_source(ae_model *m, outcome *o)
{
    rows_source train = {data.x, ROWS, 0}, validation = {data.x_val, 7, 0};
    ae_data_source train_source = {sizeof train_source, &train, rows_read, rows_rewind};
    ae_data_source validation_source = {sizeof validation_source, &validation, rows_read, rows_rewind};
    o->report = test_new_fit_report();
    return ae_model_fit_source(m, &train_source, &validation_source, &o->report);
}

static int call_train_batch(ae_model *m, outcome *o)
{
    return ae_model_train_batch(m, data.x, ROWS, IN, &o->scalar);
}

static int call_gradient(ae_model *m, outcome *o)
{
    size_t n = ae_model_param_count(m);
    return ae_model_gradient(m, data.x, ROWS, IN, output_buffer(o, n), n, &o->scalar);
}

static int call_encode(ae_model *m, outcome *o)
{
    return ae_model_encode(m, data.x, data.n_rows, IN, output_buffer(o, data.n_rows * LATENT), LATENT);
}

static int call_decode(ae_model *m, outcome *o)
{
    return ae_model_decode(m, data.codes, data.n_rows, LATENT, output_buffer(o, data.n_rows * IN), IN);
}

static int call_reconstruct(ae_model *m, outcome *o)
{
    return ae_model_reconstruct(m, data.x, data.n_rows, IN, output_buffer(o, data.n_rows * IN), IN);
}

static int call_score(ae_model *m, outcome *o)
{
    return ae_model_score(m, data.x, data.n_rows, IN, output_buffer(o, data.n_rows));
}

static int call_loss(ae_model *m, outcome *o) { return ae_model_loss(m, data.x, data.n_rows, IN, &o->scalar); }

static int call_reset(ae_model *m, outcome *o)
{
    (void)o;
    return ae_model_reset(m);
}

static int call_set_seed(ae_model *m, outcome *o)
{
    (void)o;
    return ae_model_set_param(m, AE_PARAM_SEED, 77);
}

static int call_set_optimizer(ae_model *m, outcome *o)
{
    (void)o;
    return ae_model_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
}

static int call_set_params(ae_model *m, outcome *o)
{
    (void)o;
    size_t n = ae_model_param_count(m);
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = 0.01f * (float)(i % 17) - 0.08f;
    int rc = ae_model_set_params(m, p, n);
    free(p);
    return rc;
}

/* The calls of the variants: scaling, pre-training, transfer, variational inference. */
static int call_fit_scaling(ae_model *m, outcome *o)
{
    (void)o;
    return ae_model_fit_scaling(m, data.x, ROWS, IN);
}

static int call_pretrain(ae_model *m, outcome *o)
{
    ae_fit_report reports[4];
    size_t n = ae_model_encoder_layer_count(m);
    assert_true(n <= 4);
    for (size_t k = 0; k < n; k++)
        reports[k] = test_new_fit_report();
    int rc = ae_model_pretrain(m, data.x, ROWS, IN, reports, n);
    o->report = reports[n - 1];
    return rc;
}

static int call_export_encoder(ae_model *m, outcome *o)
{
    o->model = (ae_model *)(uintptr_t)0x1; /* must be overwritten with NULL on failure */
    return ae_model_export_encoder(m, &o->model);
}

static int call_sample(ae_model *m, outcome *o)
{
    return ae_model_sample(m, 99, data.n_rows, output_buffer(o, data.n_rows * IN), IN);
}

static int call_interpolate(ae_model *m, outcome *o)
{
    return ae_model_interpolate(m, data.x, data.x + IN, 5, output_buffer(o, 5 * IN), IN);
}

static int call_encode_distribution(ae_model *m, outcome *o)
{
    float *out = output_buffer(o, 2 * data.n_rows * LATENT);
    return ae_model_encode_distribution(m, data.x, data.n_rows, IN, out, LATENT,
                                        out + data.n_rows * LATENT, LATENT);
}

/* Saving and loading. A model file is read back into the outcome's bytes; loads read
 * the bytes of the model the driver passes, saved before the allocator is armed. */
static char save_folder[64];
static char save_path[96];

static int count_folder_entries(void)
{
    DIR *dir = opendir(save_folder);
    assert_non_null(dir);
    int n = 0;
    for (struct dirent *e = readdir(dir); e; e = readdir(dir))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(dir);
    return n;
}

static unsigned char *read_whole_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    unsigned char *bytes = malloc((size_t)n);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return bytes;
}

/* The model's bytes, saved with the default allocator's counts untouched (unarmed). */
static unsigned char *saved_bytes(const ae_model *m, unsigned flags, size_t *size)
{
    armed_state armed = pause_counting();
    assert_int_equal(ae_model_save_size(m, flags, size), AE_OK);
    unsigned char *bytes = malloc(*size);
    assert_non_null(bytes);
    size_t written = 0;
    assert_int_equal(ae_model_save_to_memory(m, flags, bytes, *size, &written), AE_OK);
    assert_int_equal(written, *size);
    resume_counting(armed);
    return bytes;
}

static int call_save_size(ae_model *m, outcome *o)
{
    size_t size = 0;
    int rc = ae_model_save_size(m, AE_SAVE_OPTIMIZER_STATE, &size);
    o->scalar = (double)size;
    return rc;
}

static int call_save_to_memory(ae_model *m, outcome *o)
{
    size_t size = 0;
    armed_state armed = pause_counting();
    assert_int_equal(ae_model_save_size(m, AE_SAVE_OPTIMIZER_STATE, &size), AE_OK);
    resume_counting(armed);
    o->bytes = calloc(size, 1);
    assert_non_null(o->bytes);
    size_t written = 0;
    int rc = ae_model_save_to_memory(m, AE_SAVE_OPTIMIZER_STATE, o->bytes, size, &written);
    o->n_bytes = rc == AE_OK ? written : 0;
    return rc;
}

/* Saves to a path that does not exist yet; a failed save must leave the folder empty
 * (no target, no temporary file). */
static int call_save(ae_model *m, outcome *o)
{
    unlink(save_path);
    assert_int_equal(count_folder_entries(), 0);
    int rc = ae_model_save(m, save_path, AE_SAVE_OPTIMIZER_STATE);
    if (rc == AE_OK) {
        o->bytes = read_whole_file(save_path, &o->n_bytes);
        unlink(save_path);
    }
    int left = count_folder_entries();
    if (left != 0)
        fail_msg("save returned %d (%s) and left %d file(s) in the folder", rc, ae_last_error(), left);
    return rc;
}

/* Saves over an existing file; a failed save must leave it as it was. */
static int call_save_over_a_file(ae_model *m, outcome *o)
{
    static const char old_content[] = "the previous file";
    FILE *f = fopen(save_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(old_content, 1, sizeof old_content, f), sizeof old_content);
    assert_int_equal(fclose(f), 0);
    int rc = ae_model_save(m, save_path, AE_SAVE_DEFAULT);
    o->bytes = read_whole_file(save_path, &o->n_bytes);
    if (rc != AE_OK && (o->n_bytes != sizeof old_content ||
                        memcmp(o->bytes, old_content, sizeof old_content) != 0))
        fail_msg("save returned %d (%s) but replaced the file", rc, ae_last_error());
    assert_int_equal(count_folder_entries(), 1);
    unlink(save_path);
    return rc;
}

static int call_load_from_memory(ae_model *m, outcome *o)
{
    size_t size = 0;
    unsigned char *bytes = saved_bytes(m, AE_SAVE_OPTIMIZER_STATE, &size);
    o->model = (ae_model *)(uintptr_t)0x1; /* must be overwritten with NULL on failure */
    int rc = ae_model_load_from_memory(&o->model, bytes, size);
    free(bytes);
    return rc;
}

static int call_load(ae_model *m, outcome *o)
{
    size_t size = 0;
    unsigned char *bytes = saved_bytes(m, AE_SAVE_OPTIMIZER_STATE, &size);
    FILE *f = fopen(save_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    free(bytes);
    o->model = (ae_model *)(uintptr_t)0x1;
    int rc = ae_model_load(&o->model, save_path);
    unlink(save_path);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* The driver                                                                          */
/* ---------------------------------------------------------------------------------- */

/* What a successful call keeps allocated (scratch cached on the model, even by const
 * calls, and optimizer state), not counting what it returns: measured on a clone of
 * @p base. */
static void kept_by_success(const ae_model *base, model_call call, size_t *blocks, size_t *bytes)
{
    ae_model *m = test_clone_model(base);
    size_t blocks_before = counter.live_blocks, bytes_before = counter.live_bytes;
    outcome o = {0};
    assert_int_equal(call(m, &o), AE_OK);
    outcome_free(&o);
    *blocks = counter.live_blocks - blocks_before;
    *bytes = counter.live_bytes - bytes_before;
    ae_model_free(m);
}

/* Fail the Nth allocation of @p call on a clone of @p base for N = 1, 2, ... until the
 * call makes fewer than N allocations, once with only that allocation failing and once
 * with it and all later ones failing. @p is_const: the call takes a const model. */
/* The model as a file with its optimizer state (malloc'ed here): a failed call leaves these
 * bytes as they were, the moments included, and the model loads from them again. */
static unsigned char *saved_with_state(const ae_model *m, size_t *n)
{
    assert_int_equal(ae_model_save_size(m, AE_SAVE_OPTIMIZER_STATE, n), AE_OK);
    unsigned char *bytes = malloc(*n);
    assert_non_null(bytes);
    assert_int_equal(ae_model_save_to_memory(m, AE_SAVE_OPTIMIZER_STATE, bytes, *n, n), AE_OK);
    ae_model *again = NULL;
    assert_int_equal(ae_model_load_from_memory(&again, bytes, *n), AE_OK);
    ae_model_free(again);
    return bytes;
}

static void check_call(const char *name, const ae_model *base, model_call call, bool is_const)
{
    disarm();
    const size_t live_at_start = counter.live_blocks;
    size_t kept_blocks, kept_bytes;
    kept_by_success(base, call, &kept_blocks, &kept_bytes);

    /* The reference: the call on an untouched clone. */
    ae_model *twin = test_clone_model(base);
    outcome want = {0};
    arm(0, false);
    int rc = call(twin, &want);
    const size_t calls = counter.calls;
    if (rc != AE_OK)
        print_error("%s: %s\n", name, ae_last_error());
    assert_int_equal(rc, AE_OK);

    for (int onwards = 0; onwards <= 1; onwards++) {
        for (size_t n = 1;; n++) {
            assert_true(n <= calls + 1);
            const size_t live_without_m = counter.live_blocks;
            ae_model *m = test_clone_model(base);
            settings_snapshot settings_before = settings_of(m);
            float *params_before = test_params_of(m);
            char model_error_before[512];
            snprintf(model_error_before, sizeof model_error_before, "%s", ae_model_last_error(m));
            size_t n_saved_before;
            unsigned char *saved_before = saved_with_state(m, &n_saved_before);
            const size_t blocks_before = counter.live_blocks, bytes_before = counter.live_bytes;

            outcome got = {0};
            arm(n, onwards);
            rc = call(m, &got);
            const bool injected = counter.failed > 0;
            disarm();

            if (!injected) {
                /* The call made fewer than n allocations: the loop is done. */
                assert_int_equal(rc, AE_OK);
                assert_same_outcome(name, &got, &want);
                assert_true(same_model(m, twin));
            } else if (rc == AE_OK) {
                /* The library may do without an allocation, but then the result is the same. */
                assert_same_outcome(name, &got, &want);
                assert_true(same_model(m, twin));
            } else {
                if (rc != AE_ERR_OUT_OF_MEMORY)
                    print_error("%s, allocation %zu%s failing: status %d (%s)\n", name, n,
                                onwards ? " and later" : "", rc, ae_last_error());
                assert_int_equal(rc, AE_ERR_OUT_OF_MEMORY);
                assert_true(strlen(ae_last_error()) > 0);
                if (is_const)
                    assert_string_equal(ae_model_last_error(m), model_error_before);
                else
                    assert_true(strlen(ae_model_last_error(m)) > 0);
                /* no half-built handle */
                assert_null(got.model);
                /* the model as it was */
                settings_snapshot settings_after = settings_of(m);
                assert_memory_equal(&settings_after, &settings_before, sizeof settings_after);
                assert_true(test_params_equal_to(m, params_before));
                /* nothing leaked: at most what a successful call keeps */
                outcome_free(&got);
                if (counter.live_blocks - blocks_before > kept_blocks ||
                    counter.live_bytes - bytes_before > kept_bytes)
                    fail_msg("%s, allocation %zu%s failing: %zu blocks (%zu bytes) more than "
                             "before the call; a successful call keeps %zu (%zu bytes)",
                             name, n, onwards ? " and later" : "", counter.live_blocks - blocks_before,
                             counter.live_bytes - bytes_before, kept_blocks, kept_bytes);
                /* the optimizer state as it was too, whole (a file that loads again) */
                size_t n_saved_after;
                unsigned char *saved_after = saved_with_state(m, &n_saved_after);
                if (n_saved_after != n_saved_before ||
                    memcmp(saved_after, saved_before, n_saved_after) != 0)
                    fail_msg("%s, allocation %zu%s failing: the model saves other bytes than "
                             "before the call (%zu, were %zu)",
                             name, n, onwards ? " and later" : "", n_saved_after, n_saved_before);
                free(saved_after);
                /* usable, and the same call now gives what it gives on an untouched model */
                rc = call(m, &got);
                if (rc != AE_OK)
                    print_error("%s after a failure: %s\n", name, ae_last_error());
                assert_int_equal(rc, AE_OK);
                assert_same_outcome(name, &got, &want);
                assert_true(same_model(m, twin));
            }
            outcome_free(&got);
            ae_model_free(m);
            free(params_before);
            free(saved_before);
            /* everything the model held went with it */
            assert_int_equal(counter.live_blocks, live_without_m);
            if (!injected)
                break;
        }
    }
    outcome_free(&want);
    ae_model_free(twin);
    assert_int_equal(counter.live_blocks, live_at_start);
    assert_int_equal(counter.misuses, 0);
}

/* ---------------------------------------------------------------------------------- */
/* Models to start from                                                                */
/* ---------------------------------------------------------------------------------- */

typedef enum base_kind {
    BASE_ADAM_SHUFFLED_WITH_VALIDATION, /* fresh; shuffle, validation fraction, restore best */
    BASE_SGD_NESTEROV_IN_ORDER,         /* fresh; no shuffle, no validation, no restore */
    BASE_PLAIN_SGD,                     /* fresh; SGD without momentum keeps no state */
    BASE_ADAMW_TRAINED_ON_SMALL_BATCHES, /* has a 4-row workspace and optimizer state */
    BASE_DEEP_UNMIRRORED_BCE            /* own decoder widths, sigmoid output, BCE */
} base_kind;

static ae_model *make_base(base_kind kind)
{
    static const size_t encoder[] = {IN, 6, LATENT};
    static const size_t deep_encoder[] = {IN, 7, 5, LATENT};
    static const size_t deep_decoder[] = {LATENT, 4, IN};
    ae_model *m = kind == BASE_DEEP_UNMIRRORED_BCE
                      ? test_create_model(deep_encoder, ARRAY_LEN(deep_encoder), deep_decoder,
                                          ARRAY_LEN(deep_decoder))
                      : test_create_model(encoder, ARRAY_LEN(encoder), NULL, 0);
    test_set_param(m, AE_PARAM_SEED, 5);
    test_set_activations(m, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_LINEAR);
    test_set_epochs_and_batch(m, 3, 5);
    switch (kind) {
    case BASE_ADAM_SHUFFLED_WITH_VALIDATION:
        test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.25);
        break;
    case BASE_SGD_NESTEROV_IN_ORDER:
        test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
        test_set_param(m, AE_PARAM_LEARNING_RATE, 0.05);
        test_set_param(m, AE_PARAM_MOMENTUM, 0.9);
        test_set_param(m, AE_PARAM_NESTEROV, 1);
        test_set_param(m, AE_PARAM_SHUFFLE, 0);
        test_set_param(m, AE_PARAM_RESTORE_BEST, 0);
        break;
    case BASE_PLAIN_SGD:
        test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
        test_set_param(m, AE_PARAM_LEARNING_RATE, 0.05);
        break;
    case BASE_ADAMW_TRAINED_ON_SMALL_BATCHES:
        test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_ADAMW);
        test_set_param(m, AE_PARAM_WEIGHT_DECAY, 0.01);
        test_set_param(m, AE_PARAM_PATIENCE, 1);
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(ae_model_train_batch(m, data.x + 4 * i * IN, 4, IN, NULL), AE_OK);
        break;
    case BASE_DEEP_UNMIRRORED_BCE:
        test_set_activations(m, AE_ACT_ELU, AE_ACT_TANH, AE_ACT_SIGMOID);
        test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
        test_set_param(m, AE_PARAM_CLIP_NORM, 0.5);
        break;
    }
    return m;
}

static const base_kind ALL_BASES[] = {BASE_ADAM_SHUFFLED_WITH_VALIDATION, BASE_SGD_NESTEROV_IN_ORDER,
                                      BASE_PLAIN_SGD, BASE_ADAMW_TRAINED_ON_SMALL_BATCHES,
                                      BASE_DEEP_UNMIRRORED_BCE};

static const char *const BASE_NAMES[] = {"adam, shuffled, validation fraction",
                                         "sgd nesterov, in order", "plain sgd",
                                         "adamw trained on small batches", "deep, unmirrored, bce"};

/* check_call on every base model. */
static void check_call_on_all_bases(const char *name, model_call call, bool is_const)
{
    for (size_t b = 0; b < ARRAY_LEN(ALL_BASES); b++) {
        ae_model *base = make_base(ALL_BASES[b]);
        char what[160];
        snprintf(what, sizeof what, "%s (%s)", name, BASE_NAMES[ALL_BASES[b]]);
        check_call(what, base, call, is_const);
        ae_model_free(base);
    }
}

/* ---------------------------------------------------------------------------------- */
/* Tests                                                                               */
/* ---------------------------------------------------------------------------------- */

static void check_create(const size_t *encoder, size_t n_encoder, const size_t *decoder,
                         size_t n_decoder)
{
    const size_t live_at_start = counter.live_blocks;
    arm(0, false);
    ae_model *want = test_create_model(encoder, n_encoder, decoder, n_decoder);
    const size_t calls = counter.calls;
    for (int onwards = 0; onwards <= 1; onwards++) {
        for (size_t n = 1;; n++) {
            assert_true(n <= calls + 1);
            const size_t live_before = counter.live_blocks;
            ae_model *m = (ae_model *)(uintptr_t)0x1;
            arm(n, onwards);
            int rc = ae_model_create(&m, encoder, n_encoder, decoder, n_decoder);
            const bool injected = counter.failed > 0;
            disarm();
            if (!injected || rc == AE_OK) {
                assert_int_equal(rc, AE_OK);
                assert_true(same_model(m, want));
                ae_model_free(m);
                assert_int_equal(counter.live_blocks, live_before);
                if (!injected)
                    break;
                continue;
            }
            if (rc != AE_ERR_OUT_OF_MEMORY)
                print_error("create, allocation %zu%s failing: status %d (%s)\n", n,
                            onwards ? " and later" : "", rc, ae_last_error());
            assert_int_equal(rc, AE_ERR_OUT_OF_MEMORY);
            assert_true(strlen(ae_last_error()) > 0);
            assert_null(m);
            assert_int_equal(counter.live_blocks, live_before);
        }
    }
    ae_model_free(want);
    assert_int_equal(counter.live_blocks, live_at_start);
}

static void test_create_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    static const size_t shallow[] = {IN, LATENT};
    static const size_t deep[] = {IN, 7, 6, 5, LATENT};
    static const size_t decoder[] = {LATENT, 9, 4, IN};
    check_create(shallow, ARRAY_LEN(shallow), NULL, 0);
    check_create(deep, ARRAY_LEN(deep), NULL, 0);
    check_create(deep, ARRAY_LEN(deep), decoder, ARRAY_LEN(decoder));
}

static void test_clone_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    check_call_on_all_bases("clone", call_clone, true);
    /* and of models holding each kind of optimizer state after training */
    static const base_kind kinds[] = {BASE_ADAM_SHUFFLED_WITH_VALIDATION, BASE_SGD_NESTEROV_IN_ORDER};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        ae_model *trained = make_base(kinds[k]);
        assert_int_equal(ae_model_fit(trained, data.x, ROWS, IN, NULL), AE_OK);
        check_call("clone of a trained model", trained, call_clone, true);
        ae_model_free(trained);
    }
}

static void test_fit_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    check_call_on_all_bases("fit", call_fit, false);
}

static void test_fit_validated_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    check_call_on_all_bases("fit_validated", call_fit_validated, false);
}

static void test_fit_source_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    /* Every base but the one with a validation fraction, which a data source refuses. */
    for (size_t b = 0; b < ARRAY_LEN(ALL_BASES); b++) {
        if (ALL_BASES[b] == BASE_ADAM_SHUFFLED_WITH_VALIDATION)
            continue;
        ae_model *base = make_base(ALL_BASES[b]);
        char what[160];
        snprintf(what, sizeof what, "fit_source (%s)", BASE_NAMES[ALL_BASES[b]]);
        check_call(what, base, call_fit_source, false);
        ae_model_free(base);
    }
}

static void test_train_batch_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    check_call_on_all_bases("train_batch", call_train_batch, false);
}

static void test_gradient_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    check_call_on_all_bases("gradient", call_gradient, false);
}

static void check_inference_calls(void)
{
    check_call_on_all_bases("encode", call_encode, true);
    check_call_on_all_bases("decode", call_decode, true);
    check_call_on_all_bases("reconstruct", call_reconstruct, true);
    check_call_on_all_bases("score", call_score, true);
    check_call_on_all_bases("loss", call_loss, true);
}

static void test_inference_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    data.n_rows = ROWS;
    check_inference_calls();
}

static void test_inference_over_several_chunks_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    data.n_rows = BIG_ROWS;
    check_inference_calls();
    data.n_rows = ROWS;
}

static void test_inference_with_a_single_layer_encoder_fails_cleanly(void **state)
{
    (void)state;
    /* one encoder layer writing straight to the caller's buffer may need no scratch */
    static const size_t widths[] = {IN, LATENT};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    check_call("encode (one layer)", m, call_encode, true);
    check_call("decode (one layer)", m, call_decode, true);
    check_call("reconstruct (one layer)", m, call_reconstruct, true);
    ae_model_free(m);
}

static void test_settings_and_weight_calls_fail_cleanly_if_they_allocate(void **state)
{
    (void)state;
    /* These need no memory today; if one ever allocates, it must fail cleanly too. */
    check_call_on_all_bases("reset", call_reset, false);
    check_call_on_all_bases("set_param(seed)", call_set_seed, false);
    check_call_on_all_bases("set_param(optimizer)", call_set_optimizer, false);
    check_call_on_all_bases("set_params", call_set_params, false);
}

static void test_set_allocator_rejects_a_lone_function_and_keeps_the_current_one(void **state)
{
    (void)state;
    assert_int_equal(ae_set_allocator(counting_alloc, NULL, &counter), AE_ERR_INVALID_ARGUMENT);
    assert_true(strlen(ae_last_error()) > 0);
    assert_int_equal(ae_set_allocator(NULL, counting_free, &counter), AE_ERR_INVALID_ARGUMENT);
    /* the counting allocator is still the one in use */
    static const size_t widths[] = {IN, LATENT};
    arm(0, false);
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    assert_true(counter.calls > 0);
    assert_true(counter.live_blocks > 0);
    ae_model_free(m);
    assert_int_equal(counter.live_blocks, 0);
}

static void test_set_allocator_with_null_functions_goes_back_to_malloc(void **state)
{
    (void)state;
    static const size_t widths[] = {IN, 6, LATENT};
    assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
    arm(0, false);
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    assert_int_equal(ae_model_fit(m, data.x, ROWS, IN, NULL), AE_OK);
    ae_model_free(m);
    assert_int_equal(counter.calls, 0);
    assert_int_equal(ae_set_allocator(counting_alloc, counting_free, &counter), AE_OK);
}

static void test_every_block_is_freed_through_the_hook_with_its_user_data(void **state)
{
    (void)state;
    /* counting_free checks the user data and every pointer it is given */
    ae_model *m = make_base(BASE_ADAM_SHUFFLED_WITH_VALIDATION);
    assert_true(counter.live_blocks > 0);
    assert_int_equal(ae_model_fit(m, data.x, ROWS, IN, NULL), AE_OK);
    ae_model *copy = test_clone_model(m);
    ae_model_free(m);
    ae_model_free(copy);
    assert_int_equal(counter.live_blocks, 0);
    assert_int_equal(counter.live_bytes, 0);
    assert_int_equal(counter.misuses, 0);
}

/* An allocator whose blocks start a chosen number of bytes past a 64-byte line (a multiple of
 * 16, so aligned as malloc's are), to show that where the caller's blocks fall changes
 * nothing the library computes and that every block goes back to it whole. */
typedef struct placed_header {
    void *raw;
    uint64_t magic;
} placed_header;

typedef struct placing_allocator {
    size_t offset; /* bytes past a line where each block starts */
    size_t live_blocks, misuses;
} placing_allocator;

static void *placing_alloc(size_t size, void *user_data)
{
    placing_allocator *a = user_data;
    if (size == 0 || size > SIZE_MAX - sizeof(placed_header) - 128) {
        a->misuses++;
        return NULL;
    }
    unsigned char *raw = malloc(size + sizeof(placed_header) + 128);
    if (!raw)
        return NULL;
    uintptr_t block = (uintptr_t)(raw + sizeof(placed_header));
    block += (a->offset + 64 - block % 64) % 64;
    placed_header *h = (placed_header *)block - 1;
    h->raw = raw;
    h->magic = LIVE_MAGIC;
    a->live_blocks++;
    return (void *)block;
}

static void placing_free(void *ptr, void *user_data)
{
    placing_allocator *a = user_data;
    placed_header *h = ptr ? (placed_header *)ptr - 1 : NULL;
    if (!h || h->magic != LIVE_MAGIC) {
        a->misuses++;
        return;
    }
    h->magic = DEAD_MAGIC;
    a->live_blocks--;
    free(h->raw);
}

/* What a few training steps (256 rows, which a model on two threads splits by rows) and
 * encodes (a big call through a scratch block, and one row on the call's stack) produce. */
enum { PLACED_ROWS = 256, PLACED_IN = 30, PLACED_LATENT = 4 };

typedef struct placed_results {
    float params[2048];
    float codes[PLACED_ROWS * PLACED_LATENT];
    float one_code[PLACED_LATENT];
    double loss;
} placed_results;

static void train_and_encode(const float *x, placed_results *r)
{
    const size_t widths[] = {PLACED_IN, 16, PLACED_LATENT};
    ae_model *m = NULL;
    assert_int_equal(ae_model_create(&m, widths, 3, NULL, 0), AE_OK);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID), AE_OK);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE), AE_OK);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_DROPOUT_HIDDEN, 0.1), AE_OK);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_THREADS, 2), AE_OK);
    for (int step = 0; step < 3; step++)
        assert_int_equal(ae_model_train_batch(m, x, PLACED_ROWS, PLACED_IN, &r->loss), AE_OK);
    const size_t n = ae_model_param_count(m);
    assert_true(n <= ARRAY_LEN(r->params));
    assert_int_equal(ae_model_get_params(m, r->params, n), AE_OK);
    assert_int_equal(ae_model_encode(m, x, PLACED_ROWS, PLACED_IN, r->codes, PLACED_LATENT), AE_OK);
    assert_int_equal(ae_model_encode(m, x, 1, PLACED_IN, r->one_code, PLACED_LATENT), AE_OK);
    ae_model_free(m);
}

static void test_results_are_the_same_wherever_the_allocator_places_its_blocks(void **state)
{
    (void)state;
    float *x = malloc(PLACED_ROWS * PLACED_IN * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < PLACED_ROWS * PLACED_IN; i++)
        x[i] = (float)((i * 2654435761u) % 1000u) / 1000.0f;
    static placed_results with_malloc, placed;
    memset(&with_malloc, 0, sizeof with_malloc);
    assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
    train_and_encode(x, &with_malloc);
    for (size_t offset = 0; offset < 64; offset += 16) {
        placing_allocator a = {.offset = offset};
        memset(&placed, 0, sizeof placed);
        assert_int_equal(ae_set_allocator(placing_alloc, placing_free, &a), AE_OK);
        train_and_encode(x, &placed);
        assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
        assert_int_equal(a.live_blocks, 0);
        assert_int_equal(a.misuses, 0);
        assert_memory_equal(&placed, &with_malloc, sizeof placed);
    }
    free(x);
    assert_int_equal(ae_set_allocator(counting_alloc, counting_free, &counter), AE_OK);
}

/* A program may change the allocator while it holds models (say, to count one call's
 * allocations): every block still goes back to the allocator that gave it, with that
 * allocator's user data, and a model's later blocks come from the allocator in use then. */
static void test_each_block_goes_back_to_its_own_allocator_when_the_allocator_changes(void **state)
{
    (void)state;
    static const size_t widths[] = {IN, 6, LATENT};
    placing_allocator first = {.offset = 16}, second = {.offset = 48};
    arm(0, false);
    ae_model *counted = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
    ae_model *from_malloc = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    assert_int_equal(ae_set_allocator(placing_alloc, placing_free, &first), AE_OK);
    ae_model *placed = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    assert_true(first.live_blocks > 0);
    /* each trains (its optimizer state and workspace from the allocator in use) and is freed
     * under an allocator other than the one it was made with */
    assert_int_equal(ae_set_allocator(placing_alloc, placing_free, &second), AE_OK);
    assert_int_equal(ae_model_fit(counted, data.x, ROWS, IN, NULL), AE_OK);
    assert_int_equal(ae_model_fit(from_malloc, data.x, ROWS, IN, NULL), AE_OK);
    assert_int_equal(ae_model_fit(placed, data.x, ROWS, IN, NULL), AE_OK);
    assert_true(second.live_blocks > 0);
    ae_model_free(placed);
    assert_int_equal(ae_set_allocator(counting_alloc, counting_free, &counter), AE_OK);
    ae_model_free(counted);
    assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
    ae_model_free(from_malloc);
    assert_int_equal(first.live_blocks, 0);
    assert_int_equal(second.live_blocks, 0);
    assert_int_equal(first.misuses + second.misuses, 0);
    assert_int_equal(counter.live_blocks, 0);
    assert_int_equal(counter.misuses, 0);
    assert_int_equal(ae_set_allocator(counting_alloc, counting_free, &counter), AE_OK);
}

static int make_save_folder(void **state)
{
    if (install_counting_allocator(state) != 0)
        return -1;
    snprintf(save_folder, sizeof save_folder, "%s", "/tmp/ae_alloc_failures_XXXXXX");
    if (!mkdtemp(save_folder))
        return -1;
    snprintf(save_path, sizeof save_path, "%s/model.aemodel", save_folder);
    return 0;
}

static int remove_save_folder(void **state)
{
    unlink(save_path);
    int rc = rmdir(save_folder);
    return restore_default_allocator(state) == 0 && rc == 0 ? 0 : -1;
}

static void test_save_size_and_save_to_memory_fail_cleanly_if_they_allocate(void **state)
{
    (void)state;
    check_call_on_all_bases("save_size", call_save_size, true);
    check_call_on_all_bases("save_to_memory", call_save_to_memory, true);
}

static void test_save_fails_cleanly_at_every_allocation_leaving_no_file(void **state)
{
    (void)state;
    check_call_on_all_bases("save", call_save, true);
}

static void test_save_over_a_file_fails_cleanly_at_every_allocation_keeping_the_old_file(void **state)
{
    (void)state;
    check_call_on_all_bases("save over a file", call_save_over_a_file, true);
}

/* ---------------------------------------------------------------------------------- */
/* Variants                                                                            */
/* ---------------------------------------------------------------------------------- */

typedef enum variant_kind {
    VARIANT_TIED_STANDARDIZED_REGULARISED, /* tied weights, scaling not yet fitted, dropout,
                                              contractive and L1 penalties */
    VARIANT_VARIATIONAL_MINMAX,            /* variational, min-max scaling fitted, KL warm-up,
                                              hidden dropout */
    VARIANT_SPARSE_HIDDEN                  /* KL sparsity on a sigmoid hidden layer */
} variant_kind;

static ae_model *make_variant(variant_kind kind)
{
    static const size_t encoder[] = {IN, 6, LATENT};
    static const unsigned architecture[] = {AE_ARCH_TIED_WEIGHTS, AE_ARCH_VARIATIONAL, AE_ARCH_PLAIN};
    ae_model *m = NULL;
    assert_int_equal(ae_model_create_ex(&m, encoder, ARRAY_LEN(encoder), NULL, 0, architecture[kind]),
                     AE_OK);
    test_set_param(m, AE_PARAM_SEED, 11);
    test_set_epochs_and_batch(m, 2, 5);
    switch (kind) {
    case VARIANT_TIED_STANDARDIZED_REGULARISED:
        test_set_activations(m, AE_ACT_TANH, AE_ACT_TANH, AE_ACT_LINEAR);
        test_set_param(m, AE_PARAM_SCALING, AE_SCALING_STANDARDIZE);
        test_set_param(m, AE_PARAM_DROPOUT_INPUT, 0.2);
        test_set_param(m, AE_PARAM_DROPOUT_HIDDEN, 0.3);
        test_set_param(m, AE_PARAM_CONTRACTIVE_WEIGHT, 0.1);
        test_set_param(m, AE_PARAM_ACTIVITY_L1, 0.01);
        break;
    case VARIANT_VARIATIONAL_MINMAX:
        test_set_activations(m, AE_ACT_ELU, AE_ACT_LINEAR, AE_ACT_SIGMOID);
        test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
        test_set_param(m, AE_PARAM_SCALING, AE_SCALING_MINMAX);
        test_set_param(m, AE_PARAM_KL_WARMUP_EPOCHS, 2);
        test_set_param(m, AE_PARAM_DROPOUT_HIDDEN, 0.25);
        assert_int_equal(ae_model_fit_scaling(m, data.x, BIG_ROWS, IN), AE_OK);
        break;
    case VARIANT_SPARSE_HIDDEN:
        test_set_activations(m, AE_ACT_SIGMOID, AE_ACT_LINEAR, AE_ACT_LINEAR);
        test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.5);
        test_set_param(m, AE_PARAM_SPARSITY_LAYER, 0);
        break;
    }
    return m;
}

static const char *const VARIANT_NAMES[] = {"tied, standardised, regularised",
                                            "variational, min-max", "sparse hidden layer"};

static void check_call_on_variants(const char *name, model_call call, bool is_const,
                                   const variant_kind *kinds, size_t n_kinds)
{
    for (size_t k = 0; k < n_kinds; k++) {
        ae_model *base = make_variant(kinds[k]);
        char what[160];
        snprintf(what, sizeof what, "%s (%s)", name, VARIANT_NAMES[kinds[k]]);
        check_call(what, base, call, is_const);
        ae_model_free(base);
    }
}

static const variant_kind ALL_VARIANTS[] = {VARIANT_TIED_STANDARDIZED_REGULARISED,
                                            VARIANT_VARIATIONAL_MINMAX, VARIANT_SPARSE_HIDDEN};

static void test_variant_training_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    check_call_on_variants("fit", call_fit, false, ALL_VARIANTS, ARRAY_LEN(ALL_VARIANTS));
    check_call_on_variants("clone", call_clone, true, ALL_VARIANTS, ARRAY_LEN(ALL_VARIANTS));
    static const variant_kind fitted[] = {VARIANT_VARIATIONAL_MINMAX, VARIANT_SPARSE_HIDDEN};
    check_call_on_variants("train_batch", call_train_batch, false, fitted, ARRAY_LEN(fitted));
    check_call_on_variants("gradient", call_gradient, false, fitted, ARRAY_LEN(fitted));
    check_call_on_variants("fit_scaling", call_fit_scaling, false, ALL_VARIANTS, 2);
}

static void test_variant_inference_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    static const variant_kind fitted[] = {VARIANT_VARIATIONAL_MINMAX, VARIANT_SPARSE_HIDDEN};
    static const variant_kind variational[] = {VARIANT_VARIATIONAL_MINMAX};
    data.n_rows = BIG_ROWS;
    check_call_on_variants("encode", call_encode, true, fitted, ARRAY_LEN(fitted));
    check_call_on_variants("reconstruct", call_reconstruct, true, fitted, ARRAY_LEN(fitted));
    check_call_on_variants("score", call_score, true, fitted, ARRAY_LEN(fitted));
    check_call_on_variants("encode_distribution", call_encode_distribution, true, variational, 1);
    check_call_on_variants("sample", call_sample, true, variational, 1);
    data.n_rows = ROWS;
    check_call_on_variants("interpolate", call_interpolate, true, fitted, ARRAY_LEN(fitted));
    check_call_on_variants("export_encoder", call_export_encoder, true, fitted, ARRAY_LEN(fitted));
}

static void test_pretrain_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    check_call_on_variants("pretrain", call_pretrain, false, ALL_VARIANTS, 1);
    check_call_on_variants("pretrain", call_pretrain, false, ALL_VARIANTS + 2, 1);
}

static void test_variant_files_fail_cleanly_at_every_allocation(void **state)
{
    (void)state;
    static const variant_kind fitted[] = {VARIANT_VARIATIONAL_MINMAX, VARIANT_SPARSE_HIDDEN};
    check_call_on_variants("save_to_memory", call_save_to_memory, true, fitted, ARRAY_LEN(fitted));
    check_call_on_variants("load_from_memory", call_load_from_memory, true, ALL_VARIANTS,
                           ARRAY_LEN(ALL_VARIANTS));
}

static void test_load_from_memory_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    check_call_on_all_bases("load_from_memory", call_load_from_memory, true);
}

static void test_load_fails_cleanly_at_every_allocation(void **state)
{
    (void)state;
    check_call_on_all_bases("load", call_load, true);
}

#define ALLOC_TEST(fn) cmocka_unit_test_setup_teardown(fn, install_counting_allocator, restore_default_allocator)
#define FILE_TEST(fn) cmocka_unit_test_setup_teardown(fn, make_save_folder, remove_save_folder)

int main(void)
{
    const struct CMUnitTest tests[] = {
        ALLOC_TEST(test_set_allocator_rejects_a_lone_function_and_keeps_the_current_one),
        ALLOC_TEST(test_set_allocator_with_null_functions_goes_back_to_malloc),
        ALLOC_TEST(test_every_block_is_freed_through_the_hook_with_its_user_data),
        ALLOC_TEST(test_results_are_the_same_wherever_the_allocator_places_its_blocks),
        ALLOC_TEST(test_each_block_goes_back_to_its_own_allocator_when_the_allocator_changes),
        ALLOC_TEST(test_create_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_clone_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_fit_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_fit_validated_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_fit_source_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_train_batch_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_gradient_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_inference_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_inference_over_several_chunks_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_inference_with_a_single_layer_encoder_fails_cleanly),
        ALLOC_TEST(test_settings_and_weight_calls_fail_cleanly_if_they_allocate),
        FILE_TEST(test_save_size_and_save_to_memory_fail_cleanly_if_they_allocate),
        FILE_TEST(test_save_fails_cleanly_at_every_allocation_leaving_no_file),
        FILE_TEST(test_save_over_a_file_fails_cleanly_at_every_allocation_keeping_the_old_file),
        FILE_TEST(test_load_from_memory_fails_cleanly_at_every_allocation),
        FILE_TEST(test_load_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_variant_training_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_variant_inference_fails_cleanly_at_every_allocation),
        ALLOC_TEST(test_pretrain_fails_cleanly_at_every_allocation),
        FILE_TEST(test_variant_files_fail_cleanly_at_every_allocation),
    };
    return cmocka_run_group_tests(tests, make_data, free_data);
}
