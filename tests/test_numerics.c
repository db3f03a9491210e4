/* Numerics: what test_training, test_optimizers and test_errors leave out. A finite loss
 * with a non-finite gradient stops a step and a fit like a non-finite loss does; a
 * validation loss that overflows stops a fit; the const calls that read data (loss,
 * score) refuse NaN and Inf naming the row and column. */
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

#define IN 4
#define LATENT 2
#define BATCH 4

/* ------------------------------------------------------------------------------------ */
/* A model whose loss is finite but whose gradient overflows                             */
/* ------------------------------------------------------------------------------------ */

/*
 * Layer 0 (IN -> LATENT, leaky ReLU with slope 1e-37): W0 = 0, b0 = -100, so every
 * latent unit is -1e-35 whatever the input. Layer 1 (LATENT -> IN, linear): W1 = 1e38,
 * b1 = 0, so every output is 2 * 1e38 * -1e-35 = -2000: finite, and the loss is finite.
 * Backward, the latent delta is sum_j W1[j] * dL/dy_j = 1e38 * (about 4 * 2 * 2000 / N),
 * which overflows float to -Inf before the tiny slope could scale it back: the gradient
 * of W0 and b0 is not finite. On rows that equal the output (to 0.01) dL/dy is tiny and
 * the whole gradient is finite.
 */
static ae_model *make_overflowing_gradient_model(void)
{
    static const size_t widths[] = {IN, LATENT};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_param(m, AE_PARAM_LEAKY_SLOPE, 1e-37);
    test_set_activations(m, AE_ACT_LINEAR, AE_ACT_LEAKY_RELU, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_SHUFFLE, 0);
    test_set_epochs_and_batch(m, 3, BATCH);
    float w0[LATENT * IN], b0[LATENT], w1[IN * LATENT], b1[IN];
    for (size_t i = 0; i < LATENT * IN; i++) {
        w0[i] = 0.0f;
        w1[i] = 1e38f;
    }
    for (size_t i = 0; i < LATENT; i++)
        b0[i] = -100.0f;
    for (size_t i = 0; i < IN; i++)
        b1[i] = 0.0f;
    assert_int_equal(ae_model_set_weights(m, 0, w0, ARRAY_LEN(w0)), AE_OK);
    assert_int_equal(ae_model_set_bias(m, 0, b0, ARRAY_LEN(b0)), AE_OK);
    assert_int_equal(ae_model_set_weights(m, 1, w1, ARRAY_LEN(w1)), AE_OK);
    assert_int_equal(ae_model_set_bias(m, 1, b1, ARRAY_LEN(b1)), AE_OK);
    return m;
}

/* BATCH rows within 0.01 of the model's output: a finite, small gradient. */
static void rows_near_the_output(const ae_model *m, float *rows)
{
    float zeros[IN] = {0};
    float y[IN];
    assert_int_equal(ae_model_reconstruct(m, zeros, 1, IN, y, IN), AE_OK);
    for (size_t i = 0; i < BATCH; i++)
        for (size_t j = 0; j < IN; j++) {
            assert_true(isfinite(y[j]));
            rows[i * IN + j] = y[j] + 0.0025f * (float)(1 + (i + j) % 4);
        }
}

static int all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* The premise of the tests below: on @p rows the loss is finite and the gradient is
 * (or is not) finite; a gradient that is not is refused, with no row to blame. */
static void assert_gradient_finiteness(ae_model *m, const float *rows, size_t n_rows, int finite)
{
    size_t n = ae_model_param_count(m);
    float *g = malloc(n * sizeof *g);
    assert_non_null(g);
    double loss = NAN;
    if (finite) {
        assert_int_equal(ae_model_gradient(m, rows, n_rows, IN, g, n, &loss), AE_OK);
        assert_true(all_finite(g, n));
    } else {
        assert_int_equal(ae_model_gradient(m, rows, n_rows, IN, g, n, &loss),
                         AE_ERR_NON_FINITE_RESULT);
        assert_non_null(strstr(ae_model_last_error(m), "gradient would not be finite"));
        assert_null(strstr(ae_model_last_error(m), "row"));
    }
    assert_int_equal(ae_model_loss(m, rows, n_rows, IN, &loss), AE_OK);
    assert_true(isfinite(loss));
    free(g);
}

