/* Optimizers over the flat parameter buffer: global-norm clipping, weight decay on the
 * weights (the first n_weights parameters, never the biases), SGD with (Nesterov)
 * momentum, Adam and AdamW, with the update rules of torch.optim.
 *
 * One departure: a moment (SGD's momentum buffer, Adam's m and v) whose magnitude falls
 * below FLT_MIN is stored as 0. The moments of weights whose gradient stays 0 (units that
 * never fire) decay geometrically into subnormal floats, which x86 computes 10-100x slower,
 * so long runs slowed 2-3x; flushing here, not through the FTZ/DAZ mode, leaves the
 * caller's floating point environment alone. The update changes by less than 1e-30
 * relative and stays bit-identical run to run. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

void ae_optimizer_state_release(ae_optimizer_state *s)
{
    ae_free(s->first_moment);
    ae_free(s->second_moment);
    memset(s, 0, sizeof *s);
}

static bool needs_first_moment(const ae_settings *s)
{
    return s->optimizer != AE_OPT_SGD || s->momentum > 0.0;
}

int ae_optimizer_state_ensure(ae_model *m, ae_optimizer_change *change)
{
    ae_optimizer_state *s = &m->optim;
    const bool other_kind = s->first_moment && s->kind != m->settings.optimizer;
    const bool have_first = s->first_moment && !other_kind, have_second = s->second_moment && !other_kind;
    const bool want_first = needs_first_moment(&m->settings);
    const bool want_second = m->settings.optimizer != AE_OPT_SGD;
    /* Every moment first, so that memory running out changes nothing. */
    float *first = want_first && !have_first ? ae_calloc(m->n_params, sizeof(float)) : NULL;
    float *second = want_second && !have_second ? ae_calloc(m->n_params, sizeof(float)) : NULL;
    if ((want_first && !have_first && !first) || (want_second && !have_second && !second)) {
        ae_free(first);
        ae_free(second);
        return ae_fail(m, AE_ERR_OUT_OF_MEMORY, "out of memory for optimizer state");
    }
    if (change)
        *change = (ae_optimizer_change){.before = *s, .allocated = first || second,
                                        .displaced = other_kind};
    if (other_kind) {
        if (!change)
            ae_optimizer_state_release(s); /* with a change, `before` keeps it */
        memset(s, 0, sizeof *s);
    }
    s->kind = m->settings.optimizer;
    if (first)
        s->first_moment = first;
    if (second)
        s->second_moment = second;
    return AE_OK;
}

