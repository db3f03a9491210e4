/* Inference on a const model: encode, decode, reconstruct, score, and for variational
 * models the code's distribution, sampling and interpolation. A call keeps a small scratch
 * on its stack, or takes one of the model's spare scratches (allocating its own when none
 * is free and keeping it after), so many threads can share one model. Rows go through in
 * chunks, which bounds the scratch whatever the number of rows. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Rows per chunk: large enough for sgemm to run at full speed, small enough that the
 * scratch stays a few megabytes for wide models. */
#define AE_INFER_CHUNK_ROWS 1024
/* The fewest rows of a chunk kept on OpenBLAS's calling thread. A training step's chunks run
 * on all the model's threads; an inference call has its caller's thread alone, against
 * OpenBLAS's threads on the whole call: with chunks of 32 and 48 rows (128-64-16,
 * 100-50-10), loops of encodes from 256 rows took 1.1-1.45x as long. */
#define AE_INFER_MIN_CHUNK_ROWS 64
/* Rows per chunk of a pass through layers [first, last) over n_rows rows (at least 1): a
 * narrow model's chunks keep every product on OpenBLAS's calling thread (ae_blas_one_thread_rows),
 * which for such shapes is faster than its threads. */
static size_t chunk_rows(const ae_model *m, size_t first, size_t last, size_t n_rows)
{
    if (n_rows <= AE_INFER_MIN_CHUNK_ROWS) /* one chunk whatever the model: a served row's call */
        return n_rows;
    size_t rows = ae_blas_one_thread_rows(m, first, last);
    if (rows < AE_INFER_MIN_CHUNK_ROWS || rows > AE_INFER_CHUNK_ROWS)
        rows = AE_INFER_CHUNK_ROWS;
    return n_rows < rows ? n_rows : rows;
}

typedef struct infer_pass {
    size_t first, last;          /* layers [first, last) */
    const float *in;
    size_t ld_in;
    float *out;                  /* output of layer last - 1, or NULL to keep it in scratch */
    size_t ld_out;
    bool with_loss;              /* fuse the output layer with the loss against `in` */
    double loss_sum;             /* with_loss: sum of elementwise losses */
    float *row_scores;           /* with_loss: per-row mean loss, or NULL */
    float *element_losses;       /* with_loss: each element's loss instead of the sums, or NULL */
    size_t ld_element_losses;
    float *log_variance;         /* a variational encoder's log-variances, or NULL */
    size_t ld_log_variance;
    /* Rows whose result overflowed to NaN or infinity (see ae_overflow in the header): a pass
     * that returns outputs stops at the first; one that scores gives such a row's scores and
     * errors the value AE_SCORE_OVERFLOW and goes on. */
    size_t first_overflow;       /* the first such row, or SIZE_MAX */
} infer_pass;

/* The score and error given to a row whose error overflows: the largest float. */
#define AE_SCORE_OVERFLOW FLT_MAX

/* Split the mean and log-variance halves of a variational latent layer's output rows. */
static void split_code(const float *stats, size_t rows, size_t k, float *mean, size_t ld_mean,
                       float *log_variance, size_t ld_log_variance)
{
    for (size_t i = 0; i < rows; i++) {
        memcpy(mean + i * ld_mean, stats + i * 2 * k, k * sizeof(float));
        if (log_variance)
            memcpy(log_variance + i * ld_log_variance, stats + i * 2 * k + k, k * sizeof(float));
    }
}

/* A call whose scratch is this small keeps it on its own stack: single rows (and a few
 * rows of most models) then touch no shared state beyond the model's guard. */
#define AE_STACK_SCRATCH_BYTES 16384

/* The slot each thread tries first, so that threads serving one model at once mostly find
 * their own scratch without racing for slot 0. */
static size_t first_slot(void) { return ae_thread_index() % AE_SPARE_SCRATCHES; }

static ae_scratch_block *next_block(ae_scratch_block *b)
{
    return atomic_load_explicit(&b->next, memory_order_acquire);
}

