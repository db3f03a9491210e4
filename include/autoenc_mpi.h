/**
 * @file autoenc_mpi.h
 * @brief libautoenc_mpi: data-parallel training of libautoenc models over MPI.
 *
 * Each MPI rank holds a copy of one model and its own rows; the ranks train
 * together and end with the weights one process would get from the combined
 * batches (up to the order of float sums). This library is the MPI engine of
 * the core's distributed training hooks (@ref ae_distributed in autoenc.h):
 * the gradient of each step is summed with non-blocking `MPI_Iallreduce`
 * calls started while the backward pass goes on, last layer first; the few
 * figures training decides on go through `MPI_Allreduce`. The core itself
 * never links MPI. Link with `-lautoenc_mpi -lautoenc` and your MPI's flags
 * (the CMake target `autoenc::autoenc_mpi` carries them).
 *
 * A typical program, started with `mpirun -np R ./train`:
 * @code
 * MPI_Init(&argc, &argv);
 * int rank;
 * MPI_Comm_rank(MPI_COMM_WORLD, &rank);
 * size_t first, count;                                   // this rank's rows
 * ae_mpi_shard_range(n_rows, rank, n_ranks, &first, &count);
 * ae_model *m = NULL;                    // the same model on every rank:
 * if (rank == 0)                         // made on the root ...
 *     make_model(&m);
 * ae_mpi_broadcast_model(&m, 0, MPI_COMM_WORLD);         // ... and copied to all
 * if (rank == 0)
 *     ae_model_set_progress(m, on_progress, NULL);       // rank 0 reports
 * ae_fit_report report = {.size = sizeof report};
 * int rc = ae_mpi_fit(m, x + first * d, count, d, NULL, 0, 0, &report, MPI_COMM_WORLD);
 * if (rc != AE_OK)
 *     fprintf(stderr, "rank %d: %s\n", rank, ae_mpi_last_error());
 * else if (rank == 0)
 *     ae_model_save(m, "model.aenc", 0);                 // one rank writes
 * ae_model_free(m);
 * MPI_Finalize();
 * @endcode
 *
 * Conventions, beyond those of autoenc.h:
 * - Functions return the core's ::ae_status codes. Calls marked *collective*
 *   must be made by every rank of the communicator, in the same order. They
 *   never leave a rank behind: a failure on one rank (a bad argument, bad
 *   data, no memory) is agreed on, the failing rank returns its own status
 *   and the others #AE_ERR_PEER, and nobody waits for ever.
 * - MPI errors are returned, not fatal: the library works on its own
 *   duplicate of the caller's communicator (`MPI_Comm_dup`, so its messages
 *   never mix with the caller's) with `MPI_ERRORS_RETURN`, and turns an MPI
 *   failure into #AE_ERR_PEER. A rank that dies (killed, crashed) ends the
 *   whole job: that is what `mpirun` does with Open MPI 4, and MPI offers no
 *   portable way for the others to go on.
 * - MPI must be initialised (`MPI_Init` or `MPI_Init_thread`) and not yet
 *   finalised; otherwise calls return #AE_ERR_STATE, and training calls on a
 *   model still attached over more than one rank fail with #AE_ERR_PEER (detach
 *   it: ae_mpi_detach() works after `MPI_Finalize` too, and the model then
 *   trains alone). Every MPI call the
 *   library makes runs on the thread that called into it (training calls run
 *   the hooks on the thread that trains), so `MPI_THREAD_FUNNELED` suffices
 *   when that is the main thread, `MPI_THREAD_SERIALIZED` otherwise.
 * - Messages: ae_mpi_last_error() describes the last failure of an `ae_mpi_`
 *   call in the calling thread, including failures that came from the core.
 */
#ifndef AUTOENC_MPI_H
#define AUTOENC_MPI_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "autoenc.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @cond INTERNAL */
#if defined(_WIN32)
#  if defined(AE_MPI_BUILDING_LIBRARY)
#    define AE_MPI_API __declspec(dllexport)
#  else
#    define AE_MPI_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define AE_MPI_API __attribute__((visibility("default")))
#else
#  define AE_MPI_API
#endif
/** @endcond */

/**
 * @defgroup ae_mpi_models Giving every rank the same model
 * @brief The ranks' models must agree in every byte before they train together.
 *
 * Distributed training needs the same architecture, settings, weights,
 * optimizer state, generator state and scaling on every rank (see
 * @ref ae_distributed). Either make the model the same way on every rank
 * (same widths, settings and #AE_PARAM_SEED give the same bytes), or make it
 * on one rank and copy it to the others with ae_mpi_broadcast_model().
 * ae_mpi_attach() checks either way.
 * @{
 */
