/* Settings that go together (autoenc.h, ae_params): a change that makes a conflict among
 * settings the caller chose is refused when it is set, naming the other setting; a conflict
 * with a setting still at its default waits for the calls that need it, so settings can come
 * in any order; a model file of an older version that holds a conflict still loads, training
 * refuses it, and it can be mended one setting at a time. Also the settings added for
 * training that goes wrong quietly: the minimum scale of a fitted scaling, the divergence
 * factor, and restore-best acting only on validation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "model_bytes.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define IN 6
#define ROWS 24

static const size_t WIDTHS[] = {IN, 4, 2};

static float *unit_data(uint64_t seed, size_t rows)
{
    test_rng rng;
    test_rng_seed(&rng, seed);
    return test_random_matrix(&rng, rows, IN, IN, 0.0f, 1.0f);
}

/* Every training call refuses the model with AE_ERR_STATE naming `needle`, weights unchanged. */
static void expect_training_refused(ae_model *m, const char *needle)
{
    float *x = unit_data(3, ROWS), *before = test_params_of(m);
    size_t n = ae_model_param_count(m);
    float *g = malloc(n * sizeof *g);
    assert_non_null(g);
    double loss;
    assert_int_equal(ae_model_fit(m, x, ROWS, IN, NULL), AE_ERR_STATE);
    assert_non_null(strstr(ae_model_last_error(m), needle));
    assert_int_equal(ae_model_train_batch(m, x, ROWS, IN, &loss), AE_ERR_STATE);
    assert_int_equal(ae_model_gradient(m, x, ROWS, IN, g, n, &loss), AE_ERR_STATE);
    assert_true(test_params_equal_to(m, before));
    free(g);
    free(before);
    free(x);
}

static void test_settings_may_come_in_any_order(void **state)
{
    (void)state;
    float *x = unit_data(1, ROWS);
    /* the loss before the output that suits it */
    ae_model *m = test_create_model(WIDTHS, 3, NULL, 0);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    assert_int_equal(ae_model_fit(m, x, ROWS, IN, NULL), AE_OK);
    ae_model_free(m);
    /* the sparsity weight before the layer it watches, before that layer's activation */
    m = test_create_model(WIDTHS, 3, NULL, 0);
    test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.1);
    test_set_param(m, AE_PARAM_SPARSITY_LAYER, 0);
    test_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_SIGMOID);
    assert_int_equal(ae_model_fit(m, x, ROWS, IN, NULL), AE_OK);
    ae_model_free(m);
    /* standardisation before the output changes from a sigmoid to linear is a conflict
     * between two choices: the other order works */
    m = test_create_model(WIDTHS, 3, NULL, 0);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_SCALING, AE_SCALING_STANDARDIZE), AE_ERR_STATE);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_SCALING, AE_SCALING_STANDARDIZE);
    assert_int_equal(ae_model_fit(m, x, ROWS, IN, NULL), AE_OK);
    ae_model_free(m);
    free(x);
}

/* A conflict with a setting left at its default is refused by every call that needs the
 * rule, with a message naming both settings; scoring refuses the loss rules only. */
static void test_a_conflict_left_at_a_default_is_refused_by_training(void **state)
{
    (void)state;
    ae_model *m = test_create_model(WIDTHS, 3, NULL, 0);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    expect_training_refused(m, "loss = bce and output_activation = linear");
    float *x = unit_data(4, ROWS), scores[ROWS], z[ROWS * 2];
    assert_int_equal(ae_model_score(m, x, ROWS, IN, scores), AE_ERR_STATE);
    assert_int_equal(ae_model_encode(m, x, ROWS, IN, z, 2), AE_OK);
    ae_model_free(m);

    m = test_create_model(WIDTHS, 3, NULL, 0);
    test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.1); /* watches the linear latent layer */
    expect_training_refused(m, "sparsity_weight = 0.1");
    assert_int_equal(ae_model_score(m, x, ROWS, IN, scores), AE_OK);
    ae_model_free(m);
    free(x);
}

/* The messages name the setting being set and the one it conflicts with, by name. */
static void test_a_refused_setting_names_the_conflict(void **state)
{
    (void)state;
    ae_model *m = test_create_model(WIDTHS, 3, NULL, 0);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_TANH);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE), AE_ERR_STATE);
    assert_string_equal(ae_last_error(), ae_model_last_error(m));
    assert_non_null(strstr(ae_last_error(), "loss = bce conflicts with output_activation = tanh"));
    test_set_param(m, AE_PARAM_NOISE, AE_NOISE_SALT_AND_PEPPER);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_NOISE_LEVEL, 2), AE_ERR_STATE);
    assert_non_null(strstr(ae_last_error(), "noise_level = 2 conflicts with noise = salt_and_pepper"));
    ae_model_free(m);
}

/* A file of an older version may hold settings that conflict (0.2 accepted them until fit):
 * it loads, training refuses it naming the conflict, and it can be mended. */