/* Scratch of at least `bytes`: one of the model's spares if one is free and large enough,
 * else a new allocation. The model is const to callers; its spare slots are the one field
 * that changes, and only through atomic exchanges, so concurrent calls never share a
 * buffer. */
static ae_scratch *take_scratch(const ae_model *m, size_t bytes)
{
    const size_t first = first_slot();
    ae_scratch *s = NULL;
    for (ae_scratch_block *b = (ae_scratch_block *)&m->spare_scratch; b && !s; b = next_block(b))
        for (size_t k = 0; k < AE_SPARE_SCRATCHES && !s; k++) {
            _Atomic(ae_scratch *) *slot = &b->slots[(first + k) % AE_SPARE_SCRATCHES];
            if (atomic_load_explicit(slot, memory_order_relaxed))
                s = atomic_exchange(slot, NULL);
        }
    if (s && s->capacity >= bytes)
        return s;
    ae_free(s);
    s = ae_alloc(sizeof *s + bytes);
    if (s)
        s->capacity = bytes;
    return s;
}

/* Give a scratch back into a free slot; if every slot holds one, into a new block appended
 * to the chain (concurrent appenders each retry at the new end). */
static void give_back_scratch(const ae_model *m, ae_scratch *s)
{
    const size_t first = first_slot();
    ae_scratch_block *last = NULL;
    for (ae_scratch_block *b = (ae_scratch_block *)&m->spare_scratch; b; b = next_block(b)) {
        for (size_t k = 0; k < AE_SPARE_SCRATCHES; k++) {
            ae_scratch *expected = NULL;
            if (atomic_compare_exchange_strong(&b->slots[(first + k) % AE_SPARE_SCRATCHES], &expected, s))
                return;
        }
        last = b;
    }
    ae_scratch_block *fresh = ae_calloc(1, sizeof *fresh);
    if (!fresh) {
        ae_free(s); /* no room to keep it: the next call allocates its own again */
        return;
    }
    atomic_init(&fresh->slots[0], s);
    ae_scratch_block *expected = NULL;
    while (!atomic_compare_exchange_strong(&last->next, &expected, fresh)) {
        last = expected;
        expected = NULL;
    }
}

void ae_scratch_release(ae_scratch_block *first)
{
    ae_scratch_block *b = first;
    while (b) {
        ae_scratch_block *next = atomic_load(&b->next);
        for (size_t k = 0; k < AE_SPARE_SCRATCHES; k++)
            ae_free(atomic_load(&b->slots[k]));
        if (b != first)
            ae_free(b);
        b = next;
    }
}

/* Whether any of rows x width values (leading dimension ld) is not finite; the first such
 * row (offset by start) is kept in the pass. */
static bool note_first_overflow(infer_pass *p, const float *values, size_t ld, size_t rows,
                                size_t width, size_t start)
{
    const size_t row = ae_first_nonfinite_row(values, ld, rows, width);
    if (row == rows)
        return false;
    if (p->first_overflow == SIZE_MAX)
        p->first_overflow = start + row;
    return true;
}

/* Per-row scores from the rows' loss sums; a row whose sum overflowed scores AE_SCORE_OVERFLOW. */
static void score_rows(infer_pass *p, const double *row_loss, size_t rows, size_t width, size_t start)
{
    for (size_t i = 0; i < rows; i++) {
        bool finite = isfinite(row_loss[i]);
        if (!finite && p->first_overflow == SIZE_MAX)
            p->first_overflow = start + i;
        if (p->row_scores)
            p->row_scores[start + i] = finite ? (float)(row_loss[i] / (double)width) : AE_SCORE_OVERFLOW;
    }
}

