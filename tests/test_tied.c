/* Tied weights (AE_ARCH_TIED_WEIGHTS): each decoder layer uses the transposed weights of
 * its mirror encoder layer and keeps only its bias. The parameter count and layout, the
 * per-layer weight calls, the loss and gradient against a double-precision reference
 * built from the transposed weights (central differences of the double loss, so a shared
 * weight's difference quotient is the sum of both uses), the architecture checks of
 * ae_model_create_ex, and that saving, cloning, exporting, copying layers, pre-training
 * and training keep the tie. */
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

/* Tolerances: tests/support/grad_check.h. */
#define KINK_MARGIN 1e-3

static const size_t enc1[] = {6, 3};
static const size_t enc2[] = {7, 5, 3};
static const size_t enc3[] = {9, 7, 5, 3};

/* ---- a double-precision reference of a tied model --------------------------------- */

#define REF_MAX_LAYERS 8
#define REF_MAX_WIDTH 16

typedef struct tref_layer {
    size_t n_out, n_in;
    int activation;
    size_t w_offset;   /* own W (n_out x n_in), or the mirror's V (n_in x n_out) if transposed */
    size_t b_offset;
    int transposed;
} tref_layer;

typedef struct tref {
    size_t n_layers, n_encoder_layers, input_dim;
    int loss;
    double leaky_slope, elu_alpha;
    tref_layer layers[REF_MAX_LAYERS];
    size_t n_params;
    double *params;
} tref;

/* From the API: the flat vector holds the encoder layers' W in layer order (the decoder
 * has none of its own), then every layer's bias in layer order. */
static void tref_from_model(tref *r, const ae_model *model)
{
    memset(r, 0, sizeof *r);
    r->n_layers = ae_model_layer_count(model);
    r->n_encoder_layers = ae_model_encoder_layer_count(model);
    r->input_dim = ae_model_input_dim(model);
    assert_true(r->n_layers == 2 * r->n_encoder_layers && r->n_layers <= REF_MAX_LAYERS);
    assert_true(ae_model_architecture(model) & AE_ARCH_TIED_WEIGHTS);
    double value;
    assert_int_equal(ae_model_get_param(model, AE_PARAM_LOSS, &value), AE_OK);
    r->loss = (int)value;
    assert_int_equal(ae_model_get_param(model, AE_PARAM_LEAKY_SLOPE, &r->leaky_slope), AE_OK);
    assert_int_equal(ae_model_get_param(model, AE_PARAM_ELU_ALPHA, &r->elu_alpha), AE_OK);
    size_t n_weights = 0;
    for (size_t l = 0; l < r->n_layers; l++) {
        tref_layer *L = &r->layers[l];
        assert_int_equal(ae_model_layer_info(model, l, &L->n_out, &L->n_in, &L->activation), AE_OK);
        assert_true(L->n_out <= REF_MAX_WIDTH && L->n_in <= REF_MAX_WIDTH);
        if (l < r->n_encoder_layers) {
            L->w_offset = n_weights;
            n_weights += L->n_out * L->n_in;
        } else {
            const tref_layer *mirror = &r->layers[r->n_layers - 1 - l];
            assert_true(mirror->n_out == L->n_in && mirror->n_in == L->n_out);
            L->w_offset = mirror->w_offset;
            L->transposed = 1;
        }
    }
    size_t offset = n_weights;
    for (size_t l = 0; l < r->n_layers; l++) {
        r->layers[l].b_offset = offset;
        offset += r->layers[l].n_out;
    }
    r->n_params = offset;
    assert_int_equal(r->n_params, ae_model_param_count(model));
    float *params = test_params_of(model);
    r->params = malloc(r->n_params * sizeof *r->params);
    assert_non_null(r->params);
    for (size_t i = 0; i < r->n_params; i++)
        r->params[i] = params[i];
    free(params);
}

static void tref_free(tref *r)
{
    free(r->params);
    r->params = NULL;
}

/* W[o][j] of layer l: its own, or the mirror's V[j][o]. */
static double tref_weight(const tref *r, const tref_layer *L, size_t o, size_t j)
{
    return L->transposed ? r->params[L->w_offset + j * L->n_out + o]
                         : r->params[L->w_offset + o * L->n_in + j];
}

static double tref_activation(const tref *r, int activation, double z)
{
    return ref_activation_with(activation, z, r->leaky_slope, r->elu_alpha);
}

/* Mean loss over all elements of the rows of x; *min_kink receives the smallest |z| that
 * feeds a relu, leaky relu or elu (may be NULL). */
