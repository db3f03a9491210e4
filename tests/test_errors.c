/* Bad input on every public function: the right status, a message (naming row and column
 * for bad data), the model left exactly as it was and still usable. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The fixture's model: 6-4-2 encoder, mirrored decoder (layers 4x6, 2x4, 4x2, 6x4). */
enum { IN = 6, HID = 4, LAT = 2, ROWS = 12, N_LAYERS = 4 };

static const size_t WIDTHS[] = {IN, HID, LAT};
static const size_t LAYER_OUT[N_LAYERS] = {HID, LAT, HID, IN};
static const size_t LAYER_IN[N_LAYERS] = {IN, HID, LAT, HID};

/* ---------------------------------------------------------------------------------- */
/* Fixture and helpers                                                                 */
/* ---------------------------------------------------------------------------------- */

typedef struct fixture {
    ae_model *model;
    float *x; /* ROWS x IN, ld IN, values in [0, 1) */
    size_t n_params;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    if (ae_model_create(&f->model, WIDTHS, ARRAY_LEN(WIDTHS), NULL, 0) != AE_OK) {
        free(f);
        return -1;
    }
    /* Batches of 4 so that a fit takes several steps. */
    if (ae_model_set_param(f->model, AE_PARAM_BATCH_SIZE, 4) != AE_OK ||
        ae_model_set_param(f->model, AE_PARAM_EPOCHS, 2) != AE_OK)
        return -1;
    test_rng rng;
    test_rng_seed(&rng, 2024);
    f->x = test_random_matrix(&rng, ROWS, IN, IN, 0.0f, 1.0f);
    f->n_params = ae_model_param_count(f->model);
    *state = f;
    return f->x && f->n_params == HID * IN + LAT * HID + HID * LAT + IN * HID + HID + LAT + HID + IN
               ? 0
               : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ae_model_free(f->model);
    free(f->x);
    free(f);
    return 0;
}

/* Replace the fixture's model by a new one (fresh weights, fixture settings). */
static void renew_model(fixture *f)
{
    ae_model_free(f->model);
    f->model = NULL;
    f->model = test_create_model(WIDTHS, ARRAY_LEN(WIDTHS), NULL, 0);
    test_set_param(f->model, AE_PARAM_BATCH_SIZE, 4);
    test_set_param(f->model, AE_PARAM_EPOCHS, 2);
}

/* A copy of the fixture's data with one cell replaced. */
static float *data_with(const fixture *f, size_t row, size_t col, float value)
{
    float *x = malloc(ROWS * IN * sizeof *x);
    assert_non_null(x);
    memcpy(x, f->x, ROWS * IN * sizeof *x);
    x[row * IN + col] = value;
    return x;
}

static const ae_param ALL_PARAMS[] = {
    AE_PARAM_SEED, AE_PARAM_HIDDEN_ACTIVATION, AE_PARAM_LATENT_ACTIVATION,
    AE_PARAM_OUTPUT_ACTIVATION, AE_PARAM_LOSS, AE_PARAM_LEAKY_SLOPE, AE_PARAM_ELU_ALPHA,
    AE_PARAM_OPTIMIZER, AE_PARAM_LEARNING_RATE, AE_PARAM_MOMENTUM, AE_PARAM_NESTEROV,
    AE_PARAM_ADAM_BETA1, AE_PARAM_ADAM_BETA2, AE_PARAM_ADAM_EPSILON, AE_PARAM_WEIGHT_DECAY,
    AE_PARAM_CLIP_NORM, AE_PARAM_EPOCHS, AE_PARAM_BATCH_SIZE, AE_PARAM_SHUFFLE,
    AE_PARAM_VALIDATION_FRACTION, AE_PARAM_PATIENCE, AE_PARAM_MIN_DELTA, AE_PARAM_RESTORE_BEST,
    AE_PARAM_PROGRESS_EVERY_BATCH};

/* What a failed call must leave alone: parameters, settings, and (through a clone taken
 * before the call) optimizer and generator state. */
typedef struct snapshot {
    float *params;
    double settings[ARRAY_LEN(ALL_PARAMS)];
    ae_model *twin;
} snapshot;

static snapshot take_snapshot(const ae_model *m)
{
    snapshot s;
    s.params = test_params_of(m);
    for (size_t i = 0; i < ARRAY_LEN(ALL_PARAMS); i++)
        assert_int_equal(ae_model_get_param(m, ALL_PARAMS[i], &s.settings[i]), AE_OK);
    s.twin = test_clone_model(m);
    return s;
}

/* The model's parameters and settings are bitwise those of the snapshot. */
static void assert_params_and_settings_match(const ae_model *m, const snapshot *s)
{
    size_t n = ae_model_param_count(m);
    float *now = test_params_of(m);
    assert_memory_equal(now, s->params, n * sizeof *now);
    free(now);
    for (size_t i = 0; i < ARRAY_LEN(ALL_PARAMS); i++) {
        double v;
        assert_int_equal(ae_model_get_param(m, ALL_PARAMS[i], &v), AE_OK);
        assert_true(memcmp(&v, &s->settings[i], sizeof v) == 0);
    }
}

/* The model holds the snapshot's parameters and settings, and valid calls succeed:
 * inference works, and training it and the twin taken before the failure on the same
 * data gives bit-identical weights (so no hidden state moved either). Frees the snapshot. */
static void assert_untouched_and_usable(fixture *f, snapshot *s)
{
    ae_model *m = f->model;
    assert_int_equal(ae_model_param_count(m), f->n_params);
    assert_params_and_settings_match(m, s);
    float z[ROWS * LAT];
    assert_int_equal(ae_model_encode(m, f->x, ROWS, IN, z, LAT), AE_OK);

    /* A BCE model without a sigmoid output cannot train: make it trainable on both. */
    double loss_kind, out_act;
    assert_int_equal(ae_model_get_param(m, AE_PARAM_LOSS, &loss_kind), AE_OK);
    assert_int_equal(ae_model_get_param(m, AE_PARAM_OUTPUT_ACTIVATION, &out_act), AE_OK);
    if (loss_kind == AE_LOSS_BCE && out_act != AE_ACT_SIGMOID) {
        test_set_param(m, AE_PARAM_LOSS, AE_LOSS_MSE);
        test_set_param(s->twin, AE_PARAM_LOSS, AE_LOSS_MSE);
    }
    double loss = NAN;
    assert_int_equal(ae_model_loss(m, f->x, ROWS, IN, &loss), AE_OK);
    assert_true(isfinite(loss));
    ae_fit_report r1 = test_new_fit_report();
    ae_fit_report r2 = test_new_fit_report();
    int rc = ae_model_fit(m, f->x, ROWS, IN, &r1);
    if (rc != AE_OK)
        print_error("fit after a failure: %s\n", ae_model_last_error(m));
    assert_int_equal(rc, AE_OK);
    assert_int_equal(ae_model_fit(s->twin, f->x, ROWS, IN, &r2), AE_OK);
    assert_true(test_same_params(m, s->twin));
    assert_true(r1.final_train_loss == r2.final_train_loss);
    assert_int_equal(r1.steps_run, r2.steps_run);
    ae_model_free(s->twin);
    free(s->params);
}

/* After failed attempts to set weights: parameters and settings as in the snapshot, and
 * the weights still "fresh" (a failed set changes nothing the caller can see), so a new
 * seed redraws them exactly as on a new model. Frees the snapshot. */
static void assert_untouched_and_still_fresh(fixture *f, snapshot *s)
{
    ae_model *m = f->model;
    assert_params_and_settings_match(m, s);
    ae_model_free(s->twin);
    free(s->params);
    ae_model *ref = test_create_model(WIDTHS, ARRAY_LEN(WIDTHS), NULL, 0);
    test_set_param(ref, AE_PARAM_SEED, 12345);
    test_set_param(m, AE_PARAM_SEED, 12345);
    assert_true(test_same_params(m, ref));
    ae_model_free(ref);
    assert_int_equal(ae_model_train_batch(m, f->x, ROWS, IN, NULL), AE_OK);
}

/* Does @p msg contain @p word followed by spaces and exactly the number @p value? */
static int names_number(const char *msg, const char *word, size_t value)
{
    size_t len = strlen(word);
    for (const char *p = strstr(msg, word); p; p = strstr(p + 1, word)) {
        const char *q = p + len;
        while (*q == ' ')
            q++;
        if (*q < '0' || *q > '9')
            continue;
        size_t parsed = 0;
        while (*q >= '0' && *q <= '9')
            parsed = parsed * 10 + (size_t)(*q++ - '0');
        if (parsed == value)
            return 1;
    }
    return 0;
}

