/* Forward and backward through the layer stack: every product is one cblas_sgemm
 * (cblas_sgemv for a single row), transposes are BLAS flags; only a small layer's forward
 * product may multiply by a copy of its weights transposed (ae_multiplies_copy), which
 * OpenBLAS takes through its faster small-matrix kernels. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* When a forward product x W^T multiplies by a copy W^T of the weights, a plain operand,
 * rather than by W with a transpose flag. OpenBLAS 0.3.21 (SkylakeX) runs products of up to
 * 100^3 multiply-adds through small-matrix kernels that neither pack nor take its buffer
 * lock, but x W^T only while the layer's units times the rows stay within 1,200 and its
 * inputs reach 32 (sgemm_small_kernel_permit): most of a small model's forward products
 * went through its packing path. With the copy they take the small kernel, which fills a
 * register with 16 units of an output row: from 16 units a layer's product ran 1.2-2.2x
 * faster at 64 rows and 1.0-1.7x at 256 (one thread, 4 to 128 units and inputs:
 * bench_blas_threads, part 4), while layers of 4 and 8 units ran as much as 2.6x slower
 * (the register mostly empty). The copy is made for each pass, 0.2 ns a
 * weight: below 8 rows, or for more than 256 weights a row, it costs what the product saves
 * (64-32-8 training 0.92x at 2 rows; encoding 100-50-10's 5,000 weights for 16 rows 0.85x).
 * Steps split between threads in parts of at most 256 rows copy every layer of a model whose
 * broadest layer has 128 weights or more: by W, the parts queue on OpenBLAS's lock and take
 * the buffers the other thread last packed (training loops, 7 rounds: 30-16-4 1.11x at 256
 * rows, 16-8-2 1.15x; 8-4-2 lost, 0.72-0.82x). Models with a layer broader than 16,384
 * weights (the reference model) always multiply by W. */
#define AE_COPY_MIN_ROWS 8
#define AE_COPY_MAX_WEIGHTS_PER_ROW 256.0
#define AE_COPY_MIN_UNITS 16
#define AE_SMALL_KERNEL_MAX_WORK 1e6
#define AE_COPY_MAX_WIDEST 16384.0
#define AE_COPY_SPLIT_MIN_WIDEST 128.0
#define AE_COPY_SPLIT_MAX_ROWS_PER_PART 256

/* Layer l's weights: the multiply-adds of its forward product per row. */
static double layer_weights(const ae_model *m, size_t l)
{
    return (double)m->layers[l].n_in * (double)m->layers[l].n_out;
}

/* The weights of the broadest of layers [first, last), and of all the layers (a tied pair's
 * counted at each use, as its products are). */
static double widest_layer(const ae_model *m, size_t first, size_t last)
{
    double widest = 0.0;
    for (size_t l = first; l < last; l++)
        widest = fmax(widest, layer_weights(m, l));
    return widest;
}

static double all_weights(const ae_model *m)
{
    double weights = 0.0;
    for (size_t l = 0; l < m->n_layers; l++)
        weights += layer_weights(m, l);
    return weights;
}

ae_copy_rule ae_copy_rule_for(const ae_model *m, size_t rows, size_t parts)
{
    if (rows < AE_COPY_MIN_ROWS) /* a served row's call: no pass over the layers */
        return (ae_copy_rule){.rows = 0, .every_layer = false};
    const double widest = widest_layer(m, 0, m->n_layers);
    const bool small_model = widest <= AE_COPY_MAX_WIDEST;
    return (ae_copy_rule){.rows = small_model ? rows : 0,
                          .every_layer = parts > 1 && rows <= AE_COPY_SPLIT_MAX_ROWS_PER_PART &&
                                         widest >= AE_COPY_SPLIT_MIN_WIDEST};
}

bool ae_multiplies_copy(const ae_model *m, size_t l, ae_copy_rule rule)
{
    const ae_layer *L = &m->layers[l];
    const double weights = layer_weights(m, l), rows = (double)rule.rows;
    return rule.rows > 0 && !L->transposed && rows * weights <= AE_SMALL_KERNEL_MAX_WORK &&
           weights <= AE_COPY_MAX_WEIGHTS_PER_ROW * rows &&
           (L->n_out >= AE_COPY_MIN_UNITS || rule.every_layer);
}

/* Columns [j0, j1) of layer l's x W^T + b (out and ld_out address the whole layer's
 * output): the elements the whole product gives, as the rows of a part are; a step split
 * between threads by units has each thread form its own units' columns. The bias is
 * written into out first and the product added to it (beta = 1): OpenBLAS otherwise clears
 * out in a pass of its own (beta = 0), slower than the copy of the bias, which the
 * activation and the loss then need not add. `copy` is the layer's W^T (ae_multiplies_copy),
 * or NULL to multiply by W. */
