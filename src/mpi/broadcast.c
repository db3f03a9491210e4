/* Giving every rank the root's model: its saved bytes (optimizer state included) go out
 * with MPI_Bcast and are loaded on the others. Every step that can fail is agreed on, so a
 * failure anywhere leaves every rank's model as it was. */
#include "mpi_internal.h"

#include <stdlib.h>

static int check_arguments(ae_model **model, int root, int rank, int size)
{
    AE_MPI_CHECK(model != NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_MPI_CHECK(root >= 0 && root < size, AE_ERR_INVALID_ARGUMENT,
                 "root %d is not a rank of the communicator's %d", root, size);
    AE_MPI_CHECK(rank != root || *model != NULL, AE_ERR_INVALID_ARGUMENT,
                 "the root's *model is NULL: the root must have the model to send");
    AE_MPI_CHECK(rank == root || *model == NULL || !ae_mpi_is_attached(*model), AE_ERR_STATE,
                 "*model is attached to an MPI context: detach it (ae_mpi_detach()) before "
                 "replacing it");
    return AE_OK;
}

static int serialise(const ae_model *m, unsigned char **bytes, uint64_t *size)
{
    size_t n = 0;
    int status = ae_model_save_size(m, AE_SAVE_OPTIMIZER_STATE, &n);
    if (status != AE_OK)
        return ae_mpi_fail_from_core(status);
    *bytes = malloc(n ? n : 1);
    AE_MPI_CHECK(*bytes != NULL, AE_ERR_OUT_OF_MEMORY,
                 "out of memory saving the model to send it (%zu bytes)", n);
    status = ae_model_save_to_memory(m, AE_SAVE_OPTIMIZER_STATE, *bytes, n, &n);
    if (status != AE_OK)
        return ae_mpi_fail_from_core(status);
    *size = n;
    return AE_OK;
}

static int broadcast(ae_model **model, int root, MPI_Comm comm)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    /* Ranks that name different roots would each send (or wait): check that first. */
    const double mine = root;
    double low = 0, high = 0;
    AE_MPI_FORWARD(ae_mpi_same_everywhere(comm, &mine, 1, &low, &high));
    int checked = check_arguments(model, root, rank, size);
    if (checked == AE_OK && low != high)
        checked = ae_mpi_fail(AE_ERR_INVALID_ARGUMENT, "the ranks passed different roots (%.0f "
                              "to %.0f): every rank must pass the same root", low, high);
    AE_MPI_FORWARD(ae_mpi_agree(comm, checked));
    unsigned char *bytes = NULL;
    uint64_t n_bytes = 0;
    ae_model *received = NULL;
    int status = rank == root ? serialise(*model, &bytes, &n_bytes) : AE_OK;
    status = ae_mpi_agree(comm, status);
    if (status == AE_OK)
        status = ae_mpi_bcast_bytes(&n_bytes, sizeof n_bytes, root, comm);
    if (status == AE_OK && rank != root) {
        if (n_bytes > SIZE_MAX || !(bytes = malloc(n_bytes ? (size_t)n_bytes : 1)))
            status = ae_mpi_fail(AE_ERR_OUT_OF_MEMORY, "out of memory receiving the model "
                                 "(%llu bytes)", (unsigned long long)n_bytes);
    }
    status = ae_mpi_agree(comm, status);
    if (status == AE_OK)
        status = ae_mpi_bcast_bytes(bytes, (size_t)n_bytes, root, comm);
    if (status == AE_OK && rank != root) {
        status = ae_model_load_from_memory(&received, bytes, (size_t)n_bytes);
        if (status != AE_OK)
            ae_mpi_fail_from_core(status);
    }
    free(bytes);
    status = ae_mpi_agree(comm, status);
    if (status != AE_OK) {
        ae_model_free(received);
        return status;
    }
    if (rank != root) {
        ae_model_free(*model);
        *model = received;
    }
    return AE_OK;
}

int ae_mpi_broadcast_model(ae_model **model, int root, MPI_Comm comm)
{
    AE_MPI_FORWARD(ae_mpi_check_ready());
    AE_MPI_FORWARD(ae_mpi_check_comm(comm));
    MPI_Comm dup;
    AE_MPI_FORWARD(ae_mpi_dup(comm, &dup));
    int status = broadcast(model, root, dup);
    ae_mpi_free_comm(&dup);
    return status;
}