/* Elementwise errors that overflowed become AE_SCORE_OVERFLOW, as their row's score does. */
static void saturate_errors(infer_pass *p, float *errors, size_t rows, size_t width, size_t start)
{
    const size_t ld = p->ld_element_losses;
    for (size_t i = ae_first_nonfinite_row(errors, ld, rows, width); i < rows; i++) {
        float *row = errors + i * ld;
        if (ae_all_finite(row, width))
            continue;
        if (p->first_overflow == SIZE_MAX)
            p->first_overflow = start + i;
        for (size_t j = 0; j < width; j++)
            row[j] = isfinite(row[j]) ? row[j] : AE_SCORE_OVERFLOW;
    }
}

static int run_pass(const ae_model *m, infer_pass *p, size_t n_rows)
{
    p->first_overflow = SIZE_MAX;
    size_t chunk = chunk_rows(m, p->first, p->last, n_rows);
    /* Two ping-pong activation buffers and the per-row losses; cannot overflow on a 64-bit
     * system: chunk <= 1024 and widths <= INT_MAX. */
    size_t buffer_floats = chunk * m->max_width;
    /* A third buffer holds the scaled inputs when the model scales them. */
    const bool scale_in = p->first == 0 && m->scaling;
    const bool unscale_out = p->last == m->n_layers && ae_has_decoder(m) && m->scaling;
    /* The copies of the weights transposed that the pass's layers multiply by (net.c,
     * ae_multiplies_copy), made for this call in its scratch: nothing to keep fresh when the
     * weights change, nothing shared between calls. */
    const ae_copy_rule copies = ae_copy_rule_for(m, chunk, 1);
    size_t copy_floats = 0;
    for (size_t l = p->first; copies.rows && l < p->last; l++)
        if (ae_multiplies_copy(m, l, copies))
            copy_floats += m->layers[l].n_in * m->layers[l].n_out;
    size_t bytes = ((scale_in ? 3 : 2) * buffer_floats + copy_floats) * sizeof(float) +
                   chunk * sizeof(double);
    union {
        max_align_t align;
        alignas(AE_CACHE_LINE) unsigned char bytes[AE_STACK_SCRATCH_BYTES];
    } on_stack;
    ae_scratch *scratch_block = NULL;
    unsigned char *scratch_bytes = on_stack.bytes;
    if (bytes > sizeof on_stack.bytes) {
        scratch_block = take_scratch(m, bytes);
        AE_CHECK(scratch_block != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory for inference scratch");
        scratch_bytes = scratch_block->data;
    }
    double *row_loss = (double *)(void *)scratch_bytes;
    float *scratch = (float *)(void *)(scratch_bytes + chunk * sizeof(double));
    float *buffers[2] = {scratch, scratch + buffer_floats}, *scaled = scratch + 2 * buffer_floats;
    float *const copy_store = scratch + (scale_in ? 3 : 2) * buffer_floats;
    for (size_t l = p->first, at = 0; copy_floats && l < p->last; l++)
        if (ae_multiplies_copy(m, l, copies)) {
            const ae_layer *L = &m->layers[l];
            ae_transpose(m->params + L->weight_offset, L->n_out, L->n_in, copy_store + at);
            at += L->n_in * L->n_out;
        }
    const size_t d_out = m->layers[p->last - 1].n_out;

    for (size_t start = 0; start < n_rows; start += chunk) {
        size_t rows = n_rows - start < chunk ? n_rows - start : chunk;
        const float *in = p->in + start * p->ld_in;
        size_t ld_in = p->ld_in;
        if (scale_in) {
            ae_scaling_apply(m, in, ld_in, rows, scaled, ae_input_dim(m));
            in = scaled;
            ld_in = ae_input_dim(m);
        }
        const float *target = in; /* the loss compares with the (scaled) input */
        const size_t ld_target = ld_in;
        const float *next_copy = copy_store;
        for (size_t l = p->first; l < p->last; l++) {
            bool top = l + 1 == p->last;
            const float *copy = NULL;
            if (copy_floats && ae_multiplies_copy(m, l, copies)) {
                copy = next_copy;
                next_copy += m->layers[l].n_in * m->layers[l].n_out;
            }
            /* A variational latent layer's rows hold mean and log-variance side by side; the
             * next layer reads the means through the leading dimension. */
            const bool variational_latent = ae_is_variational(m) && l == ae_latent_layer(m);
            bool split = top && variational_latent;
            float *dest = top && p->out && !split ? p->out + start * p->ld_out : buffers[(l - p->first) % 2];
            size_t ld_dest = top && p->out && !split ? p->ld_out : m->layers[l].n_out;
            if (top && p->with_loss) {
                const ae_layer *L = &m->layers[l];
                ae_layer_linear(m, l, copy, in, ld_in, rows, dest, ld_dest);
                if (p->element_losses) {
                    float *errors = p->element_losses + start * p->ld_element_losses;
                    ae_output_element_losses(dest, ld_dest, rows, L->n_out, target, ld_target,
                                             L->activation, m->settings.loss, &m->settings, errors,
                                             p->ld_element_losses);
                    saturate_errors(p, errors, rows, L->n_out, start);
                } else {
                    p->loss_sum += ae_output_loss(dest, ld_dest, rows, L->n_out, target, ld_target,
                                                  L->activation, m->settings.loss, &m->settings,
                                                  NULL, 0.0f, row_loss);
                    score_rows(p, row_loss, rows, d_out, start);
                }
            } else {
                ae_layer_forward(m, l, copy, in, ld_in, rows, dest, ld_dest);
                if (variational_latent)
                    ae_clamp_log_variance(dest, rows, ae_latent_dim(m));
                if (top && unscale_out && p->out)
                    ae_unscale_rows(dest, ld_dest, rows, d_out, ae_scaling_offsets(m),
                                    ae_scaling_scales(m));
                /* An output row that overflowed ends the pass: nothing is given for it. */
                if (top && p->out && note_first_overflow(p, dest, ld_dest, rows, m->layers[l].n_out, start))
                    break;
                if (split && p->out)
                    split_code(dest, rows, ae_latent_dim(m), p->out + start * p->ld_out, p->ld_out,
                               p->log_variance ? p->log_variance + start * p->ld_log_variance : NULL,
                               p->ld_log_variance);
            }
            in = dest;
            ld_in = ld_dest;
        }
        if (p->out && p->first_overflow != SIZE_MAX)
            break;
    }
    if (scratch_block)
        give_back_scratch(m, scratch_block);
    return AE_OK;
}

/* Checks shared by every inference call: the input, and the output (out_name), apart. */
static int check_inference(const float *in, size_t n_rows, size_t ld_in, size_t in_width,
                           const char *out_name, const float *out, size_t ld_out, size_t out_width)
{
    AE_FORWARD(ae_check_matrix(NULL, "input", in, n_rows, in_width, ld_in));
    AE_FORWARD(ae_check_matrix(NULL, out_name, out, n_rows, out_width, ld_out));
    return ae_check_apart(NULL, ae_float_span(out_name, out, n_rows, out_width, ld_out),
                          ae_float_span("input", in, n_rows, in_width, ld_in));
}

/* The refusal of a pass whose row `row` overflowed; `what` names the result. */
static int overflow_error(size_t row, const char *what)
{
    return ae_fail(NULL, AE_ERR_NON_FINITE_RESULT,
                   "row %zu is too large for the model's float arithmetic: its %s would not be "
                   "finite, so none is given",
                   row, what);
}

/* A pass that returns outputs: AE_ERR_NON_FINITE_RESULT if a row overflowed. */
static int run_output_pass(const ae_model *m, infer_pass *p, size_t n_rows, const char *what)
{
    AE_FORWARD(run_pass(m, p, n_rows));
    return p->first_overflow == SIZE_MAX ? AE_OK : overflow_error(p->first_overflow, what);
}

int ae_infer_layers(const ae_model *m, size_t first, size_t last, const float *in, size_t n_rows,
                    size_t ld_in, float *out, size_t ld_out)
{
    infer_pass pass = {.first = first, .last = last, .in = in, .ld_in = ld_in, .out = out, .ld_out = ld_out};
    return run_output_pass(m, &pass, n_rows, last == m->n_layers ? "output" : "code");
}

static int transform(const ae_model *m, bool encoder, bool decoder, const float *in, size_t n_rows,
                     size_t ld_in, float *out, size_t ld_out)
{
    if (decoder)
        AE_FORWARD(ae_check_decoder(NULL, m, encoder ? "reconstruct" : "decode"));
    AE_FORWARD(ae_check_scaling_fitted(NULL, m));
    size_t first = encoder ? 0 : m->n_encoder_layers, last = decoder ? m->n_layers : m->n_encoder_layers;
    size_t in_width = m->layers[first].n_in;
    size_t out_width = decoder ? m->layers[last - 1].n_out : ae_latent_dim(m);
    AE_FORWARD(check_inference(in, n_rows, ld_in, in_width, "output", out, ld_out, out_width));
    AE_FORWARD(ae_check_data(NULL, m, "input", in, n_rows, in_width, ld_in, false));
    infer_pass pass = {.first = first, .last = last, .in = in, .ld_in = ld_in, .out = out, .ld_out = ld_out};
    return run_output_pass(m, &pass, n_rows,
                           !decoder ? "code" : encoder ? "reconstruction" : "decoded output");
}

int ae_model_encode(const ae_model *m, const float *x, size_t n_rows, size_t ld_x, float *z, size_t ld_z)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, transform(m, true, false, x, n_rows, ld_x, z, ld_z));
}