static void linear_columns(const ae_model *m, size_t layer, const float *copy, const float *in,
                           size_t ld_in, size_t n_rows, float *out, size_t ld_out, size_t j0, size_t j1)
{
    const ae_layer *L = &m->layers[layer];
    const int n_units = (int)(j1 - j0), n_in = (int)L->n_in;
    ae_fill_rows(out + j0, ld_out, n_rows, m->params + L->bias_offset + j0, j1 - j0);
    /* Tied weights are the mirror's n_in x n_out matrix V, and this layer's W is V^T: the
     * units are rows of W, or columns of V, or of the copy W^T. */
    const bool by_columns = L->transposed || copy;
    const float *matrix = copy ? copy : m->params + L->weight_offset;
    const float *w = matrix + (by_columns ? j0 : j0 * L->n_in);
    const int ld_w = (int)(by_columns ? L->n_out : L->n_in);
    if (n_rows == 1) /* out += W in: a matrix-vector product */
        cblas_sgemv(CblasRowMajor, by_columns ? CblasTrans : CblasNoTrans, by_columns ? n_in : n_units,
                    by_columns ? n_units : n_in, 1.0f, w, ld_w, in, 1, 1.0f, out + j0, 1);
    else /* out += in W^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, by_columns ? CblasNoTrans : CblasTrans, (int)n_rows,
                    n_units, n_in, 1.0f, in, (int)ld_in, w, ld_w, 1.0f, out + j0, (int)ld_out);
}

void ae_layer_linear(const ae_model *m, size_t layer, const float *copy, const float *in,
                     size_t ld_in, size_t n_rows, float *out, size_t ld_out)
{
    linear_columns(m, layer, copy, in, ld_in, n_rows, out, ld_out, 0, m->layers[layer].n_out);
}

void ae_layer_forward(const ae_model *m, size_t layer, const float *copy, const float *in,
                      size_t ld_in, size_t n_rows, float *out, size_t ld_out)
{
    const ae_layer *L = &m->layers[layer];
    ae_layer_linear(m, layer, copy, in, ld_in, n_rows, out, ld_out);
    ae_activate(out, ld_out, n_rows, L->n_out, L->activation, &m->settings);
}

/* Layer l's W^T in a training pass that multiplies it by a copy, from the pass's copies
 * (transposed_forward_weights, or a split part's own: part_forward_copies), or NULL. */
static const float *forward_copy(const ae_model *m, const float *copies, size_t l)
{
    return copies && ae_multiplies_copy(m, l, m->work.forward_copies)
               ? copies + m->layers[l].weight_offset
               : NULL;
}

/* W^T of each layer the rule copies, at its weight offset in out. */
static void transpose_copied_layers(const ae_model *m, ae_copy_rule rule, float *out)
{
    for (size_t l = 0; rule.rows && l < m->n_layers; l++)
        if (ae_multiplies_copy(m, l, rule)) {
            const ae_layer *L = &m->layers[l];
            ae_transpose(m->params + L->weight_offset, L->n_out, L->n_in, out + L->weight_offset);
        }
}

/* ---- training workspace ----------------------------------------------------- */

void ae_workspace_release(ae_workspace *w)
{
    ae_free(w->batch);
    ae_free(w->corrupted);
    ae_free(w->activations);
    ae_free(w->delta);
    ae_free(w->delta_prev);
    ae_free(w->activation_offsets);
    ae_free(w->dropped);
    ae_free(w->keep);
    ae_free(w->dropout_keys);
    ae_free(w->columns);
    ae_free(w->column_sums);
    ae_free(w->code);
    ae_free(w->part_grads);
    ae_free(w->deltas);
    ae_free(w->transposed_weights);
    ae_free(w->part_copies);
    memset(w, 0, sizeof *w);
}

int ae_workspace_reserve(ae_model *m, size_t n_rows)
{
    const size_t batch_rows = n_rows, spare = ae_split_spare_rows(m, n_rows);
    AE_CHECK(spare <= SIZE_MAX - n_rows, m, AE_ERR_SIZE_OVERFLOW,
             "a batch of %zu rows is too large for this model", n_rows);
    n_rows += spare;
    const bool need_dropout = m->settings.dropout_hidden > 0.0f;
    if (m->work.batch_capacity >= n_rows && (!need_dropout || m->work.dropped))
        return AE_OK;
    if (m->work.batch_capacity > n_rows)
        n_rows = m->work.batch_capacity; /* growing for dropout: keep the capacity */
    /* Sizes: every layer's output for n_rows rows, two deltas of the widest layer,
     * and the gathered batch; all products overflow-checked. */
    size_t total = 0, batch_floats, delta_floats;
    bool ok = ae_mul_size(n_rows, ae_input_dim(m), &batch_floats) &&
              ae_mul_size(n_rows, m->max_width, &delta_floats);
    for (size_t l = 0; ok && l < m->n_layers; l++) {
        size_t layer_floats;
        ok = ae_mul_size(n_rows, m->layers[l].n_out, &layer_floats) && total <= SIZE_MAX - layer_floats;
        total += ok ? layer_floats : 0;
    }
    AE_CHECK(ok, m, AE_ERR_SIZE_OVERFLOW, "a batch of %zu rows is too large for this model", batch_rows);

    ae_workspace fresh = {0};
    fresh.batch = ae_alloc_floats(batch_floats);
    fresh.corrupted = ae_alloc_floats(batch_floats);
    fresh.activations = ae_alloc_floats(total);
    fresh.delta = ae_alloc_floats(delta_floats);
    fresh.delta_prev = ae_alloc_floats(delta_floats);
    fresh.activation_offsets = ae_calloc(m->n_layers, sizeof(size_t));
    fresh.columns = ae_calloc(m->max_width, 3 * sizeof(float));
    fresh.column_sums = ae_calloc(m->max_width, sizeof(double));
    if (ae_is_variational(m))
        fresh.code = ae_alloc_floats(n_rows * ae_latent_dim(m)); /* <= delta_floats: no overflow */
    if (need_dropout) {
        fresh.dropped = ae_alloc_floats(total);
        fresh.keep = ae_alloc(total);
        fresh.dropout_keys = ae_calloc(m->n_layers, sizeof(uint64_t));
    }
    if (!fresh.batch || !fresh.corrupted || !fresh.activations || !fresh.delta || !fresh.delta_prev ||
        !fresh.activation_offsets || !fresh.columns || !fresh.column_sums ||
        (need_dropout && (!fresh.dropped || !fresh.keep || !fresh.dropout_keys)) ||
        (ae_is_variational(m) && !fresh.code)) {
        ae_workspace_release(&fresh);
        return ae_fail(m, AE_ERR_OUT_OF_MEMORY, "out of memory for a batch of %zu rows", batch_rows);
    }
    size_t offset = 0;
    for (size_t l = 0; l < m->n_layers; l++) {
        fresh.activation_offsets[l] = offset;
        offset += n_rows * m->layers[l].n_out;
    }
    fresh.batch_capacity = n_rows;
    ae_workspace_release(&m->work);
    m->work = fresh;
    return AE_OK;
}

/* ---- loss and gradient -------------------------------------------------------- */

/* The output layer's loss over rows split between the model's threads; each part sums its
 * rows and the parts are added in order. */
typedef struct loss_task {
    const ae_model *model;
    float *y;
    const float *target;
    size_t ld_target;
    float *delta;
    float grad_scale;
    double partial[AE_MAX_THREADS];
} loss_task;

static void loss_range(void *context, size_t part, size_t begin, size_t end)
{
    loss_task *t = context;
    const ae_model *m = t->model;
    const ae_layer *top = &m->layers[m->n_layers - 1];
    t->partial[part] = ae_output_loss(
        t->y + begin * top->n_out, top->n_out, end - begin, top->n_out,
        t->target + begin * t->ld_target, t->ld_target, top->activation, m->settings.loss,
        &m->settings, t->delta ? t->delta + begin * top->n_out : NULL, t->grad_scale, NULL);
}

/* Rows per unit of work: enough elements that waking a thread pays off. */
static size_t loss_grain(size_t n_out) { return n_out >= 32768 ? 1 : 32768 / n_out; }

static bool variational_latent(const ae_model *m, size_t l)
{
    return ae_is_variational(m) && l == ae_latent_layer(m);
}

/* Whether layer l's outputs go through hidden dropout in this pass. */
static bool drops_out(const ae_model *m, size_t l, bool step)
{
    return step && m->settings.dropout_hidden > 0.0f && l + 1 < m->n_layers &&
           !variational_latent(m, l);
}

/* What layer l + 1 reads: layer l's output after hidden dropout, if any, or the code a
 * variational latent layer gives. */
static const float *layer_output_seen(const ae_model *m, size_t l, bool step)
{
    const ae_workspace *w = &m->work;
    if (variational_latent(m, l))
        return w->code;
    return (drops_out(m, l, step) ? w->dropped : w->activations) + w->activation_offsets[l];
}

/* Variational latent layer, forward, rows [first, first + n_rows) kept from workspace row
 * slot on: the code of each row, mean + exp(logvar / 2) * eps with eps drawn in a training
 * step (value (row * k + j) of the step's code key, so that parts of a split batch draw what
 * the whole batch would) and 0 otherwise. Returns the rows' KL divergence sum. */
static double sample_code(ae_model *m, size_t first, size_t slot, size_t n_rows, bool step)
{
    ae_workspace *w = &m->work;
    const size_t k = ae_latent_dim(m);
    const float *stats = w->activations + w->activation_offsets[ae_latent_layer(m)] + slot * 2 * k;
    float *codes = w->code + slot * k;
    if (step) /* the noise first, then each code from it in place */
        ae_standard_normals(w->code_key, first * k, n_rows * k, codes);
    double kl = 0.0;
    for (size_t i = 0; i < n_rows; i++) {
        const float *mean = stats + i * 2 * k, *log_var = mean + k;
        float *code = codes + i * k;
        for (size_t j = 0; j < k; j++) {
            double variance = exp((double)log_var[j]);
            kl += -0.5 * (1.0 + (double)log_var[j] - (double)mean[j] * mean[j] - variance);
            code[j] = step ? mean[j] + (float)(sqrt(variance) * (double)code[j]) : mean[j];
        }
    }
    return kl;
}

/* Variational latent layer, backward, rows kept from workspace row slot on: from
 * g = dObjective/dcode (n_rows x k) to dObjective/d(mean, logvar) (n_rows x 2k) in out, with
 * the KL term's own gradient. */
static void code_backward(const ae_model *m, const float *g, size_t slot, size_t n_rows, float *out)
{
    const ae_workspace *w = &m->work;
    const size_t k = ae_latent_dim(m);
    const float *stats = w->activations + w->activation_offsets[ae_latent_layer(m)] + slot * 2 * k;
    const float c = (float)(m->settings.kl_weight * m->kl_ramp / (w->mean_rows * (double)ae_input_dim(m)));
    for (size_t i = 0; i < n_rows; i++) {
        const float *mean = stats + i * 2 * k, *log_var = mean + k, *code = w->code + (slot + i) * k;
        const float *g_row = g + i * k;
        float *d_mean = out + i * 2 * k, *d_log_var = d_mean + k;
        for (size_t j = 0; j < k; j++) {
            /* code = mean + exp(logvar / 2) eps, so dcode/dlogvar = (code - mean) / 2; a
             * log-variance held at a bound of its clamp passes no gradient (as torch.clamp). */
            const bool clamped = log_var[j] <= AE_LOG_VARIANCE_MIN || log_var[j] >= AE_LOG_VARIANCE_MAX;
            d_mean[j] = g_row[j] + c * mean[j];
            d_log_var[j] = clamped ? 0.0f
                                   : 0.5f * g_row[j] * (code[j] - mean[j]) + c * 0.5f * expm1f(log_var[j]);
        }
    }
}

/* A block of a layer's outputs or deltas: rows [r0, r1) of the batch, units [j0, j1), kept
 * in the workspace `shift` rows further on (a part of a step split by rows: see
 * AE_PART_GAP_ROWS; 0 otherwise). A row's place in the batch decides its random draws, its
 * place in the workspace only where its values are kept. */
typedef struct share {
    size_t r0, r1, j0, j1;
    size_t shift;
} share;

/* Layer l's outputs over a share, from in (the layer's input at row s.r0, leading dimension
 * ld_in): the product, the activation and, in a training step, hidden dropout (value
 * i * width + j of the layer's key, as the whole batch draws it). */
static void layer_forward_share(ae_model *m, size_t l, const float *copies, const float *in,
                                size_t ld_in, share s, bool step)
{
    ae_workspace *w = &m->work;
    const ae_layer *L = &m->layers[l];
    const size_t width = L->n_out, n_rows = s.r1 - s.r0, n_units = s.j1 - s.j0;
    const size_t at = w->activation_offsets[l] + (s.r0 + s.shift) * width + s.j0;
    float *out = w->activations + at - s.j0;
    linear_columns(m, l, forward_copy(m, copies, l), in, ld_in, n_rows, out, width, s.j0, s.j1);
    ae_activate(out + s.j0, width, n_rows, n_units, L->activation, &m->settings);
    if (!drops_out(m, l, step))
        return;
    const bool whole = n_units == width; /* rows back to back: one span */
    for (size_t i = 0; i < n_rows; i += whole ? n_rows : 1)
        ae_dropout(w->activations + at + i * width, width, whole ? n_rows : 1, n_units,
                   m->settings.dropout_hidden, w->dropout_keys[l], (s.r0 + i) * width + s.j0,
                   w->dropped + at + i * width, w->keep + at + i * width);
}

/* A share of layer `below`'s delta (delta at row s.r0, unit 0, leading dimension the
 * layer's width) through its hidden dropout and its activation, with the penalties of its
 * outputs, which are only ever active in a step run whole (whole rows from row 0). */
static void delta_through_share(const ae_model *m, size_t below, float *delta, share s, bool step)
{
    const ae_workspace *w = &m->work;
    const size_t width = m->layers[below].n_out, n_rows = s.r1 - s.r0, n_units = s.j1 - s.j0;
    const size_t at = w->activation_offsets[below] + (s.r0 + s.shift) * width + s.j0;
    const bool whole = n_units == width, penalties = ae_penalties_active(&m->settings);
    const size_t span = whole ? n_rows * width : n_units; /* rows back to back: one span */
    for (size_t i = 0; i < n_rows; i += whole ? n_rows : 1) {
        float *d = delta + i * width + s.j0;
        if (drops_out(m, below, step))
            ae_dropout_backward(d, w->keep + at + i * width, span, m->settings.dropout_hidden);
        if (penalties)
            ae_penalties_activation_grad(m, below, d, n_rows);
        ae_mul_activation_derivative(d, w->activations + at + i * width, span,
                                     m->layers[below].activation, &m->settings);
        if (penalties)
            ae_penalties_preactivation_grad(m, below, d, n_rows);
    }
}

/* Rows [first, first + n) of the batch on their way through the network: kept in the
 * workspace's blocks from row slot on (first, but in a part of a step split by rows), and
 * multiplied by the transposed copies `copies` where the pass has them (NULL: by W). */
typedef struct row_pass {
    size_t first, slot, n;
    const float *copies;
} row_pass;

/* Forward through the rows of r (x and target point at its first row), keeping every layer's
 * output; the output loss is split between the model's threads when split_loss. Returns the
 * loss sum; a variational model's KL divergence sum goes to *kl. */
static double forward_rows(ae_model *m, const float *x, size_t ld_x, const float *target,
                           size_t ld_target, row_pass r, float *delta, bool step, bool split_loss,
                           double *kl)
{
    ae_workspace *w = &m->work;
    const size_t last = m->n_layers - 1, first = r.first, slot = r.slot, n_rows = r.n;
    const float *in = x;
    size_t ld_in = ld_x;
    for (size_t l = 0; l < last; l++) {
        const size_t width = m->layers[l].n_out, at = w->activation_offsets[l] + slot * width;
        layer_forward_share(m, l, r.copies, in, ld_in,
                            (share){first, first + n_rows, 0, width, slot - first}, step);
        if (variational_latent(m, l)) {
            ae_clamp_log_variance(w->activations + at, n_rows, ae_latent_dim(m));
            *kl = sample_code(m, first, slot, n_rows, step);
        }
        in = layer_output_seen(m, l, step) + slot * m->layers[l + 1].n_in;
        ld_in = m->layers[l + 1].n_in;
    }
    /* The output layer is fused with the loss and its gradient. */
    const ae_layer *top = &m->layers[last];
    float *y = w->activations + w->activation_offsets[last] + slot * top->n_out;
    /* With a delta this is a training pass, whose mean is over w->mean_rows rows (every
     * participant's); a bare loss is over its own rows. */
    float grad_scale = 1.0f / (float)((delta ? w->mean_rows : (double)n_rows) * (double)top->n_out);
    linear_columns(m, last, forward_copy(m, r.copies, last), in, ld_in, n_rows, y, top->n_out, 0,
                   top->n_out);
    loss_task task = {.model = m, .y = y, .target = target, .ld_target = ld_target, .delta = delta,
                      .grad_scale = grad_scale};
    if (!split_loss) {
        loss_range(&task, 0, 0, n_rows);
        return task.partial[0];
    }
    ae_pool_run(m->pool, loss_range, &task, n_rows, loss_grain(top->n_out));
    double sum = 0.0;
    for (size_t part = 0; part < ae_pool_threads(m->pool); part++)
        sum += task.partial[part];
    return sum;
}

double ae_net_forward_loss(ae_model *m, const float *x, size_t ld_x, const float *target,
                           size_t ld_target, size_t n_rows, float *delta, bool step)
{
    double kl = 0.0;
    const row_pass rows = {.first = 0, .slot = 0, .n = n_rows, .copies = m->work.forward_weights};
    const double loss = forward_rows(m, x, ld_x, target, ld_target, rows, delta, step, true, &kl);
    m->work.kl_sum = kl;
    return loss;
}

/* Hand the engine the gradient spans layer l has finished: its bias, and its weights unless
 * they are a tied decoder layer's share of its mirror's (complete when the mirror is done). */
static int announce_layer(ae_model *m, size_t l)
{
    const ae_layer *L = &m->layers[l];
    if (!L->transposed)
        AE_FORWARD(ae_hooks_gradient_ready(m, L->weight_offset, L->n_out * L->n_in));
    return ae_hooks_gradient_ready(m, L->bias_offset, L->n_out);
}

/* What layer l reads for the rows kept from workspace row slot on: the output of the layer
 * below as it saw it, or the batch (x, at the rows' first); its leading dimension in *ld. */
static const float *layer_input(const ae_model *m, size_t l, const float *x, size_t ld_x,
                                size_t slot, bool step, size_t *ld)
{
    if (l == 0) {
        *ld = ld_x;
        return x;
    }
    *ld = m->layers[l].n_in;
    return layer_output_seen(m, l - 1, step) + slot * m->layers[l].n_in;
}

/* Layer l's gradients from its delta (n_rows x n_out, packed) and its input a_prev: rows
 * [r0, r1) of its stored weight matrix (W's rows, one per unit, or for a tied decoder layer
 * the rows of its mirror's V = W^T), and its biases if asked; added to what grads holds when
 * `add` (the rows of a batch taken a chunk at a time). The whole layer is r0 = 0, r1 the
 * matrix's rows and the biases; a part of the rows is the same arithmetic for those
 * elements, so a layer split by units between threads gives the same gradient. */
static void layer_gradients(const ae_model *m, size_t l, const float *a_prev, size_t ld_prev,
                            const float *delta, size_t n_rows, float *grads, size_t r0, size_t r1,
                            bool biases, bool add)
{
    const ae_layer *L = &m->layers[l];
    const int n_out = (int)L->n_out, n_in = (int)L->n_in;
    float *grad_w = grads + L->weight_offset;
    /* One row: the products below have an inner dimension of 1, which sgemm pays for with a
     * pass to scale C, packing and a call per layer; an outer product does the same
     * arithmetic directly (the streaming and online case). A single row is never split. */
    if (n_rows == 1 && L->transposed)
        ae_outer_product(a_prev, L->n_in, delta, L->n_out, grad_w, L->n_out, add);
    else if (n_rows == 1)
        ae_outer_product(delta, L->n_out, a_prev, L->n_in, grad_w, L->n_in, L->shared_grad || add);
    else if (r1 > r0) {
        /* The products add to their outputs (beta = 1), cleared here first unless they hold
         * a tied layer's share: OpenBLAS's own clearing pass (beta = 0) costs a narrow
         * model's step more than a memset. */
        const size_t row_width = L->transposed ? L->n_out : L->n_in;
        if (!L->shared_grad && !add)
            memset(grad_w + r0 * row_width, 0, (r1 - r0) * row_width * sizeof *grad_w);
        if (L->transposed) /* dV = A_prev^T delta for the mirror's V = W^T; written first */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(r1 - r0), n_out, (int)n_rows,
                        1.0f, a_prev + r0, (int)ld_prev, delta, n_out, 1.0f,
                        grad_w + r0 * row_width, n_out);
        else /* dW = delta^T A_prev, added to a tied decoder layer's share */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(r1 - r0), n_in, (int)n_rows,
                        1.0f, delta + r0, n_out, a_prev, (int)ld_prev, 1.0f,
                        grad_w + r0 * row_width, n_in);
    }
    if (biases)
        ae_column_sums(delta, n_rows, L->n_out, grads + L->bias_offset, add);
}

