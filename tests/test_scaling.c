/* Scaling that travels with the model (the "Scaling" group of autoenc.h): the offsets and
 * scales MINMAX and STANDARDIZE fit, when they are fitted and when they are kept or
 * forgotten, the calls that refuse to run without them, that every call sees exactly
 * (x - offset) / scale and returns outputs in the original units, the validation of
 * explicit values, the BCE rules, and that the scaling is copied, saved and loaded. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Five features of very different kinds; rows padded to LD with NaN. */
enum { DIM = 5, LD = 8, ROWS = 60 };
static const size_t SMALL[] = {DIM, 4, 2};
#define CONSTANT_VALUE 0.1f /* not a short binary fraction: a one-pass variance would not give 0 */

static float *alloc_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

/* rows x DIM data with leading dimension ld (NaN padding): column 0 negative and positive,
 * column 1 in the thousands, column 2 constant, column 3 small around -0.3, column 4 in
 * [0, 1). */
static float *mixed_data(uint64_t seed, size_t rows, size_t ld)
{
    test_rng rng;
    test_rng_seed(&rng, seed);
    float *x = test_random_matrix(&rng, rows, DIM, ld, 0.0f, 1.0f);
    assert_non_null(x);
    for (size_t i = 0; i < rows; i++) {
        float *row = x + i * ld;
        row[0] = (float)(-5.0 + 7.0 * test_rng_uniform(&rng));
        row[1] = (float)(1000.0 + 4000.0 * test_rng_uniform(&rng));
        row[2] = CONSTANT_VALUE;
        row[3] = (float)(-0.3 + 0.01 * test_rng_normal(&rng));
    }
    return x;
}

/* A feature that is not constant is never scaled by less than AE_PARAM_SCALING_MIN_SCALE
 * (default 0.05), so nearly constant features are not blown up. */
#define DEFAULT_MIN_SCALE 0.05f
static float floored(float spread) { return spread < DEFAULT_MIN_SCALE ? DEFAULT_MIN_SCALE : spread; }

/* The documented scaling of the rows of x, computed independently in double and rounded
 * once to float. */
static void expected_scaling(const float *x, size_t rows, size_t ld, int kind, float *offset,
                             float *scale)
{
    for (size_t j = 0; j < DIM; j++) {
        if (kind == AE_SCALING_MINMAX) {
            double lo = x[j], hi = x[j];
            for (size_t i = 1; i < rows; i++) {
                lo = fmin(lo, x[i * ld + j]);
                hi = fmax(hi, x[i * ld + j]);
            }
            offset[j] = (float)lo;
            scale[j] = hi > lo ? floored((float)(hi - lo)) : 1.0f;
        } else {
            double mean = 0.0, var = 0.0;
            for (size_t i = 0; i < rows; i++)
                mean += x[i * ld + j];
            mean /= (double)rows;
            for (size_t i = 0; i < rows; i++)
                var += (x[i * ld + j] - mean) * (x[i * ld + j] - mean);
            var /= (double)rows; /* population */
            offset[j] = (float)mean;
            scale[j] = var > 0.0 ? floored((float)sqrt(var)) : 1.0f;
        }
    }
}

/* Whether a and b are within one unit in the last place of the float b. Both are roundings
 * of the same real number (ours from double, the library's from its own accumulation), each
 * within half an ulp of it, so they can differ by one ulp at most and no more. */
static int within_one_ulp(float a, float b)
{
    return fabs((double)a - (double)b) <= (double)(nextafterf(fabsf(b), INFINITY) - fabsf(b));
}

static void assert_scaling_is(const ae_model *m, const float *offset, const float *scale)
{
    float got_offset[DIM], got_scale[DIM];
    assert_int_equal(ae_model_get_scaling(m, got_offset, got_scale, DIM), AE_OK);
    assert_memory_equal(got_offset, offset, sizeof got_offset);
    assert_memory_equal(got_scale, scale, sizeof got_scale);
}

static void assert_no_scaling(const ae_model *m)
{
    float offset[DIM], scale[DIM];
    assert_int_equal(ae_model_get_scaling(m, offset, scale, DIM), AE_ERR_STATE);
}

/* A small model (tanh hidden, linear code, linear or sigmoid output) with a scaling setting. */
static ae_model *small_model(int scaling, int loss)
{
    ae_model *m = test_create_model(SMALL, ARRAY_LEN(SMALL), NULL, 0);
    test_set_param(m, AE_PARAM_SEED, 17);
    test_set_activations(m, AE_ACT_TANH, AE_ACT_LINEAR,
                         loss == AE_LOSS_BCE ? AE_ACT_SIGMOID : AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_LOSS, loss);
    test_set_param(m, AE_PARAM_SCALING, scaling);
    test_set_epochs_and_batch(m, 2, 16);
    return m;
}

/* The scaled copy of x as the documented float computation gives it: (x - offset) / scale. */
static float *scaled_copy(const float *x, size_t rows, size_t ld, const float *offset,
                          const float *scale)
{
    float *xs = alloc_floats(rows * DIM);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < DIM; j++) {
            float centred = x[i * ld + j] - offset[j];
            xs[i * DIM + j] = centred / scale[j];
        }
    return xs;
}

/* A model with the architecture, activations, loss and parameters of m, but no scaling and
 * a fresh optimizer. */
static ae_model *unscaled_twin(const ae_model *m)
{
    ae_model *twin = small_model(AE_SCALING_NONE, AE_LOSS_MSE);
    double output, loss;
    assert_int_equal(ae_model_get_param(m, AE_PARAM_OUTPUT_ACTIVATION, &output), AE_OK);
    assert_int_equal(ae_model_get_param(m, AE_PARAM_LOSS, &loss), AE_OK);
    test_set_param(twin, AE_PARAM_OUTPUT_ACTIVATION, output);
    test_set_param(twin, AE_PARAM_LOSS, loss);
    float *params = test_params_of(m);
    assert_int_equal(ae_model_set_params(twin, params, ae_model_param_count(m)), AE_OK);
    free(params);
    return twin;
}

/* The same twin with the scaling of m set explicitly: a fresh optimizer, like the other. */
static ae_model *scaled_twin(const ae_model *m, int scaling, const float *offset, const float *scale)
{
    ae_model *twin = unscaled_twin(m);
    test_set_param(twin, AE_PARAM_SCALING, scaling);
    assert_int_equal(ae_model_set_scaling(twin, offset, scale, DIM), AE_OK);
    return twin;
}

/* A STANDARDIZE model fitted to x (ROWS rows, leading dimension LD) and trained a few steps,
 * so that its weights are not the initial draw; its offsets and scales in offset, scale. */
static ae_model *trained_scaled_model(const float *x, float *offset, float *scale)
{
    ae_model *m = small_model(AE_SCALING_STANDARDIZE, AE_LOSS_MSE);
    assert_int_equal(ae_model_fit(m, x, ROWS, LD, NULL), AE_OK);
    assert_int_equal(ae_model_get_scaling(m, offset, scale, DIM), AE_OK);
    return m;
}

/* ================================================================================== */
/* What is fitted                                                                      */
/* ================================================================================== */

static void test_minmax_fits_the_minimum_and_range_of_each_feature(void **state)
{
    (void)state;
    float *x = mixed_data(1, ROWS, LD); /* the NaN padding must not be read */
    ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_MSE);
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_OK);
    float offset[DIM], scale[DIM];
    expected_scaling(x, ROWS, LD, AE_SCALING_MINMAX, offset, scale);
    /* min is one of the values and max - min of two floats of one magnitude is exact in
     * double: the library's results are these floats exactly. */
    assert_scaling_is(m, offset, scale);
    assert_true(offset[0] < 0.0f);
    assert_true(offset[2] == CONSTANT_VALUE && scale[2] == 1.0f); /* constant feature */
    free(x);
    ae_model_free(m);
}

