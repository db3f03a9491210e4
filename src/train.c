/* Training: single steps, gradients, and fit (batches, shuffling, validation, early
 * stopping, progress, cancellation, divergence rollback). */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The model's settings allow training (shared by every training call). */
static int check_training_config(ae_model *m)
{
    AE_FORWARD(ae_check_decoder(m, m, "be trained"));
    return ae_check_settings(m, m);
}

/* Everything a training call checks about its data before it touches the model. */
static int check_training_input(ae_model *m, const char *name, const float *x, size_t n_rows,
                                size_t ld_x)
{
    AE_FORWARD(ae_check_matrix(m, name, x, n_rows, ae_input_dim(m), ld_x));
    return ae_check_data(m, m, name, x, n_rows, ae_input_dim(m), ld_x, true);
}

/* Make room for a batch of n_rows rows. */
static int prepare_batch(ae_model *m, size_t n_rows)
{
    AE_CHECK(n_rows <= INT_MAX, m, AE_ERR_INVALID_ARGUMENT,
             "a batch of %zu rows is larger than BLAS can take (%d)", n_rows, INT_MAX);
    AE_FORWARD(ae_model_ensure_pool(m)); /* first: the workspace's spare rows depend on it */
    return ae_workspace_reserve(m, n_rows);
}

/* Objective and gradient of one batch of scaled rows into model->grads; no allocation once
 * the workspace fits. A training step corrupts and drops out; a bare gradient does not. A
 * participant of a distributed step may bring no rows. */
static int batch_gradient(ae_model *m, const float *x, size_t n_rows, size_t ld_x, bool step,
                          double *objective)
{
    const ae_settings *s = &m->settings;
    const float *input = x;
    size_t ld_input = ld_x, d = ae_input_dim(m);
    if (step && n_rows && s->noise != AE_NOISE_NONE) {
        /* Denoising: learn to map a corrupted batch back to the clean one. */
        ae_corrupt(x, ld_x, n_rows, d, m->work.corrupted, s, ae_training_rng(m));
        input = m->work.corrupted;
        ld_input = d;
    }
    if (step && n_rows && s->dropout_input > 0.0f) {
        ae_dropout(input, ld_input, n_rows, d, s->dropout_input, ae_rng_next(ae_training_rng(m)),
                   0, m->work.corrupted, NULL);
        input = m->work.corrupted;
        ld_input = d;
    }
    return ae_backprop(m, input, ld_input, x, ld_x, n_rows, step, objective);
}

/* A training step from a batch of scaled rows: gradient, then the optimizer. */
static int train_step(ae_model *m, const float *x, size_t n_rows, size_t ld_x, double *loss)
{
    AE_FORWARD(batch_gradient(m, x, n_rows, ld_x, true, loss));
    AE_CHECK(isfinite(*loss), m, AE_ERR_DIVERGED,
             "the loss is not finite; the step was skipped and the weights are unchanged");
    return ae_optimizer_step(m);
}

/* Checks and scaling shared by ae_model_train_batch and ae_model_gradient: *rows receives
 * the batch as the network sees it. Agreed on by every participant of a distributed call,
 * with `status`, what the caller's own checks found. A step (`change` given) also makes the
 * optimizer state ready, saying what it changed. */
static int single_batch(ae_model *m, int status, const float *x, size_t n_rows, size_t ld_x,
                        ae_optimizer_change *change, const float **rows, size_t *ld_rows)
{
    if (status == AE_OK)
        status = check_training_config(m);
    if (status == AE_OK)
        status = ae_check_scaling_fitted(m, m);
    if (status == AE_OK)
        status = check_training_input(m, "x", x, n_rows, ld_x);
    if (status == AE_OK)
        status = prepare_batch(m, n_rows);
    /* Everything the step allocates comes before it draws noise, masks or codes from the
     * generator, so a step refused for memory leaves the model exactly as it was. */
    if (status == AE_OK && change)
        status = ae_optimizer_state_ensure(m, change);
    AE_FORWARD(ae_hooks_agree(m, status));
    *rows = x;
    *ld_rows = ld_x;
    if (m->scaling) {
        ae_scaling_apply(m, x, ld_x, n_rows, m->work.batch, ae_input_dim(m));
        *rows = m->work.batch;
        *ld_rows = ae_input_dim(m);
    }
    return AE_OK;
}