static double tref_loss(const tref *r, const float *x, size_t n_rows, size_t ld, double *min_kink)
{
    const size_t last = r->n_layers - 1;
    double sum = 0, kink = INFINITY;
    for (size_t i = 0; i < n_rows; i++) {
        double in[REF_MAX_WIDTH], out[REF_MAX_WIDTH];
        for (size_t j = 0; j < r->input_dim; j++)
            in[j] = x[i * ld + j];
        for (size_t l = 0; l < r->n_layers; l++) {
            const tref_layer *L = &r->layers[l];
            for (size_t o = 0; o < L->n_out; o++) {
                double z = r->params[L->b_offset + o];
                for (size_t j = 0; j < L->n_in; j++)
                    z += tref_weight(r, L, o, j) * in[j];
                if (ref_has_kink(L->activation))
                    kink = fmin(kink, fabs(z));
                if (l < last) {
                    out[o] = tref_activation(r, L->activation, z);
                } else if (r->loss == AE_LOSS_BCE) { /* from the logit */
                    double t = x[i * ld + o];
                    sum += fmax(z, 0.0) - t * z + log1p(exp(-fabs(z)));
                } else {
                    double d = tref_activation(r, L->activation, z) - x[i * ld + o];
                    sum += d * d;
                }
            }
            memcpy(in, out, sizeof in);
        }
    }
    if (min_kink)
        *min_kink = kink;
    return sum / ((double)n_rows * (double)r->input_dim);
}

/* ---- helpers -------------------------------------------------------------------------- */

static ae_model *create_tied(const size_t *encoder, size_t n_encoder)
{
    ae_model *model = NULL;
    int rc = ae_model_create_ex(&model, encoder, n_encoder, NULL, 0, AE_ARCH_TIED_WEIGHTS);
    if (rc != AE_OK)
        print_error("create_ex: %s\n", ae_last_error());
    assert_int_equal(rc, AE_OK);
    assert_non_null(model);
    return model;
}



static float *alloc_floats(size_t n)
{
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    return p;
}

static double rel_diff(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

static float *layer_weights(const ae_model *model, size_t layer, size_t *n_out, size_t *n_in)
{
    size_t o, i;
    assert_int_equal(ae_model_layer_info(model, layer, &o, &i, NULL), AE_OK);
    float *w = alloc_floats(o * i);
    assert_int_equal(ae_model_get_weights(model, layer, w, o * i), AE_OK);
    if (n_out)
        *n_out = o;
    if (n_in)
        *n_in = i;
    return w;
}

static float *layer_bias(const ae_model *model, size_t layer)
{
    size_t o;
    assert_int_equal(ae_model_layer_info(model, layer, &o, NULL, NULL), AE_OK);
    float *b = alloc_floats(o);
    assert_int_equal(ae_model_get_bias(model, layer, b, o), AE_OK);
    return b;
}

/* Every decoder layer's weights are exactly the transpose of its mirror's. */
static void assert_decoder_is_tied(const ae_model *model)
{
    const size_t n_layers = ae_model_layer_count(model), n_enc = ae_model_encoder_layer_count(model);
    for (size_t l = n_enc; l < n_layers; l++) {
        size_t n_out, n_in, m_out, m_in;
        float *w = layer_weights(model, l, &n_out, &n_in);
        float *v = layer_weights(model, n_layers - 1 - l, &m_out, &m_in);
        assert_int_equal(m_out, n_in);
        assert_int_equal(m_in, n_out);
        for (size_t o = 0; o < n_out; o++)
            for (size_t j = 0; j < n_in; j++)
                assert_true(w[o * n_in + j] == v[j * n_out + o]);
        free(w);
        free(v);
    }
}

/* ---- parameters and layers -------------------------------------------------------- */

static void test_tied_model_counts_encoder_weights_and_every_bias(void **state)
{
    (void)state;
    const size_t *encoders[] = {enc1, enc2, enc3};
    const size_t n_widths[] = {2, 3, 4};
    for (size_t e = 0; e < 3; e++) {
        const size_t *w = encoders[e], n = n_widths[e];
        ae_model *model = create_tied(w, n);
        size_t weights = 0, biases = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            weights += w[i] * w[i + 1];
            biases += w[i + 1] + w[i]; /* encoder layer i and its mirror */
        }
        assert_int_equal(ae_model_param_count(model), weights + biases);
        assert_int_equal(ae_model_architecture(model), AE_ARCH_TIED_WEIGHTS);
        assert_int_equal(ae_model_layer_count(model), 2 * (n - 1));
        assert_int_equal(ae_model_latent_dim(model), w[n - 1]);
        /* a plain model of the same shape has the decoder's weights on top */
        ae_model *plain = test_create_model(w, n, NULL, 0);
        assert_int_equal(ae_model_param_count(plain), 2 * weights + biases);
        ae_model_free(plain);
        ae_model_free(model);
    }
}

static void test_flat_parameters_hold_the_encoder_weights_then_every_bias(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 10);
    ae_model *model = create_tied(enc3, 4);
    free(test_set_spread_params(model, &rng, 0));
    float *params = test_params_of(model);
    size_t offset = 0;
    for (size_t l = 0; l < 3; l++) {
        size_t n_out, n_in;
        float *w = layer_weights(model, l, &n_out, &n_in);
        assert_memory_equal(w, params + offset, n_out * n_in * sizeof *w);
        offset += n_out * n_in;
        free(w);
    }
    for (size_t l = 0; l < 6; l++) {
        size_t n_out;
        assert_int_equal(ae_model_layer_info(model, l, &n_out, NULL, NULL), AE_OK);
        float *b = layer_bias(model, l);
        assert_memory_equal(b, params + offset, n_out * sizeof *b);
        offset += n_out;
        free(b);
    }
    assert_int_equal(offset, ae_model_param_count(model));
    free(params);
    ae_model_free(model);
}