/**
 * Give every rank of @p comm the model of rank @p root: its architecture,
 * settings, weights, optimizer state, generator state, scaling and anomaly
 * threshold, exactly (the bytes of ae_model_save_to_memory() with
 * #AE_SAVE_OPTIMIZER_STATE, sent with `MPI_Bcast` and loaded on the others).
 * Collective.
 *
 * @param model on @p root, the address of the model to send (not NULL); it is
 *              only read. On the other ranks, the address of a model handle or
 *              of NULL: on success the handle is freed (ae_model_free()) and
 *              replaced by a new model equal to the root's, which the caller
 *              owns; on failure it is left as it was. The progress callback
 *              and hooks of a replaced model are not carried over (install the
 *              callback on rank 0, after this call). A model that an
 *              ::ae_mpi_context is attached to is refused there (#AE_ERR_STATE);
 *              never pass one another thread uses.
 * @param root  the rank whose model is sent, `0 .. size - 1` of @p comm.
 * @param comm  the communicator; every rank passes the same @p root (checked:
 *              #AE_ERR_INVALID_ARGUMENT on every rank otherwise).
 * @return #AE_OK; #AE_ERR_INVALID_ARGUMENT (NULL @p model, NULL `*model` on
 *         the root, @p root out of range, `MPI_COMM_NULL` or an intercommunicator);
 *         #AE_ERR_STATE (MPI
 *         not initialised or finalised); #AE_ERR_OUT_OF_MEMORY; a status of
 *         ae_model_save_to_memory() on the root or of
 *         ae_model_load_from_memory() on the others (#AE_ERR_BUSY included);
 *         #AE_ERR_STATE when `*model` on a rank other than the root is attached
 *         to an ::ae_mpi_context (every model left as it was);
 *         or #AE_ERR_PEER when another rank failed or MPI did.
 * Thread safety: as any call that changes the models involved.
 */
AE_MPI_API int ae_mpi_broadcast_model(ae_model **model, int root, MPI_Comm comm);
/** @} */

/**
 * @defgroup ae_mpi_attach Attaching a model to MPI
 * @brief Install the MPI engine on a model, so that its training calls are
 * collective over a communicator.
 *
 * While a model is attached, ae_model_fit(), ae_model_fit_validated(),
 * ae_model_fit_source(), ae_model_train_batch(), ae_model_gradient(),
 * ae_model_fit_scaling() and ae_model_pretrain() on it are collective over
 * the communicator: every rank makes the same call with its own rows, as
 * @ref ae_distributed in autoenc.h describes (the mean over every rank's rows,
 * uneven shards, agreed failures, one stream of randomness per rank, one
 * checkpoint for all). Inference and the other calls stay local.
 *
 * Attaching compares the models whole; a setting changed afterwards must be
 * changed alike on every rank: the core compares the settings at the start
 * of every training call, and a setting changed on some ranks only makes that
 * call fail with #AE_ERR_STATE on every rank, every model unchanged. Arguments
 * refused on one rank only are agreed on: that rank returns its status, the
 * others #AE_ERR_PEER.
 *
 * The progress callback runs on the ranks where it is installed: install it
 * on rank 0 only. Its decision to stop is combined, so every rank stops
 * after the same epoch with #AE_ERR_CANCELLED. Checkpoints are written by one
 * rank: rank 0's callback may call ae_model_save() (const and atomic) with
 * #AE_SAVE_OPTIMIZER_STATE; every rank can later load that file, attach and
 * go on exactly where the run stopped.
 * @{
 */
/** The MPI engine attached to one model: a duplicate of the caller's
 *  communicator, the gradient buckets in flight and the statistics. Opaque;
 *  made by ae_mpi_attach(), freed by ae_mpi_detach(). */
typedef struct ae_mpi_context ae_mpi_context;

/**
 * Check that every rank of @p comm holds the same model and make @p model's
 * training calls collective over @p comm. Collective.
 *
 * The check compares every rank with rank 0: first the architecture and each
 * setting (the message names the first that differs), then every byte of the
 * model as ae_model_save_to_memory() with #AE_SAVE_OPTIMIZER_STATE writes it
 * (weights, optimizer state, generator state, scaling, threshold; the message
 * names the part that differs). Then the hooks are installed
 * (ae_model_set_train_hooks()): the communicator is duplicated with
 * `MPI_Comm_dup` and given `MPI_ERRORS_RETURN`, so the library's messages
 * never mix with the caller's and MPI errors come back as statuses.
 *
 * With one rank the hooks do no MPI call at all and training is exactly that
 * of a model without hooks.
 *
 * @param model the model to attach; it stays the caller's. Detach it
 *              (ae_mpi_detach()) before freeing it.
 * @param comm  the communicator of the ranks that train together (it is
 *              duplicated, not kept).
 * @param out   receives the new context (NULL on failure); owned by the
 *              caller, freed by ae_mpi_detach().
 * @return #AE_OK; #AE_ERR_INVALID_ARGUMENT (NULL @p model or @p out,
 *         `MPI_COMM_NULL`, an intercommunicator: its collectives join two groups,
 *         which none of these calls means); #AE_ERR_STATE on the ranks whose model differs from
 *         rank 0's or is already attached (a model has one set of hooks: detach the
 *         other context first), or when MPI is not initialised; #AE_ERR_OUT_OF_MEMORY;
 *         #AE_ERR_BUSY when another thread uses @p model; or #AE_ERR_PEER when
 *         another rank failed (its ae_mpi_last_error() says why; the message
 *         here names it) or MPI did. On failure nothing is installed.
 * Thread safety: needs exclusive access to @p model.
 */