static void test_standardize_fits_the_mean_and_population_deviation_of_each_feature(void **state)
{
    (void)state;
    float *x = mixed_data(2, ROWS, LD);
    ae_model *m = small_model(AE_SCALING_STANDARDIZE, AE_LOSS_MSE);
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_OK);
    float offset[DIM], scale[DIM], got_offset[DIM], got_scale[DIM];
    expected_scaling(x, ROWS, LD, AE_SCALING_STANDARDIZE, offset, scale);
    assert_int_equal(ae_model_get_scaling(m, got_offset, got_scale, DIM), AE_OK);
    for (size_t j = 0; j < DIM; j++) {
        if (!within_one_ulp(got_offset[j], offset[j]) || !within_one_ulp(got_scale[j], scale[j]))
            fail_msg("feature %zu: offset %.9g scale %.9g, expected %.9g and %.9g", j,
                     (double)got_offset[j], (double)got_scale[j], (double)offset[j],
                     (double)scale[j]);
    }
    /* (The sample deviation, over n - 1, would be 0.8% larger with 60 rows.)
     * A constant feature: its value and exactly 1, not a rounding error's deviation. */
    assert_true(got_offset[2] == CONSTANT_VALUE);
    assert_true(got_scale[2] == 1.0f);
    free(x);
    ae_model_free(m);
}

static void test_single_row_gives_unit_scales_and_its_values_as_offsets(void **state)
{
    (void)state;
    float *x = mixed_data(3, 1, LD);
    const float ones[DIM] = {1, 1, 1, 1, 1};
    for (int kind = AE_SCALING_MINMAX; kind <= AE_SCALING_STANDARDIZE; kind++) {
        ae_model *m = small_model(kind, AE_LOSS_MSE);
        assert_int_equal(ae_model_fit_scaling(m, x, 1, LD), AE_OK);
        assert_scaling_is(m, x, ones);
        ae_model_free(m);
    }
    free(x);
}

/* ================================================================================== */
/* When it is fitted, kept and forgotten                                               */
/* ================================================================================== */

static void test_first_fit_fits_the_scaling_from_all_rows_including_validation_rows(void **state)
{
    (void)state;
    float *x = mixed_data(4, ROWS, LD);
    ae_model *m = small_model(AE_SCALING_STANDARDIZE, AE_LOSS_MSE);
    test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.5);
    assert_no_scaling(m);
    assert_int_equal(ae_model_fit(m, x, ROWS, LD, NULL), AE_OK);
    /* The same numbers as ae_model_fit_scaling on every row gives: a mean over the half
     * that trains would differ. */
    ae_model *reference = small_model(AE_SCALING_STANDARDIZE, AE_LOSS_MSE);
    assert_int_equal(ae_model_fit_scaling(reference, x, ROWS, LD), AE_OK);
    float offset[DIM], scale[DIM];
    assert_int_equal(ae_model_get_scaling(reference, offset, scale, DIM), AE_OK);
    assert_scaling_is(m, offset, scale);
    free(x);
    ae_model_free(m);
    ae_model_free(reference);
}

static void test_later_fits_keep_the_fitted_scaling(void **state)
{
    (void)state;
    float *a = mixed_data(5, ROWS, LD), *b = mixed_data(6, ROWS, LD);
    for (size_t i = 0; i < ROWS; i++)
        b[i * LD + 1] *= 3.0f; /* b's second feature lies elsewhere */
    ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_MSE);
    assert_int_equal(ae_model_fit(m, a, ROWS, LD, NULL), AE_OK);
    float offset[DIM], scale[DIM];
    expected_scaling(a, ROWS, LD, AE_SCALING_MINMAX, offset, scale);
    assert_scaling_is(m, offset, scale);
    assert_int_equal(ae_model_fit(m, b, ROWS, LD, NULL), AE_OK);
    assert_int_equal(ae_model_fit_validated(m, b, ROWS, LD, a, 10, LD, NULL), AE_OK);
    assert_scaling_is(m, offset, scale);
    free(a);
    free(b);
    ae_model_free(m);
}

static void test_fit_scaling_replaces_a_fitted_scaling(void **state)
{
    (void)state;
    float *a = mixed_data(7, ROWS, LD), *b = mixed_data(8, ROWS / 2, LD);
    ae_model *m = small_model(AE_SCALING_STANDARDIZE, AE_LOSS_MSE);
    assert_int_equal(ae_model_fit(m, a, ROWS, LD, NULL), AE_OK);
    assert_int_equal(ae_model_fit_scaling(m, b, ROWS / 2, LD), AE_OK);
    ae_model *reference = small_model(AE_SCALING_STANDARDIZE, AE_LOSS_MSE);
    assert_int_equal(ae_model_fit_scaling(reference, b, ROWS / 2, LD), AE_OK);
    float offset[DIM], scale[DIM];
    assert_int_equal(ae_model_get_scaling(reference, offset, scale, DIM), AE_OK);
    assert_scaling_is(m, offset, scale);
    free(a);
    free(b);
    ae_model_free(m);
    ae_model_free(reference);
}

static void test_reset_and_training_steps_keep_the_scaling(void **state)
{
    (void)state;
    float *x = mixed_data(9, ROWS, LD);
    ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_MSE);
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_OK);
    float offset[DIM], scale[DIM];
    assert_int_equal(ae_model_get_scaling(m, offset, scale, DIM), AE_OK);
    float *gradient = alloc_floats(ae_model_param_count(m));
    double loss;
    float *far = mixed_data(10, ROWS, LD);
    for (size_t i = 0; i < ROWS; i++)
        far[i * LD] += 100.0f; /* training on other data does not refit */
    assert_int_equal(ae_model_train_batch(m, far, ROWS, LD, &loss), AE_OK);
    assert_int_equal(ae_model_gradient(m, far, ROWS, LD, gradient, ae_model_param_count(m), &loss),
                     AE_OK);
    assert_scaling_is(m, offset, scale);
    float *trained = test_params_of(m);
    assert_int_equal(ae_model_reset(m), AE_OK);
    assert_false(test_params_equal_to(m, trained)); /* the reset did redraw */
    assert_scaling_is(m, offset, scale);
    free(trained);
    free(gradient);
    free(x);
    free(far);
    ae_model_free(m);
}

static void test_changing_the_scaling_setting_forgets_the_fitted_scaling(void **state)
{
    (void)state;
    float *x = mixed_data(11, ROWS, LD);
    ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_MSE);
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_OK);
    test_set_param(m, AE_PARAM_SCALING, AE_SCALING_STANDARDIZE);
    assert_no_scaling(m);
    /* Through NONE and back to the same kind: forgotten too. */
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_OK);
    test_set_param(m, AE_PARAM_SCALING, AE_SCALING_NONE);
    assert_no_scaling(m);
    test_set_param(m, AE_PARAM_SCALING, AE_SCALING_STANDARDIZE);
    assert_no_scaling(m);
    /* A refused setting changes nothing. */
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_OK);
    float offset[DIM], scale[DIM];
    assert_int_equal(ae_model_get_scaling(m, offset, scale, DIM), AE_OK);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_SCALING, 3), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_SCALING, 0.5), AE_ERR_INVALID_ARGUMENT);
    assert_scaling_is(m, offset, scale);
    /* The next fit fits the new kind anew. */
    test_set_param(m, AE_PARAM_SCALING, AE_SCALING_MINMAX);
    assert_int_equal(ae_model_fit(m, x, ROWS, LD, NULL), AE_OK);
    expected_scaling(x, ROWS, LD, AE_SCALING_MINMAX, offset, scale);
    assert_scaling_is(m, offset, scale);
    free(x);
    ae_model_free(m);
}

