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

/*
 * Each rule reads parameter i and gradient i and writes the new parameter over gradient i,
 * so the step is computed out of place at no cost; the caller swaps the two buffers only
 * if every new value is finite. The rules run twice, over the weights (with decay) and
 * over the biases (without), so the loops have no branch. Each returns a sum that is 0
 * when all new values are finite and NaN otherwise.
 */
AE_VECTOR_CLONES
static float sgd_span(const ae_settings *s, const float *p, float *g_then_new, float *buf,
                      size_t n, float wd)
{
    const float lr = (float)s->learning_rate, mu = (float)s->momentum;
    float finite_check = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float grad = g_then_new[i] + wd * p[i];
        if (buf) {
            buf[i] = mu * buf[i] + grad;
            grad = s->nesterov ? grad + mu * buf[i] : buf[i];
        }
        float next = p[i] - lr * grad;
        g_then_new[i] = next;
        finite_check += next * 0.0f;
    }
    return finite_check;
}

typedef struct adam_coefficients {
    float b1, b2, one_minus_b1, one_minus_b2, eps, step_size, inv_sqrt_correction2;
} adam_coefficients;

AE_VECTOR_CLONES
static float adam_span(const adam_coefficients *c, const float *p, float *g_then_new, float *mo,
                       float *ve, size_t n, float l2, float shrink)
{
    float finite_check = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float grad = g_then_new[i] + l2 * p[i];
        mo[i] = c->b1 * mo[i] + c->one_minus_b1 * grad;
        ve[i] = c->b2 * ve[i] + c->one_minus_b2 * grad * grad;
        float next = shrink * p[i] - c->step_size * mo[i] / (sqrtf(ve[i]) * c->inv_sqrt_correction2 + c->eps);
        g_then_new[i] = next;
        finite_check += next * 0.0f;
    }
    return finite_check;
}

static float sgd_step(ae_model *m)
{
    const ae_settings *s = &m->settings;
    float *buf = m->optim.first_moment;
    size_t nw = m->n_weights, nb = m->n_params - nw;
    return sgd_span(s, m->params, m->grads, buf, nw, (float)s->weight_decay) +
           sgd_span(s, m->params + nw, m->grads + nw, buf ? buf + nw : NULL, nb, 0.0f);
}

static float adam_step(ae_model *m)
{
    const ae_settings *s = &m->settings;
    ae_optimizer_state *st = &m->optim;
    st->step++;
    /* Coefficients in double, rounded once: 1 - (float)0.999 would be off by 1e-5. */
    double t = (double)st->step;
    adam_coefficients c = {
        .b1 = (float)s->beta1, .b2 = (float)s->beta2,
        .one_minus_b1 = (float)(1.0 - s->beta1), .one_minus_b2 = (float)(1.0 - s->beta2),
        .eps = (float)s->epsilon,
        .step_size = (float)(s->learning_rate / (1.0 - pow(s->beta1, t))),
        .inv_sqrt_correction2 = (float)(1.0 / sqrt(1.0 - pow(s->beta2, t))),
    };
    const bool decoupled = s->optimizer == AE_OPT_ADAMW;
    const float wd = (float)s->weight_decay;
    const float l2 = decoupled ? 0.0f : wd;
    const float shrink = decoupled ? (float)(1.0 - s->learning_rate * s->weight_decay) : 1.0f;
    size_t nw = m->n_weights, nb = m->n_params - nw;
    return adam_span(&c, m->params, m->grads, st->first_moment, st->second_moment, nw, l2, shrink) +
           adam_span(&c, m->params + nw, m->grads + nw, st->first_moment + nw,
                     st->second_moment + nw, nb, 0.0f, 1.0f);
}

int ae_optimizer_step(ae_model *m)
{
    double norm = sqrt(ae_sum_squares(m->grads, m->n_params));
    AE_CHECK(isfinite(norm), m, AE_ERR_DIVERGED,
             "the gradient is not finite; the step was skipped and the weights are unchanged");
    if (m->settings.clip_norm > 0.0 && norm > m->settings.clip_norm)
        ae_scale(m->grads, m->n_params, (float)(m->settings.clip_norm / norm));
    AE_FORWARD(ae_optimizer_state_ensure(m));
    float finite_check = m->settings.optimizer == AE_OPT_SGD ? sgd_step(m) : adam_step(m);
    if (!isfinite(finite_check)) {
        /* The new values sit in the gradient buffer: the weights are untouched. */
        ae_optimizer_state_reset(&m->optim);
        return ae_fail(m, AE_ERR_DIVERGED,
                       "the step would make weights non-finite; it was skipped, the weights are "
                       "unchanged and the optimizer state was reset");
    }
    float *previous = m->params;
    m->params = m->grads;
    m->grads = previous;
    m->fresh_weights = false;
    return AE_OK;
}
