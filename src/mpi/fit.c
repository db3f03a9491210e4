/* Whole distributed fits in one call, and the rows each rank takes. */
#include "mpi_internal.h"

#include <stdio.h>
#include <string.h>

int ae_mpi_fit(ae_model *model, const float *x, size_t n_rows, size_t ld_x, const float *x_val,
               size_t n_val_rows, size_t ld_val, ae_fit_report *report, MPI_Comm comm)
{
    ae_mpi_context *context = NULL;
    AE_MPI_FORWARD(ae_mpi_attach(model, comm, &context));
    int status = ae_model_fit_validated(model, x, n_rows, ld_x, x_val, n_val_rows, ld_val, report);
    if (status != AE_OK) {
        if (context->failed) { /* the core's words, then MPI's */
            ae_mpi_fail(status, "%s; %s", ae_last_error(), context->failure);
        } else if (status == AE_ERR_BUSY) {
            /* Refused before the core met the other ranks (another thread uses the model):
             * not agreed, so no collective here either. */
            ae_mpi_fail_from_core(status);
        } else {
            ae_mpi_fail_from_core(status);
            /* The core agreed on the failure, so every rank is here. The ranks that stopped
             * for another's sake learn which rank failed and why; the others (the failing
             * rank, or every rank for a shared outcome such as a cancellation) keep their
             * own words. The status is the core's either way. */
            char own[AE_MPI_MESSAGE_SIZE];
            memcpy(own, ae_mpi_message_slot(), sizeof own);
            int agreed = ae_mpi_agree(context->comm, status == AE_ERR_PEER ? AE_OK : status);
            if (status != AE_ERR_PEER || agreed != AE_ERR_PEER)
                memcpy(ae_mpi_message_slot(), own, sizeof own);
        }
    }
    /* Only this call uses the model: removing the hooks cannot find it busy. */
    char message[AE_MPI_MESSAGE_SIZE];
    memcpy(message, ae_mpi_message_slot(), sizeof message);
    int detached = ae_mpi_detach(context);
    memcpy(ae_mpi_message_slot(), message, sizeof message);
    return status != AE_OK ? status : detached;
}

int ae_mpi_shard_range(size_t n_rows, int rank, int n_ranks, size_t *first, size_t *count)
{
    AE_MPI_CHECK(first != NULL && count != NULL, AE_ERR_INVALID_ARGUMENT, "%s is NULL",
                 first ? "count" : "first");
    AE_MPI_CHECK(n_ranks >= 1 && rank >= 0 && rank < n_ranks, AE_ERR_INVALID_ARGUMENT,
                 "rank %d is not one of %d ranks", rank, n_ranks);
    const size_t ranks = (size_t)n_ranks, r = (size_t)rank;
    const size_t base = n_rows / ranks, extra = n_rows % ranks;
    *first = r * base + (r < extra ? r : extra);
    *count = base + (r < extra ? 1 : 0);
    return AE_OK;
}
