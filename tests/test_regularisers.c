/* Regularisers: the sparsity (KL), activity-L1 and contractive penalties and dropout.
 *
 * The penalties are checked term by term against the independent double-precision
 * reference (tests/support/reference_net.c): ae_model_gradient's objective and every
 * gradient entry, against central differences of the reference objective, alone and
 * together, for every latent activation, on one-, two- and three-layer encoders, with
 * sparsity on the latent layer and on hidden encoder layers. Then the rules around
 * them: which configurations are refused, what they leave alone (ae_model_loss,
 * ae_model_score, validation losses) and that all-zero weights mean no penalty.
 * Dropout is checked through exact properties of identity networks, whose training
 * loss reveals how many values a step dropped and how the survivors were scaled. */
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
#include "grad_check.h"
#include "reference_net.h"
#include "test_data.h"
#include "test_models.h"

#define N_ACTIVATIONS 7
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The tolerances of tests/support/grad_check.h hold for the same reasons: the nets are
 * as small (widths <= 8, <= 6 layers, 6 rows) and the penalties add only short float sums
 * to the objective and its gradient (<= 5 units times <= 6 rows, plus one row norm of
 * <= 7 squares per unit), whose rounding error is again ~1e-6 of a tensor's scale, while a
 * wrong derivative, a missing act'' term, a wrong 1/n or a KL mean over the wrong axis
 * moves entries by a large fraction of it. */
/* No pre-activation of a kinked activation (relu, leaky relu, elu; with L1 on, any
 * latent unit whose code crosses 0) within this distance of its kink. */
#define KINK_MARGIN 1e-3

/* An enabled penalty must move some gradient entry by at least this many times its
 * tolerance, and its value must be at least this share of the objective, or the
 * check could not tell it from a library that ignored it. */
#define PENALTY_GRAD_MARGIN 10.0
#define PENALTY_VALUE_SHARE 1e-2

static const size_t encoder_1[] = {7, 4};
static const size_t encoder_2[] = {7, 5, 4};
static const size_t encoder_3[] = {8, 6, 5, 3};
static const size_t *const encoders[] = {encoder_1, encoder_2, encoder_3};
static const size_t encoder_widths[] = {2, 3, 4};

typedef struct pen_case {
    size_t depth; /* encoder layers, 1..3 */
    int hidden, latent, output, loss;
    double sparsity_weight, sparsity_target;
    long sparsity_layer; /* -1: the latent layer */
    double activity_l1, contractive_weight;
    double leaky_slope, elu_alpha; /* 0: keep the default */
    double saturation_bias;        /* non-zero: latent units 0 and 1 get biases -+ this */
} pen_case;

static const char *act_name(int act)
{
    const char *name = ae_activation_name((ae_activation)act);
    return name ? name : "?";
}

