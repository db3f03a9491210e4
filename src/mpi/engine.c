/* The engine behind ae_train_hooks: figures and decisions through MPI_Allreduce of doubles,
 * the gradient through in-place MPI_Iallreduce of floats started while the backward pass
 * goes on.
 *
 * Buckets without copies. The backward pass hands over each layer's weights, then its bias,
 * last layer first; in the flat gradient (every layer's weights in layer order, then every
 * bias) each weight span ends where the previous one began, and so does each bias span. So
 * spans gather into a few runs of neighbouring memory, and a run is summed in place, as one
 * reduction, once it holds bucket_bytes: DDP's and Horovod's buckets without their copy into
 * a fusion buffer. Between layers the hooks drive MPI (MPI_Testall), since MPI makes progress
 * on non-blocking collectives only inside MPI calls. */
#include "mpi_internal.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* Floats per MPI call: counts are ints. */
#define PIECE_FLOATS ((size_t)1 << 30)

size_t ae_mpi_max_requests(const ae_model *model)
{
    size_t n = 0;
    for (size_t l = 0; l < ae_model_layer_count(model); l++) {
        ae_layer_description d = {.size = sizeof d};
        if (ae_model_describe_layer(model, l, &d) != AE_OK)
            continue;
        n += (size_t)((d.weight_count + PIECE_FLOATS - 1) / PIECE_FLOATS);
        n += (size_t)((d.bias_count + PIECE_FLOATS - 1) / PIECE_FLOATS);
    }
    return n + AE_MPI_OPEN_RUNS;
}

/* An MPI call failed: the context stays failed (its requests may be in flight, the ranks no
 * longer in step), and the thread's message says what MPI said. Returns non-zero, which the
 * core turns into AE_ERR_PEER. */
static int engine_failed(ae_mpi_context *c, const char *call, int code)
{
    char words[MPI_MAX_ERROR_STRING + 1];
    ae_mpi_error_text(code, words, sizeof words);
    snprintf(c->failure, sizeof c->failure, "%.40s failed on rank %d: %.400s", call, c->rank, words);
    c->failed = true;
    ae_mpi_fail(AE_ERR_PEER, "%s", c->failure);
    return code != 0 ? code : -1;
}

static int refuse_failed(ae_mpi_context *c)
{
    ae_mpi_fail(AE_ERR_PEER, "an earlier MPI failure stopped this context (%s); detach it",
                c->failure);
    return -1;
}

/* No MPI call is allowed after MPI_Finalize (Open MPI aborts the process): a training call on
 * a model still attached then fails with AE_ERR_PEER instead, and the context stays failed
 * (MPI cannot start again). */
static int refuse_finalised(ae_mpi_context *c)
{
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised)
        return 0;
    snprintf(c->failure, sizeof c->failure,
             "MPI is finalised: a model attached over %d ranks trains only between MPI_Init and "
             "MPI_Finalize (detach it, and it trains alone)", c->size);
    c->failed = true;
    ae_mpi_fail(AE_ERR_PEER, "%s", c->failure);
    return -1;
}

int ae_mpi_hook_reduce(double *values, size_t count, int op, void *user_data)
{
    ae_mpi_context *c = user_data;
    if (c->failed)
        return refuse_failed(c);
    if (c->size == 1)
        return 0;
    if (refuse_finalised(c) != 0)
        return -1;
    const double started = MPI_Wtime();
    MPI_Op mpi_op = op == AE_REDUCE_MAX ? MPI_MAX : MPI_SUM;
    for (size_t done = 0; done < count;) {
        size_t n = count - done < PIECE_FLOATS ? count - done : PIECE_FLOATS;
        int code = MPI_Allreduce(MPI_IN_PLACE, values + done, (int)n, MPI_DOUBLE, mpi_op, c->comm);
        if (code != MPI_SUCCESS)
            return engine_failed(c, "MPI_Allreduce", code);
        done += n;
    }
    c->stats.reduces++;
    c->stats.reduce_seconds += MPI_Wtime() - started;
    return 0;
}

/* Wait for every reduction in flight. */
static int wait_all(ae_mpi_context *c)
{
    if (c->n_requests == 0)
        return 0;
    int code = MPI_Waitall((int)c->n_requests, c->requests, MPI_STATUSES_IGNORE);
    c->n_requests = 0;
    return code == MPI_SUCCESS ? 0 : engine_failed(c, "MPI_Waitall", code);
}

