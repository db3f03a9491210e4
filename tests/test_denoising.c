/* Denoising: training inputs are corrupted on the fly while the loss compares with the
 * clean batch. The corruption is observed through what it does to training; the use
 * itself is proven on Fashion-MNIST in test_denoising_fashion.c. */
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
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const size_t SMALL[] = {6, 4, 2};
enum { SMALL_ROWS = 10 };

/* A small SGD model (no optimizer state, so a step shows the gradient directly). */
static ae_model *small_model(int noise, double level)
{
    ae_model *m = test_create_model(SMALL, ARRAY_LEN(SMALL), NULL, 0);
    test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 0.1);
    test_set_param(m, AE_PARAM_NOISE, noise);
    test_set_param(m, AE_PARAM_NOISE_LEVEL, level);
    return m;
}

static float *small_data(void)
{
    test_rng rng;
    test_rng_seed(&rng, 11);
    return test_random_matrix(&rng, SMALL_ROWS, SMALL[0], SMALL[0], 0.1f, 0.9f);
}

static void train_steps(ae_model *m, const float *x, int steps)
{
    for (int i = 0; i < steps; i++)
        assert_int_equal(ae_model_train_batch(m, x, SMALL_ROWS, SMALL[0], NULL), AE_OK);
}

static void test_zero_noise_trains_exactly_like_no_noise(void **state)
{
    (void)state;
    float *x = small_data();
    static const int kinds[] = {AE_NOISE_GAUSSIAN, AE_NOISE_MASKING, AE_NOISE_SALT_AND_PEPPER};
    ae_model *plain = small_model(AE_NOISE_NONE, 0.1);
    train_steps(plain, x, 3);
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        ae_model *m = small_model(kinds[k], 0.0);
        train_steps(m, x, 3);
        assert_true(test_same_params(plain, m));
        ae_model_free(m);
    }
    ae_model_free(plain);
    free(x);
}

/* A model whose hidden units pass gradient at 0 (tanh; a ReLU at 0 passes none). */
static ae_model *tanh_model(int noise, double level)
{
    ae_model *m = small_model(noise, level);
    test_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    return m;
}

/* With every input masked to 0, the first layer's weights get no gradient (dW = delta^T 0)
 * while its bias still learns: proof that the network saw the corrupted batch. */
static void test_full_masking_feeds_zeros_to_the_network(void **state)
{
    (void)state;
    float *x = small_data();
    ae_model *m = tanh_model(AE_NOISE_MASKING, 1.0);
    size_t n_w = SMALL[1] * SMALL[0];
    float before[4 * 6], after[4 * 6], bias_before[4], bias_after[4];
    assert_int_equal(ae_model_get_weights(m, 0, before, n_w), AE_OK);
    assert_int_equal(ae_model_get_bias(m, 0, bias_before, 4), AE_OK);
    train_steps(m, x, 2);
    assert_int_equal(ae_model_get_weights(m, 0, after, n_w), AE_OK);
    assert_int_equal(ae_model_get_bias(m, 0, bias_after, 4), AE_OK);
    assert_memory_equal(before, after, sizeof before);
    assert_true(memcmp(bias_before, bias_after, sizeof bias_before) != 0);
    /* Later layers still learn to reconstruct the clean targets. */
    float w1_before[6 * 4], w1_after[6 * 4];
    ae_model *fresh = tanh_model(AE_NOISE_MASKING, 1.0);
    size_t last = ae_model_layer_count(m) - 1;
    assert_int_equal(ae_model_get_weights(fresh, last, w1_before, 24), AE_OK);
    assert_int_equal(ae_model_get_weights(m, last, w1_after, 24), AE_OK);
    assert_true(memcmp(w1_before, w1_after, sizeof w1_before) != 0);
    ae_model_free(fresh);
    ae_model_free(m);
    free(x);
}

/* The loss a noisy step reports is against the clean targets and differs from the clean
 * loss (the network saw other inputs); each step draws new noise. */
