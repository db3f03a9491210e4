/* Attaching a model to MPI: the check that every rank holds the same model, the context
 * that carries the engine, its settings and statistics. */
#include "mpi_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- the contexts attached in this process ------------------------------------------------
 * A model has one set of hooks: a second context attached to it would replace the first's
 * silently, and detaching either would leave the other's model training alone. The list
 * lets attach refuse that, and ae_mpi_broadcast_model refuse to replace an attached model.
 * A spin lock (C11, no threads library): it guards a few pointer steps. */
static atomic_flag registry_lock = ATOMIC_FLAG_INIT;
static ae_mpi_context *attached_contexts;

static void registry_lock_take(void)
{
    while (atomic_flag_test_and_set_explicit(&registry_lock, memory_order_acquire)) {
    }
}

static void registry_lock_give(void) { atomic_flag_clear_explicit(&registry_lock, memory_order_release); }

bool ae_mpi_is_attached(const ae_model *model)
{
    bool found = false;
    registry_lock_take();
    for (const ae_mpi_context *c = attached_contexts; c && !found; c = c->next_attached)
        found = c->model == model;
    registry_lock_give();
    return found;
}

static void registry_add(ae_mpi_context *c)
{
    registry_lock_take();
    c->next_attached = attached_contexts;
    attached_contexts = c;
    registry_lock_give();
}

static void registry_remove(ae_mpi_context *c)
{
    registry_lock_take();
    for (ae_mpi_context **at = &attached_contexts; *at; at = &(*at)->next_attached) {
        if (*at == c) {
            *at = c->next_attached;
            break;
        }
    }
    registry_lock_give();
}

static void context_free(ae_mpi_context *c)
{
    if (!c)
        return;
    ae_mpi_free_comm(&c->comm);
    free(c->requests);
    free(c);
}

static int context_new(ae_model *model, MPI_Comm comm, ae_mpi_context **out)
{
    ae_mpi_context *c = calloc(1, sizeof *c);
    AE_MPI_CHECK(c != NULL, AE_ERR_OUT_OF_MEMORY, "out of memory making the MPI context");
    c->model = model;
    c->comm = comm;
    MPI_Comm_rank(comm, &c->rank);
    MPI_Comm_size(comm, &c->size);
    c->bucket_bytes = AE_MPI_DEFAULT_BUCKET_BYTES;
    c->overlap = 1;
    c->stats.size = sizeof c->stats;
    c->max_requests = ae_mpi_max_requests(model);
    c->requests = malloc(c->max_requests * sizeof *c->requests);
    if (!c->requests) {
        c->comm = MPI_COMM_NULL; /* the caller frees it */
        context_free(c);
        return ae_mpi_fail(AE_ERR_OUT_OF_MEMORY, "out of memory making the MPI context");
    }
    *out = c;
    return AE_OK;
}

static int install_hooks(ae_mpi_context *c)
{
    ae_train_hooks hooks = {.size = sizeof hooks,
                            .participant = (uint32_t)c->rank,
                            .participants = (uint32_t)c->size,
                            .user_data = c,
                            .reduce = ae_mpi_hook_reduce,
                            .gradient_ready = ae_mpi_hook_gradient_ready,
                            .gradient_wait = ae_mpi_hook_gradient_wait};
    int status = ae_model_set_train_hooks(c->model, &hooks);
    return status == AE_OK ? AE_OK : ae_mpi_fail_from_core(status);
}

int ae_mpi_attach(ae_model *model, MPI_Comm comm, ae_mpi_context **out)
{
    if (out)
        *out = NULL;
    AE_MPI_FORWARD(ae_mpi_check_ready());
    AE_MPI_FORWARD(ae_mpi_check_comm(comm));
    /* Bad arguments on one rank are agreed on like any failure, after the one collective
     * call every rank makes first. */
    MPI_Comm dup;
    AE_MPI_FORWARD(ae_mpi_dup(comm, &dup));
    int status = AE_OK;
    if (!model)
        status = ae_mpi_fail(AE_ERR_INVALID_ARGUMENT, "model is NULL");
    else if (!out)
        status = ae_mpi_fail(AE_ERR_INVALID_ARGUMENT, "out is NULL");
    else if (ae_mpi_is_attached(model))
        status = ae_mpi_fail(AE_ERR_STATE, "the model is already attached to an MPI context: "
                             "detach that one first (a model has one set of hooks)");
    status = ae_mpi_agree(dup, status);
    if (status == AE_OK)
        status = ae_mpi_compare_models(model, dup);
    ae_mpi_context *c = NULL;
    if (status == AE_OK)
        status = context_new(model, dup, &c);
    if (status == AE_OK)
        status = install_hooks(c);
    status = ae_mpi_agree(dup, status);
    if (status != AE_OK) {
        if (c) {
            ae_model_set_train_hooks(model, NULL); /* when they were installed here */
            c->comm = MPI_COMM_NULL;
            context_free(c);
        }
        ae_mpi_free_comm(&dup);
        return status;
    }
    registry_add(c);
    *out = c;
    return AE_OK;
}

