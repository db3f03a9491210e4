/* Optimizer steps against the formulas, computed independently in double.
 *
 * Each step: read the parameters p (ae_model_get_params) and the gradient g
 * (ae_model_gradient) on the batch, compute the expected new parameters from the
 * documented rules (PyTorch conventions: clipping, L2 or decoupled weight decay on
 * weights only, SGD with (Nesterov) momentum, Adam/AdamW with bias correction),
 * run ae_model_train_batch on the same batch and compare. */
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

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#include "test_data.h"
#include "test_models.h"

/* ---- the expected step, in double ------------------------------------------ */

typedef struct opt_sim {
    int optimizer; /* ae_optimizer */
    double lr, momentum;
    int nesterov;
    double beta1, beta2, eps, weight_decay, clip;
    /* state */
    size_t n_params, n_weights;
    double *buf, *m, *v;
    int t;
} opt_sim;

static opt_sim sim_defaults(int optimizer, double lr)
{
    opt_sim sim = {optimizer, lr, 0.0, 0, 0.9, 0.999, 1e-8, 0.0, 0.0, 0, 0, NULL, NULL, NULL, 0};
    return sim;
}

static void sim_start(opt_sim *sim, size_t n_params, size_t n_weights)
{
    sim->n_params = n_params;
    sim->n_weights = n_weights;
    sim->buf = calloc(n_params, sizeof *sim->buf);
    sim->m = calloc(n_params, sizeof *sim->m);
    sim->v = calloc(n_params, sizeof *sim->v);
    assert_non_null(sim->buf);
    assert_non_null(sim->m);
    assert_non_null(sim->v);
    sim->t = 0;
}

static void sim_free(opt_sim *sim)
{
    free(sim->buf);
    free(sim->m);
    free(sim->v);
    sim->buf = sim->m = sim->v = NULL;
}

static double grad_norm(const float *g, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)g[i] * g[i];
    return sqrt(sum);
}

/* Expected parameters after one step from @p p with raw gradient @p g_raw. */
static void sim_step(opt_sim *sim, const float *p, const float *g_raw, double *expected)
{
    double scale = 1.0;
    if (sim->clip > 0) { /* torch.nn.utils.clip_grad_norm_ */
        double coefficient = sim->clip / (grad_norm(g_raw, sim->n_params) + 1e-6);
        if (coefficient < 1.0)
            scale = coefficient;
    }
    sim->t++;
    for (size_t i = 0; i < sim->n_params; i++) {
        int is_weight = i < sim->n_weights;
        double w = p[i], g = scale * g_raw[i];
        if (sim->optimizer == AE_OPT_SGD) {
            if (is_weight)
                g += sim->weight_decay * w;
            double update = g;
            if (sim->momentum != 0) {
                sim->buf[i] = sim->momentum * sim->buf[i] + g;
                update = sim->nesterov ? g + sim->momentum * sim->buf[i] : sim->buf[i];
            }
            expected[i] = w - sim->lr * update;
        } else {
            if (sim->optimizer == AE_OPT_ADAM && is_weight)
                g += sim->weight_decay * w;
            if (sim->optimizer == AE_OPT_ADAMW && is_weight)
                w *= 1.0 - sim->lr * sim->weight_decay;
            sim->m[i] = sim->beta1 * sim->m[i] + (1 - sim->beta1) * g;
            sim->v[i] = sim->beta2 * sim->v[i] + (1 - sim->beta2) * g * g;
            double m_hat = sim->m[i] / (1 - pow(sim->beta1, sim->t));
            double v_hat = sim->v[i] / (1 - pow(sim->beta2, sim->t));
            expected[i] = w - sim->lr * m_hat / (sqrt(v_hat) + sim->eps);
        }
    }
}

/* ---- fixture --------------------------------------------------------------- */

typedef struct fixture {
    ae_model *model;
    float *x;
    size_t n_rows, ld, n_params, n_weights;
} fixture;

static const size_t encoder_widths[] = {6, 5, 4, 3};

/* Random weights and non-zero biases (so weight decay wrongly applied to biases
 * would show). */