int ae_model_decode(const ae_model *m, const float *z, size_t n_rows, size_t ld_z, float *y, size_t ld_y)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, transform(m, false, true, z, n_rows, ld_z, y, ld_y));
}

int ae_model_reconstruct(const ae_model *m, const float *x, size_t n_rows, size_t ld_x, float *y,
                         size_t ld_y)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, transform(m, true, true, x, n_rows, ld_x, y, ld_y));
}

/* Checks shared by the calls that compare reconstructions with their inputs: x, and the
 * buffer the call writes (none for a mean loss) apart from it. */
static int check_scoring_input(const ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                               ae_span out)
{
    AE_FORWARD(ae_check_decoder(NULL, m, "score reconstructions"));
    AE_FORWARD(ae_check_scaling_fitted(NULL, m));
    AE_FORWARD(ae_check_matrix(NULL, "x", x, n_rows, ae_input_dim(m), ld_x));
    AE_FORWARD(ae_check_apart(NULL, out, ae_float_span("x", x, n_rows, ae_input_dim(m), ld_x)));
    AE_FORWARD(ae_check_loss_settings(NULL, m));
    return ae_check_data(NULL, m, "x", x, n_rows, ae_input_dim(m), ld_x, true);
}

int ae_eval_scores(const ae_model *m, const float *x, size_t n_rows, size_t ld_x, float *scores,
                   size_t *first_overflow)
{
    const ae_span out = ae_float_span("scores", scores, 1, n_rows, n_rows);
    AE_FORWARD(check_scoring_input(m, x, n_rows, ld_x, out));
    infer_pass pass = {.first = 0, .last = m->n_layers, .in = x, .ld_in = ld_x, .with_loss = true,
                       .row_scores = scores};
    AE_FORWARD(run_pass(m, &pass, n_rows));
    if (first_overflow)
        *first_overflow = pass.first_overflow;
    return AE_OK;
}