void ae_optimizer_state_settle(ae_model *m, ae_optimizer_change *change, bool stood)
{
    ae_optimizer_state *s = &m->optim;
    if (stood) {
        if (change->displaced)
            ae_optimizer_state_release(&change->before);
        return;
    }
    if (!change->allocated && !change->displaced)
        return; /* the state was the step's own: its rules stand (a reset is documented) */
    /* The moments the call allocated are those the model holds and did not hold before (none
     * after a reset, which freed them); `before` still owns every moment it names. */
    if (s->first_moment != change->before.first_moment)
        ae_free(s->first_moment);
    if (s->second_moment != change->before.second_moment)
        ae_free(s->second_moment);
    *s = change->before;
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

int ae_optimizer_state_check(ae_model *err_model, int kind, uint64_t step, bool has_first,
                             bool has_second)
{
    AE_CHECK(kind >= AE_OPT_SGD && kind <= AE_OPT_ADAMW, err_model, AE_ERR_INVALID_ARGUMENT,
             "unknown optimizer %d", kind);
    AE_CHECK(step <= AE_MAX_OPTIMIZER_STEP, err_model, AE_ERR_INVALID_ARGUMENT,
             "the step counter %llu is beyond 2^53, the most a state can count",
             (unsigned long long)step);
    if (kind == AE_OPT_SGD) {
        AE_CHECK(!has_second, err_model, AE_ERR_INVALID_ARGUMENT,
                 "SGD keeps one buffer (momentum), not a second moment");
        AE_CHECK(step == 0, err_model, AE_ERR_INVALID_ARGUMENT,
                 "SGD counts no steps, yet the step counter is %llu", (unsigned long long)step);
        return AE_OK;
    }
    AE_CHECK(has_first == has_second, err_model, AE_ERR_INVALID_ARGUMENT,
             "Adam keeps both moments or neither, not only the %s", has_first ? "first" : "second");
    AE_CHECK(has_first || step == 0, err_model, AE_ERR_INVALID_ARGUMENT,
             "Adam without moments has taken no step, yet the step counter is %llu",
             (unsigned long long)step);
    return AE_OK;
}

/*
 * Each rule reads parameter i and gradient i and writes the new parameter over gradient i,
 * so the step is computed out of place at no cost; the caller swaps the two buffers only
 * if every new value is finite. The rules run twice, over the weights (with decay) and
 * over the biases (without), so the loops have no branch. Each returns a sum that is 0
 * when all new values are finite and NaN otherwise.
 */
/* A moment below the smallest normal float becomes 0 (see the top of this file). */
static inline float flush_subnormal(float moment)
{
    return fabsf(moment) < FLT_MIN ? 0.0f : moment;
}

AE_VECTOR_CLONES
static uint32_t sgd_span(const ae_settings *s, const float *p, float *g_then_new, float *buf,
                         size_t n, float wd)
{
    const float lr = (float)s->learning_rate, mu = (float)s->momentum;
    uint32_t special = 0;
    for (size_t i = 0; i < n; i++) {
        float grad = g_then_new[i] + wd * p[i];
        if (buf) {
            buf[i] = flush_subnormal(mu * buf[i] + grad);
            grad = s->nesterov ? grad + mu * buf[i] : buf[i];
        }
        float next = p[i] - lr * grad;
        g_then_new[i] = next;
        /* The state must stay finite too, or a saved model would not load again. */
        special |= ae_nonfinite_flag(next) | (buf ? ae_nonfinite_flag(buf[i]) : 0u);
    }
    return special;
}

AE_VECTOR_CLONES
static uint32_t adam_span(const ae_update_plan *c, const float *p, float *g_then_new,
                          float *mo, float *ve, size_t n, float l2, float shrink)
{
    uint32_t special = 0;
    for (size_t i = 0; i < n; i++) {
        float grad = g_then_new[i] + l2 * p[i];
        mo[i] = flush_subnormal(c->b1 * mo[i] + c->one_minus_b1 * grad);
        ve[i] = flush_subnormal(c->b2 * ve[i] + c->one_minus_b2 * grad * grad);
        float next = shrink * p[i] - c->step_size * mo[i] / (sqrtf(ve[i]) * c->inv_sqrt_correction2 + c->eps);
        g_then_new[i] = next;
        /* A squared gradient beyond float range makes ve infinite while the step stays finite;
         * the state must stay finite too, or a saved model would not load again. */
        special |= ae_nonfinite_flag(next) | ae_nonfinite_flag(mo[i]) | ae_nonfinite_flag(ve[i]);
    }
    return special;
}

void ae_optimizer_plan(const ae_model *m, ae_update_plan *plan)
{
    const ae_settings *s = &m->settings;
    memset(plan, 0, sizeof *plan);
    if (s->optimizer == AE_OPT_SGD)
        return;
    /* past 2^53 both bias corrections are 1 in double: the counter stops there */
    const uint64_t step = m->optim.step + (m->optim.step < AE_MAX_OPTIMIZER_STEP);
    /* Coefficients in double, rounded once: 1 - (float)0.999 would be off by 1e-5. */
    const double t = (double)step;
    *plan = (ae_update_plan){
        .b1 = (float)s->beta1, .b2 = (float)s->beta2,
        .one_minus_b1 = (float)(1.0 - s->beta1), .one_minus_b2 = (float)(1.0 - s->beta2),
        .eps = (float)s->epsilon,
        .step_size = (float)(s->learning_rate / (1.0 - pow(s->beta1, t))),
        .inv_sqrt_correction2 = (float)(1.0 / sqrt(1.0 - pow(s->beta2, t))),
    };
    const bool decoupled = s->optimizer == AE_OPT_ADAMW;
    plan->l2 = decoupled ? 0.0f : (float)s->weight_decay;
    plan->shrink = decoupled ? (float)(1.0 - s->learning_rate * s->weight_decay) : 1.0f;
}

uint32_t ae_optimizer_update_span(ae_model *m, const ae_update_plan *plan, size_t begin, size_t end)
{
    const ae_settings *s = &m->settings;
    ae_optimizer_state *st = &m->optim;
    const size_t nw = m->n_weights;
    uint32_t check = 0;
    /* [begin, end) meets the weights in [begin, w_end) and the biases in [b_begin, end). */
    size_t w_end = end < nw ? end : nw, b_begin = begin > nw ? begin : nw;
    if (s->optimizer == AE_OPT_SGD) {
        float *buf = st->first_moment;
        if (begin < w_end)
            check |= sgd_span(s, m->params + begin, m->grads + begin, buf ? buf + begin : NULL,
                              w_end - begin, (float)s->weight_decay);
        if (b_begin < end)
            check |= sgd_span(s, m->params + b_begin, m->grads + b_begin,
                              buf ? buf + b_begin : NULL, end - b_begin, 0.0f);
    } else {
        if (begin < w_end)
            check |= adam_span(plan, m->params + begin, m->grads + begin, st->first_moment + begin,
                               st->second_moment + begin, w_end - begin, plan->l2, plan->shrink);
        if (b_begin < end)
            check |= adam_span(plan, m->params + b_begin, m->grads + b_begin,
                               st->first_moment + b_begin, st->second_moment + b_begin,
                               end - b_begin, 0.0f, 1.0f);
    }
    return check;
}

/* One optimizer update split across the model's threads: each part updates a contiguous
 * range of the flat parameters and reports whether its new values are finite. */
typedef struct update_task {
    ae_model *model;
    const ae_update_plan *plan;
    uint32_t special[AE_MAX_THREADS]; /* each part's non-finite flags (ae_nonfinite_flag) */
} update_task;

static void update_range(void *context, size_t part, size_t begin, size_t end)
{
    update_task *t = context;
    t->special[part] = ae_optimizer_update_span(t->model, t->plan, begin, end);
}

/* Elements per unit of work split between threads. Waking a worker costs microseconds,
 * so a model smaller than two units is updated on the calling thread alone. */
#define AE_UPDATE_GRAIN 32768

/* Whether every new value (weights and optimizer state) is finite. */
static bool apply_update(ae_model *m, const ae_update_plan *plan)
{
    update_task task = {.model = m, .plan = plan};
    ae_pool_run(m->pool, update_range, &task, m->n_params, AE_UPDATE_GRAIN);
    uint32_t special = 0;
    for (size_t part = 0; part < ae_pool_threads(m->pool); part++)
        special |= task.special[part];
    return (special & AE_NONFINITE_BIT) == 0;
}

typedef struct norm_task {
    const ae_model *model;
    size_t parts_to_add;
    double partial[AE_MAX_THREADS];
} norm_task;

/* Gradient elements a row-split step's parts are added over before their squares are
 * summed: small enough to stay in the first-level cache between the two. */
#define AE_ADD_PIECE 2048

static void norm_range(void *context, size_t part, size_t begin, size_t end)
{
    norm_task *t = context;
    const float *grads = t->model->grads;
    if (t->parts_to_add < 2) {
        t->partial[part] = ae_sum_squares(grads + begin, end - begin);
        return;
    }
    double sum = 0.0;
    for (size_t piece = begin; piece < end; piece += AE_ADD_PIECE) {
        const size_t piece_end = end - piece > AE_ADD_PIECE ? piece + AE_ADD_PIECE : end;
        ae_add_part_gradients(t->model, t->parts_to_add, piece, piece_end);
        sum += ae_sum_squares(grads + piece, piece_end - piece);
    }
    t->partial[part] = sum;
}

/* Global L2 norm of the gradient, parts summed in order: the same for a thread count. A
 * row-split step's parts are added into the gradient here first, in part order. */
static double gradient_norm(ae_model *m)
{
    norm_task task = {.model = m, .parts_to_add = m->work.parts_to_add};
    m->work.parts_to_add = 0;
    ae_pool_run(m->pool, norm_range, &task, m->n_params, AE_UPDATE_GRAIN);
    double sum = 0.0;
    for (size_t part = 0; part < ae_pool_threads(m->pool); part++)
        sum += task.partial[part];
    return sqrt(sum);
}

/* Whether a local verdict holds on every participant of a distributed step (the gradients
 * are the same sums everywhere, but the engine may have added them in different orders). */
static int everywhere(ae_model *m, bool *holds)
{
    double failed = *holds ? 0.0 : 1.0;
    AE_FORWARD(ae_hooks_reduce(m, &failed, 1, AE_REDUCE_MAX));
    *holds = failed == 0.0;
    return AE_OK;
}

/* Advance the counter of an update that was applied, then keep its new values (in the
 * gradient buffer) if they are finite everywhere. */
static int commit_update(ae_model *m, bool update_finite)
{
    if (m->settings.optimizer != AE_OPT_SGD && m->optim.step < AE_MAX_OPTIMIZER_STEP)
        m->optim.step++;
    int status = everywhere(m, &update_finite);
    if (status != AE_OK) {
        /* The moments moved, the weights did not: start the moments afresh. */
        ae_optimizer_state_release(&m->optim);
        return status;
    }
    if (!update_finite) {
        /* The new values sit in the gradient buffer: the weights are untouched. */
        ae_optimizer_state_release(&m->optim);
        return ae_fail(m, AE_ERR_DIVERGED,
                       "the step would make the weights or the optimizer state non-finite; it was "
                       "skipped, the weights are unchanged and the optimizer state was reset");
    }
    float *previous = m->params;
    m->params = m->grads;
    m->grads = previous;
    m->fresh_weights = false;
    return AE_OK;
}

static int refuse_non_finite_gradient(ae_model *m)
{
    return ae_fail(m, AE_ERR_DIVERGED,
                   "the gradient is not finite; the step was skipped and the weights are unchanged");
}

int ae_optimizer_step(ae_model *m)
{
    ae_applied_update *applied = &m->work.applied;
    if (applied->done) { /* a split step applied the update as its gradients were formed */
        applied->done = false;
        if (!applied->gradient_finite)
            return refuse_non_finite_gradient(m);
        return commit_update(m, (applied->special & AE_NONFINITE_BIT) == 0);
    }
    double norm = gradient_norm(m);
    bool finite = isfinite(norm);
    AE_FORWARD(everywhere(m, &finite));
    if (!finite)
        return refuse_non_finite_gradient(m);
    const float clip = ae_clip_scale(m, norm);
    if (clip < 1.0f)
        ae_scale(m->grads, m->n_params, clip);
    AE_FORWARD(ae_optimizer_state_ensure(m, NULL));
    ae_update_plan plan;
    ae_optimizer_plan(m, &plan);
    return commit_update(m, apply_update(m, &plan));
}

float ae_clip_scale(const ae_model *m, double norm)
{
    /* As torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6) when that is below 1. */
    const double clip_coefficient = m->settings.clip_norm / (norm + 1e-6);
    return m->settings.clip_norm > 0.0 && clip_coefficient < 1.0 ? (float)clip_coefficient : 1.0f;
}

/* ---- reading and setting the state --------------------------------------------------- */

/* Whether the model's optimizer keeps a first moment (Adam's, or SGD's momentum buffer). */
static bool keeps_first_moment(const ae_model *m)
{
    return needs_first_moment(&m->settings) || m->optim.first_moment != NULL;
}

/* The buffer as the state holds it, or zeros before the first step. */
static void copy_moment(const float *moment, float *out, size_t n)
{
    if (moment)
        memcpy(out, moment, n * sizeof(float));
    else
        memset(out, 0, n * sizeof(float));
}

static int get_optimizer_state(const ae_model *m, uint64_t *step, float *first, float *second,
                               size_t n)
{
    const bool adam = m->settings.optimizer != AE_OPT_SGD;
    AE_CHECK((!first && !second) || n == m->n_params, NULL, AE_ERR_INVALID_ARGUMENT,
             "n = %zu; the model has %zu parameters", n, m->n_params);
    AE_FORWARD(ae_check_apart(NULL, ae_float_span("first_moment", first, 1, n, n),
                              ae_float_span("second_moment", second, 1, n, n)));
    AE_CHECK(!second || adam, NULL, AE_ERR_STATE, "SGD keeps no second moment");
    AE_CHECK(!first || keeps_first_moment(m), NULL, AE_ERR_STATE,
             "SGD without momentum keeps no state");
    /* The state belongs to the current optimizer: changing it released the state. */
    const bool held = m->optim.kind == m->settings.optimizer;
    if (first)
        copy_moment(held ? m->optim.first_moment : NULL, first, n);
    if (second)
        copy_moment(held ? m->optim.second_moment : NULL, second, n);
    if (step)
        *step = held && adam ? m->optim.step : 0;
    return AE_OK;
}

int ae_model_get_optimizer_state(const ae_model *m, uint64_t *step, float *first_moment,
                                 float *second_moment, size_t n)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, get_optimizer_state(m, step, first_moment, second_moment, n));
}