static void set_random_params(fixture *f, test_rng *rng, double weight_scale)
{
    float *params = malloc(f->n_params * sizeof *params);
    assert_non_null(params);
    size_t offset = 0, n_layers = ae_model_layer_count(f->model);
    for (size_t l = 0; l < n_layers; l++) {
        size_t n_out, n_in;
        assert_int_equal(ae_model_layer_info(f->model, l, &n_out, &n_in, NULL), AE_OK);
        for (size_t i = 0; i < n_out * n_in; i++)
            params[offset++] = (float)(weight_scale / sqrt((double)n_in) * test_rng_normal(rng));
    }
    assert_int_equal(offset, f->n_weights);
    while (offset < f->n_params) {
        double magnitude = 0.1 + 0.4 * test_rng_uniform(rng);
        params[offset++] = (float)(test_rng_uniform(rng) < 0.5 ? -magnitude : magnitude);
    }
    assert_int_equal(ae_model_set_params(f->model, params, f->n_params), AE_OK);
    free(params);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(ae_model_create(&f->model, encoder_widths, 4, NULL, 0), AE_OK);
    test_set_param(f->model, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH); /* smooth, no dead units */
    test_set_param(f->model, AE_PARAM_LATENT_ACTIVATION, AE_ACT_LINEAR);
    test_set_param(f->model, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LINEAR);
    test_set_param(f->model, AE_PARAM_LOSS, AE_LOSS_MSE);
    f->n_params = ae_model_param_count(f->model);
    size_t n_layers = ae_model_layer_count(f->model);
    for (size_t l = 0; l < n_layers; l++) {
        size_t n_out, n_in;
        assert_int_equal(ae_model_layer_info(f->model, l, &n_out, &n_in, NULL), AE_OK);
        f->n_weights += n_out * n_in;
    }
    test_rng rng;
    test_rng_seed(&rng, 42);
    set_random_params(f, &rng, 1.0);
    f->n_rows = 8;
    f->ld = 6;
    f->x = test_random_matrix(&rng, f->n_rows, 6, f->ld, -1.0f, 1.0f);
    assert_non_null(f->x);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ae_model_free(f->model);
    free(f->x);
    free(f);
    return 0;
}

/* ---- running and comparing steps ------------------------------------------ */

static void apply_settings(ae_model *model, const opt_sim *sim)
{
    test_set_param(model, AE_PARAM_OPTIMIZER, sim->optimizer);
    test_set_param(model, AE_PARAM_LEARNING_RATE, sim->lr);
    test_set_param(model, AE_PARAM_MOMENTUM, sim->momentum);
    test_set_param(model, AE_PARAM_NESTEROV, sim->nesterov);
    test_set_param(model, AE_PARAM_ADAM_BETA1, sim->beta1);
    test_set_param(model, AE_PARAM_ADAM_BETA2, sim->beta2);
    test_set_param(model, AE_PARAM_ADAM_EPSILON, sim->eps);
    test_set_param(model, AE_PARAM_WEIGHT_DECAY, sim->weight_decay);
    test_set_param(model, AE_PARAM_CLIP_NORM, sim->clip);
}

static float *get_params(const fixture *f)
{
    float *p = malloc(f->n_params * sizeof *p);
    assert_non_null(p);
    assert_int_equal(ae_model_get_params(f->model, p, f->n_params), AE_OK);
    return p;
}

static float *get_gradient(const fixture *f, double *loss)
{
    float *g = malloc(f->n_params * sizeof *g);
    assert_non_null(g);
    assert_int_equal(ae_model_gradient(f->model, f->x, f->n_rows, f->ld, g, f->n_params, loss),
                     AE_OK);
    return g;
}

/* Tolerance: float rounding only. The library stores p, the gradient and the
 * optimizer state in float, so the new parameter carries the rounding of the
 * subtraction (half an ulp of |p|) plus a few ulps of the step itself (products,
 * the running moments, a square root and a division, each off by at most an ulp).
 * 4 ulps of |p| and 16 ulps of |step| bound that with room to spare; any formula
 * mistake (a missing bias correction, decay on a bias, a wrong momentum rule, a
 * misplaced epsilon, clipping after decay) changes the step by percent or more. */
static void compare_params(const fixture *f, const float *before, const double *expected,
                           const char *label)
{
    float *after = get_params(f);
    size_t failures = 0;
    double worst = 0;
    for (size_t i = 0; i < f->n_params; i++) {
        double step = fabs(expected[i] - before[i]);
        double tol = 4 * FLT_EPSILON * fabs((double)before[i]) + 16 * FLT_EPSILON * step;
        double err = fabs((double)after[i] - expected[i]);
        worst = fmax(worst, err / tol);
        if (!(err <= tol) && failures++ < 8)
            print_error("%s: param %zu (%s): before %.9g, expected %.9g, got %.9g (step %.3g)\n",
                        label, i, i < f->n_weights ? "weight" : "bias", (double)before[i],
                        expected[i], (double)after[i], expected[i] - before[i]);
    }
    if (getenv("AE_TEST_VERBOSE"))
        print_message("%s: worst error/tolerance %.3g\n", label, worst);
    assert_int_equal(failures, 0);
    free(after);
}

/* Run @p n_steps of ae_model_train_batch and check each against @p sim (whose
 * state carries over between steps). Every step also checks that the loss
 * train_batch reports is the loss before the step. */
static void run_steps(fixture *f, opt_sim *sim, int n_steps, const char *label)
{
    double *expected = malloc(f->n_params * sizeof *expected);
    assert_non_null(expected);
    for (int step = 1; step <= n_steps; step++) {
        char step_label[128];
        snprintf(step_label, sizeof step_label, "%s, step %d", label, step);
        float *p = get_params(f);
        double grad_loss;
        float *g = get_gradient(f, &grad_loss);
        double before_loss;
        assert_int_equal(ae_model_loss(f->model, f->x, f->n_rows, f->ld, &before_loss), AE_OK);
        sim_step(sim, p, g, expected);

        double reported = NAN;
        int rc = ae_model_train_batch(f->model, f->x, f->n_rows, f->ld, &reported);
        if (rc != AE_OK)
            print_error("%s: train_batch: %s\n", step_label, ae_model_last_error(f->model));
        assert_int_equal(rc, AE_OK);
        if (!(fabs(reported - before_loss) <= 1e-6 * before_loss))
            print_error("%s: reported loss %.12g, loss before the step %.12g\n", step_label,
                        reported, before_loss);
        assert_true(fabs(reported - before_loss) <= 1e-6 * before_loss);
        compare_params(f, p, expected, step_label);
        free(p);
        free(g);
    }
    free(expected);
}