static void assert_names_cell(const char *msg, size_t row, size_t col)
{
    assert_non_null(msg);
    if (!names_number(msg, "row", row) || !names_number(msg, "column", col))
        print_error("message \"%s\" should name row %zu, column %zu\n", msg, row, col);
    assert_true(names_number(msg, "row", row));
    assert_true(names_number(msg, "column", col));
}

static void assert_has_message(const char *msg)
{
    assert_non_null(msg);
    assert_true(strlen(msg) > 0);
}

/* The functions that read a data matrix and check its values. */
typedef enum call_kind {
    CALL_FIT,
    CALL_FIT_VALIDATED_TRAIN, /* bad data in the training rows */
    CALL_FIT_VALIDATED_VAL,   /* bad data in the validation rows */
    CALL_TRAIN_BATCH,
    CALL_GRADIENT,
    CALL_LOSS,  /* const */
    CALL_SCORE, /* const */
    N_CALL_KINDS
} call_kind;

static const char *const CALL_NAMES[] = {"fit", "fit_validated(train)", "fit_validated(val)",
                                         "train_batch", "gradient", "loss", "score"};

static int is_const_call(call_kind k) { return k == CALL_LOSS || k == CALL_SCORE; }

static int call_on_data(fixture *f, call_kind k, const float *data)
{
    ae_model *m = f->model;
    switch (k) {
    case CALL_FIT: {
        ae_fit_report r = test_new_fit_report();
        return ae_model_fit(m, data, ROWS, IN, &r);
    }
    case CALL_FIT_VALIDATED_TRAIN:
        return ae_model_fit_validated(m, data, ROWS, IN, f->x, 4, IN, NULL);
    case CALL_FIT_VALIDATED_VAL:
        return ae_model_fit_validated(m, f->x, ROWS, IN, data, ROWS, IN, NULL);
    case CALL_TRAIN_BATCH: {
        double loss = 0;
        return ae_model_train_batch(m, data, ROWS, IN, &loss);
    }
    case CALL_GRADIENT: {
        float *g = malloc(f->n_params * sizeof *g);
        assert_non_null(g);
        int rc = ae_model_gradient(m, data, ROWS, IN, g, f->n_params, NULL);
        free(g);
        return rc;
    }
    case CALL_LOSS: {
        double loss = 0;
        return ae_model_loss(m, data, ROWS, IN, &loss);
    }
    case CALL_SCORE: {
        float scores[ROWS];
        return ae_model_score(m, data, ROWS, IN, scores);
    }
    default:
        fail();
    }
    return 0;
}

/* Call @p k on data holding @p value at (@p row, @p col); expect @p status with the cell
 * named in the messages, and the model untouched and usable. */
static void expect_bad_cell(fixture *f, call_kind k, size_t row, size_t col, float value,
                            int status)
{
    float *data = data_with(f, row, col, value);
    snapshot s = take_snapshot(f->model);
    char model_msg_before[512];
    snprintf(model_msg_before, sizeof model_msg_before, "%s", ae_model_last_error(f->model));
    int rc = call_on_data(f, k, data);
    if (rc != status)
        print_error("%s with %g at row %zu, column %zu: status %d (%s), expected %d\n",
                    CALL_NAMES[k], (double)value, row, col, rc, ae_last_error(), status);
    assert_int_equal(rc, status);
    assert_names_cell(ae_last_error(), row, col);
    if (is_const_call(k))
        /* A const call does not write to the model. */
        assert_string_equal(ae_model_last_error(f->model), model_msg_before);
    else
        assert_names_cell(ae_model_last_error(f->model), row, col);
    assert_untouched_and_usable(f, &s);
    free(data);
}

/* ---------------------------------------------------------------------------------- */
/* ae_model_create                                                                     */
/* ---------------------------------------------------------------------------------- */

static int dummy_model_storage;
#define NOT_NULL_MODEL ((ae_model *)(void *)&dummy_model_storage)

/* Expect @p status from create and *out set to NULL. */
static void expect_create(int status, const size_t *enc, size_t n_enc, const size_t *dec,
                          size_t n_dec)
{
    ae_model *m = NOT_NULL_MODEL;
    int rc = ae_model_create(&m, enc, n_enc, dec, n_dec);
    if (rc != status)
        print_error("create: status %d (%s), expected %d\n", rc, ae_last_error(), status);
    assert_int_equal(rc, status);
    assert_null(m);
    assert_has_message(ae_last_error());
}

static void test_create_rejects_null_out(void **state)
{
    (void)state;
    assert_int_equal(ae_model_create(NULL, WIDTHS, ARRAY_LEN(WIDTHS), NULL, 0),
                     AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_last_error());
}

static void test_create_rejects_null_encoder_widths(void **state)
{
    (void)state;
    expect_create(AE_ERR_INVALID_ARGUMENT, NULL, 3, NULL, 0);
    expect_create(AE_ERR_INVALID_ARGUMENT, NULL, 0, NULL, 0);
}

static void test_create_rejects_fewer_than_two_encoder_widths(void **state)
{
    (void)state;
    static const size_t one[] = {5};
    expect_create(AE_ERR_INVALID_ARGUMENT, one, 0, NULL, 0);
    expect_create(AE_ERR_INVALID_ARGUMENT, one, 1, NULL, 0);
}

static void test_create_rejects_zero_widths(void **state)
{
    (void)state;
    static const size_t zero_in[] = {0, 4, 2};
    static const size_t zero_hidden[] = {6, 0, 2};
    static const size_t zero_latent[] = {6, 4, 0};
    static const size_t all_zero[] = {0, 0};
    expect_create(AE_ERR_INVALID_ARGUMENT, zero_in, 3, NULL, 0);
    expect_create(AE_ERR_INVALID_ARGUMENT, zero_hidden, 3, NULL, 0);
    expect_create(AE_ERR_INVALID_ARGUMENT, zero_latent, 3, NULL, 0);
    expect_create(AE_ERR_INVALID_ARGUMENT, all_zero, 2, NULL, 0);
    static const size_t dec_zero_hidden[] = {2, 0, 6};
    expect_create(AE_ERR_INVALID_ARGUMENT, WIDTHS, 3, dec_zero_hidden, 3);
}

static void test_create_rejects_decoder_not_starting_at_latent(void **state)
{
    (void)state;
    static const size_t dec[] = {3, 4, 6};
    static const size_t dec_input_first[] = {6, 4, 6};
    expect_create(AE_ERR_INVALID_ARGUMENT, WIDTHS, 3, dec, 3);
    expect_create(AE_ERR_INVALID_ARGUMENT, WIDTHS, 3, dec_input_first, 3);
}

static void test_create_rejects_decoder_not_ending_at_input(void **state)
{
    (void)state;
    static const size_t dec[] = {2, 4, 5};
    static const size_t dec_latent_last[] = {2, 4, 2};
    expect_create(AE_ERR_INVALID_ARGUMENT, WIDTHS, 3, dec, 3);
    expect_create(AE_ERR_INVALID_ARGUMENT, WIDTHS, 3, dec_latent_last, 3);
}

static void test_create_rejects_inconsistent_decoder_count(void **state)
{
    (void)state;
    static const size_t dec_one[] = {2};
    /* A one-width decoder has no layer; a NULL decoder needs a zero count. */
    expect_create(AE_ERR_INVALID_ARGUMENT, WIDTHS, 3, dec_one, 1);
    expect_create(AE_ERR_INVALID_ARGUMENT, WIDTHS, 3, NULL, 3);
}

