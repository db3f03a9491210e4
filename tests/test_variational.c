/* Variational models (AE_ARCH_VARIATIONAL): the deterministic objective and its gradient
 * against a double-precision reference written here (the encoder and decoder forward in
 * double, the KL divergence in double, central differences of the double objective); the
 * mean/log-variance split of the latent layer; sampling and interpolation; the KL weight,
 * its warm-up and the ELBO in the fit report; what a variational model refuses; and that
 * saving, cloning and exporting keep it. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, rmdir, unlink */

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
#include "grad_check.h"
#include "reference_net.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Tolerances: tests/support/grad_check.h (the reasoning there applies unchanged). */
#define KINK_MARGIN 1e-3

/* ---- a double-precision reference of a variational model ------------------------- */

#define REF_MAX_LAYERS 8
#define REF_MAX_WIDTH 16

typedef struct vref_layer {
    size_t n_out, n_in;
    int activation;
    size_t w_offset, b_offset; /* into vref.params, the flat layout of ae_model_get_params */
} vref_layer;

typedef struct vref {
    size_t n_layers, n_encoder_layers, latent, input_dim;
    int loss;
    double leaky_slope, elu_alpha, kl_weight;
    vref_layer layers[REF_MAX_LAYERS];
    size_t n_params;
    double *params;
} vref;

/* The terms of the objective of a batch, as the Training group of autoenc.h writes it. */
typedef struct vref_terms {
    double reconstruction; /* mean elementwise loss over n x input_dim, decoding the means */
    double kl_sum;         /* sum over rows of KL(N(mean, exp(logvar)) || N(0, I)) */
    double objective;      /* reconstruction + kl_weight * kl_sum / (n * input_dim) */
    double min_kink;       /* smallest |z| feeding relu, leaky relu or elu */
} vref_terms;

/* Architecture, settings and parameters of a variational model, read through the API.
 * The layout is the header's: every layer's W in layer order, then every bias. */
static void vref_from_model(vref *r, const ae_model *model)
{
    memset(r, 0, sizeof *r);
    r->n_layers = ae_model_layer_count(model);
    r->n_encoder_layers = ae_model_encoder_layer_count(model);
    r->latent = ae_model_latent_dim(model);
    r->input_dim = ae_model_input_dim(model);
    assert_true(r->n_layers <= REF_MAX_LAYERS);
    assert_true(ae_model_architecture(model) & AE_ARCH_VARIATIONAL);
    double value;
    assert_int_equal(ae_model_get_param(model, AE_PARAM_LOSS, &value), AE_OK);
    r->loss = (int)value;
    assert_int_equal(ae_model_get_param(model, AE_PARAM_LEAKY_SLOPE, &r->leaky_slope), AE_OK);
    assert_int_equal(ae_model_get_param(model, AE_PARAM_ELU_ALPHA, &r->elu_alpha), AE_OK);
    assert_int_equal(ae_model_get_param(model, AE_PARAM_KL_WEIGHT, &r->kl_weight), AE_OK);
    size_t n_weights = 0, n_biases = 0;
    for (size_t l = 0; l < r->n_layers; l++) {
        vref_layer *L = &r->layers[l];
        assert_int_equal(ae_model_layer_info(model, l, &L->n_out, &L->n_in, &L->activation), AE_OK);
        assert_true(L->n_out <= REF_MAX_WIDTH && L->n_in <= REF_MAX_WIDTH);
        L->w_offset = n_weights;
        n_weights += L->n_out * L->n_in;
        n_biases += L->n_out;
    }
    for (size_t l = 0, offset = n_weights; l < r->n_layers; l++) {
        r->layers[l].b_offset = offset;
        offset += r->layers[l].n_out;
    }
    r->n_params = n_weights + n_biases;
    assert_int_equal(r->n_params, ae_model_param_count(model));
    float *params = test_params_of(model);
    r->params = malloc(r->n_params * sizeof *r->params);
    assert_non_null(r->params);
    for (size_t i = 0; i < r->n_params; i++)
        r->params[i] = params[i];
    free(params);
}

static void vref_free(vref *r)
{
    free(r->params);
    r->params = NULL;
}

static double vref_activation(const vref *r, int activation, double z)
{
    return ref_activation_with(activation, z, r->leaky_slope, r->elu_alpha);
}

/* One output element's loss from its pre-activation z against target x. */
static double vref_element_loss(const vref *r, int activation, double z, double x)
{
    if (r->loss == AE_LOSS_BCE) /* from the logit: softplus(z) - x z */
        return fmax(z, 0.0) - x * z + log1p(exp(-fabs(z)));
    double y = vref_activation(r, activation, z);
    return (y - x) * (y - x);
}

/* The objective's terms for the rows of x (leading dimension ld), every row forward in
 * double; the decoder reads the mean half of the latent layer (eps = 0). */
static void vref_eval(const vref *r, const float *x, size_t n_rows, size_t ld, vref_terms *t)
{
    const size_t latent_layer = r->n_encoder_layers - 1, k = r->latent, last = r->n_layers - 1;
    double loss_sum = 0, kl_sum = 0, min_kink = INFINITY;
    for (size_t i = 0; i < n_rows; i++) {
        double in[REF_MAX_WIDTH], out[REF_MAX_WIDTH];
        for (size_t j = 0; j < r->input_dim; j++)
            in[j] = x[i * ld + j];
        for (size_t l = 0; l < r->n_layers; l++) {
            const vref_layer *L = &r->layers[l];
            const double *w = r->params + L->w_offset, *b = r->params + L->b_offset;
            for (size_t o = 0; o < L->n_out; o++) {
                double z = b[o];
                for (size_t j = 0; j < L->n_in; j++)
                    z += w[o * L->n_in + j] * in[j];
                if (ref_has_kink(L->activation))
                    min_kink = fmin(min_kink, fabs(z));
                if (l == last)
                    loss_sum += vref_element_loss(r, L->activation, z, x[i * ld + o]);
                else
                    out[o] = vref_activation(r, L->activation, z);
            }
            if (l == latent_layer) /* [mean | logvar]; the decoder reads the mean (eps = 0) */
                for (size_t j = 0; j < k; j++) {
                    double mean = out[j], log_var = out[k + j];
                    kl_sum += -0.5 * (1.0 + log_var - mean * mean - exp(log_var));
                }
            memcpy(in, out, sizeof in);
        }
    }
    const double n_elements = (double)n_rows * (double)r->input_dim;
    t->reconstruction = loss_sum / n_elements;
    t->kl_sum = kl_sum;
    t->objective = t->reconstruction + r->kl_weight * kl_sum / n_elements;
    t->min_kink = min_kink;
}

static double vref_objective(const vref *r, const float *x, size_t n_rows, size_t ld)
{
    vref_terms t;
    vref_eval(r, x, n_rows, ld, &t);
    return t.objective;
}

/* ---- model and data helpers ------------------------------------------------------ */

static ae_model *create_vae(const size_t *encoder, size_t n_encoder, const size_t *decoder,
                            size_t n_decoder)
{
    ae_model *model = NULL;
    int rc = ae_model_create_ex(&model, encoder, n_encoder, decoder, n_decoder, AE_ARCH_VARIATIONAL);
    if (rc != AE_OK)
        print_error("create_ex: %s\n", ae_last_error());
    assert_int_equal(rc, AE_OK);
    assert_non_null(model);
    return model;
}



