/* The public API surface: versions, status strings, model shape queries, settings and
 * their bounds, weight access and layout, the "fresh weights" rule, initialisation
 * statistics, clone and reset. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------------------- */
/* Helpers                                                                             */
/* ---------------------------------------------------------------------------------- */

/* The small model most tests use: 8-5-3 encoder, mirrored decoder. */
static ae_model *create_small(void)
{
    static const size_t widths[] = {8, 5, 3};
    return test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
}

static double get_param(const ae_model *m, ae_param param)
{
    double value = -12345.0;
    assert_int_equal(ae_model_get_param(m, param, &value), AE_OK);
    return value;
}

/* The settings as documented in autoenc.h: default, range, which ends are open, integral. */
typedef struct param_doc {
    ae_param param;
    double def;
    double lo, hi;
    int lo_open, hi_open;
    int integral;
} param_doc;

static const param_doc PARAM_DOCS[] = {
    {AE_PARAM_SEED, 0, 0, 9007199254740992.0, 0, 0, 1},
    {AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_RELU, 0, 6, 0, 0, 1},
    {AE_PARAM_LATENT_ACTIVATION, AE_ACT_LINEAR, 0, 6, 0, 0, 1},
    {AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LINEAR, 0, 6, 0, 0, 1},
    {AE_PARAM_LOSS, AE_LOSS_MSE, 0, 1, 0, 0, 1},
    {AE_PARAM_LEAKY_SLOPE, 0.01, 0, 1, 0, 1, 0},
    {AE_PARAM_ELU_ALPHA, 1, 0, 100, 1, 0, 0},
    {AE_PARAM_OPTIMIZER, AE_OPT_ADAM, 0, 2, 0, 0, 1},
    {AE_PARAM_LEARNING_RATE, 1e-3, 0, 1e3, 1, 0, 0},
    {AE_PARAM_MOMENTUM, 0, 0, 1, 0, 1, 0},
    {AE_PARAM_NESTEROV, 0, 0, 1, 0, 0, 1},
    {AE_PARAM_ADAM_BETA1, 0.9, 0, 1, 0, 1, 0},
    {AE_PARAM_ADAM_BETA2, 0.999, 0, 1, 0, 1, 0},
    {AE_PARAM_ADAM_EPSILON, 1e-8, 0, 1, 1, 0, 0},
    {AE_PARAM_WEIGHT_DECAY, 0, 0, 1e3, 0, 0, 0},
    {AE_PARAM_CLIP_NORM, 0, 0, 1e30, 0, 0, 0},
    {AE_PARAM_EPOCHS, 10, 1, 1e9, 0, 0, 1},
    {AE_PARAM_BATCH_SIZE, 64, 1, 1e7, 0, 0, 1},
    {AE_PARAM_SHUFFLE, 1, 0, 1, 0, 0, 1},
    {AE_PARAM_VALIDATION_FRACTION, 0, 0, 0.9, 0, 0, 0},
    {AE_PARAM_PATIENCE, 0, 0, 1e9, 0, 0, 1},
    {AE_PARAM_MIN_DELTA, 0, 0, 1e30, 0, 0, 0},
    {AE_PARAM_RESTORE_BEST, 1, 0, 1, 0, 0, 1},
    {AE_PARAM_PROGRESS_EVERY_BATCH, 0, 0, 1, 0, 0, 1},
    {AE_PARAM_DIVERGENCE_FACTOR, 1e3, 0, 1e30, 0, 0, 0},
    {AE_PARAM_SHUFFLE_BUFFER, 10000, 1, 1e9, 0, 0, 1},
    {AE_PARAM_THREADS, 0, 0, 64, 0, 0, 1},
    {AE_PARAM_NOISE, AE_NOISE_NONE, 0, 3, 0, 0, 1},
    {AE_PARAM_NOISE_LEVEL, 0.1, 0, 1e6, 0, 0, 0},
    {AE_PARAM_SCALING, AE_SCALING_NONE, 0, 2, 0, 0, 1},
    {AE_PARAM_SCALING_MIN_SCALE, 0.05, 0, 1e30, 0, 0, 0},
    {AE_PARAM_SPARSITY_WEIGHT, 0, 0, 1e3, 0, 0, 0},
    {AE_PARAM_SPARSITY_TARGET, 0.05, 0, 1, 1, 1, 0},
    {AE_PARAM_SPARSITY_LAYER, -1, -1, AE_MAX_LAYERS - 1, 0, 0, 1},
    {AE_PARAM_ACTIVITY_L1, 0, 0, 1e3, 0, 0, 0},
    {AE_PARAM_CONTRACTIVE_WEIGHT, 0, 0, 1e3, 0, 0, 0},
    {AE_PARAM_DROPOUT_INPUT, 0, 0, 1, 0, 1, 0},
    {AE_PARAM_DROPOUT_HIDDEN, 0, 0, 1, 0, 1, 0},
    {AE_PARAM_KL_WEIGHT, 1, 0, 1e3, 0, 0, 0},
    {AE_PARAM_KL_WARMUP_EPOCHS, 0, 0, 1e9, 0, 0, 1},
};

/* Values that are not any ae_param. */
static const int UNKNOWN_PARAMS[] = {0, 8, 9, 19, 31, 39, 42, 49, 52, 59, 65, 69, 72, 79,
                                     82, 100, -1, INT_MAX, INT_MIN};

/* All settings of a model, in PARAM_DOCS order. */
static void settings_of(const ae_model *m, double *out)
{
    for (size_t i = 0; i < ARRAY_LEN(PARAM_DOCS); i++)
        out[i] = get_param(m, PARAM_DOCS[i].param);
}

static int same_settings(const ae_model *a, const ae_model *b)
{
    double sa[ARRAY_LEN(PARAM_DOCS)], sb[ARRAY_LEN(PARAM_DOCS)];
    settings_of(a, sa);
    settings_of(b, sb);
    return memcmp(sa, sb, sizeof sa) == 0;
}

/* The model's settings are still @p before (as filled by settings_of). */
static void assert_settings_are(const ae_model *m, const double *before)
{
    double now[ARRAY_LEN(PARAM_DOCS)];
    settings_of(m, now);
    assert_memory_equal(before, now, sizeof now);
}

/* A value strictly inside [lo, hi] next to the given end (the end itself if closed). */
static double inner_end(const param_doc *d, int upper)
{
    if (upper)
        return d->hi_open ? nextafter(d->hi, -INFINITY) : d->hi;
    return d->lo_open ? nextafter(d->lo, INFINITY) : d->lo;
}

static float *batch_data(uint64_t seed, size_t rows, size_t cols)
{
    test_rng rng;
    test_rng_seed(&rng, seed);
    float *x = test_random_matrix(&rng, rows, cols, cols, 0.0f, 1.0f);
    assert_non_null(x);
    return x;
}

/* @p n_steps ae_model_train_batch calls on the first @p n_rows rows of @p x, 8 wide
 * like the small model's input. */
static void train_steps(ae_model *m, const float *x, size_t n_rows, int n_steps)
{
    for (int i = 0; i < n_steps; i++)
        assert_int_equal(ae_model_train_batch(m, x, n_rows, 8, NULL), AE_OK);
}

/* Frees the test's data (may be NULL) and models (either may be NULL). */
static void release(float *x, ae_model *a, ae_model *b)
{
    free(x);
    ae_model_free(a);
    ae_model_free(b);
}

/* ae_model_fit of @p a then @p b on the same 8-wide rows, each with a fresh report. */
static void fit_both(ae_model *a, ae_model *b, const float *x, size_t n_rows, ae_fit_report *ra,
                     ae_fit_report *rb)
{
    *ra = test_new_fit_report();
    *rb = test_new_fit_report();
    assert_int_equal(ae_model_fit(a, x, n_rows, 8, ra), AE_OK);
    assert_int_equal(ae_model_fit(b, x, n_rows, 8, rb), AE_OK);
}

/* ---------------------------------------------------------------------------------- */
/* Versions, status strings, global error                                              */
/* ---------------------------------------------------------------------------------- */

static void test_version_number_matches_header_macros(void **state)
{
    (void)state;
    assert_int_equal(ae_version_number(), AE_VERSION_NUMBER);
    assert_int_equal(AE_VERSION_NUMBER,
                     AE_VERSION_MAJOR * 10000 + AE_VERSION_MINOR * 100 + AE_VERSION_PATCH);
}

