/* Training rows from a data source (autoenc.h, ae_model_fit_source): rows the caller streams
 * in chunks, so that a fit never holds the data. A scan before training counts and checks
 * every row and fits a scaling that needs fitting (a second pass for standardising); each
 * epoch then rewinds the source and draws its batches through a shuffle buffer of
 * AE_PARAM_SHUFFLE_BUFFER rows: a row read from the source waits in the buffer and leaves it
 * at a random moment, as tf.data's shuffle buffer does, or in source order without
 * shuffling. Memory: the shuffle buffer and one chunk of rows, whatever the data's size. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Rows asked of the source at a time. */
#define CHUNK_ROWS 256

struct ae_stream {
    const ae_data_source *train, *validation;
    size_t d;
    float *chunk;            /* CHUNK_ROWS rows read ahead from the source */
    size_t chunk_rows, chunk_next;
    bool source_done;        /* this pass of the source has no rows left */
    float *buffer;           /* the shuffle buffer, capacity rows */
    size_t capacity, held;
    bool shuffle;
    size_t row;              /* rows read in this pass of the training source */
    size_t train_rows, val_rows; /* counted by the scan: every later pass gives as many */
};

static int source_failed(const char *which, const char *what, int code)
{
    return ae_fail(NULL, AE_ERR_IO, "the %s data source failed (its %s hook returned %d)", which,
                   what, code);
}

/* A later pass of a source that gave another number of rows than its first. */
static int pass_changed(const char *which, size_t first, size_t now, bool more)
{
    return ae_fail(NULL, AE_ERR_IO,
                   "the %s data source gave %zu rows in its first pass and %s%zu in this one: "
                   "every pass must give the same rows",
                   which, first, more ? "more than " : "", now);
}

static int rewind_source(const ae_data_source *source, const char *which)
{
    int code = source->rewind(source->user_data);
    return code == 0 ? AE_OK : source_failed(which, "rewind", code);
}

/* Up to max_rows next rows of a source into out (packed); *n 0 at the end of the pass. */
static int read_rows(const ae_data_source *source, const char *which, size_t d, float *out,
                     size_t max_rows, size_t *n)
{
    *n = 0;
    int code = source->read(source->user_data, out, d, max_rows, n);
    if (code != 0)
        return source_failed(which, "read", code);
    AE_CHECK(*n <= max_rows, NULL, AE_ERR_IO,
             "the %s data source gave %zu rows where at most %zu were asked for", which, *n,
             max_rows);
    return AE_OK;
}

static int check_source(const ae_data_source *source, const char *which)
{
    AE_CHECK(source->size >= sizeof source->size, NULL, AE_ERR_INVALID_ARGUMENT,
             "%s->size must be set to sizeof(ae_data_source)", which);
    AE_CHECK(source->read && source->rewind, NULL, AE_ERR_INVALID_ARGUMENT,
             "the %s data source needs read and rewind", which);
    return AE_OK;
}

int ae_stream_open(ae_model *m, const ae_data_source *train, const ae_data_source *validation,
                   ae_stream **out)
{
    *out = NULL;
    AE_CHECK(train != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "the training data source is NULL");
    AE_FORWARD(check_source(train, "training"));
    if (validation)
        AE_FORWARD(check_source(validation, "validation"));
    AE_CHECK(m->settings.validation_fraction == 0.0, NULL, AE_ERR_STATE,
             "validation_fraction holds rows out of an array; with a data source give a "
             "validation source instead");
    const size_t d = ae_input_dim(m);
    size_t chunk_floats = 0;
    AE_CHECK(ae_mul_size(CHUNK_ROWS, d, &chunk_floats), NULL, AE_ERR_SIZE_OVERFLOW,
             "a chunk of %d rows of %zu features is too large", CHUNK_ROWS, d);
    ae_stream *s = ae_calloc(1, sizeof *s);
    if (s)
        s->chunk = ae_alloc_floats(chunk_floats);
    if (!s || !s->chunk) {
        ae_stream_close(s);
        return ae_fail(NULL, AE_ERR_OUT_OF_MEMORY, "out of memory for a chunk of %d rows",
                       CHUNK_ROWS);
    }
    s->train = train;
    s->validation = validation;
    s->d = d;
    s->shuffle = m->settings.shuffle;
    *out = s;
    return AE_OK;
}