static void test_decoder_weights_are_the_transpose_of_the_mirror_weights(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 11);
    ae_model *model = create_tied(enc3, 4);
    assert_decoder_is_tied(model); /* as initialised */
    free(test_set_spread_params(model, &rng, 0));
    assert_decoder_is_tied(model); /* as set through the flat vector */
    /* setting an encoder layer changes its mirror */
    size_t n_out, n_in;
    float *w = layer_weights(model, 1, &n_out, &n_in);
    for (size_t i = 0; i < n_out * n_in; i++)
        w[i] = (float)(0.25 * (double)i - 1.0);
    assert_int_equal(ae_model_set_weights(model, 1, w, n_out * n_in), AE_OK);
    float *mirror = layer_weights(model, 4, NULL, NULL);
    for (size_t o = 0; o < n_out; o++)
        for (size_t j = 0; j < n_in; j++)
            assert_true(mirror[j * n_out + o] == w[o * n_in + j]);
    assert_decoder_is_tied(model);
    free(w);
    free(mirror);
    ae_model_free(model);
}

static void test_set_weights_on_a_tied_decoder_layer_is_refused(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 12);
    ae_model *model = create_tied(enc2, 3);
    free(test_set_spread_params(model, &rng, 0));
    float *before = test_params_of(model);
    for (size_t l = 2; l < 4; l++) {
        size_t n_out, n_in;
        float *w = layer_weights(model, l, &n_out, &n_in);
        w[0] += 1.0f;
        assert_int_equal(ae_model_set_weights(model, l, w, n_out * n_in), AE_ERR_STATE);
        assert_true(strlen(ae_model_last_error(model)) > 0);
        assert_true(strlen(ae_last_error()) > 0);
        assert_true(test_params_equal_to(model, before));
        free(w);
    }
    /* a decoder layer's own bias can be set */
    float *b = layer_bias(model, 3);
    b[0] = 0.75f;
    assert_int_equal(ae_model_set_bias(model, 3, b, 7), AE_OK);
    float *after = layer_bias(model, 3);
    assert_true(after[0] == 0.75f);
    free(after);
    free(b);
    free(before);
    ae_model_free(model);
}

/* ---- loss and gradient ------------------------------------------------------------ */

typedef struct tied_case {
    const size_t *encoder;
    size_t n_encoder;
    int hidden, latent, output, loss;
    size_t n_rows, ld_extra;
} tied_case;

/* Central differences of the reference loss over the model's parameters: a shared weight
 * moves both layers that use it, so its quotient is the sum of both uses. */
typedef struct tref_point {
    tref *ref;
    const float *x;
    size_t n_rows, ld;
} tref_point;

static double tref_point_loss(void *context)
{
    tref_point *p = context;
    return tref_loss(p->ref, p->x, p->n_rows, p->ld, NULL);
}

static void tref_gradient(tref *ref, const float *x, size_t n_rows, size_t ld, double *fd)
{
    tref_point point = {ref, x, n_rows, ld};
    grad_central_differences(ref->params, ref->n_params, tref_point_loss, &point, fd);
}

/* The tensors a gradient is judged by: the shared W (once, at its encoder layer) and each
 * layer's bias. scale receives the largest |fd| of tensor (l, part). */
static double tensor_scale(const tref *ref, const double *fd, size_t l, int part)
{
    const tref_layer *L = &ref->layers[l];
    return part ? grad_tensor_scale(fd, L->b_offset, L->n_out)
                : grad_tensor_scale(fd, L->w_offset, L->n_out * L->n_in);
}

static int every_tensor_has_gradient(const tref *ref, const double *fd)
{
    for (size_t l = 0; l < ref->n_layers; l++)
        for (int part = ref->layers[l].transposed ? 1 : 0; part < 2; part++)
            if (!(tensor_scale(ref, fd, l, part) > 1e-7))
                return 0;
    return 1;
}