/* Columns [i0, i1) of dObjective/dA_prev = delta W for layer l, delta packed n_rows x n_out,
 * into out (leading dimension n_in, addressing the whole): cleared, and the product added
 * to the zeros (a memset costs a narrow model's step less than OpenBLAS's clearing pass). */
static void input_gradient_columns(const ae_model *m, size_t l, const float *delta, size_t n_rows,
                                   float *out, size_t i0, size_t i1)
{
    const ae_layer *L = &m->layers[l];
    const int n_units = (int)(i1 - i0), n_out = (int)L->n_out;
    if (i1 - i0 == L->n_in)
        memset(out, 0, n_rows * L->n_in * sizeof *out);
    else
        for (size_t i = 0; i < n_rows; i++)
            memset(out + i * L->n_in + i0, 0, (i1 - i0) * sizeof *out);
    /* W is stored n_out x n_in, the units below are its columns; or V = W^T, n_in x n_out,
     * and they are its rows */
    const float *w = m->params + L->weight_offset + (L->transposed ? i0 * L->n_out : i0);
    const int ld_w = (int)(L->transposed ? L->n_out : L->n_in);
    if (n_rows == 1) /* out = W^T delta */
        cblas_sgemv(CblasRowMajor, L->transposed ? CblasNoTrans : CblasTrans,
                    L->transposed ? n_units : n_out, L->transposed ? n_out : n_units, 1.0f, w, ld_w,
                    delta, 1, 1.0f, out + i0, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, L->transposed ? CblasTrans : CblasNoTrans,
                    (int)n_rows, n_units, n_out, 1.0f, delta, n_out, w, ld_w, 1.0f, out + i0,
                    (int)L->n_in);
}