static void test_calls_that_need_the_scaling_refuse_until_it_is_fitted(void **state)
{
    (void)state;
    float *x = mixed_data(12, ROWS, LD);
    for (int kind = AE_SCALING_MINMAX; kind <= AE_SCALING_STANDARDIZE; kind++) {
        ae_model *m = small_model(kind, AE_LOSS_MSE);
        assert_int_equal(ae_model_set_threshold(m, 1.0), AE_OK); /* detect needs one */
        float *before = test_params_of(m);
        size_t n_params = ae_model_param_count(m);
        float *gradient = alloc_floats(n_params), *z = alloc_floats(ROWS * 2);
        float *y = alloc_floats(ROWS * DIM), *scores = alloc_floats(ROWS);
        float *errors = alloc_floats(ROWS * DIM);
        uint8_t labels[ROWS];
        double loss, threshold;
        memset(z, 0, ROWS * 2 * sizeof *z);
        assert_int_equal(ae_model_train_batch(m, x, ROWS, LD, &loss), AE_ERR_STATE);
        assert_true(strlen(ae_model_last_error(m)) > 0);
        assert_int_equal(ae_model_gradient(m, x, ROWS, LD, gradient, n_params, &loss), AE_ERR_STATE);
        assert_int_equal(ae_model_encode(m, x, ROWS, LD, z, 2), AE_ERR_STATE);
        assert_true(strlen(ae_last_error()) > 0);
        assert_int_equal(ae_model_decode(m, z, ROWS, 2, y, DIM), AE_ERR_STATE);
        assert_int_equal(ae_model_reconstruct(m, x, ROWS, LD, y, DIM), AE_ERR_STATE);
        assert_int_equal(ae_model_score(m, x, ROWS, LD, scores), AE_ERR_STATE);
        assert_int_equal(ae_model_loss(m, x, ROWS, LD, &loss), AE_ERR_STATE);
        assert_int_equal(ae_model_feature_errors(m, x, ROWS, LD, errors, DIM), AE_ERR_STATE);
        assert_int_equal(ae_model_detect(m, x, ROWS, LD, labels, NULL), AE_ERR_STATE);
        assert_int_equal(ae_model_fit_threshold(m, x, ROWS, LD, 0.1, &threshold), AE_ERR_STATE);
        /* Nothing changed: weights, threshold, still no scaling. */
        assert_true(test_params_equal_to(m, before));
        assert_int_equal(ae_model_get_threshold(m, &threshold), AE_OK);
        assert_true(threshold == 1.0);
        assert_no_scaling(m);
        /* ae_model_fit fits the scaling itself; then every call works. */
        assert_int_equal(ae_model_fit(m, x, ROWS, LD, NULL), AE_OK);
        assert_int_equal(ae_model_encode(m, x, ROWS, LD, z, 2), AE_OK);
        assert_int_equal(ae_model_decode(m, z, ROWS, 2, y, DIM), AE_OK);
        assert_int_equal(ae_model_score(m, x, ROWS, LD, scores), AE_OK);
        assert_int_equal(ae_model_detect(m, x, ROWS, LD, labels, NULL), AE_OK);
        assert_int_equal(ae_model_fit_threshold(m, x, ROWS, LD, 0.1, &threshold), AE_OK);
        free(before);
        free(gradient);
        free(z);
        free(y);
        free(scores);
        free(errors);
        ae_model_free(m);
    }
    free(x);
}

static void test_refused_fit_fits_no_scaling(void **state)
{
    (void)state;
    float *x = mixed_data(13, ROWS, LD);
    x[7 * LD + 3] = NAN;
    ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_MSE);
    assert_int_equal(ae_model_fit(m, x, ROWS, LD, NULL), AE_ERR_NON_FINITE_INPUT);
    assert_non_null(strstr(ae_last_error(), "row 7, column 3"));
    assert_no_scaling(m);
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_ERR_NON_FINITE_INPUT);
    assert_non_null(strstr(ae_model_last_error(m), "row 7, column 3"));
    assert_no_scaling(m);
    free(x);
    ae_model_free(m);
}

/* An allocator that fails the allocation with index fail_at (counted from arm_failure). */
static long allocations, fail_at = -1;

static void *failing_alloc(size_t size, void *user)
{
    (void)user;
    if (fail_at >= 0 && allocations++ == fail_at)
        return NULL;
    return malloc(size);
}

static void plain_free(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

static void arm_failure(long index)
{
    allocations = 0;
    fail_at = index;
}

/* ae_model_fit of a fresh model with an unfitted scaling, with each allocation in turn
 * failing: every failure leaves no scaling and the weights as they were; the first call
 * that gets all its allocations fits it. */
static void test_fit_that_runs_out_of_memory_fits_no_scaling(void **state)
{
    (void)state;
    float *x = mixed_data(33, ROWS, LD);
    assert_int_equal(ae_set_allocator(failing_alloc, plain_free, NULL), AE_OK);
    long k = 0;
    for (;; k++) {
        fail_at = -1;
        ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_MSE);
        float *before = test_params_of(m);
        arm_failure(k);
        int rc = ae_model_fit(m, x, ROWS, LD, NULL);
        fail_at = -1;
        if (rc == AE_OK) {
            float offset[DIM], scale[DIM];
            expected_scaling(x, ROWS, LD, AE_SCALING_MINMAX, offset, scale);
            assert_scaling_is(m, offset, scale);
            free(before);
            ae_model_free(m);
            break;
        }
        if (rc != AE_ERR_OUT_OF_MEMORY)
            print_error("fit with allocation %ld failing: %s\n", k, ae_status_str(rc));
        assert_int_equal(rc, AE_ERR_OUT_OF_MEMORY);
        assert_no_scaling(m);
        assert_true(test_params_equal_to(m, before));
        free(before);
        ae_model_free(m);
    }
    assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
    assert_true(k > 0);
    free(x);
}

/* The same for ae_model_pretrain, whose documented failure state differs: the weights and
 * the generator are restored, while a scaling it fitted (from x alone) may stay. Whether
 * fitted or not, the model then trains exactly as an untouched one. */
static void test_pretrain_that_runs_out_of_memory_restores_weights_and_generator(void **state)
{
    (void)state;
    float *x = mixed_data(34, ROWS, LD);
    float offset[DIM], scale[DIM];
    expected_scaling(x, ROWS, LD, AE_SCALING_MINMAX, offset, scale);
    assert_int_equal(ae_set_allocator(failing_alloc, plain_free, NULL), AE_OK);
    long k = 0;
    size_t kept = 0;
    for (;; k++) {
        fail_at = -1;
        ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_MSE);
        float *before = test_params_of(m);
        arm_failure(k);
        int rc = ae_model_pretrain(m, x, ROWS, LD, NULL, 0);
        fail_at = -1;
        if (rc == AE_OK) {
            assert_scaling_is(m, offset, scale);
            free(before);
            ae_model_free(m);
            break;
        }
        assert_int_equal(rc, AE_ERR_OUT_OF_MEMORY);
        assert_true(test_params_equal_to(m, before));
        float got[2][DIM];
        if (ae_model_get_scaling(m, got[0], got[1], DIM) == AE_OK) {
            assert_scaling_is(m, offset, scale); /* all of it, never a part */
            kept++;
        }
        /* Generator and weights as before: a fit now equals that of an untouched model. */
        ae_model *untouched = small_model(AE_SCALING_MINMAX, AE_LOSS_MSE);
        assert_int_equal(ae_model_fit(m, x, ROWS, LD, NULL), AE_OK);
        assert_int_equal(ae_model_fit(untouched, x, ROWS, LD, NULL), AE_OK);
        assert_true(test_same_params(m, untouched));
        ae_model_free(untouched);
        free(before);
        ae_model_free(m);
    }
    assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
    print_message("      %ld allocations failed in turn, %zu of them after the scaling was fitted\n",
                  k, kept);
    assert_true(k > 0);
    free(x);
}