static void test_train_batch_with_a_finite_loss_but_a_non_finite_gradient_returns_diverged(void **state)
{
    (void)state;
    ae_model *m = make_overflowing_gradient_model();
    float zeros[BATCH * IN] = {0};
    assert_gradient_finiteness(m, zeros, BATCH, 0);
    float *before = test_params_of(m);
    static const int optimizers[] = {AE_OPT_SGD, AE_OPT_ADAM, AE_OPT_ADAMW};
    for (size_t o = 0; o < ARRAY_LEN(optimizers); o++) {
        test_set_param(m, AE_PARAM_OPTIMIZER, optimizers[o]);
        /* clipping would scale a non-finite gradient into NaNs: it must not get that far */
        test_set_param(m, AE_PARAM_CLIP_NORM, o == 0 ? 0.0 : 1.0);
        double loss = NAN;
        assert_int_equal(ae_model_train_batch(m, zeros, BATCH, IN, &loss), AE_ERR_DIVERGED);
        assert_true(isfinite(loss)); /* the loss before the step, which was finite */
        assert_true(strlen(ae_model_last_error(m)) > 0);
        assert_true(strlen(ae_last_error()) > 0);
        assert_true(test_params_equal_to(m, before));
    }
    /* still usable: a step on rows with a finite gradient goes through */
    float near[BATCH * IN];
    rows_near_the_output(m, near);
    assert_gradient_finiteness(m, near, BATCH, 1);
    assert_int_equal(ae_model_train_batch(m, near, BATCH, IN, NULL), AE_OK);
    float *after = test_params_of(m);
    assert_true(all_finite(after, ae_model_param_count(m)));
    assert_false(test_params_equal_to(m, before));
    free(after);
    free(before);
    ae_model_free(m);
}

static void test_fit_stops_at_a_non_finite_gradient_and_restores_the_epochs_starting_weights(void **state)
{
    (void)state;
    ae_model *m = make_overflowing_gradient_model();
    /* batch 1: rows near the output (a finite step that moves the weights);
     * batch 2: zeros (finite loss, non-finite gradient) */
    float x[2 * BATCH * IN] = {0};
    rows_near_the_output(m, x);
    assert_gradient_finiteness(m, x, BATCH, 1);
    assert_gradient_finiteness(m, x + BATCH * IN, BATCH, 0);

    /* what the first step alone would leave */
    ae_model *one_step = test_clone_model(m);
    assert_int_equal(ae_model_train_batch(one_step, x, BATCH, IN, NULL), AE_OK);
    assert_false(test_same_params(one_step, m));

    float *start = test_params_of(m);
    ae_fit_report r = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, x, 2 * BATCH, IN, &r), AE_ERR_DIVERGED);
    assert_int_equal(r.stop_reason, AE_STOP_DIVERGED);
    assert_int_equal(r.epochs_run, 0);
    assert_int_equal(r.steps_run, 1);
    assert_true(isnan(r.final_train_loss));
    assert_true(strstr(ae_model_last_error(m), "diverged") != NULL);
    /* the last finite weights: those at the start of the epoch, not after step 1 */
    assert_true(test_params_equal_to(m, start));
    assert_false(test_same_params(m, one_step));

    /* still usable: the finite step goes through and gives what it gave before */
    assert_int_equal(ae_model_train_batch(m, x, BATCH, IN, NULL), AE_OK);
    assert_true(test_same_params(m, one_step));
    free(start);
    ae_model_free(one_step);
    ae_model_free(m);
}

/* ------------------------------------------------------------------------------------ */
/* A validation loss that overflows                                                      */
/* ------------------------------------------------------------------------------------ */