static double rel_diff(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

static ae_model *create_model(const pen_case *c)
{
    ae_model *model = test_create_model(encoders[c->depth - 1], encoder_widths[c->depth - 1], NULL, 0);
    test_set_activations(model, c->hidden, c->latent, c->output);
    test_set_param(model, AE_PARAM_LOSS, c->loss);
    if (c->leaky_slope != 0)
        test_set_param(model, AE_PARAM_LEAKY_SLOPE, c->leaky_slope);
    if (c->elu_alpha != 0)
        test_set_param(model, AE_PARAM_ELU_ALPHA, c->elu_alpha);
    test_set_param(model, AE_PARAM_SPARSITY_WEIGHT, c->sparsity_weight);
    if (c->sparsity_target != 0)
        test_set_param(model, AE_PARAM_SPARSITY_TARGET, c->sparsity_target);
    test_set_param(model, AE_PARAM_SPARSITY_LAYER, (double)c->sparsity_layer);
    test_set_param(model, AE_PARAM_ACTIVITY_L1, c->activity_l1);
    test_set_param(model, AE_PARAM_CONTRACTIVE_WEIGHT, c->contractive_weight);
    return model;
}

/* Random weights (normal, std 1.3/sqrt(n_in)) and biases of random sign with
 * 0.1 <= |b| <= 0.5, as in test_gradients.c; with a saturation bias s, latent units
 * 0 and 1 get biases -s and +s so that their batch means fall outside the clamp
 * range [1e-6, 1 - 1e-6]. */
static void set_random_params(ae_model *model, const pen_case *c, test_rng *rng)
{
    float *params = test_set_spread_params(model, rng, 0);
    if (c->saturation_bias != 0) {
        size_t latent = ae_model_encoder_layer_count(model) - 1, n_out;
        assert_int_equal(ae_model_layer_info(model, latent, &n_out, NULL, NULL), AE_OK);
        float *bias = malloc(n_out * sizeof *bias);
        assert_non_null(bias);
        assert_int_equal(ae_model_get_bias(model, latent, bias, n_out), AE_OK);
        bias[0] = (float)-c->saturation_bias;
        bias[1] = (float)c->saturation_bias;
        assert_int_equal(ae_model_set_bias(model, latent, bias, n_out), AE_OK);
        free(bias);
    }
    free(params);
}

/* Uniform in [-1, 1] for MSE, in [0, 1] for BCE. */
static float *make_data(const pen_case *c, size_t n_rows, size_t input_dim, test_rng *rng)
{
    float *x = c->loss == AE_LOSS_BCE ? test_random_matrix(rng, n_rows, input_dim, input_dim, 0.0f, 1.0f)
                                      : test_random_matrix(rng, n_rows, input_dim, input_dim, -1.0f, 1.0f);
    assert_non_null(x);
    return x;
}

enum { N_ROWS = 6 };

/* The objective and every gradient entry of one configuration against the reference;
 * also checks that ae_model_loss stays the reconstruction loss and that a training
 * step reports the objective. */
static void check_case(const pen_case *c, uint64_t seed, const char *label)
{
    ae_model *model = create_model(c);
    size_t input_dim = ae_model_input_dim(model), n_params = ae_model_param_count(model);

    test_rng rng;
    test_rng_seed(&rng, seed);
    ref_net net;
    float *x = NULL;
    int attempt;
    for (attempt = 0; attempt < 20; attempt++) {
        free(x);
        set_random_params(model, c, &rng);
        x = make_data(c, N_ROWS, input_dim, &rng);
        assert_int_equal(ref_net_from_model(&net, model), 0);
        if (ref_net_min_kink_distance(&net, x, N_ROWS, input_dim) >= KINK_MARGIN)
            break;
        ref_net_free(&net);
    }
    assert_true(attempt < 20);
    if (c->saturation_bias != 0) {
        /* The saturated units really are in the clamped regime, with room to spare. */
        double means[8];
        assert_int_equal(ref_net_mean_activations(&net, x, N_ROWS, input_dim, c->depth - 1, means), 0);
        assert_true(means[0] < 0.5e-6);
        assert_true(1.0 - means[1] < 0.5e-6);
    }

    /* The reference sees what was configured. */
    assert_true(net.sparsity_weight == c->sparsity_weight);
    assert_true(net.sparsity_layer == c->sparsity_layer);
    assert_true(net.activity_l1 == c->activity_l1);
    assert_true(net.contractive_weight == c->contractive_weight);
    assert_int_equal(net.n_encoder_layers, c->depth);
    assert_int_equal(net.layers[c->depth - 1].activation, c->latent);

    ref_objective terms;
    assert_int_equal(ref_net_objective_terms(&net, x, N_ROWS, input_dim, &terms), 0);
    assert_true(isfinite(terms.total));
    /* Every enabled penalty weighs in the objective (else this could not fail). */
    if (c->sparsity_weight != 0)
        assert_true(terms.sparsity > PENALTY_VALUE_SHARE * terms.total);
    if (c->activity_l1 != 0)
        assert_true(terms.activity > PENALTY_VALUE_SHARE * terms.total);
    if (c->contractive_weight != 0)
        assert_true(terms.contractive > PENALTY_VALUE_SHARE * terms.total);

    /* (a) values: the gradient's loss is the objective, ae_model_loss the
     * reconstruction loss alone, a training step reports the objective. */
    float *grad = malloc(n_params * sizeof *grad);
    assert_non_null(grad);
    double grad_loss = NAN, model_loss = NAN, step_loss = NAN;
    int rc = ae_model_gradient(model, x, N_ROWS, input_dim, grad, n_params, &grad_loss);
    if (rc != AE_OK)
        print_error("%s: gradient: %s\n", label, ae_model_last_error(model));
    assert_int_equal(rc, AE_OK);
    assert_int_equal(ae_model_loss(model, x, N_ROWS, input_dim, &model_loss), AE_OK);
    ae_model *stepped = test_clone_model(model);
    rc = ae_model_train_batch(stepped, x, N_ROWS, input_dim, &step_loss);
    if (rc != AE_OK)
        print_error("%s: train_batch: %s\n", label, ae_model_last_error(stepped));
    assert_int_equal(rc, AE_OK);
    ae_model_free(stepped);
    if (rel_diff(grad_loss, terms.total) > GRAD_LOSS_RTOL || rel_diff(step_loss, terms.total) > GRAD_LOSS_RTOL ||
        rel_diff(model_loss, terms.reconstruction) > GRAD_LOSS_RTOL)
        print_error("%s: objective: reference %.9g (reconstruction %.9g, sparsity %.9g, "
                    "activity %.9g, contractive %.9g); gradient %.9g, step %.9g; loss %.9g\n",
                    label, terms.total, terms.reconstruction, terms.sparsity, terms.activity,
                    terms.contractive, grad_loss, step_loss, model_loss);
    assert_true(rel_diff(grad_loss, terms.total) <= GRAD_LOSS_RTOL);
    assert_true(rel_diff(step_loss, terms.total) <= GRAD_LOSS_RTOL);
    assert_true(rel_diff(model_loss, terms.reconstruction) <= GRAD_LOSS_RTOL);

    /* (b) every parameter against the central difference of the reference objective;
     * fd_plain is that of the reconstruction loss alone, to show the penalties move
     * the gradient by much more than the tolerance. */
    double *fd = malloc(n_params * sizeof *fd), *fd_plain = malloc(n_params * sizeof *fd_plain);
    assert_non_null(fd);
    assert_non_null(fd_plain);
    assert_int_equal(ref_net_objective_gradient(&net, x, N_ROWS, input_dim, GRAD_FD_STEP, fd), 0);
    ref_net plain = net;
    plain.sparsity_weight = plain.activity_l1 = plain.contractive_weight = 0;
    assert_int_equal(ref_net_objective_gradient(&plain, x, N_ROWS, input_dim, GRAD_FD_STEP, fd_plain), 0);

    grad_check gc = {.label = label};
    double penalty_effect = 0;
    for (size_t l = 0; l < net.n_layers; l++) {
        const ref_layer *layer = &net.layers[l];
        size_t starts[2] = {layer->w_offset, layer->b_offset};
        size_t counts[2] = {layer->n_out * layer->n_in, layer->n_out};
        for (int part = 0; part < 2; part++) {
            char what[64];
            snprintf(what, sizeof what, "layer %zu %s", l, part ? "bias" : "weights");
            double scale = grad_check_tensor(&gc, what, grad, fd, starts[part], counts[part]);
            for (size_t i = starts[part]; i < starts[part] + counts[part]; i++)
                penalty_effect = fmax(penalty_effect, fabs(fd[i] - fd_plain[i]) /
                                                          (GRAD_RTOL * fabs(fd[i]) + GRAD_ATOL * scale));
        }
    }
    if (getenv("AE_TEST_VERBOSE"))
        print_message("%s: penalty effect/tolerance %.3g\n", label, penalty_effect);
    grad_check_finish(&gc);
    assert_true(penalty_effect > PENALTY_GRAD_MARGIN);

    free(fd);
    free(fd_plain);
    free(grad);
    free(x);
    ref_net_free(&net);
    ae_model_free(model);
}

/* Hidden activations to pair with a latent one: vary the neighbours too. */
static int neighbour_of(int latent, size_t depth)
{
    static const int hidden[] = {AE_ACT_TANH, AE_ACT_ELU, AE_ACT_SOFTPLUS, AE_ACT_LEAKY_RELU,
                                 AE_ACT_SIGMOID, AE_ACT_RELU, AE_ACT_LINEAR};
    return hidden[((size_t)latent + depth) % ARRAY_LEN(hidden)];
}

static pen_case base_case(size_t depth, int latent, size_t variant)
{
    pen_case c = {0};
    c.depth = depth;
    c.hidden = neighbour_of(latent, depth);
    c.latent = latent;
    c.output = variant % 2 ? AE_ACT_SIGMOID : AE_ACT_LINEAR;
    c.loss = variant % 2 ? AE_LOSS_BCE : AE_LOSS_MSE;
    c.sparsity_layer = -1;
    return c;
}

static void test_contractive_penalty_matches_reference_for_every_latent_activation_and_depth(void **state)
{
    (void)state;
    for (size_t depth = 1; depth <= 3; depth++) {
        for (int latent = 0; latent < N_ACTIVATIONS; latent++) {
            pen_case c = base_case(depth, latent, depth + (size_t)latent);
            c.contractive_weight = 0.3;
            char label[96];
            snprintf(label, sizeof label, "contractive, %zu-layer encoder, latent %s, hidden %s",
                     depth, act_name(latent), act_name(c.hidden));
            check_case(&c, 10000u + 100u * depth + (uint64_t)latent, label);
        }
    }
}

/* act' of leaky relu and elu below 0 is the slope and alpha * exp(z): the penalty and
 * its gradient must use the configured values. */
static void test_contractive_penalty_uses_the_configured_slope_and_alpha(void **state)
{
    (void)state;
    for (size_t depth = 1; depth <= 2; depth++) {
        pen_case c = base_case(depth, AE_ACT_LEAKY_RELU, depth);
        c.contractive_weight = 0.5;
        c.leaky_slope = 0.3;
        check_case(&c, 11000u + depth, "contractive, leaky slope 0.3");

        c = base_case(depth, AE_ACT_ELU, depth);
        c.contractive_weight = 0.5;
        c.elu_alpha = 2.5;
        check_case(&c, 11100u + depth, "contractive, elu alpha 2.5");
    }
}

static void test_activity_l1_penalty_matches_reference_for_every_latent_activation_and_depth(void **state)
{
    (void)state;
    for (size_t depth = 1; depth <= 3; depth++) {
        for (int latent = 0; latent < N_ACTIVATIONS; latent++) {
            pen_case c = base_case(depth, latent, depth + (size_t)latent + 1);
            c.activity_l1 = 0.2;
            char label[96];
            snprintf(label, sizeof label, "activity l1, %zu-layer encoder, latent %s, hidden %s",
                     depth, act_name(latent), act_name(c.hidden));
            check_case(&c, 12000u + 100u * depth + (uint64_t)latent, label);
        }
    }
}

static void test_sparsity_penalty_on_the_latent_layer_matches_reference(void **state)
{
    (void)state;
    const double targets[] = {0.05, 0.2, 0.6};
    for (size_t depth = 1; depth <= 3; depth++) {
        for (size_t t = 0; t < ARRAY_LEN(targets); t++) {
            pen_case c = base_case(depth, AE_ACT_SIGMOID, depth + t);
            c.sparsity_weight = 0.4;
            c.sparsity_target = targets[t];
            char label[96];
            snprintf(label, sizeof label, "sparsity, %zu-layer encoder, target %g", depth, targets[t]);
            check_case(&c, 13000u + 100u * depth + t, label);
        }
    }
}

/* The latent layer named by its index is the same as -1: same objective, same
 * gradient, bit for bit. */
static void test_sparsity_layer_minus_one_and_the_latent_index_agree(void **state)
{
    (void)state;
    pen_case c = base_case(3, AE_ACT_SIGMOID, 0);
    c.sparsity_weight = 0.4;
    c.sparsity_target = 0.1;
    c.sparsity_layer = 2;
    check_case(&c, 13500u, "sparsity, latent layer by index");

    ae_model *by_index = create_model(&c);
    test_rng rng;
    test_rng_seed(&rng, 13501u);
    set_random_params(by_index, &c, &rng);
    ae_model *by_default = test_clone_model(by_index);
    test_set_param(by_default, AE_PARAM_SPARSITY_LAYER, -1);
    float *x = make_data(&c, N_ROWS, 8, &rng);
    size_t n = ae_model_param_count(by_index);
    float *g1 = malloc(n * sizeof *g1), *g2 = malloc(n * sizeof *g2);
    assert_non_null(g1);
    assert_non_null(g2);
    double loss1, loss2;
    assert_int_equal(ae_model_gradient(by_index, x, N_ROWS, 8, g1, n, &loss1), AE_OK);
    assert_int_equal(ae_model_gradient(by_default, x, N_ROWS, 8, g2, n, &loss2), AE_OK);
    assert_true(loss1 == loss2);
    assert_memory_equal(g1, g2, n * sizeof *g1);
    free(g1);
    free(g2);
    free(x);
    ae_model_free(by_index);
    ae_model_free(by_default);
}

/* Sparsity on a hidden encoder layer (sigmoid hidden layers), with latent layers of
 * other activations: the penalty reaches only the layers up to the watched one. */
static void test_sparsity_penalty_on_a_hidden_encoder_layer_matches_reference(void **state)
{
    (void)state;
    const struct {
        size_t depth;
        long layer;
        int latent;
    } cases[] = {
        {2, 0, AE_ACT_LINEAR},
        {2, 0, AE_ACT_TANH},
        {3, 0, AE_ACT_ELU},
        {3, 1, AE_ACT_SOFTPLUS},
        {3, 1, AE_ACT_SIGMOID},
    };
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        pen_case c = base_case(cases[k].depth, cases[k].latent, k);
        c.hidden = AE_ACT_SIGMOID;
        c.sparsity_weight = 0.4;
        c.sparsity_target = 0.1;
        c.sparsity_layer = cases[k].layer;
        char label[96];
        snprintf(label, sizeof label, "sparsity on layer %ld of a %zu-layer encoder, latent %s",
                 cases[k].layer, cases[k].depth, act_name(cases[k].latent));
        check_case(&c, 14000u + k, label);
    }
}

