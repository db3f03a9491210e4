/* Rows too large for float arithmetic (autoenc.h, "Overflow"): finite inputs whose products
 * overflow inside the network. No call returns NaN or infinity with AE_OK: the calls that
 * return values refuse with AE_ERR_NON_FINITE_RESULT naming the row, the scoring calls give
 * the row the score FLT_MAX, and detection labels it anomalous whatever the threshold and
 * fails closed. */
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

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ROWS 5
#define BAD_ROW 3

/* The {4, 3, 2} model of the review, in an output activation and loss, with spread random
 * weights, except that each first-layer row is {2, 2, -2, -2}: a row of 3e38s then makes
 * every product overflow, to +inf and -inf, and their sum NaN in any order. */
static ae_model *make_model(unsigned flags, int output, int loss)
{
    static const size_t widths[] = {4, 3, 2};
    ae_model *m = NULL;
    assert_int_equal(ae_model_create_ex(&m, widths, 3, NULL, 0, flags), AE_OK);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, output);
    test_set_param(m, AE_PARAM_LOSS, loss);
    test_rng rng;
    test_rng_seed(&rng, 77);
    free(test_set_spread_params(m, &rng, 0.0));
    const float first[3 * 4] = {2, 2, -2, -2, 2, 2, -2, -2, 2, 2, -2, -2};
    assert_int_equal(ae_model_set_weights(m, 0, first, 3 * 4), AE_OK);
    return m;
}

/* ROWS rows in [0, 1], row BAD_ROW replaced by 3e38s (finite, but too large). */
static void make_rows(float *x)
{
    test_rng rng;
    test_rng_seed(&rng, 5);
    for (size_t i = 0; i < ROWS * 4; i++)
        x[i] = (float)test_rng_uniform(&rng);
    for (size_t j = 0; j < 4; j++)
        x[BAD_ROW * 4 + j] = 3e38f;
}

/* The review's row on a model with random weights: whether the products overflow depends on
 * the weights, but no call may return NaN or infinity with AE_OK. */
static void test_the_reviews_row_gives_finite_results_or_a_refusal(void **state)
{
    (void)state;
    static const size_t widths[] = {4, 3, 2};
    for (uint64_t seed = 0; seed < 20; seed++) {
        ae_model *m = test_create_model(widths, 3, NULL, 0);
        test_rng rng;
        test_rng_seed(&rng, seed);
        free(test_set_spread_params(m, &rng, 0.0));
        const float x[4] = {1e38f, 1e38f, -1e38f, -1e38f};
        float y[4], z[2], score = 0;
        double loss = 0;
        int rc = ae_model_reconstruct(m, x, 1, 4, y, 4);
        assert_true(rc == AE_ERR_NON_FINITE_RESULT || (rc == AE_OK && isfinite(y[0]) &&
                    isfinite(y[1]) && isfinite(y[2]) && isfinite(y[3])));
        rc = ae_model_encode(m, x, 1, 4, z, 2);
        assert_true(rc == AE_ERR_NON_FINITE_RESULT || (rc == AE_OK && isfinite(z[0]) && isfinite(z[1])));
        rc = ae_model_loss(m, x, 1, 4, &loss);
        assert_true(rc == AE_ERR_NON_FINITE_RESULT || (rc == AE_OK && isfinite(loss)));
        assert_int_equal(ae_model_score(m, x, 1, 4, &score), AE_OK);
        assert_true(isfinite(score));
        uint8_t label = 0;
        assert_int_equal(ae_model_set_threshold(m, 1.0), AE_OK);
        assert_int_equal(ae_model_detect(m, x, 1, 4, &label, NULL), AE_OK);
        assert_int_equal(label, 1); /* its error is enormous either way */
        ae_model_free(m);
    }
}

static int all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

static void expect_refused(int status, const char *call)
{
    if (status != AE_ERR_NON_FINITE_RESULT)
        print_error("%s: status %d (%s)\n", call, status, ae_last_error());
    assert_int_equal(status, AE_ERR_NON_FINITE_RESULT);
    char row[32];
    snprintf(row, sizeof row, "row %d", BAD_ROW);
    assert_non_null(strstr(ae_last_error(), row));
}

typedef struct model_kind {
    unsigned flags;
    int output, loss;
    const char *name;
} model_kind;