static int train_batch(ae_model *m, const float *x, size_t n_rows, size_t ld_x, double *loss)
{
    /* A step that fails leaves the optimizer state as it found it, as it does the weights. */
    ae_optimizer_change change = {.allocated = false};
    const float *rows;
    size_t ld;
    int status = single_batch(m, AE_OK, x, n_rows, ld_x, &change, &rows, &ld);
    if (status == AE_OK) {
        double batch_loss = NAN;
        ae_hooks_begin_stream(m);
        status = train_step(m, rows, n_rows, ld, &batch_loss);
        ae_hooks_end_stream(m);
        if (loss)
            *loss = batch_loss;
    }
    ae_optimizer_state_settle(m, &change, status == AE_OK);
    return status;
}

int ae_model_train_batch(ae_model *m, const float *x, size_t n_rows, size_t ld_x, double *loss)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, train_batch(m, x, n_rows, ld_x, loss));
}

/* The refusal of a gradient that overflowed, naming the first row whose loss does. */
static int gradient_overflow(const ae_model *m, const float *x, size_t n_rows, size_t ld_x)
{
    size_t row = SIZE_MAX;
    float *scores = ae_alloc_floats(n_rows);
    if (scores && ae_eval_scores(m, x, n_rows, ld_x, scores, &row) != AE_OK)
        row = SIZE_MAX;
    ae_free(scores);
    if (row != SIZE_MAX)
        return ae_fail(NULL, AE_ERR_NON_FINITE_RESULT,
                       "row %zu is too large for the model's float arithmetic: its loss, and so "
                       "the batch's loss and gradient, would not be finite; none is given",
                       row);
    return ae_fail(NULL, AE_ERR_NON_FINITE_RESULT,
                   "the batch's loss or gradient would not be finite (the float arithmetic "
                   "overflowed); none is given");
}

/* The gradient buffer: given, of the model's size, apart from x. */
static int check_gradient_buffer(const ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                                 const float *out, size_t n_gradient)
{
    AE_CHECK(out != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "gradient is NULL");
    AE_CHECK(n_gradient == m->n_params, NULL, AE_ERR_INVALID_ARGUMENT,
             "gradient holds %zu floats; the model has %zu parameters", n_gradient, m->n_params);
    AE_FORWARD(ae_check_matrix(NULL, "x", x, n_rows, ae_input_dim(m), ld_x));
    return ae_check_apart(NULL, ae_float_span("gradient", out, 1, n_gradient, n_gradient),
                          ae_float_span("x", x, n_rows, ae_input_dim(m), ld_x));
}

static int gradient(ae_model *m, const float *x, size_t n_rows, size_t ld_x, float *out,
                    size_t n_gradient, double *loss)
{
    /* Agreed on with the batch's checks: a participant refused here fails every one. */
    const int buffer = check_gradient_buffer(m, x, n_rows, ld_x, out, n_gradient);
    const float *rows;
    size_t ld;
    AE_FORWARD(single_batch(m, buffer, x, n_rows, ld_x, NULL, &rows, &ld));
    double batch_loss = NAN;
    AE_FORWARD(batch_gradient(m, rows, n_rows, ld, false, &batch_loss));
    if (!isfinite(batch_loss) || !ae_all_finite(m->grads, m->n_params))
        return gradient_overflow(m, x, n_rows, ld_x);
    memcpy(out, m->grads, m->n_params * sizeof(float));
    if (loss)
        *loss = batch_loss;
    return AE_OK;
}

int ae_model_gradient(ae_model *m, const float *x, size_t n_rows, size_t ld_x, float *out,
                      size_t n_gradient, double *loss)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, gradient(m, x, n_rows, ld_x, out, n_gradient, loss));
}

/* ---- fit ------------------------------------------------------------------------ */

/* The rows a fit trains and validates on, and the buffers it needs, all allocated
 * before the model is touched. With hooks, the counts that decide what every participant
 * does are the combined ones (the global_ fields). */