/* Units whose batch mean lies below 1e-6 or above 1 - 1e-6: the KL terms use the
 * clamped means (finite, and far from their unclamped values), and since the clamped
 * objective is flat in those means, no gradient flows back through them. At biases
 * -+16 the means are ~1e-7 from 0 and 1 while sigmoid' is ~1e-7 too, so a gradient
 * passed through the clamp (beta/n * rho/1e-6 * sigmoid') would be as large as the
 * others and show; at -+30 sigmoid rounds to 0 and 1 in float. The other units are
 * checked as usual. */
static void test_sparsity_penalty_clamps_saturated_mean_activations(void **state)
{
    (void)state;
    const double biases[] = {16, 30};
    for (size_t depth = 1; depth <= 2; depth++) {
        for (size_t k = 0; k < ARRAY_LEN(biases); k++) {
            pen_case c = base_case(depth, AE_ACT_SIGMOID, depth);
            c.sparsity_weight = 0.4;
            c.sparsity_target = 0.05;
            c.saturation_bias = biases[k];
            char label[96];
            snprintf(label, sizeof label, "sparsity, %zu-layer encoder, units saturated by bias %g",
                     depth, biases[k]);
            check_case(&c, 15000u + 10u * depth + k, label);
        }
    }
}

static void test_all_penalties_together_match_reference(void **state)
{
    (void)state;
    const struct {
        size_t depth;
        int hidden, latent;
        long layer;
    } cases[] = {
        {1, AE_ACT_RELU, AE_ACT_SIGMOID, -1},
        {2, AE_ACT_TANH, AE_ACT_SIGMOID, -1},
        {3, AE_ACT_ELU, AE_ACT_SIGMOID, -1},
        {2, AE_ACT_SIGMOID, AE_ACT_TANH, 0},
        {3, AE_ACT_SIGMOID, AE_ACT_LEAKY_RELU, 1},
        {3, AE_ACT_SIGMOID, AE_ACT_SOFTPLUS, 0},
    };
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        pen_case c = base_case(cases[k].depth, cases[k].latent, k);
        c.hidden = cases[k].hidden;
        c.sparsity_weight = 0.3;
        c.sparsity_target = 0.15;
        c.sparsity_layer = cases[k].layer;
        c.activity_l1 = 0.15;
        c.contractive_weight = 0.2;
        char label[128];
        snprintf(label, sizeof label, "all penalties, %zu-layer encoder, hidden %s, latent %s, "
                 "sparsity layer %ld", cases[k].depth, act_name(c.hidden), act_name(c.latent),
                 c.sparsity_layer);
        check_case(&c, 16000u + k, label);
    }
}

/* --- configurations the library refuses, and what the penalties leave alone --- */

