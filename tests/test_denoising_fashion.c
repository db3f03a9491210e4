/* Denoising, the use: on Fashion-MNIST a denoising model cleans corrupted images better
 * than a plain model of the same shape trained the same way. Kept apart from the unit
 * suite because it trains on real data (too slow for valgrind and TSan in CI). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "autoenc.h"
#include "test_fashion.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { FM_TRAIN = 3000, FM_TEST = 500 };

static double mse(const float *a, const float *b, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sum / (double)n;
}

static ae_model *fashion_model(int noise, double level)
{
    static const size_t widths[] = {784, 256, 64};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    test_set_epochs_and_batch(m, 8, 64);
    test_set_param(m, AE_PARAM_NOISE, noise);
    test_set_param(m, AE_PARAM_NOISE_LEVEL, level);
    return m;
}

static void test_denoising_model_cleans_corrupted_images_better_than_a_plain_model(void **state)
{
    (void)state;
    fashion_mnist train = {0}, test = {0};
    test_load_fashion(FM_TRAIN, FM_TEST, &train, &test);

    /* Held-out images with half their pixels masked, the corruption trained against. */
    size_t n = FM_TEST * 784;
    float *corrupted = malloc(n * sizeof *corrupted), *out = malloc(n * sizeof *out);
    assert_non_null(corrupted);
    assert_non_null(out);
    test_rng rng;
    test_rng_seed(&rng, 3);
    for (size_t i = 0; i < n; i++)
        corrupted[i] = test_rng_uniform(&rng) < 0.5 ? 0.0f : test.pixels[i];

    double error[2];
    for (int denoise = 0; denoise < 2; denoise++) {
        ae_model *m = fashion_model(denoise ? AE_NOISE_MASKING : AE_NOISE_NONE, 0.5);
        assert_int_equal(ae_model_fit(m, train.pixels, FM_TRAIN, 784, NULL), AE_OK);
        assert_int_equal(ae_model_reconstruct(m, corrupted, FM_TEST, 784, out, 784), AE_OK);
        error[denoise] = mse(out, test.pixels, n);
        ae_model_free(m);
    }
    printf("      MSE to the clean test images from half-masked ones: plain %.4f, "
           "denoising %.4f (input itself %.4f)\n",
           error[0], error[1], mse(corrupted, test.pixels, n));
    /* A clear margin, not a coin flip: the denoising model removes at least a quarter of
     * the error the plain model leaves. */
    assert_true(error[1] < 0.75 * error[0]);
    free(corrupted);
    free(out);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_denoising_model_cleans_corrupted_images_better_than_a_plain_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
