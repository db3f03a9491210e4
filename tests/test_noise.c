/* The distributions of the training noise (denoising's corruption and input dropout),
 * observed through the public API on identity networks: two linear layers with W = I and
 * b = 0, MSE, plain SGD, so the output is the corrupted input and the error against the
 * clean target is the noise itself.
 *
 * Two views of it: the loss of a step is the mean squared noise over every value of a
 * large batch (thousands of rows, so the noise of far-out elements is seen too); and a
 * one-row step with learning rate d / 2 moves the output bias by exactly minus the noise
 * of that row (d(loss)/d(b) = 2 (y - x) / d), which gives each value to test its shape.
 * Every bound is 5 standard deviations (or more where noted) of the statistic for a correct
 * distribution, so a correct implementation fails for fewer than one seed in a million
 * per check. */
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
#include "test_models.h"

/* Width of the one-row probes, and of the large batches (odd, so rows end mid-pair). */
enum { PROBE_DIM = 256, PROBE_STEPS = 400, WIDE_DIM = 251, WIDE_ROWS = 2048 };

static void set_identity(ae_model *m, size_t dim)
{
    float *w = calloc(dim * dim, sizeof *w), *b = calloc(dim, sizeof *b);
    assert_non_null(w);
    assert_non_null(b);
    for (size_t i = 0; i < dim; i++)
        w[i * dim + i] = 1.0f;
    for (size_t l = 0; l < ae_model_layer_count(m); l++) {
        assert_int_equal(ae_model_set_weights(m, l, w, dim * dim), AE_OK);
        assert_int_equal(ae_model_set_bias(m, l, b, dim), AE_OK);
    }
    free(w);
    free(b);
}

static ae_model *identity_model(size_t dim, int noise, double level)
{
    const size_t widths[] = {dim, dim};
    ae_model *m = test_create_model(widths, 2, NULL, 0);
    test_set_activations(m, AE_ACT_LINEAR, AE_ACT_LINEAR, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(m, AE_PARAM_LEARNING_RATE, (double)dim / 2);
    test_set_param(m, AE_PARAM_NOISE, noise);
    test_set_param(m, AE_PARAM_NOISE_LEVEL, level);
    test_set_param(m, AE_PARAM_SEED, 31);
    assert_int_equal(ae_model_layer_count(m), 2);
    set_identity(m, dim);
    return m;
}

static float *constant_rows(size_t n_rows, size_t dim, float value)
{
    float *x = malloc(n_rows * dim * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n_rows * dim; i++)
        x[i] = value;
    return x;
}

/* The noise of `steps` one-row steps on the row x (PROBE_DIM values), the identity restored
 * before each: noise[s * PROBE_DIM + j] = corrupted - clean value j in step s. Each step's
 * loss must be the mean square of its noise (which proves the scale of the probe). */
static float *probe_noise(ae_model *m, const float *x, size_t steps)
{
    float *noise = malloc(steps * PROBE_DIM * sizeof *noise);
    assert_non_null(noise);
    const size_t out_layer = ae_model_layer_count(m) - 1;
    for (size_t s = 0; s < steps; s++) {
        set_identity(m, PROBE_DIM);
        double loss;
        assert_int_equal(ae_model_train_batch(m, x, 1, PROBE_DIM, &loss), AE_OK);
        float *row = noise + s * PROBE_DIM;
        assert_int_equal(ae_model_get_bias(m, out_layer, row, PROBE_DIM), AE_OK);
        double squares = 0.0;
        for (size_t j = 0; j < PROBE_DIM; j++) {
            row[j] = -row[j];
            squares += (double)row[j] * row[j];
        }
        assert_true(fabs(squares / PROBE_DIM - loss) <= 1e-5 * (loss + 1e-6));
    }
    return noise;
}

#define M_PI_VALUE 3.14159265358979323846

/* The standard normal distribution function and density. */
static double normal_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }
static double normal_pdf(double z) { return exp(-0.5 * z * z) / sqrt(2.0 * M_PI_VALUE); }

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Whether |value - expected| <= 5 sigma, printed either way. */
static int within(const char *what, double value, double expected, double sigma)
{
    const int ok = fabs(value - expected) <= 5 * sigma;
    (ok ? print_message : print_error)("%s: %.6f (expected %.6f +- 5 x %.6f)\n", what, value,
                                      expected, sigma);
    return ok;
}