/* Layer l's deltas from row `first` on in a split step's store (laid out as the activations). */
static float *stored_delta(const ae_model *m, size_t l, size_t first)
{
    return m->work.deltas + m->work.activation_offsets[l] + first * m->layers[l].n_out;
}

/* The backward pass proper over the rows of r (r.n >= 1), from the output delta forward_rows
 * left. Each layer's weight and bias gradients are written into grads (a
 * buffer of the model's layout), or added to it when `add`, and its spans announced to the
 * engine. A part of a step
 * split by units passes grads NULL instead: its deltas are computed in place in the split
 * store (stored_delta), where forward_rows left the output delta, and the gradients are
 * left to split_layer_gradients. A part of a split step has neither penalties nor an engine
 * (split_parts), so the penalties' terms and the announcements, which work on the model's
 * own gradient, are then no-ops. */
static int backward_rows(ae_model *m, const float *x, size_t ld_x, row_pass r, bool step,
                         float *grads, bool add)
{
    ae_workspace *w = &m->work;
    const size_t first = r.first, slot = r.slot, n_rows = r.n;
    const bool penalties = ae_penalties_active(&m->settings);
    const size_t last = m->n_layers - 1;
    /* delta holds dLoss/dZ of layer l for rows [first, first + n_rows); without a store it
     * alternates with spare, the next layer's, each in its own buffer; a part's rows start
     * at slot * max_width in either, so that parts at different layers (of different
     * widths) never overlap. With a store, spare only holds a variational code's gradient. */
    const bool store = grads == NULL;
    float *delta = store ? stored_delta(m, last, slot) : w->delta + slot * m->max_width;
    float *spare = w->delta_prev + slot * m->max_width;
    for (size_t l = last + 1; l-- > 0;) {
        const ae_layer *L = &m->layers[l];
        if (!store) {
            size_t ld_prev;
            const float *a_prev = layer_input(m, l, x, ld_x, slot, step, &ld_prev);
            layer_gradients(m, l, a_prev, ld_prev, delta, n_rows, grads, 0,
                            L->transposed ? L->n_in : L->n_out, true, add);
            if (penalties)
                ae_penalties_weight_grad(m, l);
            AE_FORWARD(announce_layer(m, l));
        }
        if (l == 0)
            break; /* no gradient with respect to the data */
        const size_t below = l - 1;
        float *below_delta = store ? stored_delta(m, below, slot) : spare;
        /* delta_prev = (delta W) * act'(A_prev), through dropout and with the penalties of
         * layer l - 1's outputs; the product added to zeros, as above. A variational latent
         * layer's comes from its code's gradient, computed first in spare. */
        float *delta_prev = variational_latent(m, below) ? spare : below_delta;
        input_gradient_columns(m, l, delta, n_rows, delta_prev, 0, L->n_in);
        if (variational_latent(m, below)) {
            /* without a store, delta is free now: it receives the latent layer's (linear)
             * delta, and spare stays the spare */
            float *latent_delta = store ? stored_delta(m, below, slot) : delta;
            code_backward(m, delta_prev, slot, n_rows, latent_delta);
            delta = latent_delta;
            continue;
        }
        delta_through_share(m, below, delta_prev, (share){first, first + n_rows, 0, L->n_in, slot - first},
                            step);
        if (!store)
            spare = delta;
        delta = delta_prev;
    }
    return AE_OK;
}