static void test_each_step_draws_new_noise_and_reports_the_loss_against_clean_targets(void **state)
{
    (void)state;
    float *x = small_data();
    ae_model *m = small_model(AE_NOISE_GAUSSIAN, 0.5);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 1e-30); /* steps that leave the weights as they are */
    double clean, first, second;
    assert_int_equal(ae_model_loss(m, x, SMALL_ROWS, SMALL[0], &clean), AE_OK);
    assert_int_equal(ae_model_train_batch(m, x, SMALL_ROWS, SMALL[0], &first), AE_OK);
    assert_int_equal(ae_model_train_batch(m, x, SMALL_ROWS, SMALL[0], &second), AE_OK);
    assert_true(first != clean);
    assert_true(second != first);
    ae_model_free(m);
    free(x);
}

static void test_noisy_training_is_deterministic_for_a_seed(void **state)
{
    (void)state;
    float *x = small_data();
    static const int kinds[] = {AE_NOISE_GAUSSIAN, AE_NOISE_MASKING, AE_NOISE_SALT_AND_PEPPER};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        ae_model *a = small_model(kinds[k], 0.3), *b = small_model(kinds[k], 0.3);
        train_steps(a, x, 4);
        train_steps(b, x, 4);
        assert_true(test_same_params(a, b));
        ae_model *c = small_model(kinds[k], 0.3);
        test_set_param(c, AE_PARAM_SEED, 5);
        ae_model *d = small_model(kinds[k], 0.3);
        test_set_param(d, AE_PARAM_SEED, 5);
        assert_true(test_same_params(c, d));
        /* Same start, other generator state: other noise, other weights. */
        test_set_param(d, AE_PARAM_SEED, 6);
        float *start = test_params_of(c);
        assert_int_equal(ae_model_set_params(d, start, ae_model_param_count(c)), AE_OK);
        free(start);
        train_steps(c, x, 2);
        train_steps(d, x, 2);
        assert_false(test_same_params(c, d));
        ae_model_free(a), ae_model_free(b), ae_model_free(c), ae_model_free(d);
    }
    free(x);
}

/* A probability above 1 is refused when it is set, whichever of the two settings comes last,
 * and the model keeps its settings. */
static void test_probability_above_one_is_refused_for_masking_noise(void **state)
{
    (void)state;
    float *x = small_data();
    static const int kinds[] = {AE_NOISE_MASKING, AE_NOISE_SALT_AND_PEPPER};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        ae_model *m = small_model(kinds[k], 0.5);
        assert_int_equal(ae_model_set_param(m, AE_PARAM_NOISE_LEVEL, 1.5), AE_ERR_STATE);
        assert_non_null(strstr(ae_model_last_error(m), "conflicts with noise = "));
        double level;
        assert_int_equal(ae_model_get_param(m, AE_PARAM_NOISE_LEVEL, &level), AE_OK);
        assert_true(level == 0.5);
        ae_model_free(m);

        m = small_model(AE_NOISE_NONE, 1.5);
        assert_int_equal(ae_model_set_param(m, AE_PARAM_NOISE, kinds[k]), AE_ERR_STATE);
        assert_non_null(strstr(ae_model_last_error(m), "conflicts with noise_level = 1.5"));
        assert_int_equal(ae_model_train_batch(m, x, SMALL_ROWS, SMALL[0], NULL), AE_OK);
        ae_model_free(m);
    }
    /* Gaussian deviations may exceed 1. */
    ae_model *g = small_model(AE_NOISE_GAUSSIAN, 1.5);
    assert_int_equal(ae_model_train_batch(g, x, SMALL_ROWS, SMALL[0], NULL), AE_OK);
    ae_model_free(g);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_noise_trains_exactly_like_no_noise),
        cmocka_unit_test(test_full_masking_feeds_zeros_to_the_network),
        cmocka_unit_test(test_each_step_draws_new_noise_and_reports_the_loss_against_clean_targets),
        cmocka_unit_test(test_noisy_training_is_deterministic_for_a_seed),
        cmocka_unit_test(test_probability_above_one_is_refused_for_masking_noise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
