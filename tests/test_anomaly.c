/* Anomaly detection: per-feature errors agree with the score and with the reconstruction,
 * the threshold is numpy's quantile of the scores, labels are exactly the rows above it,
 * bad input is refused, and the threshold travels with clone and save/load. The use on
 * real data is proven in test_anomaly_fashion.c (a separate suite: ten training runs on
 * Fashion-MNIST, too slow for the valgrind and TSan passes of the unit suites). */
#define _POSIX_C_SOURCE 200809L /* mkstemp */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const size_t SMALL[] = {7, 5, 3};
enum { DIM = 7 };

/* A small untrained model with random weights; BCE needs the sigmoid output. */
static ae_model *small_model(int loss)
{
    ae_model *m = test_create_model(SMALL, ARRAY_LEN(SMALL), NULL, 0);
    test_set_param(m, AE_PARAM_SEED, 11);
    test_set_activations(m, AE_ACT_TANH, AE_ACT_LINEAR,
                         loss == AE_LOSS_BCE ? AE_ACT_SIGMOID : AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_LOSS, loss);
    return m;
}

static float *alloc_floats(size_t n)
{
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    return p;
}

/* ---- per-feature errors ------------------------------------------------------------ */

/* 1100 rows cross the inference's 1024-row chunks; strides on both sides. */
static void check_feature_errors_average_to_the_score(int loss)
{
    enum { ROWS = 1100, LD_X = DIM + 3, LD_E = DIM + 2 };
    test_rng rng;
    test_rng_seed(&rng, 5);
    ae_model *m = small_model(loss);
    float *x = test_random_matrix(&rng, ROWS, DIM, LD_X, 0.0f, 1.0f);
    float *errors = alloc_floats(ROWS * LD_E), *scores = alloc_floats(ROWS);
    for (size_t i = 0; i < ROWS * LD_E; i++)
        errors[i] = -7.0f; /* padding must stay untouched */
    assert_int_equal(ae_model_feature_errors(m, x, ROWS, LD_X, errors, LD_E), AE_OK);
    assert_int_equal(ae_model_score(m, x, ROWS, LD_X, scores), AE_OK);
    for (size_t i = 0; i < ROWS; i++) {
        double sum = 0.0;
        for (size_t j = 0; j < DIM; j++) {
            assert_true(errors[i * LD_E + j] >= 0.0f);
            sum += errors[i * LD_E + j];
        }
        for (size_t j = DIM; j < LD_E; j++)
            assert_true(errors[i * LD_E + j] == -7.0f);
        assert_float_equal(sum / DIM, scores[i], 1e-6 * (1.0 + scores[i]));
    }
    free(x);
    free(errors);
    free(scores);
    ae_model_free(m);
}

static void test_feature_errors_average_to_the_score_for_mse(void **state)
{
    (void)state;
    check_feature_errors_average_to_the_score(AE_LOSS_MSE);
}

static void test_feature_errors_average_to_the_score_for_bce(void **state)
{
    (void)state;
    check_feature_errors_average_to_the_score(AE_LOSS_BCE);
}

static void test_feature_errors_are_losses_of_the_reconstruction(void **state)
{
    (void)state;
    enum { ROWS = 40 };
    test_rng rng;
    test_rng_seed(&rng, 6);
    float *x = test_random_matrix(&rng, ROWS, DIM, DIM, 0.0f, 1.0f);
    float *y = alloc_floats(ROWS * DIM), *errors = alloc_floats(ROWS * DIM);
    for (int loss = AE_LOSS_MSE; loss <= AE_LOSS_BCE; loss++) {
        ae_model *m = small_model(loss);
        assert_int_equal(ae_model_reconstruct(m, x, ROWS, DIM, y, DIM), AE_OK);
        assert_int_equal(ae_model_feature_errors(m, x, ROWS, DIM, errors, DIM), AE_OK);
        for (size_t k = 0; k < ROWS * DIM; k++) {
            double t = x[k], p = y[k];
            /* MSE: (y - x)^2; BCE: cross-entropy of the output probability. */
            double expected = loss == AE_LOSS_MSE ? (p - t) * (p - t)
                                                  : -(t * log(p) + (1.0 - t) * log1p(-p));
            assert_float_equal(errors[k], expected, 1e-5 * (1.0 + expected));
        }
        ae_model_free(m);
    }
    free(x);
    free(y);
    free(errors);
}