static ae_model *small_model(int hidden, int latent, int output)
{
    static const size_t widths[] = {6, 4, 3};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_activations(m, hidden, latent, output);
    test_set_epochs_and_batch(m, 1, 8);
    return m;
}

/* Every training call answers AE_ERR_STATE with a message and leaves the weights as
 * they were. */
static void expect_training_refused(ae_model *m, const char *label)
{
    test_rng rng;
    test_rng_seed(&rng, 17000u);
    float *x = test_random_matrix(&rng, 16, 6, 6, 0.0f, 1.0f);
    assert_non_null(x);
    size_t n = ae_model_param_count(m);
    float *before = test_params_of(m), *grad = malloc(n * sizeof *grad);
    assert_non_null(grad);
    double loss;
    ae_fit_report report = test_new_fit_report();
    int rc_grad = ae_model_gradient(m, x, 16, 6, grad, n, &loss);
    int rc_step = ae_model_train_batch(m, x, 16, 6, &loss);
    int rc_fit = ae_model_fit(m, x, 16, 6, &report);
    if (rc_grad != AE_ERR_STATE || rc_step != AE_ERR_STATE || rc_fit != AE_ERR_STATE)
        print_error("%s: gradient %d, train_batch %d, fit %d\n", label, rc_grad, rc_step, rc_fit);
    assert_int_equal(rc_grad, AE_ERR_STATE);
    assert_int_equal(rc_step, AE_ERR_STATE);
    assert_int_equal(rc_fit, AE_ERR_STATE);
    assert_true(strlen(ae_model_last_error(m)) > 0);
    assert_true(test_params_equal_to(m, before));
    free(before);
    free(grad);
    free(x);
}

static void expect_training_accepted(ae_model *m, const char *label)
{
    test_rng rng;
    test_rng_seed(&rng, 17001u);
    float *x = test_random_matrix(&rng, 16, 6, 6, 0.0f, 1.0f);
    assert_non_null(x);
    size_t n = ae_model_param_count(m);
    float *grad = malloc(n * sizeof *grad);
    assert_non_null(grad);
    double loss;
    int rc = ae_model_gradient(m, x, 16, 6, grad, n, &loss);
    if (rc != AE_OK)
        print_error("%s: %s\n", label, ae_model_last_error(m));
    assert_int_equal(rc, AE_OK);
    assert_int_equal(ae_model_train_batch(m, x, 16, 6, &loss), AE_OK);
    assert_int_equal(ae_model_fit(m, x, 16, 6, NULL), AE_OK);
    free(grad);
    free(x);
}

/* Setting `last` to `value` is refused (AE_ERR_STATE, the model unchanged) because it breaks
 * the sparsity rules against settings already chosen. */
static void expect_setting_refused(ae_model *m, ae_param last, double value, const char *label)
{
    double before;
    assert_int_equal(ae_model_get_param(m, last, &before), AE_OK);
    int rc = ae_model_set_param(m, last, value);
    if (rc != AE_ERR_STATE)
        print_error("%s: setting %s = %g gave %d\n", label, ae_param_name(last), value, rc);
    assert_int_equal(rc, AE_ERR_STATE);
    assert_non_null(strstr(ae_model_last_error(m), "conflicts with"));
    double after;
    assert_int_equal(ae_model_get_param(m, last, &after), AE_OK);
    assert_true(after == before);
}

/* Sparsity on a non-sigmoid layer is refused when the last of its settings is set, whichever
 * that is; with the watched layer never chosen (the caller may set it next), every training
 * call refuses instead. */
static void test_sparsity_on_a_non_sigmoid_layer_is_refused_by_every_training_call(void **state)
{
    (void)state;
    const int others[] = {AE_ACT_LINEAR, AE_ACT_RELU, AE_ACT_LEAKY_RELU, AE_ACT_ELU, AE_ACT_TANH,
                          AE_ACT_SOFTPLUS};
    for (size_t k = 0; k < ARRAY_LEN(others); k++) {
        const char *label = act_name(others[k]);
        /* the latent layer by default: left to training */
        ae_model *m = small_model(AE_ACT_SIGMOID, others[k], AE_ACT_SIGMOID);
        test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.5);
        expect_training_refused(m, label);
        ae_model_free(m);
        /* the latent layer chosen (by -1 and by index), before or after the weight */
        for (int by_index = 0; by_index < 2; by_index++) {
            const double layer = by_index ? 1 : -1;
            m = small_model(AE_ACT_SIGMOID, others[k], AE_ACT_SIGMOID);
            test_set_param(m, AE_PARAM_SPARSITY_LAYER, layer);
            expect_setting_refused(m, AE_PARAM_SPARSITY_WEIGHT, 0.5, label);
            ae_model_free(m);
            m = small_model(AE_ACT_SIGMOID, others[k], AE_ACT_SIGMOID);
            test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.5);
            expect_setting_refused(m, AE_PARAM_SPARSITY_LAYER, layer, label);
            ae_model_free(m);
        }
        /* a hidden encoder layer, before or after the weight */
        m = small_model(others[k], AE_ACT_SIGMOID, AE_ACT_SIGMOID);
        test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.5);
        expect_setting_refused(m, AE_PARAM_SPARSITY_LAYER, 0, label);
        test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0);
        test_set_param(m, AE_PARAM_SPARSITY_LAYER, 0);
        expect_setting_refused(m, AE_PARAM_SPARSITY_WEIGHT, 0.5, label);
        ae_model_free(m);
        /* the watched layer's activation changed last */
        m = small_model(AE_ACT_SIGMOID, AE_ACT_SIGMOID, AE_ACT_SIGMOID);
        test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.5);
        test_set_param(m, AE_PARAM_SPARSITY_LAYER, 0);
        expect_setting_refused(m, AE_PARAM_HIDDEN_ACTIVATION, others[k], label);
        test_set_param(m, AE_PARAM_SPARSITY_LAYER, -1);
        expect_setting_refused(m, AE_PARAM_LATENT_ACTIVATION, others[k], label);
        ae_model_free(m);
    }
    /* and the same models are accepted once the watched layer is sigmoid */
    ae_model *m = small_model(AE_ACT_RELU, AE_ACT_SIGMOID, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.5);
    expect_training_accepted(m, "sigmoid latent");
    ae_model_free(m);
    m = small_model(AE_ACT_SIGMOID, AE_ACT_LINEAR, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.5);
    test_set_param(m, AE_PARAM_SPARSITY_LAYER, 0);
    expect_training_accepted(m, "sigmoid hidden layer 0");
    ae_model_free(m);
}

/* Layers 2 and 3 of a 6-4-3-4-6 model are decoder layers (sigmoid here, so only their role is
 * wrong); 4095 is no layer at all. Refused when set, before or after the weight; the model
 * keeps training and scoring as it was. */