/* The shuffle buffer, once the scan has counted the training rows: AE_PARAM_SHUFFLE_BUFFER
 * rows, but never more than the source gives (a row leaves the buffer at a step drawn among
 * the rows it holds, so a buffer larger than the data shuffles the same and only costs
 * memory: the default 10,000 rows of a wide model would be gigabytes for a small source). */
static int allocate_shuffle_buffer(const ae_model *m, ae_stream *s, size_t n_train)
{
    if (!s->shuffle)
        return AE_OK;
    const size_t wanted = (size_t)m->settings.shuffle_buffer;
    const size_t capacity = wanted < n_train ? wanted : n_train;
    size_t buffer_floats = 0;
    AE_CHECK(ae_mul_size(capacity, s->d, &buffer_floats), NULL, AE_ERR_SIZE_OVERFLOW,
             "a shuffle buffer of %zu rows of %zu features is too large", capacity, s->d);
    s->buffer = ae_alloc_floats(buffer_floats);
    AE_CHECK(s->buffer != NULL, NULL, AE_ERR_OUT_OF_MEMORY,
             "out of memory for a shuffle buffer of %zu rows", capacity);
    s->capacity = capacity;
    return AE_OK;
}

void ae_stream_close(ae_stream *s)
{
    if (!s)
        return;
    ae_free(s->chunk);
    ae_free(s->buffer);
    ae_free(s);
}

/* ---- the scan before training ------------------------------------------------------------ */

/* One pass over a source, checking every row (as targets when `targets`) and counting them;
 * the fitter, when given, takes every row. Local: collective parts come after. */
static int scan_pass(ae_model *m, ae_stream *s, const ae_data_source *source, const char *which,
                     bool targets, ae_scaling_fitter *fitter, size_t *count)
{
    AE_FORWARD(rewind_source(source, which));
    *count = 0;
    for (;;) {
        size_t n;
        AE_FORWARD(read_rows(source, which, s->d, s->chunk, CHUNK_ROWS, &n));
        if (n == 0)
            return AE_OK;
        int status = ae_check_data(NULL, m, which, s->chunk, n, s->d, s->d, targets);
        if (status != AE_OK) {
            /* The message names the row of the chunk: say where the chunk starts. */
            char why[AE_MESSAGE_SIZE];
            snprintf(why, sizeof why, "%s", ae_last_error());
            return ae_fail(NULL, status, "%s, in the chunk that starts at row %zu of the %s data source",
                           why, *count, which);
        }
        if (fitter)
            ae_scaling_fitter_add(m, fitter, s->chunk, n, s->d);
        *count += n;
    }
}

int ae_stream_scan(ae_model *m, ae_stream *s, size_t *n_train, size_t *n_val)
{
    *n_train = *n_val = 0;
    const bool needs_scaling = m->settings.scaling != AE_SCALING_NONE && !m->scaling;
    ae_scaling_fitter fitter = {0};
    if (needs_scaling)
        AE_FORWARD(ae_scaling_fitter_begin(m, &fitter));
    /* The first pass checks and counts, and gives the scaling its first statistics; every
     * participant agrees on it before the statistics are combined. */
    int status = scan_pass(m, s, s->train, "training", !needs_scaling,
                           needs_scaling ? &fitter : NULL, n_train);
    if (status == AE_OK && *n_train == 0)
        status = ae_fail(NULL, AE_ERR_INVALID_ARGUMENT, "the training data source gave no rows");
    if (status == AE_OK)
        status = allocate_shuffle_buffer(m, s, *n_train);
    status = ae_hooks_agree(m, status);
    while (status == AE_OK && needs_scaling) {
        status = ae_scaling_fitter_end_pass(m, &fitter);
        if (status != AE_OK || !ae_scaling_fitter_wants_pass(m, &fitter))
            break;
        size_t again = 0;
        status = scan_pass(m, s, s->train, "training", false, &fitter, &again);
        if (status == AE_OK && again != *n_train)
            status = pass_changed("training", *n_train, again, false);
        status = ae_hooks_agree(m, status);
    }
    if (needs_scaling) {
        if (status == AE_OK)
            status = ae_scaling_fitter_finish(m, &fitter);
        else
            ae_scaling_fitter_release(&fitter);
    }
    /* The validation rows, against the scaling now fitted. */
    if (status == AE_OK && s->validation) {
        status = scan_pass(m, s, s->validation, "validation", true, NULL, n_val);
        if (status == AE_OK && *n_val == 0)
            status = ae_fail(NULL, AE_ERR_INVALID_ARGUMENT, "the validation data source gave no rows");
    }
    s->train_rows = *n_train;
    s->val_rows = *n_val;
    return status;
}