/* ================================================================================== */
/* Every call sees (x - offset) / scale and answers in the original units              */
/* ================================================================================== */

/* 1100 rows cross the inference's 1024-row chunks. */
enum { MANY = 1100 };

static void test_encode_of_a_scaled_model_is_encode_of_the_scaled_rows(void **state)
{
    (void)state;
    float *train = mixed_data(14, ROWS, LD), *x = mixed_data(15, MANY, LD);
    float offset[DIM], scale[DIM];
    ae_model *m = trained_scaled_model(train, offset, scale);
    ae_model *plain = unscaled_twin(m);
    float *xs = scaled_copy(x, MANY, LD, offset, scale);
    float *z = alloc_floats(MANY * 2), *z_plain = alloc_floats(MANY * 2);
    assert_int_equal(ae_model_encode(m, x, MANY, LD, z, 2), AE_OK);
    assert_int_equal(ae_model_encode(plain, xs, MANY, DIM, z_plain, 2), AE_OK);
    assert_memory_equal(z, z_plain, MANY * 2 * sizeof *z);
    /* One row at a time takes the matrix-vector path: the same there. */
    assert_int_equal(ae_model_encode(m, x + 5 * LD, 1, LD, z, 2), AE_OK);
    assert_int_equal(ae_model_encode(plain, xs + 5 * DIM, 1, DIM, z_plain, 2), AE_OK);
    assert_memory_equal(z, z_plain, 2 * sizeof *z);
    free(train);
    free(x);
    free(xs);
    free(z);
    free(z_plain);
    ae_model_free(m);
    ae_model_free(plain);
}

static void test_decode_and_reconstruct_return_outputs_in_the_original_units(void **state)
{
    (void)state;
    float *train = mixed_data(16, ROWS, LD), *x = mixed_data(17, MANY, LD);
    float offset[DIM], scale[DIM];
    ae_model *m = trained_scaled_model(train, offset, scale);
    ae_model *plain = unscaled_twin(m);
    float *xs = scaled_copy(x, MANY, LD, offset, scale);
    float *y = alloc_floats(MANY * LD), *y_plain = alloc_floats(MANY * DIM);
    for (size_t k = 0; k < MANY * LD; k++)
        y[k] = -7.0f; /* padding must stay untouched */
    assert_int_equal(ae_model_reconstruct(m, x, MANY, LD, y, LD), AE_OK);
    assert_int_equal(ae_model_reconstruct(plain, xs, MANY, DIM, y_plain, DIM), AE_OK);
    for (size_t i = 0; i < MANY; i++) {
        for (size_t j = 0; j < DIM; j++) {
            float scaled_back = y_plain[i * DIM + j] * scale[j];
            float expected = scaled_back + offset[j];
            if (memcmp(&y[i * LD + j], &expected, sizeof expected) != 0)
                fail_msg("row %zu feature %zu: %.9g, expected y * scale + offset = %.9g", i, j,
                         (double)y[i * LD + j], (double)expected);
        }
        for (size_t j = DIM; j < LD; j++)
            assert_true(y[i * LD + j] == -7.0f);
    }
    /* Decoding codes: the same rule. */
    float *z = alloc_floats(MANY * 2);
    assert_int_equal(ae_model_encode(plain, xs, MANY, DIM, z, 2), AE_OK);
    assert_int_equal(ae_model_decode(m, z, MANY, 2, y, LD), AE_OK);
    assert_int_equal(ae_model_decode(plain, z, MANY, 2, y_plain, DIM), AE_OK);
    for (size_t i = 0; i < MANY; i++)
        for (size_t j = 0; j < DIM; j++) {
            float scaled_back = y_plain[i * DIM + j] * scale[j];
            float expected = scaled_back + offset[j];
            assert_memory_equal(&y[i * LD + j], &expected, sizeof expected);
        }
    /* And the outputs are near the inputs in their own units (the model was trained):
     * the thousands feature comes back in the thousands. */
    assert_int_equal(ae_model_reconstruct(m, x, MANY, LD, y, LD), AE_OK);
    for (size_t i = 0; i < MANY; i++)
        assert_true(y[i * LD + 1] > 0.0f && y[i * LD + 1] < 10000.0f);
    free(train);
    free(x);
    free(xs);
    free(y);
    free(y_plain);
    free(z);
    ae_model_free(m);
    ae_model_free(plain);
}

static void test_scores_losses_and_feature_errors_are_those_of_the_scaled_rows(void **state)
{
    (void)state;
    float *train = mixed_data(18, ROWS, LD), *x = mixed_data(19, MANY, LD);
    float offset[DIM], scale[DIM];
    ae_model *m = trained_scaled_model(train, offset, scale);
    ae_model *plain = unscaled_twin(m);
    float *xs = scaled_copy(x, MANY, LD, offset, scale);
    float *s = alloc_floats(MANY), *s_plain = alloc_floats(MANY);
    assert_int_equal(ae_model_score(m, x, MANY, LD, s), AE_OK);
    assert_int_equal(ae_model_score(plain, xs, MANY, DIM, s_plain), AE_OK);
    assert_memory_equal(s, s_plain, MANY * sizeof *s);
    double loss, loss_plain;
    assert_int_equal(ae_model_loss(m, x, MANY, LD, &loss), AE_OK);
    assert_int_equal(ae_model_loss(plain, xs, MANY, DIM, &loss_plain), AE_OK);
    assert_memory_equal(&loss, &loss_plain, sizeof loss);
    /* In raw units the thousands feature alone would give errors in the millions. */
    assert_true(loss < 10.0);
    float *e = alloc_floats(MANY * DIM), *e_plain = alloc_floats(MANY * DIM);
    assert_int_equal(ae_model_feature_errors(m, x, MANY, LD, e, DIM), AE_OK);
    assert_int_equal(ae_model_feature_errors(plain, xs, MANY, DIM, e_plain, DIM), AE_OK);
    assert_memory_equal(e, e_plain, MANY * DIM * sizeof *e);
    free(train);
    free(x);
    free(xs);
    free(s);
    free(s_plain);
    free(e);
    free(e_plain);
    ae_model_free(m);
    ae_model_free(plain);
}

static void test_thresholds_and_labels_are_those_of_the_scaled_rows(void **state)
{
    (void)state;
    float *train = mixed_data(20, ROWS, LD), *x = mixed_data(21, MANY, LD);
    float offset[DIM], scale[DIM];
    ae_model *m = trained_scaled_model(train, offset, scale);
    ae_model *plain = unscaled_twin(m);
    float *xs = scaled_copy(x, MANY, LD, offset, scale);
    double t, t_plain;
    assert_int_equal(ae_model_fit_threshold(m, x, MANY, LD, 0.05, &t), AE_OK);
    assert_int_equal(ae_model_fit_threshold(plain, xs, MANY, DIM, 0.05, &t_plain), AE_OK);
    assert_memory_equal(&t, &t_plain, sizeof t);
    uint8_t *labels = malloc(MANY), *labels_plain = malloc(MANY);
    float *s = alloc_floats(MANY), *s_plain = alloc_floats(MANY);
    assert_non_null(labels);
    assert_non_null(labels_plain);
    assert_int_equal(ae_model_detect(m, x, MANY, LD, labels, s), AE_OK);
    assert_int_equal(ae_model_detect(plain, xs, MANY, DIM, labels_plain, s_plain), AE_OK);
    assert_memory_equal(labels, labels_plain, MANY);
    assert_memory_equal(s, s_plain, MANY * sizeof *s);
    size_t flagged = 0;
    for (size_t i = 0; i < MANY; i++)
        flagged += labels[i];
    assert_true(flagged > 0 && flagged < MANY / 5);
    free(train);
    free(x);
    free(xs);
    free(labels);
    free(labels_plain);
    free(s);
    free(s_plain);
    ae_model_free(m);
    ae_model_free(plain);
}