static void test_version_string_is_major_minor_patch(void **state)
{
    (void)state;
    const char *s = ae_version_string();
    assert_non_null(s);
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", AE_VERSION_MAJOR, AE_VERSION_MINOR,
             AE_VERSION_PATCH);
    assert_string_equal(s, expected);
    /* Static: the same pointer every time. */
    assert_ptr_equal(s, ae_version_string());
}

static const int ALL_STATUSES[] = {
    AE_OK, AE_ERR_INVALID_ARGUMENT, AE_ERR_OUT_OF_MEMORY, AE_ERR_SIZE_OVERFLOW,
    AE_ERR_NON_FINITE_INPUT, AE_ERR_INPUT_RANGE, AE_ERR_STATE, AE_ERR_CANCELLED,
    AE_ERR_DIVERGED, AE_ERR_IO, AE_ERR_FORMAT, AE_ERR_CHECKSUM, AE_ERR_VERSION,
    AE_ERR_BUFFER_TOO_SMALL, AE_ERR_NON_FINITE_RESULT, AE_ERR_BUSY, AE_ERR_PEER};

static void test_status_codes_keep_their_pinned_values(void **state)
{
    (void)state;
    static const int pinned[] = {0,  -1,  -2,  -3,  -4,  -5,  -6,  -7,
                                 -8, -9, -10, -11, -12, -13, -14, -15, -16};
    for (size_t i = 0; i < ARRAY_LEN(ALL_STATUSES); i++)
        assert_int_equal(ALL_STATUSES[i], pinned[i]);
}

static void test_status_str_is_distinct_and_nonempty_for_every_status(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(ALL_STATUSES); i++) {
        const char *s = ae_status_str(ALL_STATUSES[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown status");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, ae_status_str(ALL_STATUSES[j]));
    }
    assert_string_equal(ae_status_str(AE_ERR_OUT_OF_MEMORY), "out of memory");
}

static void test_status_str_names_unknown_codes_unknown_status(void **state)
{
    (void)state;
    static const int unknown[] = {1, 2, -17, -18, 100, -100, INT_MAX, INT_MIN};
    for (size_t i = 0; i < ARRAY_LEN(unknown); i++) {
        const char *s = ae_status_str(unknown[i]);
        assert_non_null(s);
        assert_string_equal(s, "unknown status");
    }
}

static void test_last_error_is_never_null_and_set_by_a_failure(void **state)
{
    (void)state;
    assert_non_null(ae_last_error());
    assert_int_equal(ae_model_create(NULL, NULL, 0, NULL, 0), AE_ERR_INVALID_ARGUMENT);
    assert_non_null(ae_last_error());
    assert_true(strlen(ae_last_error()) > 0);
}

static void test_model_free_null_is_a_no_op(void **state)
{
    (void)state;
    ae_model_free(NULL);
}

static void test_fresh_model_has_no_error_message(void **state)
{
    (void)state;
    ae_model *m = create_small();
    assert_non_null(ae_model_last_error(m));
    assert_string_equal(ae_model_last_error(m), "");
    ae_model_free(m);
}

static void test_queries_on_null_model_return_zero(void **state)
{
    (void)state;
    assert_int_equal(ae_model_input_dim(NULL), 0);
    assert_int_equal(ae_model_latent_dim(NULL), 0);
    assert_int_equal(ae_model_layer_count(NULL), 0);
    assert_int_equal(ae_model_encoder_layer_count(NULL), 0);
    assert_int_equal(ae_model_param_count(NULL), 0);
}

/* ---------------------------------------------------------------------------------- */
/* Shapes                                                                              */
/* ---------------------------------------------------------------------------------- */

typedef struct layer_expect {
    size_t n_out, n_in;
    int role; /* 0 hidden, 1 latent, 2 output */
} layer_expect;

static void check_layers(const ae_model *m, const layer_expect *expect, size_t n_layers,
                         int hidden, int latent, int output)
{
    assert_int_equal(ae_model_layer_count(m), n_layers);
    size_t params = 0;
    for (size_t l = 0; l < n_layers; l++) {
        size_t n_out = 0, n_in = 0;
        int act = -1;
        assert_int_equal(ae_model_layer_info(m, l, &n_out, &n_in, &act), AE_OK);
        assert_int_equal(n_out, expect[l].n_out);
        assert_int_equal(n_in, expect[l].n_in);
        int want = expect[l].role == 0 ? hidden : expect[l].role == 1 ? latent : output;
        assert_int_equal(act, want);
        params += n_out * n_in + n_out;
    }
    assert_int_equal(ae_model_param_count(m), params);
}

static void test_mirrored_model_reports_its_shape(void **state)
{
    (void)state;
    static const size_t enc[] = {20, 12, 6, 3};
    ae_model *m = test_create_model(enc, ARRAY_LEN(enc), NULL, 0);
    assert_int_equal(ae_model_input_dim(m), 20);
    assert_int_equal(ae_model_latent_dim(m), 3);
    assert_int_equal(ae_model_encoder_layer_count(m), 3);
    static const layer_expect expect[] = {
        {12, 20, 0}, {6, 12, 0}, {3, 6, 1}, {6, 3, 0}, {12, 6, 0}, {20, 12, 2}};
    check_layers(m, expect, ARRAY_LEN(expect), AE_ACT_RELU, AE_ACT_LINEAR, AE_ACT_LINEAR);
    assert_int_equal(ae_model_param_count(m),
                     2 * (20 * 12 + 12 * 6 + 6 * 3) + (12 + 6 + 3) + (6 + 12 + 20));
    ae_model_free(m);
}

static void test_asymmetric_decoder_reports_its_shape(void **state)
{
    (void)state;
    static const size_t enc[] = {20, 12, 6, 3};
    static const size_t dec[] = {3, 10};
    static const size_t dec_full[] = {3, 10, 20};
    ae_model *m = NULL;
    /* {3, 10} does not end at the input width. */
    assert_int_equal(ae_model_create(&m, enc, ARRAY_LEN(enc), dec, ARRAY_LEN(dec)),
                     AE_ERR_INVALID_ARGUMENT);
    m = test_create_model(enc, ARRAY_LEN(enc), dec_full, ARRAY_LEN(dec_full));
    assert_int_equal(ae_model_input_dim(m), 20);
    assert_int_equal(ae_model_latent_dim(m), 3);
    assert_int_equal(ae_model_encoder_layer_count(m), 3);
    static const layer_expect expect[] = {{12, 20, 0}, {6, 12, 0}, {3, 6, 1}, {10, 3, 0}, {20, 10, 2}};
    check_layers(m, expect, ARRAY_LEN(expect), AE_ACT_RELU, AE_ACT_LINEAR, AE_ACT_LINEAR);
    ae_model_free(m);
}

static void test_single_layer_encoder_and_decoder_take_latent_and_output_roles(void **state)
{
    (void)state;
    static const size_t enc[] = {7, 2};
    ae_model *m = test_create_model(enc, ARRAY_LEN(enc), NULL, 0);
    assert_int_equal(ae_model_encoder_layer_count(m), 1);
    test_set_activations(m, AE_ACT_ELU, AE_ACT_TANH, AE_ACT_SIGMOID);
    static const layer_expect expect[] = {{2, 7, 1}, {7, 2, 2}};
    check_layers(m, expect, ARRAY_LEN(expect), AE_ACT_ELU, AE_ACT_TANH, AE_ACT_SIGMOID);
    assert_int_equal(ae_model_param_count(m), 2 * 7 * 2 + 2 + 7);
    ae_model_free(m);
}

static void test_layer_activations_follow_their_role_settings(void **state)
{
    (void)state;
    static const size_t enc[] = {9, 6, 4};
    static const size_t dec[] = {4, 5, 7, 9};
    ae_model *m = test_create_model(enc, ARRAY_LEN(enc), dec, ARRAY_LEN(dec));
    static const layer_expect expect[] = {{6, 9, 0}, {4, 6, 1}, {5, 4, 0}, {7, 5, 0}, {9, 7, 2}};
    check_layers(m, expect, ARRAY_LEN(expect), AE_ACT_RELU, AE_ACT_LINEAR, AE_ACT_LINEAR);
    static const int combos[][3] = {
        {AE_ACT_TANH, AE_ACT_SIGMOID, AE_ACT_SOFTPLUS},
        {AE_ACT_LEAKY_RELU, AE_ACT_ELU, AE_ACT_SIGMOID},
        {AE_ACT_SIGMOID, AE_ACT_RELU, AE_ACT_TANH},
        {AE_ACT_LINEAR, AE_ACT_SOFTPLUS, AE_ACT_LEAKY_RELU},
    };
    for (size_t i = 0; i < ARRAY_LEN(combos); i++) {
        test_set_activations(m, combos[i][0], combos[i][1], combos[i][2]);
        check_layers(m, expect, ARRAY_LEN(expect), combos[i][0], combos[i][1], combos[i][2]);
    }
    ae_model_free(m);
}

static void test_layer_info_accepts_null_outputs(void **state)
{
    (void)state;
    ae_model *m = create_small();
    size_t n_out = 0, n_in = 0;
    int act = -1;
    assert_int_equal(ae_model_layer_info(m, 0, NULL, NULL, NULL), AE_OK);
    assert_int_equal(ae_model_layer_info(m, 1, &n_out, NULL, NULL), AE_OK);
    assert_int_equal(n_out, 3);
    assert_int_equal(ae_model_layer_info(m, 2, NULL, &n_in, NULL), AE_OK);
    assert_int_equal(n_in, 3);
    assert_int_equal(ae_model_layer_info(m, 3, NULL, NULL, &act), AE_OK);
    assert_int_equal(act, AE_ACT_LINEAR);
    ae_model_free(m);
}

/* ---------------------------------------------------------------------------------- */
/* Settings                                                                            */
/* ---------------------------------------------------------------------------------- */

static void test_every_param_has_a_distinct_name(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(PARAM_DOCS); i++) {
        const char *name = ae_param_name(PARAM_DOCS[i].param);
        assert_non_null(name);
        assert_true(strlen(name) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(name, ae_param_name(PARAM_DOCS[j].param));
    }
    assert_string_equal(ae_param_name(AE_PARAM_LEARNING_RATE), "learning_rate");
}

static void test_unknown_params_have_no_name_and_no_bounds(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(UNKNOWN_PARAMS); i++) {
        ae_param p = (ae_param)UNKNOWN_PARAMS[i];
        assert_null(ae_param_name(p));
        double lo = 0, hi = 0;
        int integral = 0;
        assert_int_equal(ae_param_bounds(p, &lo, &hi, &integral), AE_ERR_INVALID_ARGUMENT);
    }
}

