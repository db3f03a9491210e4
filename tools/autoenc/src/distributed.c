/* autoenc train --distributed over libautoenc_mpi (distributed.h). */
#define _POSIX_C_SOURCE 200809L
#include "distributed.h"

#include "cli.h"

#include <stdio.h>

#ifdef AUTOENC_TOOL_MPI
#include <autoenc_mpi.h>

int cli_dist_start(cli_dist *d)
{
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (finalized)
        return cli_fail(CLI_EX_SOFTWARE, "--distributed: MPI was already ended");
    if (!initialized) {
        if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
            return cli_fail(CLI_EX_OSERR, "--distributed: MPI does not start");
        d->started_mpi = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->ranks);
    d->on = 1;
    if (d->ranks > 1) {
        static char prefix[48];
        snprintf(prefix, sizeof prefix, "autoenc: rank %d of %d: ", d->rank, d->ranks);
        if (d->rank > 0)
            cli_set_prefix(prefix);
    }
    return 0;
}

void cli_dist_end(cli_dist *d)
{
    cli_dist_detach(d);
    if (d->started_mpi)
        MPI_Finalize();
    d->started_mpi = 0;
    d->on = 0;
}

int cli_dist_agree(const cli_dist *d, int status)
{
    if (!d->on || d->ranks == 1)
        return status;
    int all = status;
    if (MPI_Allreduce(&status, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
        return status ? status : CLI_EX_PEER;
    return all;
}

size_t cli_dist_sum(const cli_dist *d, size_t value)
{
    if (!d->on || d->ranks == 1)
        return value;
    unsigned long long mine = value, all = value;
    MPI_Allreduce(&mine, &all, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    return (size_t)all;
}

static int block(const char *path, size_t n_rows, const cli_dist *d, size_t *first,
                 size_t *count, int need_rows)
{
    if (ae_mpi_shard_range(n_rows, d->rank, d->ranks, first, count) != AE_OK)
        return cli_fail(CLI_EX_SOFTWARE, "%s: %s", path, ae_mpi_last_error());
    if (need_rows && *count == 0)
        return cli_fail(CLI_EX_DATAERR,
                        "%s: %zu rows for %d processes: each process needs at least one row "
                        "to train on",
                        path, n_rows, d->ranks);
    return 0;
}

int cli_dist_train_block(const char *path, size_t n_rows, void *user, size_t *first,
                         size_t *count)
{
    return block(path, n_rows, user, first, count, 1);
}

int cli_dist_validation_block(const char *path, size_t n_rows, void *user, size_t *first,
                              size_t *count)
{
    return block(path, n_rows, user, first, count, 0);
}

int cli_dist_broadcast(cli_dist *d, ae_model **model)
{
    (void)d;
    return ae_mpi_broadcast_model(model, 0, MPI_COMM_WORLD);
}

int cli_dist_attach(cli_dist *d, ae_model *model)
{
    ae_mpi_context *context = NULL;
    int rc = ae_mpi_attach(model, MPI_COMM_WORLD, &context);
    d->context = context;
    return rc;
}

void cli_dist_detach(cli_dist *d)
{
    if (d->context)
        ae_mpi_detach(d->context);
    d->context = NULL;
}

const char *cli_dist_last_error(void) { return ae_mpi_last_error(); }

#else /* built without MPI */

int cli_dist_start(cli_dist *d)
{
    (void)d;
    return cli_fail(CLI_EX_USAGE,
                    "--distributed: this autoenc was built without MPI (libautoenc_mpi); "
                    "build it with Open MPI installed (openmpi-bin, libopenmpi-dev) and "
                    "AE_TOOL_MPI ON, the default");
}

void cli_dist_end(cli_dist *d) { d->on = 0; }
int cli_dist_agree(const cli_dist *d, int status) { (void)d; return status; }
size_t cli_dist_sum(const cli_dist *d, size_t value) { (void)d; return value; }

int cli_dist_train_block(const char *path, size_t n_rows, void *user, size_t *first,
                         size_t *count)
{
    (void)path;
    (void)user;
    *first = 0;
    *count = n_rows;
    return 0;
}

int cli_dist_validation_block(const char *path, size_t n_rows, void *user, size_t *first,
                              size_t *count)
{
    return cli_dist_train_block(path, n_rows, user, first, count);
}

int cli_dist_broadcast(cli_dist *d, ae_model **model)
{
    (void)d;
    return *model ? AE_OK : AE_ERR_INVALID_ARGUMENT;
}

int cli_dist_attach(cli_dist *d, ae_model *model)
{
    (void)d;
    (void)model;
    return AE_OK;
}

void cli_dist_detach(cli_dist *d) { d->context = NULL; }
const char *cli_dist_last_error(void) { return ""; }

#endif