AE_MPI_API int ae_mpi_attach(ae_model *model, MPI_Comm comm, ae_mpi_context **out);

/**
 * Remove the hooks from the model of @p context and free the context and its
 * duplicate communicator. Collective (the communicator is freed with
 * `MPI_Comm_free`); call it before ae_model_free() of the model and before
 * `MPI_Finalize`. The model keeps its weights and trains alone afterwards.
 *
 * @param context the context, or NULL (a no-op returning #AE_OK).
 * @return #AE_OK, or #AE_ERR_BUSY when another thread uses the model (nothing
 *         was done: retry when that call returns).
 */
AE_MPI_API int ae_mpi_detach(ae_mpi_context *context);

/**
 * @return the model @p context is attached to (NULL for NULL). The context
 *         does not own it. Thread-safe.
 */
AE_MPI_API ae_model *ae_mpi_context_model(const ae_mpi_context *context);

/** @return this process's rank in the context's communicator (-1 for NULL). Thread-safe. */
AE_MPI_API int ae_mpi_context_rank(const ae_mpi_context *context);

/** @return the number of ranks in the context's communicator (0 for NULL). Thread-safe. */
AE_MPI_API int ae_mpi_context_size(const ae_mpi_context *context);

/** Settings of a context. Values pinned forever. Defaults in brackets. */
typedef enum ae_mpi_param {
    AE_MPI_PARAM_BUCKET_BYTES = 1, /**< gradient spans are summed in buckets of at least this many
                                        bytes: the spans the backward pass hands over (each layer's
                                        weights, then its bias, last layer first) gather into
                                        buckets of neighbouring memory, and a bucket's
                                        `MPI_Iallreduce` starts as soon as it holds this many bytes
                                        (the rest at the end of the backward pass). Larger buckets
                                        mean fewer, more efficient reductions that start later.
                                        0 = every span on its own, [0, 2^40] [262144] */
    AE_MPI_PARAM_OVERLAP = 2       /**< 1: start each bucket while the backward pass goes on, and
                                        keep MPI progressing between layers; 0: sum the whole
                                        gradient with one `MPI_Allreduce` after the backward pass
                                        (no overlap; for comparison), 0 or 1 [1] */
} ae_mpi_param;

/**
 * Change a setting of @p context. Collective: every rank must pass the same
 * @p param and value (checked; the ranks would otherwise start different
 * reductions).
 * Results do not depend on the settings beyond the order of float sums.
 * @return #AE_OK; #AE_ERR_INVALID_ARGUMENT (NULL, unknown @p param, a value out
 *         of range or not integral, or a setting or value that differs between
 *         ranks: every rank keeps its old values); #AE_ERR_STATE (MPI finalised); or
 *         #AE_ERR_PEER (MPI failed).
 * Thread safety: not while a training call runs on the context's model.
 */
AE_MPI_API int ae_mpi_set_param(ae_mpi_context *context, ae_mpi_param param, double value);

/** Read a setting of @p context into @p value.
 *  @return #AE_OK or #AE_ERR_INVALID_ARGUMENT (NULL, unknown @p param). */
AE_MPI_API int ae_mpi_get_param(const ae_mpi_context *context, ae_mpi_param param, double *value);

/**
 * What the engine of a context did since it was attached (or since
 * ae_mpi_reset_stats()), on this rank. Set `size` to `sizeof(ae_mpi_stats)`
 * before ae_mpi_get_stats(): the library fills only the fields that fit, so
 * the struct can grow at its end. Times are wall-clock seconds inside the
 * hooks: the share of a step spent waiting for the gradient sums is
 * `gradient_wait_seconds` over the steps' time.
 */
typedef struct ae_mpi_stats {
    size_t size;                  /**< set by the caller: sizeof(ae_mpi_stats) */
    uint64_t steps;               /**< gradients summed (training steps and ae_model_gradient() calls) */
    uint64_t buckets;             /**< gradient reductions started (`MPI_Iallreduce` or `MPI_Allreduce`) */
    uint64_t gradient_bytes;      /**< bytes of this rank's gradient summed */
    uint64_t reduces;             /**< figures and decisions combined (`MPI_Allreduce` of doubles) */
    double gradient_ready_seconds; /**< time starting reductions and driving MPI during the backward pass */
    double gradient_wait_seconds; /**< time waiting, after the backward pass, for the gradient sums */
    double reduce_seconds;        /**< time combining figures and decisions; it includes waiting for
                                       the slowest rank, whose step starts with one */
} ae_mpi_stats;

