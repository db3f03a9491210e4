/* Optimizers over the flat parameter buffer: global-norm clipping, weight decay on the
 * weights (the first n_weights parameters, never the biases), SGD with (Nesterov)
 * momentum, Adam and AdamW, with the update rules of torch.optim. */
#include "internal.h"

#include <math.h>
#include <string.h>

void ae_optimizer_state_release(ae_optimizer_state *s)
{
    ae_free(s->first_moment);
    ae_free(s->second_moment);
    memset(s, 0, sizeof *s);
}

void ae_optimizer_state_reset(ae_optimizer_state *s) { ae_optimizer_state_release(s); }

static bool needs_first_moment(const ae_settings *s)
{
    return s->optimizer != AE_OPT_SGD || s->momentum > 0.0;
}

int ae_optimizer_state_ensure(ae_model *m)
{
    ae_optimizer_state *s = &m->optim;
    if (s->first_moment && s->kind != m->settings.optimizer)
        ae_optimizer_state_release(s);
    s->kind = m->settings.optimizer;
    if (needs_first_moment(&m->settings) && !s->first_moment) {
        s->first_moment = ae_calloc(m->n_params, sizeof(float));
        AE_CHECK(s->first_moment, m, AE_ERR_OUT_OF_MEMORY, "out of memory for optimizer state");
    }
    if (m->settings.optimizer != AE_OPT_SGD && !s->second_moment) {
        s->second_moment = ae_calloc(m->n_params, sizeof(float));
        AE_CHECK(s->second_moment, m, AE_ERR_OUT_OF_MEMORY, "out of memory for optimizer state");
    }
    return AE_OK;
}

int ae_optimizer_state_copy(ae_optimizer_state *dst, const ae_optimizer_state *src, size_t n_params)
{
    *dst = *src;
    dst->first_moment = dst->second_moment = NULL;
    if (src->first_moment) {
        dst->first_moment = ae_alloc_floats(n_params);
        if (!dst->first_moment)
            return AE_ERR_OUT_OF_MEMORY;
        memcpy(dst->first_moment, src->first_moment, n_params * sizeof(float));
    }
    if (src->second_moment) {
        dst->second_moment = ae_alloc_floats(n_params);
        if (!dst->second_moment)
            return AE_ERR_OUT_OF_MEMORY;
        memcpy(dst->second_moment, src->second_moment, n_params * sizeof(float));
    }
    return AE_OK;
}

static void sgd_step(ae_model *m)
{
    const ae_settings *s = &m->settings;
    float *p = m->params, *g = m->grads, *buf = m->optim.first_moment;
    const float lr = (float)s->learning_rate, mu = (float)s->momentum, wd = (float)s->weight_decay;
    const size_t n = m->n_params, n_weights = m->n_weights;
    for (size_t i = 0; i < n; i++) {
        float grad = g[i] + (i < n_weights ? wd * p[i] : 0.0f);
        if (buf) {
            buf[i] = mu * buf[i] + grad;
            grad = s->nesterov ? grad + mu * buf[i] : buf[i];
        }
        p[i] -= lr * grad;
    }
}

static void adam_step(ae_model *m)
{
    const ae_settings *s = &m->settings;
    ae_optimizer_state *st = &m->optim;
    st->step++;
    float *p = m->params, *g = m->grads, *mo = st->first_moment, *ve = st->second_moment;
    const float b1 = (float)s->beta1, b2 = (float)s->beta2, eps = (float)s->epsilon;
    const float lr = (float)s->learning_rate, wd = (float)s->weight_decay;
    /* Bias corrections in double: beta^t underflows gracefully and stays accurate. */
    const float correction1 = (float)(1.0 - pow(s->beta1, (double)st->step));
    const float inv_sqrt_correction2 = (float)(1.0 / sqrt(1.0 - pow(s->beta2, (double)st->step)));
    const bool decoupled = s->optimizer == AE_OPT_ADAMW;
    const float l2 = decoupled ? 0.0f : wd, shrink = decoupled ? 1.0f - lr * wd : 1.0f;
    const size_t n = m->n_params, n_weights = m->n_weights;
    const float step_size = lr / correction1;
    for (size_t i = 0; i < n; i++) {
        bool is_weight = i < n_weights;
        float grad = g[i] + (is_weight ? l2 * p[i] : 0.0f);
        if (is_weight)
            p[i] *= shrink;
        mo[i] = b1 * mo[i] + (1.0f - b1) * grad;
        ve[i] = b2 * ve[i] + (1.0f - b2) * grad * grad;
        p[i] -= step_size * mo[i] / (sqrtf(ve[i]) * inv_sqrt_correction2 + eps);
    }
}

int ae_optimizer_step(ae_model *m)
{
    double norm = sqrt(ae_sum_squares(m->grads, m->n_params));
    AE_CHECK(isfinite(norm), m, AE_ERR_DIVERGED,
             "the gradient is not finite; the step was skipped and the weights are unchanged");
    if (m->settings.clip_norm > 0.0 && norm > m->settings.clip_norm)
        ae_scale(m->grads, m->n_params, (float)(m->settings.clip_norm / norm));
    AE_FORWARD(ae_optimizer_state_ensure(m));
    if (m->settings.optimizer == AE_OPT_SGD)
        sgd_step(m);
    else
        adam_step(m);
    m->fresh_weights = false;
    return AE_OK;
}