static void test_a_file_holding_a_conflict_loads_and_can_be_mended(void **state)
{
    (void)state;
    ae_model *m = test_create_model(WIDTHS, 3, NULL, 0);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LINEAR);
    size_t size = 0;
    assert_int_equal(ae_model_save_size(m, 0, &size), AE_OK);
    unsigned char *bytes = malloc(size);
    assert_non_null(bytes);
    assert_int_equal(ae_model_save_to_memory(m, 0, bytes, size, &size), AE_OK);
    /* Give the file BCE with its linear output, as 0.2 could write it. */
    assert_int_equal(test_patch_setting(bytes, size, AE_PARAM_LOSS, AE_LOSS_BCE), 0);
    ae_model *loaded = NULL;
    assert_int_equal(ae_model_load_from_memory(&loaded, bytes, size), AE_OK);
    expect_training_refused(loaded, "output_activation = linear");
    /* mended one setting at a time: the loss first, or the output first */
    ae_model *copy = test_clone_model(loaded);
    test_set_param(loaded, AE_PARAM_LOSS, AE_LOSS_MSE);
    test_set_param(copy, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    float *x = unit_data(5, ROWS);
    assert_int_equal(ae_model_fit(loaded, x, ROWS, IN, NULL), AE_OK);
    assert_int_equal(ae_model_fit(copy, x, ROWS, IN, NULL), AE_OK);
    free(x);
    free(bytes);
    ae_model_free(copy);
    ae_model_free(loaded);
    ae_model_free(m);
}

/* ---- scaling: a minimum scale ------------------------------------------------------- */

static void test_nearly_constant_features_are_scaled_by_the_minimum_scale(void **state)
{
    (void)state;
    enum { N = 100 };
    float x[N * 3];
    for (size_t i = 0; i < N; i++) {
        x[i * 3 + 0] = (float)i / N;              /* spread well above the minimum */
        x[i * 3 + 1] = i == 7 ? 0.004f : 0.0f;    /* one lit pixel: std 4e-4, range 0.004 */
        x[i * 3 + 2] = 0.25f;                     /* constant */
    }
    static const size_t widths[] = {3, 2};
    static const int kinds[] = {AE_SCALING_STANDARDIZE, AE_SCALING_MINMAX};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        ae_model *m = test_create_model(widths, 2, NULL, 0);
        test_set_param(m, AE_PARAM_SCALING, kinds[k]);
        double min_scale;
        assert_int_equal(ae_model_get_param(m, AE_PARAM_SCALING_MIN_SCALE, &min_scale), AE_OK);
        assert_true(min_scale == 0.05);
        assert_int_equal(ae_model_fit_scaling(m, x, N, 3), AE_OK);
        float offset[3], scale[3];
        assert_int_equal(ae_model_get_scaling(m, offset, scale, 3), AE_OK);
        assert_true(scale[0] > 0.05f);
        assert_true(scale[1] == 0.05f);
        assert_true(scale[2] == 1.0f);
        /* 0 gives the spread itself (a constant feature still gets 1) */
        test_set_param(m, AE_PARAM_SCALING_MIN_SCALE, 0);
        assert_int_equal(ae_model_fit_scaling(m, x, N, 3), AE_OK);
        assert_int_equal(ae_model_get_scaling(m, offset, scale, 3), AE_OK);
        assert_true(scale[1] < 0.005f && scale[1] > 0.0f);
        assert_true(scale[2] == 1.0f);
        ae_model_free(m);
    }
}

/* ---- divergence with finite losses -------------------------------------------------- */

typedef struct loss_log {
    double first_batch;
    int have_first;
} loss_log;

static int log_first_batch(const ae_progress *p, void *user)
{
    loss_log *log = user;
    if (!log->have_first) {
        log->first_batch = p->train_loss;
        log->have_first = 1;
    }
    return 0;
}

/* A linear model under plain SGD with a learning rate just past stability: its loss grows
 * geometrically, yet for a while stays finite. */
static ae_model *unstable_model(double learning_rate, double factor)
{
    static const size_t widths[] = {8, 4};
    ae_model *m = test_create_model(widths, 2, NULL, 0);
    test_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(m, AE_PARAM_LEARNING_RATE, learning_rate);
    test_set_epochs_and_batch(m, 1, 8);
    test_set_param(m, AE_PARAM_SHUFFLE, 0);
    test_set_param(m, AE_PARAM_PROGRESS_EVERY_BATCH, 1);
    test_set_param(m, AE_PARAM_DIVERGENCE_FACTOR, factor);
    return m;
}