/* Start @p sim from zero state, check @p n_steps against it, and free its state. */
static void check_fresh_steps(fixture *f, opt_sim *sim, int n_steps, const char *label)
{
    sim_start(sim, f->n_params, f->n_weights);
    run_steps(f, sim, n_steps, label);
    sim_free(sim);
}

/* Apply all of @p sim's settings to the model, then check_fresh_steps(). */
static void check_steps(fixture *f, opt_sim *sim, int n_steps, const char *label)
{
    apply_settings(f->model, sim);
    check_fresh_steps(f, sim, n_steps, label);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_sgd_step_subtracts_learning_rate_times_gradient(void **state)
{
    fixture *f = *state;
    opt_sim sim = sim_defaults(AE_OPT_SGD, 0.1);
    check_steps(f, &sim, 2, "sgd");
}

static void test_sgd_momentum_accumulates_its_buffer_over_three_steps(void **state)
{
    fixture *f = *state;
    opt_sim sim = sim_defaults(AE_OPT_SGD, 0.05);
    sim.momentum = 0.9;
    check_steps(f, &sim, 3, "sgd momentum");
}

static void test_sgd_nesterov_momentum_over_three_steps(void **state)
{
    fixture *f = *state;
    opt_sim sim = sim_defaults(AE_OPT_SGD, 0.05);
    sim.momentum = 0.8;
    sim.nesterov = 1;
    check_steps(f, &sim, 3, "sgd nesterov");
}

static void test_adam_applies_bias_corrected_moments_over_three_steps(void **state)
{
    fixture *f = *state;
    opt_sim sim = sim_defaults(AE_OPT_ADAM, 0.01);
    check_steps(f, &sim, 3, "adam");
}

/* Non-default betas, and an epsilon comparable to the gradients so that its place
 * (added to sqrt(v_hat), after bias correction) matters. */
static void test_adam_honours_betas_and_epsilon(void **state)
{
    fixture *f = *state;
    opt_sim sim = sim_defaults(AE_OPT_ADAM, 0.02);
    sim.beta1 = 0.5;
    sim.beta2 = 0.8;
    sim.eps = 0.05;
    check_steps(f, &sim, 3, "adam betas/eps");
}

static void test_adamw_decays_weights_decoupled_from_the_gradient(void **state)
{
    fixture *f = *state;
    opt_sim sim = sim_defaults(AE_OPT_ADAMW, 0.01);
    sim.weight_decay = 2.0;
    check_steps(f, &sim, 3, "adamw");
}

static void test_sgd_weight_decay_applies_to_weights_not_biases(void **state)
{
    fixture *f = *state;
    opt_sim sim = sim_defaults(AE_OPT_SGD, 0.1);
    sim.weight_decay = 0.5;
    sim.momentum = 0.5;
    check_steps(f, &sim, 2, "sgd weight decay");
}

/* L2 decay added to the gradient before the moments; eps comparable to the
 * gradient keeps the step sensitive to the decay term's size, not just its sign. */
static void test_adam_weight_decay_is_added_to_the_gradient_of_weights_only(void **state)
{
    fixture *f = *state;
    opt_sim sim = sim_defaults(AE_OPT_ADAM, 0.01);
    sim.weight_decay = 0.5;
    sim.eps = 0.02;
    check_steps(f, &sim, 3, "adam weight decay");
}

static double current_grad_norm(const fixture *f)
{
    float *g = get_gradient(f, NULL);
    double norm = grad_norm(g, f->n_params);
    free(g);
    return norm;
}

static void test_gradient_clipping_scales_a_large_gradient_to_the_clip_norm(void **state)
{
    fixture *f = *state;
    double norm = current_grad_norm(f);
    assert_true(norm > 0);
    opt_sim sim = sim_defaults(AE_OPT_SGD, 0.1);
    sim.clip = 0.25 * norm; /* triggers */
    float *before = get_params(f);
    check_steps(f, &sim, 1, "clip triggers");
    /* The step taken has norm lr * clip * norm / (norm + 1e-6), as torch's, up to the float
     * rounding of the new parameters (at most an ulp of each |p|). */
    float *after = get_params(f);
    double sum = 0, p_sum = 0;
    for (size_t i = 0; i < f->n_params; i++) {
        sum += ((double)after[i] - before[i]) * ((double)after[i] - before[i]);
        p_sum += (double)before[i] * before[i];
    }
    assert_true(fabs(sqrt(sum) - 0.1 * sim.clip * norm / (norm + 1e-6)) <= 2 * FLT_EPSILON * sqrt(p_sum));
    free(before);
    free(after);
}

static void test_gradient_clipping_leaves_a_small_gradient_unchanged(void **state)
{
    fixture *f = *state;
    double norm = current_grad_norm(f);
    opt_sim sim = sim_defaults(AE_OPT_SGD, 0.1);
    sim.clip = 4.0 * norm; /* does not trigger */
    check_steps(f, &sim, 1, "clip idle");
}

/* PyTorch order: clip the loss gradient, then the optimizer adds wd * W. */
static void test_gradient_clipping_happens_before_weight_decay(void **state)
{
    fixture *f = *state;
    double norm = current_grad_norm(f);
    opt_sim sim = sim_defaults(AE_OPT_SGD, 0.1);
    sim.clip = 0.25 * norm;
    sim.weight_decay = 0.5;
    sim.momentum = 0.9;
    check_steps(f, &sim, 3, "clip then weight decay");
}

static void test_train_batch_reports_the_loss_before_the_step(void **state)
{
    fixture *f = *state;
    test_set_param(f->model, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(f->model, AE_PARAM_LEARNING_RATE, 0.1);
    double before, reported, after;
    assert_int_equal(ae_model_loss(f->model, f->x, f->n_rows, f->ld, &before), AE_OK);
    assert_int_equal(ae_model_train_batch(f->model, f->x, f->n_rows, f->ld, &reported), AE_OK);
    assert_int_equal(ae_model_loss(f->model, f->x, f->n_rows, f->ld, &after), AE_OK);
    /* the step changed the loss measurably, and the report is the old one */
    assert_true(after < before * (1 - 1e-3));
    assert_true(fabs(reported - before) <= 1e-6 * before);
    /* a NULL loss pointer is allowed */
    assert_int_equal(ae_model_train_batch(f->model, f->x, f->n_rows, f->ld, NULL), AE_OK);
}

/* After switching optimizers, a step equals the very first step of the new one. */
static void test_changing_the_optimizer_resets_its_state(void **state)
{
    fixture *f = *state;
    /* build up SGD momentum */
    opt_sim sgd = sim_defaults(AE_OPT_SGD, 0.05);
    sgd.momentum = 0.9;
    check_steps(f, &sgd, 2, "sgd before the switch");

    /* switch to Adam: t starts again at 1, m = v = 0 */
    opt_sim adam = sim_defaults(AE_OPT_ADAM, 0.01);
    test_set_param(f->model, AE_PARAM_OPTIMIZER, AE_OPT_ADAM);
    test_set_param(f->model, AE_PARAM_LEARNING_RATE, adam.lr);
    check_fresh_steps(f, &adam, 2, "adam after sgd");

    /* Adam -> AdamW (no decay: the same rule), the moments must be forgotten */
    opt_sim adamw = sim_defaults(AE_OPT_ADAMW, 0.01);
    test_set_param(f->model, AE_PARAM_OPTIMIZER, AE_OPT_ADAMW);
    check_fresh_steps(f, &adamw, 1, "adamw after adam");

    /* and back to SGD with momentum: the buffer starts from zero again */
    test_set_param(f->model, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(f->model, AE_PARAM_LEARNING_RATE, sgd.lr);
    check_fresh_steps(f, &sgd, 1, "sgd after adamw");

    /* A change that is undone before the next step still resets: Adam -> SGD ->
     * Adam with no step in between forgets the Adam moments and step count. */
    adam.lr = sgd.lr;
    test_set_param(f->model, AE_PARAM_OPTIMIZER, AE_OPT_ADAM);
    check_fresh_steps(f, &adam, 2, "adam after sgd, again");
    test_set_param(f->model, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(f->model, AE_PARAM_OPTIMIZER, AE_OPT_ADAM);
    check_fresh_steps(f, &adam, 1, "adam after adam -> sgd -> adam");
}

static void test_reset_clears_the_optimizer_state(void **state)
{
    fixture *f = *state;
    float *p0 = get_params(f);
    opt_sim adam = sim_defaults(AE_OPT_ADAM, 0.01);
    check_steps(f, &adam, 2, "adam before reset");

    assert_int_equal(ae_model_reset(f->model), AE_OK);
    assert_int_equal(ae_model_set_params(f->model, p0, f->n_params), AE_OK);
    check_fresh_steps(f, &adam, 1, "adam after reset");
    free(p0);
}

/* Huge finite weights in an all-linear net: the forward pass overflows float. */
static void test_train_batch_returns_diverged_and_keeps_params_when_the_loss_overflows(void **state)
{
    fixture *f = *state;
    test_set_param(f->model, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_LINEAR);
    float *sane = get_params(f);
    opt_sim adam = sim_defaults(AE_OPT_ADAM, 0.01);
    apply_settings(f->model, &adam);

    float *huge = malloc(f->n_params * sizeof *huge);
    assert_non_null(huge);
    for (size_t i = 0; i < f->n_params; i++)
        huge[i] = i < f->n_weights ? 1e19f : 1.0f;
    assert_int_equal(ae_model_set_params(f->model, huge, f->n_params), AE_OK);

    double loss = 0;
    int rc = ae_model_train_batch(f->model, f->x, f->n_rows, f->ld, &loss);
    assert_int_equal(rc, AE_ERR_DIVERGED);
    assert_string_not_equal(ae_model_last_error(f->model), "");
    float *after = get_params(f);
    assert_memory_equal(after, huge, f->n_params * sizeof *huge);

    /* The skipped step left the optimizer state alone: from sane weights the next
     * step is a first Adam step (t = 1, zero moments). */
    assert_int_equal(ae_model_set_params(f->model, sane, f->n_params), AE_OK);
    check_fresh_steps(f, &adam, 1, "adam after a diverged step");
    free(after);
    free(huge);
    free(sane);
}

/* The model as a file with its optimizer state (malloc'ed here). */
static unsigned char *saved_with_state(const ae_model *m, size_t *n)
{
    assert_int_equal(ae_model_save_size(m, AE_SAVE_OPTIMIZER_STATE, n), AE_OK);
    unsigned char *bytes = malloc(*n);
    assert_non_null(bytes);
    assert_int_equal(ae_model_save_to_memory(m, AE_SAVE_OPTIMIZER_STATE, bytes, *n, n), AE_OK);
    return bytes;
}

/* A model's first step makes its optimizer state (zero moments); when that step fails, the
 * state goes again, so that the model saves the very bytes it saved before, for each
 * optimizer that keeps a state. */
static void test_a_failed_first_step_leaves_no_optimizer_state_behind(void **state)
{
    fixture *f = *state;
    test_set_param(f->model, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_LINEAR);
    float *huge = malloc(f->n_params * sizeof *huge);
    assert_non_null(huge);
    for (size_t i = 0; i < f->n_params; i++)
        huge[i] = i < f->n_weights ? 1e19f : 1.0f; /* the forward pass overflows */
    assert_int_equal(ae_model_set_params(f->model, huge, f->n_params), AE_OK);
    static const struct { int optimizer; double momentum; } kinds[] = {
        {AE_OPT_ADAM, 0.0}, {AE_OPT_ADAMW, 0.0}, {AE_OPT_SGD, 0.9}};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        test_set_param(f->model, AE_PARAM_OPTIMIZER, kinds[k].optimizer);
        test_set_param(f->model, AE_PARAM_MOMENTUM, kinds[k].momentum);
        size_t n_before, n_after;
        unsigned char *before = saved_with_state(f->model, &n_before);
        assert_int_equal(ae_model_train_batch(f->model, f->x, f->n_rows, f->ld, NULL),
                         AE_ERR_DIVERGED);
        unsigned char *after = saved_with_state(f->model, &n_after);
        assert_int_equal(n_after, n_before);
        assert_memory_equal(after, before, n_after);
        free(before);
        free(after);
    }
    free(huge);
}

/* A learning rate far too large makes the weights explode step by step until
 * the loss is no longer finite; that step is refused and changes nothing. */
static void test_train_batch_returns_diverged_when_the_weights_blow_up(void **state)
{
    fixture *f = *state;
    test_set_param(f->model, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_LINEAR);
    opt_sim sgd = sim_defaults(AE_OPT_SGD, 1000.0);
    apply_settings(f->model, &sgd);
    int rc = AE_OK;
    int steps = 0;
    float *before = NULL;
    while (rc == AE_OK && steps < 100) {
        free(before);
        before = get_params(f);
        rc = ae_model_train_batch(f->model, f->x, f->n_rows, f->ld, NULL);
        steps++;
    }
    assert_int_equal(rc, AE_ERR_DIVERGED);
    assert_true(steps > 1); /* some steps were finite before it blew up */
    float *after = get_params(f);
    for (size_t i = 0; i < f->n_params; i++)
        assert_true(isfinite(after[i]));
    assert_memory_equal(after, before, f->n_params * sizeof *after);
    /* still refused, still unchanged */
    assert_int_equal(ae_model_train_batch(f->model, f->x, f->n_rows, f->ld, NULL), AE_ERR_DIVERGED);
    free(after);
    after = get_params(f);
    assert_memory_equal(after, before, f->n_params * sizeof *after);
    free(after);
    free(before);
}

/* torch.nn.utils.clip_grad_norm_ scales by clip / (norm + 1e-6): for a small gradient the
 * 1e-6 is a visible share of the norm. A 4-2-4 linear model whose outputs miss constant rows
 * by 1e-4 has a gradient norm near 1e-4, where the two rules differ by 1%. */
static void test_gradient_clipping_matches_torch_for_a_small_norm(void **state)
{
    (void)state;
    static const size_t widths[] = {4, 2};
    ae_model *m = test_create_model(widths, 2, NULL, 0);
    test_set_activations(m, AE_ACT_LINEAR, AE_ACT_LINEAR, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 1.0);
    const size_t n = ae_model_param_count(m);
    float *p = calloc(n, sizeof *p), *g = malloc(n * sizeof *g), *after = malloc(n * sizeof *after);
    assert_non_null(p);
    assert_non_null(g);
    assert_non_null(after);
    for (size_t i = n - 4; i < n; i++) /* the output biases */
        p[i] = 0.5f + 1e-4f;
    p[0] = 0.25f; /* one weight, so the weight gradients are not all zero */
    assert_int_equal(ae_model_set_params(m, p, n), AE_OK);
    float x[8 * 4];
    for (size_t i = 0; i < 8 * 4; i++)
        x[i] = 0.5f;
    assert_int_equal(ae_model_gradient(m, x, 8, 4, g, n, NULL), AE_OK);
    double norm = grad_norm(g, n);
    assert_true(norm > 1e-5 && norm < 1e-3);
    const double clip = 0.5 * norm;
    test_set_param(m, AE_PARAM_CLIP_NORM, clip);
    assert_int_equal(ae_model_train_batch(m, x, 8, 4, NULL), AE_OK);
    assert_int_equal(ae_model_get_params(m, after, n), AE_OK);
    const double coefficient = clip / (norm + 1e-6);
    for (size_t i = 0; i < n; i++) {
        double expected = (double)p[i] - coefficient * g[i];
        double step = fabs(coefficient * g[i]);
        assert_true(fabs(after[i] - expected) <= 4 * FLT_EPSILON * fabs(p[i]) + 1e-4 * step);
    }
    free(p);
    free(g);
    free(after);
    ae_model_free(m);
}

/* ---- reading and setting the optimizer state ------------------------------------------ */

/* After Adam steps, the state read back is the simulator's (torch's exp_avg, exp_avg_sq,
 * step), to float rounding. */
static void test_adam_state_reads_back_as_torch_holds_it(void **state)
{
    fixture *f = *state;
    opt_sim sim = sim_defaults(AE_OPT_ADAM, 0.01);
    apply_settings(f->model, &sim);
    sim_start(&sim, f->n_params, f->n_weights);
    run_steps(f, &sim, 3, "adam");
    float *m = malloc(f->n_params * sizeof *m), *v = malloc(f->n_params * sizeof *v);
    assert_non_null(m);
    assert_non_null(v);
    uint64_t step = 0;
    assert_int_equal(ae_model_get_optimizer_state(f->model, &step, m, v, f->n_params), AE_OK);
    assert_int_equal(step, 3);
    for (size_t i = 0; i < f->n_params; i++) {
        assert_true(fabs(m[i] - sim.m[i]) <= 1e-5 * fabs(sim.m[i]) + 1e-12);
        assert_true(fabs(v[i] - sim.v[i]) <= 1e-5 * fabs(sim.v[i]) + 1e-15);
    }
    /* SGD keeps no second moment; without momentum, no state at all. */
    test_set_param(f->model, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    assert_int_equal(ae_model_get_optimizer_state(f->model, &step, NULL, v, f->n_params), AE_ERR_STATE);
    assert_int_equal(ae_model_get_optimizer_state(f->model, &step, m, NULL, f->n_params), AE_ERR_STATE);
    assert_int_equal(ae_model_get_optimizer_state(f->model, &step, NULL, NULL, 0), AE_OK);
    assert_int_equal(step, 0);
    test_set_param(f->model, AE_PARAM_MOMENTUM, 0.9);
    assert_int_equal(ae_model_get_optimizer_state(f->model, &step, m, NULL, f->n_params), AE_OK);
    for (size_t i = 0; i < f->n_params; i++)
        assert_true(m[i] == 0.0f); /* no step yet: zeros, as torch's first step starts */
    sim_free(&sim);
    free(m);
    free(v);
}

/* A state set from outside (another framework's checkpoint) is where the next step
 * continues from, exactly as the simulator continues from the same state; and the state of
 * one model moved to a fresh copy makes both take bit-identical steps. */
static void test_adam_continues_from_a_state_set_from_outside(void **state)
{
    fixture *f = *state;
    static const int optimizers[] = {AE_OPT_ADAM, AE_OPT_ADAMW};
    for (size_t o = 0; o < ARRAY_LEN(optimizers); o++) {
        opt_sim sim = sim_defaults(optimizers[o], 0.01);
        sim.weight_decay = 0.1;
        apply_settings(f->model, &sim);
        sim_start(&sim, f->n_params, f->n_weights);
        test_rng rng;
        test_rng_seed(&rng, 900 + o);
        float *m = malloc(f->n_params * sizeof *m), *v = malloc(f->n_params * sizeof *v);
        assert_non_null(m);
        assert_non_null(v);
        for (size_t i = 0; i < f->n_params; i++) {
            m[i] = (float)(0.01 * test_rng_normal(&rng));
            v[i] = (float)(1e-4 * test_rng_uniform(&rng));
            sim.m[i] = m[i];
            sim.v[i] = v[i];
        }
        sim.t = 41;
        assert_int_equal(ae_model_set_optimizer_state(f->model, 41, m, v, f->n_params), AE_OK);
        ae_model *twin = test_clone_model(f->model);
        run_steps(f, &sim, 2, optimizers[o] == AE_OPT_ADAM ? "adam from a set state" : "adamw from a set state");
        /* the twin got the state through a clone; another model through get and set */
        ae_model *other = test_clone_model(twin);
        assert_int_equal(ae_model_reset(other), AE_OK);
        float *p = test_params_of(twin);
        assert_int_equal(ae_model_set_params(other, p, f->n_params), AE_OK);
        uint64_t step;
        assert_int_equal(ae_model_get_optimizer_state(twin, &step, m, v, f->n_params), AE_OK);
        assert_int_equal(step, 41);
        assert_int_equal(ae_model_set_optimizer_state(other, step, m, v, f->n_params), AE_OK);
        for (int k = 0; k < 2; k++) {
            assert_int_equal(ae_model_train_batch(twin, f->x, f->n_rows, f->ld, NULL), AE_OK);
            assert_int_equal(ae_model_train_batch(other, f->x, f->n_rows, f->ld, NULL), AE_OK);
        }
        assert_true(test_same_params(twin, other));
        assert_true(test_same_params(twin, f->model));
        sim_free(&sim);
        free(p);
        free(m);
        free(v);
        ae_model_free(twin);
        ae_model_free(other);
    }
}

/* Refused states leave the model's state as it was. */
static void test_set_optimizer_state_refuses_what_no_optimizer_could_hold(void **state)
{
    fixture *f = *state;
    opt_sim sim = sim_defaults(AE_OPT_ADAM, 0.01);
    apply_settings(f->model, &sim);
    assert_int_equal(ae_model_train_batch(f->model, f->x, f->n_rows, f->ld, NULL), AE_OK);
    const size_t n = f->n_params;
    float *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v), *m0 = malloc(n * sizeof *m0);
    assert_non_null(m);
    assert_non_null(v);
    assert_non_null(m0);
    uint64_t step0;
    assert_int_equal(ae_model_get_optimizer_state(f->model, &step0, m0, NULL, n), AE_OK);
    assert_int_equal(ae_model_set_optimizer_state(NULL, 1, m, v, n), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_optimizer_state(f->model, 1, m, v, n - 1), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_optimizer_state(f->model, 1, m, NULL, n), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_optimizer_state(f->model, 1, NULL, NULL, n), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_optimizer_state(f->model, ((uint64_t)1 << 53) + 1, m, v, n),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_optimizer_state(f->model, UINT64_MAX, m, v, n), AE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ae_model_last_error(f->model), "2^53"));
    m[3] = NAN;
    assert_int_equal(ae_model_set_optimizer_state(f->model, 1, m, v, n), AE_ERR_NON_FINITE_INPUT);
    m[3] = 0;
    v[5] = -1e-9f;
    assert_int_equal(ae_model_set_optimizer_state(f->model, 1, m, v, n), AE_ERR_NON_FINITE_INPUT);
    assert_non_null(strstr(ae_model_last_error(f->model), "second_moment[5]"));
    v[5] = INFINITY;
    assert_int_equal(ae_model_set_optimizer_state(f->model, 1, m, v, n), AE_ERR_NON_FINITE_INPUT);
    uint64_t step;
    assert_int_equal(ae_model_get_optimizer_state(f->model, &step, m, NULL, n), AE_OK);
    assert_int_equal(step, step0);
    assert_memory_equal(m, m0, n * sizeof *m);
    /* The largest counter is accepted, and its next step neither wraps nor divides by 0. */
    v[5] = 0;
    assert_int_equal(ae_model_set_optimizer_state(f->model, (uint64_t)1 << 53, m, v, n), AE_OK);
    assert_int_equal(ae_model_train_batch(f->model, f->x, f->n_rows, f->ld, NULL), AE_OK);
    assert_int_equal(ae_model_get_optimizer_state(f->model, &step, NULL, NULL, 0), AE_OK);
    assert_int_equal(step, (uint64_t)1 << 53);
    /* SGD: a momentum buffer or none; never a second moment or a counter. */
    test_set_param(f->model, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    assert_int_equal(ae_model_set_optimizer_state(f->model, 0, m, v, n), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_optimizer_state(f->model, 2, m, NULL, n), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_set_optimizer_state(f->model, 0, m, NULL, n), AE_OK);
    free(m);
    free(v);
    free(m0);
}

/* Moments that decay below FLT_MIN are stored as 0, never as subnormal floats (which x86
 * computes 10-100x slower: long one-row runs slowed 2-3x). The crafted run: every moment
 * starts just above FLT_MIN, the input is all zeros so the first layer's weight gradients are
 * exactly 0, and a step's decay (0.9, 0.999, momentum 0.9) takes those moments below FLT_MIN. */
static void test_moments_that_decay_below_flt_min_are_stored_as_zero(void **state)
{
    fixture *f = *state;
    const size_t n = f->n_params;
    size_t n_in, n_out;
    assert_int_equal(ae_model_layer_info(f->model, 0, &n_out, &n_in, NULL), AE_OK);
    const size_t first_layer = n_out * n_in; /* the flat layout starts with layer 0's weights */
    float *x = calloc(f->n_rows * f->ld, sizeof *x), *m = malloc(n * sizeof *m), *v = malloc(n * sizeof *v);
    assert_non_null(x);
    assert_non_null(m);
    assert_non_null(v);
    static const int optimizers[] = {AE_OPT_ADAM, AE_OPT_ADAMW, AE_OPT_SGD, AE_OPT_SGD};
    for (size_t o = 0; o < ARRAY_LEN(optimizers); o++) {
        const int adam = optimizers[o] != AE_OPT_SGD;
        test_set_param(f->model, AE_PARAM_OPTIMIZER, optimizers[o]);
        test_set_param(f->model, AE_PARAM_MOMENTUM, adam ? 0.0 : 0.9);
        test_set_param(f->model, AE_PARAM_NESTEROV, o == 3);
        for (size_t i = 0; i < n; i++) {
            m[i] = (i % 2 ? -1.0005f : 1.0005f) * FLT_MIN;
            v[i] = 1.0005f * FLT_MIN;
        }
        assert_int_equal(ae_model_set_optimizer_state(f->model, adam ? 7 : 0, m, adam ? v : NULL, n), AE_OK);
        for (int step = 0; step < 3; step++)
            assert_int_equal(ae_model_train_batch(f->model, x, f->n_rows, f->ld, NULL), AE_OK);
        uint64_t steps;
        assert_int_equal(ae_model_get_optimizer_state(f->model, &steps, m, adam ? v : NULL, n), AE_OK);
        for (size_t i = 0; i < n; i++) {
            assert_false(fpclassify(m[i]) == FP_SUBNORMAL);
            assert_false(adam && fpclassify(v[i]) == FP_SUBNORMAL);
        }
        for (size_t i = 0; i < first_layer; i++) { /* decayed without a gradient: flushed */
            assert_true(m[i] == 0.0f);
            assert_true(!adam || v[i] == 0.0f);
        }
        for (size_t i = first_layer; i < n; i++) /* the others got gradients and stay normal */
            assert_true(m[i] != 0.0f);
    }
    free(x);
    free(m);
    free(v);
}

/* Moments near the top of float's range are finite state: a step that keeps every value
 * finite is taken, even where two of them would overflow if added (an earlier check added
 * the new weight and both moments, and took such a step for divergence). */
static void test_adam_takes_a_finite_step_from_moments_near_flt_max(void **state)
{
    fixture *f = *state;
    const size_t n = f->n_params;
    float *m = malloc(n * sizeof *m), *v = malloc(n * sizeof *v);
    assert_non_null(m);
    assert_non_null(v);
    static const int optimizers[] = {AE_OPT_ADAM, AE_OPT_ADAMW};
    for (size_t o = 0; o < ARRAY_LEN(optimizers); o++) {
        test_set_param(f->model, AE_PARAM_OPTIMIZER, optimizers[o]);
        for (size_t i = 0; i < n; i++) {
            m[i] = (i % 2 ? -2.0f : 2.0f) * 1e38f;
            v[i] = 3e38f;
        }
        assert_int_equal(ae_model_set_optimizer_state(f->model, 10, m, v, n), AE_OK);
        float *before = get_params(f);
        assert_int_equal(ae_model_train_batch(f->model, f->x, f->n_rows, f->ld, NULL), AE_OK);
        float *after = get_params(f);
        uint64_t steps;
        assert_int_equal(ae_model_get_optimizer_state(f->model, &steps, m, v, n), AE_OK);
        assert_int_equal(steps, 11);
        for (size_t i = 0; i < n; i++) {
            assert_true(isfinite(after[i]) && isfinite(m[i]) && isfinite(v[i]));
            assert_true(v[i] > 2.9e38f);
            assert_true(after[i] != before[i]); /* each weight took a large, finite step */
        }
        free(before);
        free(after);
    }
    free(m);
    free(v);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_sgd_step_subtracts_learning_rate_times_gradient),
        TEST(test_sgd_momentum_accumulates_its_buffer_over_three_steps),
        TEST(test_sgd_nesterov_momentum_over_three_steps),
        TEST(test_adam_applies_bias_corrected_moments_over_three_steps),
        TEST(test_adam_honours_betas_and_epsilon),
        TEST(test_adamw_decays_weights_decoupled_from_the_gradient),
        TEST(test_sgd_weight_decay_applies_to_weights_not_biases),
        TEST(test_adam_weight_decay_is_added_to_the_gradient_of_weights_only),
        TEST(test_gradient_clipping_scales_a_large_gradient_to_the_clip_norm),
        TEST(test_gradient_clipping_leaves_a_small_gradient_unchanged),
        TEST(test_gradient_clipping_happens_before_weight_decay),
        cmocka_unit_test(test_gradient_clipping_matches_torch_for_a_small_norm),
        TEST(test_adam_state_reads_back_as_torch_holds_it),
        TEST(test_adam_continues_from_a_state_set_from_outside),
        TEST(test_set_optimizer_state_refuses_what_no_optimizer_could_hold),
        TEST(test_moments_that_decay_below_flt_min_are_stored_as_zero),
        TEST(test_adam_takes_a_finite_step_from_moments_near_flt_max),
        TEST(test_train_batch_reports_the_loss_before_the_step),
        TEST(test_changing_the_optimizer_resets_its_state),
        TEST(test_reset_clears_the_optimizer_state),
        TEST(test_train_batch_returns_diverged_and_keeps_params_when_the_loss_overflows),
        TEST(test_train_batch_returns_diverged_when_the_weights_blow_up),
        TEST(test_a_failed_first_step_leaves_no_optimizer_state_behind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
