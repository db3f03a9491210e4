/* Gradient checks: the library's loss, score and float gradient against an
 * independent double-precision reference (tests/support/reference_net.c) and
 * central finite differences of that reference, for every activation in every
 * role and every loss, on nets of six or more layers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "autoenc.h"
#include "grad_check.h"
#include "reference_net.h"
#include "test_data.h"
#include "test_models.h"

#define N_ACTIVATIONS 7

/* The reference loss at the reference's current parameters, for central differences. */
typedef struct fd_point {
    const ref_net *net;
    const float *x;
    size_t n_rows, ld;
} fd_point;

static double reference_loss(void *context)
{
    const fd_point *p = context;
    return ref_net_loss(p->net, p->x, p->n_rows, p->ld);
}

/* Valid test points keep every pre-activation feeding a kinked activation (relu,
 * leaky relu, elu) at least this far from 0. An FD step moves a pre-activation by
 * ~1e-5 at most and the float forward pass by ~1e-6, so neither can cross a kink. */
#define KINK_MARGIN 1e-3

typedef struct grad_case {
    const size_t *encoder;
    size_t n_encoder;
    const size_t *decoder; /* NULL: mirrored */
    size_t n_decoder;
    int hidden, latent, output, loss;
    size_t n_rows;
    size_t ld_extra;     /* ld = input_dim + ld_extra */
    double leaky_slope;  /* 0: keep the default */
    double elu_alpha;    /* 0: keep the default */
    double output_bias;  /* non-zero: every output bias set to +-this (saturating logits) */
} grad_case;

static const size_t mirrored_encoder[] = {7, 6, 5, 3};
static const size_t asym_encoder[] = {8, 6, 5, 4};
static const size_t asym_decoder[] = {4, 7, 5, 8};
static const size_t deep_encoder[] = {9, 8, 6, 4, 2};
static const size_t deep_decoder[] = {2, 5, 7, 6, 9};

static const int output_variants[][2] = {
    {AE_ACT_LINEAR, AE_LOSS_MSE},
    {AE_ACT_SIGMOID, AE_LOSS_MSE},
    {AE_ACT_TANH, AE_LOSS_MSE},
    {AE_ACT_SIGMOID, AE_LOSS_BCE},
};

static const char *act_name(int act)
{
    const char *name = ae_activation_name((ae_activation)act);
    return name ? name : "?";
}

static ae_model *create_model(const grad_case *c)
{
    ae_model *model = NULL;
    int rc = ae_model_create(&model, c->encoder, c->n_encoder, c->decoder, c->n_decoder);
    if (rc != AE_OK)
        print_error("create: %s\n", ae_last_error());
    assert_int_equal(rc, AE_OK);
    test_set_activations(model, c->hidden, c->latent, c->output);
    test_set_param(model, AE_PARAM_LOSS, c->loss);
    if (c->leaky_slope != 0)
        test_set_param(model, AE_PARAM_LEAKY_SLOPE, c->leaky_slope);
    if (c->elu_alpha != 0)
        test_set_param(model, AE_PARAM_ELU_ALPHA, c->elu_alpha);
    return model;
}


/* Data: uniform in [-1, 1] for MSE, in [0, 1] for BCE with some exact 0 and 1
 * targets. Padding columns hold NaN (test_random_matrix), so reading them shows. */
static float *make_data(const grad_case *c, size_t input_dim, test_rng *rng)
{
    size_t ld = input_dim + c->ld_extra;
    float *x;
    if (c->loss == AE_LOSS_BCE) {
        x = test_random_matrix(rng, c->n_rows, input_dim, ld, 0.0f, 1.0f);
        assert_non_null(x);
        x[0] = 0.0f;
        x[1] = 1.0f;
        x[(c->n_rows - 1) * ld + input_dim - 1] = 1.0f;
    } else {
        x = test_random_matrix(rng, c->n_rows, input_dim, ld, -1.0f, 1.0f);
        assert_non_null(x);
    }
    return x;
}