static const model_kind KINDS[] = {
    {AE_ARCH_PLAIN, AE_ACT_LINEAR, AE_LOSS_MSE, "linear output, MSE"},
    {AE_ARCH_PLAIN, AE_ACT_SIGMOID, AE_LOSS_MSE, "sigmoid output, MSE"},
    {AE_ARCH_PLAIN, AE_ACT_SIGMOID, AE_LOSS_BCE, "sigmoid output, BCE"},
    {AE_ARCH_PLAIN, AE_ACT_TANH, AE_LOSS_MSE, "tanh output, MSE"},
    {AE_ARCH_TIED_WEIGHTS, AE_ACT_SOFTPLUS, AE_LOSS_MSE, "tied, softplus output"},
    {AE_ARCH_VARIATIONAL, AE_ACT_LINEAR, AE_LOSS_MSE, "variational"},
};

/* Every call that returns values computed from the rows refuses them, naming the row; the
 * rows before it are still right, so the refusal is about that row only. */
static void test_calls_returning_values_refuse_a_row_that_overflows(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_LEN(KINDS); k++) {
        const model_kind *kind = &KINDS[k];
        if (kind->loss == AE_LOSS_BCE) /* BCE targets: the row is refused as out of range */
            continue;
        ae_model *m = make_model(kind->flags, kind->output, kind->loss);
        float x[ROWS * 4], y[ROWS * 4], z[ROWS * 2], log_var[ROWS * 2];
        make_rows(x);
        expect_refused(ae_model_encode(m, x, ROWS, 4, z, 2), kind->name);
        expect_refused(ae_model_reconstruct(m, x, ROWS, 4, y, 4), kind->name);
        double loss = 0;
        expect_refused(ae_model_loss(m, x, ROWS, 4, &loss), kind->name);
        size_t n = ae_model_param_count(m);
        float *g = malloc(n * sizeof *g);
        assert_non_null(g);
        expect_refused(ae_model_gradient(m, x, ROWS, 4, g, n, &loss), kind->name);
        assert_non_null(strstr(ae_model_last_error(m), "row 3"));
        free(g);
        if (kind->flags & AE_ARCH_VARIATIONAL)
            expect_refused(ae_model_encode_distribution(m, x, ROWS, 4, z, 2, log_var, 2), kind->name);
        /* Interpolating from or to the huge row refuses it, naming the end. */
        float path[3 * 4];
        int rc = ae_model_interpolate(m, x, x + BAD_ROW * 4, 3, path, 4);
        assert_int_equal(rc, AE_ERR_NON_FINITE_RESULT);
        assert_non_null(strstr(ae_last_error(), "x_b"));
        rc = ae_model_interpolate(m, x + BAD_ROW * 4, x, 3, path, 4);
        assert_int_equal(rc, AE_ERR_NON_FINITE_RESULT);
        assert_non_null(strstr(ae_last_error(), "x_a"));
        /* Decoding a huge code. */
        float codes[2 * 2] = {0.5f, -0.5f, 3e38f, -3e38f};
        rc = ae_model_decode(m, codes, 2, 2, y, 4);
        if (rc == AE_OK)
            assert_true(all_finite(y, 2 * 4)); /* a bounded output may saturate: fine if finite */
        else
            assert_int_equal(rc, AE_ERR_NON_FINITE_RESULT);
        /* The rows before the bad one reconstruct alone. */
        assert_int_equal(ae_model_reconstruct(m, x, BAD_ROW, 4, y, 4), AE_OK);
        assert_true(all_finite(y, BAD_ROW * 4));
        ae_model_free(m);
    }
}

/* Scores: the overflowing row gets FLT_MAX, the others their real scores; per-feature errors
 * saturate the same way; loss refuses (a mean has no room for such a row). */