typedef struct fit_run {
    const float *x;
    size_t ld_x, n_train, n_val;
    size_t batch;         /* rows per step: the batch size, at most n_train */
    uint64_t batches;     /* steps per epoch: every participant's most */
    double global_train, global_val; /* training and validation rows of every participant */
    size_t *order;        /* row indices: [0, n_train) train, then n_val validation rows */
    bool contiguous;      /* order is the identity: batches are slices of x, no gather */
    const float *x_val;   /* explicit validation set, or NULL */
    size_t ld_val;
    ae_stream *stream;    /* rows from data sources instead of arrays (source.c), or NULL */
    float *epoch_start;   /* weights at the start of the epoch, for divergence rollback */
    float *best;          /* weights of the best epoch, when restore_best */
    double started;
    double samples;       /* training rows processed (every participant's), for the throughput */
    double epoch_kl, epoch_recon; /* variational: KL and reconstruction sums over the epoch's rows */
    /* Divergence with finite losses: an epoch whose training loss is more than
     * AE_PARAM_DIVERGENCE_FACTOR times the loss the fit started from has diverged. That loss
     * is measured at the starting weights, before the first step, over the first
     * AE_REFERENCE_ROWS training rows of epoch 1 (an explosion in the first steps would
     * otherwise raise its own yardstick); from a data source, whose rows cannot be read
     * twice, it is the mean of the first tenth of epoch 1's steps. Not the lowest loss
     * since: near a perfect fit the loss sits at rounding level, where ratios between
     * epochs mean nothing; for the same reason a starting loss at rounding level is no
     * reference either (settle_reference). */
    double reference_loss;        /* NaN until measured, and when there is none */
    uint64_t reference_batches;   /* data sources: the steps that make the reference */
    double reference_sum, reference_rows, reference_squares;
    ae_fit_report report;
} fit_run;

static void fit_run_release(fit_run *run)
{
    ae_stream_close(run->stream);
    ae_free(run->order);
    ae_free(run->epoch_start);
    ae_free(run->best);
}