/* Gaussian noise, one value at a time: mean 0, variance level^2, fourth moment 3 level^4,
 * and the Kolmogorov-Smirnov distance to N(0, level^2) small; neighbours in a row (the two
 * values of one Box-Muller pair, and values of consecutive pairs) and the same value in
 * consecutive steps uncorrelated. A uniform noise of the right variance has fourth moment
 * 1.8 and a KS distance of 0.05. */
static void test_gaussian_noise_is_normal_with_deviation_level(void **state)
{
    (void)state;
    const double level = 0.5;
    ae_model *m = identity_model(PROBE_DIM, AE_NOISE_GAUSSIAN, level);
    float *x = constant_rows(1, PROBE_DIM, 0.5f);
    float *noise = probe_noise(m, x, PROBE_STEPS);
    const size_t n = (size_t)PROBE_STEPS * PROBE_DIM;
    double *z = malloc(n * sizeof *z);
    assert_non_null(z);
    double sum = 0, sum2 = 0, sum4 = 0;
    for (size_t i = 0; i < n; i++) {
        z[i] = noise[i] / level;
        sum += z[i];
        sum2 += z[i] * z[i];
        sum4 += z[i] * z[i] * z[i] * z[i];
    }
    double pair = 0, next_pair = 0, next_step = 0;
    size_t n_pair = 0, n_next_pair = 0, n_next_step = 0;
    for (size_t s = 0; s < PROBE_STEPS; s++)
        for (size_t j = 0; j + 1 < PROBE_DIM; j++) {
            const double product = z[s * PROBE_DIM + j] * z[s * PROBE_DIM + j + 1];
            if (j % 2 == 0)
                pair += product, n_pair++;
            else
                next_pair += product, n_next_pair++;
        }
    for (size_t i = 0; i + PROBE_DIM < n; i++)
        next_step += z[i] * z[i + PROBE_DIM], n_next_step++;
    const double dn = (double)n;
    assert_true(within("mean of z", sum / dn, 0.0, 1.0 / sqrt(dn)));
    assert_true(within("mean of z^2", sum2 / dn, 1.0, sqrt(2.0 / dn)));
    assert_true(within("mean of z^4", sum4 / dn, 3.0, sqrt(96.0 / dn))); /* E z^8 - 9 = 96 */
    assert_true(within("pair correlation", pair / (double)n_pair, 0.0, 1.0 / sqrt((double)n_pair)));
    assert_true(within("next pair correlation", next_pair / (double)n_next_pair, 0.0,
                       1.0 / sqrt((double)n_next_pair)));
    assert_true(within("next step correlation", next_step / (double)n_next_step, 0.0,
                       1.0 / sqrt((double)n_next_step)));
    /* KS: P(sqrt(n) D > t) ~ 2 exp(-2 t^2), 1e-6 at t = 2.69. */
    qsort(z, n, sizeof *z, compare_doubles);
    double distance = 0;
    for (size_t i = 0; i < n; i++) {
        const double f = normal_cdf(z[i]);
        distance = fmax(distance, fmax((double)(i + 1) / dn - f, f - (double)i / dn));
    }
    print_message("KS distance %.5f (bound %.5f), extremes %.3f %.3f\n", distance, 2.69 / sqrt(dn),
                  z[0], z[n - 1]);
    assert_true(distance <= 2.69 / sqrt(dn));
    /* the tails are cut at sqrt(48 ln 2) = 5.77 deviations, no further */
    assert_true(z[0] >= -5.8 && z[n - 1] <= 5.8);
    free(z);
    free(noise);
    free(x);
    ae_model_free(m);
}

/* Counts of the probe's values: each must be one of the n_kinds expected values. */
static void count_kinds(const float *noise, size_t n, const double *values, size_t n_kinds,
                        size_t *counts)
{
    memset(counts, 0, n_kinds * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < n_kinds && fabs(noise[i] - values[k]) > 1e-6)
            k++;
        if (k == n_kinds)
            print_error("value %zu: noise %.9g is none of the expected values\n", i, noise[i]);
        assert_true(k < n_kinds);
        counts[k]++;
    }
}

/* Masking p: a share p of the values is 0 (noise -x), the others untouched; p = 1 masks
 * every value. */