static void test_training_steps_and_gradients_see_the_scaled_rows(void **state)
{
    (void)state;
    float *train = mixed_data(22, ROWS, LD);
    float offset[DIM], scale[DIM];
    ae_model *m = trained_scaled_model(train, offset, scale);
    /* Twins with fresh optimizers, one scaled through the model, one through the data. */
    ae_model *scaled = scaled_twin(m, AE_SCALING_STANDARDIZE, offset, scale);
    ae_model *plain = unscaled_twin(m);
    float *xs = scaled_copy(train, ROWS, LD, offset, scale);
    size_t n = ae_model_param_count(m);
    float *g = alloc_floats(n), *g_plain = alloc_floats(n);
    double loss, loss_plain;
    assert_int_equal(ae_model_gradient(scaled, train, ROWS, LD, g, n, &loss), AE_OK);
    assert_int_equal(ae_model_gradient(plain, xs, ROWS, DIM, g_plain, n, &loss_plain), AE_OK);
    assert_memory_equal(g, g_plain, n * sizeof *g);
    assert_memory_equal(&loss, &loss_plain, sizeof loss);
    for (int step = 0; step < 3; step++) {
        assert_int_equal(ae_model_train_batch(scaled, train, ROWS, LD, &loss), AE_OK);
        assert_int_equal(ae_model_train_batch(plain, xs, ROWS, DIM, &loss_plain), AE_OK);
        assert_memory_equal(&loss, &loss_plain, sizeof loss);
        assert_true(test_same_params(scaled, plain));
    }
    /* Whole fits too (the same seed, so the same shuffles). */
    ae_fit_report r = test_new_fit_report(), r_plain = test_new_fit_report();
    assert_int_equal(ae_model_fit(scaled, train, ROWS, LD, &r), AE_OK);
    assert_int_equal(ae_model_fit(plain, xs, ROWS, DIM, &r_plain), AE_OK);
    assert_true(r.final_train_loss == r_plain.final_train_loss);
    assert_true(test_same_params(scaled, plain));
    free(train);
    free(xs);
    free(g);
    free(g_plain);
    ae_model_free(m);
    ae_model_free(scaled);
    ae_model_free(plain);
}

/* ================================================================================== */
/* Explicit values                                                                      */
/* ================================================================================== */

static void test_set_scaling_stores_the_values_exactly_and_counts_as_fitted(void **state)
{
    (void)state;
    const float extreme_offset[DIM] = {-3.25f, 1e-30f, 0.0f, 12345.678f, -0.0f};
    const float extreme_scale[DIM] = {1e-30f, 7.0f, 0.1f, 1e30f, 1.4e-45f /* subnormal */};
    const float offset[DIM] = {-1.5f, 3000.0f, 0.0f, -0.3f, 0.5f};
    const float scale[DIM] = {2.0f, 1000.0f, 1.0f, 0.01f, 0.25f};
    float *x = mixed_data(23, ROWS, LD);
    for (int kind = AE_SCALING_MINMAX; kind <= AE_SCALING_STANDARDIZE; kind++) {
        ae_model *m = small_model(kind, AE_LOSS_MSE);
        assert_int_equal(ae_model_set_scaling(m, extreme_offset, extreme_scale, DIM), AE_OK);
        assert_scaling_is(m, extreme_offset, extreme_scale);
        /* Set values count as fitted: the first fit keeps them. */
        assert_int_equal(ae_model_set_scaling(m, offset, scale, DIM), AE_OK);
        assert_int_equal(ae_model_fit(m, x, ROWS, LD, NULL), AE_OK);
        assert_scaling_is(m, offset, scale);
        ae_model_free(m);
    }
    free(x);
}