/**
 * Copy the statistics of @p context into @p stats, whose `size` the caller set.
 * @return #AE_OK or #AE_ERR_INVALID_ARGUMENT (NULL, `size` not set).
 * Thread safety: from the thread that trains (its progress callback
 * included), or while no training call runs on the model.
 */
AE_MPI_API int ae_mpi_get_stats(const ae_mpi_context *context, ae_mpi_stats *stats);

/** Set every statistic of @p context to zero. @return #AE_OK or
 *  #AE_ERR_INVALID_ARGUMENT. Thread safety: as ae_mpi_get_stats(). */
AE_MPI_API int ae_mpi_reset_stats(ae_mpi_context *context);
/** @} */

/**
 * @defgroup ae_mpi_convenience Whole runs and shards
 * @brief One call for a whole distributed fit, and the rows each rank takes.
 * @{
 */
/**
 * Train @p model on every rank's rows: ae_mpi_attach(), then
 * ae_model_fit_validated() with these arguments, then ae_mpi_detach().
 * Collective.
 *
 * Each rank passes its own training rows (at least one: see
 * ae_mpi_shard_range()) and, optionally, its own validation rows (a rank may
 * have none: @p x_val NULL and @p n_val_rows 0); without any validation rows
 * on any rank, #AE_PARAM_VALIDATION_FRACTION holds out that share of each
 * rank's rows. Rows are shuffled within each rank, every epoch. The models
 * must already be the same on every rank (ae_mpi_broadcast_model()).
 *
 * @param model      the model to train (the caller's; it ends detached).
 * @param x          this rank's training rows, `n_rows x input_dim`, leading
 *                   dimension @p ld_x.
 * @param n_rows     this rank's training rows, at least 1.
 * @param ld_x       leading dimension of @p x.
 * @param x_val      this rank's validation rows, or NULL.
 * @param n_val_rows rows of @p x_val (0 with NULL).
 * @param ld_val     leading dimension of @p x_val.
 * @param report     NULL, or a report whose `size` is set: filled as
 *                   ae_model_fit() fills it, with the combined figures (the
 *                   same on every rank but `seconds` and `samples_per_second`,
 *                   which count every rank's rows over this rank's time).
 * @param comm       the ranks that train together.
 * @return a status of ae_mpi_attach() (nothing trained), or of
 *         ae_model_fit_validated() (#AE_ERR_PEER when another rank failed);
 *         ae_mpi_last_error() says why: with #AE_ERR_PEER, it names the first
 *         rank that failed and gives that rank's message.
 */
AE_MPI_API int ae_mpi_fit(ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                          const float *x_val, size_t n_val_rows, size_t ld_val,
                          ae_fit_report *report, MPI_Comm comm);

/**
 * The rows rank @p rank of @p n_ranks takes out of @p n_rows: a contiguous
 * block `[*first, *first + *count)`; blocks are in rank order, cover every row
 * once, and differ in size by at most one row (the first `n_rows % n_ranks`
 * ranks take one more). Training on these blocks, with shuffling off and a
 * per-rank batch of `B` rows, takes the same steps as one process on batches
 * of `n_ranks * B` rows made of each rank's next `B` rows in rank order.
 * With fewer rows than ranks some ranks get none; training needs at least one
 * row on every rank.
 *
 * @param n_rows  the rows to share out.
 * @param rank    `0 .. n_ranks - 1`.
 * @param n_ranks at least 1.
 * @param first   receives the first row of the block (not NULL).
 * @param count   receives the number of rows (not NULL).
 * @return #AE_OK or #AE_ERR_INVALID_ARGUMENT. Needs no MPI. Thread-safe.
 */
AE_MPI_API int ae_mpi_shard_range(size_t n_rows, int rank, int n_ranks, size_t *first,
                                  size_t *count);
/** @} */

/**
 * @defgroup ae_mpi_errors Messages
 * @brief What went wrong, in words.
 * @{
 */
/**
 * @return the message of the last failed `ae_mpi_` call in the calling thread
 *         ("" if none; never NULL): the library's own, or the core's message
 *         (ae_last_error()) when the failure came from the core. After a
 *         training call on an attached model failed with #AE_ERR_PEER because
 *         MPI failed, it also holds MPI's description of the failure. Owned by
 *         the library; valid until the next failing call in this thread.
 */
AE_MPI_API const char *ae_mpi_last_error(void);
/** @} */

#ifdef __cplusplus
}
#endif

#endif /* AUTOENC_MPI_H */
