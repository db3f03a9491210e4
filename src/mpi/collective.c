/* The collective steps every call of the library is built from: a private communicator,
 * agreeing on a local status so that no rank is left waiting, and byte broadcasts of any
 * size. */
#include "mpi_internal.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

int ae_mpi_check_ready(void)
{
    int initialised = 0, finalised = 0;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    AE_MPI_CHECK(initialised && !finalised, AE_ERR_STATE,
                 "MPI is %s: call MPI_Init first, and MPI_Finalize only at the end",
                 finalised ? "finalised" : "not initialised");
    return AE_OK;
}

int ae_mpi_check_comm(MPI_Comm comm)
{
    AE_MPI_CHECK(comm != MPI_COMM_NULL, AE_ERR_INVALID_ARGUMENT, "comm is MPI_COMM_NULL");
    /* An intercommunicator's collectives join two groups (a reduce gives each group the
     * other's result, a broadcast needs MPI_ROOT): none of this library's calls means
     * anything over one. Every process of both groups sees the same answer, locally. */
    int inter = 0;
    int code = MPI_Comm_test_inter(comm, &inter);
    if (code != MPI_SUCCESS)
        return ae_mpi_failed_call("MPI_Comm_test_inter", code);
    AE_MPI_CHECK(!inter, AE_ERR_INVALID_ARGUMENT,
                 "comm is an intercommunicator: pass an intracommunicator (merge the groups "
                 "with MPI_Intercomm_merge)");
    return AE_OK;
}

int ae_mpi_failed_call(const char *call, int mpi_code)
{
    char words[MPI_MAX_ERROR_STRING + 1];
    ae_mpi_error_text(mpi_code, words, sizeof words);
    return ae_mpi_fail(AE_ERR_PEER, "%.40s failed: %.400s", call, words);
}

int ae_mpi_dup(MPI_Comm comm, MPI_Comm *dup)
{
    *dup = MPI_COMM_NULL;
    int code = MPI_Comm_dup(comm, dup);
    if (code != MPI_SUCCESS) {
        *dup = MPI_COMM_NULL;
        return ae_mpi_failed_call("MPI_Comm_dup", code);
    }
    code = MPI_Comm_set_errhandler(*dup, MPI_ERRORS_RETURN);
    if (code != MPI_SUCCESS) {
        ae_mpi_free_comm(dup);
        return ae_mpi_failed_call("MPI_Comm_set_errhandler", code);
    }
    return AE_OK;
}

void ae_mpi_free_comm(MPI_Comm *comm)
{
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (*comm != MPI_COMM_NULL && !finalised)
        MPI_Comm_free(comm);
    *comm = MPI_COMM_NULL;
}

int ae_mpi_agree(MPI_Comm comm, int status)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    /* The lowest rank that failed, or size when none did. */
    int first_failed = status != AE_OK ? rank : size;
    int code = MPI_Allreduce(MPI_IN_PLACE, &first_failed, 1, MPI_INT, MPI_MIN, comm);
    if (code != MPI_SUCCESS)
        return status != AE_OK ? status : ae_mpi_failed_call("MPI_Allreduce", code);
    if (first_failed == size)
        return AE_OK;
    /* Every rank learns what went wrong on the first rank that failed. */
    char message[AE_MPI_MESSAGE_SIZE];
    memcpy(message, ae_mpi_message_slot(), sizeof message);
    message[sizeof message - 1] = '\0';
    code = MPI_Bcast(message, (int)sizeof message, MPI_CHAR, first_failed, comm);
    if (status != AE_OK)
        return status; /* this rank's own message stays */
    if (code != MPI_SUCCESS)
        return ae_mpi_failed_call("MPI_Bcast", code);
    message[sizeof message - 1] = '\0';
    return ae_mpi_fail(AE_ERR_PEER, "rank %d failed (%s); this rank stopped with it", first_failed,
                       message);
}

int ae_mpi_same_everywhere(MPI_Comm comm, const double *values, size_t n, double *low,
                           double *high)
{
    /* The largest value and the largest negated one, AE_MPI_SAME_MAX values a reduction (every
     * rank passes the same n, so every rank makes the same calls). */
    double range[2 * AE_MPI_SAME_MAX];
    for (size_t first = 0; first < n; first += AE_MPI_SAME_MAX) {
        const size_t k = n - first < AE_MPI_SAME_MAX ? n - first : AE_MPI_SAME_MAX;
        for (size_t i = 0; i < k; i++) {
            range[2 * i] = values[first + i];
            range[2 * i + 1] = -values[first + i];
        }
        int code = MPI_Allreduce(MPI_IN_PLACE, range, (int)(2 * k), MPI_DOUBLE, MPI_MAX, comm);
        if (code != MPI_SUCCESS)
            return ae_mpi_failed_call("MPI_Allreduce", code);
        for (size_t i = 0; i < k; i++) {
            low[first + i] = -range[2 * i + 1];
            high[first + i] = range[2 * i];
        }
    }
    return AE_OK;
}

int ae_mpi_bcast_bytes(void *bytes, size_t n, int root, MPI_Comm comm)
{
    unsigned char *at = bytes;
    const size_t piece = (size_t)1 << 30;
    for (size_t done = 0; done < n;) {
        size_t count = n - done < piece ? n - done : piece;
        int code = MPI_Bcast(at + done, (int)count, MPI_BYTE, root, comm);
        if (code != MPI_SUCCESS)
            return ae_mpi_failed_call("MPI_Bcast", code);
        done += count;
    }
    return AE_OK;
}