static void test_masking_zeroes_a_share_level_of_the_values(void **state)
{
    (void)state;
    static const double levels[] = {0.3, 0.05, 1.0};
    float *x = constant_rows(1, PROBE_DIM, 0.5f);
    for (size_t k = 0; k < sizeof levels / sizeof *levels; k++) {
        const double p = levels[k];
        ae_model *m = identity_model(PROBE_DIM, AE_NOISE_MASKING, p);
        float *noise = probe_noise(m, x, PROBE_STEPS);
        const size_t n = (size_t)PROBE_STEPS * PROBE_DIM;
        static const double values[] = {-0.5, 0.0};
        size_t counts[2];
        count_kinds(noise, n, values, 2, counts);
        char what[64];
        snprintf(what, sizeof what, "masked share at level %g", p);
        assert_true(within(what, (double)counts[0] / (double)n, p, sqrt(p * (1 - p) / (double)n)));
        if (p == 1.0)
            assert_int_equal(counts[0], n);
        free(noise);
        ae_model_free(m);
    }
    free(x);
}

/* Salt and pepper p: a share p/2 of the values becomes 1, another p/2 becomes 0. */
static void test_salt_and_pepper_sets_a_share_level_to_zero_or_one_equally(void **state)
{
    (void)state;
    static const double levels[] = {0.4, 1.0};
    float *x = constant_rows(1, PROBE_DIM, 0.25f);
    for (size_t k = 0; k < sizeof levels / sizeof *levels; k++) {
        const double p = levels[k];
        ae_model *m = identity_model(PROBE_DIM, AE_NOISE_SALT_AND_PEPPER, p);
        float *noise = probe_noise(m, x, PROBE_STEPS);
        const size_t n = (size_t)PROBE_STEPS * PROBE_DIM;
        static const double values[] = {0.75, -0.25, 0.0}; /* salt, pepper, untouched */
        size_t counts[3];
        count_kinds(noise, n, values, 3, counts);
        const double dn = (double)n, half = p / 2;
        char what[64];
        snprintf(what, sizeof what, "salt share at level %g", p);
        assert_true(within(what, (double)counts[0] / dn, half, sqrt(half * (1 - half) / dn)));
        snprintf(what, sizeof what, "pepper share at level %g", p);
        assert_true(within(what, (double)counts[1] / dn, half, sqrt(half * (1 - half) / dn)));
        if (p == 1.0)
            assert_int_equal(counts[2], 0);
        free(noise);
        ae_model_free(m);
    }
    free(x);
}

/* Input dropout p: a share 1 - p of the values survives, scaled by 1 / (1 - p). */
static void test_input_dropout_keeps_a_share_one_minus_p_scaled(void **state)
{
    (void)state;
    const double p = 0.3;
    ae_model *m = identity_model(PROBE_DIM, AE_NOISE_NONE, 0.1);
    test_set_param(m, AE_PARAM_DROPOUT_INPUT, p);
    float *x = constant_rows(1, PROBE_DIM, 0.5f);
    float *noise = probe_noise(m, x, PROBE_STEPS);
    const size_t n = (size_t)PROBE_STEPS * PROBE_DIM;
    const double values[] = {(double)(0.5f / (float)(1 - p)) - 0.5, -0.5}; /* kept, dropped */
    size_t counts[2];
    count_kinds(noise, n, values, 2, counts);
    assert_true(within("kept share", (double)counts[0] / (double)n, 1 - p,
                       sqrt(p * (1 - p) / (double)n)));
    free(noise);
    free(x);
    ae_model_free(m);
}

/* The noise is a function of the seed: two models with one seed draw the same values step
 * after step, another seed draws others, and no two steps draw the same. */
static void test_noise_is_the_same_for_a_seed_and_new_at_each_step(void **state)
{
    (void)state;
    static const int kinds[] = {AE_NOISE_GAUSSIAN, AE_NOISE_MASKING, AE_NOISE_SALT_AND_PEPPER,
                                AE_NOISE_NONE /* input dropout */};
    float *x = constant_rows(1, PROBE_DIM, 0.5f);
    const size_t steps = 3, size = steps * PROBE_DIM * sizeof(float);
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        ae_model *a = identity_model(PROBE_DIM, kinds[k], 0.3);
        ae_model *b = identity_model(PROBE_DIM, kinds[k], 0.3);
        ae_model *c = identity_model(PROBE_DIM, kinds[k], 0.3);
        test_set_param(c, AE_PARAM_SEED, 32);
        set_identity(c, PROBE_DIM);
        if (kinds[k] == AE_NOISE_NONE)
            for (ae_model **each = (ae_model *[]){a, b, c, NULL}; *each; each++)
                test_set_param(*each, AE_PARAM_DROPOUT_INPUT, 0.3);
        float *na = probe_noise(a, x, steps), *nb = probe_noise(b, x, steps);
        float *nc = probe_noise(c, x, steps);
        assert_memory_equal(na, nb, size);
        assert_true(memcmp(na, nc, size) != 0);
        for (size_t s = 0; s + 1 < steps; s++)
            assert_true(memcmp(na + s * PROBE_DIM, na + (s + 1) * PROBE_DIM,
                               PROBE_DIM * sizeof *na) != 0);
        free(na), free(nb), free(nc);
        ae_model_free(a), ae_model_free(b), ae_model_free(c);
    }
    free(x);
}