static void test_sparsity_on_a_decoder_layer_is_refused_by_every_training_call(void **state)
{
    (void)state;
    const double layers[] = {2, 3, AE_MAX_LAYERS - 1};
    for (size_t k = 0; k < ARRAY_LEN(layers); k++) {
        char label[32];
        snprintf(label, sizeof label, "layer %g", layers[k]);
        ae_model *m = small_model(AE_ACT_SIGMOID, AE_ACT_SIGMOID, AE_ACT_SIGMOID);
        test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.5);
        expect_setting_refused(m, AE_PARAM_SPARSITY_LAYER, layers[k], label);
        expect_training_accepted(m, label);
        ae_model_free(m);
        m = small_model(AE_ACT_SIGMOID, AE_ACT_SIGMOID, AE_ACT_SIGMOID);
        test_set_param(m, AE_PARAM_SPARSITY_LAYER, layers[k]);
        expect_setting_refused(m, AE_PARAM_SPARSITY_WEIGHT, 0.5, label);
        /* the inference calls do not involve the penalty and still work */
        test_rng rng;
        test_rng_seed(&rng, 17100u);
        float *x = test_random_matrix(&rng, 4, 6, 6, 0.0f, 1.0f);
        assert_non_null(x);
        double loss;
        float scores[4];
        assert_int_equal(ae_model_loss(m, x, 4, 6, &loss), AE_OK);
        assert_int_equal(ae_model_score(m, x, 4, 6, scores), AE_OK);
        free(x);
        ae_model_free(m);
    }
}

/* Weight 0 turns the penalty off: its layer and target are then not looked at. */
static void test_sparsity_layer_and_activation_are_ignored_while_the_weight_is_zero(void **state)
{
    (void)state;
    ae_model *m = small_model(AE_ACT_RELU, AE_ACT_LINEAR, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_SPARSITY_LAYER, 3);
    test_set_param(m, AE_PARAM_SPARSITY_TARGET, 0.3);
    expect_training_accepted(m, "weight 0, decoder layer, linear");
    ae_model_free(m);
}

/* Turning every penalty on and off again, with the other penalty settings changed,
 * gives exactly the plain model's objective and gradient, and that objective is the
 * reconstruction loss. */
static void test_objective_is_the_reconstruction_loss_when_every_weight_is_zero(void **state)
{
    (void)state;
    pen_case c = base_case(2, AE_ACT_SIGMOID, 1);
    c.hidden = AE_ACT_SIGMOID;
    ae_model *plain = create_model(&c);
    test_rng rng;
    test_rng_seed(&rng, 18000u);
    set_random_params(plain, &c, &rng);
    ae_model *toggled = test_clone_model(plain);
    test_set_param(toggled, AE_PARAM_SPARSITY_WEIGHT, 0.7);
    test_set_param(toggled, AE_PARAM_SPARSITY_TARGET, 0.3);
    test_set_param(toggled, AE_PARAM_SPARSITY_LAYER, 0);
    test_set_param(toggled, AE_PARAM_ACTIVITY_L1, 0.4);
    test_set_param(toggled, AE_PARAM_CONTRACTIVE_WEIGHT, 0.2);

    float *x = make_data(&c, 10, 7, &rng);
    size_t n = ae_model_param_count(plain);
    float *g_plain = malloc(n * sizeof *g_plain), *g_toggled = malloc(n * sizeof *g_toggled);
    assert_non_null(g_plain);
    assert_non_null(g_toggled);
    double l_plain, l_on, l_toggled, recon;
    /* while on, the objective differs ... */
    assert_int_equal(ae_model_gradient(toggled, x, 10, 7, g_toggled, n, &l_on), AE_OK);
    assert_int_equal(ae_model_gradient(plain, x, 10, 7, g_plain, n, &l_plain), AE_OK);
    assert_true(rel_diff(l_on, l_plain) > 0.1);
    /* ... and once every weight is back to 0 it is the plain one, bit for bit */
    test_set_param(toggled, AE_PARAM_SPARSITY_WEIGHT, 0);
    test_set_param(toggled, AE_PARAM_ACTIVITY_L1, 0);
    test_set_param(toggled, AE_PARAM_CONTRACTIVE_WEIGHT, 0);
    assert_int_equal(ae_model_gradient(toggled, x, 10, 7, g_toggled, n, &l_toggled), AE_OK);
    assert_true(l_toggled == l_plain);
    assert_memory_equal(g_plain, g_toggled, n * sizeof *g_plain);
    /* the plain objective is the reconstruction loss (the same float forward pass,
     * accumulated in double: equal to ~1e-7 relative, whatever the summation order) */
    assert_int_equal(ae_model_loss(plain, x, 10, 7, &recon), AE_OK);
    assert_true(rel_diff(l_plain, recon) <= 1e-6);
    ref_net net;
    assert_int_equal(ref_net_from_model(&net, plain), 0);
    assert_true(rel_diff(l_plain, ref_net_loss(&net, x, 10, 7)) <= GRAD_LOSS_RTOL);
    ref_net_free(&net);
    free(g_plain);
    free(g_toggled);
    free(x);
    ae_model_free(plain);
    ae_model_free(toggled);
}

/* ae_model_loss and ae_model_score are the reconstruction loss: bit for bit those
 * of the same weights without penalties. */
static void test_penalties_do_not_change_loss_or_score(void **state)
{
    (void)state;
    pen_case c = base_case(2, AE_ACT_SIGMOID, 1);
    c.sparsity_weight = 1.0;
    c.activity_l1 = 0.5;
    c.contractive_weight = 0.5;
    ae_model *penalised = create_model(&c);
    test_rng rng;
    test_rng_seed(&rng, 19000u);
    set_random_params(penalised, &c, &rng);
    ae_model *plain = test_clone_model(penalised);
    test_set_param(plain, AE_PARAM_SPARSITY_WEIGHT, 0);
    test_set_param(plain, AE_PARAM_ACTIVITY_L1, 0);
    test_set_param(plain, AE_PARAM_CONTRACTIVE_WEIGHT, 0);

    enum { ROWS = 50 };
    float *x = make_data(&c, ROWS, 7, &rng);
    double l_pen, l_plain, objective;
    float s_pen[ROWS], s_plain[ROWS];
    assert_int_equal(ae_model_loss(penalised, x, ROWS, 7, &l_pen), AE_OK);
    assert_int_equal(ae_model_loss(plain, x, ROWS, 7, &l_plain), AE_OK);
    assert_int_equal(ae_model_score(penalised, x, ROWS, 7, s_pen), AE_OK);
    assert_int_equal(ae_model_score(plain, x, ROWS, 7, s_plain), AE_OK);
    assert_true(l_pen == l_plain);
    assert_memory_equal(s_pen, s_plain, sizeof s_pen);
    /* while the training objective of the same batch is clearly larger */
    size_t n = ae_model_param_count(penalised);
    float *grad = malloc(n * sizeof *grad);
    assert_non_null(grad);
    assert_int_equal(ae_model_gradient(penalised, x, ROWS, 7, grad, n, &objective), AE_OK);
    assert_true(objective > 1.1 * l_pen);
    free(grad);
    free(x);
    ae_model_free(penalised);
    ae_model_free(plain);
}

typedef struct seen_losses {
    int calls;
    double train_loss, val_loss;
} seen_losses;

