/* Training converges: a linear autoencoder recovers exactly low-rank data, and a small
 * nonlinear autoencoder learns Fashion-MNIST well beyond predicting the mean image. */
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
#include "fashion_mnist.h"
#include "test_data.h"
#include "test_models.h"

/* Mean over columns of each column's variance: the MSE of predicting the column means. */
static double total_variance(const float *x, size_t rows, size_t cols)
{
    double sum = 0;
    for (size_t j = 0; j < cols; j++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < rows; i++)
            mean += x[i * cols + j];
        mean /= (double)rows;
        for (size_t i = 0; i < rows; i++) {
            double d = x[i * cols + j] - mean;
            var += d * d;
        }
        sum += var / (double)rows;
    }
    return sum / (double)cols;
}

/* ------------------------------------------------------------- linear, rank k */

#define LR_ROWS 512
#define LR_COLS 20
#define LR_RANK 4

static void check_linear_recovers_low_rank(const size_t *widths, size_t n_widths, uint64_t epochs, double lr)
{
    test_rng rng;
    test_rng_seed(&rng, 2024);
    float *x = test_low_rank_matrix(&rng, LR_ROWS, LR_COLS, LR_RANK);
    assert_non_null(x);
    ae_model *m = test_create_model(widths, n_widths, NULL, 0);
    test_set_activations(m, AE_ACT_LINEAR, AE_ACT_LINEAR, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_MSE);
    test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_ADAM);
    test_set_param(m, AE_PARAM_LEARNING_RATE, lr);
    test_set_param(m, AE_PARAM_BATCH_SIZE, 32);
    test_set_param(m, AE_PARAM_EPOCHS, (double)epochs);
    test_set_param(m, AE_PARAM_SEED, 5);

    double variance = total_variance(x, LR_ROWS, LR_COLS);
    double before = NAN, after = NAN;
    assert_int_equal(ae_model_loss(m, x, LR_ROWS, LR_COLS, &before), AE_OK);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, x, LR_ROWS, LR_COLS, &report), AE_OK);
    assert_int_equal(ae_model_loss(m, x, LR_ROWS, LR_COLS, &after), AE_OK);
    print_message("linear %zu-...-%zu: variance %.4g, loss %.4g -> %.4g (%.3g of the variance), %.2f s\n",
                  widths[0], widths[n_widths - 1], variance, before, after, after / variance, report.seconds);
    /* a rank-4 linear map reproduces rank-4 data exactly: the error is only rounding */
    assert_true(after < 1e-4 * variance);
    free(x);
    ae_model_free(m);
}

static void test_linear_autoencoder_recovers_exactly_low_rank_data(void **state)
{
    (void)state;
    const size_t widths[] = {LR_COLS, LR_RANK};
    check_linear_recovers_low_rank(widths, 2, 150, 1e-2);
}

static void test_deep_linear_autoencoder_recovers_exactly_low_rank_data(void **state)
{
    (void)state;
    const size_t widths[] = {LR_COLS, 12, LR_RANK};
    check_linear_recovers_low_rank(widths, 3, 150, 1e-2);
}

/* ------------------------------------------------------------ Fashion-MNIST */

#define FM_TRAIN 2000
#define FM_TEST 1000

static void load_or_fail(fashion_mnist_split split, size_t rows, fashion_mnist *out)
{
    char err[512] = "";
    if (fashion_mnist_load(NULL, split, rows, out, err, sizeof err) != 0)
        fail_msg("Fashion-MNIST is required and could not be loaded: %s. Install Debian's "
                 "dataset-fashion-mnist (files under " FASHION_MNIST_DEFAULT_DIR ") or set "
                 "FASHION_MNIST_DIR; this test fails rather than skips.",
                 err[0] ? err : "(no message)");
    assert_int_equal(out->n_rows, rows);
    assert_int_equal(out->n_cols, 784);
}

static void test_nonlinear_autoencoder_learns_fashion_mnist(void **state)
{
    (void)state;
    fashion_mnist train, test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    load_or_fail(FASHION_MNIST_TRAIN, FM_TRAIN, &train);
    load_or_fail(FASHION_MNIST_TEST, FM_TEST, &test);
    const size_t d = 784;

    /* baseline: predict every test image by the per-pixel training mean */
    double *mean = calloc(d, sizeof *mean);
    assert_non_null(mean);
    for (size_t i = 0; i < FM_TRAIN; i++)
        for (size_t j = 0; j < d; j++)
            mean[j] += train.pixels[i * d + j];
    for (size_t j = 0; j < d; j++)
        mean[j] /= FM_TRAIN;
    double baseline = 0;
    for (size_t i = 0; i < FM_TEST; i++)
        for (size_t j = 0; j < d; j++) {
            double e = test.pixels[i * d + j] - mean[j];
            baseline += e * e;
        }
    baseline /= (double)(FM_TEST * d);

    const size_t widths[] = {784, 128, 32};
    ae_model *m = test_create_model(widths, 3, NULL, 0);
    test_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_RELU);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 3e-3);
    test_set_param(m, AE_PARAM_BATCH_SIZE, 64);
    test_set_param(m, AE_PARAM_EPOCHS, 10);
    test_set_param(m, AE_PARAM_SEED, 1);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, train.pixels, FM_TRAIN, d, &report), AE_OK);

    float *y = malloc(FM_TEST * d * sizeof *y);
    assert_non_null(y);
    assert_int_equal(ae_model_reconstruct(m, test.pixels, FM_TEST, d, y, d), AE_OK);
    double mse = 0;
    for (size_t i = 0; i < FM_TEST * d; i++) {
        double e = (double)y[i] - (double)test.pixels[i];
        mse += e * e;
    }
    mse /= (double)(FM_TEST * d);
    print_message("fashion-mnist 784-128-32: test MSE %.5f vs mean-image MSE %.5f (ratio %.3f), "
                  "train BCE %.4f, %.2f s, %.0f samples/s\n",
                  mse, baseline, mse / baseline, report.final_train_loss, report.seconds,
                  report.samples_per_second);
    assert_true(baseline > 0.01); /* sanity: the images are not blank */
    assert_true(mse < 0.5 * baseline);
    free(y);
    free(mean);
    ae_model_free(m);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_autoencoder_recovers_exactly_low_rank_data),
        cmocka_unit_test(test_deep_linear_autoencoder_recovers_exactly_low_rank_data),
        cmocka_unit_test(test_nonlinear_autoencoder_learns_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