static double rel_diff(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

/* Check loss, per-row score and every gradient entry of one configuration.
 * Draws parameters and data until no pre-activation sits within KINK_MARGIN of a
 * kink (a property of the test point, not of the library). */
static void check_case(const grad_case *c, uint64_t seed, const char *label)
{
    ae_model *model = create_model(c);
    size_t input_dim = ae_model_input_dim(model), ld = input_dim + c->ld_extra;
    size_t n_params = ae_model_param_count(model);

    test_rng rng;
    test_rng_seed(&rng, seed);
    ref_net net;
    float *x = NULL;
    int attempt;
    for (attempt = 0; attempt < 20; attempt++) {
        free(x);
        free(test_set_spread_params(model, &rng, c->output_bias));
        x = make_data(c, input_dim, &rng);
        assert_int_equal(ref_net_from_model(&net, model), 0);
        if (ref_net_min_kink_distance(&net, x, c->n_rows, ld) >= KINK_MARGIN)
            break;
        ref_net_free(&net);
    }
    assert_true(attempt < 20);

    /* The reference sees what was configured. */
    assert_int_equal(net.loss, c->loss);
    assert_int_equal(net.layers[0].activation, c->hidden);
    assert_int_equal(net.layers[net.n_layers - 1].activation, c->output);
    assert_int_equal(net.layers[ae_model_encoder_layer_count(model) - 1].activation, c->latent);

    /* (a) losses */
    double ref_loss = ref_net_loss(&net, x, c->n_rows, ld);
    assert_true(isfinite(ref_loss));
    float *grad = malloc(n_params * sizeof *grad);
    assert_non_null(grad);
    double grad_loss = NAN, model_loss = NAN;
    int rc = ae_model_gradient(model, x, c->n_rows, ld, grad, n_params, &grad_loss);
    if (rc != AE_OK)
        print_error("%s: gradient: %s\n", label, ae_model_last_error(model));
    assert_int_equal(rc, AE_OK);
    assert_int_equal(ae_model_loss(model, x, c->n_rows, ld, &model_loss), AE_OK);
    if (rel_diff(grad_loss, ref_loss) > GRAD_LOSS_RTOL || rel_diff(model_loss, ref_loss) > GRAD_LOSS_RTOL)
        print_error("%s: loss reference %.9g, gradient %.9g, loss %.9g\n", label, ref_loss,
                    grad_loss, model_loss);
    assert_true(rel_diff(grad_loss, ref_loss) <= GRAD_LOSS_RTOL);
    assert_true(rel_diff(model_loss, ref_loss) <= GRAD_LOSS_RTOL);

    /* per-row score */
    double *ref_rows = malloc(c->n_rows * sizeof *ref_rows);
    float *scores = malloc(c->n_rows * sizeof *scores);
    assert_non_null(ref_rows);
    assert_non_null(scores);
    assert_int_equal(ref_net_row_losses(&net, x, c->n_rows, ld, ref_rows), 0);
    assert_int_equal(ae_model_score(model, x, c->n_rows, ld, scores), AE_OK);
    for (size_t r = 0; r < c->n_rows; r++) {
        if (rel_diff(scores[r], ref_rows[r]) > GRAD_LOSS_RTOL)
            print_error("%s: score row %zu: %.9g vs reference %.9g\n", label, r, (double)scores[r],
                        ref_rows[r]);
        assert_true(rel_diff(scores[r], ref_rows[r]) <= GRAD_LOSS_RTOL);
    }

    /* (b) every parameter against the central difference of the double loss */
    double *fd = malloc(n_params * sizeof *fd);
    assert_non_null(fd);
    fd_point point = {&net, x, c->n_rows, ld};
    grad_central_differences(net.params, n_params, reference_loss, &point, fd);
    grad_check gc = {.label = label};
    for (size_t l = 0; l < net.n_layers; l++) {
        const ref_layer *layer = &net.layers[l];
        char what[64];
        snprintf(what, sizeof what, "layer %zu weights", l);
        grad_check_tensor(&gc, what, grad, fd, layer->w_offset, layer->n_out * layer->n_in);
        snprintf(what, sizeof what, "layer %zu bias", l);
        grad_check_tensor(&gc, what, grad, fd, layer->b_offset, layer->n_out);
    }
    grad_check_finish(&gc);

    free(fd);
    free(ref_rows);
    free(scores);
    free(grad);
    free(x);
    ref_net_free(&net);
    ae_model_free(model);
}

/* All four output/loss variants with @p hidden in the hidden layers. */
static void check_hidden_activation(int hidden)
{
    for (size_t v = 0; v < sizeof output_variants / sizeof output_variants[0]; v++) {
        grad_case c = {mirrored_encoder, 4, NULL, 0, hidden, AE_ACT_LINEAR,
                       output_variants[v][0], output_variants[v][1], 5, 0, 0, 0, 0};
        /* tanh-output cases use a leading dimension wider than the row */
        if (c.output == AE_ACT_TANH)
            c.ld_extra = 3;
        char label[96];
        snprintf(label, sizeof label, "hidden %s, output %s, %s", act_name(hidden),
                 act_name(c.output), c.loss == AE_LOSS_BCE ? "bce" : "mse");
        check_case(&c, 1000u + 10u * (uint64_t)hidden + v, label);
    }
}

static void test_gradient_matches_reference_with_linear_hidden_layers(void **state)
{
    (void)state;
    check_hidden_activation(AE_ACT_LINEAR);
}

static void test_gradient_matches_reference_with_relu_hidden_layers(void **state)
{
    (void)state;
    check_hidden_activation(AE_ACT_RELU);
}

static void test_gradient_matches_reference_with_leaky_relu_hidden_layers(void **state)
{
    (void)state;
    check_hidden_activation(AE_ACT_LEAKY_RELU);
}

static void test_gradient_matches_reference_with_elu_hidden_layers(void **state)
{
    (void)state;
    check_hidden_activation(AE_ACT_ELU);
}

static void test_gradient_matches_reference_with_sigmoid_hidden_layers(void **state)
{
    (void)state;
    check_hidden_activation(AE_ACT_SIGMOID);
}

static void test_gradient_matches_reference_with_tanh_hidden_layers(void **state)
{
    (void)state;
    check_hidden_activation(AE_ACT_TANH);
}

static void test_gradient_matches_reference_with_softplus_hidden_layers(void **state)
{
    (void)state;
    check_hidden_activation(AE_ACT_SOFTPLUS);
}

/* Every latent activation, each under MSE/linear and BCE/sigmoid outputs, on a
 * net whose decoder does not mirror the encoder. */
static void test_gradient_matches_reference_for_every_latent_activation(void **state)
{
    (void)state;
    for (int latent = 0; latent < N_ACTIVATIONS; latent++) {
        for (int bce = 0; bce < 2; bce++) {
            int hidden = (latent + 3) % N_ACTIVATIONS; /* vary the neighbours too */
            grad_case c = {asym_encoder, 4, asym_decoder, 4, hidden, latent,
                           bce ? AE_ACT_SIGMOID : AE_ACT_LINEAR, bce ? AE_LOSS_BCE : AE_LOSS_MSE,
                           5, bce ? 2 : 0, 0, 0, 0};
            char label[96];
            snprintf(label, sizeof label, "latent %s, hidden %s, %s", act_name(latent),
                     act_name(hidden), bce ? "bce" : "mse");
            check_case(&c, 2000u + 10u * (uint64_t)latent + (uint64_t)bce, label);
        }
    }
}

/* Every activation as the output of an MSE model. */
static void test_gradient_matches_reference_for_every_output_activation_with_mse(void **state)
{
    (void)state;
    for (int output = 0; output < N_ACTIVATIONS; output++) {
        grad_case c = {mirrored_encoder, 4, NULL, 0, AE_ACT_TANH, AE_ACT_LINEAR, output,
                       AE_LOSS_MSE, 5, 0, 0, 0, 0};
        char label[96];
        snprintf(label, sizeof label, "output %s, mse", act_name(output));
        check_case(&c, 3000u + (uint64_t)output, label);
    }
}

/* Eight layers, asymmetric, with every kind of activation along the way. */
static void test_gradient_matches_reference_on_a_deep_asymmetric_net(void **state)
{
    (void)state;
    const int hidden[] = {AE_ACT_ELU, AE_ACT_LEAKY_RELU, AE_ACT_SOFTPLUS, AE_ACT_TANH};
    for (size_t k = 0; k < sizeof hidden / sizeof hidden[0]; k++) {
        grad_case c = {deep_encoder, 5, deep_decoder, 5, hidden[k], AE_ACT_TANH, AE_ACT_SIGMOID,
                       k % 2 ? AE_LOSS_BCE : AE_LOSS_MSE, 6, 5, 0, 0, 0};
        char label[96];
        snprintf(label, sizeof label, "deep, hidden %s", act_name(hidden[k]));
        check_case(&c, 4000u + k, label);
    }
}

/* One row (online training) takes its own path: outer products and sgemv instead of
 * sgemm with an inner dimension of 1; the same gradient, on plain and asymmetric nets. */
static void test_gradient_matches_reference_for_a_single_row(void **state)
{
    (void)state;
    const int hidden[] = {AE_ACT_RELU, AE_ACT_TANH, AE_ACT_ELU, AE_ACT_SIGMOID};
    for (size_t k = 0; k < sizeof hidden / sizeof hidden[0]; k++) {
        grad_case deep = {deep_encoder, 5, deep_decoder, 5, hidden[k], AE_ACT_LINEAR, AE_ACT_SIGMOID,
                          k % 2 ? AE_LOSS_BCE : AE_LOSS_MSE, 1, 3, 0, 0, 0};
        grad_case mirrored = {mirrored_encoder, 4, NULL, 0, hidden[k], AE_ACT_TANH, AE_ACT_LINEAR,
                              AE_LOSS_MSE, 1, 0, 0, 0, 0};
        char label[96];
        snprintf(label, sizeof label, "one row, deep, hidden %s", act_name(hidden[k]));
        check_case(&deep, 6000u + k, label);
        snprintf(label, sizeof label, "one row, mirrored, hidden %s", act_name(hidden[k]));
        check_case(&mirrored, 6100u + k, label);
    }
}

/* BCE computed from the logits stays finite and exact when the output saturates
 * (|z| = 40: sigmoid(z) rounds to 0 or 1 in float, log(y) would be -Inf). */
static void test_bce_loss_and_gradient_are_exact_for_saturated_logits(void **state)
{
    (void)state;
    grad_case c = {mirrored_encoder, 4, NULL, 0, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_SIGMOID,
                   AE_LOSS_BCE, 5, 0, 0, 0, 40.0};
    check_case(&c, 5000u, "bce, saturated logits");
}

/* A non-default slope (and ELU alpha) must reach the forward pass, the loss and
 * the gradient: the library matches the reference that uses the new value and is
 * far from the one that uses the default. */
static void check_setting_is_honoured(int activation, ae_param param, double value,
                                      double default_value, const char *label)
{
    grad_case c = {mirrored_encoder, 4, NULL, 0, activation, activation, AE_ACT_LINEAR,
                   AE_LOSS_MSE, 5, 0, 0, 0, 0};
    if (param == AE_PARAM_LEAKY_SLOPE)
        c.leaky_slope = value;
    else
        c.elu_alpha = value;
    check_case(&c, 6000u + (uint64_t)param, label);

    ae_model *model = create_model(&c);
    double got;
    assert_int_equal(ae_model_get_param(model, param, &got), AE_OK);
    assert_true(got == value);
    test_rng rng;
    test_rng_seed(&rng, 6100u + (uint64_t)param);
    free(test_set_spread_params(model, &rng, c.output_bias));
    float *x = make_data(&c, ae_model_input_dim(model), &rng);
    ref_net net;
    assert_int_equal(ref_net_from_model(&net, model), 0);
    double with_value = ref_net_loss(&net, x, c.n_rows, 7);
    if (param == AE_PARAM_LEAKY_SLOPE)
        net.leaky_slope = default_value;
    else
        net.elu_alpha = default_value;
    double with_default = ref_net_loss(&net, x, c.n_rows, 7);
    double lib;
    assert_int_equal(ae_model_loss(model, x, c.n_rows, 7, &lib), AE_OK);
    /* the setting matters for this data (else the test could not fail) ... */
    assert_true(rel_diff(with_default, with_value) > 1e-2);
    /* ... and the library uses it */
    assert_true(rel_diff(lib, with_value) <= GRAD_LOSS_RTOL);
    free(x);
    ref_net_free(&net);
    ae_model_free(model);
}

static void test_leaky_relu_uses_the_configured_slope(void **state)
{
    (void)state;
    check_setting_is_honoured(AE_ACT_LEAKY_RELU, AE_PARAM_LEAKY_SLOPE, 0.3, 0.01, "leaky slope 0.3");
}

static void test_elu_uses_the_configured_alpha(void **state)
{
    (void)state;
    check_setting_is_honoured(AE_ACT_ELU, AE_PARAM_ELU_ALPHA, 0.4, 1.0, "elu alpha 0.4");
    check_setting_is_honoured(AE_ACT_ELU, AE_PARAM_ELU_ALPHA, 2.5, 1.0, "elu alpha 2.5");
}

/* Loss and score on a batch large enough for any internal blocking of the
 * library, with a padded leading dimension. */
static void test_loss_and_score_match_reference_on_a_large_batch(void **state)
{
    (void)state;
    static const size_t encoder[] = {20, 12, 8, 4};
    const int losses[] = {AE_LOSS_MSE, AE_LOSS_BCE};
    for (size_t k = 0; k < 2; k++) {
        grad_case c = {encoder, 4, NULL, 0, AE_ACT_ELU, AE_ACT_LINEAR, AE_ACT_SIGMOID, losses[k],
                       3001, 5, 0, 0, 0};
        ae_model *model = create_model(&c);
        test_rng rng;
        test_rng_seed(&rng, 7000u + k);
        free(test_set_spread_params(model, &rng, c.output_bias));
        float *x = make_data(&c, 20, &rng);
        size_t ld = 25;
        ref_net net;
        assert_int_equal(ref_net_from_model(&net, model), 0);
        double *ref_rows = malloc(c.n_rows * sizeof *ref_rows);
        float *scores = malloc(c.n_rows * sizeof *scores);
        assert_non_null(ref_rows);
        assert_non_null(scores);
        assert_int_equal(ref_net_row_losses(&net, x, c.n_rows, ld, ref_rows), 0);
        assert_int_equal(ae_model_score(model, x, c.n_rows, ld, scores), AE_OK);
        size_t bad = 0;
        for (size_t r = 0; r < c.n_rows; r++)
            if (!(rel_diff(scores[r], ref_rows[r]) <= GRAD_LOSS_RTOL) && bad++ < 5)
                print_error("row %zu: score %.9g, reference %.9g\n", r, (double)scores[r],
                            ref_rows[r]);
        assert_int_equal(bad, 0);
        double lib;
        assert_int_equal(ae_model_loss(model, x, c.n_rows, ld, &lib), AE_OK);
        assert_true(rel_diff(lib, ref_net_loss(&net, x, c.n_rows, ld)) <= GRAD_LOSS_RTOL);
        free(ref_rows);
        free(scores);
        free(x);
        ref_net_free(&net);
        ae_model_free(model);
    }
}

/* Large batches: the bias gradients are column sums over every row. Summed one row after
 * another in float they lost digits as the sum grew (at 20,000 rows, 42 times torch's error
 * against float64, ten times that of the weight gradients, which sgemm accumulates in
 * blocks). A d-k-d linear model has a closed-form double gradient to hold them to: at 20,000
 * and 100,000 rows the biases must be at least as accurate as the weights. */
static void test_bias_gradients_keep_their_precision_over_large_batches(void **state)
{
    (void)state;
    enum { D = 16, K = 4 };
    static const size_t widths[] = {D, K};
    static const size_t batches[] = {20000, 100000};
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        const size_t n = batches[b];
        ae_model *m = test_create_model(widths, 2, NULL, 0);
        test_set_activations(m, AE_ACT_LINEAR, AE_ACT_LINEAR, AE_ACT_LINEAR);
        const size_t n_params = ae_model_param_count(m);
        test_rng rng;
        test_rng_seed(&rng, 4100 + b);
        float *p = malloc(n_params * sizeof *p), *g = malloc(n_params * sizeof *g);
        double *ref = calloc(n_params, sizeof *ref);
        assert_non_null(p);
        assert_non_null(g);
        assert_non_null(ref);
        for (size_t i = 0; i < n_params; i++)
            p[i] = (float)(test_rng_uniform(&rng) - 0.5);
        assert_int_equal(ae_model_set_params(m, p, n_params), AE_OK);
        float *x = test_random_matrix(&rng, n, D, D, 0.0f, 1.0f);
        assert_non_null(x);
        assert_int_equal(ae_model_gradient(m, x, n, D, g, n_params, NULL), AE_OK);
        /* The flat layout: W0 (K x D), W1 (D x K), b0 (K), b1 (D). */
        const float *w0 = p, *w1 = p + K * D, *b0 = p + 2 * K * D, *b1 = b0 + K;
        double *gw0 = ref, *gw1 = ref + K * D, *gb0 = ref + 2 * K * D, *gb1 = gb0 + K;
        for (size_t i = 0; i < n; i++) {
            const float *row = x + i * D;
            double h[K], dy[D], dh[K] = {0};
            for (size_t a = 0; a < K; a++) {
                h[a] = b0[a];
                for (size_t j = 0; j < D; j++)
                    h[a] += (double)w0[a * D + j] * row[j];
            }
            for (size_t j = 0; j < D; j++) {
                double y = b1[j];
                for (size_t a = 0; a < K; a++)
                    y += (double)w1[j * K + a] * h[a];
                dy[j] = 2.0 * (y - row[j]) / ((double)n * D);
                gb1[j] += dy[j];
                for (size_t a = 0; a < K; a++) {
                    gw1[j * K + a] += dy[j] * h[a];
                    dh[a] += dy[j] * w1[j * K + a];
                }
            }
            for (size_t a = 0; a < K; a++) {
                gb0[a] += dh[a];
                for (size_t j = 0; j < D; j++)
                    gw0[a * D + j] += dh[a] * row[j];
            }
        }
        double weight_err = 0, weight_scale = 0, bias_err = 0, bias_scale = 0;
        for (size_t i = 0; i < n_params; i++) {
            double err = fabs(g[i] - ref[i]), scale = fabs(ref[i]);
            if (i < 2 * K * D) {
                weight_err = fmax(weight_err, err);
                weight_scale = fmax(weight_scale, scale);
            } else {
                bias_err = fmax(bias_err, err);
                bias_scale = fmax(bias_scale, scale);
            }
        }
        weight_err /= weight_scale;
        bias_err /= bias_scale;
        print_message("      %zu rows: relative error of the weight gradients %.2g, of the bias "
                      "gradients %.2g\n", n, weight_err, bias_err);
        assert_true(bias_err <= weight_err);
        assert_true(bias_err <= 4 * FLT_EPSILON);
        free(x);
        free(p);
        free(g);
        free(ref);
        ae_model_free(m);
    }
}

