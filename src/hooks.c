/* Taking part in distributed training steps (autoenc.h, ae_distributed): an outside engine
 * (MPI, threads, ...) given as ae_train_hooks sums the gradient spans of every participant
 * as the backward pass produces them and combines the few figures a training call decides
 * on, so that every participant takes the same branch. Without hooks every helper here is a
 * no-op and training is what it always was. */
#include "internal.h"

#include <math.h>
#include <string.h>

static int engine_failed(int code, const char *what)
{
    return ae_fail(NULL, AE_ERR_PEER,
                   "the engine joining the participants failed (its %s hook returned %d); this "
                   "call stopped where every participant stops",
                   what, code);
}

int ae_hooks_reduce(ae_model *m, double *values, size_t count, ae_reduce_op op)
{
    if (!m->has_hooks || count == 0)
        return AE_OK;
    int code = m->hooks.reduce(values, count, (int)op, m->hooks.user_data);
    return code == 0 ? AE_OK : engine_failed(code, "reduce");
}

int ae_hooks_reduce_counts(ae_model *m, double *counts, size_t n, ae_reduce_op op)
{
    enum { KEPT_SHARES = 4 }; /* the callers combine one or two counts */
    double own[KEPT_SHARES] = {0.0};
    memcpy(own, counts, (n < KEPT_SHARES ? n : KEPT_SHARES) * sizeof *own);
    AE_FORWARD(ae_hooks_reduce(m, counts, n, op));
    /* The engine's answer decides loops and divisions: a sum or maximum of whole numbers,
     * at least this participant's own share, within a double's exact integers. */
    for (size_t i = 0; i < n; i++) {
        const double share = i < KEPT_SHARES ? own[i] : 0.0;
        AE_CHECK(counts[i] >= share && counts[i] <= 0x1p53 && counts[i] == floor(counts[i]),
                 NULL, AE_ERR_PEER,
                 "the engine's reduce gave %g for a count whose own share here is %g; counts "
                 "combine to whole numbers at least as large; this call stopped",
                 counts[i], share);
    }
    return AE_OK;
}

/* The settings as one whole number below 2^52 (exact in a double): FNV-1a over the values the
 * caller set, each with its sign of zero made positive. */
static double settings_fingerprint(const ae_model *m)
{
    uint64_t hash = 14695981039346656037u;
    for (size_t i = 0; i < AE_PARAM_SLOT_COUNT; i++) {
        const double value = m->param_values[i] + 0.0;
        unsigned char bytes[sizeof value];
        memcpy(bytes, &value, sizeof bytes);
        for (size_t b = 0; b < sizeof bytes; b++)
            hash = (hash ^ bytes[b]) * 1099511628211u;
    }
    return (double)(hash >> 12);
}

int ae_hooks_agree(ae_model *m, int status)
{
    if (!m->has_hooks)
        return status;
    /* Every agreement also compares the settings: one changed on some participants only
     * after they were compared would otherwise put them out of step (different epochs,
     * batches or callbacks make different collective calls, and they wait for ever). The
     * largest fingerprint and the largest negated one are equal and opposite only if every
     * participant has the same. */
    const double fingerprint = settings_fingerprint(m);
    double combined[3] = {status != AE_OK, fingerprint, -fingerprint};
    int reduced = ae_hooks_reduce(m, combined, 3, AE_REDUCE_MAX);
    if (status != AE_OK)
        return status; /* its own message stays */
    AE_FORWARD(reduced);
    AE_CHECK(combined[0] == 0.0, NULL, AE_ERR_PEER,
             "another participant failed (its own status says why); this one stopped at the "
             "same point and is unchanged");
    AE_CHECK(combined[1] == -combined[2], NULL, AE_ERR_STATE,
             "the participants' settings differ (a setting was changed on some of them only); "
             "every participant stopped here unchanged: set it alike on all of them");
    return AE_OK;
}

int ae_hooks_gradient_ready(ae_model *m, size_t offset, size_t count)
{
    if (!m->has_hooks || count == 0)
        return AE_OK;
    int code = m->hooks.gradient_ready(m->grads, offset, count, m->hooks.user_data);
    return code == 0 ? AE_OK : engine_failed(code, "gradient_ready");
}

int ae_hooks_gradient_wait(ae_model *m)
{
    if (!m->has_hooks)
        return AE_OK;
    int code = m->hooks.gradient_wait(m->grads, m->n_params, m->hooks.user_data);
    return code == 0 ? AE_OK : engine_failed(code, "gradient_wait");
}

void ae_hooks_begin_stream(ae_model *m)
{
    /* One participant draws from the model's generator as without hooks. */
    if (!m->has_hooks || m->hooks.participants == 1)
        return;
    /* One draw from the model's generator, the same on every participant (they share
     * weights, settings and generator state), mixed with the participant's index: each
     * draws its own shuffles, noise, masks and codes, and the model's generator advances
     * alike everywhere, so a checkpoint of any participant resumes all of them. */
    uint64_t common = ae_rng_next(&m->rng);
    ae_rng_seed(&m->stream, common ^ (0x9E3779B97F4A7C15ull * ((uint64_t)m->hooks.participant + 1)));
    m->use_stream = true;
}

void ae_hooks_end_stream(ae_model *m) { m->use_stream = false; }

static int set_train_hooks(ae_model *m, const ae_train_hooks *hooks)
{
    if (!hooks) {
        m->has_hooks = false;
        memset(&m->hooks, 0, sizeof m->hooks);
        return AE_OK;
    }
    AE_CHECK(hooks->size >= sizeof hooks->size, NULL, AE_ERR_INVALID_ARGUMENT,
             "hooks->size must be set to sizeof(ae_train_hooks)");
    /* A shorter struct from an older caller: the fields it has. */
    ae_train_hooks given = {0};
    memcpy(&given, hooks, hooks->size < sizeof given ? hooks->size : sizeof given);
    AE_CHECK(given.reduce && given.gradient_ready && given.gradient_wait, NULL,
             AE_ERR_INVALID_ARGUMENT, "hooks need reduce, gradient_ready and gradient_wait");
    AE_CHECK(given.participants >= 1 && given.participant < given.participants, NULL,
             AE_ERR_INVALID_ARGUMENT, "participant %u is not one of %u participants",
             (unsigned)given.participant, (unsigned)given.participants);
    given.size = sizeof given;
    m->hooks = given;
    m->has_hooks = true;
    return AE_OK;
}

int ae_model_set_train_hooks(ae_model *m, const ae_train_hooks *hooks)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, set_train_hooks(m, hooks));
}