static void test_fit_stops_when_the_validation_loss_overflows_naming_the_row_and_keeps_the_epoch(void **state)
{
    (void)state;
    /* A linear net with all weights 1: training rows in [0, 1] train normally, while a
     * validation row of 3e38 (finite, so accepted) overflows the first layer. */
    static const size_t widths[] = {IN, LATENT};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_activations(m, AE_ACT_LINEAR, AE_ACT_LINEAR, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 1e-3);
    test_set_epochs_and_batch(m, 4, BATCH);
    size_t n = ae_model_param_count(m);
    float *ones = malloc(n * sizeof *ones);
    assert_non_null(ones);
    for (size_t i = 0; i < n; i++)
        ones[i] = 1.0f;
    assert_int_equal(ae_model_set_params(m, ones, n), AE_OK);

    test_rng rng;
    test_rng_seed(&rng, 8);
    float *x = test_random_matrix(&rng, 3 * BATCH, IN, IN, 0.0f, 1.0f);
    assert_non_null(x);
    float x_val[IN] = {3e38f, 3e38f, 3e38f, 3e38f};
    double val_loss = 0;
    /* the premise: the validation row's loss overflows */
    assert_int_equal(ae_model_loss(m, x_val, 1, IN, &val_loss), AE_ERR_NON_FINITE_RESULT);

    ae_fit_report r = test_new_fit_report();
    /* The validation data's fault, not a divergence: the row is named and the epoch, which
     * trained well, is kept. */
    assert_int_equal(ae_model_fit_validated(m, x, 3 * BATCH, IN, x_val, 1, IN, &r), AE_ERR_NON_FINITE_RESULT);
    assert_int_equal(r.stop_reason, AE_STOP_FAILED);
    assert_int_equal(r.epochs_run, 1);
    assert_int_equal(r.steps_run, 3);
    assert_non_null(strstr(ae_model_last_error(m), "validation row 0 "));
    assert_false(test_params_equal_to(m, ones));
    /* usable */
    double loss = NAN;
    assert_int_equal(ae_model_loss(m, x, 3 * BATCH, IN, &loss), AE_OK);
    assert_true(isfinite(loss));
    assert_int_equal(ae_model_fit(m, x, 3 * BATCH, IN, NULL), AE_OK);
    free(x);
    free(ones);
    ae_model_free(m);
}

/* ------------------------------------------------------------------------------------ */
/* NaN and Inf in the data of loss and score                                             */
/* ------------------------------------------------------------------------------------ */

/* Whether @p msg holds "<word> <value>", e.g. "row 12". */
static int names_number(const char *msg, const char *word, size_t value)
{
    char needle[64];
    snprintf(needle, sizeof needle, "%s %zu", word, value);
    for (const char *p = strstr(msg, needle); p; p = strstr(p + 1, needle)) {
        char next = p[strlen(needle)];
        if (next < '0' || next > '9')
            return 1;
    }
    return 0;
}

static void test_loss_and_score_refuse_non_finite_input_naming_row_and_column(void **state)
{
    (void)state;
    enum { ROWS = 9, WIDE = 6 };
    static const size_t widths[] = {WIDE, 3};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_rng rng;
    test_rng_seed(&rng, 3);
    const size_t ld = WIDE + 2; /* padding: the message counts columns of the row */
    float *x = test_random_matrix(&rng, ROWS, WIDE, ld, 0.0f, 1.0f);
    assert_non_null(x);
    static const size_t cells[][2] = {{0, 0}, {4, 2}, {ROWS - 1, WIDE - 1}, {7, 0}};
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const char *model_message = ae_model_last_error(m);
    char before[256];
    snprintf(before, sizeof before, "%s", model_message);
    for (size_t c = 0; c < ARRAY_LEN(cells); c++)
        for (size_t v = 0; v < ARRAY_LEN(bad); v++) {
            size_t row = cells[c][0], col = cells[c][1];
            float kept = x[row * ld + col];
            x[row * ld + col] = bad[v];
            for (int call = 0; call < 2; call++) {
                double loss = 0.0;
                float scores[ROWS];
                for (size_t i = 0; i < ROWS; i++)
                    scores[i] = -1.0f;
                int rc = call == 0 ? ae_model_loss(m, x, ROWS, ld, &loss)
                                   : ae_model_score(m, x, ROWS, ld, scores);
                assert_int_equal(rc, AE_ERR_NON_FINITE_INPUT);
                const char *msg = ae_last_error();
                if (!names_number(msg, "row", row) || !names_number(msg, "column", col))
                    fail_msg("%s: \"%s\" should name row %zu, column %zu", call ? "score" : "loss",
                             msg, row, col);
                /* a const call leaves the model's own message alone */
                assert_string_equal(ae_model_last_error(m), before);
            }
            x[row * ld + col] = kept;
        }
    double loss = NAN;
    assert_int_equal(ae_model_loss(m, x, ROWS, ld, &loss), AE_OK);
    assert_true(isfinite(loss));
    free(x);
    ae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_batch_with_a_finite_loss_but_a_non_finite_gradient_returns_diverged),
        cmocka_unit_test(test_fit_stops_at_a_non_finite_gradient_and_restores_the_epochs_starting_weights),
        cmocka_unit_test(test_fit_stops_when_the_validation_loss_overflows_naming_the_row_and_keeps_the_epoch),
        cmocka_unit_test(test_loss_and_score_refuse_non_finite_input_naming_row_and_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