int ae_eval_loss(const ae_model *m, const float *x, size_t n_rows, size_t ld_x, double *loss)
{
    AE_FORWARD(check_scoring_input(m, x, n_rows, ld_x, (ae_span){0}));
    infer_pass pass = {.first = 0, .last = m->n_layers, .in = x, .ld_in = ld_x, .with_loss = true};
    AE_FORWARD(run_pass(m, &pass, n_rows));
    /* A mean has no room for a row beyond float range. */
    if (pass.first_overflow != SIZE_MAX)
        return overflow_error(pass.first_overflow, "loss");
    *loss = pass.loss_sum / ((double)n_rows * (double)ae_input_dim(m));
    return AE_OK;
}

int ae_eval_element_losses(const ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                           float *losses, size_t ld_losses)
{
    const ae_span out = ae_float_span("errors", losses, n_rows, ae_input_dim(m), ld_losses);
    AE_FORWARD(check_scoring_input(m, x, n_rows, ld_x, out));
    infer_pass pass = {.first = 0, .last = m->n_layers, .in = x, .ld_in = ld_x, .with_loss = true,
                       .element_losses = losses, .ld_element_losses = ld_losses};
    return run_pass(m, &pass, n_rows);
}

static int score(const ae_model *m, const float *x, size_t n_rows, size_t ld_x, float *scores)
{
    AE_CHECK(scores != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "scores is NULL");
    return ae_eval_scores(m, x, n_rows, ld_x, scores, NULL);
}