static void test_feature_errors_reject_bad_arguments(void **state)
{
    (void)state;
    ae_model *m = small_model(AE_LOSS_BCE);
    float x[2 * DIM] = {0}, errors[2 * DIM];
    assert_int_equal(ae_model_feature_errors(NULL, x, 2, DIM, errors, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_feature_errors(m, NULL, 2, DIM, errors, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_feature_errors(m, x, 2, DIM, NULL, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_feature_errors(m, x, 0, DIM, errors, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_feature_errors(m, x, 2, DIM - 1, errors, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_feature_errors(m, x, 2, DIM, errors, DIM - 1), AE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ae_last_error(), "errors"));
    x[DIM + 4] = INFINITY;
    assert_int_equal(ae_model_feature_errors(m, x, 2, DIM, errors, DIM), AE_ERR_NON_FINITE_INPUT);
    assert_non_null(strstr(ae_last_error(), "row 1, column 4"));
    x[DIM + 4] = 1.5f; /* BCE targets lie in [0, 1] */
    assert_int_equal(ae_model_feature_errors(m, x, 2, DIM, errors, DIM), AE_ERR_INPUT_RANGE);
    assert_non_null(strstr(ae_last_error(), "row 1, column 4"));
    x[DIM + 4] = 0.5f;
    /* BCE without a sigmoid output cannot even be set up (test_settings covers a file that
     * holds it). */
    assert_int_equal(ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LINEAR), AE_ERR_STATE);
    assert_int_equal(ae_model_feature_errors(m, x, 2, DIM, errors, DIM), AE_OK);
    ae_model_free(m);
}

/* ---- thresholds -------------------------------------------------------------------- */

/* A 1-1-1 model with zero weights and a linear output reconstructs every row as 0, so
 * with MSE a row x scores exactly x^2: known scores. */
static ae_model *square_scorer(void)
{
    static const size_t widths[] = {1, 1};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_activations(m, AE_ACT_LINEAR, AE_ACT_LINEAR, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_MSE);
    float zeros[4] = {0};
    assert_int_equal(ae_model_param_count(m), 4);
    assert_int_equal(ae_model_set_params(m, zeros, 4), AE_OK);
    return m;
}

/* Scores 1, 4, 9, ..., 100 in a shuffled order. */
static const float ROOTS[10] = {7, 2, 10, 5, 1, 9, 3, 8, 6, 4};

static void test_fitted_threshold_is_numpys_quantile_of_the_scores(void **state)
{
    (void)state;
    ae_model *m = square_scorer();
    float scores[10];
    assert_int_equal(ae_model_score(m, ROOTS, 10, 1, scores), AE_OK);
    for (size_t i = 0; i < 10; i++)
        assert_true(scores[i] == ROOTS[i] * ROOTS[i]);
    /* numpy.quantile([1, 4, ..., 100], 1 - c): position 9 (1 - c) between order statistics. */
    static const struct {
        double contamination, expected;
    } cases[] = {
        {0.0, 100.0},                    /* the largest score */
        {0.1, 81.0 + 0.1 * 19.0},        /* position 8.1 */
        {0.15, 64.0 + 0.65 * 17.0},      /* position 7.65 */
        {0.5, 25.0 + 0.5 * 11.0},        /* position 4.5 */
    };
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        double fitted = -1.0, read = -2.0;
        assert_int_equal(ae_model_fit_threshold(m, ROOTS, 10, 1, cases[k].contamination, &fitted),
                         AE_OK);
        assert_float_equal(fitted, cases[k].expected, 1e-12 * cases[k].expected);
        assert_int_equal(ae_model_get_threshold(m, &read), AE_OK);
        assert_true(read == fitted);
    }
    /* One row: every quantile is its score; the threshold pointer may be NULL. */
    assert_int_equal(ae_model_fit_threshold(m, ROOTS, 1, 1, 0.3, NULL), AE_OK);
    double read;
    assert_int_equal(ae_model_get_threshold(m, &read), AE_OK);
    assert_true(read == 49.0);
    ae_model_free(m);
}

static void test_detect_labels_exactly_the_rows_scoring_above_the_threshold(void **state)
{
    (void)state;
    ae_model *m = square_scorer();
    uint8_t labels[10];
    float scores[10];
    assert_int_equal(ae_model_set_threshold(m, 49.0), AE_OK);
    memset(labels, 7, sizeof labels);
    assert_int_equal(ae_model_detect(m, ROOTS, 10, 1, labels, scores), AE_OK);
    for (size_t i = 0; i < 10; i++) {
        assert_true(scores[i] == ROOTS[i] * ROOTS[i]);
        assert_int_equal(labels[i], ROOTS[i] > 7.0f); /* 49 itself is not above */
    }
    ae_model_free(m);

    /* A random model on strided data: same scores as ae_model_score, labels by them. */
    enum { ROWS = 300, LD = DIM + 1 };
    test_rng rng;
    test_rng_seed(&rng, 8);
    m = small_model(AE_LOSS_MSE);
    float *x = test_random_matrix(&rng, ROWS, DIM, LD, -1.0f, 1.0f);
    float *expected = alloc_floats(ROWS), *got = alloc_floats(ROWS);
    uint8_t *is_anomaly = malloc(ROWS), *without_scores = malloc(ROWS);
    assert_non_null(is_anomaly);
    assert_non_null(without_scores);
    assert_int_equal(ae_model_score(m, x, ROWS, LD, expected), AE_OK);
    double threshold;
    assert_int_equal(ae_model_fit_threshold(m, x, ROWS, LD, 0.2, &threshold), AE_OK);
    assert_int_equal(ae_model_detect(m, x, ROWS, LD, is_anomaly, got), AE_OK);
    assert_int_equal(ae_model_detect(m, x, ROWS, LD, without_scores, NULL), AE_OK);
    assert_memory_equal(got, expected, ROWS * sizeof *got);
    assert_memory_equal(is_anomaly, without_scores, ROWS);
    size_t flagged = 0;
    for (size_t i = 0; i < ROWS; i++) {
        assert_int_equal(is_anomaly[i], (double)expected[i] > threshold);
        flagged += is_anomaly[i];
    }
    /* Distinct scores: position 299 * 0.8 = 239.2, so the 60 rows from 240 on are above. */
    assert_int_equal(flagged, 60);
    free(x);
    free(expected);
    free(got);
    free(is_anomaly);
    free(without_scores);
    ae_model_free(m);
}

static void test_threshold_is_a_state_error_until_set(void **state)
{
    (void)state;
    ae_model *m = small_model(AE_LOSS_MSE);
    float x[DIM] = {0}, score;
    uint8_t label;
    double threshold = 3.0;
    assert_int_equal(ae_model_get_threshold(m, &threshold), AE_ERR_STATE);
    assert_true(threshold == 3.0);
    assert_non_null(strstr(ae_last_error(), "threshold"));
    assert_int_equal(ae_model_detect(m, x, 1, DIM, &label, &score), AE_ERR_STATE);
    /* Training and reset leave a threshold as it is. */
    assert_int_equal(ae_model_set_threshold(m, 0.25), AE_OK);
    test_set_epochs_and_batch(m, 1, 1);
    assert_int_equal(ae_model_fit(m, x, 1, DIM, NULL), AE_OK);
    assert_int_equal(ae_model_reset(m), AE_OK);
    assert_int_equal(ae_model_get_threshold(m, &threshold), AE_OK);
    assert_true(threshold == 0.25);
    ae_model_free(m);
}

static void test_threshold_calls_reject_bad_arguments(void **state)
{
    (void)state;
    ae_model *m = small_model(AE_LOSS_BCE);
    float x[3 * DIM];
    for (size_t i = 0; i < ARRAY_LEN(x); i++)
        x[i] = 0.5f;
    uint8_t labels[3];
    double threshold;
    assert_int_equal(ae_model_set_threshold(m, 0.75), AE_OK);

    /* Explicit thresholds: finite and not negative. */
    static const double bad_thresholds[] = {-1e-9, -1.0, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < ARRAY_LEN(bad_thresholds); i++) {
        assert_int_equal(ae_model_set_threshold(m, bad_thresholds[i]), AE_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(ae_model_last_error(m), "threshold"));
    }
    assert_int_equal(ae_model_set_threshold(NULL, 1.0), AE_ERR_INVALID_ARGUMENT);

    /* Contamination in [0, 0.5]. */
    static const double bad_contamination[] = {-0.01, 0.51, 1.0, NAN, INFINITY};
    for (size_t i = 0; i < ARRAY_LEN(bad_contamination); i++) {
        assert_int_equal(ae_model_fit_threshold(m, x, 3, DIM, bad_contamination[i], &threshold),
                         AE_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(ae_model_last_error(m), "contamination"));
    }
    assert_int_equal(ae_model_fit_threshold(NULL, x, 3, DIM, 0.1, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_threshold(m, NULL, 3, DIM, 0.1, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_threshold(m, x, 0, DIM, 0.1, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_threshold(m, x, 3, DIM - 1, 0.1, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ae_model_last_error(m), "leading dimension"));
    x[2 * DIM + 5] = NAN;
    assert_int_equal(ae_model_fit_threshold(m, x, 3, DIM, 0.1, NULL), AE_ERR_NON_FINITE_INPUT);
    assert_non_null(strstr(ae_last_error(), "row 2, column 5"));
    assert_non_null(strstr(ae_model_last_error(m), "row 2, column 5"));
    assert_int_equal(ae_model_detect(m, x, 3, DIM, labels, NULL), AE_ERR_NON_FINITE_INPUT);
    assert_non_null(strstr(ae_last_error(), "row 2, column 5"));
    x[2 * DIM + 5] = -0.5f;
    assert_int_equal(ae_model_fit_threshold(m, x, 3, DIM, 0.1, NULL), AE_ERR_INPUT_RANGE);
    assert_non_null(strstr(ae_model_last_error(m), "row 2, column 5"));
    assert_int_equal(ae_model_detect(m, x, 3, DIM, labels, NULL), AE_ERR_INPUT_RANGE);
    x[2 * DIM + 5] = 0.5f;

    /* Detect's own arguments. */
    assert_int_equal(ae_model_detect(NULL, x, 3, DIM, labels, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_detect(m, NULL, 3, DIM, labels, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_detect(m, x, 3, DIM, NULL, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_detect(m, x, 0, DIM, labels, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_detect(m, x, 3, 2, labels, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_get_threshold(NULL, &threshold), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_get_threshold(m, NULL), AE_ERR_INVALID_ARGUMENT);

    /* No failure above touched the threshold. */
    assert_int_equal(ae_model_get_threshold(m, &threshold), AE_OK);
    assert_true(threshold == 0.75);
    ae_model_free(m);
}

/* A row whose error overflows float scores FLT_MAX: no threshold can come from that. */
static void test_fit_threshold_refuses_non_finite_scores(void **state)
{
    (void)state;
    ae_model *m = square_scorer();
    float big[2] = {1.0f, 3e30f}; /* (3e30)^2 overflows float */
    assert_int_equal(ae_model_fit_threshold(m, big, 2, 1, 0.0, NULL), AE_ERR_NON_FINITE_RESULT);
    assert_non_null(strstr(ae_model_last_error(m), "row 1"));
    double threshold;
    assert_int_equal(ae_model_get_threshold(m, &threshold), AE_ERR_STATE);
    /* Detect still labels such a row, whatever the threshold: it fails closed. */
    uint8_t labels[2];
    float scores[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ae_model_set_threshold(m, i == 0 ? 1e30 : 1e300), AE_OK);
        assert_int_equal(ae_model_detect(m, big, 2, 1, labels, scores), AE_OK);
        assert_int_equal(labels[0], 0);
        assert_int_equal(labels[1], 1);
        assert_true(scores[0] == 1.0f);
        assert_true(scores[1] == FLT_MAX);
    }
    ae_model_free(m);
}

/* ---- allocation failure ---------------------------------------------------------- */

typedef struct failing_allocator {
    size_t calls, fail_at, failed;
} failing_allocator;

static void *failing_alloc(size_t size, void *user_data)
{
    failing_allocator *a = user_data;
    if (++a->calls == a->fail_at) {
        a->failed++;
        return NULL;
    }
    return malloc(size);
}

static void plain_free(void *ptr, void *user_data)
{
    (void)user_data;
    free(ptr);
}

static void test_fit_threshold_and_detect_fail_cleanly_when_any_allocation_fails(void **state)
{
    (void)state;
    enum { ROWS = 20 };
    test_rng rng;
    test_rng_seed(&rng, 9);
    float *x = test_random_matrix(&rng, ROWS, DIM, DIM, 0.0f, 1.0f);
    uint8_t labels[ROWS];
    for (int call = 0; call < 2; call++) {
        for (size_t n = 1;; n++) {
            ae_model *m = small_model(AE_LOSS_MSE); /* a new model: no spare scratch */
            assert_int_equal(ae_model_set_threshold(m, 0.5), AE_OK);
            failing_allocator a = {0, n, 0};
            assert_int_equal(ae_set_allocator(failing_alloc, plain_free, &a), AE_OK);
            double threshold = 0.5;
            int status = call == 0 ? ae_model_fit_threshold(m, x, ROWS, DIM, 0.1, &threshold)
                                   : ae_model_detect(m, x, ROWS, DIM, labels, NULL);
            assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
            if (a.failed == 0) {
                assert_int_equal(status, AE_OK);
                assert_true(n > 1);
                ae_model_free(m);
                break;
            }
            assert_int_equal(status, AE_ERR_OUT_OF_MEMORY);
            if (call == 0) /* the old threshold stays */
                assert_int_equal(ae_model_get_threshold(m, &threshold), AE_OK);
            assert_true(threshold == 0.5);
            ae_model_free(m);
        }
    }
    free(x);
}

/* ---- the threshold travels with the model ---------------------------------------- */

static void test_threshold_survives_clone_and_save_and_load(void **state)
{
    (void)state;
    enum { ROWS = 50 };
    test_rng rng;
    test_rng_seed(&rng, 10);
    ae_model *m = small_model(AE_LOSS_BCE);
    float *x = test_random_matrix(&rng, ROWS, DIM, DIM, 0.0f, 1.0f);
    double fitted;
    assert_int_equal(ae_model_fit_threshold(m, x, ROWS, DIM, 0.05, &fitted), AE_OK);

    ae_model *copy = test_clone_model(m);
    size_t size;
    assert_int_equal(ae_model_save_size(m, AE_SAVE_DEFAULT, &size), AE_OK);
    unsigned char *buffer = malloc(size);
    assert_non_null(buffer);
    size_t written;
    assert_int_equal(ae_model_save_to_memory(m, AE_SAVE_DEFAULT, buffer, size, &written), AE_OK);
    ae_model *from_memory = NULL;
    assert_int_equal(ae_model_load_from_memory(&from_memory, buffer, written), AE_OK);
    char path[] = "/tmp/test_anomaly_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(ae_model_save(m, path, AE_SAVE_DEFAULT), AE_OK);
    ae_model *from_file = NULL;
    assert_int_equal(ae_model_load(&from_file, path), AE_OK);
    unlink(path);

    uint8_t *expected = malloc(ROWS), *got = malloc(ROWS);
    assert_non_null(expected);
    assert_non_null(got);
    assert_int_equal(ae_model_detect(m, x, ROWS, DIM, expected, NULL), AE_OK);
    ae_model *others[] = {copy, from_memory, from_file};
    for (size_t k = 0; k < ARRAY_LEN(others); k++) {
        double threshold;
        assert_int_equal(ae_model_get_threshold(others[k], &threshold), AE_OK);
        assert_true(threshold == fitted);
        assert_int_equal(ae_model_detect(others[k], x, ROWS, DIM, got, NULL), AE_OK);
        assert_memory_equal(got, expected, ROWS);
        ae_model_free(others[k]);
    }
    free(expected);
    free(got);
    free(buffer);
    free(x);
    ae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feature_errors_average_to_the_score_for_mse),
        cmocka_unit_test(test_feature_errors_average_to_the_score_for_bce),
        cmocka_unit_test(test_feature_errors_are_losses_of_the_reconstruction),
        cmocka_unit_test(test_feature_errors_reject_bad_arguments),
        cmocka_unit_test(test_fitted_threshold_is_numpys_quantile_of_the_scores),
        cmocka_unit_test(test_detect_labels_exactly_the_rows_scoring_above_the_threshold),
        cmocka_unit_test(test_threshold_is_a_state_error_until_set),
        cmocka_unit_test(test_threshold_calls_reject_bad_arguments),
        cmocka_unit_test(test_fit_threshold_refuses_non_finite_scores),
        cmocka_unit_test(test_fit_threshold_and_detect_fail_cleanly_when_any_allocation_fails),
        cmocka_unit_test(test_threshold_survives_clone_and_save_and_load),
    };
    return cmocka_run_group_tests_name("anomaly", tests, NULL, NULL);
}
