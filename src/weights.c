/* Reading and writing parameters, per layer (torch.nn.Linear layout) or flat. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* The span of params that a request names, after checking the request. */
static int locate(const ae_model *m, size_t layer, bool bias, size_t n, size_t *offset)
{
    AE_CHECK(layer < m->n_layers, NULL, AE_ERR_INVALID_ARGUMENT,
             "layer %zu does not exist (the model has %zu)", layer, m->n_layers);
    const ae_layer *L = &m->layers[layer];
    size_t expected = bias ? L->n_out : L->n_out * L->n_in;
    AE_CHECK(n == expected, NULL, AE_ERR_INVALID_ARGUMENT,
             "layer %zu has %zu %s values, not %zu", layer, expected, bias ? "bias" : "weight", n);
    *offset = bias ? L->bias_offset : L->weight_offset;
    return AE_OK;
}

static int read_span(const ae_model *m, size_t offset, float *dst, size_t n)
{
    AE_CHECK(dst != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "destination is NULL");
    memcpy(dst, m->params + offset, n * sizeof(float));
    return AE_OK;
}

static int write_span(ae_model *m, size_t offset, const float *src, size_t n)
{
    AE_CHECK(src != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "source is NULL");
    for (size_t i = 0; i < n; i++)
        AE_CHECK(isfinite(src[i]), NULL, AE_ERR_NON_FINITE_INPUT,
                 "value %zu is %s; parameters must be finite", i, isnan(src[i]) ? "NaN" : "Inf");
    memcpy(m->params + offset, src, n * sizeof(float));
    m->fresh_weights = false;
    return AE_OK;
}

static int get_weights(const ae_model *m, size_t layer, float *w, size_t n_w)
{
    size_t offset = 0;
    AE_FORWARD(locate(m, layer, false, n_w, &offset));
    const ae_layer *L = &m->layers[layer];
    if (!L->transposed)
        return read_span(m, offset, w, n_w);
    /* Tied: the mirror's n_in x n_out weights, handed out as this layer's n_out x n_in. */
    AE_CHECK(w != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "destination is NULL");
    const float *mirror = m->params + offset;
    for (size_t i = 0; i < L->n_out; i++)
        for (size_t j = 0; j < L->n_in; j++)
            w[i * L->n_in + j] = mirror[j * L->n_out + i];
    return AE_OK;
}

int ae_model_get_weights(const ae_model *m, size_t layer, float *w, size_t n_w)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, get_weights(m, layer, w, n_w));
}

static int set_weights(ae_model *m, size_t layer, const float *w, size_t n_w)
{
    size_t offset = 0;
    AE_FORWARD(locate(m, layer, false, n_w, &offset));
    AE_CHECK(!m->layers[layer].transposed, NULL, AE_ERR_STATE,
             "layer %zu uses the tied weights of layer %zu; set those instead", layer,
             m->n_layers - 1 - layer);
    return write_span(m, offset, w, n_w);
}

int ae_model_set_weights(ae_model *m, size_t layer, const float *w, size_t n_w)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, set_weights(m, layer, w, n_w));
}

static int get_bias(const ae_model *m, size_t layer, float *b, size_t n_b)
{
    size_t offset = 0;
    AE_FORWARD(locate(m, layer, true, n_b, &offset));
    return read_span(m, offset, b, n_b);
}

int ae_model_get_bias(const ae_model *m, size_t layer, float *b, size_t n_b)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, get_bias(m, layer, b, n_b));
}

static int set_bias(ae_model *m, size_t layer, const float *b, size_t n_b)
{
    size_t offset = 0;
    AE_FORWARD(locate(m, layer, true, n_b, &offset));
    return write_span(m, offset, b, n_b);
}

int ae_model_set_bias(ae_model *m, size_t layer, const float *b, size_t n_b)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, set_bias(m, layer, b, n_b));
}

static int check_param_count(const ae_model *m, size_t n)
{
    AE_CHECK(n == m->n_params, NULL, AE_ERR_INVALID_ARGUMENT,
             "the model has %zu parameters, not %zu", m->n_params, n);
    return AE_OK;
}

static int get_params(const ae_model *m, float *params, size_t n)
{
    AE_FORWARD(check_param_count(m, n));
    return read_span(m, 0, params, n);
}

int ae_model_get_params(const ae_model *m, float *params, size_t n)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, get_params(m, params, n));
}

static int set_params(ae_model *m, const float *params, size_t n)
{
    AE_FORWARD(check_param_count(m, n));
    return write_span(m, 0, params, n);
}

int ae_model_set_params(ae_model *m, const float *params, size_t n)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, set_params(m, params, n));
}