static void test_scores_saturate_at_flt_max_and_the_rest_stay_exact(void **state)
{
    (void)state;
    for (size_t k = 0; k < ARRAY_LEN(KINDS); k++) {
        const model_kind *kind = &KINDS[k];
        if (kind->loss == AE_LOSS_BCE)
            continue;
        ae_model *m = make_model(kind->flags, kind->output, kind->loss);
        float x[ROWS * 4], scores[ROWS], alone[1], errors[ROWS * 4];
        make_rows(x);
        assert_int_equal(ae_model_score(m, x, ROWS, 4, scores), AE_OK);
        assert_true(all_finite(scores, ROWS));
        assert_true(scores[BAD_ROW] == FLT_MAX);
        for (size_t i = 0; i < ROWS; i++) {
            if (i == BAD_ROW)
                continue;
            assert_int_equal(ae_model_score(m, x + i * 4, 1, 4, alone), AE_OK);
            /* one row goes through sgemv, a batch through sgemm: rounding apart */
            assert_true(fabsf(scores[i] - alone[0]) <= 1e-5f * (1.0f + fabsf(alone[0])));
            assert_true(scores[i] < 1e6f);
        }
        assert_int_equal(ae_model_feature_errors(m, x, ROWS, 4, errors, 4), AE_OK);
        assert_true(all_finite(errors, ROWS * 4));
        int saturated = 0;
        for (size_t j = 0; j < 4; j++)
            saturated += errors[BAD_ROW * 4 + j] == FLT_MAX;
        assert_true(saturated > 0);
        ae_model_free(m);
    }
}

/* Detection fails closed: the overflowing row is anomalous whatever the threshold (even one
 * above FLT_MAX), and a failed call flags every row. */
static void test_detect_fails_closed(void **state)
{
    (void)state;
    ae_model *m = make_model(AE_ARCH_PLAIN, AE_ACT_LINEAR, AE_LOSS_MSE);
    float x[ROWS * 4], scores[ROWS];
    uint8_t labels[ROWS];
    make_rows(x);
    static const double thresholds[] = {0.0, 1e6, (double)FLT_MAX, 1e300};
    for (size_t t = 0; t < ARRAY_LEN(thresholds); t++) {
        assert_int_equal(ae_model_set_threshold(m, thresholds[t]), AE_OK);
        assert_int_equal(ae_model_detect(m, x, ROWS, 4, labels, scores), AE_OK);
        assert_int_equal(labels[BAD_ROW], 1);
        assert_true(scores[BAD_ROW] == FLT_MAX);
        assert_int_equal(ae_model_detect(m, x, ROWS, 4, labels, NULL), AE_OK);
        assert_int_equal(labels[BAD_ROW], 1);
    }
    /* A call that fails leaves every label at 1: NaN input, then no threshold. */
    memset(labels, 0, sizeof labels);
    x[4] = NAN;
    assert_int_equal(ae_model_detect(m, x, ROWS, 4, labels, NULL), AE_ERR_NON_FINITE_INPUT);
    for (size_t i = 0; i < ROWS; i++)
        assert_int_equal(labels[i], 1);
    x[4] = 0.5f;
    ae_model *fresh = make_model(AE_ARCH_PLAIN, AE_ACT_LINEAR, AE_LOSS_MSE);
    memset(labels, 0, sizeof labels);
    assert_int_equal(ae_model_detect(fresh, x, ROWS, 4, labels, NULL), AE_ERR_STATE);
    for (size_t i = 0; i < ROWS; i++)
        assert_int_equal(labels[i], 1);
    ae_model_free(fresh);
    /* Argument errors fail closed too: a NULL model or x, a leading dimension below the
     * row width. */
    memset(labels, 0, sizeof labels);
    assert_int_equal(ae_model_detect(NULL, x, ROWS, 4, labels, NULL), AE_ERR_INVALID_ARGUMENT);
    for (size_t i = 0; i < ROWS; i++)
        assert_int_equal(labels[i], 1);
    memset(labels, 0, sizeof labels);
    assert_int_equal(ae_model_detect(m, NULL, ROWS, 4, labels, NULL), AE_ERR_INVALID_ARGUMENT);
    for (size_t i = 0; i < ROWS; i++)
        assert_int_equal(labels[i], 1);
    memset(labels, 0, sizeof labels);
    assert_int_equal(ae_model_detect(m, x, ROWS, 3, labels, NULL), AE_ERR_INVALID_ARGUMENT);
    for (size_t i = 0; i < ROWS; i++)
        assert_int_equal(labels[i], 1);
    /* A row count no buffer could hold is refused without writing labels. */
    assert_int_equal(ae_model_detect(m, x, SIZE_MAX / 2, 4, labels, NULL), AE_ERR_SIZE_OVERFLOW);
    ae_model_free(m);
}