static void test_param_bounds_match_the_documented_ranges(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(PARAM_DOCS); i++) {
        const param_doc *d = &PARAM_DOCS[i];
        double lo = NAN, hi = NAN;
        int integral = -1;
        assert_int_equal(ae_param_bounds(d->param, &lo, &hi, &integral), AE_OK);
        if (lo != d->lo || hi != d->hi || integral != d->integral)
            print_error("%s: bounds [%.17g, %.17g] integral %d, documented [%.17g, %.17g] %d\n",
                        ae_param_name(d->param), lo, hi, integral, d->lo, d->hi, d->integral);
        assert_true(lo == d->lo);
        assert_true(hi == d->hi);
        assert_true(lo <= hi);
        assert_int_equal(integral, d->integral);
        /* Every output pointer may be NULL. */
        assert_int_equal(ae_param_bounds(d->param, NULL, NULL, NULL), AE_OK);
        assert_int_equal(ae_param_bounds(d->param, &lo, NULL, NULL), AE_OK);
        assert_int_equal(ae_param_bounds(d->param, NULL, &hi, NULL), AE_OK);
        assert_int_equal(ae_param_bounds(d->param, NULL, NULL, &integral), AE_OK);
    }
}

static void test_new_model_has_the_documented_defaults(void **state)
{
    (void)state;
    ae_model *m = create_small();
    for (size_t i = 0; i < ARRAY_LEN(PARAM_DOCS); i++) {
        double v = get_param(m, PARAM_DOCS[i].param);
        if (v != PARAM_DOCS[i].def)
            print_error("%s: default %.17g, documented %.17g\n", ae_param_name(PARAM_DOCS[i].param),
                        v, PARAM_DOCS[i].def);
        assert_true(v == PARAM_DOCS[i].def);
    }
    ae_model_free(m);
}

static void test_defaults_lie_within_bounds(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(PARAM_DOCS); i++) {
        const param_doc *d = &PARAM_DOCS[i];
        double lo, hi;
        int integral;
        assert_int_equal(ae_param_bounds(d->param, &lo, &hi, &integral), AE_OK);
        assert_true(d->def >= lo && d->def <= hi);
        if (integral)
            assert_true(floor(d->def) == d->def);
    }
}

/* Each setting on a model of its own: some values of one setting conflict with values of
 * another (test_settings), which this test is not about. */
static void test_set_param_round_trips_at_both_bounds(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(PARAM_DOCS); i++) {
        ae_model *m = create_small();
        const param_doc *d = &PARAM_DOCS[i];
        for (int upper = 0; upper <= 1; upper++) {
            double v = inner_end(d, upper);
            int rc = ae_model_set_param(m, d->param, v);
            if (rc != AE_OK)
                print_error("%s = %.17g refused: %s\n", ae_param_name(d->param), v,
                            ae_model_last_error(m));
            assert_int_equal(rc, AE_OK);
            double got = get_param(m, d->param);
            if (got != v)
                print_error("%s: set %.17g, got %.17g\n", ae_param_name(d->param), v, got);
            assert_true(got == v);
        }
        /* A value in the middle, too. */
        double mid = d->integral ? floor((d->lo + d->hi) / 2) : (d->lo + d->hi) / 2;
        test_set_param(m, d->param, mid);
        assert_true(get_param(m, d->param) == mid);
        ae_model_free(m);
    }
}

static void test_set_param_refuses_open_ends(void **state)
{
    (void)state;
    ae_model *m = create_small();
    double before[ARRAY_LEN(PARAM_DOCS)];
    settings_of(m, before);
    for (size_t i = 0; i < ARRAY_LEN(PARAM_DOCS); i++) {
        const param_doc *d = &PARAM_DOCS[i];
        if (d->lo_open)
            assert_int_equal(ae_model_set_param(m, d->param, d->lo), AE_ERR_INVALID_ARGUMENT);
        if (d->hi_open)
            assert_int_equal(ae_model_set_param(m, d->param, d->hi), AE_ERR_INVALID_ARGUMENT);
    }
    assert_settings_are(m, before);
    ae_model_free(m);
}

static void test_set_param_refuses_out_of_range_and_non_integral_values(void **state)
{
    (void)state;
    ae_model *m = create_small();
    /* Move every setting away from its default so "unchanged" means something. */
    test_set_param(m, AE_PARAM_LEARNING_RATE, 0.25);
    test_set_param(m, AE_PARAM_EPOCHS, 3);
    float *params = test_params_of(m);
    double before[ARRAY_LEN(PARAM_DOCS)];
    settings_of(m, before);
    for (size_t i = 0; i < ARRAY_LEN(PARAM_DOCS); i++) {
        const param_doc *d = &PARAM_DOCS[i];
        double bad[12];
        size_t n_bad = 0;
        bad[n_bad++] = nextafter(d->lo, -INFINITY);
        bad[n_bad++] = nextafter(d->hi, INFINITY);
        bad[n_bad++] = d->lo - 1;
        bad[n_bad++] = d->hi * 2 + 1;
        bad[n_bad++] = NAN;
        bad[n_bad++] = INFINITY;
        bad[n_bad++] = -INFINITY;
        if (d->integral) {
            bad[n_bad++] = d->lo + 0.5;
            double below_hi = d->hi - 0.5;
            if (below_hi != floor(below_hi))
                bad[n_bad++] = below_hi;
            bad[n_bad++] = nextafter(d->lo + 1, INFINITY);
        }
        for (size_t k = 0; k < n_bad; k++) {
            int rc = ae_model_set_param(m, d->param, bad[k]);
            if (rc != AE_ERR_INVALID_ARGUMENT)
                print_error("%s = %.17g gave %d\n", ae_param_name(d->param), bad[k], rc);
            assert_int_equal(rc, AE_ERR_INVALID_ARGUMENT);
            assert_true(strlen(ae_model_last_error(m)) > 0);
            assert_true(strlen(ae_last_error()) > 0);
        }
    }
    assert_settings_are(m, before);
    assert_true(test_params_equal_to(m, params));
    free(params);
    ae_model_free(m);
}

static void test_set_param_refuses_unknown_params(void **state)
{
    (void)state;
    ae_model *m = create_small();
    float *params = test_params_of(m);
    double before[ARRAY_LEN(PARAM_DOCS)];
    settings_of(m, before);
    for (size_t i = 0; i < ARRAY_LEN(UNKNOWN_PARAMS); i++) {
        ae_param p = (ae_param)UNKNOWN_PARAMS[i];
        assert_int_equal(ae_model_set_param(m, p, 0.0), AE_ERR_INVALID_ARGUMENT);
        assert_int_equal(ae_model_set_param(m, p, 1.0), AE_ERR_INVALID_ARGUMENT);
        double v = 42.0;
        assert_int_equal(ae_model_get_param(m, p, &v), AE_ERR_INVALID_ARGUMENT);
    }
    assert_settings_are(m, before);
    assert_true(test_params_equal_to(m, params));
    free(params);
    ae_model_free(m);
}