/* ---- row-split steps ------------------------------------------------------------ */

/* OpenBLAS's own thread count, when the library runs on OpenBLAS; any other CBLAS lacks
 * the symbol, and the weak reference is then NULL. */
extern int openblas_get_num_threads(void) __attribute__((weak));

/* A split step is worth it when each part's rows outweigh what a pass through the network
 * costs whatever its rows (a BLAS call per product; the elementwise passes' set-up; the
 * parts' meeting), which every part pays again: from a part's work (multiply-adds of the
 * forward and the two backward products over its rows) of 2^20, or, from 64 rows and
 * 49,152 multiply-adds a part, from a part's work times its rows, 2^22: the fewer
 * multiply-adds a row costs, the more rows a part needs. That product was 2^24, beside a
 * rule for cheap rows from 128 rows and 65,536 multiply-adds a part (training loops, 2
 * threads: 30-16-4 1.29x at 256 rows; 16-8-2 1.10x at 256; BCE loops after the transposed
 * forward of split parts: 64-32-8 1.10-1.13x at 128 rows, 48-24-6 1.10-1.13x at 128 and
 * 1.23-1.26x at 192, 30-16-4 1.09-1.15x at 160 and 192, 24-12-3 1.05-1.11x at 192). Once the
 * parts no longer shared cache lines (ae_alloc, the gap between parts, their own copies) the
 * step gained in more cases (bench/ab_loops.sh, 7 rounds: 30-16-4 1.16x at 128 rows, 24-12-3
 * 1.18x and 1.20x at 128 and 160, 16-8-2 1.14x and 1.17x at 160 and 192, 1.08x at 144), and
 * 2^22 takes in the cheap rows' rule (128 rows a part of 2^16 multiply-adds make 2^23). The
 * cheapest rows need the work a part too: 8-4-2 lost at 272 rows (0.80x; 32,640 a part),
 * gained at 384 (1.07x; 46,080) and 512 (1.30x). Left whole: 16-8-2 at 128 rows (2^21.8;
 * forced, 1.07x in a quick grid), and every model below 64 rows a part (forced: 64-32-8 at 96
 * rows 1.03x, at 64 0.85x; 30-16-4 at 64 0.76x). */
#define AE_SPLIT_MIN_WORK_PER_PART 1048576.0 /* 2^20 */
#define AE_SPLIT_MIN_ROWS_PER_PART 64
#define AE_SPLIT_MIN_WORK_OF_ROWS_PER_PART 49152.0
#define AE_SPLIT_MIN_WORK_TIMES_ROWS_PER_PART 4194304.0 /* 2^22 */

/* Workspace rows left unused between two parts of a step split by rows. Each part writes its
 * rows of every layer's outputs and deltas; where one part's rows end and the next one's
 * begin, the cores would share cache lines, or lines one core fetches ahead of those it reads
 * while the other writes them, and each such line moves between the cores. Set apart, each
 * part's rows stay in its own core's cache. Training loops of split steps (bench/ab_loops.sh,
 * 9 rounds, blocks already on lines of their own, see ae_alloc): 30-16-4 1.03x at 256 rows
 * and 1.02x at 1024, 48-24-6 1.03-1.04x at 128-1024, 64-32-8 1.04-1.05x at 128 and 256. */
#define AE_PART_GAP_ROWS 16

size_t ae_blas_one_thread_rows(const ae_model *m, size_t first, size_t last)
{
    const double widest = fmax(1.0, widest_layer(m, first, last));
    const size_t rows = (size_t)(AE_BLAS_ONE_THREAD_WORK / widest);
    return rows >= AE_BLAS_MIN_CHUNK_ROWS ? rows / 16 * 16 : 0;
}

/* Whether this step's rows go to the model's threads, each running its own rows through
 * the whole network with single-threaded BLAS calls (faster than one BLAS call at a time
 * split by the BLAS's threads, which meet at every call), and in chunks of how many rows
 * (*chunk). Only when every call from the model's threads runs on the calling thread, so
 * that they neither queue on the BLAS's lock nor oversubscribe the cores: with OpenBLAS on
 * one thread per call (OPENBLAS_NUM_THREADS=1), whole; with its threads, for a model narrow
 * enough that chunks of ae_blas_one_thread_rows keep every product under its threading
 * threshold, by rows in such chunks. And only for steps whose rows are independent until
 * the gradient sum: no draws from the model's generator inside the net (hidden dropout's and
 * the variational codes' keys are drawn before the split), no penalties of batch statistics,
 * no engine. */
static size_t split_parts(const ae_model *m, size_t n_rows, size_t *chunk)
{
    const size_t threads = ae_pool_threads(m->pool);
    if (threads < 2 || n_rows < 2 * threads || m->has_hooks || ae_penalties_active(&m->settings) ||
        !openblas_get_num_threads)
        return 1;
    *chunk = openblas_get_num_threads() == 1 ? n_rows : ae_blas_one_thread_rows(m, 0, m->n_layers);
    if (*chunk == 0)
        return 1;
    /* the forward and the two backward products */
    const double rows_per_part = (double)n_rows / (double)threads;
    const double work_per_part = 3.0 * all_weights(m) * rows_per_part;
    const bool worth_it = work_per_part >= AE_SPLIT_MIN_WORK_PER_PART ||
                          (n_rows >= AE_SPLIT_MIN_ROWS_PER_PART * threads &&
                           work_per_part >= AE_SPLIT_MIN_WORK_OF_ROWS_PER_PART &&
                           work_per_part * rows_per_part >= AE_SPLIT_MIN_WORK_TIMES_ROWS_PER_PART);
    return worth_it ? threads : 1;
}

/* How a split step forms its layer gradients. By rows, each part writes a whole gradient of
 * its own rows (the optimizer then adds the parts); by units, every part first stores its
 * rows' deltas, then computes its share of every layer's weight rows over the whole batch
 * (nothing to add, but each part reads every row). The parts' extra traffic is their
 * gradients' writes and reads against the batch's rows of every layer's inputs and deltas:
 * units win while the rows' traffic is the smaller, up to a factor of 2 (one BLAS thread,
 * steps of both ways alternating in one process: by units the reference model was 4-9%
 * faster at 64 rows and 4% at 256, 3-4% slower at 1024; 64-32-8 even at 256 rows, 5-15%
 * slower at 1024). By units every product spans the whole batch: only when a pass of at most
 * `chunk` rows holds it. */
static bool split_by_units(const ae_model *m, size_t n_rows, size_t chunk)
{
    if (n_rows > chunk)
        return false;
    double gradient = 0.0, row = 0.0;
    for (size_t l = 0; l < m->n_layers; l++) {
        gradient += layer_weights(m, l);
        row += (double)m->layers[l].n_in + (double)m->layers[l].n_out;
    }
    return (double)n_rows * row <= 2.0 * gradient;
}

size_t ae_split_spare_rows(const ae_model *m, size_t n_rows)
{
    size_t chunk = n_rows;
    const size_t parts = split_parts(m, n_rows, &chunk);
    return parts > 1 && !split_by_units(m, n_rows, chunk) ? (parts - 1) * AE_PART_GAP_ROWS : 0;
}