static void test_set_scaling_refuses_bad_values_and_keeps_the_old_ones(void **state)
{
    (void)state;
    ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_MSE);
    const float offset[DIM] = {1, 2, 3, 4, 5}, scale[DIM] = {1, 2, 3, 4, 5};
    assert_int_equal(ae_model_set_scaling(m, offset, scale, DIM), AE_OK);
    float bad_offset[DIM], bad_scale[DIM];
    static const float bad_offsets[] = {NAN, INFINITY, -INFINITY};
    static const float bad_scales[] = {0.0f, -0.0f, -1.0f, -1e-38f, NAN, INFINITY, -INFINITY};
    for (size_t k = 0; k < ARRAY_LEN(bad_offsets); k++) {
        memcpy(bad_offset, offset, sizeof offset);
        bad_offset[3] = bad_offsets[k];
        assert_int_equal(ae_model_set_scaling(m, bad_offset, scale, DIM), AE_ERR_INVALID_ARGUMENT);
        assert_true(strlen(ae_model_last_error(m)) > 0);
    }
    for (size_t k = 0; k < ARRAY_LEN(bad_scales); k++) {
        memcpy(bad_scale, scale, sizeof scale);
        bad_scale[4] = bad_scales[k];
        assert_int_equal(ae_model_set_scaling(m, offset, bad_scale, DIM), AE_ERR_INVALID_ARGUMENT);
    }
    assert_int_equal(ae_model_set_scaling(m, offset, scale, DIM - 1), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_scaling(m, offset, scale, DIM + 1), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_scaling(m, offset, scale, 0), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_scaling(m, NULL, scale, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_scaling(m, offset, NULL, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_scaling(NULL, offset, scale, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_scaling_is(m, offset, scale);
    /* A model never fitted stays unfitted after a refused call. */
    ae_model *unfitted = small_model(AE_SCALING_STANDARDIZE, AE_LOSS_MSE);
    assert_int_equal(ae_model_set_scaling(unfitted, offset, bad_scale, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_no_scaling(unfitted);
    ae_model_free(unfitted);
    ae_model_free(m);
}

static void test_scaling_calls_refuse_a_model_without_a_scaling_setting(void **state)
{
    (void)state;
    ae_model *m = small_model(AE_SCALING_NONE, AE_LOSS_MSE);
    const float offset[DIM] = {0}, scale[DIM] = {1, 1, 1, 1, 1};
    float *x = mixed_data(24, ROWS, LD);
    assert_int_equal(ae_model_set_scaling(m, offset, scale, DIM), AE_ERR_STATE);
    assert_true(strlen(ae_model_last_error(m)) > 0);
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_ERR_STATE);
    assert_no_scaling(m);
    /* Without a scaling, every call uses the rows as they are. */
    float *z = alloc_floats(ROWS * 2);
    assert_int_equal(ae_model_encode(m, x, ROWS, LD, z, 2), AE_OK);
    assert_int_equal(ae_model_fit(m, x, ROWS, LD, NULL), AE_OK);
    assert_no_scaling(m);
    free(z);
    free(x);
    ae_model_free(m);
}

static void test_scaling_calls_refuse_bad_arguments(void **state)
{
    (void)state;
    ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_MSE);
    float *x = mixed_data(25, ROWS, LD);
    assert_int_equal(ae_model_fit_scaling(NULL, x, ROWS, LD), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_scaling(m, NULL, ROWS, LD), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_scaling(m, x, 0, LD), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, DIM - 1), AE_ERR_INVALID_ARGUMENT);
    assert_no_scaling(m);
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_OK);
    float offset[DIM], scale[DIM];
    assert_int_equal(ae_model_get_scaling(NULL, offset, scale, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_get_scaling(m, NULL, scale, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_get_scaling(m, offset, NULL, DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_get_scaling(m, offset, scale, DIM - 1), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_get_scaling(m, offset, scale, DIM + 1), AE_ERR_INVALID_ARGUMENT);
    /* A refused refit keeps the fitted values. */
    expected_scaling(x, ROWS, LD, AE_SCALING_MINMAX, offset, scale);
    x[3 * LD + 4] = INFINITY;
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_ERR_NON_FINITE_INPUT);
    assert_non_null(strstr(ae_last_error(), "row 3, column 4"));
    assert_scaling_is(m, offset, scale);
    free(x);
    ae_model_free(m);
}

/* Scaling subtracts the offset in float. A column whose fitted rows lie further from the
 * offset than a float holds cannot be scaled: its range (min-max), or a row's distance from
 * the mean (standardising: 3e38 three times and -3e38 once have the mean 1.5e38, and
 * -3e38 - 1.5e38 overflows although its scaled value is -1.7). Such a column is refused with
 * AE_ERR_INPUT_RANGE naming it, by ae_model_fit_scaling() and by the fit that would fit the
 * scaling, instead of reaching the network as infinity (the fit used to end in
 * AE_ERR_DIVERGED on finite data the scaling had accepted). A column of huge values whose
 * distances from the mean fit is scaled and trains. */
static void test_a_column_float_scaling_cannot_hold_is_refused(void **state)
{
    (void)state;
    static const size_t widths[] = {2, 2, 1};
    static const float far[4] = {3e38f, 3e38f, 3e38f, -3e38f}, near[4] = {3e38f, -3e38f, 0.0f, 0.0f};
    static const int kinds[] = {AE_SCALING_MINMAX, AE_SCALING_STANDARDIZE};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        float x[8];
        for (size_t i = 0; i < 4; i++) {
            x[2 * i] = 0.25f * (float)i;
            x[2 * i + 1] = far[i];
        }
        ae_model *m = NULL;
        assert_int_equal(ae_model_create(&m, widths, ARRAY_LEN(widths), NULL, 0), AE_OK);
        test_set_param(m, AE_PARAM_SCALING, kinds[k]);
        test_set_param(m, AE_PARAM_EPOCHS, 2);
        assert_int_equal(ae_model_fit_scaling(m, x, 4, 2), AE_ERR_INPUT_RANGE);
        assert_non_null(strstr(ae_last_error(), "column 1"));
        assert_int_equal(ae_model_fit(m, x, 4, 2, NULL), AE_ERR_INPUT_RANGE);
        assert_non_null(strstr(ae_model_last_error(m), "column 1"));
        float offset[2], scale[2];
        assert_int_equal(ae_model_get_scaling(m, offset, scale, 2), AE_ERR_STATE);
        if (kinds[k] == AE_SCALING_STANDARDIZE) {
            for (size_t i = 0; i < 4; i++)
                x[2 * i + 1] = near[i];
            assert_int_equal(ae_model_fit_scaling(m, x, 4, 2), AE_OK);
            assert_int_equal(ae_model_fit(m, x, 4, 2, NULL), AE_OK);
            float z[4];
            assert_int_equal(ae_model_encode(m, x, 4, 2, z, 1), AE_OK);
        }
        ae_model_free(m);
    }
}

/* ================================================================================== */
/* Binary cross-entropy                                                                 */
/* ================================================================================== */

/* BCE needs targets in [0, 1]; standardised features are not: refused when set, in either
 * order, naming the other setting, and the model keeps its settings. (A model file of an
 * older version may hold the pair: test_settings checks that training refuses it.) */
static void test_standardize_with_bce_is_refused_when_set(void **state)
{
    (void)state;
    float *x = mixed_data(26, ROWS, LD);
    ae_model *m = small_model(AE_SCALING_STANDARDIZE, AE_LOSS_MSE);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LINEAR);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE), AE_ERR_STATE);
    assert_non_null(strstr(ae_model_last_error(m), "loss = bce conflicts with"));
    ae_model_free(m);
    m = small_model(AE_SCALING_MINMAX, AE_LOSS_BCE);
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_OK);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_SCALING, AE_SCALING_STANDARDIZE), AE_ERR_STATE);
    assert_non_null(strstr(ae_model_last_error(m), "scaling = standardize conflicts with loss = bce"));
    /* Refused before anything changed: the fitted min-max scaling is still there. */
    float offset[DIM], scale[DIM];
    assert_int_equal(ae_model_get_scaling(m, offset, scale, DIM), AE_OK);
    double loss;
    assert_int_equal(ae_model_train_batch(m, x, ROWS, LD, &loss), AE_OK);
    free(x);
    ae_model_free(m);
}

/* Standardised features take both signs without bound: an output that cannot (sigmoid, tanh,
 * ReLU, softplus, ELU) is refused when set, in either order, with any loss. */
static void test_standardize_with_a_bounded_output_is_refused_when_set(void **state)
{
    (void)state;
    static const int bounded[] = {AE_ACT_SIGMOID, AE_ACT_TANH, AE_ACT_RELU, AE_ACT_SOFTPLUS,
                                  AE_ACT_ELU};
    for (size_t k = 0; k < ARRAY_LEN(bounded); k++) {
        ae_model *m = small_model(AE_SCALING_STANDARDIZE, AE_LOSS_MSE);
        assert_int_equal(ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, bounded[k]),
                         AE_ERR_STATE);
        assert_non_null(strstr(ae_model_last_error(m), "conflicts with scaling = standardize"));
        ae_model_free(m);
        m = small_model(AE_SCALING_NONE, AE_LOSS_MSE);
        test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, bounded[k]);
        assert_int_equal(ae_model_set_param(m, AE_PARAM_SCALING, AE_SCALING_STANDARDIZE),
                         AE_ERR_STATE);
        assert_non_null(strstr(ae_model_last_error(m), "scaling = standardize conflicts with "
                                                       "output_activation"));
        /* min-max scaling maps into [0, 1], which these outputs can reach */
        test_set_param(m, AE_PARAM_SCALING, AE_SCALING_MINMAX);
        ae_model_free(m);
    }
    /* Linear and leaky ReLU outputs are unbounded. */
    ae_model *m = small_model(AE_SCALING_STANDARDIZE, AE_LOSS_MSE);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LEAKY_RELU);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LINEAR);
    ae_model_free(m);
}

static void test_minmax_with_bce_trains_on_the_fitted_rows(void **state)
{
    (void)state;
    /* Arbitrary values: the division maps each feature's minimum to 0 and maximum to 1
     * exactly, so every fitted row is a valid target. */
    float *x = mixed_data(27, ROWS, LD);
    ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_BCE);
    ae_fit_report r = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, x, ROWS, LD, &r), AE_OK);
    assert_true(isfinite(r.final_train_loss));
    double loss;
    assert_int_equal(ae_model_loss(m, x, ROWS, LD, &loss), AE_OK);
    assert_int_equal(ae_model_train_batch(m, x, ROWS, LD, &loss), AE_OK);
    free(x);
    ae_model_free(m);
}

/* Every call that compares outputs with the rows refuses row 2 (scaled above 1) and row 1
 * (scaled below 0), naming the row and the column. */