static void check_tied_case(const tied_case *c, uint64_t seed, const char *label)
{
    ae_model *model = create_tied(c->encoder, c->n_encoder);
    test_set_activations(model, c->hidden, c->latent, c->output);
    test_set_param(model, AE_PARAM_LOSS, c->loss);
    const size_t dim = ae_model_input_dim(model), ld = dim + c->ld_extra;
    const size_t n_params = ae_model_param_count(model);
    test_rng rng;
    test_rng_seed(&rng, seed);
    tref ref = {0};
    float *x = NULL;
    double ref_loss = NAN, kink = 0;
    double *fd = malloc(n_params * sizeof *fd);
    assert_non_null(fd);
    /* A test point keeps every kinked pre-activation away from its kink, and every tensor
     * carries gradient (a dead relu layer would make the check prove nothing there):
     * properties of the point, drawn again until they hold. */
    int attempt;
    for (attempt = 0; attempt < 20; attempt++) {
        free(x);
        tref_free(&ref);
        free(test_set_spread_params(model, &rng, 0));
        x = test_loss_data(&rng, c->loss, c->n_rows, dim, ld);
        tref_from_model(&ref, model);
        ref_loss = tref_loss(&ref, x, c->n_rows, ld, &kink);
        if (kink < KINK_MARGIN)
            continue;
        tref_gradient(&ref, x, c->n_rows, ld, fd);
        if (every_tensor_has_gradient(&ref, fd))
            break;
    }
    assert_true(attempt < 20);
    assert_true(isfinite(ref_loss));

    float *grad = alloc_floats(n_params);
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

    grad_check gc = {.label = label};
    for (size_t l = 0; l < ref.n_layers; l++) {
        const tref_layer *L = &ref.layers[l];
        size_t starts[2] = {L->w_offset, L->b_offset}, counts[2] = {L->n_out * L->n_in, L->n_out};
        for (int part = L->transposed ? 1 : 0; part < 2; part++) {
            char what[64];
            snprintf(what, sizeof what, "layer %zu %s", l, part ? "bias" : "weights");
            grad_check_tensor(&gc, what, grad, fd, starts[part], counts[part]);
        }
    }
    grad_check_finish(&gc);
    free(fd);
    free(grad);
    free(x);
    tref_free(&ref);
    ae_model_free(model);
}

static const int output_variants[][2] = {
    {AE_ACT_LINEAR, AE_LOSS_MSE},
    {AE_ACT_SIGMOID, AE_LOSS_MSE},
    {AE_ACT_TANH, AE_LOSS_MSE},
    {AE_ACT_SOFTPLUS, AE_LOSS_MSE},
    {AE_ACT_SIGMOID, AE_LOSS_BCE},
};

static void check_depth(const size_t *encoder, size_t n_encoder, uint64_t seed)
{
    for (int hidden = AE_ACT_LINEAR; hidden <= AE_ACT_SOFTPLUS; hidden++) {
        for (size_t v = 0; v < ARRAY_LEN(output_variants); v++) {
            int latent = (hidden + (int)v) % 7; /* vary the latent activation too */
            tied_case c = {encoder, n_encoder, hidden, latent, output_variants[v][0],
                           output_variants[v][1], 5, v % 2 ? 3 : 0};
            char label[128];
            snprintf(label, sizeof label, "%zu encoder layers, hidden %s, latent %s, output %s, %s",
                     n_encoder - 1, ae_activation_name((ae_activation)hidden),
                     ae_activation_name((ae_activation)latent),
                     ae_activation_name((ae_activation)c.output),
                     c.loss == AE_LOSS_BCE ? "bce" : "mse");
            check_tied_case(&c, seed + 10u * (uint64_t)hidden + v, label);
        }
    }
}

static void test_gradient_matches_reference_with_one_encoder_layer(void **state)
{
    (void)state;
    check_depth(enc1, 2, 1000);
}

static void test_gradient_matches_reference_with_two_encoder_layers(void **state)
{
    (void)state;
    check_depth(enc2, 3, 2000);
}

static void test_gradient_matches_reference_with_three_encoder_layers(void **state)
{
    (void)state;
    check_depth(enc3, 4, 3000);
}

/* One row takes its own path (outer products written or added per use of a shared W, and
 * sgemv through the transposed mirror): the same gradient. */
static void test_gradient_matches_reference_for_a_single_row(void **state)
{
    (void)state;
    const int hidden[] = {AE_ACT_TANH, AE_ACT_SIGMOID, AE_ACT_ELU};
    for (size_t k = 0; k < ARRAY_LEN(hidden); k++)
        for (size_t v = 0; v < ARRAY_LEN(output_variants); v++) {
            tied_case c = {k % 2 ? enc2 : enc3, k % 2 ? 3 : 4, hidden[k], AE_ACT_LINEAR, output_variants[v][0],
                           output_variants[v][1], 1, v % 2 ? 3 : 0};
            char label[128];
            snprintf(label, sizeof label, "one row, hidden %s, output %s, %s",
                     ae_activation_name((ae_activation)hidden[k]),
                     ae_activation_name((ae_activation)c.output), c.loss == AE_LOSS_BCE ? "bce" : "mse");
            check_tied_case(&c, 5000u + 10u * k + v, label);
        }
}

/* The tied gradient of a shared W is the plain model's gradient of the encoder layer's W
 * plus the transpose of its mirror's, for a plain model whose decoder holds the transposed
 * weights; biases have the same gradients. */