static void test_a_fit_whose_finite_loss_explodes_says_so(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 21);
    float *x = test_random_matrix(&rng, 64, 8, 8, 0.0f, 1.0f);
    /* The premise, found rather than assumed (it depends on the data and BLAS rounding): a
     * learning rate whose one-epoch fit ends with AE_OK and a loss more than 1e4 times its
     * first batch's when the check is off. */
    static const double rates[] = {1.25, 1.3, 1.35, 1.4, 1.45, 1.5, 1.6};
    double rate = 0;
    for (size_t r = 0; r < ARRAY_LEN(rates) && rate == 0; r++) {
        for (size_t rows = 40; rows <= 64 && rate == 0; rows += 8) {
            ae_model *m = unstable_model(rates[r], 0);
            loss_log log = {0};
            assert_int_equal(ae_model_set_progress(m, log_first_batch, &log), AE_OK);
            ae_fit_report report = test_new_fit_report();
            if (ae_model_fit(m, x, rows, 8, &report) == AE_OK &&
                report.final_train_loss > 1e4 * log.first_batch && isfinite(report.final_train_loss)) {
                rate = rates[r];
                /* With the default factor the same fit stops, says why, and restores the
                 * weights it started from. */
                ae_model *checked = unstable_model(rate, 1e3);
                float *start = test_params_of(checked);
                ae_fit_report r2 = test_new_fit_report();
                assert_int_equal(ae_model_fit(checked, x, rows, 8, &r2), AE_ERR_DIVERGED);
                assert_int_equal(r2.stop_reason, AE_STOP_DIVERGED);
                assert_non_null(strstr(ae_model_last_error(checked), "divergence_factor"));
                assert_true(test_params_equal_to(checked, start));
                free(start);
                ae_model_free(checked);
            }
            ae_model_free(m);
        }
    }
    assert_true(rate > 0);
    free(x);
}

/* An explosion inside the first steps is measured against the loss at the starting
 * weights: Adam at a learning rate of 10 on a linear model throws the loss up a
 * thousandfold within the first tenth of epoch 1, which a yardstick taken from those same
 * steps would have swallowed. */
static void test_an_explosion_in_the_first_steps_is_measured_from_the_starting_loss(void **state)
{
    (void)state;
    enum { ROWS_X = 2000, D = 20 };
    test_rng rng;
    test_rng_seed(&rng, 3);
    float *x = test_random_matrix(&rng, ROWS_X, D, D, 0.0f, 1.0f);
    static const size_t widths[] = {D, 8};
    ae_model *m = test_create_model(widths, 2, NULL, 0);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 10);
    test_set_epochs_and_batch(m, 10, 64);
    float *start = test_params_of(m);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, x, ROWS_X, D, &report), AE_ERR_DIVERGED);
    assert_int_equal(report.stop_reason, AE_STOP_DIVERGED);
    assert_non_null(strstr(ae_model_last_error(m), "divergence_factor"));
    assert_true(test_params_equal_to(m, start));
    free(start);
    ae_model_free(m);
    free(x);
}

/* A fit that starts perfect (a loss of 0 at the starting weights) has no scale to measure
 * an explosion by: denoising noise then gives positive losses, which are no divergence. */
static void test_a_fit_that_starts_perfect_is_not_called_diverged(void **state)
{
    (void)state;
    enum { N = 32, D = 8 };
    float x[N * D] = {0};
    static const size_t widths[] = {D, 4};
    ae_model *m = test_create_model(widths, 2, NULL, 0);
    test_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_NOISE, AE_NOISE_GAUSSIAN);
    test_set_param(m, AE_PARAM_NOISE_LEVEL, 1.0);
    test_set_epochs_and_batch(m, 3, 8);
    double loss = NAN;
    assert_int_equal(ae_model_loss(m, x, N, D, &loss), AE_OK);
    assert_true(loss == 0.0); /* the premise: zero biases map zeros to zeros */
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, x, N, D, &report), AE_OK);
    assert_true(report.final_train_loss > 0.0);
    ae_model_free(m);
}

/* The factor does not fire on ordinary training, which only lowers its loss. */
static void test_the_divergence_factor_leaves_ordinary_training_alone(void **state)
{
    (void)state;
    float *x = unit_data(6, 200);
    ae_model *m = test_create_model(WIDTHS, 3, NULL, 0);
    test_set_epochs_and_batch(m, 20, 4);
    test_set_param(m, AE_PARAM_DIVERGENCE_FACTOR, 2); /* strict: only a doubling stops it */
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, x, 200, IN, &report), AE_OK);
    assert_int_equal(report.epochs_run, 20);
    free(x);
    ae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_may_come_in_any_order),
        cmocka_unit_test(test_a_conflict_left_at_a_default_is_refused_by_training),
        cmocka_unit_test(test_a_refused_setting_names_the_conflict),
        cmocka_unit_test(test_a_file_holding_a_conflict_loads_and_can_be_mended),
        cmocka_unit_test(test_nearly_constant_features_are_scaled_by_the_minimum_scale),
        cmocka_unit_test(test_a_fit_whose_finite_loss_explodes_says_so),
        cmocka_unit_test(test_an_explosion_in_the_first_steps_is_measured_from_the_starting_loss),
        cmocka_unit_test(test_a_fit_that_starts_perfect_is_not_called_diverged),
        cmocka_unit_test(test_the_divergence_factor_leaves_ordinary_training_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