/* ---- epochs ------------------------------------------------------------------------------ */

/* The next row of this pass of the training source, read ahead a chunk at a time; NULL
 * when the pass has no rows left. */
static int next_source_row(ae_stream *s, const float **row)
{
    *row = NULL;
    if (s->chunk_next == s->chunk_rows) {
        if (s->source_done)
            return AE_OK;
        AE_FORWARD(read_rows(s->train, "training", s->d, s->chunk, CHUNK_ROWS, &s->chunk_rows));
        s->chunk_next = 0;
        if (s->chunk_rows == 0) {
            s->source_done = true;
            /* A pass that ends early would leave the epoch's last steps without rows. */
            return s->row == s->train_rows ? AE_OK
                                           : pass_changed("training", s->train_rows, s->row, false);
        }
    }
    if (s->row == s->train_rows)
        return pass_changed("training", s->train_rows, s->row, true);
    *row = s->chunk + s->chunk_next++ * s->d;
    s->row++;
    return AE_OK;
}

int ae_stream_begin_epoch(ae_model *m, ae_stream *s)
{
    (void)m;
    AE_FORWARD(rewind_source(s->train, "training"));
    s->chunk_rows = s->chunk_next = 0;
    s->source_done = false;
    s->held = 0;
    s->row = 0;
    /* Fill the shuffle buffer. */
    while (s->held < s->capacity) {
        const float *row;
        AE_FORWARD(next_source_row(s, &row));
        if (!row)
            break;
        memcpy(s->buffer + s->held++ * s->d, row, s->d * sizeof(float));
    }
    return AE_OK;
}

int ae_stream_next_batch(ae_model *m, ae_stream *s, size_t max_rows, float *out, size_t *n)
{
    const size_t d = s->d;
    *n = 0;
    while (*n < max_rows) {
        const float *row;
        if (!s->shuffle) {
            AE_FORWARD(next_source_row(s, &row));
            if (!row)
                break;
            memcpy(out + (*n)++ * d, row, d * sizeof(float));
            continue;
        }
        if (s->held == 0)
            break;
        /* A random row leaves the buffer; the next row of the source takes its place. */
        size_t i = (size_t)ae_rng_below(ae_training_rng(m), s->held);
        memcpy(out + (*n)++ * d, s->buffer + i * d, d * sizeof(float));
        AE_FORWARD(next_source_row(s, &row));
        if (row)
            memcpy(s->buffer + i * d, row, d * sizeof(float));
        else if (i != --s->held)
            memcpy(s->buffer + i * d, s->buffer + s->held * d, d * sizeof(float));
    }
    if (*n == 0)
        return AE_OK;
    /* Rows are checked again as they are used (a source may change between passes), then
     * scaled in place. */
    AE_FORWARD(ae_check_data(NULL, m, "the training batch", out, *n, d, d, true));
    if (m->scaling)
        ae_scaling_apply(m, out, d, *n, out, d);
    return AE_OK;
}

int ae_stream_end_epoch(ae_model *m, ae_stream *s)
{
    (void)m;
    /* The steps took every counted row; one more read must find the pass's end. */
    const float *row;
    return next_source_row(s, &row);
}

int ae_stream_validation_sum(ae_model *m, ae_stream *s, float *scratch, size_t max_rows,
                             double *sum)
{
    *sum = 0.0;
    if (!s->validation)
        return AE_OK;
    AE_FORWARD(rewind_source(s->validation, "validation"));
    /* The mean divides by the rows the scan counted: a pass must give as many. */
    for (size_t rows = 0;;) {
        size_t n;
        AE_FORWARD(read_rows(s->validation, "validation", s->d, scratch, max_rows, &n));
        if (n == 0)
            return rows == s->val_rows ? AE_OK : pass_changed("validation", s->val_rows, rows, false);
        rows += n;
        if (rows > s->val_rows)
            return pass_changed("validation", s->val_rows, s->val_rows, true);
        AE_FORWARD(ae_check_data(NULL, m, "the validation rows", scratch, n, s->d, s->d, true));
        if (m->scaling)
            ae_scaling_apply(m, scratch, s->d, n, scratch, s->d);
        *sum += ae_net_forward_loss(m, scratch, s->d, scratch, s->d, n, NULL, false);
    }
}