static void test_shared_weight_gradient_is_the_sum_of_both_uses(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 4000);
    ae_model *tied = create_tied(enc3, 4);
    ae_model *plain = test_create_model(enc3, 4, NULL, 0);
    test_set_activations(tied, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_SIGMOID);
    test_set_activations(plain, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_SIGMOID);
    free(test_set_spread_params(tied, &rng, 0));
    for (size_t l = 0; l < 6; l++) {
        size_t n_out, n_in;
        float *w = layer_weights(tied, l, &n_out, &n_in), *b = layer_bias(tied, l);
        assert_int_equal(ae_model_set_weights(plain, l, w, n_out * n_in), AE_OK);
        assert_int_equal(ae_model_set_bias(plain, l, b, n_out), AE_OK);
        free(w);
        free(b);
    }
    const size_t n_rows = 11, n_tied = ae_model_param_count(tied), n_plain = ae_model_param_count(plain);
    float *x = test_loss_data(&rng, AE_LOSS_MSE, n_rows, 9, 9);
    float *g_tied = alloc_floats(n_tied), *g_plain = alloc_floats(n_plain);
    double loss_tied, loss_plain;
    assert_int_equal(ae_model_gradient(tied, x, n_rows, 9, g_tied, n_tied, &loss_tied), AE_OK);
    assert_int_equal(ae_model_gradient(plain, x, n_rows, 9, g_plain, n_plain, &loss_plain), AE_OK);
    assert_true(rel_diff(loss_tied, loss_plain) <= GRAD_LOSS_RTOL);
    /* plain layout: W0 W1 W2 W3 W4 W5 then biases; tied: W0 W1 W2 then biases */
    size_t plain_offsets[6], tied_offset = 0, offset = 0, n_out[6], n_in[6];
    for (size_t l = 0; l < 6; l++) {
        assert_int_equal(ae_model_layer_info(plain, l, &n_out[l], &n_in[l], NULL), AE_OK);
        plain_offsets[l] = offset;
        offset += n_out[l] * n_in[l];
    }
    size_t plain_biases = offset;
    for (size_t l = 0; l < 3; l++) {
        const float *own = g_plain + plain_offsets[l], *mirror = g_plain + plain_offsets[5 - l];
        double scale = 0;
        for (size_t i = 0; i < n_out[l] * n_in[l]; i++)
            scale = fmax(scale, fabs(g_tied[tied_offset + i]));
        for (size_t o = 0; o < n_out[l]; o++)
            for (size_t j = 0; j < n_in[l]; j++) {
                double sum = (double)own[o * n_in[l] + j] + mirror[j * n_out[l] + o];
                double got = g_tied[tied_offset + o * n_in[l] + j];
                assert_true(fabs(got - sum) <= GRAD_RTOL * fabs(sum) + GRAD_ATOL * scale);
            }
        tied_offset += n_out[l] * n_in[l];
    }
    for (size_t i = 0; i < n_tied - tied_offset; i++) {
        double expected = g_plain[plain_biases + i];
        assert_true(fabs(g_tied[tied_offset + i] - expected) <= GRAD_RTOL * fabs(expected) + 1e-7);
    }
    free(x);
    free(g_tied);
    free(g_plain);
    ae_model_free(tied);
    ae_model_free(plain);
}

/* An SGD step moves each shared weight once, by the summed gradient, and the decoder
 * follows. */