int ae_mpi_detach(ae_mpi_context *c)
{
    if (!c)
        return AE_OK;
    int status = ae_model_set_train_hooks(c->model, NULL);
    if (status != AE_OK)
        return ae_mpi_fail_from_core(status);
    registry_remove(c);
    context_free(c);
    return AE_OK;
}

ae_model *ae_mpi_context_model(const ae_mpi_context *c) { return c ? c->model : NULL; }
int ae_mpi_context_rank(const ae_mpi_context *c) { return c ? c->rank : -1; }
int ae_mpi_context_size(const ae_mpi_context *c) { return c ? c->size : 0; }

/* ---- settings ---------------------------------------------------------------------------- */

static int check_param(ae_mpi_param param, double value)
{
    switch (param) {
    case AE_MPI_PARAM_BUCKET_BYTES:
        AE_MPI_CHECK(value >= 0 && value <= AE_MPI_MAX_BUCKET_BYTES && value == floor(value),
                     AE_ERR_INVALID_ARGUMENT,
                     "bucket_bytes must be an integer in [0, 2^40], not %g", value);
        return AE_OK;
    case AE_MPI_PARAM_OVERLAP:
        AE_MPI_CHECK(value == 0 || value == 1, AE_ERR_INVALID_ARGUMENT,
                     "overlap must be 0 or 1, not %g", value);
        return AE_OK;
    }
    return ae_mpi_fail(AE_ERR_INVALID_ARGUMENT, "unknown MPI setting %d", (int)param);
}

int ae_mpi_set_param(ae_mpi_context *c, ae_mpi_param param, double value)
{
    AE_MPI_CHECK(c != NULL, AE_ERR_INVALID_ARGUMENT, "context is NULL");
    AE_MPI_FORWARD(ae_mpi_check_ready());
    AE_MPI_FORWARD(ae_mpi_agree(c->comm, check_param(param, value)));
    /* Every rank must start the same reductions: the same setting, to the same value. */
    const double mine[2] = {(double)param, value};
    double low[2], high[2];
    AE_MPI_FORWARD(ae_mpi_same_everywhere(c->comm, mine, 2, low, high));
    AE_MPI_CHECK(low[0] == high[0], AE_ERR_INVALID_ARGUMENT,
                 "the ranks set different MPI settings (%g to %g); every rank keeps its old "
                 "values", low[0], high[0]);
    AE_MPI_CHECK(low[1] == high[1], AE_ERR_INVALID_ARGUMENT,
                 "the ranks set different values of MPI setting %d (from %g to %g); every rank "
                 "keeps its old value",
                 (int)param, low[1], high[1]);
    if (param == AE_MPI_PARAM_BUCKET_BYTES)
        c->bucket_bytes = (uint64_t)value;
    else
        c->overlap = (int)value;
    return AE_OK;
}

int ae_mpi_get_param(const ae_mpi_context *c, ae_mpi_param param, double *value)
{
    AE_MPI_CHECK(c != NULL && value != NULL, AE_ERR_INVALID_ARGUMENT, "%s is NULL",
                 c ? "value" : "context");
    switch (param) {
    case AE_MPI_PARAM_BUCKET_BYTES: *value = (double)c->bucket_bytes; return AE_OK;
    case AE_MPI_PARAM_OVERLAP: *value = c->overlap; return AE_OK;
    }
    return ae_mpi_fail(AE_ERR_INVALID_ARGUMENT, "unknown MPI setting %d", (int)param);
}

/* ---- statistics -------------------------------------------------------------------------- */

int ae_mpi_get_stats(const ae_mpi_context *c, ae_mpi_stats *stats)
{
    AE_MPI_CHECK(c != NULL && stats != NULL, AE_ERR_INVALID_ARGUMENT, "%s is NULL",
                 c ? "stats" : "context");
    AE_MPI_CHECK(stats->size >= sizeof stats->size, AE_ERR_INVALID_ARGUMENT,
                 "stats->size must be set to sizeof(ae_mpi_stats)");
    size_t keep = stats->size;
    memcpy(stats, &c->stats, keep < sizeof c->stats ? keep : sizeof c->stats);
    stats->size = keep;
    return AE_OK;
}

int ae_mpi_reset_stats(ae_mpi_context *c)
{
    AE_MPI_CHECK(c != NULL, AE_ERR_INVALID_ARGUMENT, "context is NULL");
    memset(&c->stats, 0, sizeof c->stats);
    c->stats.size = sizeof c->stats;
    return AE_OK;
}