/* A copy of the caller's buffer after checking its values; NULL for NULL. */
static int checked_moment(const float *values, size_t n, bool non_negative, const char *name,
                          float **out)
{
    *out = NULL;
    if (!values)
        return AE_OK;
    for (size_t i = 0; i < n; i++)
        AE_CHECK(isfinite(values[i]) && (!non_negative || values[i] >= 0.0f), NULL,
                 AE_ERR_NON_FINITE_INPUT, "%s[%zu] is %g; it must be finite%s", name, i,
                 (double)values[i], non_negative ? " and not negative" : "");
    *out = ae_alloc_floats(n);
    AE_CHECK(*out != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory for the optimizer state");
    memcpy(*out, values, n * sizeof(float));
    return AE_OK;
}

static int set_optimizer_state(ae_model *m, uint64_t step, const float *first, const float *second,
                               size_t n)
{
    AE_CHECK(n == m->n_params, NULL, AE_ERR_INVALID_ARGUMENT, "n = %zu; the model has %zu parameters",
             n, m->n_params);
    AE_FORWARD(ae_optimizer_state_check(NULL, m->settings.optimizer, step, first != NULL,
                                        second != NULL));
    float *first_copy = NULL, *second_copy = NULL;
    int status = checked_moment(first, n, false, "first_moment", &first_copy);
    if (status == AE_OK)
        status = checked_moment(second, n, true, "second_moment", &second_copy);
    if (status != AE_OK) {
        ae_free(first_copy);
        ae_free(second_copy);
        return status;
    }
    ae_optimizer_state_release(&m->optim);
    m->optim.first_moment = first_copy;
    m->optim.second_moment = second_copy;
    m->optim.step = step;
    m->optim.kind = m->settings.optimizer;
    return AE_OK;
}

int ae_model_set_optimizer_state(ae_model *m, uint64_t step, const float *first_moment,
                                 const float *second_moment, size_t n)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, set_optimizer_state(m, step, first_moment, second_moment, n));
}