static void test_setting_one_param_leaves_the_others_alone(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(PARAM_DOCS); i++) {
        ae_model *m = create_small();
        const param_doc *d = &PARAM_DOCS[i];
        double before[ARRAY_LEN(PARAM_DOCS)], after[ARRAY_LEN(PARAM_DOCS)];
        settings_of(m, before);
        double v = d->def == inner_end(d, 1) ? inner_end(d, 0) : inner_end(d, 1);
        test_set_param(m, d->param, v);
        settings_of(m, after);
        for (size_t j = 0; j < ARRAY_LEN(PARAM_DOCS); j++)
            if (j != i)
                assert_true(before[j] == after[j]);
        assert_true(after[i] == v);
        ae_model_free(m);
    }
}

/* ae_model_describe_layer gives each layer's shape, activation and place in the flat vector:
 * every weight and bias a layer owns, and nothing twice, in the layout ae_model_get_params()
 * documents; tied decoder layers point at their mirror's weights and own none. */
static void test_layer_descriptions_give_the_flat_layout(void **state)
{
    (void)state;
    static const size_t widths[] = {7, 5, 3};
    static const unsigned flags[] = {AE_ARCH_PLAIN, AE_ARCH_TIED_WEIGHTS, AE_ARCH_VARIATIONAL};
    for (size_t k = 0; k < ARRAY_LEN(flags); k++) {
        ae_model *m = NULL;
        assert_int_equal(ae_model_create_ex(&m, widths, 3, NULL, 0, flags[k]), AE_OK);
        const size_t n_layers = ae_model_layer_count(m), n = ae_model_param_count(m);
        float *params = test_params_of(m);
        unsigned char *owned = calloc(n, 1);
        assert_non_null(owned);
        uint64_t next_weight = 0;
        for (size_t l = 0; l < n_layers; l++) {
            ae_layer_description d = {.size = sizeof d};
            assert_int_equal(ae_model_describe_layer(m, l, &d), AE_OK);
            size_t n_out, n_in;
            int activation;
            assert_int_equal(ae_model_layer_info(m, l, &n_out, &n_in, &activation), AE_OK);
            assert_int_equal(d.n_out, n_out);
            assert_int_equal(d.n_in, n_in);
            assert_int_equal(d.activation, activation);
            assert_int_equal(d.bias_count, n_out);
            const int tied = (flags[k] & AE_ARCH_TIED_WEIGHTS) && l >= ae_model_encoder_layer_count(m);
            assert_int_equal(d.tied, tied);
            assert_int_equal(d.weights_layer, tied ? n_layers - 1 - l : l);
            assert_int_equal(d.weight_count, tied ? 0 : n_out * n_in);
            /* Weights in layer order, then biases in layer order, back to back. */
            if (!tied) {
                assert_int_equal(d.weight_offset, next_weight);
                next_weight += d.weight_count;
            }
            for (uint64_t i = 0; i < d.weight_count; i++)
                owned[d.weight_offset + i]++;
            for (uint64_t i = 0; i < d.bias_count; i++)
                owned[d.bias_offset + i]++;
            /* The described spans hold what get_weights and get_bias give. */
            float *w = malloc(n_out * n_in * sizeof *w), *b = malloc(n_out * sizeof *b);
            assert_non_null(w);
            assert_non_null(b);
            assert_int_equal(ae_model_get_weights(m, l, w, n_out * n_in), AE_OK);
            assert_int_equal(ae_model_get_bias(m, l, b, n_out), AE_OK);
            for (size_t i = 0; i < n_out; i++) {
                assert_true(b[i] == params[d.bias_offset + i]);
                for (size_t j = 0; j < n_in; j++)
                    assert_true(w[i * n_in + j] == (tied ? params[d.weight_offset + j * n_out + i]
                                                         : params[d.weight_offset + i * n_in + j]));
            }
            free(w);
            free(b);
        }
        for (size_t i = 0; i < n; i++)
            assert_int_equal(owned[i], 1);
        ae_layer_description d = {.size = sizeof d};
        assert_int_equal(ae_model_describe_layer(m, n_layers, &d), AE_ERR_INVALID_ARGUMENT);
        assert_int_equal(ae_model_describe_layer(NULL, 0, &d), AE_ERR_INVALID_ARGUMENT);
        assert_int_equal(ae_model_describe_layer(m, 0, NULL), AE_ERR_INVALID_ARGUMENT);
        d.size = 0;
        assert_int_equal(ae_model_describe_layer(m, 0, &d), AE_ERR_INVALID_ARGUMENT);
        /* An older, shorter struct gets only the fields it has. */
        unsigned char raw[sizeof(ae_layer_description)];
        memset(raw, 0xA5, sizeof raw);
        ae_layer_description *short_one = (ae_layer_description *)(void *)raw;
        short_one->size = offsetof(ae_layer_description, activation);
        assert_int_equal(ae_model_describe_layer(m, 1, short_one), AE_OK);
        assert_int_equal(short_one->n_in, 5);
        for (size_t i = offsetof(ae_layer_description, activation); i < sizeof raw; i++)
            assert_int_equal(raw[i], 0xA5);
        free(owned);
        free(params);
        ae_model_free(m);
    }
}

/* ae_param_describe gives bindings everything about each setting, from the same table
 * ae_param_bounds and ae_model_set_param use; ae_param_at lists them all. */
static void test_param_descriptions_agree_with_bounds_and_defaults(void **state)
{
    (void)state;
    assert_int_equal(ae_param_count(), ARRAY_LEN(PARAM_DOCS));
    ae_model *m = create_small();
    int previous = 0;
    for (size_t i = 0; i < ae_param_count(); i++) {
        ae_param p = ae_param_at(i);
        assert_true((int)p > previous); /* increasing ids */
        previous = (int)p;
        const param_doc *doc = NULL;
        for (size_t k = 0; k < ARRAY_LEN(PARAM_DOCS); k++)
            if (PARAM_DOCS[k].param == p)
                doc = &PARAM_DOCS[k];
        assert_non_null(doc);
        ae_param_description d = {.size = sizeof d};
        assert_int_equal(ae_param_describe(p, &d), AE_OK);
        assert_string_equal(d.name, ae_param_name(p));
        assert_true(d.default_value == doc->def);
        assert_true(d.default_value == get_param(m, p));
        assert_true(d.min_value == doc->lo && d.max_value == doc->hi);
        assert_int_equal(d.min_open, doc->lo_open);
        assert_int_equal(d.max_open, doc->hi_open);
        if (d.kind == AE_PARAM_KIND_REAL)
            assert_false(doc->integral);
        else
            assert_true(doc->integral);
        if (d.kind == AE_PARAM_KIND_BOOLEAN)
            assert_true(d.min_value == 0 && d.max_value == 1);
        /* every value of an enum setting has a name, and nothing else does */
        for (double v = d.min_value; d.kind == AE_PARAM_KIND_ENUM && v <= d.max_value; v++)
            assert_non_null(ae_param_value_name(p, v));
        if (d.kind == AE_PARAM_KIND_ENUM)
            assert_null(ae_param_value_name(p, d.max_value + 1));
        else
            assert_null(ae_param_value_name(p, d.min_value));
    }
    assert_int_equal(ae_param_at(ae_param_count()), 0);
    assert_string_equal(ae_param_value_name(AE_PARAM_LOSS, AE_LOSS_BCE), "bce");
    assert_string_equal(ae_param_value_name(AE_PARAM_OPTIMIZER, AE_OPT_ADAMW), "adamw");
    assert_string_equal(ae_param_value_name(AE_PARAM_NOISE, AE_NOISE_SALT_AND_PEPPER), "salt_and_pepper");
    assert_string_equal(ae_param_value_name(AE_PARAM_SCALING, AE_SCALING_MINMAX), "minmax");
    assert_string_equal(ae_param_value_name(AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SOFTPLUS), "softplus");
    assert_null(ae_param_value_name(AE_PARAM_LOSS, 0.5));
    assert_null(ae_param_value_name(AE_PARAM_LOSS, -1));
    ae_param_description d = {.size = sizeof d};
    assert_int_equal(ae_param_describe((ae_param)999, &d), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_param_describe(AE_PARAM_SEED, NULL), AE_ERR_INVALID_ARGUMENT);
    d.size = 0;
    assert_int_equal(ae_param_describe(AE_PARAM_SEED, &d), AE_ERR_INVALID_ARGUMENT);
    ae_model_free(m);
}

