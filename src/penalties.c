/* The penalties of the training objective (autoenc.h, Training): KL sparsity on one encoder
 * layer, L1 activity and the contractive term on the latent code. The forward part works on
 * the activations the forward pass kept and leaves per-unit terms in the workspace's
 * `columns` for the backward part:
 *   columns[0 .. w)    dKL/dA per unit of the sparsity layer (the same for every row)
 *   columns[w .. 2w)   contractive: sum over rows of act'(z_j)^2
 *   columns[2w .. 3w)  contractive: squared norm of W's row j, then gamma/n times it
 * with w = max_width. */
#include "internal.h"

#include <math.h>

#define SPARSITY_CLAMP 1e-6

bool ae_penalties_active(const ae_settings *s)
{
    return s->sparsity_weight > 0.0 || s->activity_l1 > 0.0 || s->contractive_weight > 0.0;
}

size_t ae_sparsity_layer(const ae_model *m)
{
    return m->settings.sparsity_layer < 0 ? ae_latent_layer(m) : (size_t)m->settings.sparsity_layer;
}

static const float *layer_outputs(const ae_model *m, size_t layer)
{
    return m->work.activations + m->work.activation_offsets[layer];
}

/* The rows a batch mean is over: every participant's in a distributed step (hooks.c). */
static double mean_rows(const ae_model *m) { return m->work.mean_rows; }

/* The sparsity penalty of the batch's mean activations, which are combined across
 * participants first: the penalty is a function of them, not a sum over rows. */
static int sparsity_forward(ae_model *m, size_t n_rows, double *penalty)
{
    const ae_settings *s = &m->settings;
    const size_t k = ae_sparsity_layer(m), width = m->layers[k].n_out;
    float *coefficient = m->work.columns;
    double *sums = m->work.column_sums;
    const double rho = s->sparsity_target, beta = s->sparsity_weight, n = mean_rows(m);
    ae_column_sums(layer_outputs(m, k), n_rows, width, coefficient, false);
    for (size_t j = 0; j < width; j++)
        sums[j] = coefficient[j];
    AE_FORWARD(ae_hooks_reduce(m, sums, width, AE_REDUCE_SUM));
    double total = 0.0;
    for (size_t j = 0; j < width; j++) {
        double mean = sums[j] / n;
        double r = fmin(fmax(mean, SPARSITY_CLAMP), 1.0 - SPARSITY_CLAMP);
        total += rho * log(rho / r) + (1.0 - rho) * log((1.0 - rho) / (1.0 - r));
        /* Every row's activation enters the mean with weight 1/n; clamped means are flat. */
        coefficient[j] = r == mean ? (float)(beta / n * (-rho / r + (1.0 - rho) / (1.0 - r))) : 0.0f;
    }
    *penalty = beta * total;
    return AE_OK;
}

static double activity_forward(const ae_model *m, size_t n_rows)
{
    const size_t n = n_rows * m->layers[ae_latent_layer(m)].n_out;
    const float *h = layer_outputs(m, ae_latent_layer(m));
    double total = 0.0;
    for (size_t i = 0; i < n; i++)
        total += fabs((double)h[i]);
    return m->settings.activity_l1 / mean_rows(m) * total;
}

static double contractive_forward(ae_model *m, size_t n_rows)
{
    const ae_layer *L = &m->layers[ae_latent_layer(m)];
    const float *w = m->params + L->weight_offset;
    float *slope_sums = m->work.columns + m->max_width, *norms = slope_sums + m->max_width;
    for (size_t j = 0; j < L->n_out; j++)
        norms[j] = (float)ae_sum_squares(w + j * L->n_in, L->n_in);
    double total = ae_contractive_columns(layer_outputs(m, ae_latent_layer(m)), n_rows, L->n_out,
                                          L->activation, &m->settings, norms, slope_sums);
    const double factor = m->settings.contractive_weight / mean_rows(m);
    for (size_t j = 0; j < L->n_out; j++)
        norms[j] = (float)(factor * norms[j]);
    return factor * total;
}

int ae_penalties_forward(ae_model *m, size_t n_rows, double *row_sums, double *shared)
{
    const ae_settings *s = &m->settings;
    *row_sums = *shared = 0.0;
    if (s->sparsity_weight > 0.0)
        AE_FORWARD(sparsity_forward(m, n_rows, shared));
    if (s->activity_l1 > 0.0)
        *row_sums += activity_forward(m, n_rows);
    if (s->contractive_weight > 0.0)
        *row_sums += contractive_forward(m, n_rows);
    return AE_OK;
}

void ae_penalties_activation_grad(const ae_model *m, size_t layer, float *grad, size_t n_rows)
{
    const ae_settings *s = &m->settings;
    const size_t width = m->layers[layer].n_out;
    if (s->sparsity_weight > 0.0 && layer == ae_sparsity_layer(m)) {
        const float *coefficient = m->work.columns;
        for (size_t i = 0; i < n_rows; i++)
            for (size_t j = 0; j < width; j++)
                grad[i * width + j] += coefficient[j];
    }
    if (s->activity_l1 > 0.0 && layer == ae_latent_layer(m)) {
        const float step = (float)(s->activity_l1 / mean_rows(m));
        const float *h = layer_outputs(m, layer);
        for (size_t i = 0; i < n_rows * width; i++)
            grad[i] += h[i] > 0.0f ? step : h[i] < 0.0f ? -step : 0.0f;
    }
}

void ae_penalties_preactivation_grad(const ae_model *m, size_t layer, float *delta, size_t n_rows)
{
    if (m->settings.contractive_weight <= 0.0 || layer != ae_latent_layer(m))
        return;
    const ae_layer *L = &m->layers[layer];
    const float *scaled_norms = m->work.columns + 2 * m->max_width;
    ae_contractive_delta(delta, layer_outputs(m, layer), n_rows, L->n_out, L->activation,
                         &m->settings, scaled_norms);
}

void ae_penalties_weight_grad(ae_model *m, size_t layer)
{
    if (m->settings.contractive_weight <= 0.0 || layer != ae_latent_layer(m))
        return;
    /* d/dW_ji of gamma/n sum_rows act'(z_j)^2 |W_j|^2, holding z fixed: 2 gamma/n S_j W_ji. */
    const ae_layer *L = &m->layers[layer];
    const float *slope_sums = m->work.columns + m->max_width;
    const double factor = 2.0 * m->settings.contractive_weight / mean_rows(m);
    const float *w = m->params + L->weight_offset;
    float *g = m->grads + L->weight_offset;
    for (size_t j = 0; j < L->n_out; j++) {
        const float c = (float)(factor * slope_sums[j]);
        for (size_t i = 0; i < L->n_in; i++)
            g[j * L->n_in + i] += c * w[j * L->n_in + i];
    }
}