/* Sampling from a variational model whose decoder overflows refuses too. */
static void test_sample_refuses_outputs_that_overflow(void **state)
{
    (void)state;
    ae_model *m = make_model(AE_ARCH_VARIATIONAL, AE_ACT_LINEAR, AE_LOSS_MSE);
    size_t n_out = 0, n_in = 0;
    size_t last = ae_model_layer_count(m) - 1;
    assert_int_equal(ae_model_layer_info(m, last - 1, &n_out, &n_in, NULL), AE_OK);
    /* Weights of 3e38 after a hidden layer: any code of both signs gives inf - inf. */
    float *w = malloc(n_out * n_in * sizeof *w);
    assert_non_null(w);
    for (size_t i = 0; i < n_out * n_in; i++)
        w[i] = i % 2 ? 3e38f : -3e38f;
    assert_int_equal(ae_model_set_weights(m, last - 1, w, n_out * n_in), AE_OK);
    float y[8 * 4];
    int rc = ae_model_sample(m, 9, 8, y, 4);
    assert_int_equal(rc, AE_ERR_NON_FINITE_RESULT);
    assert_non_null(strstr(ae_last_error(), "row"));
    free(w);
    ae_model_free(m);
}

/* NaN never turns finite on its way through an activation (torch propagates it too): a
 * NaN weight cannot be set, so the test sets huge weights whose product is inf - inf in
 * the first layer and checks every output activation lets the NaN through. */
/* A validation row that overflows while training goes well is the data's fault, not a
 * divergence: the fit says which row, and keeps the epoch it trained. */
static void test_fit_names_a_validation_row_that_overflows_and_keeps_the_epoch(void **state)
{
    (void)state;
    enum { TRAIN = 64 };
    float train[TRAIN * 4], val[ROWS * 4];
    test_rng rng;
    test_rng_seed(&rng, 9);
    for (size_t i = 0; i < TRAIN * 4; i++)
        train[i] = (float)test_rng_uniform(&rng);
    make_rows(val);
    ae_model *m = make_model(0, AE_ACT_LINEAR, AE_LOSS_MSE);
    test_set_epochs_and_batch(m, 3, 16);
    float *start = test_params_of(m);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit_validated(m, train, TRAIN, 4, val, ROWS, 4, &report),
                     AE_ERR_NON_FINITE_RESULT);
    assert_non_null(strstr(ae_model_last_error(m), "validation row 3 "));
    assert_int_equal(report.epochs_run, 1);
    assert_int_equal(report.stop_reason, AE_STOP_FAILED);
    assert_true(isfinite(report.final_train_loss));
    /* The epoch's weights, trained and finite. */
    assert_false(test_params_equal_to(m, start));
    float *now = test_params_of(m);
    for (size_t i = 0; i < ae_model_param_count(m); i++)
        assert_true(isfinite(now[i]));
    free(now);
    free(start);
    ae_model_free(m);
}

static void test_every_activation_propagates_nan(void **state)
{
    (void)state;
    for (int act = AE_ACT_LINEAR; act <= AE_ACT_SOFTPLUS; act++) {
        static const size_t widths[] = {2, 1};
        ae_model *m = test_create_model(widths, 2, NULL, 0);
        test_set_activations(m, act, act, act);
        float w0[2] = {3e38f, 3e38f};
        assert_int_equal(ae_model_set_weights(m, 0, w0, 2), AE_OK);
        float x[2] = {10.0f, -10.0f}; /* 3e39 - 3e39: inf - inf = NaN in the first layer */
        float y[2], code[1];
        int rc = ae_model_encode(m, x, 1, 2, code, 1);
        if (rc != AE_ERR_NON_FINITE_RESULT)
            print_error("activation %s: encode gave %d, code %g\n",
                        ae_activation_name((ae_activation)act), rc, (double)code[0]);
        assert_int_equal(rc, AE_ERR_NON_FINITE_RESULT);
        assert_int_equal(ae_model_reconstruct(m, x, 1, 2, y, 2), AE_ERR_NON_FINITE_RESULT);
        ae_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_reviews_row_gives_finite_results_or_a_refusal),
        cmocka_unit_test(test_calls_returning_values_refuse_a_row_that_overflows),
        cmocka_unit_test(test_scores_saturate_at_flt_max_and_the_rest_stay_exact),
        cmocka_unit_test(test_detect_fails_closed),
        cmocka_unit_test(test_sample_refuses_outputs_that_overflow),
        cmocka_unit_test(test_fit_names_a_validation_row_that_overflows_and_keeps_the_epoch),
        cmocka_unit_test(test_every_activation_propagates_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