int ae_model_score(const ae_model *m, const float *x, size_t n_rows, size_t ld_x, float *scores)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, score(m, x, n_rows, ld_x, scores));
}

static int loss(const ae_model *m, const float *x, size_t n_rows, size_t ld_x, double *result)
{
    AE_CHECK(result != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "loss is NULL");
    return ae_eval_loss(m, x, n_rows, ld_x, result);
}

int ae_model_loss(const ae_model *m, const float *x, size_t n_rows, size_t ld_x, double *result)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, loss(m, x, n_rows, ld_x, result));
}

/* ---- variational models and the latent space ---------------------------------------- */

static int encode_distribution(const ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                               float *mean, size_t ld_mean, float *log_variance,
                               size_t ld_log_variance)
{
    AE_CHECK(ae_is_variational(m), NULL, AE_ERR_STATE,
             "the model is not variational: its code has no distribution (use ae_model_encode)");
    const size_t k = ae_latent_dim(m);
    AE_FORWARD(ae_check_scaling_fitted(NULL, m));
    AE_FORWARD(check_inference(x, n_rows, ld_x, ae_input_dim(m), "mean", mean, ld_mean, k));
    if (log_variance) {
        const size_t ld = ld_log_variance;
        AE_FORWARD(ae_check_matrix(NULL, "log_variance", log_variance, n_rows, k, ld));
        const ae_span spread = ae_float_span("log_variance", log_variance, n_rows, k, ld);
        AE_FORWARD(ae_check_apart(NULL, spread,
                                  ae_float_span("input", x, n_rows, ae_input_dim(m), ld_x)));
        AE_FORWARD(ae_check_apart(NULL, spread, ae_float_span("mean", mean, n_rows, k, ld_mean)));
    }
    AE_FORWARD(ae_check_data(NULL, m, "input", x, n_rows, ae_input_dim(m), ld_x, false));
    infer_pass pass = {.first = 0, .last = m->n_encoder_layers, .in = x, .ld_in = ld_x, .out = mean,
                       .ld_out = ld_mean, .log_variance = log_variance,
                       .ld_log_variance = ld_log_variance};
    return run_output_pass(m, &pass, n_rows, "code distribution");
}

int ae_model_encode_distribution(const ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                                 float *mean, size_t ld_mean, float *log_variance,
                                 size_t ld_log_variance)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, encode_distribution(m, x, n_rows, ld_x, mean, ld_mean, log_variance,
                                               ld_log_variance));
}