static void test_create_refuses_models_beyond_the_limits(void **state)
{
    (void)state;
    /* Widths whose products would overflow size_t are far beyond the width limit. */
    const size_t a[] = {SIZE_MAX / 2, 4};
    const size_t b[] = {4, SIZE_MAX / 2};
    const size_t c[] = {3, SIZE_MAX, 3};
    const size_t enc[] = {4, 2};
    const size_t dec[] = {2, SIZE_MAX / 2, 4};
    /* One past the limit, in the encoder and in an explicit decoder. */
    const size_t wide[] = {4, (size_t)AE_MAX_LAYER_WIDTH + 1};
    const size_t wide_dec[] = {2, (size_t)AE_MAX_LAYER_WIDTH + 1, 4};
    /* A variational latent layer holds two values per code unit. */
    const size_t wide_code[] = {4, (size_t)AE_MAX_LAYER_WIDTH / 2 + 1};
    expect_create(AE_ERR_INVALID_ARGUMENT, a, 2, NULL, 0);
    expect_create(AE_ERR_INVALID_ARGUMENT, b, 2, NULL, 0);
    expect_create(AE_ERR_INVALID_ARGUMENT, c, 3, NULL, 0);
    expect_create(AE_ERR_INVALID_ARGUMENT, enc, 2, dec, 3);
    expect_create(AE_ERR_INVALID_ARGUMENT, wide, 2, NULL, 0);
    expect_create(AE_ERR_INVALID_ARGUMENT, enc, 2, wide_dec, 3);
    ae_model *m = NULL;
    assert_int_equal(ae_model_create_ex(&m, wide_code, 2, NULL, 0, AE_ARCH_VARIATIONAL),
                     AE_ERR_INVALID_ARGUMENT);
    assert_null(m);
    assert_non_null(strstr(ae_last_error(), "AE_MAX_LAYER_WIDTH"));

    /* Layer counts: 2049 widths mirrored make 4096 layers, 2050 make 4098. */
    size_t widths[2050];
    for (size_t i = 0; i < 2050; i++)
        widths[i] = 1;
    expect_create(AE_ERR_INVALID_ARGUMENT, widths, 2050, NULL, 0);
    assert_non_null(strstr(ae_last_error(), "AE_MAX_LAYERS"));
    /* An explicit decoder counts too: 2048 encoder layers and 2049 decoder layers. */
    expect_create(AE_ERR_INVALID_ARGUMENT, widths, 2049, widths, 2050);
    assert_int_equal(ae_max_layers(), AE_MAX_LAYERS);
    assert_int_equal(ae_max_layer_width(), AE_MAX_LAYER_WIDTH);
    /* A count beyond any model is refused before the entries are read: three widths at the
     * end of a page followed by one that may not be read, passed with huge counts. */
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(pages != MAP_FAILED);
    assert_int_equal(mprotect(pages + page, page, PROT_NONE), 0);
    size_t *three = (size_t *)(void *)(pages + page) - 3;
    three[0] = 4, three[1] = 3, three[2] = 2;
    static const size_t counts[] = {SIZE_MAX, (size_t)AE_MAX_LAYERS + 2, 4100};
    for (size_t k = 0; k < ARRAY_LEN(counts); k++) {
        expect_create(AE_ERR_INVALID_ARGUMENT, three, counts[k], NULL, 0);
        assert_non_null(strstr(ae_last_error(), "AE_MAX_LAYERS"));
        three[0] = 2, three[2] = 4; /* a decoder from enc's latent width 2 to its input 4 */
        expect_create(AE_ERR_INVALID_ARGUMENT, enc, 2, three, counts[k]);
        assert_non_null(strstr(ae_last_error(), "AE_MAX_LAYERS"));
        three[0] = 4, three[2] = 2;
    }
    assert_int_equal(munmap(pages, 2 * page), 0);

    /* At the limit: a model of AE_MAX_LAYERS layers is made, and the loader takes back the
     * file its save writes (one set of limits for both). */
    ae_model *deep = NULL;
    assert_int_equal(ae_model_create(&deep, widths, 2049, NULL, 0), AE_OK);
    assert_int_equal(ae_model_layer_count(deep), AE_MAX_LAYERS);
    size_t size = 0;
    assert_int_equal(ae_model_save_size(deep, 0, &size), AE_OK);
    unsigned char *bytes = malloc(size);
    assert_non_null(bytes);
    assert_int_equal(ae_model_save_to_memory(deep, 0, bytes, size, &size), AE_OK);
    ae_model *loaded = NULL;
    assert_int_equal(ae_model_load_from_memory(&loaded, bytes, size), AE_OK);
    assert_int_equal(ae_model_layer_count(loaded), AE_MAX_LAYERS);
    free(bytes);
    ae_model_free(loaded);
    ae_model_free(deep);
}

/* ---------------------------------------------------------------------------------- */
/* Handles, settings and descriptions                                                  */
/* ---------------------------------------------------------------------------------- */

static void test_model_last_error_of_null_model_is_not_null(void **state)
{
    (void)state;
    assert_non_null(ae_model_last_error(NULL));
}

