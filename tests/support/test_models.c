#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "test_models.h"
#include "test_data.h"

#include <math.h>

ae_model *test_create_model(const size_t *encoder, size_t n_encoder, const size_t *decoder,
                            size_t n_decoder)
{
    ae_model *m = NULL;
    int rc = ae_model_create(&m, encoder, n_encoder, decoder, n_decoder);
    if (rc != AE_OK)
        print_error("ae_model_create: %s\n", ae_last_error());
    assert_int_equal(rc, AE_OK);
    assert_non_null(m);
    return m;
}

ae_model *test_clone_model(const ae_model *model)
{
    ae_model *copy = NULL;
    assert_int_equal(ae_model_clone(model, &copy), AE_OK);
    assert_non_null(copy);
    return copy;
}

void test_set_param(ae_model *model, ae_param param, double value)
{
    int rc = ae_model_set_param(model, param, value);
    if (rc != AE_OK)
        print_error("set_param(%d, %g): %s\n", (int)param, value, ae_model_last_error(model));
    assert_int_equal(rc, AE_OK);
}

void test_set_activations(ae_model *model, int hidden, int latent, int output)
{
    test_set_param(model, AE_PARAM_HIDDEN_ACTIVATION, hidden);
    test_set_param(model, AE_PARAM_LATENT_ACTIVATION, latent);
    test_set_param(model, AE_PARAM_OUTPUT_ACTIVATION, output);
}

void test_set_epochs_and_batch(ae_model *model, double epochs, double batch_size)
{
    test_set_param(model, AE_PARAM_EPOCHS, epochs);
    test_set_param(model, AE_PARAM_BATCH_SIZE, batch_size);
}

float *test_params_of(const ae_model *model)
{
    size_t n = ae_model_param_count(model);
    assert_true(n > 0);
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    assert_int_equal(ae_model_get_params(model, p, n), AE_OK);
    return p;
}

int test_same_params(const ae_model *a, const ae_model *b)
{
    size_t n = ae_model_param_count(a);
    assert_int_equal(n, ae_model_param_count(b));
    float *pa = test_params_of(a), *pb = test_params_of(b);
    int same = memcmp(pa, pb, n * sizeof *pa) == 0;
    free(pa);
    free(pb);
    return same;
}

int test_params_equal_to(const ae_model *model, const float *expected)
{
    float *p = test_params_of(model);
    int same = memcmp(p, expected, ae_model_param_count(model) * sizeof *p) == 0;
    free(p);
    return same;
}

ae_fit_report test_new_fit_report(void)
{
    ae_fit_report r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    return r;
}

float *test_set_spread_params(ae_model *model, test_rng *rng, double output_bias)
{
    size_t n_params = ae_model_param_count(model), n_layers = ae_model_layer_count(model);
    size_t with_weights = (ae_model_architecture(model) & AE_ARCH_TIED_WEIGHTS)
                              ? ae_model_encoder_layer_count(model)
                              : n_layers;
    float *params = malloc(n_params * sizeof *params);
    assert_non_null(params);
    size_t offset = 0;
    for (size_t l = 0; l < with_weights; l++) {
        size_t n_out, n_in;
        assert_int_equal(ae_model_layer_info(model, l, &n_out, &n_in, NULL), AE_OK);
        double deviation = 1.3 / sqrt((double)n_in);
        for (size_t i = 0; i < n_out * n_in; i++)
            params[offset++] = (float)(deviation * test_rng_normal(rng));
    }
    for (size_t l = 0; l < n_layers; l++) {
        size_t n_out;
        assert_int_equal(ae_model_layer_info(model, l, &n_out, NULL, NULL), AE_OK);
        for (size_t i = 0; i < n_out; i++) {
            double magnitude = 0.1 + 0.4 * test_rng_uniform(rng);
            if (l == n_layers - 1 && output_bias != 0)
                magnitude = output_bias;
            params[offset++] = (float)(test_rng_uniform(rng) < 0.5 ? -magnitude : magnitude);
        }
    }
    assert_int_equal(offset, n_params);
    assert_int_equal(ae_model_set_params(model, params, n_params), AE_OK);
    return params;
}

float *test_loss_data(test_rng *rng, int loss, size_t n_rows, size_t dim, size_t ld)
{
    float *x = test_random_matrix(rng, n_rows, dim, ld, loss == AE_LOSS_BCE ? 0.0f : -1.0f, 1.0f);
    assert_non_null(x);
    if (loss == AE_LOSS_BCE) {
        x[0] = 0.0f;
        x[1] = 1.0f;
    }
    return x;
}