static void test_activation_names_are_distinct(void **state)
{
    (void)state;
    for (int a = AE_ACT_LINEAR; a <= AE_ACT_SOFTPLUS; a++) {
        const char *name = ae_activation_name((ae_activation)a);
        assert_non_null(name);
        assert_true(strlen(name) > 0);
        for (int b = AE_ACT_LINEAR; b < a; b++)
            assert_string_not_equal(name, ae_activation_name((ae_activation)b));
    }
    assert_string_equal(ae_activation_name(AE_ACT_RELU), "relu");
    assert_null(ae_activation_name((ae_activation)7));
    assert_null(ae_activation_name((ae_activation)-1));
    assert_null(ae_activation_name((ae_activation)1000));
}

/* ---------------------------------------------------------------------------------- */
/* Weights                                                                             */
/* ---------------------------------------------------------------------------------- */

static void test_weights_and_bias_round_trip_per_layer(void **state)
{
    (void)state;
    static const size_t enc[] = {9, 6, 4};
    static const size_t dec[] = {4, 5, 9};
    ae_model *m = test_create_model(enc, ARRAY_LEN(enc), dec, ARRAY_LEN(dec));
    test_rng rng;
    test_rng_seed(&rng, 11);
    size_t n_layers = ae_model_layer_count(m);
    for (size_t l = 0; l < n_layers; l++) {
        size_t n_out, n_in;
        assert_int_equal(ae_model_layer_info(m, l, &n_out, &n_in, NULL), AE_OK);
        float *w = test_random_matrix(&rng, n_out, n_in, n_in, -2.0f, 2.0f);
        float *b = test_random_matrix(&rng, 1, n_out, n_out, -1.0f, 1.0f);
        float *w_got = calloc(n_out * n_in, sizeof *w_got);
        float *b_got = calloc(n_out, sizeof *b_got);
        assert_int_equal(ae_model_set_weights(m, l, w, n_out * n_in), AE_OK);
        assert_int_equal(ae_model_set_bias(m, l, b, n_out), AE_OK);
        assert_int_equal(ae_model_get_weights(m, l, w_got, n_out * n_in), AE_OK);
        assert_int_equal(ae_model_get_bias(m, l, b_got, n_out), AE_OK);
        assert_memory_equal(w, w_got, n_out * n_in * sizeof *w);
        assert_memory_equal(b, b_got, n_out * sizeof *b);
        free(w), free(b), free(w_got), free(b_got);
    }
    ae_model_free(m);
}

static void test_setting_one_layer_leaves_the_other_layers_alone(void **state)
{
    (void)state;
    ae_model *m = create_small();
    size_t n = ae_model_param_count(m);
    float *before = test_params_of(m);
    size_t n_out, n_in;
    assert_int_equal(ae_model_layer_info(m, 1, &n_out, &n_in, NULL), AE_OK);
    float *w = malloc(n_out * n_in * sizeof *w);
    for (size_t i = 0; i < n_out * n_in; i++)
        w[i] = 100.0f + (float)i;
    assert_int_equal(ae_model_set_weights(m, 1, w, n_out * n_in), AE_OK);
    float *after = test_params_of(m);
    /* Layer 1's W starts after layer 0's W (5 x 8). */
    size_t off = 5 * 8;
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        if (i >= off && i < off + n_out * n_in) {
            assert_true(after[i] == w[i - off]);
            changed++;
        } else {
            assert_true(memcmp(&after[i], &before[i], sizeof *after) == 0);
        }
    }
    assert_int_equal(changed, n_out * n_in);
    free(w), free(before), free(after);
    ae_model_free(m);
}

static void test_flat_params_round_trip(void **state)
{
    (void)state;
    ae_model *m = create_small();
    size_t n = ae_model_param_count(m);
    test_rng rng;
    test_rng_seed(&rng, 12);
    float *p = test_random_matrix(&rng, 1, n, n, -3.0f, 3.0f);
    assert_int_equal(ae_model_set_params(m, p, n), AE_OK);
    float *got = test_params_of(m);
    assert_memory_equal(p, got, n * sizeof *p);
    free(p), free(got);
    ae_model_free(m);
}

/* Layer @p l's shape, and malloc'ed copies of its weights and bias. */
static void copy_layer(const ae_model *m, size_t l, size_t *n_out, size_t *n_in, float **w, float **b)
{
    assert_int_equal(ae_model_layer_info(m, l, n_out, n_in, NULL), AE_OK);
    *w = malloc(*n_out * *n_in * sizeof **w);
    *b = malloc(*n_out * sizeof **b);
    assert_non_null(*w);
    assert_non_null(*b);
    assert_int_equal(ae_model_get_weights(m, l, *w, *n_out * *n_in), AE_OK);
    assert_int_equal(ae_model_get_bias(m, l, *b, *n_out), AE_OK);
}

/* Flat layout: every layer's W in layer order, then every layer's bias in layer order. */
static void check_flat_layout(ae_model *m, const float *flat)
{
    size_t n_layers = ae_model_layer_count(m);
    size_t w_off = 0, total_w = 0;
    for (size_t l = 0; l < n_layers; l++) {
        size_t n_out, n_in;
        assert_int_equal(ae_model_layer_info(m, l, &n_out, &n_in, NULL), AE_OK);
        total_w += n_out * n_in;
    }
    size_t b_off = total_w;
    for (size_t l = 0; l < n_layers; l++) {
        size_t n_out, n_in;
        float *w, *b;
        copy_layer(m, l, &n_out, &n_in, &w, &b);
        assert_memory_equal(w, flat + w_off, n_out * n_in * sizeof *w);
        assert_memory_equal(b, flat + b_off, n_out * sizeof *b);
        w_off += n_out * n_in;
        b_off += n_out;
        free(w), free(b);
    }
    assert_int_equal(b_off, ae_model_param_count(m));
}

static void test_flat_params_hold_all_weights_then_all_biases(void **state)
{
    (void)state;
    static const size_t enc[] = {9, 6, 4};
    static const size_t dec[] = {4, 5, 7, 9};
    ae_model *m = test_create_model(enc, ARRAY_LEN(enc), dec, ARRAY_LEN(dec));
    size_t n = ae_model_param_count(m);
    /* Distinct values so any misplaced element shows. */
    float *flat = malloc(n * sizeof *flat);
    for (size_t i = 0; i < n; i++)
        flat[i] = (float)i + 0.5f;
    assert_int_equal(ae_model_set_params(m, flat, n), AE_OK);
    check_flat_layout(m, flat);
    free(flat);
    ae_model_free(m);
}

static void test_per_layer_writes_show_up_in_the_flat_layout(void **state)
{
    (void)state;
    static const size_t enc[] = {9, 6, 4};
    static const size_t dec[] = {4, 5, 7, 9};
    ae_model *m = test_create_model(enc, ARRAY_LEN(enc), dec, ARRAY_LEN(dec));
    size_t n_layers = ae_model_layer_count(m);
    float next = 1.0f;
    for (size_t l = 0; l < n_layers; l++) {
        size_t n_out, n_in;
        assert_int_equal(ae_model_layer_info(m, l, &n_out, &n_in, NULL), AE_OK);
        float *w = malloc(n_out * n_in * sizeof *w);
        float *b = malloc(n_out * sizeof *b);
        for (size_t i = 0; i < n_out * n_in; i++)
            w[i] = next++;
        for (size_t i = 0; i < n_out; i++)
            b[i] = -(next++);
        assert_int_equal(ae_model_set_weights(m, l, w, n_out * n_in), AE_OK);
        assert_int_equal(ae_model_set_bias(m, l, b, n_out), AE_OK);
        free(w), free(b);
    }
    float *flat = test_params_of(m);
    check_flat_layout(m, flat);
    /* Also the fresh, randomly initialised model agrees with itself. */
    ae_model *fresh = test_create_model(enc, ARRAY_LEN(enc), dec, ARRAY_LEN(dec));
    float *fresh_flat = test_params_of(fresh);
    check_flat_layout(fresh, fresh_flat);
    free(flat), free(fresh_flat);
    release(NULL, fresh, m);
}