static int record_losses(const ae_progress *progress, void *user_data)
{
    seen_losses *seen = user_data;
    seen->calls++;
    seen->train_loss = progress->train_loss;
    seen->val_loss = progress->val_loss;
    return 0;
}

/* One epoch of one batch: its training loss (in the report and the progress
 * callback) is the objective at the starting weights (the loss before the only
 * step), its validation loss the reconstruction loss of the validation rows at the
 * final weights, both against the reference. */
static void test_fit_reports_the_objective_for_training_and_the_reconstruction_loss_for_validation(void **state)
{
    (void)state;
    pen_case c = base_case(2, AE_ACT_SIGMOID, 1);
    c.sparsity_weight = 0.5;
    c.sparsity_target = 0.1;
    c.activity_l1 = 0.2;
    c.contractive_weight = 0.2;
    ae_model *m = create_model(&c);
    test_set_epochs_and_batch(m, 1, 40);
    test_rng rng;
    test_rng_seed(&rng, 20000u);
    set_random_params(m, &c, &rng);
    float *x = make_data(&c, 40, 7, &rng), *val = make_data(&c, 30, 7, &rng);

    ref_net start;
    assert_int_equal(ref_net_from_model(&start, m), 0);
    ref_objective at_start;
    assert_int_equal(ref_net_objective_terms(&start, x, 40, 7, &at_start), 0);
    seen_losses seen = {0, NAN, NAN};
    assert_int_equal(ae_model_set_progress(m, record_losses, &seen), AE_OK);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit_validated(m, x, 40, 7, val, 30, 7, &report), AE_OK);
    assert_int_equal(report.steps_run, 1);
    assert_int_equal(seen.calls, 1);
    ref_net end;
    assert_int_equal(ref_net_from_model(&end, m), 0);
    ref_objective val_terms;
    assert_int_equal(ref_net_objective_terms(&end, val, 30, 7, &val_terms), 0);
    print_message("training loss %.6f (objective %.6f, reconstruction %.6f); validation %.6f "
                  "(reconstruction %.6f, objective %.6f)\n",
                  report.final_train_loss, at_start.total, at_start.reconstruction,
                  report.final_val_loss, val_terms.reconstruction, val_terms.total);
    assert_true(rel_diff(report.final_train_loss, at_start.total) <= GRAD_LOSS_RTOL);
    assert_true(rel_diff(report.final_val_loss, val_terms.reconstruction) <= GRAD_LOSS_RTOL);
    assert_true(rel_diff(seen.train_loss, at_start.total) <= GRAD_LOSS_RTOL);
    assert_true(rel_diff(seen.val_loss, val_terms.reconstruction) <= GRAD_LOSS_RTOL);
    /* the two readings are far apart, so each assertion tells them apart */
    assert_true(at_start.total > 1.1 * at_start.reconstruction);
    assert_true(val_terms.total > 1.1 * val_terms.reconstruction);
    ref_net_free(&start);
    ref_net_free(&end);
    free(x);
    free(val);
    ae_model_free(m);
}

/* --- dropout --- */

static ae_model *dropout_model(double p_input, double p_hidden)
{
    static const size_t widths[] = {8, 6, 4};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_activations(m, AE_ACT_TANH, AE_ACT_SIGMOID, AE_ACT_SIGMOID);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    test_set_param(m, AE_PARAM_SEED, 7);
    test_set_param(m, AE_PARAM_DROPOUT_INPUT, p_input);
    test_set_param(m, AE_PARAM_DROPOUT_HIDDEN, p_hidden);
    test_set_epochs_and_batch(m, 3, 16);
    return m;
}

/* ae_model_gradient neither drops anything nor draws from the generator: the same
 * result as without dropout, and a training step afterwards is the one it would
 * have been without the gradient call. */
static void test_gradient_ignores_dropout_and_leaves_the_generator_alone(void **state)
{
    (void)state;
    ae_model *with = dropout_model(0.3, 0.5), *without = dropout_model(0, 0);
    ae_model *untouched = test_clone_model(with);
    assert_true(test_same_params(with, without));
    test_rng rng;
    test_rng_seed(&rng, 21000u);
    float *x = test_random_matrix(&rng, 20, 8, 8, 0.0f, 1.0f);
    assert_non_null(x);
    size_t n = ae_model_param_count(with);
    float *g_with = malloc(n * sizeof *g_with), *g_without = malloc(n * sizeof *g_without);
    assert_non_null(g_with);
    assert_non_null(g_without);
    double l_with, l_without;
    assert_int_equal(ae_model_gradient(with, x, 20, 8, g_with, n, &l_with), AE_OK);
    assert_int_equal(ae_model_gradient(without, x, 20, 8, g_without, n, &l_without), AE_OK);
    assert_true(l_with == l_without);
    assert_memory_equal(g_with, g_without, n * sizeof *g_with);

    double s1, s2;
    assert_int_equal(ae_model_train_batch(with, x, 20, 8, &s1), AE_OK);
    assert_int_equal(ae_model_train_batch(untouched, x, 20, 8, &s2), AE_OK);
    assert_true(s1 == s2);
    assert_true(test_same_params(with, untouched));
    /* and that step did drop values: it is not the step without dropout */
    assert_int_equal(ae_model_train_batch(without, x, 20, 8, &s2), AE_OK);
    assert_false(test_same_params(with, without));
    free(g_with);
    free(g_without);
    free(x);
    ae_model_free(with);
    ae_model_free(without);
    ae_model_free(untouched);
}

/* The same trained weights give bit-identical encodings, reconstructions, scores and
 * losses whatever the dropout settings. */
static void test_dropout_does_not_affect_inference(void **state)
{
    (void)state;
    ae_model *m = dropout_model(0.3, 0.5);
    test_rng rng;
    test_rng_seed(&rng, 22000u);
    float *x = test_random_matrix(&rng, 64, 8, 8, 0.0f, 1.0f);
    assert_non_null(x);
    assert_int_equal(ae_model_fit(m, x, 64, 8, NULL), AE_OK);
    ae_model *off = test_clone_model(m);
    test_set_param(off, AE_PARAM_DROPOUT_INPUT, 0);
    test_set_param(off, AE_PARAM_DROPOUT_HIDDEN, 0);

    float code_on[64 * 4], code_off[64 * 4], rec_on[64 * 8], rec_off[64 * 8];
    float score_on[64], score_off[64];
    double loss_on, loss_off;
    assert_int_equal(ae_model_encode(m, x, 64, 8, code_on, 4), AE_OK);
    assert_int_equal(ae_model_encode(off, x, 64, 8, code_off, 4), AE_OK);
    assert_int_equal(ae_model_reconstruct(m, x, 64, 8, rec_on, 8), AE_OK);
    assert_int_equal(ae_model_reconstruct(off, x, 64, 8, rec_off, 8), AE_OK);
    assert_int_equal(ae_model_score(m, x, 64, 8, score_on), AE_OK);
    assert_int_equal(ae_model_score(off, x, 64, 8, score_off), AE_OK);
    assert_int_equal(ae_model_loss(m, x, 64, 8, &loss_on), AE_OK);
    assert_int_equal(ae_model_loss(off, x, 64, 8, &loss_off), AE_OK);
    assert_memory_equal(code_on, code_off, sizeof code_on);
    assert_memory_equal(rec_on, rec_off, sizeof rec_on);
    assert_memory_equal(score_on, score_off, sizeof score_on);
    assert_true(loss_on == loss_off);
    /* encoding is deterministic: twice the same */
    assert_int_equal(ae_model_encode(m, x, 64, 8, code_off, 4), AE_OK);
    assert_memory_equal(code_on, code_off, sizeof code_on);
    free(x);
    ae_model_free(m);
    ae_model_free(off);
}