static void test_clone_rejects_null_arguments(void **state)
{
    fixture *f = *state;
    ae_model *out = NULL;
    assert_int_equal(ae_model_clone(NULL, &out), AE_ERR_INVALID_ARGUMENT);
    assert_null(out);
    assert_has_message(ae_last_error());
    assert_int_equal(ae_model_clone(f->model, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_last_error());
}

static void test_reset_rejects_null_model(void **state)
{
    (void)state;
    assert_int_equal(ae_model_reset(NULL), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_last_error());
}

static int never_called(const ae_progress *progress, void *user_data)
{
    (void)progress;
    (void)user_data;
    fail_msg("progress callback on a NULL model");
    return 1;
}

static void test_set_progress_rejects_null_model(void **state)
{
    fixture *f = *state;
    assert_int_equal(ae_model_set_progress(NULL, never_called, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_last_error());
    /* Removing the callback is fine. */
    assert_int_equal(ae_model_set_progress(f->model, NULL, NULL), AE_OK);
}

static void test_set_param_rejects_null_model_and_bad_values(void **state)
{
    fixture *f = *state;
    assert_int_equal(ae_model_set_param(NULL, AE_PARAM_EPOCHS, 3), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_last_error());
    static const struct {
        ae_param param;
        double value;
    } bad[] = {
        {AE_PARAM_EPOCHS, 0},          {AE_PARAM_EPOCHS, 2.5},
        {AE_PARAM_LEARNING_RATE, 0},   {AE_PARAM_LEARNING_RATE, -1e-3},
        {AE_PARAM_HIDDEN_ACTIVATION, 7}, {AE_PARAM_LOSS, 2},
        {AE_PARAM_OPTIMIZER, 3},       {AE_PARAM_ADAM_BETA1, 1},
        {AE_PARAM_VALIDATION_FRACTION, 0.95}, {AE_PARAM_SEED, -1},
        {(ae_param)0, 1},              {(ae_param)99, 1},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        snapshot s = take_snapshot(f->model);
        assert_int_equal(ae_model_set_param(f->model, bad[i].param, bad[i].value),
                         AE_ERR_INVALID_ARGUMENT);
        assert_has_message(ae_last_error());
        assert_has_message(ae_model_last_error(f->model));
        assert_untouched_and_usable(f, &s);
    }
    double nan_values[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < ARRAY_LEN(nan_values); i++) {
        snapshot s = take_snapshot(f->model);
        assert_int_equal(ae_model_set_param(f->model, AE_PARAM_LEARNING_RATE, nan_values[i]),
                         AE_ERR_INVALID_ARGUMENT);
        assert_untouched_and_usable(f, &s);
    }
}

static void test_get_param_rejects_null_arguments(void **state)
{
    fixture *f = *state;
    double v = 0;
    assert_int_equal(ae_model_get_param(NULL, AE_PARAM_EPOCHS, &v), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_last_error());
    assert_int_equal(ae_model_get_param(f->model, AE_PARAM_EPOCHS, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_last_error());
    assert_int_equal(ae_model_get_param(f->model, (ae_param)0, &v), AE_ERR_INVALID_ARGUMENT);
}

static void test_param_bounds_rejects_unknown_param(void **state)
{
    (void)state;
    double lo = 0, hi = 0;
    int integral = 0;
    assert_int_equal(ae_param_bounds((ae_param)0, &lo, &hi, &integral), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_param_bounds((ae_param)19, NULL, NULL, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_null(ae_param_name((ae_param)19));
}

static void test_layer_info_rejects_null_model_and_bad_layer(void **state)
{
    fixture *f = *state;
    size_t n_out = 77, n_in = 77;
    int act = 77;
    assert_int_equal(ae_model_layer_info(NULL, 0, &n_out, &n_in, &act), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_last_error());
    static const size_t bad_layers[] = {N_LAYERS, N_LAYERS + 1, 1000, SIZE_MAX};
    for (size_t i = 0; i < ARRAY_LEN(bad_layers); i++) {
        assert_int_equal(ae_model_layer_info(f->model, bad_layers[i], &n_out, &n_in, &act),
                         AE_ERR_INVALID_ARGUMENT);
        assert_has_message(ae_last_error());
    }
    assert_int_equal(ae_model_layer_info(f->model, N_LAYERS - 1, &n_out, &n_in, &act), AE_OK);
    assert_int_equal(n_out, IN);
    assert_int_equal(n_in, HID);
}

/* ---------------------------------------------------------------------------------- */
/* Weights, biases, flat parameters                                                    */
/* ---------------------------------------------------------------------------------- */

static const size_t BAD_LAYERS[] = {N_LAYERS, N_LAYERS + 1, SIZE_MAX};

static void test_get_weights_and_bias_reject_bad_arguments(void **state)
{
    fixture *f = *state;
    float buf[64];
    assert_int_equal(ae_model_get_weights(NULL, 0, buf, HID * IN), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_get_bias(NULL, 0, buf, HID), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_get_weights(f->model, 0, NULL, HID * IN), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_get_bias(f->model, 0, NULL, HID), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_last_error());
    for (size_t i = 0; i < ARRAY_LEN(BAD_LAYERS); i++) {
        assert_int_equal(ae_model_get_weights(f->model, BAD_LAYERS[i], buf, HID * IN),
                         AE_ERR_INVALID_ARGUMENT);
        assert_int_equal(ae_model_get_bias(f->model, BAD_LAYERS[i], buf, HID),
                         AE_ERR_INVALID_ARGUMENT);
    }
    for (size_t l = 0; l < N_LAYERS; l++) {
        size_t nw = LAYER_OUT[l] * LAYER_IN[l], nb = LAYER_OUT[l];
        const size_t wrong_w[] = {0, nw - 1, nw + 1, f->n_params};
        const size_t wrong_b[] = {0, nb - 1, nb + 1, nw};
        for (size_t i = 0; i < ARRAY_LEN(wrong_w); i++)
            assert_int_equal(ae_model_get_weights(f->model, l, buf, wrong_w[i]),
                             AE_ERR_INVALID_ARGUMENT);
        for (size_t i = 0; i < ARRAY_LEN(wrong_b); i++)
            assert_int_equal(ae_model_get_bias(f->model, l, buf, wrong_b[i]),
                             AE_ERR_INVALID_ARGUMENT);
        assert_int_equal(ae_model_get_weights(f->model, l, buf, nw), AE_OK);
        assert_int_equal(ae_model_get_bias(f->model, l, buf, nb), AE_OK);
    }
}

static void test_set_weights_and_bias_reject_bad_arguments(void **state)
{
    fixture *f = *state;
    float buf[64];
    for (size_t i = 0; i < ARRAY_LEN(buf); i++)
        buf[i] = 0.125f;
    snapshot s = take_snapshot(f->model);
    assert_int_equal(ae_model_set_weights(NULL, 0, buf, HID * IN), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_bias(NULL, 0, buf, HID), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_weights(f->model, 0, NULL, HID * IN), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_model_last_error(f->model));
    assert_int_equal(ae_model_set_bias(f->model, 0, NULL, HID), AE_ERR_INVALID_ARGUMENT);
    for (size_t i = 0; i < ARRAY_LEN(BAD_LAYERS); i++) {
        assert_int_equal(ae_model_set_weights(f->model, BAD_LAYERS[i], buf, HID * IN),
                         AE_ERR_INVALID_ARGUMENT);
        assert_int_equal(ae_model_set_bias(f->model, BAD_LAYERS[i], buf, HID),
                         AE_ERR_INVALID_ARGUMENT);
    }
    for (size_t l = 0; l < N_LAYERS; l++) {
        size_t nw = LAYER_OUT[l] * LAYER_IN[l], nb = LAYER_OUT[l];
        const size_t wrong_w[] = {0, nw - 1, nw + 1};
        const size_t wrong_b[] = {0, nb - 1, nb + 1};
        for (size_t i = 0; i < ARRAY_LEN(wrong_w); i++)
            assert_int_equal(ae_model_set_weights(f->model, l, buf, wrong_w[i]),
                             AE_ERR_INVALID_ARGUMENT);
        for (size_t i = 0; i < ARRAY_LEN(wrong_b); i++)
            assert_int_equal(ae_model_set_bias(f->model, l, buf, wrong_b[i]),
                             AE_ERR_INVALID_ARGUMENT);
    }
    assert_has_message(ae_model_last_error(f->model));
    assert_untouched_and_still_fresh(f, &s);
}

static void test_set_weights_and_bias_refuse_non_finite_values(void **state)
{
    fixture *f = *state;
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t l = 0; l < N_LAYERS; l++) {
        size_t nw = LAYER_OUT[l] * LAYER_IN[l], nb = LAYER_OUT[l];
        const size_t where_w[] = {0, nw / 2, nw - 1};
        const size_t where_b[] = {0, nb - 1};
        for (size_t v = 0; v < ARRAY_LEN(bad); v++) {
            for (size_t i = 0; i < ARRAY_LEN(where_w); i++) {
                float w[64];
                for (size_t k = 0; k < nw; k++)
                    w[k] = 0.25f;
                w[where_w[i]] = bad[v];
                renew_model(f);
                snapshot s = take_snapshot(f->model);
                assert_int_equal(ae_model_set_weights(f->model, l, w, nw), AE_ERR_NON_FINITE_INPUT);
                assert_has_message(ae_last_error());
                assert_has_message(ae_model_last_error(f->model));
                assert_untouched_and_still_fresh(f, &s);
            }
            for (size_t i = 0; i < ARRAY_LEN(where_b); i++) {
                float b[8];
                for (size_t k = 0; k < nb; k++)
                    b[k] = 0.25f;
                b[where_b[i]] = bad[v];
                renew_model(f);
                snapshot s = take_snapshot(f->model);
                assert_int_equal(ae_model_set_bias(f->model, l, b, nb), AE_ERR_NON_FINITE_INPUT);
                assert_has_message(ae_model_last_error(f->model));
                assert_untouched_and_still_fresh(f, &s);
            }
        }
    }
}

static void test_get_and_set_params_reject_bad_arguments(void **state)
{
    fixture *f = *state;
    size_t n = f->n_params;
    float *buf = calloc(n + 1, sizeof *buf);
    assert_non_null(buf);
    snapshot s = take_snapshot(f->model);
    assert_int_equal(ae_model_get_params(NULL, buf, n), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_params(NULL, buf, n), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_get_params(f->model, NULL, n), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_params(f->model, NULL, n), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_model_last_error(f->model));
    const size_t wrong[] = {0, 1, n - 1, n + 1};
    for (size_t i = 0; i < ARRAY_LEN(wrong); i++) {
        assert_int_equal(ae_model_get_params(f->model, buf, wrong[i]), AE_ERR_INVALID_ARGUMENT);
        assert_int_equal(ae_model_set_params(f->model, buf, wrong[i]), AE_ERR_INVALID_ARGUMENT);
        assert_has_message(ae_last_error());
    }
    assert_untouched_and_still_fresh(f, &s);
    free(buf);
}

static void test_set_params_refuses_non_finite_values(void **state)
{
    fixture *f = *state;
    size_t n = f->n_params;
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    /* First weight, last weight (of the last layer), first and last bias. */
    size_t n_weights = HID * IN + LAT * HID + HID * LAT + IN * HID;
    const size_t where[] = {0, n_weights - 1, n_weights, n - 1};
    for (size_t v = 0; v < ARRAY_LEN(bad); v++)
        for (size_t i = 0; i < ARRAY_LEN(where); i++) {
            for (size_t k = 0; k < n; k++)
                p[k] = -0.5f;
            p[where[i]] = bad[v];
            renew_model(f);
            snapshot s = take_snapshot(f->model);
            assert_int_equal(ae_model_set_params(f->model, p, n), AE_ERR_NON_FINITE_INPUT);
            assert_has_message(ae_last_error());
            assert_has_message(ae_model_last_error(f->model));
            assert_untouched_and_still_fresh(f, &s);
        }
    free(p);
}

/* ---------------------------------------------------------------------------------- */
/* Training: NULL pointers, sizes, leading dimensions                                  */
/* ---------------------------------------------------------------------------------- */

static void test_fit_rejects_bad_arguments(void **state)
{
    fixture *f = *state;
    snapshot s = take_snapshot(f->model);
    ae_fit_report r = test_new_fit_report();
    assert_int_equal(ae_model_fit(NULL, f->x, ROWS, IN, &r), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_last_error());
    assert_int_equal(ae_model_fit(f->model, NULL, ROWS, IN, &r), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_model_last_error(f->model));
    assert_int_equal(ae_model_fit(f->model, f->x, 0, IN, &r), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit(f->model, f->x, ROWS, IN - 1, &r), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit(f->model, f->x, 1, IN - 1, &r), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit(f->model, f->x, ROWS, 0, &r), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_model_last_error(f->model));
    assert_untouched_and_usable(f, &s);
}

static void test_fit_validated_rejects_bad_arguments(void **state)
{
    fixture *f = *state;
    snapshot s = take_snapshot(f->model);
    const float *v = f->x;
    assert_int_equal(ae_model_fit_validated(NULL, f->x, ROWS, IN, v, 4, IN, NULL),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_validated(f->model, NULL, ROWS, IN, v, 4, IN, NULL),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_validated(f->model, f->x, 0, IN, v, 4, IN, NULL),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_validated(f->model, f->x, ROWS, IN - 1, v, 4, IN, NULL),
                     AE_ERR_INVALID_ARGUMENT);
    /* A validation count without validation data. */
    assert_int_equal(ae_model_fit_validated(f->model, f->x, ROWS, IN, NULL, 4, IN, NULL),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_validated(f->model, f->x, ROWS, IN, v, 4, IN - 1, NULL),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_validated(f->model, f->x, ROWS, IN, v, 4, 0, NULL),
                     AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_model_last_error(f->model));
    assert_untouched_and_usable(f, &s);
}

static void test_train_batch_rejects_bad_arguments(void **state)
{
    fixture *f = *state;
    snapshot s = take_snapshot(f->model);
    double loss = 0;
    assert_int_equal(ae_model_train_batch(NULL, f->x, ROWS, IN, &loss), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_train_batch(f->model, NULL, ROWS, IN, &loss),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_train_batch(f->model, f->x, 0, IN, &loss), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_train_batch(f->model, f->x, ROWS, IN - 1, &loss),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_train_batch(f->model, f->x, 1, 1, &loss), AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_model_last_error(f->model));
    assert_untouched_and_usable(f, &s);
    /* A NULL loss pointer is allowed. */
    assert_int_equal(ae_model_train_batch(f->model, f->x, ROWS, IN, NULL), AE_OK);
}

static void test_gradient_rejects_bad_arguments(void **state)
{
    fixture *f = *state;
    size_t n = f->n_params;
    float *g = calloc(n + 1, sizeof *g);
    assert_non_null(g);
    snapshot s = take_snapshot(f->model);
    double loss = 0;
    assert_int_equal(ae_model_gradient(NULL, f->x, ROWS, IN, g, n, &loss), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_gradient(f->model, NULL, ROWS, IN, g, n, &loss),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_gradient(f->model, f->x, ROWS, IN, NULL, n, &loss),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_gradient(f->model, f->x, 0, IN, g, n, &loss), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_gradient(f->model, f->x, ROWS, IN - 1, g, n, &loss),
                     AE_ERR_INVALID_ARGUMENT);
    const size_t wrong[] = {0, 1, n - 1, n + 1};
    for (size_t i = 0; i < ARRAY_LEN(wrong); i++)
        assert_int_equal(ae_model_gradient(f->model, f->x, ROWS, IN, g, wrong[i], &loss),
                         AE_ERR_INVALID_ARGUMENT);
    assert_has_message(ae_model_last_error(f->model));
    assert_untouched_and_usable(f, &s);
    assert_int_equal(ae_model_gradient(f->model, f->x, ROWS, IN, g, n, NULL), AE_OK);
    free(g);
}

/* ---------------------------------------------------------------------------------- */
/* Inference: NULL pointers, sizes, leading dimensions                                 */
/* ---------------------------------------------------------------------------------- */

/* A failed const call sets the thread's message and leaves the model's alone. */
static void expect_const_failure(fixture *f, int rc, int status, const char *model_msg_before)
{
    assert_int_equal(rc, status);
    assert_has_message(ae_last_error());
    assert_string_equal(ae_model_last_error(f->model), model_msg_before);
}

static void test_encode_rejects_bad_arguments(void **state)
{
    fixture *f = *state;
    float z[ROWS * LAT];
    snapshot s = take_snapshot(f->model);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ae_model_last_error(f->model));
    assert_int_equal(ae_model_encode(NULL, f->x, ROWS, IN, z, LAT), AE_ERR_INVALID_ARGUMENT);
    expect_const_failure(f, ae_model_encode(f->model, NULL, ROWS, IN, z, LAT),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_encode(f->model, f->x, ROWS, IN, NULL, LAT),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_encode(f->model, f->x, 0, IN, z, LAT),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_encode(f->model, f->x, ROWS, IN - 1, z, LAT),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_encode(f->model, f->x, ROWS / 2, IN, z, LAT - 1),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_encode(f->model, f->x, 1, IN, z, 0),
                         AE_ERR_INVALID_ARGUMENT, msg);
    assert_untouched_and_usable(f, &s);
}

static void test_decode_rejects_bad_arguments(void **state)
{
    fixture *f = *state;
    float y[ROWS * IN];
    float z[ROWS * LAT] = {0};
    snapshot s = take_snapshot(f->model);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ae_model_last_error(f->model));
    assert_int_equal(ae_model_decode(NULL, z, ROWS, LAT, y, IN), AE_ERR_INVALID_ARGUMENT);
    expect_const_failure(f, ae_model_decode(f->model, NULL, ROWS, LAT, y, IN),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_decode(f->model, z, ROWS, LAT, NULL, IN),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_decode(f->model, z, 0, LAT, y, IN),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_decode(f->model, z, ROWS / 2, LAT - 1, y, IN),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_decode(f->model, z, ROWS / 2, LAT, y, IN - 1),
                         AE_ERR_INVALID_ARGUMENT, msg);
    assert_untouched_and_usable(f, &s);
}

static void test_reconstruct_rejects_bad_arguments(void **state)
{
    fixture *f = *state;
    float y[ROWS * IN];
    snapshot s = take_snapshot(f->model);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ae_model_last_error(f->model));
    assert_int_equal(ae_model_reconstruct(NULL, f->x, ROWS, IN, y, IN), AE_ERR_INVALID_ARGUMENT);
    expect_const_failure(f, ae_model_reconstruct(f->model, NULL, ROWS, IN, y, IN),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_reconstruct(f->model, f->x, ROWS, IN, NULL, IN),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_reconstruct(f->model, f->x, 0, IN, y, IN),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_reconstruct(f->model, f->x, ROWS / 2, IN - 1, y, IN),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_reconstruct(f->model, f->x, ROWS / 2, IN, y, IN - 1),
                         AE_ERR_INVALID_ARGUMENT, msg);
    assert_untouched_and_usable(f, &s);
}

static void test_score_and_loss_reject_bad_arguments(void **state)
{
    fixture *f = *state;
    float scores[ROWS];
    double loss = 0;
    snapshot s = take_snapshot(f->model);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", ae_model_last_error(f->model));
    assert_int_equal(ae_model_score(NULL, f->x, ROWS, IN, scores), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_loss(NULL, f->x, ROWS, IN, &loss), AE_ERR_INVALID_ARGUMENT);
    expect_const_failure(f, ae_model_score(f->model, NULL, ROWS, IN, scores),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_score(f->model, f->x, ROWS, IN, NULL),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_score(f->model, f->x, 0, IN, scores),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_score(f->model, f->x, ROWS, IN - 1, scores),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_loss(f->model, NULL, ROWS, IN, &loss),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_loss(f->model, f->x, ROWS, IN, NULL),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_loss(f->model, f->x, 0, IN, &loss),
                         AE_ERR_INVALID_ARGUMENT, msg);
    expect_const_failure(f, ae_model_loss(f->model, f->x, ROWS, IN - 1, &loss),
                         AE_ERR_INVALID_ARGUMENT, msg);
    assert_untouched_and_usable(f, &s);
}

/* n_rows * ld overflows size_t: no such matrix can exist, so nothing may be read. */
static void test_data_size_overflow_is_refused_before_reading(void **state)
{
    fixture *f = *state;
    const size_t huge_rows = SIZE_MAX / IN + 1;
    const size_t huge_ld = SIZE_MAX / 2;
    float out[ROWS * IN];
    float *g = malloc(f->n_params * sizeof *g);
    assert_non_null(g);
    double loss;
    snapshot s = take_snapshot(f->model);
    const struct {
        size_t rows, ld;
    } shapes[] = {{huge_rows, IN}, {3, huge_ld}};
    for (size_t i = 0; i < ARRAY_LEN(shapes); i++) {
        size_t r = shapes[i].rows, ld = shapes[i].ld;
        assert_int_equal(ae_model_fit(f->model, f->x, r, ld, NULL), AE_ERR_SIZE_OVERFLOW);
        assert_int_equal(ae_model_fit_validated(f->model, f->x, ROWS, IN, f->x, r, ld, NULL),
                         AE_ERR_SIZE_OVERFLOW);
        assert_int_equal(ae_model_train_batch(f->model, f->x, r, ld, &loss), AE_ERR_SIZE_OVERFLOW);
        assert_int_equal(ae_model_gradient(f->model, f->x, r, ld, g, f->n_params, &loss),
                         AE_ERR_SIZE_OVERFLOW);
        assert_int_equal(ae_model_encode(f->model, f->x, r, ld, out, LAT), AE_ERR_SIZE_OVERFLOW);
        assert_int_equal(ae_model_decode(f->model, f->x, r, ld, out, IN), AE_ERR_SIZE_OVERFLOW);
        assert_int_equal(ae_model_reconstruct(f->model, f->x, r, ld, out, IN),
                         AE_ERR_SIZE_OVERFLOW);
        assert_int_equal(ae_model_score(f->model, f->x, r, ld, out), AE_ERR_SIZE_OVERFLOW);
        assert_int_equal(ae_model_loss(f->model, f->x, r, ld, &loss), AE_ERR_SIZE_OVERFLOW);
        assert_has_message(ae_last_error());
    }
    /* The output side overflowing counts too. */
    assert_int_equal(ae_model_encode(f->model, f->x, 3, IN, out, huge_ld), AE_ERR_SIZE_OVERFLOW);
    assert_int_equal(ae_model_reconstruct(f->model, f->x, 3, IN, out, huge_ld),
                     AE_ERR_SIZE_OVERFLOW);
    assert_untouched_and_usable(f, &s);
    free(g);
}

/* ---------------------------------------------------------------------------------- */
/* Bad data: NaN, Inf, BCE range and state                                             */
/* ---------------------------------------------------------------------------------- */

static const size_t CELLS[][2] = {{0, 0}, {5, 3}, {ROWS - 1, IN - 1}, {10, 0}, {1, 4}};

static void test_non_finite_training_data_is_refused_naming_row_and_column(void **state)
{
    fixture *f = *state;
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    static const call_kind kinds[] = {CALL_FIT, CALL_FIT_VALIDATED_TRAIN, CALL_FIT_VALIDATED_VAL,
                                      CALL_TRAIN_BATCH, CALL_GRADIENT};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++)
        for (size_t v = 0; v < ARRAY_LEN(bad); v++)
            for (size_t c = 0; c < ARRAY_LEN(CELLS); c++)
                expect_bad_cell(f, kinds[k], CELLS[c][0], CELLS[c][1], bad[v],
                                AE_ERR_NON_FINITE_INPUT);
}