static int by_index(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static void shuffle_indices(ae_rng *rng, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ae_rng_below(rng, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* Copy the rows named by idx into the packed batch buffer, scaled if the model scales. */
static void gather_rows(const ae_model *m, const fit_run *run, const size_t *idx, size_t n_rows)
{
    size_t d = ae_input_dim(m);
    for (size_t i = 0; i < n_rows; i++)
        ae_scaling_apply(m, run->x + idx[i] * run->ld_x, run->ld_x, 1, m->work.batch + i * d, d);
}

/* Point at n_rows training rows starting at position `start` of the order. */
static const float *batch_rows(const ae_model *m, const fit_run *run, size_t start, size_t n_rows,
                               size_t *ld)
{
    if (run->contiguous) {
        *ld = run->ld_x;
        return run->x + start * run->ld_x;
    }
    gather_rows(m, run, run->order + start, n_rows);
    *ld = ae_input_dim(m);
    return m->work.batch;
}

/* The loss sum of an in-memory fit's validation rows, a batch of rows at a time. */
static double memory_validation_sum(ae_model *m, const fit_run *run)
{
    const size_t chunk = run->batch, d = ae_input_dim(m);
    double sum = 0.0;
    for (size_t start = 0; start < run->n_val; start += chunk) {
        size_t n = run->n_val - start < chunk ? run->n_val - start : chunk;
        const float *rows = m->work.batch;
        size_t ld = d;
        if (!run->x_val)
            gather_rows(m, run, run->order + run->n_train + start, n);
        else if (m->scaling)
            ae_scaling_apply(m, run->x_val + start * run->ld_val, run->ld_val, n, m->work.batch, d);
        else {
            rows = run->x_val + start * run->ld_val;
            ld = run->ld_val;
        }
        sum += ae_net_forward_loss(m, rows, ld, rows, ld, n, NULL, false);
    }
    return sum;
}

/* Mean validation loss through the training workspace (no allocation), over every
 * participant's validation rows. */
static int validation_loss(ae_model *m, const fit_run *run, double *loss)
{
    double sum = 0.0;
    ae_net_begin_loss_run(m, run->batch);
    if (run->stream) {
        const int read = ae_stream_validation_sum(m, run->stream, m->work.batch, run->batch, &sum);
        ae_net_end_loss_run(m);
        AE_FORWARD(ae_hooks_agree(m, read));
    } else {
        sum = memory_validation_sum(m, run);
        ae_net_end_loss_run(m);
    }
    AE_FORWARD(ae_hooks_reduce(m, &sum, 1, AE_REDUCE_SUM));
    *loss = sum / (run->global_val * (double)ae_input_dim(m));
    return AE_OK;
}

/* The counts every participant must agree on: rows, and steps per epoch. */
static int combine_counts(ae_model *m, fit_run *run)
{
    double rows[2] = {(double)run->n_train, (double)run->n_val};
    AE_FORWARD(ae_hooks_reduce_counts(m, rows, 2, AE_REDUCE_SUM));
    run->global_train = rows[0];
    run->global_val = rows[1];
    double batches = (double)((run->n_train + run->batch - 1) / run->batch);
    AE_FORWARD(ae_hooks_reduce_counts(m, &batches, 1, AE_REDUCE_MAX));
    run->batches = (uint64_t)batches;
    run->reference_batches = run->batches < 10 ? 1 : (run->batches + 9) / 10;
    return AE_OK;
}

static int prepare_fit(ae_model *m, fit_run *run, const float *x, size_t n_rows, size_t ld_x,
                       const float *x_val, size_t n_val_rows, size_t ld_val)
{
    const ae_settings *s = &m->settings;
    run->x = x;
    run->ld_x = ld_x;
    run->x_val = x_val;
    run->ld_val = ld_val;
    size_t n_held_out = 0;
    if (x_val) {
        run->n_val = n_val_rows;
    } else if (s->validation_fraction > 0.0) {
        n_held_out = (size_t)llround(s->validation_fraction * (double)n_rows);
        if (n_held_out == 0)
            n_held_out = 1;
        AE_CHECK(n_held_out < n_rows, m, AE_ERR_INVALID_ARGUMENT,
                 "%zu rows are too few to hold out a validation fraction of %g", n_rows,
                 s->validation_fraction);
        run->n_val = n_held_out;
    }
    run->n_train = n_rows - n_held_out;
    run->contiguous = !s->shuffle && n_held_out == 0 && !m->scaling;

    run->batch = s->batch_size < run->n_train ? (size_t)s->batch_size : run->n_train;
    run->reference_loss = NAN;
    AE_FORWARD(prepare_batch(m, run->batch));
    /* The best epoch is chosen on validation loss only: the training loss of an epoch is
     * measured while the weights move, and would favour noise. */
    const bool keep_best = s->restore_best && (x_val || n_held_out || m->has_hooks);
    run->epoch_start = ae_alloc_floats(m->n_params);
    run->best = keep_best ? ae_alloc_floats(m->n_params) : NULL;
    run->order = run->contiguous ? NULL : ae_calloc(n_rows, sizeof(size_t));
    AE_CHECK(run->epoch_start && (run->best || !keep_best) && (run->order || run->contiguous),
             m, AE_ERR_OUT_OF_MEMORY, "out of memory preparing to train on %zu rows", n_rows);
    AE_FORWARD(ae_optimizer_state_ensure(m, NULL));

    if (run->order) {
        for (size_t i = 0; i < n_rows; i++)
            run->order[i] = i;
        if (n_held_out) {
            /* A random validation split; each part then back in data order, so that
             * without shuffling the training rows are visited as they lie. */
            ae_hooks_begin_stream(m);
            shuffle_indices(ae_training_rng(m), run->order, n_rows);
            ae_hooks_end_stream(m);
            qsort(run->order, run->n_train, sizeof *run->order, by_index);
            qsort(run->order + run->n_train, n_held_out, sizeof *run->order, by_index);
        }
    }
    return AE_OK;
}

/* The buffers a fit from data sources needs, with run->n_train and run->n_val counted by
 * the scan before. */
static int prepare_stream_fit(ae_model *m, fit_run *run)
{
    const ae_settings *s = &m->settings;
    run->batch = s->batch_size < run->n_train ? (size_t)s->batch_size : run->n_train;
    run->reference_loss = NAN;
    AE_FORWARD(prepare_batch(m, run->batch));
    const bool keep_best = s->restore_best;
    run->epoch_start = ae_alloc_floats(m->n_params);
    run->best = keep_best ? ae_alloc_floats(m->n_params) : NULL;
    AE_CHECK(run->epoch_start && (run->best || !keep_best), m, AE_ERR_OUT_OF_MEMORY,
             "out of memory preparing to train");
    return ae_optimizer_state_ensure(m, NULL);
}

/* The rows of step b of this epoch: from the arrays, or the next rows of the data source
 * (agreed on by every participant, since a source may fail here). */
static int epoch_batch(ae_model *m, fit_run *run, uint64_t b, const float **rows, size_t *n,
                       size_t *ld)
{
    const size_t batch = run->batch;
    *ld = ae_input_dim(m);
    *rows = m->work.batch;
    if (run->stream)
        return ae_hooks_agree(m, ae_stream_next_batch(m, run->stream, batch, m->work.batch, n));
    /* A participant whose rows ran out takes part with an empty batch. */
    size_t start = (size_t)b * batch;
    *n = start >= run->n_train ? 0 : run->n_train - start < batch ? run->n_train - start : batch;
    if (*n)
        *rows = batch_rows(m, run, start, *n, ld);
    return AE_OK;
}

/* Tell the progress callback, if any; with hooks every participant learns whether any
 * callback asked to stop. AE_OK to go on, AE_ERR_CANCELLED to stop, or an engine failure. */
static int notify(ae_model *m, fit_run *run, uint64_t epoch, uint64_t batch, bool epoch_end,
                  double train_loss, double val_loss)
{
    int stop = 0;
    if (m->progress) {
        ae_progress p = {sizeof p, epoch, m->settings.epochs, batch, run->batches, epoch_end,
                         train_loss, val_loss, now_seconds() - run->started};
        stop = m->progress(&p, m->progress_user) != 0;
    }
    double any = stop;
    AE_FORWARD(ae_hooks_reduce(m, &any, 1, AE_REDUCE_MAX));
    return any != 0.0 ? AE_ERR_CANCELLED : AE_OK;
}

/* Roll back the epoch that diverged; `why` says how it did. */
static int diverged(ae_model *m, fit_run *run, uint64_t epoch, const char *why)
{
    memcpy(m->params, run->epoch_start, m->n_params * sizeof(float));
    ae_optimizer_state_release(&m->optim);
    run->report.stop_reason = AE_STOP_DIVERGED;
    return ae_fail(m, AE_ERR_DIVERGED,
                   "training diverged in epoch %llu (%s); the weights from the start of that "
                   "epoch were restored",
                   (unsigned long long)epoch, why);
}

/* Training rows whose loss at the starting weights is the divergence reference. */
#define AE_REFERENCE_ROWS 1024

/* A starting loss below this share of the rows' mean square is a fit already at rounding
 * level, against which no ratio means anything: the factor then waits for a later fit. */
#define AE_REFERENCE_FLOOR 1e-6

/* The reference from a mean loss per value, over rows whose values' mean square is
 * `mean_square` (every participant's), unless that loss is at rounding level (0 included). */
static void settle_reference(fit_run *run, double loss, double mean_square)
{
    if (loss > 0.0 && loss >= AE_REFERENCE_FLOOR * mean_square)
        run->reference_loss = loss;
}

/* Sum of squares of n rows (leading dimension ld) of the model's input width. */
static double rows_squares(const ae_model *m, const float *rows, size_t n, size_t ld)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i++)
        total += ae_sum_squares(rows + i * ld, ae_input_dim(m));
    return total;
}

/* The divergence reference of an in-memory fit (see fit_run): the mean loss, with the
 * variational KL term, of the first AE_REFERENCE_ROWS rows of epoch 1's order at the
 * starting weights, over every participant's rows. No generator draw, no weight change. */
static int measure_reference(ae_model *m, fit_run *run)
{
    const size_t n_ref = run->n_train < AE_REFERENCE_ROWS ? run->n_train : AE_REFERENCE_ROWS;
    const double kl_weight = m->settings.kl_weight * m->kl_ramp;
    double sums[3] = {0.0, 0.0, (double)n_ref}; /* loss and KL terms, squares of the rows, rows */
    ae_net_begin_loss_run(m, run->batch);
    for (size_t start = 0; start < n_ref; start += run->batch) {
        const size_t n = n_ref - start < run->batch ? n_ref - start : run->batch;
        size_t ld;
        const float *rows = batch_rows(m, run, start, n, &ld);
        sums[0] += ae_net_forward_loss(m, rows, ld, rows, ld, n, NULL, false);
        sums[0] += kl_weight * m->work.kl_sum;
        sums[1] += rows_squares(m, rows, n, ld);
    }
    ae_net_end_loss_run(m);
    AE_FORWARD(ae_hooks_reduce(m, sums, 3, AE_REDUCE_SUM));
    const double elements = sums[2] * (double)ae_input_dim(m);
    if (elements > 0.0)
        settle_reference(run, sums[0] / elements, sums[1] / elements);
    return AE_OK;
}

/* Whether an epoch's finite training loss exploded against the reference (see fit_run). */
static bool loss_exploded(const ae_model *m, const fit_run *run, double epoch_loss)
{
    const double factor = m->settings.divergence_factor;
    return factor > 0.0 && isfinite(run->reference_loss) && epoch_loss > factor * run->reference_loss;
}

/* One pass over the training rows. Returns AE_OK, AE_ERR_CANCELLED, AE_ERR_DIVERGED or an
 * engine failure (the weights as after the last completed step). */
static int run_epoch(ae_model *m, fit_run *run, uint64_t epoch, double *epoch_loss)
{
    if (run->stream)
        AE_FORWARD(ae_hooks_agree(m, ae_stream_begin_epoch(m, run->stream)));
    else if (m->settings.shuffle && run->order) {
        /* Each epoch's order is drawn afresh from the training rows in data order, never from
         * the previous epoch's: the order then depends only on the generator's state, which
         * the model file keeps, so a fit resumed from a checkpoint visits the rows the
         * uninterrupted fit would have. */
        if (run->n_val && !run->x_val) /* held-out rows: the training part is a subset */
            qsort(run->order, run->n_train, sizeof *run->order, by_index);
        else
            for (size_t i = 0; i < run->n_train; i++)
                run->order[i] = i;
        shuffle_indices(ae_training_rng(m), run->order, run->n_train);
    }
    double loss_sum = 0.0, rows_sum = 0.0;
    run->epoch_kl = run->epoch_recon = 0.0;
    const uint64_t warmup = m->settings.kl_warmup_epochs;
    m->kl_ramp = warmup && epoch < warmup ? (double)epoch / (double)warmup : 1.0;
    /* The divergence reference, when the factor asks for one (settings agree everywhere). */
    const bool reference = epoch == 1 && m->settings.divergence_factor > 0.0;
    if (reference && !run->stream)
        AE_FORWARD(measure_reference(m, run));
    for (uint64_t b = 0; b < run->batches; b++) {
        const float *rows;
        size_t n, ld;
        AE_FORWARD(epoch_batch(m, run, b, &rows, &n, &ld));
        double loss = NAN;
        int status = train_step(m, rows, n, ld, &loss);
        if (status == AE_ERR_DIVERGED)
            return diverged(m, run, epoch, "non-finite loss or gradient");
        AE_FORWARD(status);
        /* The step's loss is the mean over every participant's rows of this step. */
        const double step_rows = m->work.mean_rows;
        run->report.steps_run++;
        run->samples += step_rows;
        loss_sum += loss * step_rows;
        rows_sum += step_rows;
        if (reference && run->stream && b < run->reference_batches) {
            run->reference_sum += loss * step_rows;
            run->reference_rows += step_rows;
            run->reference_squares += rows_squares(m, rows, n, ld);
            if (b + 1 == run->reference_batches) {
                AE_FORWARD(ae_hooks_reduce(m, &run->reference_squares, 1, AE_REDUCE_SUM));
                /* reference_sum adds the steps' mean losses per value, weighted by rows. */
                settle_reference(run, run->reference_sum / run->reference_rows,
                                 run->reference_squares / (run->reference_rows * (double)ae_input_dim(m)));
            }
        }
        run->epoch_kl += m->work.kl_sum;
        run->epoch_recon += m->work.recon_sum;
        if (m->settings.progress_every_batch && b + 1 < run->batches)
            AE_FORWARD(notify(m, run, epoch, b + 1, false, loss, NAN));
    }
    if (run->stream)
        AE_FORWARD(ae_hooks_agree(m, ae_stream_end_epoch(m, run->stream)));
    *epoch_loss = loss_sum / rows_sum;
    return AE_OK;
}

/* The first of this participant's validation rows whose loss overflows at the current
 * weights, as its index in the array it came from (x_val, or x for held-out rows), or
 * SIZE_MAX (none, or rows from a data source, which cannot be read again). */
static size_t overflowing_validation_row(const ae_model *m, const fit_run *run)
{
    for (size_t i = 0; !run->stream && i < run->n_val; i++) {
        const size_t index = run->x_val ? i : run->order[run->n_train + i];
        const float *row = run->x_val ? run->x_val + index * run->ld_val : run->x + index * run->ld_x;
        float score;
        size_t overflow = SIZE_MAX;
        if (ae_eval_scores(m, row, 1, run->x_val ? run->ld_val : run->ld_x, &score, &overflow) == AE_OK &&
            overflow != SIZE_MAX)
            return index;
    }
    return SIZE_MAX;
}

/* A validation loss that overflows while the training loss is finite: the validation rows
 * are too large for the weights of this epoch, which the model keeps (they trained well). */
static int validation_overflowed(ae_model *m, fit_run *run, uint64_t epoch, double train_loss)
{
    ae_fit_report *r = &run->report;
    r->epochs_run = epoch;
    r->final_train_loss = train_loss;
    const size_t row = overflowing_validation_row(m, run);
    if (row != SIZE_MAX)
        return ae_fail(m, AE_ERR_NON_FINITE_RESULT,
                       "%s %zu is too large for the model's float arithmetic after epoch %llu: "
                       "its loss, and so the validation loss, is not finite; the fit stopped "
                       "there and kept that epoch's weights",
                       run->x_val ? "validation row" : "row (held out for validation)", row,
                       (unsigned long long)epoch);
    return ae_fail(m, AE_ERR_NON_FINITE_RESULT,
                   "a validation row is too large for the model's float arithmetic after epoch "
                   "%llu (%s): the validation loss is not finite; the fit stopped there and kept "
                   "that epoch's weights",
                   (unsigned long long)epoch,
                   run->stream ? "rows of a data source cannot be read again to name it"
                               : "it is another participant's");
}

static int cancelled(ae_model *m, fit_run *run, uint64_t epoch, const char *when)
{
    run->report.stop_reason = AE_STOP_CANCELLED;
    return ae_fail(m, AE_ERR_CANCELLED, "training cancelled by the progress callback %s epoch %llu",
                   when, (unsigned long long)epoch);
}

static int fit_epochs(ae_model *m, fit_run *run)
{
    const ae_settings *s = &m->settings;
    ae_fit_report *r = &run->report;
    uint64_t epochs_without_improvement = 0;
    for (uint64_t epoch = 1; epoch <= s->epochs; epoch++) {
        memcpy(run->epoch_start, m->params, m->n_params * sizeof(float));
        double train_loss = NAN;
        ae_hooks_begin_stream(m);
        int status = run_epoch(m, run, epoch, &train_loss);
        ae_hooks_end_stream(m);
        if (status == AE_ERR_CANCELLED)
            return cancelled(m, run, epoch, "in");
        if (status != AE_OK)
            return status;
        double val_loss = NAN;
        if (run->global_val > 0.0)
            AE_FORWARD(validation_loss(m, run, &val_loss));
        double monitored = run->global_val > 0.0 ? val_loss : train_loss;
        if (!isfinite(monitored) && isfinite(train_loss))
            return validation_overflowed(m, run, epoch, train_loss);
        if (!isfinite(monitored))
            return diverged(m, run, epoch, "non-finite loss");
        if (loss_exploded(m, run, train_loss)) {
            char why[160];
            snprintf(why, sizeof why,
                     "its training loss %g is more than divergence_factor = %g times %g, the "
                     "loss this fit started from",
                     train_loss, s->divergence_factor, run->reference_loss);
            return diverged(m, run, epoch, why);
        }
        r->epochs_run = epoch;
        r->final_train_loss = train_loss;
        r->final_val_loss = val_loss;
        if (ae_is_variational(m)) {
            r->final_kl = run->epoch_kl / run->global_train;
            r->final_elbo = -(run->epoch_recon + run->epoch_kl) / run->global_train;
        }
        if (r->best_epoch == 0 || monitored < r->best_loss - s->min_delta) {
            r->best_loss = monitored;
            r->best_epoch = epoch;
            epochs_without_improvement = 0;
            if (run->best)
                memcpy(run->best, m->params, m->n_params * sizeof(float));
        } else {
            epochs_without_improvement++;
        }
        status = notify(m, run, epoch, run->batches, true, train_loss, val_loss);
        if (status == AE_ERR_CANCELLED)
            return cancelled(m, run, epoch, "after");
        AE_FORWARD(status);
        if (s->patience && epochs_without_improvement >= s->patience) {
            r->stop_reason = AE_STOP_EARLY;
            return AE_OK;
        }
    }
    r->stop_reason = AE_STOP_COMPLETED;
    return AE_OK;
}

static int check_report(ae_model *m, const ae_fit_report *report)
{
    AE_CHECK(!report || report->size >= sizeof report->size, m, AE_ERR_INVALID_ARGUMENT,
             "report->size must be set to sizeof(ae_fit_report)");
    return AE_OK;
}

void ae_fit_report_copy(ae_fit_report *out, const ae_fit_report *full)
{
    if (out)
        ae_copy_size_prefixed(out, full, sizeof *full);
}

/* What fit checks before anything is fitted or allocated: the settings and the data, each
 * row scanned once. The first fit of a scaling model fits the scaling from x afterwards
 * (*needs_scaling says so); x then lies in the scaled range by construction, and only the
 * validation rows need the BCE range check, once the scaling exists. */
static int check_fit_inputs(ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                            const float *x_val, size_t n_val_rows, size_t ld_val,
                            const ae_fit_report *report, bool *needs_scaling)
{
    const size_t d = ae_input_dim(m);
    const bool validation = x_val || n_val_rows;
    AE_FORWARD(check_report(m, report));
    AE_FORWARD(check_training_config(m));
    AE_FORWARD(ae_check_matrix(m, "x", x, n_rows, d, ld_x));
    if (validation)
        AE_FORWARD(ae_check_matrix(m, "x_val", x_val, n_val_rows, d, ld_val));
    *needs_scaling = m->settings.scaling != AE_SCALING_NONE && !m->scaling;
    AE_FORWARD(ae_check_data(m, m, "x", x, n_rows, d, ld_x, !*needs_scaling));
    if (validation && !*needs_scaling)
        AE_FORWARD(ae_check_data(m, m, "x_val", x_val, n_val_rows, d, ld_val, true));
    return AE_OK;
}

/* The epochs of a prepared fit, the best epoch's weights, and the report. */
static int train_prepared(ae_model *m, fit_run *run, ae_fit_report *report)
{
    int status = fit_epochs(m, run);
    m->kl_ramp = 1.0; /* the warm-up belongs to this fit */
    /* The best epoch's weights, unless they are the current ones (or training failed: a
     * divergence restored the start of the failing epoch). */
    size_t bytes = m->n_params * sizeof(float);
    if ((status == AE_OK || status == AE_ERR_CANCELLED) && run->best && run->report.best_epoch &&
        run->global_val > 0.0 && memcmp(m->params, run->best, bytes) != 0) {
        memcpy(m->params, run->best, bytes);
        run->report.restored_best = 1;
    }
    run->report.seconds = now_seconds() - run->started;
    run->report.samples_per_second = run->report.seconds > 0 ? run->samples / run->report.seconds : 0;
    ae_fit_report_copy(report, &run->report);
    return status;
}

static void start_run(fit_run *run)
{
    run->started = now_seconds();
    /* A fit that ends on an error without a reason of its own (divergence, cancellation)
     * says it failed; completing or stopping early sets its reason. */
    run->report = (ae_fit_report){.size = sizeof(ae_fit_report), .final_train_loss = NAN,
                                  .final_val_loss = NAN, .best_loss = NAN, .final_kl = NAN,
                                  .final_elbo = NAN, .stop_reason = AE_STOP_FAILED};
}

static int fit(ae_model *m, const float *x, size_t n_rows, size_t ld_x, const float *x_val,
               size_t n_val_rows, size_t ld_val, ae_fit_report *report)
{
    fit_run run = {0};
    start_run(&run);
    bool needs_scaling = false;
    /* With hooks every participant agrees before each collective part: checks, the
     * scaling (fitted on every participant's rows), and the preparation. */
    AE_FORWARD(ae_hooks_agree(m, check_fit_inputs(m, x, n_rows, ld_x, x_val, n_val_rows, ld_val,
                                                  report, &needs_scaling)));
    if (needs_scaling)
        AE_FORWARD(ae_scaling_fit(m, x, n_rows, ld_x));
    int status = AE_OK;
    if (needs_scaling && (x_val || n_val_rows))
        status = ae_check_data(m, m, "x_val", x_val, n_val_rows, ae_input_dim(m), ld_val, true);
    if (status == AE_OK)
        status = prepare_fit(m, &run, x, n_rows, ld_x, x_val, n_val_rows, ld_val);
    status = ae_hooks_agree(m, status);
    if (status == AE_OK)
        status = combine_counts(m, &run);
    if (status != AE_OK && needs_scaling)
        ae_scaling_drop(m); /* nothing was trained with it: the model stays untouched */
    if (status == AE_OK)
        status = train_prepared(m, &run, report);
    fit_run_release(&run);
    return status;
}

static int fit_source(ae_model *m, const ae_data_source *train, const ae_data_source *validation,
                      ae_fit_report *report)
{
    fit_run run = {0};
    start_run(&run);
    int status = check_report(m, report);
    if (status == AE_OK)
        status = check_training_config(m);
    if (status == AE_OK)
        status = ae_stream_open(m, train, validation, &run.stream);
    /* Agreed on before the scan, whose scaling statistics are combined. */
    status = ae_hooks_agree(m, status);
    const bool had_scaling = m->scaling != NULL;
    if (status == AE_OK)
        status = ae_stream_scan(m, run.stream, &run.n_train, &run.n_val);
    if (status == AE_OK)
        status = prepare_stream_fit(m, &run);
    status = ae_hooks_agree(m, status);
    if (status == AE_OK)
        status = combine_counts(m, &run);
    if (status != AE_OK && !had_scaling)
        ae_scaling_drop(m); /* nothing was trained with it: the model stays untouched */
    if (status == AE_OK)
        status = train_prepared(m, &run, report);
    fit_run_release(&run);
    return status;
}

int ae_model_fit_source(ae_model *m, const ae_data_source *train, const ae_data_source *validation,
                        ae_fit_report *report)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, fit_source(m, train, validation, report));
}

int ae_model_fit_validated(ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                           const float *x_val, size_t n_val_rows, size_t ld_val,
                           ae_fit_report *report)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, fit(m, x, n_rows, ld_x, x_val, n_val_rows, ld_val, report));
}

int ae_model_fit(ae_model *m, const float *x, size_t n_rows, size_t ld_x, ae_fit_report *report)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, fit(m, x, n_rows, ld_x, NULL, 0, 0, report));
}