/* A BCE training pass over narrow rows stored back to back runs the output layer as one
 * block across row boundaries; rows with a leading dimension beyond their width go row by
 * row. Both must give the same gradient bit for bit (the same arithmetic per element) and
 * the loss to float precision (only its summation order differs), for widths that leave a
 * partial chunk of 16. */
static void test_bce_gradient_of_a_contiguous_batch_matches_the_row_by_row_one(void **state)
{
    (void)state;
    static const size_t dims[] = {30, 7, 100, 33};
    for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++) {
        const size_t d = dims[c], n = 257, ld = d + 3;
        const size_t widths[] = {d, 5, 3};
        ae_model *m = test_create_model(widths, 3, NULL, 0);
        test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
        test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
        const size_t n_params = ae_model_param_count(m);
        test_rng rng;
        test_rng_seed(&rng, 4200 + c);
        float *x = test_random_matrix(&rng, n, d, d, 0.0f, 1.0f);
        float *strided = malloc(n * ld * sizeof *strided);
        float *g_block = malloc(n_params * sizeof *g_block), *g_rows = malloc(n_params * sizeof *g_rows);
        assert_non_null(x);
        assert_non_null(strided);
        assert_non_null(g_block);
        assert_non_null(g_rows);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < ld; j++)
                strided[i * ld + j] = j < d ? x[i * d + j] : 0.5f;
        double loss_block = 0.0, loss_rows = 0.0;
        assert_int_equal(ae_model_gradient(m, x, n, d, g_block, n_params, &loss_block), AE_OK);
        assert_int_equal(ae_model_gradient(m, strided, n, ld, g_rows, n_params, &loss_rows), AE_OK);
        assert_memory_equal(g_block, g_rows, n_params * sizeof *g_block);
        /* Only the loss's summation order differs (float lanes added in double once per row,
         * or double lanes over the block): both within float precision of the double loss. */
        ref_net ref;
        assert_int_equal(ref_net_from_model(&ref, m), 0);
        const double loss_ref = ref_net_loss(&ref, x, n, d);
        ref_net_free(&ref);
        print_message("      width %zu: loss relative error %.2g (block), %.2g (row by row)\n", d,
                      fabs(loss_block - loss_ref) / loss_ref, fabs(loss_rows - loss_ref) / loss_ref);
        assert_true(fabs(loss_block - loss_ref) <= FLT_EPSILON * loss_ref);
        assert_true(fabs(loss_rows - loss_ref) <= FLT_EPSILON * loss_ref);
        free(x);
        free(strided);
        free(g_block);
        free(g_rows);
        ae_model_free(m);
    }
}