static void test_fit_with_validation_fraction_names_the_callers_row(void **state)
{
    fixture *f = *state;
    test_set_param(f->model, AE_PARAM_VALIDATION_FRACTION, 0.5);
    for (size_t c = 0; c < ARRAY_LEN(CELLS); c++)
        expect_bad_cell(f, CALL_FIT, CELLS[c][0], CELLS[c][1], NAN, AE_ERR_NON_FINITE_INPUT);
}

static void test_padding_beyond_the_row_is_never_read(void **state)
{
    fixture *f = *state;
    /* Same rows, ld 9, NaN in the three padding columns: every call must give exactly
     * what it gives on the packed rows. */
    const size_t ld = IN + 3;
    float *padded = malloc(ROWS * ld * sizeof *padded);
    assert_non_null(padded);
    for (size_t i = 0; i < ROWS; i++)
        for (size_t j = 0; j < ld; j++)
            padded[i * ld + j] = j < IN ? f->x[i * IN + j] : NAN;
    /* Twin with the same history: taken before any call. */
    ae_model *twin = test_clone_model(f->model);
    assert_int_equal(ae_model_fit_validated(f->model, padded, ROWS, ld, padded, 4, ld, NULL), AE_OK);
    assert_int_equal(ae_model_fit_validated(twin, f->x, ROWS, IN, f->x, 4, IN, NULL), AE_OK);
    assert_true(test_same_params(f->model, twin));

    size_t n = f->n_params;
    float *g1 = malloc(n * sizeof *g1), *g2 = malloc(n * sizeof *g2);
    double l1 = 0, l2 = 0;
    assert_int_equal(ae_model_gradient(twin, f->x, ROWS, IN, g1, n, &l1), AE_OK);
    assert_int_equal(ae_model_gradient(f->model, padded, ROWS, ld, g2, n, &l2), AE_OK);
    assert_memory_equal(g1, g2, n * sizeof *g1);
    assert_true(l1 == l2);
    assert_int_equal(ae_model_loss(twin, f->x, ROWS, IN, &l1), AE_OK);
    assert_int_equal(ae_model_loss(f->model, padded, ROWS, ld, &l2), AE_OK);
    assert_true(isfinite(l2));
    assert_true(l1 == l2);
    float s1[ROWS], s2[ROWS];
    assert_int_equal(ae_model_score(twin, f->x, ROWS, IN, s1), AE_OK);
    assert_int_equal(ae_model_score(f->model, padded, ROWS, ld, s2), AE_OK);
    assert_memory_equal(s1, s2, sizeof s1);
    float z1[ROWS * LAT], z2[ROWS * LAT], y1[ROWS * IN], y2[ROWS * IN];
    assert_int_equal(ae_model_encode(twin, f->x, ROWS, IN, z1, LAT), AE_OK);
    assert_int_equal(ae_model_encode(f->model, padded, ROWS, ld, z2, LAT), AE_OK);
    assert_memory_equal(z1, z2, sizeof z1);
    assert_int_equal(ae_model_reconstruct(twin, f->x, ROWS, IN, y1, IN), AE_OK);
    assert_int_equal(ae_model_reconstruct(f->model, padded, ROWS, ld, y2, IN), AE_OK);
    assert_memory_equal(y1, y2, sizeof y1);
    assert_int_equal(ae_model_train_batch(twin, f->x, ROWS, IN, &l1), AE_OK);
    assert_int_equal(ae_model_train_batch(f->model, padded, ROWS, ld, &l2), AE_OK);
    assert_true(l1 == l2);
    assert_true(test_same_params(f->model, twin));
    ae_model_free(twin);
    free(padded), free(g1), free(g2);
}