static void test_new_model_has_zero_biases_and_nonzero_weights(void **state)
{
    (void)state;
    ae_model *m = create_small();
    size_t n_layers = ae_model_layer_count(m);
    for (size_t l = 0; l < n_layers; l++) {
        size_t n_out, n_in;
        float *w, *b;
        copy_layer(m, l, &n_out, &n_in, &w, &b);
        size_t nonzero = 0;
        for (size_t i = 0; i < n_out * n_in; i++) {
            assert_true(isfinite(w[i]));
            nonzero += w[i] != 0.0f;
        }
        assert_true(nonzero > n_out * n_in / 2);
        for (size_t i = 0; i < n_out; i++)
            assert_true(b[i] == 0.0f);
        free(w), free(b);
    }
    ae_model_free(m);
}

/* ---------------------------------------------------------------------------------- */
/* Fresh weights                                                                       */
/* ---------------------------------------------------------------------------------- */

static void test_same_seed_gives_identical_initial_params(void **state)
{
    (void)state;
    ae_model *a = create_small(), *b = create_small();
    assert_true(test_same_params(a, b));
    test_set_param(a, AE_PARAM_SEED, 77);
    test_set_param(b, AE_PARAM_SEED, 77);
    assert_true(test_same_params(a, b));
    release(NULL, a, b);
}

static void test_different_seed_gives_different_initial_params(void **state)
{
    (void)state;
    ae_model *a = create_small(), *b = create_small();
    test_set_param(b, AE_PARAM_SEED, 1);
    assert_false(test_same_params(a, b));
    /* Not just some: most weights differ. */
    size_t n = ae_model_param_count(a);
    float *pa = test_params_of(a), *pb = test_params_of(b);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++)
        differ += pa[i] != pb[i];
    assert_true(differ > (8 * 5 + 5 * 3) * 2 * 9 / 10);
    free(pa), free(pb);
    release(NULL, a, b);
}

static void test_initial_params_do_not_depend_on_the_order_of_settings(void **state)
{
    (void)state;
    ae_model *a = create_small(), *b = create_small(), *c = create_small(), *ref = create_small();
    float *default_params = test_params_of(ref);

    test_set_param(a, AE_PARAM_SEED, 5);
    test_set_activations(a, AE_ACT_TANH, AE_ACT_SIGMOID, AE_ACT_ELU);

    test_set_param(b, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_ELU);
    test_set_param(b, AE_PARAM_LATENT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(b, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    test_set_param(b, AE_PARAM_SEED, 5);

    /* Detours through other values end where they would have started. */
    test_set_param(c, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_SOFTPLUS);
    test_set_param(c, AE_PARAM_SEED, 9);
    test_set_param(c, AE_PARAM_LEARNING_RATE, 0.5);
    test_set_param(c, AE_PARAM_LATENT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(c, AE_PARAM_SEED, 5);
    test_set_param(c, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_ELU);
    test_set_param(c, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);

    assert_true(test_same_params(a, b));
    assert_true(test_same_params(a, c));
    assert_false(test_params_equal_to(a, default_params));

    /* Going back to the defaults gives the default model's weights. */
    test_set_param(a, AE_PARAM_SEED, 0);
    test_set_activations(a, AE_ACT_RELU, AE_ACT_LINEAR, AE_ACT_LINEAR);
    assert_true(test_params_equal_to(a, default_params));

    free(default_params);
    ae_model_free(a);
    ae_model_free(b);
    ae_model_free(c);
    ae_model_free(ref);
}

static void test_non_init_settings_do_not_change_fresh_weights(void **state)
{
    (void)state;
    ae_model *a = create_small(), *ref = create_small();
    test_set_param(a, AE_PARAM_LEARNING_RATE, 0.1);
    test_set_param(a, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(a, AE_PARAM_LOSS, AE_LOSS_BCE);
    test_set_param(a, AE_PARAM_BATCH_SIZE, 3);
    test_set_param(a, AE_PARAM_LEAKY_SLOPE, 0.2);
    test_set_param(a, AE_PARAM_ELU_ALPHA, 2.0);
    assert_true(test_same_params(a, ref));
    release(NULL, a, ref);
}

static void test_changing_seed_after_set_weights_keeps_the_weights(void **state)
{
    (void)state;
    ae_model *m = create_small();
    float w[5 * 8];
    for (size_t i = 0; i < ARRAY_LEN(w); i++)
        w[i] = 0.01f * (float)i;
    assert_int_equal(ae_model_set_weights(m, 0, w, ARRAY_LEN(w)), AE_OK);
    float *kept = test_params_of(m);
    test_set_param(m, AE_PARAM_SEED, 3);
    assert_true(test_params_equal_to(m, kept));
    test_set_activations(m, AE_ACT_TANH, AE_ACT_TANH, AE_ACT_SIGMOID);
    assert_true(test_params_equal_to(m, kept));
    int act = -1;
    assert_int_equal(ae_model_layer_info(m, 0, NULL, NULL, &act), AE_OK);
    assert_int_equal(act, AE_ACT_TANH);
    free(kept);
    ae_model_free(m);
}

static void test_changing_seed_after_set_params_keeps_the_params(void **state)
{
    (void)state;
    ae_model *m = create_small();
    float *p = test_params_of(m); /* set the very values it has: still ends "fresh" */
    assert_int_equal(ae_model_set_params(m, p, ae_model_param_count(m)), AE_OK);
    test_set_param(m, AE_PARAM_SEED, 3);
    test_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_SIGMOID);
    assert_true(test_params_equal_to(m, p));
    free(p);
    ae_model_free(m);
}

static void test_changing_seed_after_train_batch_keeps_the_weights(void **state)
{
    (void)state;
    ae_model *m = create_small();
    float *x = batch_data(21, 16, 8);
    double loss = NAN;
    assert_int_equal(ae_model_train_batch(m, x, 16, 8, &loss), AE_OK);
    assert_true(isfinite(loss));
    float *kept = test_params_of(m);
    test_set_param(m, AE_PARAM_SEED, 3);
    assert_true(test_params_equal_to(m, kept));
    test_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    assert_true(test_params_equal_to(m, kept));
    free(kept), free(x);
    ae_model_free(m);
}

static void test_changing_seed_after_fit_keeps_the_weights(void **state)
{
    (void)state;
    ae_model *m = create_small();
    float *x = batch_data(22, 16, 8);
    test_set_epochs_and_batch(m, 1, 8);
    assert_int_equal(ae_model_fit(m, x, 16, 8, NULL), AE_OK);
    float *kept = test_params_of(m);
    test_set_param(m, AE_PARAM_SEED, 3);
    test_set_param(m, AE_PARAM_LATENT_ACTIVATION, AE_ACT_TANH);
    assert_true(test_params_equal_to(m, kept));
    free(kept), free(x);
    ae_model_free(m);
}

/* ---------------------------------------------------------------------------------- */
/* Initialisation statistics                                                           */
/* ---------------------------------------------------------------------------------- */

typedef struct weight_stats {
    double mean, var, max_abs;
} weight_stats;

static weight_stats layer_stats(const ae_model *m, size_t layer, size_t *n_out, size_t *n_in)
{
    assert_int_equal(ae_model_layer_info(m, layer, n_out, n_in, NULL), AE_OK);
    size_t n = *n_out * *n_in;
    float *w = malloc(n * sizeof *w);
    assert_non_null(w);
    assert_int_equal(ae_model_get_weights(m, layer, w, n), AE_OK);
    double sum = 0, sum2 = 0, max_abs = 0;
    for (size_t i = 0; i < n; i++) {
        sum += w[i];
        sum2 += (double)w[i] * w[i];
        if (fabs(w[i]) > max_abs)
            max_abs = fabs(w[i]);
    }
    free(w);
    weight_stats s = {sum / (double)n, sum2 / (double)n - (sum / (double)n) * (sum / (double)n),
                      max_abs};
    return s;
}

/* He-normal: variance 2 / fan_in, unbounded tails. */
static void check_he(const ae_model *m, size_t layer)
{
    size_t n_out, n_in;
    weight_stats s = layer_stats(m, layer, &n_out, &n_in);
    double want = 2.0 / (double)n_in;
    if (fabs(s.var / want - 1) > 0.1)
        print_error("layer %zu: variance %g, He wants %g\n", layer, s.var, want);
    assert_true(fabs(s.var / want - 1) <= 0.1);
    assert_true(fabs(s.mean) < 0.05 * sqrt(want));
    /* A normal sample of this size goes well past the Glorot-uniform bound sqrt(3) sd. */
    assert_true(s.max_abs > 2.0 * sqrt(want));
}

/* Glorot-uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)), variance 2 / (fan_in + fan_out). */
static void check_glorot(const ae_model *m, size_t layer)
{
    size_t n_out, n_in;
    weight_stats s = layer_stats(m, layer, &n_out, &n_in);
    double want = 2.0 / (double)(n_in + n_out);
    double bound = sqrt(6.0 / (double)(n_in + n_out));
    if (fabs(s.var / want - 1) > 0.1)
        print_error("layer %zu: variance %g, Glorot wants %g\n", layer, s.var, want);
    assert_true(fabs(s.var / want - 1) <= 0.1);
    assert_true(fabs(s.mean) < 0.05 * sqrt(want));
    assert_true(s.max_abs <= bound * (1 + 1e-6));
    assert_true(s.max_abs > 0.99 * bound);
}

static void test_relu_family_layers_get_he_normal_init(void **state)
{
    (void)state;
    static const size_t enc[] = {1000, 800, 600};
    ae_model *m = test_create_model(enc, ARRAY_LEN(enc), NULL, 0);
    /* Layers: 0 hidden (relu), 1 latent (linear), 2 hidden (relu), 3 output (linear). */
    check_he(m, 0);
    check_he(m, 2);
    static const int acts[] = {AE_ACT_LEAKY_RELU, AE_ACT_ELU};
    for (size_t i = 0; i < ARRAY_LEN(acts); i++) {
        test_set_activations(m, acts[i], acts[i], AE_ACT_RELU);
        for (size_t l = 0; l < 4; l++)
            check_he(m, l);
    }
    ae_model_free(m);
}

static void test_other_layers_get_glorot_uniform_init(void **state)
{
    (void)state;
    static const size_t enc[] = {1000, 800, 600};
    ae_model *m = test_create_model(enc, ARRAY_LEN(enc), NULL, 0);
    check_glorot(m, 1); /* latent, linear */
    check_glorot(m, 3); /* output, linear */
    static const int acts[] = {AE_ACT_SIGMOID, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_SOFTPLUS};
    for (size_t i = 0; i < ARRAY_LEN(acts); i++) {
        test_set_activations(m, acts[i], acts[i], acts[i]);
        for (size_t l = 0; l < 4; l++)
            check_glorot(m, l);
    }
    ae_model_free(m);
}

/* ---------------------------------------------------------------------------------- */
/* Clone and reset                                                                     */
/* ---------------------------------------------------------------------------------- */

static void test_clone_copies_params_and_settings(void **state)
{
    (void)state;
    static const size_t enc[] = {9, 6, 4};
    static const size_t dec[] = {4, 5, 7, 9};
    ae_model *m = test_create_model(enc, ARRAY_LEN(enc), dec, ARRAY_LEN(dec));
    test_set_param(m, AE_PARAM_SEED, 17);
    test_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 0.05);
    test_set_param(m, AE_PARAM_MOMENTUM, 0.5);
    test_set_param(m, AE_PARAM_EPOCHS, 7);
    test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.25);
    ae_model *c = test_clone_model(m);
    assert_non_null(c);
    assert_ptr_not_equal(c, m);
    assert_true(test_same_params(m, c));
    assert_true(same_settings(m, c));
    assert_int_equal(ae_model_layer_count(c), ae_model_layer_count(m));
    assert_int_equal(ae_model_encoder_layer_count(c), ae_model_encoder_layer_count(m));
    assert_int_equal(ae_model_input_dim(c), 9);
    assert_int_equal(ae_model_latent_dim(c), 4);
    for (size_t l = 0; l < ae_model_layer_count(m); l++) {
        size_t o1, i1, o2, i2;
        int a1, a2;
        assert_int_equal(ae_model_layer_info(m, l, &o1, &i1, &a1), AE_OK);
        assert_int_equal(ae_model_layer_info(c, l, &o2, &i2, &a2), AE_OK);
        assert_int_equal(o1, o2);
        assert_int_equal(i1, i2);
        assert_int_equal(a1, a2);
    }
    release(NULL, c, m);
}

static void test_training_the_clone_leaves_the_original_alone(void **state)
{
    (void)state;
    ae_model *m = create_small();
    float *x = batch_data(31, 16, 8);
    float *before = test_params_of(m);
    ae_model *c = test_clone_model(m);
    train_steps(c, x, 16, 1);
    assert_int_equal(ae_model_set_param(c, AE_PARAM_LEARNING_RATE, 0.3), AE_OK);
    assert_false(test_same_params(m, c));
    assert_true(test_params_equal_to(m, before));
    assert_true(get_param(m, AE_PARAM_LEARNING_RATE) == 1e-3);
    /* And the other way round: freeing the original leaves the clone usable. */
    ae_model_free(m);
    train_steps(c, x, 16, 1);
    free(before), free(x);
    ae_model_free(c);
}

static void test_clone_and_original_continue_training_identically(void **state)
{
    (void)state;
    ae_model *m = create_small();
    float *x = batch_data(32, 16, 8);
    /* Build up optimizer state (Adam moments and step count) before cloning. */
    train_steps(m, x, 16, 3);
    ae_model *c = test_clone_model(m);
    for (int i = 0; i < 3; i++) {
        double lm = NAN, lc = NAN;
        assert_int_equal(ae_model_train_batch(m, x + i * 8, 8, 8, &lm), AE_OK);
        assert_int_equal(ae_model_train_batch(c, x + i * 8, 8, 8, &lc), AE_OK);
        assert_true(lm == lc);
        assert_true(test_same_params(m, c));
    }
    release(x, c, m);
}

static void test_clone_continues_sgd_momentum_identically(void **state)
{
    (void)state;
    ae_model *m = create_small();
    test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(m, AE_PARAM_MOMENTUM, 0.9);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 0.05);
    float *x = batch_data(33, 16, 8);
    train_steps(m, x, 16, 2);
    ae_model *c = test_clone_model(m);
    train_steps(m, x, 16, 1);
    train_steps(c, x, 16, 1);
    assert_true(test_same_params(m, c));
    release(x, c, m);
}