static void expect_out_of_range(ae_model *m, const float *y, size_t rows, const char *where)
{
    size_t n = ae_model_param_count(m);
    float *before = test_params_of(m), *g = alloc_floats(n), *s = alloc_floats(rows);
    float *e = alloc_floats(rows * DIM);
    uint8_t labels[8];
    double loss, threshold;
    assert_true(rows <= ARRAY_LEN(labels));
    assert_int_equal(ae_model_score(m, y, rows, LD, s), AE_ERR_INPUT_RANGE);
    assert_non_null(strstr(ae_last_error(), where));
    assert_int_equal(ae_model_loss(m, y, rows, LD, &loss), AE_ERR_INPUT_RANGE);
    assert_non_null(strstr(ae_last_error(), where));
    assert_int_equal(ae_model_feature_errors(m, y, rows, LD, e, DIM), AE_ERR_INPUT_RANGE);
    assert_non_null(strstr(ae_last_error(), where));
    assert_int_equal(ae_model_detect(m, y, rows, LD, labels, NULL), AE_ERR_INPUT_RANGE);
    assert_non_null(strstr(ae_last_error(), where));
    assert_int_equal(ae_model_fit_threshold(m, y, rows, LD, 0.1, &threshold), AE_ERR_INPUT_RANGE);
    assert_non_null(strstr(ae_model_last_error(m), where));
    assert_int_equal(ae_model_train_batch(m, y, rows, LD, &loss), AE_ERR_INPUT_RANGE);
    assert_non_null(strstr(ae_model_last_error(m), where));
    assert_int_equal(ae_model_gradient(m, y, rows, LD, g, n, &loss), AE_ERR_INPUT_RANGE);
    assert_non_null(strstr(ae_model_last_error(m), where));
    assert_int_equal(ae_model_fit(m, y, rows, LD, NULL), AE_ERR_INPUT_RANGE);
    assert_non_null(strstr(ae_model_last_error(m), where));
    assert_true(test_params_equal_to(m, before));
    assert_int_equal(ae_model_get_threshold(m, &threshold), AE_OK);
    assert_true(threshold == 0.5);
    free(before);
    free(g);
    free(s);
    free(e);
}

static void test_minmax_with_bce_refuses_rows_outside_the_fitted_range(void **state)
{
    (void)state;
    enum { FEW = 4 };
    float *x = mixed_data(28, ROWS, LD);
    ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_BCE);
    assert_int_equal(ae_model_fit_scaling(m, x, ROWS, LD), AE_OK);
    assert_int_equal(ae_model_set_threshold(m, 0.5), AE_OK);
    float offset[DIM], scale[DIM];
    assert_int_equal(ae_model_get_scaling(m, offset, scale, DIM), AE_OK);
    /* Rows at the edges and inside the range pass; a constant feature's scale is 1, so its
     * value plus a half is inside too. */
    float *y = alloc_floats(FEW * LD);
    for (size_t i = 0; i < FEW; i++)
        for (size_t j = 0; j < LD; j++) {
            float v = j < DIM ? offset[j] + (float)i / (FEW - 1) * scale[j] : NAN;
            /* offset + scale may round above the range's top when the scale is the minimum
             * scale rather than the feature's own range: step back into it */
            while (j < DIM && (v - offset[j]) / scale[j] > 1.0f)
                v = nextafterf(v, -INFINITY);
            y[i * LD + j] = v;
        }
    y[1 * LD + 2] = CONSTANT_VALUE + 0.5f;
    float s[FEW];
    assert_int_equal(ae_model_score(m, y, FEW, LD, s), AE_OK);
    /* Above the range. */
    float *above = alloc_floats(FEW * LD);
    memcpy(above, y, FEW * LD * sizeof *y);
    above[2 * LD + 3] = offset[3] + 2.0f * scale[3];
    expect_out_of_range(m, above, FEW, "row 2, column 3");
    /* Below it. */
    float *below = alloc_floats(FEW * LD);
    memcpy(below, y, FEW * LD * sizeof *y);
    below[1 * LD + 0] = offset[0] - 0.25f * scale[0];
    expect_out_of_range(m, below, FEW, "row 1, column 0");
    /* The constant feature two units away scales to 2. */
    memcpy(below, y, FEW * LD * sizeof *y);
    below[3 * LD + 2] = CONSTANT_VALUE + 2.0f;
    expect_out_of_range(m, below, FEW, "row 3, column 2");
    free(x);
    free(y);
    free(above);
    free(below);
    ae_model_free(m);
}

/* ================================================================================== */
/* Copies and files                                                                     */
/* ================================================================================== */

static void test_scaling_survives_clone_and_save_and_load_bit_exactly(void **state)
{
    (void)state;
    float *x = mixed_data(29, ROWS, LD);
    for (int kind = AE_SCALING_MINMAX; kind <= AE_SCALING_STANDARDIZE; kind++) {
        ae_model *m = small_model(kind, AE_LOSS_MSE);
        assert_int_equal(ae_model_fit(m, x, ROWS, LD, NULL), AE_OK);
        float offset[DIM], scale[DIM];
        assert_int_equal(ae_model_get_scaling(m, offset, scale, DIM), AE_OK);
        ae_model *copy = test_clone_model(m);
        assert_scaling_is(copy, offset, scale);
        for (unsigned flags = 0; flags <= AE_SAVE_OPTIMIZER_STATE; flags++) {
            size_t size = 0, written = 0;
            assert_int_equal(ae_model_save_size(m, flags, &size), AE_OK);
            unsigned char *buf = malloc(size);
            assert_non_null(buf);
            assert_int_equal(ae_model_save_to_memory(m, flags, buf, size, &written), AE_OK);
            ae_model *loaded = NULL;
            assert_int_equal(ae_model_load_from_memory(&loaded, buf, written), AE_OK);
            assert_scaling_is(loaded, offset, scale);
            double kind_loaded;
            assert_int_equal(ae_model_get_param(loaded, AE_PARAM_SCALING, &kind_loaded), AE_OK);
            assert_true(kind_loaded == kind);
            /* The loaded model computes the same. */
            float z[ROWS * 2], z_loaded[ROWS * 2];
            assert_int_equal(ae_model_encode(m, x, ROWS, LD, z, 2), AE_OK);
            assert_int_equal(ae_model_encode(loaded, x, ROWS, LD, z_loaded, 2), AE_OK);
            assert_memory_equal(z, z_loaded, sizeof z);
            ae_model_free(loaded);
            free(buf);
        }
        /* Through a file as well. */
        char dir[] = "/tmp/ae_scaling_XXXXXX", path[64];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/m.aemodel", dir);
        assert_int_equal(ae_model_save(m, path, AE_SAVE_DEFAULT), AE_OK);
        ae_model *loaded = NULL;
        assert_int_equal(ae_model_load(&loaded, path), AE_OK);
        assert_scaling_is(loaded, offset, scale);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
        ae_model_free(loaded);
        ae_model_free(copy);
        ae_model_free(m);
    }
    free(x);
}

static void test_unfitted_scaling_stays_unfitted_through_clone_and_save_and_load(void **state)
{
    (void)state;
    ae_model *m = small_model(AE_SCALING_STANDARDIZE, AE_LOSS_MSE);
    ae_model *copy = test_clone_model(m);
    assert_no_scaling(copy);
    size_t size = 0, written = 0;
    assert_int_equal(ae_model_save_size(m, AE_SAVE_DEFAULT, &size), AE_OK);
    unsigned char *buf = malloc(size);
    assert_non_null(buf);
    assert_int_equal(ae_model_save_to_memory(m, AE_SAVE_DEFAULT, buf, size, &written), AE_OK);
    ae_model *loaded = NULL;
    assert_int_equal(ae_model_load_from_memory(&loaded, buf, written), AE_OK);
    assert_no_scaling(loaded);
    double kind;
    assert_int_equal(ae_model_get_param(loaded, AE_PARAM_SCALING, &kind), AE_OK);
    assert_true(kind == AE_SCALING_STANDARDIZE);
    free(buf);
    ae_model_free(loaded);
    ae_model_free(copy);
    ae_model_free(m);
}