/* BCE without a sigmoid output: refused when both were chosen; with the output still at its
 * default (the caller may set it next), every call that needs the loss refuses instead. */
static void test_bce_without_sigmoid_output_is_a_state_error(void **state)
{
    fixture *f = *state;
    test_set_param(f->model, AE_PARAM_LOSS, AE_LOSS_BCE); /* output: linear by default */
    for (int k = 0; k < N_CALL_KINDS; k++) {
        snapshot s = take_snapshot(f->model);
        char model_msg[512];
        snprintf(model_msg, sizeof model_msg, "%s", ae_model_last_error(f->model));
        int rc = call_on_data(f, (call_kind)k, f->x);
        if (rc != AE_ERR_STATE)
            print_error("%s: %d\n", CALL_NAMES[k], rc);
        assert_int_equal(rc, AE_ERR_STATE);
        assert_non_null(strstr(ae_last_error(), "output_activation = linear"));
        if (is_const_call((call_kind)k))
            assert_string_equal(ae_model_last_error(f->model), model_msg);
        else
            assert_has_message(ae_model_last_error(f->model));
        /* Encoding needs no loss: still fine. */
        float z[ROWS * LAT], y[ROWS * IN];
        assert_int_equal(ae_model_encode(f->model, f->x, ROWS, IN, z, LAT), AE_OK);
        assert_int_equal(ae_model_reconstruct(f->model, f->x, ROWS, IN, y, IN), AE_OK);
        assert_untouched_and_usable(f, &s); /* switches the loss to MSE */
        test_set_param(f->model, AE_PARAM_LOSS, AE_LOSS_BCE);
    }
    /* Once the output is chosen, the conflict is refused when it is set, either way round. */
    static const int outputs[] = {AE_ACT_LINEAR, AE_ACT_TANH, AE_ACT_RELU, AE_ACT_SOFTPLUS};
    for (size_t o = 0; o < ARRAY_LEN(outputs); o++) {
        test_set_param(f->model, AE_PARAM_LOSS, AE_LOSS_MSE);
        test_set_param(f->model, AE_PARAM_OUTPUT_ACTIVATION, outputs[o]);
        assert_int_equal(ae_model_set_param(f->model, AE_PARAM_LOSS, AE_LOSS_BCE), AE_ERR_STATE);
        assert_non_null(strstr(ae_model_last_error(f->model), "loss = bce conflicts with output_activation"));
        test_set_param(f->model, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
        test_set_param(f->model, AE_PARAM_LOSS, AE_LOSS_BCE);
        assert_int_equal(ae_model_set_param(f->model, AE_PARAM_OUTPUT_ACTIVATION, outputs[o]),
                         AE_ERR_STATE);
        assert_non_null(strstr(ae_model_last_error(f->model), "conflicts with loss = bce"));
        double value;
        assert_int_equal(ae_model_get_param(f->model, AE_PARAM_OUTPUT_ACTIVATION, &value), AE_OK);
        assert_true(value == AE_ACT_SIGMOID);
    }
}

static void test_bce_data_outside_unit_interval_is_refused_naming_row_and_column(void **state)
{
    fixture *f = *state;
    test_set_param(f->model, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(f->model, AE_PARAM_LOSS, AE_LOSS_BCE);
    const float bad[] = {1.5f, -0.25f, nextafterf(1.0f, 2.0f), -1e-7f, 255.0f};
    for (int k = 0; k < N_CALL_KINDS; k++)
        for (size_t v = 0; v < ARRAY_LEN(bad); v++)
            for (size_t c = 0; c < ARRAY_LEN(CELLS); c += 2)
                expect_bad_cell(f, (call_kind)k, CELLS[c][0], CELLS[c][1], bad[v],
                                AE_ERR_INPUT_RANGE);
}

static void test_bce_accepts_exact_zero_and_one(void **state)
{
    fixture *f = *state;
    test_set_param(f->model, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(f->model, AE_PARAM_LOSS, AE_LOSS_BCE);
    float *x = data_with(f, 0, 0, 0.0f);
    x[3 * IN + 5] = 1.0f;
    x[11 * IN + 2] = -0.0f;
    for (int k = 0; k < N_CALL_KINDS; k++) {
        int rc = call_on_data(f, (call_kind)k, x);
        if (rc != AE_OK)
            print_error("%s: %s\n", CALL_NAMES[k], ae_last_error());
        assert_int_equal(rc, AE_OK);
    }
    free(x);
}

static void test_mse_accepts_data_outside_unit_interval(void **state)
{
    fixture *f = *state;
    float *x = data_with(f, 2, 2, 7.5f);
    x[4 * IN + 1] = -3.0f;
    for (int k = 0; k < N_CALL_KINDS; k++)
        assert_int_equal(call_on_data(f, (call_kind)k, x), AE_OK);
    free(x);
}

/* ---------------------------------------------------------------------------------- */
/* Messages                                                                            */
/* ---------------------------------------------------------------------------------- */

static void test_failed_call_message_survives_successful_calls(void **state)
{
    fixture *f = *state;
    float *x = data_with(f, 4, 1, NAN);
    assert_int_equal(ae_model_train_batch(f->model, x, ROWS, IN, NULL), AE_ERR_NON_FINITE_INPUT);
    /* Successful calls do not clear or overwrite either message. */
    assert_int_equal(ae_model_train_batch(f->model, f->x, ROWS, IN, NULL), AE_OK);
    double v;
    assert_int_equal(ae_model_get_param(f->model, AE_PARAM_EPOCHS, &v), AE_OK);
    assert_names_cell(ae_last_error(), 4, 1);
    assert_names_cell(ae_model_last_error(f->model), 4, 1);
    free(x);
}

static void test_model_message_belongs_to_its_model(void **state)
{
    fixture *f = *state;
    ae_model *other = test_create_model(WIDTHS, ARRAY_LEN(WIDTHS), NULL, 0);
    float *x = data_with(f, 6, 5, INFINITY);
    assert_int_equal(ae_model_train_batch(f->model, x, ROWS, IN, NULL), AE_ERR_NON_FINITE_INPUT);
    assert_string_equal(ae_model_last_error(other), "");
    assert_int_equal(ae_model_set_param(other, AE_PARAM_EPOCHS, 0), AE_ERR_INVALID_ARGUMENT);
    assert_names_cell(ae_model_last_error(f->model), 6, 5);
    assert_has_message(ae_model_last_error(other));
    /* A clone starts with its source's message or none, but its own failures stay its own. */
    ae_model *clone = test_clone_model(f->model);
    float *y = data_with(f, 8, 0, NAN);
    assert_int_equal(ae_model_train_batch(clone, y, ROWS, IN, NULL), AE_ERR_NON_FINITE_INPUT);
    assert_names_cell(ae_model_last_error(clone), 8, 0);
    assert_names_cell(ae_model_last_error(f->model), 6, 5);
    ae_model_free(clone);
    ae_model_free(other);
    free(x), free(y);
}

typedef struct thread_job {
    ae_model *own_model;     /* failures on it go to its message */
    char first_message[512]; /* ae_last_error() when the thread starts */
    char message[512];       /* ae_last_error() after the thread's failure */
    int rc;
} thread_job;

static void *fail_in_thread(void *arg)
{
    thread_job *job = arg;
    snprintf(job->first_message, sizeof job->first_message, "%s", ae_last_error());
    static const size_t bad[] = {5, 0, 2};
    ae_model *m = NULL;
    job->rc = ae_model_create(&m, bad, 3, NULL, 0);
    if (job->own_model)
        ae_model_set_param(job->own_model, AE_PARAM_BATCH_SIZE, 0.5);
    snprintf(job->message, sizeof job->message, "%s", ae_last_error());
    return NULL;
}

static void test_last_error_is_per_thread(void **state)
{
    fixture *f = *state;
    float *x = data_with(f, 3, 2, NAN);
    assert_int_equal(ae_model_fit(f->model, x, ROWS, IN, NULL), AE_ERR_NON_FINITE_INPUT);
    assert_names_cell(ae_last_error(), 3, 2);

    ae_model *other = test_create_model(WIDTHS, ARRAY_LEN(WIDTHS), NULL, 0);
    thread_job job = {other, "", "", 0};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, fail_in_thread, &job), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);

    /* The new thread started without a message and got its own. */
    assert_string_equal(job.first_message, "");
    assert_int_equal(job.rc, AE_ERR_INVALID_ARGUMENT);
    assert_true(strlen(job.message) > 0);
    assert_string_not_equal(job.message, ae_last_error());
    /* This thread's message and the model's are unchanged. */
    assert_names_cell(ae_last_error(), 3, 2);
    assert_names_cell(ae_model_last_error(f->model), 3, 2);
    assert_has_message(ae_model_last_error(other));
    ae_model_free(other);
    free(x);
}

enum { N_THREADS = 4, ROUNDS = 100 };

typedef struct concurrent_job {
    const ae_model *shared; /* const calls only */
    float *x;
    size_t bad_row, bad_col;
    int mismatches;
} concurrent_job;

static void *score_bad_rows(void *arg)
{
    concurrent_job *job = arg;
    float scores[ROWS];
    for (int r = 0; r < ROUNDS; r++) {
        int rc = ae_model_score(job->shared, job->x, ROWS, IN, scores);
        if (rc != AE_ERR_INPUT_RANGE || !names_number(ae_last_error(), "row", job->bad_row) ||
            !names_number(ae_last_error(), "column", job->bad_col))
            job->mismatches++;
    }
    return NULL;
}

static void test_concurrent_failures_keep_their_own_messages(void **state)
{
    fixture *f = *state;
    test_set_param(f->model, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(f->model, AE_PARAM_LOSS, AE_LOSS_BCE);
    concurrent_job jobs[N_THREADS];
    pthread_t threads[N_THREADS];
    for (size_t t = 0; t < N_THREADS; t++) {
        jobs[t].shared = f->model;
        jobs[t].bad_row = 2 * t + 1;
        jobs[t].bad_col = (t * 5) % IN;
        jobs[t].x = data_with(f, jobs[t].bad_row, jobs[t].bad_col, 2.0f);
        jobs[t].mismatches = 0;
        assert_int_equal(pthread_create(&threads[t], NULL, score_bad_rows, &jobs[t]), 0);
    }
    for (size_t t = 0; t < N_THREADS; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(jobs[t].mismatches, 0);
        free(jobs[t].x);
    }
}

/* ---------------------------------------------------------------------------------- */
/* Report size                                                                         */
/* ---------------------------------------------------------------------------------- */

static void test_fit_writes_no_report_field_beyond_size(void **state)
{
    fixture *f = *state;
    unsigned char raw[sizeof(ae_fit_report)];
    memset(raw, 0xA5, sizeof raw);
    ae_fit_report *r = (ae_fit_report *)(void *)raw;
    size_t small = offsetof(ae_fit_report, steps_run);
    r->size = small;
    assert_int_equal(ae_model_fit(f->model, f->x, ROWS, IN, r), AE_OK);
    assert_int_equal(r->size, small);
    assert_int_equal(r->epochs_run, 2);
    for (size_t i = small; i < sizeof raw; i++)
        assert_int_equal(raw[i], 0xA5);
    /* size 0 (no field fits, or a caller who forgot to set it): accepted or refused as
     * an invalid argument, but nothing is written either way. */
    memset(raw, 0xA5, sizeof raw);
    r->size = 0;
    int rc = ae_model_fit(f->model, f->x, ROWS, IN, r);
    assert_true(rc == AE_OK || rc == AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(r->size, 0);
    for (size_t i = sizeof r->size; i < sizeof raw; i++)
        assert_int_equal(raw[i], 0xA5);
}

/* Every failing call that changes a model records its message on that model, whichever check
 * refused it: arguments that are not the model itself (a NULL source, a NULL buffer, a wrong
 * count), settings, data, the model's state. */
static void test_every_failing_call_that_changes_a_model_records_its_message_on_it(void **state)
{
    fixture *f = *state;
    ae_model *m = f->model;
    const size_t n = f->n_params;
    float *buffer = calloc(n, sizeof *buffer);
    assert_non_null(buffer);
    float offset[IN] = {0}, scale[IN] = {0};
    double loss;
    struct {
        const char *call;
        int status;
    } failures[32];
    size_t k = 0;
#define RECORD(call_expr)                                                                          \
    do {                                                                                       \
        ae_model_set_param(m, AE_PARAM_SEED, 0); /* no failure: clears nothing */              \
        failures[k].call = #call_expr;                                                         \
        failures[k++].status = (call_expr);                                                    \
        if (failures[k - 1].status == AE_OK)                                                   \
            print_error("%s succeeded\n", #call_expr);                                         \
        assert_int_not_equal(failures[k - 1].status, AE_OK);                                   \
        if (strcmp(ae_model_last_error(m), ae_last_error()) != 0)                              \
            print_error("%s: model says \"%s\", thread says \"%s\"\n", #call_expr,             \
                        ae_model_last_error(m), ae_last_error());                              \
        assert_string_equal(ae_model_last_error(m), ae_last_error());                          \
        ae_model_set_param(m, AE_PARAM_EPOCHS, 0.5); /* a different message in between */      \
    } while (0)
    RECORD(ae_model_copy_layers(m, 0, NULL, 0, 1));
    RECORD(ae_model_copy_layers(m, 0, m, 0, 1));
    RECORD(ae_model_copy_layers(m, 0, m, 0, 0));
    RECORD(ae_model_set_weights(m, 0, NULL, HID * IN));
    RECORD(ae_model_set_weights(m, 99, buffer, 1));
    RECORD(ae_model_set_bias(m, 0, buffer, 1));
    RECORD(ae_model_set_params(m, buffer, n - 1));
    RECORD(ae_model_set_params(m, NULL, n));
    RECORD(ae_model_set_param(m, (ae_param)999, 1));
    RECORD(ae_model_set_threshold(m, -1));
    RECORD(ae_model_fit_threshold(m, f->x, ROWS, IN, 0.9, NULL));
    RECORD(ae_model_fit_threshold(m, NULL, ROWS, IN, 0.1, NULL));
    RECORD(ae_model_set_scaling(m, offset, scale, IN));
    RECORD(ae_model_fit_scaling(m, f->x, ROWS, IN));
    RECORD(ae_model_fit(m, NULL, ROWS, IN, NULL));
    RECORD(ae_model_fit_validated(m, f->x, ROWS, IN, NULL, 3, IN, NULL));
    RECORD(ae_model_train_batch(m, f->x, ROWS, IN - 1, &loss));
    RECORD(ae_model_gradient(m, f->x, ROWS, IN, NULL, n, &loss));
    RECORD(ae_model_gradient(m, f->x, ROWS, IN, buffer, n + 1, &loss));
    RECORD(ae_model_pretrain(m, f->x, ROWS, IN, NULL, 3));
    RECORD(ae_model_set_optimizer_state(m, 0, buffer, buffer, n - 1));
    RECORD(ae_model_set_optimizer_state(m, 5, NULL, NULL, n));
#undef RECORD
    free(buffer);
}

#define FIXTURE_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_null_out),
        cmocka_unit_test(test_create_rejects_null_encoder_widths),
        cmocka_unit_test(test_create_rejects_fewer_than_two_encoder_widths),
        cmocka_unit_test(test_create_rejects_zero_widths),
        cmocka_unit_test(test_create_rejects_decoder_not_starting_at_latent),
        cmocka_unit_test(test_create_rejects_decoder_not_ending_at_input),
        cmocka_unit_test(test_create_rejects_inconsistent_decoder_count),
        cmocka_unit_test(test_create_refuses_models_beyond_the_limits),
        cmocka_unit_test(test_model_last_error_of_null_model_is_not_null),
        FIXTURE_TEST(test_clone_rejects_null_arguments),
        cmocka_unit_test(test_reset_rejects_null_model),
        FIXTURE_TEST(test_set_progress_rejects_null_model),
        FIXTURE_TEST(test_set_param_rejects_null_model_and_bad_values),
        FIXTURE_TEST(test_get_param_rejects_null_arguments),
        cmocka_unit_test(test_param_bounds_rejects_unknown_param),
        FIXTURE_TEST(test_layer_info_rejects_null_model_and_bad_layer),
        FIXTURE_TEST(test_get_weights_and_bias_reject_bad_arguments),
        FIXTURE_TEST(test_set_weights_and_bias_reject_bad_arguments),
        FIXTURE_TEST(test_set_weights_and_bias_refuse_non_finite_values),
        FIXTURE_TEST(test_get_and_set_params_reject_bad_arguments),
        FIXTURE_TEST(test_set_params_refuses_non_finite_values),
        FIXTURE_TEST(test_fit_rejects_bad_arguments),
        FIXTURE_TEST(test_fit_validated_rejects_bad_arguments),
        FIXTURE_TEST(test_train_batch_rejects_bad_arguments),
        FIXTURE_TEST(test_gradient_rejects_bad_arguments),
        FIXTURE_TEST(test_encode_rejects_bad_arguments),
        FIXTURE_TEST(test_decode_rejects_bad_arguments),
        FIXTURE_TEST(test_reconstruct_rejects_bad_arguments),
        FIXTURE_TEST(test_score_and_loss_reject_bad_arguments),
        FIXTURE_TEST(test_data_size_overflow_is_refused_before_reading),
        FIXTURE_TEST(test_non_finite_training_data_is_refused_naming_row_and_column),
        FIXTURE_TEST(test_fit_with_validation_fraction_names_the_callers_row),
        FIXTURE_TEST(test_padding_beyond_the_row_is_never_read),
        FIXTURE_TEST(test_bce_without_sigmoid_output_is_a_state_error),
        FIXTURE_TEST(test_bce_data_outside_unit_interval_is_refused_naming_row_and_column),
        FIXTURE_TEST(test_bce_accepts_exact_zero_and_one),
        FIXTURE_TEST(test_mse_accepts_data_outside_unit_interval),
        FIXTURE_TEST(test_failed_call_message_survives_successful_calls),
        FIXTURE_TEST(test_model_message_belongs_to_its_model),
        FIXTURE_TEST(test_last_error_is_per_thread),
        FIXTURE_TEST(test_concurrent_failures_keep_their_own_messages),
        FIXTURE_TEST(test_fit_writes_no_report_field_beyond_size),
        FIXTURE_TEST(test_every_failing_call_that_changes_a_model_records_its_message_on_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
