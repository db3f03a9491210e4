/* autoenc train --distributed: one process of an MPI job (mpirun -np N autoenc train ...),
 * through libautoenc_mpi when the tool was built with it (AUTOENC_TOOL_MPI); without it
 * every call but cli_dist_start is a local no-op and cli_dist_start says why it cannot.
 * Only the public headers autoenc.h and autoenc_mpi.h are used. */
#ifndef AUTOENC_DISTRIBUTED_H
#define AUTOENC_DISTRIBUTED_H

#include <autoenc.h>

#include <stddef.h>

typedef struct cli_dist {
    int on;           /* --distributed and MPI started */
    int started_mpi;  /* this process called MPI_Init (and ends it) */
    int rank, ranks;  /* 0 and 1 when off */
    void *context;    /* the ae_mpi_context while attached */
} cli_dist;

/* Starts MPI (unless the caller already did) and fills rank and ranks; on ranks but 0,
 * diagnostics name the rank. 0 or an exit status after printing why. */
int cli_dist_start(cli_dist *d);
/* Detaches if still attached and ends MPI if cli_dist_start started it. */
void cli_dist_end(cli_dist *d);
/* Every rank's @p status combined (the largest): the job goes on only if every rank can.
 * Local when off. */
int cli_dist_agree(const cli_dist *d, int status);
/* The sum of every rank's @p value. Local when off. */
size_t cli_dist_sum(const cli_dist *d, size_t value);
/* Row blocks (cli_row_block_fn; user = the cli_dist): this rank's shard of the training
 * rows (at least one row per rank), or of the validation rows (a rank may get none). */
int cli_dist_train_block(const char *path, size_t n_rows, void *user, size_t *first,
                         size_t *count);
int cli_dist_validation_block(const char *path, size_t n_rows, void *user, size_t *first,
                              size_t *count);
/* Rank 0's *model on every rank (*model may be NULL elsewhere); an ae_ status. */
int cli_dist_broadcast(cli_dist *d, ae_model **model);
/* Attach @p model: training calls on it are collective until cli_dist_detach. */
int cli_dist_attach(cli_dist *d, ae_model *model);
void cli_dist_detach(cli_dist *d);
/* The message of the last failed MPI-layer call ("" if none). */
const char *cli_dist_last_error(void);

#endif