typedef struct split_task {
    ae_model *model;
    const float *x, *target;
    size_t ld_x, ld_target;
    size_t n_rows, parts;
    bool step, by_units;
    bool by_layers;        /* by units, layer by layer (layered_forward_backward) */
    ae_meeting layer_done; /* by layers: every part has its share of a layer */
    size_t chunk;          /* by rows: rows per pass through the network (split_parts) */
    size_t gap_rows;       /* by rows: workspace rows between two parts' (AE_PART_GAP_ROWS) */
    ae_meeting rows_done;  /* by units: every part has stored its rows' deltas */
    double loss[AE_MAX_THREADS], kl[AE_MAX_THREADS];
    /* A training step by units applies the update too (update_share), each part to the
     * parameters whose gradients it formed, while they are in its cache. */
    bool update;
    ae_update_plan plan;
    ae_meeting gradients_done; /* every part has its gradients' sum of squares */
    double squares[AE_MAX_THREADS];
    uint32_t special[AE_MAX_THREADS];
    bool loss_finite, gradient_finite; /* the verdicts, written by part 0 */
} split_task;

/* [*begin, *end) of n units for part `part` of `parts`, in equal shares. */
static void unit_share(size_t n, size_t parts, size_t part, size_t *begin, size_t *end)
{
    *begin = n * part / parts;
    *end = n * (part + 1) / parts;
}

/* Whether part `part` of a split by units sums layer l's biases (every parts-th layer). */
static bool sums_biases(const split_task *t, size_t l, size_t part) { return l % t->parts == part; }

/* The weights of layer l whose gradient part `part` completes, as a span of the flat layout:
 * its rows of W. A tied decoder layer's rows are its mirror's, complete at the mirror. */
static size_t weight_share(const split_task *t, size_t l, size_t part, size_t *begin)
{
    const ae_layer *L = &t->model->layers[l];
    if (L->transposed)
        return 0;
    size_t r0, r1;
    unit_share(L->n_out, t->parts, part, &r0, &r1);
    *begin = L->weight_offset + r0 * L->n_in;
    return (r1 - r0) * L->n_in;
}

/* The layer gradients of a step split by units: part p computes its share of every layer's
 * weight rows over the whole batch, from the deltas every part stored, and the biases of
 * every parts-th layer (whole, so that their column sums take the unsplit step's path).
 * Each element is the unsplit step's arithmetic, so nothing is left to add, and the layers
 * go from the last to the first as in backward_rows, so that a tied decoder layer's share
 * is written before its mirror adds to it. Returns the sum of squares of the gradients the
 * part completed when the step applies the update (each taken while it is in cache). */
static double split_layer_gradients(const split_task *t, size_t part)
{
    ae_model *m = t->model;
    double squares = 0.0;
    for (size_t l = m->n_layers; l-- > 0;) {
        const ae_layer *L = &m->layers[l];
        size_t ld_prev, r0, r1, begin = 0;
        const float *a_prev = layer_input(m, l, t->x, t->ld_x, 0, t->step, &ld_prev);
        unit_share(L->transposed ? L->n_in : L->n_out, t->parts, part, &r0, &r1);
        layer_gradients(m, l, a_prev, ld_prev, stored_delta(m, l, 0), t->n_rows, m->grads, r0, r1,
                        sums_biases(t, l, part), false);
        if (!t->update)
            continue;
        const size_t n = weight_share(t, l, part, &begin);
        squares += n ? ae_sum_squares(m->grads + begin, n) : 0.0;
        if (sums_biases(t, l, part))
            squares += ae_sum_squares(m->grads + L->bias_offset, L->n_out);
    }
    return squares;
}

/* The optimizer's update of the parameters whose gradients part `part` completed, applied as
 * ae_optimizer_step would (new values over the gradient, kept by it), once every part has
 * its sum of squares: the global norm decides clipping, and a norm or a loss that is not
 * finite leaves everything as it was. Every part reaches the same verdict from the same
 * sums, added in part order. */
static void update_share(split_task *t, size_t part, double squares)
{
    ae_model *m = t->model;
    t->squares[part] = squares;
    ae_meet(&t->gradients_done);
    double sum = 0.0, loss = 0.0, kl = 0.0;
    for (size_t p = 0; p < t->parts; p++) {
        sum += t->squares[p];
        loss += t->loss[p];
        kl += t->kl[p];
    }
    const double norm = sqrt(sum);
    const bool loss_finite = isfinite(loss) && isfinite(kl), gradient_finite = isfinite(norm);
    if (part == 0) {
        t->loss_finite = loss_finite;
        t->gradient_finite = gradient_finite;
    }
    uint32_t special = 0;
    if (loss_finite && gradient_finite) {
        const float clip = ae_clip_scale(m, norm);
        for (size_t l = 0; l < m->n_layers; l++) {
            const ae_layer *L = &m->layers[l];
            size_t begin = 0, n = weight_share(t, l, part, &begin);
            if (n && clip < 1.0f)
                ae_scale(m->grads + begin, n, clip);
            if (n)
                special |= ae_optimizer_update_span(m, &t->plan, begin, begin + n);
            if (!sums_biases(t, l, part))
                continue;
            if (clip < 1.0f)
                ae_scale(m->grads + L->bias_offset, L->n_out, clip);
            special |= ae_optimizer_update_span(m, &t->plan, L->bias_offset, L->bias_offset + L->n_out);
        }
    }
    t->special[part] = special;
}

/* A part's share of one product of a step split layer by layer (n_rows x n_cols). The part
 * whose rows would read every weight of the product takes a share of its columns instead
 * when they outnumber the rows: a part of the rows packs the whole weight matrix, a part of
 * the columns the whole input, and at tens of rows the packing costs about what the
 * arithmetic does. */
static share product_share(const split_task *t, size_t part, size_t n_cols)
{
    share s = {0, t->n_rows, 0, n_cols, 0};
    if (n_cols > t->n_rows)
        unit_share(n_cols, t->parts, part, &s.j0, &s.j1);
    else
        unit_share(t->n_rows, t->parts, part, &s.r0, &s.r1);
    return s;
}

/* Whether a step split by units runs its products layer by layer (layered_forward_backward)
 * rather than each part's rows through the whole network. Layer by layer, each part packs
 * only its share of the weights, but the parts meet 2L - 1 times and exchange every layer's
 * outputs and deltas through the caches. Measured with the reference model and others from
 * 256-128-32 to 4096-2048-1024-256 (one BLAS thread, two parts, both ways alternating in
 * one process): it wins while the rows per part are fewer than 64 and the weights per
 * meeting reach about 1024 per row of a part (the reference model: 1.14x at 32 rows, 1.09x
 * at 64, 1.02x at 120, even at 128; 784-256-64 1.07x at 64 rows, 0.99x at 96; 512-256-64
 * 0.99x at 64; 256-128-32 0.89x). Not for a variational latent layer, whose code pairs a
 * unit of each half. */
#define AE_LAYERED_MAX_ROWS_PER_PART 64
#define AE_LAYERED_MIN_WEIGHTS_PER_MEETING_ROW 1024.0

static bool splits_layers(const ae_model *m, size_t n_rows, size_t parts)
{
    const size_t rows_per_part = (n_rows + parts - 1) / parts;
    if (ae_is_variational(m) || rows_per_part >= AE_LAYERED_MAX_ROWS_PER_PART)
        return false;
    const double meetings = 2.0 * (double)m->n_layers - 1.0;
    return all_weights(m) >= AE_LAYERED_MIN_WEIGHTS_PER_MEETING_ROW * (double)rows_per_part * meetings;
}

/* A part of a step split by units, over the whole batch, layer by layer: its share
 * (product_share) of every layer's output, forward to the loss of its share of the output,
 * and of every layer's delta back, into the split store; the parts meet after each layer,
 * whose every element the next one reads. Returns the part's loss sum. */