static void test_clone_continues_fit_identically_with_the_same_generator(void **state)
{
    (void)state;
    ae_model *m = create_small();
    test_set_epochs_and_batch(m, 2, 4);
    test_set_param(m, AE_PARAM_SHUFFLE, 1);
    test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.25);
    float *x = batch_data(34, 32, 8);
    assert_int_equal(ae_model_fit(m, x, 32, 8, NULL), AE_OK);
    ae_model *c = test_clone_model(m);
    ae_fit_report rm, rc;
    fit_both(m, c, x, 32, &rm, &rc);
    assert_true(test_same_params(m, c));
    assert_true(rm.final_train_loss == rc.final_train_loss);
    assert_true(rm.final_val_loss == rc.final_val_loss);
    release(x, c, m);
}

static void test_clone_continues_fit_identically_after_a_larger_train_batch(void **state)
{
    (void)state;
    ae_model *m = create_small();
    test_set_epochs_and_batch(m, 1, 4);
    float *x = batch_data(36, 16, 8);
    /* A single step on all 16 rows, then a fit in batches of 4 on both. */
    train_steps(m, x, 16, 1);
    ae_model *c = test_clone_model(m);
    ae_fit_report rm, rc;
    fit_both(m, c, x, 16, &rm, &rc);
    assert_int_equal(rm.steps_run, rc.steps_run);
    assert_true(test_same_params(m, c));
    release(x, c, m);
}