static double rel_diff(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

static int same_floats(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

static float *alloc_floats(size_t n)
{
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    return p;
}

/* A small BCE model {12, 8, 3} with random params, and random data in [0, 1]. */
enum { SMALL_DIM = 12, SMALL_LATENT = 3 };
static ae_model *small_bce_vae(uint64_t seed)
{
    static const size_t widths[] = {SMALL_DIM, 8, SMALL_LATENT};
    ae_model *model = create_vae(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_param(model, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    test_set_param(model, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(model, AE_PARAM_LOSS, AE_LOSS_BCE);
    test_set_param(model, AE_PARAM_SEED, (double)seed);
    return model;
}

/* ---- the objective and its gradient ------------------------------------------------ */

typedef struct vae_case {
    const size_t *encoder;
    size_t n_encoder;
    const size_t *decoder; /* NULL: mirrored */
    size_t n_decoder;
    int hidden, output, loss;
    double kl_weight;
    size_t n_rows, ld_extra;
} vae_case;

/* Loss and every gradient entry of one configuration against the reference. The latent
 * layer's weights and bias are judged as two tensors each, the mean rows and the
 * log-variance rows: with eps = 0 the log-variance gets gradient from the KL term alone,
 * so its scale is set by the KL weight, not by the reconstruction. */
/* The reference objective at the reference's current parameters, for central differences. */
typedef struct vref_point {
    vref *ref;
    const float *x;
    size_t n_rows, ld;
} vref_point;

static double vref_point_objective(void *context)
{
    vref_point *p = context;
    return vref_objective(p->ref, p->x, p->n_rows, p->ld);
}

static void check_vae_case(const vae_case *c, uint64_t seed, const char *label)
{
    ae_model *model = create_vae(c->encoder, c->n_encoder, c->decoder, c->n_decoder);
    test_set_param(model, AE_PARAM_HIDDEN_ACTIVATION, c->hidden);
    test_set_param(model, AE_PARAM_OUTPUT_ACTIVATION, c->output);
    test_set_param(model, AE_PARAM_LOSS, c->loss);
    test_set_param(model, AE_PARAM_KL_WEIGHT, c->kl_weight);
    const size_t dim = ae_model_input_dim(model), ld = dim + c->ld_extra;
    const size_t n_params = ae_model_param_count(model), k = ae_model_latent_dim(model);

    test_rng rng;
    test_rng_seed(&rng, seed);
    vref ref = {0};
    float *x = NULL;
    vref_terms terms;
    int attempt;
    for (attempt = 0; attempt < 20; attempt++) {
        free(x);
        vref_free(&ref);
        free(test_set_spread_params(model, &rng, 0));
        x = test_loss_data(&rng, c->loss, c->n_rows, dim, ld);
        vref_from_model(&ref, model);
        vref_eval(&ref, x, c->n_rows, ld, &terms);
        if (terms.min_kink >= KINK_MARGIN)
            break;
    }
    assert_true(attempt < 20);
    assert_true(ref.kl_weight == c->kl_weight);
    assert_true(isfinite(terms.objective) && terms.kl_sum > 0);

    /* (a) the objective, and the reconstruction alone from ae_model_loss */
    float *grad = alloc_floats(n_params);
    double grad_loss = NAN, model_loss = NAN;
    int rc = ae_model_gradient(model, x, c->n_rows, ld, grad, n_params, &grad_loss);
    if (rc != AE_OK)
        print_error("%s: gradient: %s\n", label, ae_model_last_error(model));
    assert_int_equal(rc, AE_OK);
    assert_int_equal(ae_model_loss(model, x, c->n_rows, ld, &model_loss), AE_OK);
    if (rel_diff(grad_loss, terms.objective) > GRAD_LOSS_RTOL ||
        rel_diff(model_loss, terms.reconstruction) > GRAD_LOSS_RTOL)
        print_error("%s: objective %.9g vs reference %.9g; loss %.9g vs reference %.9g\n", label,
                    grad_loss, terms.objective, model_loss, terms.reconstruction);
    assert_true(rel_diff(grad_loss, terms.objective) <= GRAD_LOSS_RTOL);
    assert_true(rel_diff(model_loss, terms.reconstruction) <= GRAD_LOSS_RTOL);

    /* (b) every parameter against the central difference of the double objective */
    double *fd = malloc(n_params * sizeof *fd);
    assert_non_null(fd);
    vref_point point = {&ref, x, c->n_rows, ld};
    grad_central_differences(ref.params, n_params, vref_point_objective, &point, fd);
    grad_check gc = {.label = label};
    const size_t latent_layer = ref.n_encoder_layers - 1;
    for (size_t l = 0; l < ref.n_layers; l++) {
        const vref_layer *L = &ref.layers[l];
        /* tensors: {start, count}; the latent layer's split into mean and log-variance rows */
        size_t tensors[4][2], n_tensors = 0;
        if (l == latent_layer) {
            tensors[0][0] = L->w_offset, tensors[0][1] = k * L->n_in;
            tensors[1][0] = L->w_offset + k * L->n_in, tensors[1][1] = k * L->n_in;
            tensors[2][0] = L->b_offset, tensors[2][1] = k;
            tensors[3][0] = L->b_offset + k, tensors[3][1] = k;
            n_tensors = 4;
        } else {
            tensors[0][0] = L->w_offset, tensors[0][1] = L->n_out * L->n_in;
            tensors[1][0] = L->b_offset, tensors[1][1] = L->n_out;
            n_tensors = 2;
        }
        for (size_t t = 0; t < n_tensors; t++) {
            const size_t start = tensors[t][0], count = tensors[t][1];
            const int log_variance_rows = l == latent_layer && (t == 1 || t == 3);
            if (log_variance_rows && c->kl_weight == 0) {
                /* Without the KL term nothing depends on the log-variance (eps = 0). */
                for (size_t i = start; i < start + count; i++) {
                    assert_true(fd[i] == 0.0);
                    assert_true(grad[i] == 0.0f);
                }
                continue;
            }
            char what[64];
            snprintf(what, sizeof what, "layer %zu tensor %zu", l, t);
            grad_check_tensor(&gc, what, grad, fd, start, count);
        }
    }
    grad_check_finish(&gc);

    free(fd);
    free(grad);
    free(x);
    vref_free(&ref);
    ae_model_free(model);
}

static const size_t one_layer_encoder[] = {6, 3};
static const size_t two_layer_encoder[] = {7, 5, 3};
static const size_t deep_encoder[] = {8, 6, 5, 2};
static const size_t deep_decoder[] = {2, 7, 5, 8};

static const double kl_weights[] = {0.0, 0.3, 1.0, 5.0};

static void test_gradient_matches_reference_for_a_one_layer_encoder(void **state)
{
    (void)state;
    for (size_t b = 0; b < ARRAY_LEN(kl_weights); b++) {
        for (int bce = 0; bce < 2; bce++) {
            vae_case c = {one_layer_encoder, 2, NULL, 0, AE_ACT_TANH,
                          bce ? AE_ACT_SIGMOID : AE_ACT_LINEAR, bce ? AE_LOSS_BCE : AE_LOSS_MSE,
                          kl_weights[b], 5, bce ? 0 : 2};
            char label[96];
            snprintf(label, sizeof label, "6-3, %s, beta %g", bce ? "bce" : "mse", kl_weights[b]);
            check_vae_case(&c, 100u + 10u * b + (uint64_t)bce, label);
        }
    }
}

static void test_gradient_matches_reference_for_every_hidden_activation(void **state)
{
    (void)state;
    const int outputs[][2] = {{AE_ACT_LINEAR, AE_LOSS_MSE},
                              {AE_ACT_SIGMOID, AE_LOSS_BCE},
                              {AE_ACT_TANH, AE_LOSS_MSE},
                              {AE_ACT_SIGMOID, AE_LOSS_MSE}};
    for (int hidden = AE_ACT_LINEAR; hidden <= AE_ACT_SOFTPLUS; hidden++) {
        for (size_t v = 0; v < ARRAY_LEN(outputs); v++) {
            double beta = kl_weights[(size_t)(hidden + (int)v) % ARRAY_LEN(kl_weights)];
            vae_case c = {two_layer_encoder, 3, NULL, 0, hidden, outputs[v][0], outputs[v][1],
                          beta, 5, v == 2 ? 3 : 0};
            char label[128];
            snprintf(label, sizeof label, "7-5-3, hidden %s, output %s, %s, beta %g",
                     ae_activation_name((ae_activation)hidden),
                     ae_activation_name((ae_activation)outputs[v][0]),
                     outputs[v][1] == AE_LOSS_BCE ? "bce" : "mse", beta);
            check_vae_case(&c, 200u + 10u * (uint64_t)hidden + v, label);
        }
    }
}

static void test_gradient_matches_reference_on_a_deep_asymmetric_net(void **state)
{
    (void)state;
    const int hidden[] = {AE_ACT_ELU, AE_ACT_LEAKY_RELU, AE_ACT_SOFTPLUS, AE_ACT_RELU};
    for (size_t h = 0; h < ARRAY_LEN(hidden); h++) {
        for (size_t b = 0; b < ARRAY_LEN(kl_weights); b++) {
            int bce = (int)((h + b) % 2);
            vae_case c = {deep_encoder, 4, deep_decoder, 4, hidden[h], AE_ACT_SIGMOID,
                          bce ? AE_LOSS_BCE : AE_LOSS_MSE, kl_weights[b], 6, 1};
            char label[128];
            snprintf(label, sizeof label, "8-6-5-2 / 2-7-5-8, hidden %s, %s, beta %g",
                     ae_activation_name((ae_activation)hidden[h]), bce ? "bce" : "mse",
                     kl_weights[b]);
            check_vae_case(&c, 300u + 10u * h + b, label);
        }
    }
}

/* The KL term is in the objective with the configured weight: the gradient's loss minus
 * the reconstruction loss is beta * KL / (n * input_dim), for several beta. */
static void test_objective_adds_the_weighted_kl_divergence_to_the_reconstruction(void **state)
{
    (void)state;
    const double betas[] = {0.0, 0.25, 1.0, 40.0};
    test_rng rng;
    test_rng_seed(&rng, 400);
    ae_model *model = small_bce_vae(1);
    free(test_set_spread_params(model, &rng, 0));
    const size_t n_rows = 9, n_params = ae_model_param_count(model);
    float *x = test_loss_data(&rng, AE_LOSS_BCE, n_rows, SMALL_DIM, SMALL_DIM);
    float *grad = alloc_floats(n_params);
    for (size_t b = 0; b < ARRAY_LEN(betas); b++) {
        test_set_param(model, AE_PARAM_KL_WEIGHT, betas[b]);
        vref ref;
        vref_from_model(&ref, model);
        vref_terms terms;
        vref_eval(&ref, x, n_rows, SMALL_DIM, &terms);
        double objective = NAN, reconstruction = NAN;
        assert_int_equal(ae_model_gradient(model, x, n_rows, SMALL_DIM, grad, n_params, &objective),
                         AE_OK);
        assert_int_equal(ae_model_loss(model, x, n_rows, SMALL_DIM, &reconstruction), AE_OK);
        double kl_term = betas[b] * terms.kl_sum / (double)(n_rows * SMALL_DIM);
        assert_true(rel_diff(reconstruction, terms.reconstruction) <= GRAD_LOSS_RTOL);
        assert_true(fabs((objective - reconstruction) - kl_term) <=
                    GRAD_LOSS_RTOL * (terms.reconstruction + kl_term));
        if (betas[b] > 0) /* the term is there, not lost in the tolerance */
            assert_true(kl_term > 100 * GRAD_LOSS_RTOL * terms.objective);
        vref_free(&ref);
    }
    free(grad);
    free(x);
    ae_model_free(model);
}

/* ---- the latent layer -------------------------------------------------------------- */

static void test_latent_layer_reports_a_mean_and_a_log_variance_per_latent_unit(void **state)
{
    (void)state;
    ae_model *model = create_vae(deep_encoder, 4, deep_decoder, 4);
    assert_int_equal(ae_model_architecture(model), AE_ARCH_VARIATIONAL);
    assert_int_equal(ae_model_latent_dim(model), 2);
    assert_int_equal(ae_model_encoder_layer_count(model), 3);
    size_t n_out, n_in;
    int activation = -1;
    assert_int_equal(ae_model_layer_info(model, 2, &n_out, &n_in, &activation), AE_OK);
    assert_int_equal(n_out, 4); /* 2 * latent */
    assert_int_equal(n_in, 5);
    assert_int_equal(activation, AE_ACT_LINEAR);
    assert_int_equal(ae_model_layer_info(model, 3, &n_out, &n_in, NULL), AE_OK);
    assert_int_equal(n_in, 2); /* the decoder reads a code of latent_dim */
    assert_int_equal(n_out, 7);
    /* weights: 6*8 + 5*6 + 4*5 (the doubled latent layer) + 7*2 + 5*7 + 8*5;
     * biases: 6 + 5 + 4 + 7 + 5 + 8 */
    assert_int_equal(ae_model_param_count(model), 48 + 30 + 20 + 14 + 35 + 40 + 35);
    float w[20], b[4];
    assert_int_equal(ae_model_get_weights(model, 2, w, 20), AE_OK);
    assert_int_equal(ae_model_get_bias(model, 2, b, 4), AE_OK);
    assert_int_equal(ae_model_get_weights(model, 2, w, 10), AE_ERR_INVALID_ARGUMENT);
    ae_model_free(model);

    /* the mirrored decoder starts at latent_dim too */
    model = create_vae(two_layer_encoder, 3, NULL, 0);
    assert_int_equal(ae_model_layer_count(model), 4);
    assert_int_equal(ae_model_layer_info(model, 1, &n_out, &n_in, NULL), AE_OK);
    assert_int_equal(n_out, 6);
    assert_int_equal(ae_model_layer_info(model, 2, &n_out, &n_in, NULL), AE_OK);
    assert_int_equal(n_in, 3);
    assert_int_equal(n_out, 5);
    ae_model_free(model);
}

static void test_encode_gives_the_mean_half_of_encode_distribution_bit_for_bit(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 500);
    ae_model *model = create_vae(deep_encoder, 4, deep_decoder, 4);
    test_set_param(model, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_ELU);
    free(test_set_spread_params(model, &rng, 0));
    const size_t n_rows = 37, dim = 8, k = 2, ld_x = 11, ld_z = 3, ld_mean = 5, ld_lv = 4;
    float *x = test_loss_data(&rng, AE_LOSS_MSE, n_rows, dim, ld_x);
    float *z = alloc_floats(n_rows * ld_z), *mean = alloc_floats(n_rows * ld_mean);
    float *mean_only = alloc_floats(n_rows * ld_mean), *log_var = alloc_floats(n_rows * ld_lv);
    assert_int_equal(ae_model_encode(model, x, n_rows, ld_x, z, ld_z), AE_OK);
    assert_int_equal(ae_model_encode_distribution(model, x, n_rows, ld_x, mean, ld_mean, log_var,
                                                  ld_lv),
                     AE_OK);
    assert_int_equal(ae_model_encode_distribution(model, x, n_rows, ld_x, mean_only, ld_mean, NULL, 0),
                     AE_OK);
    for (size_t i = 0; i < n_rows; i++) {
        assert_true(same_floats(z + i * ld_z, mean + i * ld_mean, k));
        assert_true(same_floats(mean_only + i * ld_mean, mean + i * ld_mean, k));
        for (size_t j = 0; j < k; j++)
            assert_true(isfinite(log_var[i * ld_lv + j]));
    }
    /* a plain model's code has no distribution */
    ae_model *plain = test_create_model(deep_encoder, 4, deep_decoder, 4);
    assert_int_equal(ae_model_encode_distribution(plain, x, n_rows, ld_x, mean, ld_mean, NULL, 0),
                     AE_ERR_STATE);
    assert_true(strlen(ae_last_error()) > 0);
    /* argument checks */
    assert_int_equal(ae_model_encode_distribution(model, x, n_rows, ld_x, mean, 1, NULL, 0),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_encode_distribution(model, x, n_rows, ld_x, mean, ld_mean, log_var, 1),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_encode_distribution(model, x, 0, ld_x, mean, ld_mean, NULL, 0),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_encode_distribution(model, NULL, n_rows, ld_x, mean, ld_mean, NULL, 0),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_encode_distribution(NULL, x, n_rows, ld_x, mean, ld_mean, NULL, 0),
                     AE_ERR_INVALID_ARGUMENT);
    ae_model_free(plain);
    free(x);
    free(z);
    free(mean);
    free(mean_only);
    free(log_var);
    ae_model_free(model);
}

/* Mean and log-variance computed by hand, in double, from ae_model_get_weights/get_bias:
 * rows 0 .. k-1 of the latent layer give the mean, rows k .. 2k-1 the log-variance. */
static void test_mean_and_log_variance_come_from_the_two_halves_of_the_latent_layer(void **state)
{
    (void)state;
    enum { D = 7, H = 5, K = 3, N = 6 };
    test_rng rng;
    test_rng_seed(&rng, 600);
    ae_model *model = create_vae(two_layer_encoder, 3, NULL, 0);
    test_set_param(model, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    free(test_set_spread_params(model, &rng, 0));
    float w0[H * D], b0[H], w1[2 * K * H], b1[2 * K];
    assert_int_equal(ae_model_get_weights(model, 0, w0, H * D), AE_OK);
    assert_int_equal(ae_model_get_bias(model, 0, b0, H), AE_OK);
    assert_int_equal(ae_model_get_weights(model, 1, w1, 2 * K * H), AE_OK);
    assert_int_equal(ae_model_get_bias(model, 1, b1, 2 * K), AE_OK);
    float *x = test_loss_data(&rng, AE_LOSS_MSE, N, D, D);
    float mean[N * K], log_var[N * K];
    assert_int_equal(ae_model_encode_distribution(model, x, N, D, mean, K, log_var, K), AE_OK);
    for (size_t i = 0; i < N; i++) {
        double h[H];
        for (size_t o = 0; o < H; o++) {
            double z = b0[o];
            for (size_t j = 0; j < D; j++)
                z += (double)w0[o * D + j] * x[i * D + j];
            h[o] = tanh(z);
        }
        for (size_t half = 0; half < 2; half++) {
            for (size_t j = 0; j < K; j++) {
                size_t row = half * K + j;
                double value = b1[row], magnitude = fabs(b1[row]);
                for (size_t o = 0; o < H; o++) {
                    value += (double)w1[row * H + o] * h[o];
                    magnitude += fabs((double)w1[row * H + o] * h[o]);
                }
                double got = half ? log_var[i * K + j] : mean[i * K + j];
                /* float forward: a few ulps of the terms' magnitudes */
                if (!(fabs(got - value) <= 1e-5 * (1.0 + magnitude)))
                    print_error("row %zu %s %zu: %.9g, by hand %.9g\n", i,
                                half ? "log-variance" : "mean", j, got, value);
                assert_true(fabs(got - value) <= 1e-5 * (1.0 + magnitude));
            }
        }
    }
    free(x);
    ae_model_free(model);
}

/* ---- sampling and interpolation ----------------------------------------------------- */

static void test_sample_is_deterministic_per_seed_and_differs_across_seeds(void **state)
{
    (void)state;
    enum { N = 5, LD = SMALL_DIM + 2 };
    test_rng rng;
    test_rng_seed(&rng, 700);
    ae_model *model = small_bce_vae(2);
    free(test_set_spread_params(model, &rng, 0));
    ae_model *before = test_clone_model(model);
    float a[N * LD], b[N * LD], c[N * LD];
    for (size_t i = 0; i < N * LD; i++)
        a[i] = b[i] = c[i] = -7.0f; /* padding sentinel */
    assert_int_equal(ae_model_sample(model, 42, N, a, LD), AE_OK);
    assert_int_equal(ae_model_sample(model, 42, N, b, LD), AE_OK);
    assert_int_equal(ae_model_sample(model, 43, N, c, LD), AE_OK);
    assert_true(same_floats(a, b, N * LD));
    size_t differing_rows = 0;
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < SMALL_DIM; j++) {
            float v = a[i * LD + j];
            assert_true(v >= 0.0f && v <= 1.0f); /* sigmoid outputs */
        }
        for (size_t j = SMALL_DIM; j < LD; j++) /* padding untouched */
            assert_true(a[i * LD + j] == -7.0f && c[i * LD + j] == -7.0f);
        differing_rows += !same_floats(a + i * LD, c + i * LD, SMALL_DIM);
        if (i > 0) /* the rows are different draws */
            assert_false(same_floats(a, a + i * LD, SMALL_DIM));
    }
    assert_int_equal(differing_rows, N);
    /* Sampling is const: neither the weights nor the model's own generator moved (a
     * training step after it matches one on a copy taken before). */
    assert_true(test_same_params(model, before));
    float *x = test_loss_data(&rng, AE_LOSS_BCE, 4, SMALL_DIM, SMALL_DIM);
    double loss_model, loss_before;
    assert_int_equal(ae_model_train_batch(model, x, 4, SMALL_DIM, &loss_model), AE_OK);
    assert_int_equal(ae_model_train_batch(before, x, 4, SMALL_DIM, &loss_before), AE_OK);
    assert_true(loss_model == loss_before);
    assert_true(test_same_params(model, before));
    free(x);
    ae_model_free(before);
    ae_model_free(model);
}

static void test_sample_needs_a_variational_model_with_a_decoder(void **state)
{
    (void)state;
    float y[4 * SMALL_DIM];
    static const size_t widths[] = {SMALL_DIM, 8, SMALL_LATENT};
    ae_model *plain = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    assert_int_equal(ae_model_sample(plain, 1, 4, y, SMALL_DIM), AE_ERR_STATE);
    assert_true(strlen(ae_last_error()) > 0);
    ae_model *model = small_bce_vae(3), *encoder = NULL;
    assert_int_equal(ae_model_export_encoder(model, &encoder), AE_OK);
    assert_int_equal(ae_model_sample(encoder, 1, 4, y, SMALL_DIM), AE_ERR_STATE);
    assert_int_equal(ae_model_sample(model, 1, 0, y, SMALL_DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_sample(model, 1, 4, NULL, SMALL_DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_sample(model, 1, 4, y, SMALL_DIM - 1), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_sample(NULL, 1, 4, y, SMALL_DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_sample(model, 1, 4, y, SMALL_DIM), AE_OK);
    ae_model_free(encoder);
    ae_model_free(plain);
    ae_model_free(model);
}

/* interpolate against decode: with two steps it is the decode of the two codes (each
 * encoded on its own, decoded as one batch) bit for bit; with more steps its ends are,
 * and the steps between are the decode of (1 - t) z_a + t z_b. */
static void check_interpolation(ae_model *model, test_rng *rng, int loss)
{
    enum { STEPS = 6 };
    const size_t dim = ae_model_input_dim(model), k = ae_model_latent_dim(model), ld_y = dim + 3;
    float *x = test_loss_data(rng, loss, 2, dim, dim);
    float *ends = alloc_floats(2 * k), *codes = alloc_floats(STEPS * k);
    float *y = alloc_floats(STEPS * ld_y), *expected = alloc_floats(STEPS * ld_y);
    assert_int_equal(ae_model_encode(model, x, 1, dim, ends, k), AE_OK);
    assert_int_equal(ae_model_encode(model, x + dim, 1, dim, ends + k, k), AE_OK);

    for (size_t i = 0; i < STEPS * ld_y; i++)
        y[i] = expected[i] = -9.0f;
    assert_int_equal(ae_model_interpolate(model, x, x + dim, 2, y, ld_y), AE_OK);
    assert_int_equal(ae_model_decode(model, ends, 2, k, expected, ld_y), AE_OK);
    assert_true(same_floats(y, expected, 2 * ld_y)); /* padding included: untouched */

    for (size_t i = 0; i < STEPS; i++) {
        double t = (double)i / (STEPS - 1);
        for (size_t j = 0; j < k; j++)
            codes[i * k + j] = i == 0 ? ends[j]
                               : i == STEPS - 1 ? ends[k + j]
                                                : (float)((1 - t) * ends[j] + t * ends[k + j]);
    }
    assert_int_equal(ae_model_interpolate(model, x, x + dim, STEPS, y, ld_y), AE_OK);
    assert_int_equal(ae_model_decode(model, codes, STEPS, k, expected, ld_y), AE_OK);
    assert_true(same_floats(y, expected, dim));
    assert_true(same_floats(y + (STEPS - 1) * ld_y, expected + (STEPS - 1) * ld_y, dim));
    for (size_t i = 1; i + 1 < STEPS; i++)
        for (size_t j = 0; j < dim; j++)
            assert_true(fabsf(y[i * ld_y + j] - expected[i * ld_y + j]) <=
                        1e-5f * (1.0f + fabsf(expected[i * ld_y + j])));
    /* the path moves: its middle is neither end */
    assert_false(same_floats(y + 2 * ld_y, y, dim));
    assert_false(same_floats(y + 2 * ld_y, y + (STEPS - 1) * ld_y, dim));
    free(x);
    free(ends);
    free(codes);
    free(y);
    free(expected);
}

static void test_interpolate_ends_decode_the_two_codes_exactly(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 800);
    ae_model *model = small_bce_vae(4);
    free(test_set_spread_params(model, &rng, 0));
    check_interpolation(model, &rng, AE_LOSS_BCE);
    ae_model_free(model);
}

static void test_interpolate_works_on_plain_models_too(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 801);
    ae_model *plain = test_create_model(deep_encoder, 4, deep_decoder, 4);
    test_set_param(plain, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    free(test_set_spread_params(plain, &rng, 0));
    check_interpolation(plain, &rng, AE_LOSS_MSE);
    ae_model_free(plain);
}

static void test_interpolate_rejects_fewer_than_two_steps(void **state)
{
    (void)state;
    ae_model *model = small_bce_vae(5), *encoder = NULL;
    float x[2 * SMALL_DIM] = {0}, y[3 * SMALL_DIM];
    assert_int_equal(ae_model_interpolate(model, x, x + SMALL_DIM, 0, y, SMALL_DIM),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_interpolate(model, x, x + SMALL_DIM, 1, y, SMALL_DIM),
                     AE_ERR_INVALID_ARGUMENT);
    assert_true(strlen(ae_last_error()) > 0);
    assert_int_equal(ae_model_interpolate(model, x, x + SMALL_DIM, 3, y, SMALL_DIM - 1),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_interpolate(model, NULL, x + SMALL_DIM, 3, y, SMALL_DIM),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_interpolate(model, x, NULL, 3, y, SMALL_DIM), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_interpolate(model, x, x + SMALL_DIM, 3, NULL, SMALL_DIM),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_export_encoder(model, &encoder), AE_OK);
    assert_int_equal(ae_model_interpolate(encoder, x, x + SMALL_DIM, 3, y, SMALL_DIM), AE_ERR_STATE);
    assert_int_equal(ae_model_interpolate(model, x, x + SMALL_DIM, 3, y, SMALL_DIM), AE_OK);
    ae_model_free(encoder);
    ae_model_free(model);
}

/* ---- training: the fit report, the KL weight and its warm-up ------------------------ */

enum { FIT_ROWS = 240 };

static float *fit_data(uint64_t seed)
{
    test_rng rng;
    test_rng_seed(&rng, seed);
    return test_loss_data(&rng, AE_LOSS_BCE, FIT_ROWS, SMALL_DIM, SMALL_DIM);
}

static void test_fit_report_gives_kl_and_elbo_for_variational_models_only(void **state)
{
    (void)state;
    float *x = fit_data(900);
    static const size_t widths[] = {SMALL_DIM, 8, SMALL_LATENT};
    ae_model *plain = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_param(plain, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(plain, AE_PARAM_LOSS, AE_LOSS_BCE);
    test_set_epochs_and_batch(plain, 2, 32);
    ae_fit_report report = test_new_fit_report();
    report.final_kl = report.final_elbo = 123.0; /* must be overwritten */
    assert_int_equal(ae_model_fit(plain, x, FIT_ROWS, SMALL_DIM, &report), AE_OK);
    assert_true(isfinite(report.final_train_loss));
    assert_true(isnan(report.final_kl));
    assert_true(isnan(report.final_elbo));

    ae_model *model = small_bce_vae(6);
    test_set_epochs_and_batch(model, 2, 32);
    report = test_new_fit_report();
    assert_int_equal(ae_model_fit(model, x, FIT_ROWS, SMALL_DIM, &report), AE_OK);
    assert_int_equal(report.epochs_run, 2);
    assert_true(isfinite(report.final_kl) && report.final_kl > 0);
    assert_true(isfinite(report.final_elbo) && report.final_elbo < 0);
    /* -ELBO = summed reconstruction loss + KL: above the KL alone */
    assert_true(-report.final_elbo > report.final_kl);
    ae_model_free(plain);
    ae_model_free(model);
    free(x);
}

/* With beta 1 and no warm-up, input_dim times the training loss is the mean over rows of
 * the summed reconstruction loss plus KL, which is -ELBO: equal up to rounding. */
static void test_final_elbo_is_minus_input_dim_times_the_training_loss_when_beta_is_one(void **state)
{
    (void)state;
    float *x = fit_data(901);
    ae_model *model = small_bce_vae(7);
    test_set_epochs_and_batch(model, 4, 50); /* a short last batch too */
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(model, x, FIT_ROWS, SMALL_DIM, &report), AE_OK);
    double scaled = report.final_train_loss * SMALL_DIM;
    print_message("      train loss x %d = %.9g, -ELBO = %.9g, KL = %.6g\n", SMALL_DIM, scaled,
                  -report.final_elbo, report.final_kl);
    assert_true(fabs(scaled + report.final_elbo) <= 1e-9 * fabs(report.final_elbo));
    assert_true(report.final_kl > 1e-3 * fabs(report.final_elbo)); /* KL counts */
    ae_model_free(model);
    free(x);
}

/* The epoch's KL weight implied by the report: input_dim * train loss = recon + w * KL and
 * -ELBO = recon + KL, so w = 1 + (input_dim * train loss + ELBO) / KL. */
static double implied_kl_weight(const ae_fit_report *report)
{
    return 1.0 + (report->final_train_loss * SMALL_DIM + report->final_elbo) / report->final_kl;
}

static void test_kl_warm_up_grows_beta_linearly_over_the_epochs_of_each_fit(void **state)
{
    (void)state;
    const double beta = 0.5;
    float *x = fit_data(902);
    ae_model *model = small_bce_vae(8);
    test_set_param(model, AE_PARAM_KL_WEIGHT, beta);
    test_set_param(model, AE_PARAM_KL_WARMUP_EPOCHS, 4);
    test_set_param(model, AE_PARAM_BATCH_SIZE, 32);
    /* epochs of one fit -> the last epoch's share min(1, e / 4) */
    const struct { double epochs, share; } runs[] = {{1, 0.25}, {2, 0.5}, {3, 0.75}, {1, 0.25},
                                                     {6, 1.0}};
    for (size_t i = 0; i < ARRAY_LEN(runs); i++) {
        test_set_param(model, AE_PARAM_EPOCHS, runs[i].epochs);
        ae_fit_report report = test_new_fit_report();
        assert_int_equal(ae_model_fit(model, x, FIT_ROWS, SMALL_DIM, &report), AE_OK);
        double w = implied_kl_weight(&report);
        print_message("      fit of %g epochs: last epoch's KL weight %.9f (expected %g)\n",
                      runs[i].epochs, w, beta * runs[i].share);
        assert_true(fabs(w - beta * runs[i].share) <= 1e-6);
    }
    /* without warm-up the full weight from the first epoch */
    test_set_param(model, AE_PARAM_KL_WARMUP_EPOCHS, 0);
    test_set_param(model, AE_PARAM_EPOCHS, 1);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(model, x, FIT_ROWS, SMALL_DIM, &report), AE_OK);
    assert_true(fabs(implied_kl_weight(&report) - beta) <= 1e-6);
    ae_model_free(model);
    free(x);
}

/* A single training step after a warm-up fit uses the full beta. With the first decoder
 * layer's weights zero the reconstruction does not depend on the sampled code, so the
 * step's loss is the deterministic objective and can be compared. */
static void test_train_batch_uses_the_full_kl_weight_after_a_warm_up_fit(void **state)
{
    (void)state;
    float *x = fit_data(903);
    ae_model *model = small_bce_vae(9);
    test_set_param(model, AE_PARAM_KL_WEIGHT, 2.0);
    test_set_param(model, AE_PARAM_KL_WARMUP_EPOCHS, 10);
    test_set_epochs_and_batch(model, 1, 32);
    assert_int_equal(ae_model_fit(model, x, FIT_ROWS, SMALL_DIM, NULL), AE_OK); /* share 0.1 */
    size_t n_out, n_in;
    assert_int_equal(ae_model_layer_info(model, 2, &n_out, &n_in, NULL), AE_OK);
    float *zeros = calloc(n_out * n_in, sizeof *zeros);
    assert_non_null(zeros);
    assert_int_equal(ae_model_set_weights(model, 2, zeros, n_out * n_in), AE_OK);

    const size_t n_rows = 16;
    vref ref;
    vref_from_model(&ref, model);
    vref_terms terms;
    vref_eval(&ref, x, n_rows, SMALL_DIM, &terms);
    double full = terms.objective;
    double ramped = terms.reconstruction + 0.1 * 2.0 * terms.kl_sum / (double)(n_rows * SMALL_DIM);
    assert_true(rel_diff(ramped, full) > 100 * GRAD_LOSS_RTOL); /* the two are told apart */
    double step_loss = NAN;
    assert_int_equal(ae_model_train_batch(model, x, n_rows, SMALL_DIM, &step_loss), AE_OK);
    assert_true(rel_diff(step_loss, full) <= GRAD_LOSS_RTOL);
    vref_free(&ref);
    free(zeros);
    ae_model_free(model);
    free(x);
}

/* A training step decodes mean + exp(logvar / 2) * eps with eps from the model's generator;
 * ae_model_gradient decodes the mean and draws nothing. */
static void test_training_step_samples_the_code_while_the_gradient_is_deterministic(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 1000);
    ae_model *a = small_bce_vae(10);
    test_set_param(a, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(a, AE_PARAM_LEARNING_RATE, 0.1);
    free(test_set_spread_params(a, &rng, 0)); /* weights no longer fresh: a new seed only reseeds */
    ae_model *b = test_clone_model(a), *c = test_clone_model(a);
    test_set_param(c, AE_PARAM_SEED, 12345);
    assert_true(test_same_params(a, c)); /* same weights, another generator state */

    const size_t n_rows = 8, n_params = ae_model_param_count(a);
    float *x = test_loss_data(&rng, AE_LOSS_BCE, n_rows, SMALL_DIM, SMALL_DIM);
    float *g1 = alloc_floats(n_params), *g2 = alloc_floats(n_params);
    double l1 = NAN, l2 = NAN;
    assert_int_equal(ae_model_gradient(a, x, n_rows, SMALL_DIM, g1, n_params, &l1), AE_OK);
    assert_int_equal(ae_model_gradient(a, x, n_rows, SMALL_DIM, g2, n_params, &l2), AE_OK);
    assert_true(l1 == l2);
    assert_true(same_floats(g1, g2, n_params));

    double la = NAN, lb = NAN, lc = NAN;
    assert_int_equal(ae_model_train_batch(a, x, n_rows, SMALL_DIM, &la), AE_OK);
    assert_int_equal(ae_model_train_batch(b, x, n_rows, SMALL_DIM, &lb), AE_OK);
    assert_int_equal(ae_model_train_batch(c, x, n_rows, SMALL_DIM, &lc), AE_OK);
    /* the same generator state (the gradient calls drew nothing): the same step */
    assert_true(la == lb);
    assert_true(test_same_params(a, b));
    /* another generator state: another sampled code, another loss and step */
    assert_true(la != lc);
    assert_false(test_same_params(a, c));
    /* and a sampled code is not the mean */
    assert_true(la != l1);
    free(g1);
    free(g2);
    free(x);
    ae_model_free(a);
    ae_model_free(b);
    ae_model_free(c);
}

/* Hidden dropout never touches a variational latent layer: in a 6-3(variational)-6 model
 * the latent layer is the only one hidden dropout could act on, so a step with dropout
 * 0.5 is bit for bit the step without (and draws no masks from the generator). */
static void test_hidden_dropout_leaves_the_variational_latent_layer_alone(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 1050);
    ae_model *plain_step = create_vae(one_layer_encoder, 2, NULL, 0);
    free(test_set_spread_params(plain_step, &rng, 0));
    ae_model *dropout_step = test_clone_model(plain_step);
    test_set_param(dropout_step, AE_PARAM_DROPOUT_HIDDEN, 0.5);
    float *x = test_loss_data(&rng, AE_LOSS_MSE, 10, 6, 6);
    for (int step = 0; step < 3; step++) {
        double a = NAN, b = NAN;
        assert_int_equal(ae_model_train_batch(plain_step, x, 10, 6, &a), AE_OK);
        assert_int_equal(ae_model_train_batch(dropout_step, x, 10, 6, &b), AE_OK);
        assert_true(a == b);
        assert_true(test_same_params(plain_step, dropout_step));
    }
    /* with a hidden layer before the latent one, the same setting does act */
    ae_model *deeper = create_vae(two_layer_encoder, 3, NULL, 0);
    free(test_set_spread_params(deeper, &rng, 0));
    ae_model *deeper_dropout = test_clone_model(deeper);
    test_set_param(deeper_dropout, AE_PARAM_DROPOUT_HIDDEN, 0.5);
    float *x7 = test_loss_data(&rng, AE_LOSS_MSE, 10, 7, 7);
    assert_int_equal(ae_model_train_batch(deeper, x7, 10, 7, NULL), AE_OK);
    assert_int_equal(ae_model_train_batch(deeper_dropout, x7, 10, 7, NULL), AE_OK);
    assert_false(test_same_params(deeper, deeper_dropout));
    free(x);
    free(x7);
    ae_model_free(plain_step);
    ae_model_free(dropout_step);
    ae_model_free(deeper);
    ae_model_free(deeper_dropout);
}

/* ---- what a variational model refuses ------------------------------------------------ */

static void test_a_variational_latent_layer_must_stay_linear(void **state)
{
    (void)state;
    ae_model *model = small_bce_vae(11);
    float *before = test_params_of(model);
    for (int act = AE_ACT_RELU; act <= AE_ACT_SOFTPLUS; act++) {
        assert_int_equal(ae_model_set_param(model, AE_PARAM_LATENT_ACTIVATION, act), AE_ERR_STATE);
        assert_true(strlen(ae_model_last_error(model)) > 0);
    }
    double value = -1;
    assert_int_equal(ae_model_get_param(model, AE_PARAM_LATENT_ACTIVATION, &value), AE_OK);
    assert_true(value == AE_ACT_LINEAR);
    int activation = -1;
    assert_int_equal(ae_model_layer_info(model, 1, NULL, NULL, &activation), AE_OK);
    assert_int_equal(activation, AE_ACT_LINEAR);
    assert_true(test_params_equal_to(model, before));
    test_set_param(model, AE_PARAM_LATENT_ACTIVATION, AE_ACT_LINEAR);
    /* a plain model of the same shape takes any latent activation */
    static const size_t widths[] = {SMALL_DIM, 8, SMALL_LATENT};
    ae_model *plain = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_param(plain, AE_PARAM_LATENT_ACTIVATION, AE_ACT_SIGMOID);
    free(before);
    ae_model_free(plain);
    ae_model_free(model);
}

/* The code penalties act on a deterministic code: a variational model refuses them when they
 * are set, and keeps training as it was. */
static void test_activity_and_contractive_penalties_are_refused_when_set(void **state)
{
    (void)state;
    float *x = fit_data(1100);
    const ae_param penalties[] = {AE_PARAM_ACTIVITY_L1, AE_PARAM_CONTRACTIVE_WEIGHT};
    for (size_t p = 0; p < ARRAY_LEN(penalties); p++) {
        ae_model *model = small_bce_vae(12);
        test_set_epochs_and_batch(model, 1, 32);
        assert_int_equal(ae_model_set_param(model, penalties[p], 0.1), AE_ERR_STATE);
        assert_non_null(strstr(ae_model_last_error(model), "conflicts with the model's architecture"));
        double value;
        assert_int_equal(ae_model_get_param(model, penalties[p], &value), AE_OK);
        assert_true(value == 0.0);
        assert_int_equal(ae_model_train_batch(model, x, 8, SMALL_DIM, NULL), AE_OK);
        ae_model_free(model);
    }
    free(x);
}

static void test_pretrain_refuses_a_variational_model(void **state)
{
    (void)state;
    float *x = fit_data(1200);
    ae_model *model = small_bce_vae(13);
    test_set_epochs_and_batch(model, 1, 32);
    float *before = test_params_of(model);
    assert_int_equal(ae_model_pretrain(model, x, FIT_ROWS, SMALL_DIM, NULL, 0), AE_ERR_STATE);
    assert_true(strlen(ae_model_last_error(model)) > 0);
    assert_true(test_params_equal_to(model, before));
    free(before);
    ae_model_free(model);
    free(x);
}

/* ---- saving, cloning, exporting ----------------------------------------------------- */

/* Whether two variational models encode, give distributions, sample and reconstruct
 * bit-identically. */
static void assert_same_behaviour(const ae_model *a, const ae_model *b, const float *x, size_t n_rows)
{
    const size_t dim = ae_model_input_dim(a), k = ae_model_latent_dim(a);
    assert_int_equal(ae_model_architecture(b), ae_model_architecture(a));
    assert_int_equal(ae_model_latent_dim(b), k);
    float *za = alloc_floats(n_rows * k), *zb = alloc_floats(n_rows * k);
    float *ya = alloc_floats(n_rows * dim), *yb = alloc_floats(n_rows * dim);
    assert_int_equal(ae_model_encode(a, x, n_rows, dim, za, k), AE_OK);
    assert_int_equal(ae_model_encode(b, x, n_rows, dim, zb, k), AE_OK);
    assert_true(same_floats(za, zb, n_rows * k));
    assert_int_equal(ae_model_encode_distribution(a, x, n_rows, dim, za, k, zb, k), AE_OK);
    float *ma = alloc_floats(n_rows * k), *va = alloc_floats(n_rows * k);
    assert_int_equal(ae_model_encode_distribution(b, x, n_rows, dim, ma, k, va, k), AE_OK);
    assert_true(same_floats(za, ma, n_rows * k));
    assert_true(same_floats(zb, va, n_rows * k));
    assert_int_equal(ae_model_sample(a, 77, n_rows, ya, dim), AE_OK);
    assert_int_equal(ae_model_sample(b, 77, n_rows, yb, dim), AE_OK);
    assert_true(same_floats(ya, yb, n_rows * dim));
    assert_int_equal(ae_model_reconstruct(a, x, n_rows, dim, ya, dim), AE_OK);
    assert_int_equal(ae_model_reconstruct(b, x, n_rows, dim, yb, dim), AE_OK);
    assert_true(same_floats(ya, yb, n_rows * dim));
    free(za);
    free(zb);
    free(ya);
    free(yb);
    free(ma);
    free(va);
}

/* A trained variational model with non-default KL settings. */
static ae_model *trained_vae(const float *x)
{
    ae_model *model = small_bce_vae(14);
    test_set_param(model, AE_PARAM_KL_WEIGHT, 0.75);
    test_set_param(model, AE_PARAM_KL_WARMUP_EPOCHS, 3);
    test_set_epochs_and_batch(model, 2, 32);
    assert_int_equal(ae_model_fit(model, x, FIT_ROWS, SMALL_DIM, NULL), AE_OK);
    return model;
}

static void test_save_and_load_keep_a_variational_model(void **state)
{
    (void)state;
    float *x = fit_data(1300);
    ae_model *model = trained_vae(x);

    size_t size = 0, written = 0;
    assert_int_equal(ae_model_save_size(model, AE_SAVE_OPTIMIZER_STATE, &size), AE_OK);
    unsigned char *buffer = malloc(size);
    assert_non_null(buffer);
    assert_int_equal(ae_model_save_to_memory(model, AE_SAVE_OPTIMIZER_STATE, buffer, size, &written),
                     AE_OK);
    ae_model *loaded = NULL;
    assert_int_equal(ae_model_load_from_memory(&loaded, buffer, written), AE_OK);
    assert_true(test_same_params(model, loaded));
    assert_same_behaviour(model, loaded, x, 20);
    double value;
    assert_int_equal(ae_model_get_param(loaded, AE_PARAM_KL_WEIGHT, &value), AE_OK);
    assert_true(value == 0.75);
    assert_int_equal(ae_model_get_param(loaded, AE_PARAM_KL_WARMUP_EPOCHS, &value), AE_OK);
    assert_true(value == 3);
    /* generator and optimizer state travel too: the next (sampled) step is the same */
    double loss_a, loss_b;
    assert_int_equal(ae_model_train_batch(model, x, 16, SMALL_DIM, &loss_a), AE_OK);
    assert_int_equal(ae_model_train_batch(loaded, x, 16, SMALL_DIM, &loss_b), AE_OK);
    assert_true(loss_a == loss_b);
    assert_true(test_same_params(model, loaded));

    /* and through a file */
    char dir[] = "/tmp/ae_variational_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/vae.aemodel", dir);
    assert_int_equal(ae_model_save(model, path, AE_SAVE_DEFAULT), AE_OK);
    ae_model *from_file = NULL;
    assert_int_equal(ae_model_load(&from_file, path), AE_OK);
    assert_same_behaviour(model, from_file, x, 20);
    unlink(path);
    rmdir(dir);

    ae_model_free(from_file);
    ae_model_free(loaded);
    ae_model_free(model);
    free(buffer);
    free(x);
}

static void test_clone_of_a_variational_model_samples_and_trains_identically(void **state)
{
    (void)state;
    float *x = fit_data(1400);
    ae_model *model = trained_vae(x);
    ae_model *copy = test_clone_model(model);
    assert_same_behaviour(model, copy, x, 20);
    ae_fit_report ra = test_new_fit_report(), rb = test_new_fit_report();
    assert_int_equal(ae_model_fit(model, x, FIT_ROWS, SMALL_DIM, &ra), AE_OK);
    assert_int_equal(ae_model_fit(copy, x, FIT_ROWS, SMALL_DIM, &rb), AE_OK);
    assert_true(ra.final_elbo == rb.final_elbo && ra.final_kl == rb.final_kl);
    assert_true(test_same_params(model, copy));
    ae_model_free(copy);
    ae_model_free(model);
    free(x);
}

static void test_exported_encoder_of_a_variational_model_encodes_the_means(void **state)
{
    (void)state;
    float *x = fit_data(1500);
    ae_model *model = trained_vae(x), *encoder = NULL;
    assert_int_equal(ae_model_export_encoder(model, &encoder), AE_OK);
    assert_int_equal(ae_model_layer_count(encoder), 2);
    assert_int_equal(ae_model_encoder_layer_count(encoder), 2);
    assert_int_equal(ae_model_latent_dim(encoder), SMALL_LATENT);
    size_t n_out;
    assert_int_equal(ae_model_layer_info(encoder, 1, &n_out, NULL, NULL), AE_OK);
    assert_int_equal(n_out, 2 * SMALL_LATENT);
    enum { N = 25 };
    float z_model[N * SMALL_LATENT], z_encoder[N * SMALL_LATENT];
    float lv_model[N * SMALL_LATENT], lv_encoder[N * SMALL_LATENT];
    assert_int_equal(ae_model_encode(model, x, N, SMALL_DIM, z_model, SMALL_LATENT), AE_OK);
    assert_int_equal(ae_model_encode(encoder, x, N, SMALL_DIM, z_encoder, SMALL_LATENT), AE_OK);
    assert_true(same_floats(z_model, z_encoder, N * SMALL_LATENT));
    assert_int_equal(ae_model_encode_distribution(model, x, N, SMALL_DIM, z_model, SMALL_LATENT,
                                                  lv_model, SMALL_LATENT),
                     AE_OK);
    assert_int_equal(ae_model_encode_distribution(encoder, x, N, SMALL_DIM, z_encoder, SMALL_LATENT,
                                                  lv_encoder, SMALL_LATENT),
                     AE_OK);
    assert_true(same_floats(z_model, z_encoder, N * SMALL_LATENT));
    assert_true(same_floats(lv_model, lv_encoder, N * SMALL_LATENT));
    /* the means are what encode gives, not the log-variances */
    assert_false(same_floats(z_encoder, lv_encoder, N * SMALL_LATENT));
    /* it survives a save and load as a variational encoder */
    size_t size = 0, written = 0;
    assert_int_equal(ae_model_save_size(encoder, 0, &size), AE_OK);
    unsigned char *buffer = malloc(size);
    assert_non_null(buffer);
    assert_int_equal(ae_model_save_to_memory(encoder, 0, buffer, size, &written), AE_OK);
    ae_model *loaded = NULL;
    assert_int_equal(ae_model_load_from_memory(&loaded, buffer, written), AE_OK);
    assert_int_equal(ae_model_latent_dim(loaded), SMALL_LATENT);
    assert_int_equal(ae_model_encode(loaded, x, N, SMALL_DIM, z_encoder, SMALL_LATENT), AE_OK);
    assert_true(same_floats(z_model, z_encoder, N * SMALL_LATENT));
    free(buffer);
    ae_model_free(loaded);
    ae_model_free(encoder);
    ae_model_free(model);
    free(x);
}

static void test_kl_settings_have_documented_defaults_and_bounds(void **state)
{
    (void)state;
    ae_model *model = small_bce_vae(15);
    double value = -1, lo, hi;
    int integral;
    assert_int_equal(ae_model_get_param(model, AE_PARAM_KL_WEIGHT, &value), AE_OK);
    assert_true(value == 1.0);
    assert_int_equal(ae_model_get_param(model, AE_PARAM_KL_WARMUP_EPOCHS, &value), AE_OK);
    assert_true(value == 0.0);
    assert_int_equal(ae_param_bounds(AE_PARAM_KL_WEIGHT, &lo, &hi, &integral), AE_OK);
    assert_true(lo == 0 && hi == 1e3 && !integral);
    assert_int_equal(ae_param_bounds(AE_PARAM_KL_WARMUP_EPOCHS, &lo, &hi, &integral), AE_OK);
    assert_true(lo == 0 && hi == 1e9 && integral);
    assert_int_equal(ae_model_set_param(model, AE_PARAM_KL_WEIGHT, -0.5), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_param(model, AE_PARAM_KL_WARMUP_EPOCHS, 2.5),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_get_param(model, AE_PARAM_KL_WEIGHT, &value), AE_OK);
    assert_true(value == 1.0);
    ae_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_matches_reference_for_a_one_layer_encoder),
        cmocka_unit_test(test_gradient_matches_reference_for_every_hidden_activation),
        cmocka_unit_test(test_gradient_matches_reference_on_a_deep_asymmetric_net),
        cmocka_unit_test(test_objective_adds_the_weighted_kl_divergence_to_the_reconstruction),
        cmocka_unit_test(test_latent_layer_reports_a_mean_and_a_log_variance_per_latent_unit),
        cmocka_unit_test(test_encode_gives_the_mean_half_of_encode_distribution_bit_for_bit),
        cmocka_unit_test(test_mean_and_log_variance_come_from_the_two_halves_of_the_latent_layer),
        cmocka_unit_test(test_sample_is_deterministic_per_seed_and_differs_across_seeds),
        cmocka_unit_test(test_sample_needs_a_variational_model_with_a_decoder),
        cmocka_unit_test(test_interpolate_ends_decode_the_two_codes_exactly),
        cmocka_unit_test(test_interpolate_works_on_plain_models_too),
        cmocka_unit_test(test_interpolate_rejects_fewer_than_two_steps),
        cmocka_unit_test(test_fit_report_gives_kl_and_elbo_for_variational_models_only),
        cmocka_unit_test(test_final_elbo_is_minus_input_dim_times_the_training_loss_when_beta_is_one),
        cmocka_unit_test(test_kl_warm_up_grows_beta_linearly_over_the_epochs_of_each_fit),
        cmocka_unit_test(test_train_batch_uses_the_full_kl_weight_after_a_warm_up_fit),
        cmocka_unit_test(test_training_step_samples_the_code_while_the_gradient_is_deterministic),
        cmocka_unit_test(test_hidden_dropout_leaves_the_variational_latent_layer_alone),
        cmocka_unit_test(test_a_variational_latent_layer_must_stay_linear),
        cmocka_unit_test(test_activity_and_contractive_penalties_are_refused_when_set),
        cmocka_unit_test(test_pretrain_refuses_a_variational_model),
        cmocka_unit_test(test_save_and_load_keep_a_variational_model),
        cmocka_unit_test(test_clone_of_a_variational_model_samples_and_trains_identically),
        cmocka_unit_test(test_exported_encoder_of_a_variational_model_encodes_the_means),
        cmocka_unit_test(test_kl_settings_have_documented_defaults_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