static void test_sgd_step_moves_the_shared_weights_by_the_summed_gradient(void **state)
{
    (void)state;
    const double lr = 0.05;
    test_rng rng;
    test_rng_seed(&rng, 5000);
    ae_model *model = create_tied(enc2, 3);
    test_set_param(model, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(model, AE_PARAM_LEARNING_RATE, lr);
    test_set_param(model, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    free(test_set_spread_params(model, &rng, 0));
    const size_t n_params = ae_model_param_count(model), n_rows = 6;
    float *x = test_loss_data(&rng, AE_LOSS_MSE, n_rows, 7, 7);
    float *before = test_params_of(model), *grad = alloc_floats(n_params);
    assert_int_equal(ae_model_gradient(model, x, n_rows, 7, grad, n_params, NULL), AE_OK);
    assert_int_equal(ae_model_train_batch(model, x, n_rows, 7, NULL), AE_OK);
    float *after = test_params_of(model);
    for (size_t i = 0; i < n_params; i++) {
        double expected = (double)before[i] - lr * grad[i];
        assert_true(fabs(after[i] - expected) <= 1e-6 * (1.0 + fabs(expected)));
    }
    assert_decoder_is_tied(model);
    free(x);
    free(before);
    free(after);
    free(grad);
    ae_model_free(model);
}

/* ---- architecture checks ----------------------------------------------------------- */

static void test_create_ex_rejects_bad_flags_and_tied_decoders_that_do_not_mirror(void **state)
{
    (void)state;
    static const size_t encoder[] = {8, 6, 5, 4};
    static const size_t other_widths[] = {4, 7, 5, 8};
    static const size_t other_depth[] = {4, 6, 8};
    static const size_t mirrored[] = {4, 5, 6, 8};
    ae_model *model = (ae_model *)&model; /* must come back NULL */
    assert_int_equal(ae_model_create_ex(&model, encoder, 4, other_widths, 4, AE_ARCH_TIED_WEIGHTS),
                     AE_ERR_INVALID_ARGUMENT);
    assert_null(model);
    assert_true(strlen(ae_last_error()) > 0);
    model = (ae_model *)&model;
    assert_int_equal(ae_model_create_ex(&model, encoder, 4, other_depth, 3, AE_ARCH_TIED_WEIGHTS),
                     AE_ERR_INVALID_ARGUMENT);
    assert_null(model);
    /* the same decoders are fine without the tie */
    assert_int_equal(ae_model_create_ex(&model, encoder, 4, other_widths, 4, AE_ARCH_PLAIN), AE_OK);
    ae_model_free(model);
    /* a decoder given explicitly that mirrors the encoder is fine */
    assert_int_equal(ae_model_create_ex(&model, encoder, 4, mirrored, 4, AE_ARCH_TIED_WEIGHTS), AE_OK);
    assert_int_equal(ae_model_architecture(model), AE_ARCH_TIED_WEIGHTS);
    assert_int_equal(ae_model_param_count(model), 48 + 30 + 20 + (6 + 5 + 4) + (5 + 6 + 8));
    ae_model_free(model);
    /* unknown flags and the incompatible pair */
    const unsigned bad[] = {4u, 8u, 0x80000000u, AE_ARCH_TIED_WEIGHTS | 4u,
                            AE_ARCH_TIED_WEIGHTS | AE_ARCH_VARIATIONAL};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        model = (ae_model *)&model;
        assert_int_equal(ae_model_create_ex(&model, encoder, 4, NULL, 0, bad[i]),
                         AE_ERR_INVALID_ARGUMENT);
        assert_null(model);
    }
    assert_int_equal(ae_model_architecture(NULL), 0);
}

/* ---- saving, cloning, exporting, copying ----------------------------------------------- */

static void assert_same_reconstructions(const ae_model *a, const ae_model *b, const float *x,
                                        size_t n_rows)
{
    const size_t dim = ae_model_input_dim(a);
    float *ya = alloc_floats(n_rows * dim), *yb = alloc_floats(n_rows * dim);
    assert_int_equal(ae_model_reconstruct(a, x, n_rows, dim, ya, dim), AE_OK);
    assert_int_equal(ae_model_reconstruct(b, x, n_rows, dim, yb, dim), AE_OK);
    assert_memory_equal(ya, yb, n_rows * dim * sizeof *ya);
    free(ya);
    free(yb);
}

enum { FIT_ROWS = 300 };

/* A tied 9-7-5-3 model trained briefly on low-rank data. */
static ae_model *trained_tied(float **x_out)
{
    test_rng rng;
    test_rng_seed(&rng, 6000);
    float *x = test_low_rank_matrix(&rng, FIT_ROWS, 9, 3);
    assert_non_null(x);
    ae_model *model = create_tied(enc3, 4);
    test_set_param(model, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    test_set_epochs_and_batch(model, 3, 32);
    assert_int_equal(ae_model_fit(model, x, FIT_ROWS, 9, NULL), AE_OK);
    *x_out = x;
    return model;
}

static void test_save_and_load_keep_the_tie(void **state)
{
    (void)state;
    float *x;
    ae_model *model = trained_tied(&x);
    size_t size = 0, written = 0;
    assert_int_equal(ae_model_save_size(model, AE_SAVE_OPTIMIZER_STATE, &size), AE_OK);
    unsigned char *buffer = malloc(size);
    assert_non_null(buffer);
    assert_int_equal(ae_model_save_to_memory(model, AE_SAVE_OPTIMIZER_STATE, buffer, size, &written),
                     AE_OK);
    ae_model *loaded = NULL;
    assert_int_equal(ae_model_load_from_memory(&loaded, buffer, written), AE_OK);
    assert_int_equal(ae_model_architecture(loaded), AE_ARCH_TIED_WEIGHTS);
    assert_int_equal(ae_model_param_count(loaded), ae_model_param_count(model));
    assert_true(test_same_params(model, loaded));
    assert_decoder_is_tied(loaded);
    assert_same_reconstructions(model, loaded, x, 40);
    size_t n_out, n_in;
    float *w = layer_weights(loaded, 5, &n_out, &n_in);
    assert_int_equal(ae_model_set_weights(loaded, 5, w, n_out * n_in), AE_ERR_STATE);
    free(w);
    /* training resumes identically and keeps the tie */
    double la, lb;
    assert_int_equal(ae_model_train_batch(model, x, 32, 9, &la), AE_OK);
    assert_int_equal(ae_model_train_batch(loaded, x, 32, 9, &lb), AE_OK);
    assert_true(la == lb);
    assert_true(test_same_params(model, loaded));
    assert_decoder_is_tied(loaded);

    char dir[] = "/tmp/ae_tied_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tied.aemodel", dir);
    assert_int_equal(ae_model_save(model, path, AE_SAVE_DEFAULT), AE_OK);
    ae_model *from_file = NULL;
    assert_int_equal(ae_model_load(&from_file, path), AE_OK);
    assert_int_equal(ae_model_architecture(from_file), AE_ARCH_TIED_WEIGHTS);
    assert_true(test_same_params(model, from_file));
    assert_same_reconstructions(model, from_file, x, 40);
    unlink(path);
    rmdir(dir);

    ae_model_free(from_file);
    ae_model_free(loaded);
    ae_model_free(model);
    free(buffer);
    free(x);
}

static void test_clone_keeps_the_tie_and_trains_identically(void **state)
{
    (void)state;
    float *x;
    ae_model *model = trained_tied(&x);
    ae_model *copy = test_clone_model(model);
    assert_int_equal(ae_model_architecture(copy), AE_ARCH_TIED_WEIGHTS);
    assert_true(test_same_params(model, copy));
    assert_same_reconstructions(model, copy, x, 40);
    float *original = test_params_of(model);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(copy, x, FIT_ROWS, 9, &report), AE_OK);
    assert_decoder_is_tied(copy);
    assert_true(test_params_equal_to(model, original)); /* the copy is independent */
    assert_int_equal(ae_model_fit(model, x, FIT_ROWS, 9, NULL), AE_OK);
    assert_true(test_same_params(model, copy));
    free(original);
    ae_model_free(copy);
    ae_model_free(model);
    free(x);
}