static int sample(const ae_model *m, uint64_t seed, size_t n_rows, float *y, size_t ld_y)
{
    AE_CHECK(ae_is_variational(m), NULL, AE_ERR_STATE,
             "the model is not variational: it has no prior to sample codes from");
    AE_FORWARD(ae_check_decoder(NULL, m, "generate rows"));
    AE_FORWARD(ae_check_scaling_fitted(NULL, m));
    AE_FORWARD(ae_check_matrix(NULL, "y", y, n_rows, ae_input_dim(m), ld_y));
    const size_t k = ae_latent_dim(m), chunk = n_rows < AE_INFER_CHUNK_ROWS ? n_rows : AE_INFER_CHUNK_ROWS;
    float *codes = ae_alloc_floats(chunk * k);
    AE_CHECK(codes != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory for %zu codes", chunk);
    ae_rng rng;
    ae_rng_seed(&rng, seed);
    int status = AE_OK;
    for (size_t start = 0; status == AE_OK && start < n_rows; start += chunk) {
        size_t rows = n_rows - start < chunk ? n_rows - start : chunk;
        for (size_t i = 0; i < rows * k; i++)
            codes[i] = (float)ae_rng_normal(&rng);
        infer_pass pass = {.first = m->n_encoder_layers, .last = m->n_layers, .in = codes,
                           .ld_in = k, .out = y + start * ld_y, .ld_out = ld_y};
        status = run_pass(m, &pass, rows);
        if (status == AE_OK && pass.first_overflow != SIZE_MAX)
            status = overflow_error(start + pass.first_overflow, "generated output");
    }
    ae_free(codes);
    return status;
}

int ae_model_sample(const ae_model *m, uint64_t seed, size_t n_rows, float *y, size_t ld_y)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, sample(m, seed, n_rows, y, ld_y));
}

static int interpolate(const ae_model *m, const float *x_a, const float *x_b, size_t n_steps,
                       float *y, size_t ld_y)
{
    AE_CHECK(n_steps >= 2, NULL, AE_ERR_INVALID_ARGUMENT,
             "n_steps is %zu; the path needs at least its two ends", n_steps);
    AE_FORWARD(ae_check_decoder(NULL, m, "decode a path"));
    AE_FORWARD(ae_check_matrix(NULL, "y", y, n_steps, ae_input_dim(m), ld_y));
    const size_t k = ae_latent_dim(m), d = ae_input_dim(m);
    const ae_span path = ae_float_span("y", y, n_steps, d, ld_y);
    AE_FORWARD(ae_check_apart(NULL, path, ae_float_span("x_a", x_a, 1, d, d)));
    AE_FORWARD(ae_check_apart(NULL, path, ae_float_span("x_b", x_b, 1, d, d)));
    size_t n_floats;
    AE_CHECK(ae_mul_size(n_steps + 2, k, &n_floats), NULL, AE_ERR_SIZE_OVERFLOW,
             "%zu steps of %zu codes overflow", n_steps, k);
    float *codes = ae_alloc_floats(n_floats);
    AE_CHECK(codes != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory for %zu codes", n_steps);
    float *ends = codes + n_steps * k; /* z_a, then z_b */
    int status = AE_OK;
    const float *rows[2] = {x_a, x_b};
    for (int e = 0; e < 2 && status == AE_OK; e++) {
        status = transform(m, true, false, rows[e], 1, d, ends + e * k, k);
        /* The end is the one row of its own pass: name it, not "row 0". */
        if (status == AE_ERR_NON_FINITE_RESULT)
            status = ae_fail(NULL, status,
                             "%s is too large for the model's float arithmetic: its code would "
                             "not be finite, so no path is given",
                             e ? "x_b" : "x_a");
    }
    if (status == AE_OK) {
        for (size_t i = 0; i < n_steps; i++) {
            float t = (float)i / (float)(n_steps - 1);
            for (size_t j = 0; j < k; j++)
                codes[i * k + j] = (1.0f - t) * ends[j] + t * ends[k + j];
        }
        status = ae_infer_layers(m, m->n_encoder_layers, m->n_layers, codes, n_steps, k, y, ld_y);
    }
    ae_free(codes);
    return status;
}

int ae_model_interpolate(const ae_model *m, const float *x_a, const float *x_b, size_t n_steps,
                         float *y, size_t ld_y)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, interpolate(m, x_a, x_b, n_steps, y, ld_y));
}