static double layered_forward_backward(split_task *t, size_t part)
{
    ae_model *m = t->model;
    ae_workspace *w = &m->work;
    const size_t last = m->n_layers - 1;
    const float *in = t->x;
    size_t ld_in = t->ld_x;
    for (size_t l = 0; l < last; l++) {
        const share s = product_share(t, part, m->layers[l].n_out);
        layer_forward_share(m, l, w->forward_weights, in + s.r0 * ld_in, ld_in, s, t->step);
        ae_meet(&t->layer_done);
        in = layer_output_seen(m, l, t->step);
        ld_in = m->layers[l].n_out;
    }
    const ae_layer *top = &m->layers[last];
    const share s = product_share(t, part, top->n_out);
    float *y = w->activations + w->activation_offsets[last] + s.r0 * top->n_out;
    linear_columns(m, last, forward_copy(m, w->forward_weights, last), in + s.r0 * ld_in, ld_in,
                   s.r1 - s.r0, y, top->n_out, s.j0, s.j1);
    const float grad_scale = 1.0f / (float)(w->mean_rows * (double)top->n_out);
    const double loss = ae_output_loss(
        y + s.j0, top->n_out, s.r1 - s.r0, s.j1 - s.j0, t->target + s.r0 * t->ld_target + s.j0,
        t->ld_target, top->activation, m->settings.loss, &m->settings,
        stored_delta(m, last, s.r0) + s.j0, grad_scale, NULL);
    for (size_t l = last; l > 0; l--) {
        ae_meet(&t->layer_done); /* layer l's delta, every element */
        const share b = product_share(t, part, m->layers[l].n_in);
        float *below = stored_delta(m, l - 1, b.r0);
        input_gradient_columns(m, l, stored_delta(m, l, b.r0), b.r1 - b.r0, below, b.j0, b.j1);
        delta_through_share(m, l - 1, below, b, t->step);
    }
    return loss;
}

/* The transposed copies part `part` of a step split by rows multiplies by: the caller's
 * (part 0), or a part's own, made here from the weights. A core then never reads copies
 * another core has just written, nor does the next step's caller write over lines of copies
 * the other cores hold (training loops, bench/ab_loops.sh, 9 rounds: 48-24-6 1.08x at 128 rows
 * and 1.03x at 256, 64-32-8 1.03x at 128 to 1024, 30-16-4 1.04x at 256 and even at 1024).
 * Without memory for them, the caller's. */
static const float *part_forward_copies(const split_task *t, size_t part)
{
    const ae_model *m = t->model;
    const ae_workspace *w = &m->work;
    if (part == 0 || !w->forward_weights || w->part_copies_count < t->parts)
        return w->forward_weights;
    float *own = w->part_copies + (part - 1) * m->n_params;
    transpose_copied_layers(m, w->forward_copies, own);
    return own;
}

/* A part of a step split by rows: its rows forward, their loss, and backward into its own
 * gradient buffer (part 0 into the model's), t->chunk rows at a time, each chunk's gradient
 * added to the chunks' before it. Its rows are kept part * t->gap_rows rows further on in the
 * workspace than the batch's order puts them (see AE_PART_GAP_ROWS). */
static void rows_in_chunks(split_task *t, size_t part, size_t begin, size_t end)
{
    ae_model *m = t->model;
    ae_workspace *w = &m->work;
    float *grads = part ? w->part_grads + (part - 1) * m->n_params : m->grads;
    const float *copies = part_forward_copies(t, part);
    t->loss[part] = t->kl[part] = 0.0;
    for (size_t first = begin; first < end; first += t->chunk) {
        const row_pass r = {.first = first,
                            .slot = first + part * t->gap_rows,
                            .n = end - first < t->chunk ? end - first : t->chunk,
                            .copies = copies};
        const float *x = t->x + first * t->ld_x;
        double kl = 0.0;
        t->loss[part] += forward_rows(m, x, t->ld_x, t->target + first * t->ld_target, t->ld_target, r,
                                      w->delta + r.slot * m->max_width, t->step, false, &kl);
        t->kl[part] += kl;
        (void)backward_rows(m, x, t->ld_x, r, t->step, grads, first > begin);
    }
}

/* One part of a split step. By rows, rows_in_chunks. By units, every layer's delta for
 * the whole batch in the workspace's store, each part doing its rows through the whole
 * network or, by layers, its share of each layer; then, once every part has stored its
 * share (the parts run at once, one per thread: split_parts gives each thread rows), its
 * share of the layer gradients, and in a training step the update of that share
 * (update_share). Waiting here rather than in a second pool task spares the threads a sleep
 * and a wake-up, which cost a narrow model's step more than its products. */
static void split_range(void *context, size_t part, size_t begin, size_t end)
{
    split_task *t = context;
    ae_model *m = t->model;
    const float *x = t->x + begin * t->ld_x;
    if (!t->by_units) {
        rows_in_chunks(t, part, begin, end);
        return;
    }
    if (t->by_layers) {
        t->loss[part] = layered_forward_backward(t, part);
        t->kl[part] = 0.0;
    } else {
        const row_pass r = {.first = begin, .slot = begin, .n = end - begin, .copies = m->work.forward_weights};
        t->loss[part] = forward_rows(m, x, t->ld_x, t->target + begin * t->ld_target, t->ld_target, r,
                                     stored_delta(m, m->n_layers - 1, begin), t->step, false,
                                     &t->kl[part]);
        (void)backward_rows(m, x, t->ld_x, r, t->step, NULL, false);
    }
    ae_meet(&t->rows_done);
    const double squares = split_layer_gradients(t, part);
    if (t->update)
        update_share(t, part, squares);
}

/* Gradient elements per unit of the parts' sum split between threads (as the optimizer's). */
#define AE_SUM_GRAIN 32768

void ae_add_part_gradients(const ae_model *m, size_t parts, size_t begin, size_t end)
{
    for (size_t p = 1; p < parts; p++)
        ae_add(m->grads + begin, m->work.part_grads + (p - 1) * m->n_params + begin, end - begin);
}

typedef struct sum_task {
    ae_model *model;
    size_t parts;
} sum_task;

static void sum_range(void *context, size_t part, size_t begin, size_t end)
{
    (void)part;
    const sum_task *t = context;
    ae_add_part_gradients(t->model, t->parts, begin, end);
}

/* A buffer of n_params floats for each of parts 1 .. parts - 1 (the parts' gradients or their
 * transposed copies), grown if *count, the parts it holds, is fewer: false if it could not be. */
static bool hold_parts(const ae_model *m, size_t parts, float **buffer, size_t *count)
{
    size_t floats;
    if (*count >= parts)
        return true;
    float *fresh = ae_mul_size(parts - 1, m->n_params, &floats) ? ae_alloc_floats(floats) : NULL;
    if (!fresh)
        return false;
    ae_free(*buffer);
    *buffer = fresh;
    *count = parts;
    return true;
}

/* What a split step needs beyond the workspace, allocated at the first such step: by
 * units, the store of every layer's delta, laid out as the activations (the workspace,
 * rebuilt when the batch grows, starts without it); by rows, gradient buffers for parts
 * 1 .. parts - 1, and their own transposed copies where the pass multiplies by copies. */
static int reserve_split(ae_model *m, size_t parts, bool by_units)
{
    ae_workspace *w = &m->work;
    if (by_units) {
        if (w->deltas)
            return AE_OK;
        /* As many floats as the activations, whose size was checked when they were allocated. */
        const size_t last = m->n_layers - 1;
        const size_t floats = w->activation_offsets[last] + w->batch_capacity * m->layers[last].n_out;
        w->deltas = ae_alloc_floats(floats);
        AE_CHECK(w->deltas != NULL, m, AE_ERR_OUT_OF_MEMORY, "out of memory for a split step's deltas");
        return AE_OK;
    }
    /* without copies of their own the parts share the caller's (part_forward_copies) */
    if (w->forward_weights)
        (void)hold_parts(m, parts, &w->part_copies, &w->part_copies_count);
    AE_CHECK(hold_parts(m, parts, &w->part_grads, &w->part_count), m, AE_ERR_OUT_OF_MEMORY,
             "out of memory for %zu threads' gradients", parts);
    return AE_OK;
}