static void test_exported_encoder_of_a_tied_model_encodes_identically(void **state)
{
    (void)state;
    float *x;
    ae_model *model = trained_tied(&x), *encoder = NULL;
    assert_int_equal(ae_model_export_encoder(model, &encoder), AE_OK);
    assert_int_equal(ae_model_layer_count(encoder), 3);
    assert_int_equal(ae_model_encoder_layer_count(encoder), 3);
    /* the encoder's weights and biases alone */
    assert_int_equal(ae_model_param_count(encoder), 63 + 35 + 15 + 7 + 5 + 3);
    for (size_t l = 0; l < 3; l++) {
        size_t n_out, n_in;
        float *a = layer_weights(model, l, &n_out, &n_in), *b = layer_weights(encoder, l, NULL, NULL);
        assert_memory_equal(a, b, n_out * n_in * sizeof *a);
        free(a);
        free(b);
    }
    enum { N = 40 };
    float za[N * 3], zb[N * 3];
    assert_int_equal(ae_model_encode(model, x, N, 9, za, 3), AE_OK);
    assert_int_equal(ae_model_encode(encoder, x, N, 9, zb, 3), AE_OK);
    assert_memory_equal(za, zb, sizeof za);
    ae_model_free(encoder);
    ae_model_free(model);
    free(x);
}

static void test_copy_layers_into_a_tied_layer_copies_only_the_bias(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 7000);
    ae_model *tied = create_tied(enc2, 3);
    ae_model *plain = test_create_model(enc2, 3, NULL, 0);
    free(test_set_spread_params(tied, &rng, 0));
    test_set_param(plain, AE_PARAM_SEED, 99); /* other weights than the tied model's */
    float *b = alloc_floats(7);
    for (size_t i = 0; i < 7; i++)
        b[i] = (float)i + 0.5f;
    assert_int_equal(ae_model_set_bias(plain, 3, b, 7), AE_OK);

    float *w_before = layer_weights(tied, 3, NULL, NULL), *enc_before = layer_weights(tied, 0, NULL, NULL);
    assert_int_equal(ae_model_copy_layers(tied, 3, plain, 3, 1), AE_OK);
    float *w_after = layer_weights(tied, 3, NULL, NULL), *enc_after = layer_weights(tied, 0, NULL, NULL);
    float *b_after = layer_bias(tied, 3);
    assert_memory_equal(b_after, b, 7 * sizeof *b);               /* the bias came */
    assert_memory_equal(w_after, w_before, 35 * sizeof *w_after); /* the weights did not */
    assert_memory_equal(enc_after, enc_before, 35 * sizeof *w_after);
    float *plain_w = layer_weights(plain, 3, NULL, NULL);
    assert_true(memcmp(w_after, plain_w, 35 * sizeof *w_after) != 0);

    /* the whole stack: encoder weights and every bias arrive, the decoder follows the
     * encoder, not the plain model's decoder weights */
    assert_int_equal(ae_model_copy_layers(tied, 0, plain, 0, 4), AE_OK);
    for (size_t l = 0; l < 4; l++) {
        float *bt = layer_bias(tied, l), *bp = layer_bias(plain, l);
        size_t n_out;
        assert_int_equal(ae_model_layer_info(plain, l, &n_out, NULL, NULL), AE_OK);
        assert_memory_equal(bt, bp, n_out * sizeof *bt);
        free(bt);
        free(bp);
    }
    for (size_t l = 0; l < 2; l++) {
        size_t n_out, n_in;
        float *wt = layer_weights(tied, l, &n_out, &n_in), *wp = layer_weights(plain, l, NULL, NULL);
        assert_memory_equal(wt, wp, n_out * n_in * sizeof *wt);
        free(wt);
        free(wp);
    }
    assert_decoder_is_tied(tied);
    free(plain_w);
    free(b);
    free(b_after);
    free(w_before);
    free(w_after);
    free(enc_before);
    free(enc_after);
    ae_model_free(tied);
    ae_model_free(plain);
}