static void test_exported_encoder_carries_the_scaling(void **state)
{
    (void)state;
    float *x = mixed_data(30, ROWS, LD);
    float offset[DIM], scale[DIM];
    ae_model *m = trained_scaled_model(x, offset, scale);
    ae_model *encoder = NULL;
    assert_int_equal(ae_model_export_encoder(m, &encoder), AE_OK);
    assert_scaling_is(encoder, offset, scale);
    float z[ROWS * 2], z_encoder[ROWS * 2];
    assert_int_equal(ae_model_encode(m, x, ROWS, LD, z, 2), AE_OK);
    assert_int_equal(ae_model_encode(encoder, x, ROWS, LD, z_encoder, 2), AE_OK);
    assert_memory_equal(z, z_encoder, sizeof z);
    ae_model_free(encoder);
    ae_model_free(m);
    free(x);
}

static void test_pretrain_fits_an_unfitted_scaling_first(void **state)
{
    (void)state;
    float *x = mixed_data(31, ROWS, LD);
    ae_model *m = small_model(AE_SCALING_MINMAX, AE_LOSS_MSE);
    assert_int_equal(ae_model_pretrain(m, x, ROWS, LD, NULL, 0), AE_OK);
    float offset[DIM], scale[DIM];
    expected_scaling(x, ROWS, LD, AE_SCALING_MINMAX, offset, scale);
    assert_scaling_is(m, offset, scale);
    /* A fitted one is kept. */
    float *other = mixed_data(32, ROWS, LD);
    assert_int_equal(ae_model_pretrain(m, other, ROWS, LD, NULL, 0), AE_OK);
    assert_scaling_is(m, offset, scale);
    free(other);
    free(x);
    ae_model_free(m);
}

/* ================================================================================== */
/* Why: features in different units                                                     */
/* ================================================================================== */

/* Mean over the features of each feature's mean squared reconstruction error divided by
 * its variance: the error in units every feature shares, whatever its own. */
static double relative_error(const ae_model *m, const float *x, size_t rows, size_t cols)
{
    float *y = alloc_floats(rows * cols);
    assert_int_equal(ae_model_reconstruct(m, x, rows, cols, y, cols), AE_OK);
    double total = 0.0;
    for (size_t j = 0; j < cols; j++) {
        double mean = 0.0, var = 0.0, err = 0.0;
        for (size_t i = 0; i < rows; i++)
            mean += x[i * cols + j];
        mean /= (double)rows;
        for (size_t i = 0; i < rows; i++) {
            double d = x[i * cols + j] - mean, r = (double)y[i * cols + j] - x[i * cols + j];
            var += d * d;
            err += r * r;
        }
        total += err / var;
    }
    free(y);
    return total / (double)cols;
}

static void test_standardize_lets_features_in_wildly_different_units_train(void **state)
{
    (void)state;
    /* Rank-2 data in six features: two in the tens of thousands (centred at 2e4 and -1e4,
     * spread 1e4), two in thousandths, two of order one. Unscaled, the large features swamp
     * the loss and the output biases cannot travel 1e4 at Adam's step size; standardised,
     * every feature counts alike. Measured after 100 epochs (the figures are printed): the
     * mean over features of squared error / variance is 1.346 without scaling (worse than
     * predicting each feature's mean) and 0.00546 with STANDARDIZE. */
    enum { N = 512, D = 6 };
    static const double unit[D] = {1e4, 1e4, 1e-3, 1e-3, 1.0, 1.0};
    static const double centre[D] = {2e4, -1e4, 5e-3, 0.0, 1.0, -2.0};
    test_rng rng;
    test_rng_seed(&rng, 33);
    double mix[D][2];
    for (size_t j = 0; j < D; j++) {
        mix[j][0] = test_rng_normal(&rng);
        mix[j][1] = test_rng_normal(&rng);
    }
    float *x = alloc_floats(N * D);
    for (size_t i = 0; i < N; i++) {
        double t1 = test_rng_normal(&rng), t2 = test_rng_normal(&rng);
        for (size_t j = 0; j < D; j++)
            x[i * D + j] = (float)(centre[j] + unit[j] * (mix[j][0] * t1 + mix[j][1] * t2));
    }
    static const size_t widths[] = {D, 4, 2};
    double error[2];
    for (int standardize = 0; standardize < 2; standardize++) {
        ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
        test_set_param(m, AE_PARAM_SEED, 3);
        test_set_activations(m, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_LINEAR);
        test_set_param(m, AE_PARAM_LEARNING_RATE, 0.01);
        test_set_epochs_and_batch(m, 100, 32);
        test_set_param(m, AE_PARAM_SCALING, standardize ? AE_SCALING_STANDARDIZE : AE_SCALING_NONE);
        assert_int_equal(ae_model_fit(m, x, N, D, NULL), AE_OK);
        error[standardize] = relative_error(m, x, N, D);
        ae_model_free(m);
    }
    print_message("      relative reconstruction error: unscaled %.4g, standardised %.4g\n",
                  error[0], error[1]);
    assert_true(error[1] < 0.05);
    assert_true(error[1] < 0.1 * error[0]);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minmax_fits_the_minimum_and_range_of_each_feature),
        cmocka_unit_test(test_standardize_fits_the_mean_and_population_deviation_of_each_feature),
        cmocka_unit_test(test_single_row_gives_unit_scales_and_its_values_as_offsets),
        cmocka_unit_test(test_first_fit_fits_the_scaling_from_all_rows_including_validation_rows),
        cmocka_unit_test(test_later_fits_keep_the_fitted_scaling),
        cmocka_unit_test(test_fit_scaling_replaces_a_fitted_scaling),
        cmocka_unit_test(test_reset_and_training_steps_keep_the_scaling),
        cmocka_unit_test(test_changing_the_scaling_setting_forgets_the_fitted_scaling),
        cmocka_unit_test(test_calls_that_need_the_scaling_refuse_until_it_is_fitted),
        cmocka_unit_test(test_refused_fit_fits_no_scaling),
        cmocka_unit_test(test_fit_that_runs_out_of_memory_fits_no_scaling),
        cmocka_unit_test(test_pretrain_that_runs_out_of_memory_restores_weights_and_generator),
        cmocka_unit_test(test_encode_of_a_scaled_model_is_encode_of_the_scaled_rows),
        cmocka_unit_test(test_decode_and_reconstruct_return_outputs_in_the_original_units),
        cmocka_unit_test(test_scores_losses_and_feature_errors_are_those_of_the_scaled_rows),
        cmocka_unit_test(test_thresholds_and_labels_are_those_of_the_scaled_rows),
        cmocka_unit_test(test_training_steps_and_gradients_see_the_scaled_rows),
        cmocka_unit_test(test_set_scaling_stores_the_values_exactly_and_counts_as_fitted),
        cmocka_unit_test(test_set_scaling_refuses_bad_values_and_keeps_the_old_ones),
        cmocka_unit_test(test_scaling_calls_refuse_a_model_without_a_scaling_setting),
        cmocka_unit_test(test_scaling_calls_refuse_bad_arguments),
        cmocka_unit_test(test_a_column_float_scaling_cannot_hold_is_refused),
        cmocka_unit_test(test_standardize_with_bce_is_refused_when_set),
        cmocka_unit_test(test_standardize_with_a_bounded_output_is_refused_when_set),
        cmocka_unit_test(test_minmax_with_bce_trains_on_the_fitted_rows),
        cmocka_unit_test(test_minmax_with_bce_refuses_rows_outside_the_fitted_range),
        cmocka_unit_test(test_scaling_survives_clone_and_save_and_load_bit_exactly),
        cmocka_unit_test(test_unfitted_scaling_stays_unfitted_through_clone_and_save_and_load),
        cmocka_unit_test(test_exported_encoder_carries_the_scaling),
        cmocka_unit_test(test_pretrain_fits_an_unfitted_scaling_first),
        cmocka_unit_test(test_standardize_lets_features_in_wildly_different_units_train),
    };
    return cmocka_run_group_tests_name("scaling", tests, NULL, NULL);
}
