/* Compiled as C11 and as C++ with -Wall -Wextra -pedantic -Werror: autoenc_mpi.h must be
 * self-contained (included first), idempotent (included twice), warning-free in both
 * languages, and keep every pinned value and layout. */
#include <autoenc_mpi.h>
#include <autoenc_mpi.h>

#include <stddef.h>

#ifdef __cplusplus
#  define PIN(cond) static_assert(cond, #cond)
#else
#  define PIN(cond) _Static_assert(cond, #cond)
#endif

/* Values pinned forever. */
PIN(AE_MPI_PARAM_BUCKET_BYTES == 1);
PIN(AE_MPI_PARAM_OVERLAP == 2);

/* Struct layouts on LP64 platforms (only ever appended to). */
#if defined(__LP64__) || defined(_LP64)
PIN(offsetof(ae_mpi_stats, size) == 0);
PIN(offsetof(ae_mpi_stats, steps) == 8);
PIN(offsetof(ae_mpi_stats, buckets) == 16);
PIN(offsetof(ae_mpi_stats, gradient_bytes) == 24);
PIN(offsetof(ae_mpi_stats, reduces) == 32);
PIN(offsetof(ae_mpi_stats, gradient_ready_seconds) == 40);
PIN(offsetof(ae_mpi_stats, gradient_wait_seconds) == 48);
PIN(offsetof(ae_mpi_stats, reduce_seconds) == 56);
PIN(sizeof(ae_mpi_stats) == 64);
#endif

/* The declarations are usable as written. */
int header_check_mpi_uses(void);
int header_check_mpi_uses(void)
{
    int (*attach)(ae_model *, MPI_Comm, ae_mpi_context **) = ae_mpi_attach;
    int (*fit)(ae_model *, const float *, size_t, size_t, const float *, size_t, size_t,
               ae_fit_report *, MPI_Comm) = ae_mpi_fit;
    int (*broadcast)(ae_model **, int, MPI_Comm) = ae_mpi_broadcast_model;
    const char *(*message)(void) = ae_mpi_last_error;
    return attach != NULL && fit != NULL && broadcast != NULL && message != NULL &&
           ae_mpi_detach(NULL) == AE_OK;
}