static void test_copy_layers_from_a_tied_layer_gives_the_transposed_weights(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 7100);
    ae_model *tied = create_tied(enc2, 3);
    ae_model *plain = test_create_model(enc2, 3, NULL, 0);
    free(test_set_spread_params(tied, &rng, 0));
    assert_int_equal(ae_model_copy_layers(plain, 2, tied, 2, 2), AE_OK);
    for (size_t l = 2; l < 4; l++) {
        size_t n_out, n_in;
        float *wp = layer_weights(plain, l, &n_out, &n_in);
        float *mirror = layer_weights(tied, 3 - l, NULL, NULL);
        for (size_t o = 0; o < n_out; o++)
            for (size_t j = 0; j < n_in; j++)
                assert_true(wp[o * n_in + j] == mirror[j * n_out + o]);
        float *bp = layer_bias(plain, l), *bt = layer_bias(tied, l);
        assert_memory_equal(bp, bt, n_out * sizeof *bp);
        free(wp);
        free(mirror);
        free(bp);
        free(bt);
    }
    /* a plain copy of the whole tied model computes what the tied model computes */
    assert_int_equal(ae_model_copy_layers(plain, 0, tied, 0, 4), AE_OK);
    float *x = test_loss_data(&rng, AE_LOSS_MSE, 10, 7, 7);
    double loss_tied, loss_plain;
    assert_int_equal(ae_model_loss(tied, x, 10, 7, &loss_tied), AE_OK);
    assert_int_equal(ae_model_loss(plain, x, 10, 7, &loss_plain), AE_OK);
    assert_true(rel_diff(loss_plain, loss_tied) <= GRAD_LOSS_RTOL);
    free(x);
    ae_model_free(tied);
    ae_model_free(plain);
}

static void test_pretrain_works_on_a_tied_model(void **state)
{
    (void)state;
    test_rng rng;
    test_rng_seed(&rng, 8000);
    float *x = test_low_rank_matrix(&rng, FIT_ROWS, 9, 3);
    assert_non_null(x);
    ae_model *model = create_tied(enc3, 4);
    test_set_param(model, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH);
    test_set_epochs_and_batch(model, 5, 32);
    double before, after;
    assert_int_equal(ae_model_loss(model, x, FIT_ROWS, 9, &before), AE_OK);
    float *initial = test_params_of(model);
    ae_fit_report reports[3];
    for (size_t k = 0; k < 3; k++)
        reports[k] = test_new_fit_report();
    int rc = ae_model_pretrain(model, x, FIT_ROWS, 9, reports, 3);
    if (rc != AE_OK)
        print_error("pretrain: %s\n", ae_model_last_error(model));
    assert_int_equal(rc, AE_OK);
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(reports[k].epochs_run, 5);
        assert_true(isfinite(reports[k].final_train_loss));
    }
    assert_false(test_params_equal_to(model, initial));
    assert_int_equal(ae_model_param_count(model), 63 + 35 + 15 + 3 + 5 + 7 + 5 + 7 + 9);
    assert_decoder_is_tied(model);
    assert_int_equal(ae_model_loss(model, x, FIT_ROWS, 9, &after), AE_OK);
    print_message("      tied 9-7-5-3 on rank-3 data: loss %.4f before, %.4f after pre-training\n",
                  before, after);
    assert_true(after < before);
    /* fine-tuning continues from there and keeps the tie */
    assert_int_equal(ae_model_fit(model, x, FIT_ROWS, 9, NULL), AE_OK);
    assert_decoder_is_tied(model);
    free(initial);
    free(x);
    ae_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tied_model_counts_encoder_weights_and_every_bias),
        cmocka_unit_test(test_flat_parameters_hold_the_encoder_weights_then_every_bias),
        cmocka_unit_test(test_decoder_weights_are_the_transpose_of_the_mirror_weights),
        cmocka_unit_test(test_set_weights_on_a_tied_decoder_layer_is_refused),
        cmocka_unit_test(test_gradient_matches_reference_with_one_encoder_layer),
        cmocka_unit_test(test_gradient_matches_reference_with_two_encoder_layers),
        cmocka_unit_test(test_gradient_matches_reference_with_three_encoder_layers),
        cmocka_unit_test(test_gradient_matches_reference_for_a_single_row),
        cmocka_unit_test(test_shared_weight_gradient_is_the_sum_of_both_uses),
        cmocka_unit_test(test_sgd_step_moves_the_shared_weights_by_the_summed_gradient),
        cmocka_unit_test(test_create_ex_rejects_bad_flags_and_tied_decoders_that_do_not_mirror),
        cmocka_unit_test(test_save_and_load_keep_the_tie),
        cmocka_unit_test(test_clone_keeps_the_tie_and_trains_identically),
        cmocka_unit_test(test_exported_encoder_of_a_tied_model_encodes_identically),
        cmocka_unit_test(test_copy_layers_into_a_tied_layer_copies_only_the_bias),
        cmocka_unit_test(test_copy_layers_from_a_tied_layer_gives_the_transposed_weights),
        cmocka_unit_test(test_pretrain_works_on_a_tied_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