/* The loss of one step on a large batch of constant rows c (WIDE_ROWS x WIDE_DIM values,
 * rows of odd width) is the mean squared noise over all of them. */
static double wide_step_loss(int noise, double level, int output_activation, float c)
{
    ae_model *m = identity_model(WIDE_DIM, noise, level);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, output_activation);
    float *x = constant_rows(WIDE_ROWS, WIDE_DIM, c);
    double loss;
    assert_int_equal(ae_model_train_batch(m, x, WIDE_ROWS, WIDE_DIM, &loss), AE_OK);
    free(x);
    ae_model_free(m);
    return loss;
}

/* Over half a million values: the mean square of Gaussian noise is level^2 (deviation of
 * the mean level^2 sqrt(2 / N)); through a ReLU output on rows of level * a the error is
 * the noise cut at -a level, whose mean square 1 - Phi(-a) - a phi(a) + a^2 Phi(-a) (times
 * level^2) depends on the shape: 0.5 at a = 0 (symmetry), 0.758 at a = 1, where a uniform
 * noise of the right variance gives 0.808 (the error is at most the noise, so the
 * deviation of the mean is at most level^2 sqrt(3 / N)); masking's is p x^2, salt and
 * pepper's p ((1 - x)^2 + x^2) / 2. */
static void test_mean_squared_noise_over_a_large_batch(void **state)
{
    (void)state;
    const double level = 0.5, v = level * level, n = (double)WIDE_ROWS * WIDE_DIM;
    assert_true(within("gaussian mean square",
                       wide_step_loss(AE_NOISE_GAUSSIAN, level, AE_ACT_LINEAR, 0.5f), v,
                       v * sqrt(2.0 / n)));
    for (int a = 0; a <= 1; a++) {
        const double expected = 1 - normal_cdf(-a) - a * normal_pdf(a) + a * a * normal_cdf(-a);
        char what[64];
        snprintf(what, sizeof what, "gaussian through ReLU at a = %d", a);
        const double loss =
            wide_step_loss(AE_NOISE_GAUSSIAN, level, AE_ACT_RELU, (float)(a * level));
        assert_true(within(what, loss, v * expected, v * sqrt(3.0 / n)));
    }
    const double p = 0.3, c = 0.5;
    /* per value c^2 with probability p: deviation c^2 sqrt(p (1 - p) / N) */
    assert_true(within("masking mean square",
                       wide_step_loss(AE_NOISE_MASKING, p, AE_ACT_LINEAR, (float)c), p * c * c,
                       c * c * sqrt(p * (1 - p) / n)));
    const double q = 0.4, s = 0.25, salt = (1 - s) * (1 - s), pepper = s * s;
    const double mean = q * (salt + pepper) / 2;
    const double second = q * (salt * salt + pepper * pepper) / 2;
    assert_true(within("salt and pepper mean square",
                       wide_step_loss(AE_NOISE_SALT_AND_PEPPER, q, AE_ACT_LINEAR, (float)s), mean,
                       sqrt((second - mean * mean) / n)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gaussian_noise_is_normal_with_deviation_level),
        cmocka_unit_test(test_masking_zeroes_a_share_level_of_the_values),
        cmocka_unit_test(test_salt_and_pepper_sets_a_share_level_to_zero_or_one_equally),
        cmocka_unit_test(test_input_dropout_keeps_a_share_one_minus_p_scaled),
        cmocka_unit_test(test_noise_is_the_same_for_a_seed_and_new_at_each_step),
        cmocka_unit_test(test_mean_squared_noise_over_a_large_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