/* Start summing floats [lo, hi) of the gradient in place. */
static int start_run(ae_mpi_context *c, float *gradients, ae_mpi_run run)
{
    for (size_t at = run.lo; at < run.hi;) {
        size_t n = run.hi - at < PIECE_FLOATS ? run.hi - at : PIECE_FLOATS;
        /* Never more in flight than planned (a core that hands over more spans than its
         * layers describe): finish those first. */
        if (c->n_requests == c->max_requests && wait_all(c) != 0)
            return -1;
        int code = MPI_Iallreduce(MPI_IN_PLACE, gradients + at, (int)n, MPI_FLOAT, MPI_SUM,
                                  c->comm, &c->requests[c->n_requests]);
        if (code != MPI_SUCCESS)
            return engine_failed(c, "MPI_Iallreduce", code);
        c->n_requests++;
        c->stats.buckets++;
        c->stats.gradient_bytes += (uint64_t)n * sizeof(float);
        at += n;
    }
    return 0;
}

static void close_run(ae_mpi_context *c, size_t k)
{
    memmove(&c->open[k], &c->open[k + 1], (c->n_open - k - 1) * sizeof c->open[0]);
    c->n_open--;
}

int ae_mpi_hook_gradient_ready(float *gradients, size_t offset, size_t count, void *user_data)
{
    ae_mpi_context *c = user_data;
    if (c->failed)
        return refuse_failed(c);
    if (c->size == 1 || !c->overlap)
        return 0; /* without overlap, the whole gradient is summed at the wait */
    if (refuse_finalised(c) != 0)
        return -1;
    const double started = MPI_Wtime();
    /* Join the open run this span touches, or open a new one (starting the oldest open
     * run when there is no room). */
    size_t k = 0;
    while (k < c->n_open && offset + count != c->open[k].lo && offset != c->open[k].hi)
        k++;
    if (k < c->n_open) {
        if (offset + count == c->open[k].lo)
            c->open[k].lo = offset;
        else
            c->open[k].hi += count;
    } else {
        if (c->n_open == AE_MPI_OPEN_RUNS) {
            if (start_run(c, gradients, c->open[0]) != 0)
                return -1;
            close_run(c, 0);
        }
        k = c->n_open++;
        c->open[k] = (ae_mpi_run){offset, offset + count};
    }
    if ((uint64_t)(c->open[k].hi - c->open[k].lo) * sizeof(float) >= c->bucket_bytes) {
        ae_mpi_run full = c->open[k];
        close_run(c, k);
        if (start_run(c, gradients, full) != 0)
            return -1;
    }
    /* MPI moves non-blocking collectives on only inside MPI calls: give it one now. */
    if (c->n_requests) {
        int done = 0;
        int code = MPI_Testall((int)c->n_requests, c->requests, &done, MPI_STATUSES_IGNORE);
        if (code != MPI_SUCCESS)
            return engine_failed(c, "MPI_Testall", code);
        if (done)
            c->n_requests = 0;
    }
    c->stats.gradient_ready_seconds += MPI_Wtime() - started;
    return 0;
}

int ae_mpi_hook_gradient_wait(float *gradients, size_t count, void *user_data)
{
    ae_mpi_context *c = user_data;
    if (c->failed)
        return refuse_failed(c);
    if (c->size == 1) {
        c->stats.steps++;
        return 0;
    }
    if (refuse_finalised(c) != 0)
        return -1;
    c->stats.steps++;
    const double started = MPI_Wtime();
    if (!c->overlap) {
        /* One reduction of the whole gradient, after the backward pass. */
        for (size_t done = 0; done < count;) {
            size_t n = count - done < PIECE_FLOATS ? count - done : PIECE_FLOATS;
            int code = MPI_Allreduce(MPI_IN_PLACE, gradients + done, (int)n, MPI_FLOAT, MPI_SUM,
                                     c->comm);
            if (code != MPI_SUCCESS)
                return engine_failed(c, "MPI_Allreduce", code);
            c->stats.buckets++;
            c->stats.gradient_bytes += (uint64_t)n * sizeof(float);
            done += n;
        }
    } else {
        /* The runs still open, in the order they were opened, then every reduction. */
        for (size_t k = 0; k < c->n_open; k++)
            if (start_run(c, gradients, c->open[k]) != 0)
                return -1;
        c->n_open = 0;
        if (wait_all(c) != 0)
            return -1;
    }
    c->stats.gradient_wait_seconds += MPI_Wtime() - started;
    return 0;
}