static void test_clone_of_a_fresh_model_redraws_like_the_original(void **state)
{
    (void)state;
    ae_model *m = create_small();
    ae_model *c = test_clone_model(m);
    test_set_param(m, AE_PARAM_SEED, 1234);
    test_set_param(c, AE_PARAM_SEED, 1234);
    test_set_param(c, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    test_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    assert_true(test_same_params(m, c));
    ae_model *ref = create_small();
    assert_false(test_same_params(m, ref));
    ae_model_free(ref);
    ae_model_free(c);
    ae_model_free(m);
}

/* BATCH_SIZE is the batch size of every fit, whatever batches earlier calls used. */
static void test_batch_size_setting_takes_effect_whatever_came_before(void **state)
{
    (void)state;
    ae_model *m = create_small();
    float *x = batch_data(37, 12, 8);
    ae_fit_report r = test_new_fit_report();
    test_set_epochs_and_batch(m, 1, 4);
    assert_int_equal(ae_model_fit(m, x, 12, 8, &r), AE_OK);
    assert_int_equal(r.steps_run, 3);
    /* A 12-row step in between. */
    train_steps(m, x, 12, 1);
    assert_int_equal(ae_model_fit(m, x, 12, 8, &r), AE_OK);
    assert_int_equal(r.steps_run, 3);
    /* A fit with large batches, then small ones. */
    test_set_param(m, AE_PARAM_BATCH_SIZE, 64);
    assert_int_equal(ae_model_fit(m, x, 12, 8, &r), AE_OK);
    assert_int_equal(r.steps_run, 1);
    test_set_param(m, AE_PARAM_BATCH_SIZE, 2);
    assert_int_equal(ae_model_fit(m, x, 12, 8, &r), AE_OK);
    assert_int_equal(r.steps_run, 6);
    release(x, m, NULL);
}

static int count_calls(const ae_progress *progress, void *user_data)
{
    (void)progress;
    ++*(int *)user_data;
    return 0;
}

static void test_clone_copies_the_progress_callback(void **state)
{
    (void)state;
    ae_model *m = create_small();
    int calls = 0;
    assert_int_equal(ae_model_set_progress(m, count_calls, &calls), AE_OK);
    test_set_param(m, AE_PARAM_EPOCHS, 2);
    ae_model *c = test_clone_model(m);
    float *x = batch_data(35, 8, 8);
    assert_int_equal(ae_model_fit(c, x, 8, 8, NULL), AE_OK);
    assert_int_equal(calls, 2);
    release(x, c, m);
}

static void test_reset_restores_the_initial_weights(void **state)
{
    (void)state;
    ae_model *m = create_small();
    test_set_param(m, AE_PARAM_SEED, 8);
    float *initial = test_params_of(m);
    float *x = batch_data(41, 16, 8);
    train_steps(m, x, 16, 3);
    assert_false(test_params_equal_to(m, initial));
    assert_int_equal(ae_model_reset(m), AE_OK);
    assert_true(test_params_equal_to(m, initial));
    assert_true(get_param(m, AE_PARAM_SEED) == 8);
    free(initial), free(x);
    ae_model_free(m);
}

static void test_reset_uses_the_current_seed(void **state)
{
    (void)state;
    ae_model *m = create_small(), *ref = create_small();
    float *x = batch_data(42, 16, 8);
    train_steps(m, x, 16, 1);
    test_set_param(m, AE_PARAM_SEED, 99); /* weights no longer fresh: kept */
    test_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    assert_int_equal(ae_model_reset(m), AE_OK);
    test_set_param(ref, AE_PARAM_SEED, 99);
    test_set_param(ref, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    assert_true(test_same_params(m, ref));
    release(x, m, ref);
}

static void test_reset_after_set_weights_restores_the_drawn_weights(void **state)
{
    (void)state;
    ae_model *m = create_small(), *ref = create_small();
    size_t n = ae_model_param_count(m);
    float *zeros = calloc(n, sizeof *zeros);
    assert_int_equal(ae_model_set_params(m, zeros, n), AE_OK);
    assert_int_equal(ae_model_reset(m), AE_OK);
    assert_true(test_same_params(m, ref));
    free(zeros);
    release(NULL, m, ref);
}

static void test_reset_clears_the_optimizer_state(void **state)
{
    (void)state;
    ae_model *m = create_small(), *ref = create_small();
    float *x = batch_data(43, 16, 8);
    train_steps(m, x, 16, 3);
    assert_int_equal(ae_model_reset(m), AE_OK);
    train_steps(m, x, 16, 1);
    train_steps(ref, x, 16, 1);
    assert_true(test_same_params(m, ref));
    release(x, m, ref);
}

static void test_reset_restores_the_generator(void **state)
{
    (void)state;
    ae_model *m = create_small(), *ref = create_small();
    test_set_epochs_and_batch(m, 2, 4);
    test_set_epochs_and_batch(ref, 2, 4);
    float *x = batch_data(44, 24, 8);
    assert_int_equal(ae_model_fit(m, x, 24, 8, NULL), AE_OK);
    assert_int_equal(ae_model_reset(m), AE_OK);
    /* Reseeded generator: the same shuffles as a new model. */
    assert_int_equal(ae_model_fit(m, x, 24, 8, NULL), AE_OK);
    assert_int_equal(ae_model_fit(ref, x, 24, 8, NULL), AE_OK);
    assert_true(test_same_params(m, ref));
    release(x, m, ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_number_matches_header_macros),
        cmocka_unit_test(test_version_string_is_major_minor_patch),
        cmocka_unit_test(test_status_codes_keep_their_pinned_values),
        cmocka_unit_test(test_status_str_is_distinct_and_nonempty_for_every_status),
        cmocka_unit_test(test_status_str_names_unknown_codes_unknown_status),
        cmocka_unit_test(test_last_error_is_never_null_and_set_by_a_failure),
        cmocka_unit_test(test_model_free_null_is_a_no_op),
        cmocka_unit_test(test_fresh_model_has_no_error_message),
        cmocka_unit_test(test_queries_on_null_model_return_zero),
        cmocka_unit_test(test_mirrored_model_reports_its_shape),
        cmocka_unit_test(test_asymmetric_decoder_reports_its_shape),
        cmocka_unit_test(test_single_layer_encoder_and_decoder_take_latent_and_output_roles),
        cmocka_unit_test(test_layer_activations_follow_their_role_settings),
        cmocka_unit_test(test_layer_info_accepts_null_outputs),
        cmocka_unit_test(test_every_param_has_a_distinct_name),
        cmocka_unit_test(test_unknown_params_have_no_name_and_no_bounds),
        cmocka_unit_test(test_param_bounds_match_the_documented_ranges),
        cmocka_unit_test(test_new_model_has_the_documented_defaults),
        cmocka_unit_test(test_defaults_lie_within_bounds),
        cmocka_unit_test(test_set_param_round_trips_at_both_bounds),
        cmocka_unit_test(test_set_param_refuses_open_ends),
        cmocka_unit_test(test_set_param_refuses_out_of_range_and_non_integral_values),
        cmocka_unit_test(test_set_param_refuses_unknown_params),
        cmocka_unit_test(test_setting_one_param_leaves_the_others_alone),
        cmocka_unit_test(test_activation_names_are_distinct),
        cmocka_unit_test(test_param_descriptions_agree_with_bounds_and_defaults),
        cmocka_unit_test(test_layer_descriptions_give_the_flat_layout),
        cmocka_unit_test(test_weights_and_bias_round_trip_per_layer),
        cmocka_unit_test(test_setting_one_layer_leaves_the_other_layers_alone),
        cmocka_unit_test(test_flat_params_round_trip),
        cmocka_unit_test(test_flat_params_hold_all_weights_then_all_biases),
        cmocka_unit_test(test_per_layer_writes_show_up_in_the_flat_layout),
        cmocka_unit_test(test_new_model_has_zero_biases_and_nonzero_weights),
        cmocka_unit_test(test_same_seed_gives_identical_initial_params),
        cmocka_unit_test(test_different_seed_gives_different_initial_params),
        cmocka_unit_test(test_initial_params_do_not_depend_on_the_order_of_settings),
        cmocka_unit_test(test_non_init_settings_do_not_change_fresh_weights),
        cmocka_unit_test(test_changing_seed_after_set_weights_keeps_the_weights),
        cmocka_unit_test(test_changing_seed_after_set_params_keeps_the_params),
        cmocka_unit_test(test_changing_seed_after_train_batch_keeps_the_weights),
        cmocka_unit_test(test_changing_seed_after_fit_keeps_the_weights),
        cmocka_unit_test(test_relu_family_layers_get_he_normal_init),
        cmocka_unit_test(test_other_layers_get_glorot_uniform_init),
        cmocka_unit_test(test_clone_copies_params_and_settings),
        cmocka_unit_test(test_training_the_clone_leaves_the_original_alone),
        cmocka_unit_test(test_clone_and_original_continue_training_identically),
        cmocka_unit_test(test_clone_continues_sgd_momentum_identically),
        cmocka_unit_test(test_clone_continues_fit_identically_with_the_same_generator),
        cmocka_unit_test(test_clone_continues_fit_identically_after_a_larger_train_batch),
        cmocka_unit_test(test_clone_of_a_fresh_model_redraws_like_the_original),
        cmocka_unit_test(test_batch_size_setting_takes_effect_whatever_came_before),
        cmocka_unit_test(test_clone_copies_the_progress_callback),
        cmocka_unit_test(test_reset_restores_the_initial_weights),
        cmocka_unit_test(test_reset_uses_the_current_seed),
        cmocka_unit_test(test_reset_after_set_weights_restores_the_drawn_weights),
        cmocka_unit_test(test_reset_clears_the_optimizer_state),
        cmocka_unit_test(test_reset_restores_the_generator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