/* Loss sum, KL sum and gradient of a batch split by rows between the model's threads, the
 * layer gradients formed by units or by rows (split_by_units). A training step by units
 * applies the optimizer's update inside the split, where each part's gradients are still in
 * its cache, and leaves it in work.applied for ae_optimizer_step to judge and keep: that
 * spares the update's own pass over the gradient and the norm's (one thread, steps of both
 * builds alternating in one process: the reference model 1.03-1.09x faster at 64 rows,
 * even at 256). */
static int split_forward_backward(ae_model *m, const float *x, size_t ld_x, const float *target,
                                  size_t ld_target, size_t n_rows, size_t parts, size_t chunk,
                                  bool step, double *loss_sum, double *kl_sum)
{
    const bool by_units = split_by_units(m, n_rows, chunk);
    AE_FORWARD(reserve_split(m, parts, by_units));
    /* the gaps, where the workspace was made for them (ae_split_spare_rows) */
    const bool gaps = !by_units && m->work.batch_capacity >= n_rows + (parts - 1) * AE_PART_GAP_ROWS;
    split_task task = {.model = m, .x = x, .target = target, .ld_x = ld_x, .ld_target = ld_target,
                       .n_rows = n_rows, .parts = parts, .step = step, .by_units = by_units,
                       .by_layers = by_units && splits_layers(m, n_rows, parts),
                       .layer_done = {.parties = parts}, .chunk = chunk,
                       .gap_rows = gaps ? AE_PART_GAP_ROWS : 0,
                       .rows_done = {.parties = parts},
                       .update = by_units && step,
                       .gradients_done = {.parties = parts}};
    if (task.update) {
        AE_FORWARD(ae_optimizer_state_ensure(m, NULL));
        ae_optimizer_plan(m, &task.plan);
    }
    ae_pool_run(m->pool, split_range, &task, n_rows, 1);
    if (task.update && task.loss_finite) {
        /* for ae_optimizer_step to judge and keep; with a loss that is not finite the step
         * fails before it, and nothing was applied */
        ae_applied_update *applied = &m->work.applied;
        *applied = (ae_applied_update){.done = true, .gradient_finite = task.gradient_finite};
        for (size_t part = 0; part < parts; part++)
            applied->special |= task.special[part];
    }
    /* By units the gradient is complete. By rows, a step's optimizer reads every gradient
     * for its norm anyway: it adds the parts there, a piece at a time while the piece is in
     * cache, instead of one more pass here. */
    if (!by_units && step) {
        m->work.parts_to_add = parts;
    } else if (!by_units) {
        sum_task sum = {.model = m, .parts = parts};
        ae_pool_run(m->pool, sum_range, &sum, m->n_params, AE_SUM_GRAIN);
    }
    *loss_sum = *kl_sum = 0.0;
    for (size_t part = 0; part < parts; part++) {
        *loss_sum += task.loss[part];
        *kl_sum += task.kl[part];
    }
    return AE_OK;
}

/* A training step's keys, drawn before the rows are split: one per layer with hidden dropout,
 * in layer order, then the variational codes' one. Each part then draws its rows' values of
 * a key's stream, as the whole batch would. */
static void draw_step_keys(ae_model *m)
{
    for (size_t l = 0; l < m->n_layers; l++)
        if (drops_out(m, l, true))
            m->work.dropout_keys[l] = ae_rng_next(ae_training_rng(m));
    if (ae_is_variational(m))
        m->work.code_key = ae_rng_next(ae_training_rng(m));
}

/* The transposed copies a training pass over n_rows rows in `parts` parts (of at most `chunk`
 * rows each) multiplies by (ae_multiplies_copy), made now from the current weights, so that
 * they are never stale; NULL where no layer gains (or the copies' memory is not there: the
 * pass then multiplies by W itself). */
static const float *transposed_forward_weights(ae_model *m, size_t n_rows, size_t parts, size_t chunk)
{
    ae_workspace *w = &m->work;
    const size_t part_rows = (n_rows + parts - 1) / parts;
    w->forward_copies = ae_copy_rule_for(m, part_rows < chunk ? part_rows : chunk, parts);
    bool any = false;
    for (size_t l = 0; w->forward_copies.rows && l < m->n_layers && !any; l++)
        any = ae_multiplies_copy(m, l, w->forward_copies);
    if (!any || (!w->transposed_weights && !(w->transposed_weights = ae_alloc_floats(m->n_params))))
        return NULL;
    transpose_copied_layers(m, w->forward_copies, w->transposed_weights);
    return w->transposed_weights;
}

void ae_net_begin_loss_run(ae_model *m, size_t rows)
{
    m->work.forward_weights = transposed_forward_weights(m, rows, 1, rows);
}

void ae_net_end_loss_run(ae_model *m) { m->work.forward_weights = NULL; }

static int backprop(ae_model *m, const float *x, size_t ld_x, const float *target, size_t ld_target,
                    size_t n_rows, size_t parts, size_t chunk, bool step, double *objective)
{
    ae_workspace *w = &m->work;
    const double d = (double)ae_input_dim(m);
    /* The mean is over every participant's rows (only this call's without hooks). */
    double rows = (double)n_rows;
    AE_FORWARD(ae_hooks_reduce_counts(m, &rows, 1, AE_REDUCE_SUM));
    AE_CHECK(rows > 0.0, NULL, AE_ERR_INVALID_ARGUMENT,
             "no participant has rows in this step: a step needs at least one");
    w->mean_rows = rows;
    double sums[3] = {0.0, 0.0, 0.0}; /* loss, penalties summed over rows, KL */
    double shared_penalty = 0.0;      /* penalties of batch statistics, already combined */
    const bool penalties = ae_penalties_active(&m->settings);
    if (step && n_rows > 0)
        draw_step_keys(m);
    w->parts_to_add = 0;
    w->applied.done = false;
    if (parts > 1) {
        AE_FORWARD(split_forward_backward(m, x, ld_x, target, ld_target, n_rows, parts, chunk,
                                          step, &sums[0], &sums[2]));
    } else {
        if (n_rows > 0) {
            sums[0] = ae_net_forward_loss(m, x, ld_x, target, ld_target, n_rows, w->delta, step);
            sums[2] = w->kl_sum;
        }
        /* A participant without rows in this step still takes part in every combination. */
        if (penalties)
            AE_FORWARD(ae_penalties_forward(m, n_rows, &sums[1], &shared_penalty));
        if (n_rows > 0) {
            const row_pass whole = {.first = 0, .slot = 0, .n = n_rows, .copies = w->forward_weights};
            AE_FORWARD(backward_rows(m, x, ld_x, whole, step, m->grads, false));
        } else {
            memset(m->grads, 0, m->n_params * sizeof(float));
            for (size_t l = m->n_layers; l-- > 0;)
                AE_FORWARD(announce_layer(m, l));
        }
    }
    AE_FORWARD(ae_hooks_gradient_wait(m));
    AE_FORWARD(ae_hooks_reduce(m, sums, 3, AE_REDUCE_SUM));
    w->recon_sum = sums[0];
    w->kl_sum = sums[2];
    const double n_elements = rows * d;
    *objective = sums[0] / n_elements + sums[1] + shared_penalty +
                 m->settings.kl_weight * m->kl_ramp * sums[2] / n_elements;
    return AE_OK;
}

int ae_backprop(ae_model *m, const float *x, size_t ld_x, const float *target, size_t ld_target,
                size_t n_rows, bool step, double *objective)
{
    size_t chunk = n_rows;
    const size_t parts = split_parts(m, n_rows, &chunk);
    m->work.forward_weights = transposed_forward_weights(m, n_rows, parts, chunk);
    const int status = backprop(m, x, ld_x, target, ld_target, n_rows, parts, chunk, step, objective);
    m->work.forward_weights = NULL; /* until the next pass that makes them */
    return status;
}
