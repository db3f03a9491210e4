/* Private structures and helpers of libautoenc_mpi, shared by its source files. */
#ifndef AE_MPI_INTERNAL_H
#define AE_MPI_INTERNAL_H

#include "autoenc_mpi.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- messages (error.c) ---------------------------------------------------------------- */

#define AE_MPI_MESSAGE_SIZE 512

/* Record a failure in the calling thread's slot; returns status. */
int ae_mpi_fail(int status, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Record the core's message (ae_last_error()) of a failure that came from the core. */
int ae_mpi_fail_from_core(int status);
/* The calling thread's slot, to read or to overwrite whole (AE_MPI_MESSAGE_SIZE bytes). */
char *ae_mpi_message_slot(void);
/* An MPI error code in words ("MPI_ERR_TRUNCATE: message truncated"). */
void ae_mpi_error_text(int mpi_code, char *text, size_t size);

#define AE_MPI_CHECK(cond, status, ...)                                                    \
    do {                                                                                   \
        if (!(cond))                                                                       \
            return ae_mpi_fail((status), __VA_ARGS__);                                     \
    } while (0)

#define AE_MPI_FORWARD(expr)                                                               \
    do {                                                                                   \
        int ae_mpi_forward_status_ = (expr);                                               \
        if (ae_mpi_forward_status_ != AE_OK)                                               \
            return ae_mpi_forward_status_;                                                 \
    } while (0)

/* ---- collective helpers (collective.c) --------------------------------------------------- */

/* MPI is initialised and not finalised: AE_OK or AE_ERR_STATE. Local. */
int ae_mpi_check_ready(void);
/* comm can carry the library's collectives: not MPI_COMM_NULL, not an intercommunicator.
 * AE_OK or AE_ERR_INVALID_ARGUMENT (AE_ERR_PEER if MPI fails). Local. */
int ae_mpi_check_comm(MPI_Comm comm);
/* A private duplicate of comm that returns MPI errors: AE_OK or AE_ERR_PEER (MPI failed;
 * *dup is MPI_COMM_NULL then). Collective over comm. */
int ae_mpi_dup(MPI_Comm comm, MPI_Comm *dup);
/* Free a duplicate made by ae_mpi_dup (nothing for MPI_COMM_NULL, or after MPI_Finalize). */
void ae_mpi_free_comm(MPI_Comm *comm);
/* Turn a failed MPI call into AE_ERR_PEER with MPI's words for it. */
int ae_mpi_failed_call(const char *call, int mpi_code);
/* Agree on a local status: AE_OK when it held on every rank; this rank's own status (and
 * message) when it failed here; AE_ERR_PEER with the message of the lowest failing rank
 * when it failed elsewhere. Collective over comm. */
int ae_mpi_agree(MPI_Comm comm, int status);
/* The smallest and largest value across ranks of each of n values that every rank must pass
 * alike: they agree when low[i] == high[i] for every i. AE_OK or AE_ERR_PEER (MPI failed).
 * Collective over comm: one reduction per AE_MPI_SAME_MAX values. */
#define AE_MPI_SAME_MAX 4
int ae_mpi_same_everywhere(MPI_Comm comm, const double *values, size_t n, double *low,
                           double *high);
/* MPI_Bcast of n bytes in pieces that fit an int count. Collective. */
int ae_mpi_bcast_bytes(void *bytes, size_t n, int root, MPI_Comm comm);

/* ---- model comparison (compare.c) -------------------------------------------------------- */

/* Every rank's model equals rank 0's: architecture, settings, then every saved byte (with
 * the optimizer state). AE_OK, AE_ERR_STATE on a rank whose model differs (its message
 * names the first difference), or as ae_mpi_agree. Collective over comm. */
int ae_mpi_compare_models(ae_model *model, MPI_Comm comm);

/* ---- the engine (engine.c) --------------------------------------------------------------- */

/* A run of neighbouring gradient spans not yet handed to MPI: floats [lo, hi). */
typedef struct ae_mpi_run {
    size_t lo, hi;
} ae_mpi_run;

#define AE_MPI_OPEN_RUNS 4

struct ae_mpi_context {
    ae_model *model;
    MPI_Comm comm; /* the library's own duplicate, errors returned */
    int rank, size;
    /* settings (ae_mpi_param) */
    uint64_t bucket_bytes;
    int overlap;
    /* this step's reductions: runs still open, requests in flight */
    ae_mpi_run open[AE_MPI_OPEN_RUNS];
    size_t n_open;
    MPI_Request *requests;
    size_t n_requests, max_requests;
    bool failed; /* an MPI call failed: every later hook fails at once */
    char failure[AE_MPI_MESSAGE_SIZE];
    ae_mpi_stats stats;
    struct ae_mpi_context *next_attached; /* the process's list of attached contexts */
};

/* Whether an ae_mpi_context of this process is attached to model (context.c). Thread-safe. */
bool ae_mpi_is_attached(const ae_model *model);

/* The hooks of ae_train_hooks over context (user_data is the context). */
int ae_mpi_hook_reduce(double *values, size_t count, int op, void *user_data);
int ae_mpi_hook_gradient_ready(float *gradients, size_t offset, size_t count, void *user_data);
int ae_mpi_hook_gradient_wait(float *gradients, size_t count, void *user_data);

/* How many requests a step of this model can have in flight at most (every span on its
 * own, each in int-sized pieces). */
size_t ae_mpi_max_requests(const ae_model *model);

#define AE_MPI_DEFAULT_BUCKET_BYTES 262144u
#define AE_MPI_MAX_BUCKET_BYTES 1099511627776.0 /* 2^40 */

#endif