/* With dropout the validation loss is the plain reconstruction loss of the weights
 * after the epoch, while the training loss of that epoch carries the dropout. */
static void test_validation_loss_is_computed_without_dropout(void **state)
{
    (void)state;
    ae_model *m = dropout_model(0.5, 0.5);
    test_set_epochs_and_batch(m, 1, 48);
    test_rng rng;
    test_rng_seed(&rng, 23000u);
    float *x = test_random_matrix(&rng, 48, 8, 8, 0.0f, 1.0f);
    float *val = test_random_matrix(&rng, 32, 8, 8, 0.0f, 1.0f);
    assert_non_null(x);
    assert_non_null(val);
    double before;
    assert_int_equal(ae_model_loss(m, x, 48, 8, &before), AE_OK);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit_validated(m, x, 48, 8, val, 32, 8, &report), AE_OK);
    assert_int_equal(report.steps_run, 1);
    ref_net net;
    assert_int_equal(ref_net_from_model(&net, m), 0);
    double val_ref = ref_net_loss(&net, val, 32, 8);
    print_message("dropout 0.5/0.5: training loss %.6f (clean %.6f), validation %.6f "
                  "(reference %.6f)\n",
                  report.final_train_loss, before, report.final_val_loss, val_ref);
    assert_true(rel_diff(report.final_val_loss, val_ref) <= GRAD_LOSS_RTOL);
    /* the training loss of the single step was taken with dropout: not the clean loss */
    assert_true(rel_diff(report.final_train_loss, before) > 100 * GRAD_LOSS_RTOL);
    ref_net_free(&net);
    free(x);
    free(val);
    ae_model_free(m);
}

static void test_training_with_dropout_is_reproducible_and_differs_from_training_without(void **state)
{
    (void)state;
    ae_model *a = dropout_model(0.2, 0.3), *b = dropout_model(0.2, 0.3);
    ae_model *plain = dropout_model(0, 0);
    ae_model *hidden_only = dropout_model(0, 0.3), *input_only = dropout_model(0.2, 0);
    test_rng rng;
    test_rng_seed(&rng, 24000u);
    float *x = test_random_matrix(&rng, 64, 8, 8, 0.0f, 1.0f);
    assert_non_null(x);
    ae_model *models[] = {a, b, plain, hidden_only, input_only};
    for (size_t k = 0; k < ARRAY_LEN(models); k++)
        assert_int_equal(ae_model_fit(models[k], x, 64, 8, NULL), AE_OK);
    assert_true(test_same_params(a, b));
    assert_false(test_same_params(a, plain));
    assert_false(test_same_params(a, hidden_only));
    assert_false(test_same_params(a, input_only));
    assert_false(test_same_params(hidden_only, plain));
    assert_false(test_same_params(input_only, plain));
    free(x);
    for (size_t k = 0; k < ARRAY_LEN(models); k++)
        ae_model_free(models[k]);
}

/* An identity network: every layer d x d with W = I and b = 0, linear everywhere,
 * MSE, trained on rows of ones. A value that survives every dropout mask on its way
 * comes out as s = 1 / prod(1 - p) (the inverted-dropout scale), a dropped one as 0.
 * So the loss of a step (taken before the step) is exactly
 *     (K (s - 1)^2 + (N - K)) / N,  K = survivors among the N = rows * d values,
 * all of it exact in float when s is a power of two. */
enum { ID_DIM = 40, ID_ROWS = 100, ID_STEPS = 5 };

static ae_model *identity_model(size_t n_encoder_layers)
{
    size_t widths[4] = {ID_DIM, ID_DIM, ID_DIM, ID_DIM};
    ae_model *m = test_create_model(widths, n_encoder_layers + 1, NULL, 0);
    test_set_activations(m, AE_ACT_LINEAR, AE_ACT_LINEAR, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_SEED, 11);
    return m;
}

static void set_identity(ae_model *m)
{
    size_t n = ae_model_param_count(m), layers = ae_model_layer_count(m);
    float *p = calloc(n, sizeof *p);
    assert_non_null(p);
    for (size_t l = 0; l < layers; l++)
        for (size_t i = 0; i < ID_DIM; i++)
            p[l * ID_DIM * ID_DIM + i * ID_DIM + i] = 1.0f;
    assert_int_equal(ae_model_set_params(m, p, n), AE_OK);
    free(p);
}

/* Takes ID_STEPS steps (identity restored before each) and returns the share of
 * surviving values over all of them; each step's loss must give a whole count. */
static double surviving_share(ae_model *m, double scale, size_t *distinct_counts)
{
    float *ones = malloc(ID_ROWS * ID_DIM * sizeof *ones);
    assert_non_null(ones);
    for (size_t i = 0; i < ID_ROWS * ID_DIM; i++)
        ones[i] = 1.0f;
    const double n = ID_ROWS * ID_DIM, kept_cost = (scale - 1) * (scale - 1);
    double total = 0, first = -1;
    *distinct_counts = 1;
    for (int step = 0; step < ID_STEPS; step++) {
        set_identity(m);
        double loss;
        assert_int_equal(ae_model_train_batch(m, ones, ID_ROWS, ID_DIM, &loss), AE_OK);
        /* loss = (K kept_cost + N - K) / N  =>  K = N (loss - 1) / (kept_cost - 1) */
        double k = n * (loss - 1) / (kept_cost - 1);
        if (fabs(k - round(k)) > 1e-6)
            print_error("step %d: loss %.17g gives %.9f survivors, not a whole number\n", step,
                        loss, k);
        assert_true(fabs(k - round(k)) <= 1e-6);
        if (step == 0)
            first = round(k);
        else if (round(k) != first)
            *distinct_counts += 1;
        total += round(k);
    }
    free(ones);
    return total / (n * ID_STEPS);
}

/* Input dropout p = 0.75 (scale 4): the share of surviving inputs is a binomial
 * proportion over N = 20000 values with mean 0.25 and deviation
 * sqrt(0.25 * 0.75 / 20000) = 0.0031; it must lie within 5 deviations (a correct
 * implementation fails for fewer than one seed in a million). Wrong rates (0.75 kept,
 * 0.5) are 80+ deviations away, wrong scales give counts that are not whole. */