/* A training pass of a small model multiplies some layers by a transposed copy of their
 * weights (src/net.c, ae_multiplies_copy: from 8 rows, layers of 16 units or more whose
 * product stays within OpenBLAS's small kernels; every untied layer of a step split between
 * threads in parts of at most 256 rows), made anew at every pass. Its loss is the double
 * reference's and its gradient matches central differences at entries spread over every
 * tensor, before and after training steps (the copies follow the weights), on rows back to
 * back and with a wider leading dimension, whole and split, with layers that take the copy
 * beside layers that do not (48-64-6's 6 units, 30-16-4's 4). */
static void test_gradient_matches_reference_where_the_forward_reads_transposed_weights(void **state)
{
    (void)state;
    static const size_t wide[] = {48, 64, 6};   /* 3,072 weights in the broadest layer */
    static const size_t narrow[] = {30, 16, 4}; /* every layer copied only when split */
    enum { SAMPLES = 5 };
    for (int k = 0; k < 4; k++) {
        /* k = 2 split: two parts of 128 rows; k = 3 a small batch, whole */
        const size_t rows = k < 2 ? 70 : k == 2 ? 256 : 12;
        const grad_case c = {k < 2 ? wide : narrow, 3, NULL, 0, AE_ACT_TANH, AE_ACT_LINEAR,
                             k == 1 ? AE_ACT_TANH : AE_ACT_SIGMOID, k == 1 ? AE_LOSS_MSE : AE_LOSS_BCE,
                             rows, k == 1 ? 3 : 0, 0, 0, 0};
        ae_model *model = create_model(&c);
        if (k == 2)
            test_set_param(model, AE_PARAM_THREADS, 2);
        const size_t d = ae_model_input_dim(model), ld = d + c.ld_extra, n = ae_model_param_count(model);
        test_rng rng;
        test_rng_seed(&rng, 5000u + (uint64_t)k);
        free(test_set_spread_params(model, &rng, 0.0));
        float *x = make_data(&c, d, &rng), *grad = malloc(n * sizeof *grad);
        assert_non_null(grad);
        for (int round = 0; round < 2; round++) {
            ref_net net;
            assert_int_equal(ref_net_from_model(&net, model), 0);
            double loss = NAN;
            assert_int_equal(ae_model_gradient(model, x, rows, ld, grad, n, &loss), AE_OK);
            assert_true(rel_diff(loss, ref_net_loss(&net, x, rows, ld)) <= GRAD_LOSS_RTOL);
            grad_check gc = {.label = k == 0   ? "transposed forward, bce"
                                      : k == 1 ? "transposed forward, mse"
                                      : k == 2 ? "transposed forward split by rows, bce"
                                               : "transposed forward of 12 rows, bce"};
            for (size_t l = 0; l < net.n_layers; l++) {
                const ref_layer *L = &net.layers[l];
                const size_t starts[2] = {L->w_offset, L->b_offset}, counts[2] = {L->n_out * L->n_in, L->n_out};
                for (int t = 0; t < 2; t++) {
                    double scale = 0.0;
                    for (size_t i = 0; i < counts[t]; i++)
                        scale = fmax(scale, fabs((double)grad[starts[t] + i]));
                    assert_true(scale > 1e-7);
                    for (size_t s = 0; s < SAMPLES; s++) {
                        const size_t i = starts[t] + (counts[t] - 1) * s / (SAMPLES - 1);
                        const double p = net.params[i], h = GRAD_FD_STEP * fmax(1.0, fabs(p));
                        net.params[i] = p + h;
                        const double up = ref_net_loss(&net, x, rows, ld);
                        net.params[i] = p - h;
                        const double down = ref_net_loss(&net, x, rows, ld);
                        net.params[i] = p;
                        const double fd = (up - down) / (2.0 * h);
                        const double err = fabs((double)grad[i] - fd), tol = GRAD_RTOL * fabs(fd) + GRAD_ATOL * scale;
                        if (err > tol && gc.failures++ < 5)
                            print_error("%s, round %d: parameter %zu: %.9g vs %.9g\n", gc.label, round, i,
                                        (double)grad[i], fd);
                    }
                }
            }
            grad_check_finish(&gc);
            ref_net_free(&net);
            for (int step = 0; round == 0 && step < 3; step++) /* the weights move; the copies must too */
                assert_int_equal(ae_model_train_batch(model, x, rows, ld, NULL), AE_OK);
        }
        free(grad);
        free(x);
        ae_model_free(model);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bias_gradients_keep_their_precision_over_large_batches),
        cmocka_unit_test(test_bce_gradient_of_a_contiguous_batch_matches_the_row_by_row_one),
        cmocka_unit_test(test_gradient_matches_reference_with_linear_hidden_layers),
        cmocka_unit_test(test_gradient_matches_reference_with_relu_hidden_layers),
        cmocka_unit_test(test_gradient_matches_reference_with_leaky_relu_hidden_layers),
        cmocka_unit_test(test_gradient_matches_reference_with_elu_hidden_layers),
        cmocka_unit_test(test_gradient_matches_reference_with_sigmoid_hidden_layers),
        cmocka_unit_test(test_gradient_matches_reference_with_tanh_hidden_layers),
        cmocka_unit_test(test_gradient_matches_reference_with_softplus_hidden_layers),
        cmocka_unit_test(test_gradient_matches_reference_for_every_latent_activation),
        cmocka_unit_test(test_gradient_matches_reference_for_every_output_activation_with_mse),
        cmocka_unit_test(test_gradient_matches_reference_on_a_deep_asymmetric_net),
        cmocka_unit_test(test_gradient_matches_reference_for_a_single_row),
        cmocka_unit_test(test_bce_loss_and_gradient_are_exact_for_saturated_logits),
        cmocka_unit_test(test_leaky_relu_uses_the_configured_slope),
        cmocka_unit_test(test_elu_uses_the_configured_alpha),
        cmocka_unit_test(test_loss_and_score_match_reference_on_a_large_batch),
        cmocka_unit_test(test_gradient_matches_reference_where_the_forward_reads_transposed_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