static void test_input_dropout_drops_a_share_p_of_inputs_and_scales_survivors_by_one_over_one_minus_p(void **state)
{
    (void)state;
    ae_model *m = identity_model(1);
    test_set_param(m, AE_PARAM_DROPOUT_INPUT, 0.75);
    size_t distinct;
    double share = surviving_share(m, 4.0, &distinct);
    double sigma = sqrt(0.25 * 0.75 / (ID_ROWS * ID_DIM * ID_STEPS));
    print_message("input dropout 0.75: surviving share %.5f (expected 0.25 +- %.5f)\n", share, sigma);
    assert_true(fabs(share - 0.25) <= 5 * sigma);
    assert_true(distinct > 1); /* fresh masks every step */
    ae_model_free(m);
}

/* Hidden dropout p = 0.5 on a 4-layer identity network: the outputs of layers 0, 1
 * and 2 are dropped, the output layer's and the input are not, so a value survives
 * with probability 1/8 and comes out scaled by 8. Share within 5 deviations
 * (sqrt(1/8 * 7/8 / 20000) = 0.0023) of 1/8; dropping the input or the output too
 * would give 1/16 and a scale of 16, a whole count no more. */
static void test_hidden_dropout_acts_on_every_layer_but_the_output(void **state)
{
    (void)state;
    ae_model *m = identity_model(2);
    assert_int_equal(ae_model_layer_count(m), 4);
    test_set_param(m, AE_PARAM_DROPOUT_HIDDEN, 0.5);
    size_t distinct;
    double share = surviving_share(m, 8.0, &distinct);
    double sigma = sqrt(0.125 * 0.875 / (ID_ROWS * ID_DIM * ID_STEPS));
    print_message("hidden dropout 0.5 over 3 layers: surviving share %.5f (expected 0.125 +- %.5f)\n",
                  share, sigma);
    assert_true(fabs(share - 0.125) <= 5 * sigma);
    assert_true(distinct > 1);
    ae_model_free(m);
}

/* A one-layer encoder whose decoder has W = 0: the output is the decoder bias
 * whatever reaches it, so with hidden dropout (which here drops only the latent code)
 * the reconstruction loss does not depend on the mask, and the step's loss is the
 * deterministic objective exactly when the penalties see the code before dropout.
 * (Penalties on the dropped code would vary with the mask: the L1 term and the
 * batch means by ~1/sqrt(rows * units) = 5% relative.) The dropout did act: the
 * steps differ from steps without it. */
static void test_penalties_see_the_code_before_hidden_dropout(void **state)
{
    (void)state;
    static const size_t widths[] = {6, 4};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_activations(m, AE_ACT_RELU, AE_ACT_SIGMOID, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, 0.5);
    test_set_param(m, AE_PARAM_SPARSITY_TARGET, 0.1);
    test_set_param(m, AE_PARAM_ACTIVITY_L1, 0.3);
    test_set_param(m, AE_PARAM_CONTRACTIVE_WEIGHT, 0.3);
    test_set_param(m, AE_PARAM_DROPOUT_HIDDEN, 0.5);
    test_rng rng;
    test_rng_seed(&rng, 25000u);
    size_t n = ae_model_param_count(m);
    assert_int_equal(n, 58);
    float *params = test_params_of(m);
    /* flat layout: W0 (4x6), W1 (6x4), b0 (4), b1 (6) */
    for (size_t i = 24; i < 48; i++)
        params[i] = 0.0f;
    for (size_t i = 48; i < 52; i++)
        params[i] = (float)(test_rng_uniform(&rng) - 0.5);
    for (size_t i = 52; i < 58; i++)
        params[i] = 0.3f;
    assert_int_equal(ae_model_set_params(m, params, n), AE_OK);
    ae_model *no_dropout = test_clone_model(m);
    test_set_param(no_dropout, AE_PARAM_DROPOUT_HIDDEN, 0);

    float *x = test_random_matrix(&rng, 40, 6, 6, -1.0f, 1.0f);
    assert_non_null(x);
    ref_net net;
    assert_int_equal(ref_net_from_model(&net, m), 0);
    ref_objective terms;
    assert_int_equal(ref_net_objective_terms(&net, x, 40, 6, &terms), 0);
    assert_true(terms.sparsity + terms.activity + terms.contractive > 0.5 * terms.total);
    for (int step = 0; step < 3; step++) {
        assert_int_equal(ae_model_set_params(m, params, n), AE_OK);
        assert_int_equal(ae_model_set_params(no_dropout, params, n), AE_OK);
        double loss, loss_plain;
        assert_int_equal(ae_model_train_batch(m, x, 40, 6, &loss), AE_OK);
        assert_int_equal(ae_model_train_batch(no_dropout, x, 40, 6, &loss_plain), AE_OK);
        if (rel_diff(loss, terms.total) > GRAD_LOSS_RTOL)
            print_error("step %d: loss %.9g, objective before dropout %.9g\n", step, loss, terms.total);
        assert_true(rel_diff(loss, terms.total) <= GRAD_LOSS_RTOL);
        assert_false(test_same_params(m, no_dropout));
    }
    ref_net_free(&net);
    free(params);
    free(x);
    ae_model_free(m);
    ae_model_free(no_dropout);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contractive_penalty_matches_reference_for_every_latent_activation_and_depth),
        cmocka_unit_test(test_contractive_penalty_uses_the_configured_slope_and_alpha),
        cmocka_unit_test(test_activity_l1_penalty_matches_reference_for_every_latent_activation_and_depth),
        cmocka_unit_test(test_sparsity_penalty_on_the_latent_layer_matches_reference),
        cmocka_unit_test(test_sparsity_layer_minus_one_and_the_latent_index_agree),
        cmocka_unit_test(test_sparsity_penalty_on_a_hidden_encoder_layer_matches_reference),
        cmocka_unit_test(test_sparsity_penalty_clamps_saturated_mean_activations),
        cmocka_unit_test(test_all_penalties_together_match_reference),
        cmocka_unit_test(test_sparsity_on_a_non_sigmoid_layer_is_refused_by_every_training_call),
        cmocka_unit_test(test_sparsity_on_a_decoder_layer_is_refused_by_every_training_call),
        cmocka_unit_test(test_sparsity_layer_and_activation_are_ignored_while_the_weight_is_zero),
        cmocka_unit_test(test_objective_is_the_reconstruction_loss_when_every_weight_is_zero),
        cmocka_unit_test(test_penalties_do_not_change_loss_or_score),
        cmocka_unit_test(test_fit_reports_the_objective_for_training_and_the_reconstruction_loss_for_validation),
        cmocka_unit_test(test_gradient_ignores_dropout_and_leaves_the_generator_alone),
        cmocka_unit_test(test_dropout_does_not_affect_inference),
        cmocka_unit_test(test_validation_loss_is_computed_without_dropout),
        cmocka_unit_test(test_training_with_dropout_is_reproducible_and_differs_from_training_without),
        cmocka_unit_test(test_input_dropout_drops_a_share_p_of_inputs_and_scales_survivors_by_one_over_one_minus_p),
        cmocka_unit_test(test_hidden_dropout_acts_on_every_layer_but_the_output),
        cmocka_unit_test(test_penalties_see_the_code_before_hidden_dropout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
