/* Private structures and helpers shared by the library's source files. */
#ifndef AE_INTERNAL_H
#define AE_INTERNAL_H

#include "autoenc.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Hot elementwise loops are compiled for AVX2 and AVX-512 as well as the baseline, and
 * the best one for the running processor is picked at load time, so the shipped library
 * needs no -march flag. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(AE_NO_MULTIVERSIONING)
#define AE_VECTOR_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#define AE_VECTOR_TRANSPOSE /* kernels.c: ae_transpose in AVX registers where the processor has them */
#else
#define AE_VECTOR_CLONES
#endif

/* ---- error plumbing (error.c) ------------------------------------------ */

#define AE_MESSAGE_SIZE 256

/* Record a failure in the calling thread's slot and, when model is not NULL,
 * on the model; returns status so callers can `return ae_fail(...)`. */
int ae_fail(ae_model *model, int status, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A failure that a const helper recorded in the thread's slot only is copied onto the
 * model, as every non-const call's failures are; returns status unchanged. */
int ae_fail_on_model(ae_model *model, int status);

/* Check a condition; on failure record the message and return the status. */
#define AE_CHECK(cond, model, status, ...)                                     \
    do {                                                                       \
        if (!(cond))                                                           \
            return ae_fail((model), (status), __VA_ARGS__);                    \
    } while (0)

/* Propagate a non-OK status unchanged (the callee already recorded it). */
#define AE_FORWARD(expr)                                                       \
    do {                                                                       \
        int ae_forward_status_ = (expr);                                       \
        if (ae_forward_status_ != AE_OK)                                       \
            return ae_forward_status_;                                         \
    } while (0)

/* ---- misuse detection (guard.c) ------------------------------------------ */

/* Who is using a model: the thread of the call that changes it, if one runs, and the number
 * of const calls inside it, counted in shards so that threads reading at once each count on
 * a cache line of their own. The stride, not alignment, keeps the words apart: models come
 * from a replaceable allocator with malloc's alignment only. 128 bytes, not 64: x86's
 * spatial prefetcher fetches lines in aligned pairs, so neighbouring lines still bounce
 * between cores (crossbeam's CachePadded and folly pad to 128 for the same reason). */
#define AE_GUARD_SHARDS 16
#define AE_FALSE_SHARING_BYTES 128
typedef struct ae_guard_shard {
    _Atomic uint32_t readers;
    char padding[AE_FALSE_SHARING_BYTES - sizeof(_Atomic uint32_t)];
} ae_guard_shard;
typedef struct ae_guard {
    _Atomic uintptr_t writer_thread; /* 0 when no writer; written by writers only */
    char padding[AE_FALSE_SHARING_BYTES - sizeof(_Atomic uintptr_t)];
    ae_guard_shard shards[AE_GUARD_SHARDS];
} ae_guard;

/* A number for the calling thread, dealt 0, 1, 2, ... at its first call: threads started
 * one after another get consecutive numbers, so taken modulo a count of per-thread slots
 * (the guard's shards, the spare scratches) they start on different ones. */
size_t ae_thread_index(void);

/* Every public call on a model enters first and leaves after: a const call as a reader, a
 * call that changes the model as the writer. Entering fails with AE_ERR_BUSY (recorded in the
 * thread's slot only, since another call owns the model) when the model is held the other
 * way; the writer's own thread may still read (from its progress callback). Leaving as the
 * writer records a failure on the model and returns status unchanged. */
int ae_enter_reader(const ae_model *m);
void ae_leave_reader(const ae_model *m);
int ae_enter_writer(ae_model *m);
int ae_leave_writer(ae_model *m, int status);

/* Run `call` (an int-valued expression) as a reader or as the writer of `model` and return its
 * status; AE_ERR_BUSY without running it when the model is held the other way. */
#define AE_RETURN_AS_READER(model, call)                                        \
    do {                                                                       \
        AE_FORWARD(ae_enter_reader(model));                                    \
        int ae_reader_status_ = (call);                                        \
        ae_leave_reader(model);                                                \
        return ae_reader_status_;                                              \
    } while (0)
#define AE_RETURN_AS_WRITER(model, call)                                        \
    do {                                                                       \
        AE_FORWARD(ae_enter_writer(model));                                    \
        return ae_leave_writer((model), (call));                               \
    } while (0)

/* ---- distributed training (hooks.c): no-ops without hooks ---------------- */

/* Combine values across participants in place. */
int ae_hooks_reduce(ae_model *m, double *values, size_t count, ae_reduce_op op);
/* ae_hooks_reduce for counts (rows, steps), whose combination is checked: whole numbers up to
 * 2^53, none below this participant's own share (AE_ERR_PEER otherwise). */
int ae_hooks_reduce_counts(ae_model *m, double *counts, size_t n, ae_reduce_op op);
/* Agree on a local status before a collective part of a call: returns status when it failed
 * here, AE_ERR_PEER when it failed elsewhere, AE_OK when it held everywhere. */
int ae_hooks_agree(ae_model *m, int status);
/* Hand a finished span of model->grads to the engine; wait for all of them. */
int ae_hooks_gradient_ready(ae_model *m, size_t offset, size_t count);
int ae_hooks_gradient_wait(ae_model *m);
/* Draw the participant's own stream (from one draw of the shared generator) and use it for
 * the training draws until ae_hooks_end_stream; no-ops without hooks. */
void ae_hooks_begin_stream(ae_model *m);
void ae_hooks_end_stream(ae_model *m);

/* ---- allocation (alloc.c): every allocation of the library goes here ---- */

/* The processor's cache line. Every block ae_alloc gives starts one, so that buffers two
 * threads write never share a line, and the scratches' rows start aligned for vector loads. */
#define AE_CACHE_LINE 64

void *ae_alloc(size_t n_bytes);
void *ae_calloc(size_t count, size_t size);
void ae_free(void *ptr);
/* a*b*c bytes with overflow check; false if it would overflow. */
bool ae_mul_size(size_t a, size_t b, size_t *out);
/* Allocate n floats; NULL on overflow or failure. */
float *ae_alloc_floats(size_t n);
/* Copy a struct whose first field is its size_t size (ae_fit_report, ae_layer_description):
 * the fields of `full` (full_size bytes) that fit in the caller's out->size, which stays. */
void ae_copy_size_prefixed(void *out, const void *full, size_t full_size);

/* ---- random generator (rng.c): xoshiro256**, one per model -------------- */

typedef struct ae_rng {
    uint64_t s[4];
} ae_rng;

void ae_rng_seed(ae_rng *rng, uint64_t seed);
uint64_t ae_rng_next(ae_rng *rng);
/* Uniform in [0, 1). */
double ae_rng_uniform(ae_rng *rng);
/* Standard normal. */
double ae_rng_normal(ae_rng *rng);
/* Uniform integer in [0, bound), bound >= 1, without modulo bias. */
uint64_t ae_rng_below(ae_rng *rng, uint64_t bound);

/* ---- settings (params.c) ------------------------------------------------ */

/* Number of ae_param values; the model keeps one double per slot (and one bit, at most 64). */
#define AE_PARAM_SLOT_COUNT 40
_Static_assert(AE_PARAM_SLOT_COUNT <= 64, "a model keeps one bit per setting in a uint64_t");

/* The typed view of the settings that the engine reads. */
typedef struct ae_settings {
    uint64_t seed;
    int hidden_activation, latent_activation, output_activation;
    int loss;
    float leaky_slope, elu_alpha;

    int optimizer;
    double learning_rate, momentum, beta1, beta2, epsilon, weight_decay, clip_norm;
    bool nesterov;

    uint64_t epochs, batch_size;
    bool shuffle;
    double validation_fraction;
    uint64_t patience;
    double min_delta;
    bool restore_best, progress_every_batch;
    double divergence_factor; /* 0 = off */
    uint64_t shuffle_buffer;  /* rows a fit from a data source shuffles in */
    size_t threads; /* 0 = one per online processor */
    int noise;
    float noise_level;
    int scaling;
    double scaling_min_scale;
    double sparsity_weight, sparsity_target;
    long sparsity_layer; /* -1 = the latent layer */
    double activity_l1, contractive_weight;
    float dropout_input, dropout_hidden;
    double kl_weight;
    uint64_t kl_warmup_epochs;
} ae_settings;

/* Slot of a parameter in the value array, -1 if unknown. */
int ae_param_slot(ae_param param);
void ae_param_defaults(double *values);
/* AE_OK if value is valid for param, else records why. */
int ae_param_check(ae_model *err_model, ae_param param, double value);
void ae_settings_from_values(ae_settings *settings, const double *values);

/* Inference scratch kept by a model between calls: a const call takes a spare one (an
 * atomic exchange) if one is free, else allocates its own, and gives it back after into a
 * free slot. The slots come in blocks of AE_SPARE_SCRATCHES, the first inside the model; a
 * give-back that finds every slot full appends a block, so a model keeps one scratch per
 * call it has served at once, whatever the number of threads, and serving allocates
 * nothing per call once warm. Blocks and scratches are freed with the model. */
#define AE_SPARE_SCRATCHES 8
typedef struct ae_scratch {
    size_t capacity; /* bytes of data */
    alignas(AE_CACHE_LINE) unsigned char data[]; /* rows aligned, as every block of ae_alloc */
} ae_scratch;
typedef struct ae_scratch_block {
    _Atomic(ae_scratch *) slots[AE_SPARE_SCRATCHES]; /* NULL when taken or none yet */
    _Atomic(struct ae_scratch_block *) next;         /* appended once, never removed */
} ae_scratch_block;

/* ---- worker threads for elementwise work (parallel.c) -------------------- */

#define AE_MAX_THREADS 64

typedef struct ae_pool ae_pool;
/* Work on items [begin, end) as part `part` (0 = the calling thread). */
typedef void (*ae_task_fn)(void *context, size_t part, size_t begin, size_t end);
/* Start n_threads - 1 workers (none for n_threads <= 1: *pool stays NULL, and tasks run
 * on the caller). Fewer workers than asked if the system refuses threads. */
int ae_pool_start(ae_pool **pool, size_t n_threads);
/* Joins the workers and frees the pool; in a child of fork() only frees it (see below). */
void ae_pool_stop(ae_pool *pool);
/* Whether the pool was started in another process: a child of fork() inherits the pool's
 * memory but none of its workers, and a run there would wait for them for ever. */
bool ae_pool_orphaned(const ae_pool *pool);
/* Threads the pool runs tasks on, the caller included (1 for NULL). */
size_t ae_pool_threads(const ae_pool *pool);
/* Run task over [0, n_items) split into one contiguous range per thread, boundaries on
 * multiples of grain; returns when all ranges are done. */
void ae_pool_run(ae_pool *pool, ae_task_fn task, void *context, size_t n_items, size_t grain);
/* A meeting point inside one pool run: each range's thread calls ae_meet and returns once
 * all `parties` have. Only for a run whose every thread has a range (n_items >= threads
 * with grain 1): the ranges then run at once, and none waits for one that never comes.
 * A meeting serves any number of rounds, each thread meeting at every round in turn (a
 * thread through round k arrives at round k + 1 only after all have arrived at k).
 * Waiters yield the core, which the thread they wait for may share. */
typedef struct ae_meeting {
    atomic_size_t arrived;
    size_t parties;
} ae_meeting;
void ae_meet(ae_meeting *meeting);

/* ---- the model ---------------------------------------------------------- */

typedef struct ae_layer {
    size_t n_in, n_out;
    size_t weight_offset; /* into params/grads: W, n_out x n_in row-major (n_in x n_out if transposed) */
    size_t bias_offset;   /* into params/grads: b, n_out */
    int activation;
    bool transposed;      /* tied weights: W is the mirror encoder layer's, used transposed */
    bool shared_grad;     /* tied weights: a decoder layer wrote this W's gradient first */
} ae_layer;

/* An optimizer update that a split step applied while its gradients were formed, for
 * ae_optimizer_step to judge and keep (new values in the gradient buffer, as its own). */
typedef struct ae_applied_update {
    bool done;            /* applied, or skipped for a gradient that is not finite */
    bool gradient_finite; /* the norm was finite: the update ran */
    uint32_t special;     /* the update's non-finite flags (ae_nonfinite_flag) */
} ae_applied_update;

/* Which layers of a pass multiply by copies of their weights transposed (net.c,
 * ae_multiplies_copy): rows per product, 0 for none; every_layer for a step split in small
 * parts, else only layers of 16 units or more. */
typedef struct ae_copy_rule {
    size_t rows;
    bool every_layer;
} ae_copy_rule;

/* Training scratch, sized for one batch size and reused by every step. */
typedef struct ae_workspace {
    size_t batch_capacity; /* rows the buffers hold; 0 = nothing allocated */
    float *batch;          /* gathered input rows, batch_capacity x input_dim */
    float *corrupted;      /* the batch with denoising noise, batch_capacity x input_dim */
    float *activations;    /* every layer's output, one block per layer */
    float *delta;          /* dLoss/dZ of the current layer */
    float *delta_prev;     /* dLoss/dZ of the layer below */
    size_t *activation_offsets; /* n_layers offsets into activations */
    float *dropped;        /* hidden dropout: each layer's output after dropout, as activations */
    uint8_t *keep;         /* hidden dropout: which outputs survived, as activations */
    uint64_t *dropout_keys; /* hidden dropout: each layer's key for this step, drawn before a split */
    uint64_t code_key;     /* variational: the key of this step's code noise, drawn before a split */
    float *columns;        /* per-unit penalty terms, 3 x max_width */
    double *column_sums;   /* a layer's column sums in double, max_width (sparsity's batch means) */
    double mean_rows;      /* rows the step's mean is over: every participant's (hooks.c) */
    float *code;           /* variational: the code each row decodes, batch_capacity x latent */
    double kl_sum;         /* variational: KL divergence summed over the last batch's rows */
    double recon_sum;      /* the last batch's reconstruction loss summed over its elements */
    float *part_grads;     /* row-split steps: the gradients of parts 1 .. part_count - 1 */
    size_t part_count;     /* parts part_grads was sized for; 0 = not allocated */
    size_t parts_to_add;   /* > 1 after a row-split step: its parts' gradients are still to be
                              added into grads, which the optimizer's norm pass does */
    float *deltas;         /* row-split steps with gradients split by units: every layer's delta
                              for the whole batch, laid out as activations (allocated at the
                              first such step) */
    ae_applied_update applied; /* set by a split step that applied the update itself */
    float *transposed_weights; /* small models: each untied layer's W^T at its weight offset
                                  (n_params floats, allocated at the first pass that uses it) */
    const float *forward_weights; /* during a training pass that uses them, transposed_weights;
                                     else NULL (net.c, transposed_forward_weights) */
    ae_copy_rule forward_copies;  /* which layers that pass multiplies by their copies */
    float *part_copies;    /* row-split steps with copies: parts 1 .. part_copies_count - 1's own
                              (n_params floats each, laid out as transposed_weights) */
    size_t part_copies_count; /* parts part_copies was sized for; 0 = not allocated */
} ae_workspace;

typedef struct ae_optimizer_state {
    float *first_moment;  /* SGD momentum buffer or Adam m; NULL until first step */
    float *second_moment; /* Adam v; NULL for SGD */
    uint64_t step;        /* Adam t */
    int kind;             /* optimizer the buffers belong to */
} ae_optimizer_state;

struct ae_model {
    size_t n_layers, n_encoder_layers;
    unsigned architecture; /* ae_architecture_flags */
    ae_layer *layers;
    size_t max_width; /* widest layer output or input */

    size_t n_params, n_weights; /* the first n_weights params are weights */
    float *params;
    float *grads;

    double param_values[AE_PARAM_SLOT_COUNT]; /* what the caller set, by slot */
    uint64_t chosen_settings; /* bit per slot: set by the caller (or loaded), not a default */
    ae_settings settings;                     /* the same, typed */
    ae_rng rng;
    bool fresh_weights; /* drawn by init and never trained or set */

    ae_optimizer_state optim;
    ae_workspace work;
    double kl_ramp; /* variational: the KL warm-up's share of beta in this step, 1 outside fit */
    ae_pool *pool; /* workers for training's elementwise work; NULL = the caller alone */
    size_t pool_refused; /* thread count the system could not fully grant, 0 if none */
    bool pool_settled;   /* the pool was sized for settings.threads == pool_setting: while that */
    size_t pool_setting; /* holds, a training call need not count the processors again */

    ae_progress_fn progress;
    void *progress_user;

    ae_train_hooks hooks; /* the engine of distributed training (hooks.c), when has_hooks */
    bool has_hooks;
    ae_rng stream;        /* the participant's own generator during a distributed call */
    bool use_stream;

    float *scaling;     /* fitted scaling: input_dim offsets then input_dim scales; NULL if none */

    double threshold;   /* anomaly threshold (anomaly.c), finite and >= 0 */
    bool has_threshold; /* set or fitted; saved in the THRS section */

    char message[AE_MESSAGE_SIZE];

    /* Last, from `guard` on: what const calls change, only through atomics (the message
     * before them, never read by inference, keeps the hot fields off their cache line). A
     * clone copies the model up to here (AE_MODEL_COPIED_BYTES) and starts these afresh, so
     * it never reads them without an atomic. */
    ae_guard guard;
    ae_scratch_block spare_scratch; /* see ae_scratch */
};
#define AE_MODEL_COPIED_BYTES offsetof(struct ae_model, guard)

static inline size_t ae_input_dim(const ae_model *m) { return m->layers[0].n_in; }
/* The generator training draws from: the participant's stream during a distributed call,
 * or the model's own (hooks.c). */
static inline ae_rng *ae_training_rng(ae_model *m) { return m->use_stream ? &m->stream : &m->rng; }
static inline size_t ae_latent_layer(const ae_model *m) { return m->n_encoder_layers - 1; }
static inline bool ae_has_decoder(const ae_model *m) { return m->n_layers > m->n_encoder_layers; }
static inline const float *ae_scaling_offsets(const ae_model *m) { return m->scaling; }
static inline const float *ae_scaling_scales(const ae_model *m)
{
    return m->scaling + ae_input_dim(m);
}
static inline bool ae_is_variational(const ae_model *m) { return (m->architecture & AE_ARCH_VARIATIONAL) != 0; }
/* The code's width: a variational latent layer gives a mean and a log-variance per unit. */
static inline size_t ae_latent_dim(const ae_model *m)
{
    return m->layers[m->n_encoder_layers - 1].n_out >> (ae_is_variational(m) ? 1 : 0);
}

/* ---- models (model.c) ----------------------------------------------------- */

/* Start or resize the worker pool to match the threads setting. */
int ae_model_ensure_pool(ae_model *model);
void ae_model_init_weights(ae_model *model);
void ae_model_apply_activations(ae_model *model);

/* ---- checks shared by entry points (checks.c) ----------------------------- */

int ae_check_matrix(ae_model *err_model, const char *name, const float *data, size_t n_rows,
                    size_t n_cols, size_t ld);
/* NaN/Inf and (for BCE) range checks naming the first bad row and column. */
int ae_check_data(ae_model *err_model, const ae_model *model, const char *name, const float *x,
                  size_t n_rows, size_t n_cols, size_t ld, bool targets);
/* A caller's buffer as the bytes it covers: n_rows rows of row_bytes, ld_bytes apart. */
typedef struct ae_span {
    const char *name;
    uintptr_t first; /* address of the first byte; 0 for a buffer not given */
    size_t n_rows, row_bytes, ld_bytes;
} ae_span;
/* An n_rows x n_cols float matrix of leading dimension ld, as ae_check_matrix accepts it. */
static inline ae_span ae_float_span(const char *name, const float *data, size_t n_rows,
                                    size_t n_cols, size_t ld)
{
    return (ae_span){name, (uintptr_t)data, n_rows, n_cols * sizeof(float), ld * sizeof(float)};
}
/* AE_ERR_INVALID_ARGUMENT, naming both, if the two buffers share a byte: an output written
 * over an input (or another output) of the same call gives wrong results without an error.
 * Buffers interleaved by their leading dimensions (columns of one table) are apart. */
int ae_check_apart(ae_model *err_model, ae_span a, ae_span b);
/* AE_ERR_STATE for an encoder-only model; `what` completes "it cannot ...". */
int ae_check_decoder(ae_model *err_model, const ae_model *model, const char *what);
/* The model's settings suit each other and the model (every rule, as training needs), or
 * only the rules the loss needs (as scoring needs). A file of an older version may hold
 * settings that break a rule; such a model loads, and the calls that need the rule refuse. */
int ae_check_settings(ae_model *err_model, const ae_model *model);
int ae_check_loss_settings(ae_model *err_model, const ae_model *model);
/* AE_ERR_STATE if setting param to value, giving the settings `next`, would break a rule the
 * model's current settings keep; the message names the settings it conflicts with. */
int ae_check_setting_change(ae_model *err_model, const ae_model *model, const ae_settings *next,
                            ae_param param, double value);
/* A new encoder-only model with the given encoder widths (weights drawn as by create) and
 * architecture flags (the encoder's part of them). */
int ae_model_create_encoder_only(ae_model **out, const size_t *widths, size_t n_widths,
                                 unsigned architecture);

/* ---- elementwise kernels (kernels.c) ------------------------------------ */

/* z (n_rows x n_out, leading dimension ld) holds x W^T + b: apply the activation in place. */
void ae_activate(float *z, size_t ld, size_t n_rows, size_t n_out, int activation,
                 const ae_settings *settings);
/* Every row of out (n_rows x width, leading dimension ld) set to row. */
void ae_fill_rows(float *out, size_t ld, size_t n_rows, const float *row, size_t width);
/* out (cols x rows, row-major) = the transpose of in (rows x cols, row-major). */
void ae_transpose(const float *in, size_t rows, size_t cols, float *out);
/* delta *= act'(a), where a = act(z) is the stored output of the layer. */
void ae_mul_activation_derivative(float *delta, const float *a, size_t n, int activation,
                                  const ae_settings *settings);
/*
 * The output layer fused with the loss. `out` (n_rows x n_out, leading dimension ld_out)
 * holds x W^T + b of the output layer; this writes the activated output back,
 * and returns the sum of the elementwise losses against `target` in double. When delta
 * is not NULL it receives dLoss/dZ times grad_scale (n_rows x n_out, leading dimension
 * ld_out, as out); when row_loss is not NULL it receives each row's loss sum.
 */
double ae_output_loss(float *out, size_t ld_out, size_t n_rows, size_t n_out, const float *target,
                      size_t ld_target, int activation, int loss, const ae_settings *settings,
                      float *delta, float grad_scale, double *row_loss);
/* As ae_output_loss without gradients, but each element's loss goes to
 * losses[i * ld_losses + j] (the same values ae_output_loss sums). */
void ae_output_element_losses(float *out, size_t ld_out, size_t n_rows, size_t n_out,
                              const float *target, size_t ld_target, int activation, int loss,
                              const ae_settings *settings, float *losses, size_t ld_losses);
/* out = (x - offset) / scale per column; and its inverse in place. */
void ae_scale_rows(const float *x, size_t ld_x, size_t n_rows, size_t n_cols,
                   const float *offset, const float *scale, float *out, size_t ld_out);
void ae_unscale_rows(float *y, size_t ld_y, size_t n_rows, size_t n_cols, const float *offset,
                     const float *scale);
/* Contractive penalty pieces for a layer's outputs a (packed n_rows x n_cols):
 * sums[j] = sum over rows of act'(z_ij)^2; returns sum_j sums[j] * row_norms[j]. */
double ae_contractive_columns(const float *a, size_t n_rows, size_t n_cols, int activation,
                              const ae_settings *settings, const float *row_norms, float *sums);
/* delta_ij += coefficients[j] * 2 act'(z_ij) act''(z_ij). */
void ae_contractive_delta(float *delta, const float *a, size_t n_rows, size_t n_cols,
                          int activation, const ae_settings *settings, const float *coefficients);
/* Whether a float is NaN or +-Inf, as the sign bit of the result: its exponent bits are all
 * ones exactly when adding one at the exponent's lowest bit carries into the sign. Scans OR
 * these together: an integer OR is associative, so the compiler vectorises such a loop as
 * written and folds it with a short tree, where a float sum (x * 0 added up) would be folded
 * in order, one lane at a time. */
#define AE_NONFINITE_BIT 0x80000000u
static inline uint32_t ae_nonfinite_flag(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return (bits & 0x7f800000u) + 0x00800000u;
}
/* Whether all n values are finite. */
bool ae_all_finite(const float *v, size_t n);
/* The first of n_rows rows (n_cols values each, leading dimension ld) holding NaN or an
 * infinity, or n_rows if every value is finite. */
size_t ae_first_nonfinite_row(const float *v, size_t ld, size_t n_rows, size_t n_cols);
/* Whether all n values, scaled as (v - offset) / scale when offset is not NULL, lie in
 * [0, 1]: a NaN or an infinity does not, so that a yes also says every value is finite. */
bool ae_in_unit_range(const float *v, size_t n, const float *offset, const float *scale);
/* A variational latent layer's log-variances (the second half of each of n_rows rows of 2k
 * values) clamped into [AE_LOG_VARIANCE_MIN, AE_LOG_VARIANCE_MAX], so that exp(logvar)
 * cannot overflow; NaN stays NaN. */
#define AE_LOG_VARIANCE_MIN (-30.0f)
#define AE_LOG_VARIANCE_MAX 20.0f
void ae_clamp_log_variance(float *stats, size_t n_rows, size_t k);
/* Column sums of an n_rows x n_cols packed matrix into sums, or added to them when add. */
void ae_column_sums(const float *m, size_t n_rows, size_t n_cols, float *sums, bool add);
/* out[i * ld_out + j] = u[i] * v[j] (+ out[...] when accumulate) for i < n_u, j < n_v: one
 * row's weight gradient, the product sgemm would form with an inner dimension of 1. */
void ae_outer_product(const float *u, size_t n_u, const float *v, size_t n_v, float *out, size_t ld_out,
                      bool accumulate);
/* Sum of squares in double. */
double ae_sum_squares(const float *v, size_t n);
void ae_scale(float *v, size_t n, float factor);
/* dst += src, elementwise (the buffers do not overlap). */
void ae_add(float *restrict dst, const float *restrict src, size_t n);

/* ---- noise of denoising and dropout (noise.c) ----------------------------- */

/* Each call takes one 64-bit key from rng; element n of the packed n_rows x n_cols matrix
 * then draws from a counter-based stream of that key.
 * out (n_rows x n_cols packed) = x corrupted by the settings' noise. */
void ae_corrupt(const float *x, size_t ld_x, size_t n_rows, size_t n_cols, float *out,
                const ae_settings *settings, ae_rng *rng);
/* out (packed n_cols) = in with each value zeroed with probability p < 1, survivors scaled
 * by 1/(1-p); keep (packed, may be NULL) records survivors. in may be out (ld_in = n_cols).
 * Value n of the packed matrix draws word first_value + n of key's stream, so that the rows
 * of a batch split between threads draw what they would in the whole batch. */
void ae_dropout(const float *in, size_t ld_in, size_t n_rows, size_t n_cols, float p,
                uint64_t key, size_t first_value, float *out, uint8_t *keep);
/* out[i] = value first_value + i of key's stream as a standard normal (float Box-Muller, as
 * ae_corrupt's Gaussian noise): the variational codes' noise, split by rows like dropout. */
void ae_standard_normals(uint64_t key, size_t first_value, size_t n, float *out);
/* delta = keep ? delta / (1-p) : 0, elementwise. */
void ae_dropout_backward(float *delta, const uint8_t *keep, size_t n, float p);

/* ---- forward and backward through the stack (net.c) --------------------- */

/* OpenBLAS hands a product of more than 65536 x 4 multiply-adds (M N K; its default
 * GEMM_MULTITHREAD_THRESHOLD) to its threads, and runs smaller ones on the calling thread.
 * For a narrow model's shapes its threads are the slower: 64 x 32 weights took 1.3-3.3x one
 * thread's time at 160 to 1024 rows, two threads against one (OpenBLAS 0.3.21, SkylakeX);
 * and products on the calling thread can run on several of the model's threads at once. */
#define AE_BLAS_ONE_THREAD_WORK 262144.0
/* Rows below which a chunk's products cost more than OpenBLAS's threads on the whole: each
 * call packs the layer's weights for its rows, and each chunk adds its gradient to the
 * chunks' before it. Training loops, one library against the other: chunks of 16 to 48 rows
 * (models with 4,097 to 16,384 weights in their widest layer: 100-50-10, 128-64-16,
 * 160-80-20) 1.13-1.85x from 64 rows; chunks of 8 (200-100-20, 256-128-32) 0.89-1.18x. */
#define AE_BLAS_MIN_CHUNK_ROWS 16
/* Rows of a pass through layers [first, last) small enough that each of its products stays
 * under AE_BLAS_ONE_THREAD_WORK, in whole blocks of 16 rows, or 0 when that is fewer than
 * AE_BLAS_MIN_CHUNK_ROWS. On any other CBLAS, or with OpenBLAS on one thread, such chunks
 * cost next to nothing. */
size_t ae_blas_one_thread_rows(const ae_model *m, size_t first, size_t last);

/* The layers a pass of `rows` rows a product, in `parts` parts, multiplies by copies of their
 * weights transposed, W^T as a plain operand (net.c: OpenBLAS's small-matrix kernels). */
ae_copy_rule ae_copy_rule_for(const ae_model *model, size_t rows, size_t parts);
/* Whether layer l does under that rule. */
bool ae_multiplies_copy(const ae_model *model, size_t l, ae_copy_rule rule);
/* out = in W_l^T + b_l (n_rows rows; sgemv for a single row). No activation. copy is the
 * layer's W^T where it multiplies by a copy (ae_multiplies_copy), else NULL. */
void ae_layer_linear(const ae_model *model, size_t layer, const float *copy, const float *in,
                     size_t ld_in, size_t n_rows, float *out, size_t ld_out);
/* out = act(in W_l^T + b_l). */
void ae_layer_forward(const ae_model *model, size_t layer, const float *copy, const float *in,
                      size_t ld_in, size_t n_rows, float *out, size_t ld_out);
/* Forward through the whole network with the model's workspace, keeping every layer's
 * output; returns the loss sum over all elements. When delta is not NULL it receives the
 * output layer's dLoss/dZ for the mean loss. A training step (step true) draws hidden
 * dropout masks and variational codes from the model's generator; otherwise the pass is
 * deterministic (no dropout, codes at their means). */
double ae_net_forward_loss(ae_model *model, const float *x, size_t ld_x, const float *target,
                           size_t ld_target, size_t n_rows, float *delta, bool step);
/* A run of loss passes (ae_net_forward_loss without a delta: fit's validation and reference
 * losses) over chunks of at most `rows` rows, between these two calls, multiplies by the
 * transposed copies a training step of as many rows would (ae_multiplies_copy), made once
 * for the run: the weights do not change inside it. */
void ae_net_begin_loss_run(ae_model *model, size_t rows);
void ae_net_end_loss_run(ae_model *model);
/* Training objective (mean loss plus penalties and KL term) into *objective, and its
 * gradient into model->grads, for the n_rows rows of x (packed or strided; 0 rows for a
 * participant without rows in a distributed step), using the model's workspace. With hooks
 * the mean is over every participant's rows and the gradient their sum. AE_OK, or
 * AE_ERR_PEER when the engine fails. */
int ae_backprop(ae_model *model, const float *x, size_t ld_x, const float *target,
                size_t ld_target, size_t n_rows, bool step, double *objective);
/* grads[begin, end) += the gradients of a row-split step's parts 1 .. parts - 1, in part
 * order. A training step's parts are left for the optimizer's norm pass to add
 * (work.parts_to_add); a bare gradient's are added before ae_backprop returns. */
void ae_add_part_gradients(const ae_model *model, size_t parts, size_t begin, size_t end);
/* Make the workspace hold batches of n_rows rows (and the hidden dropout buffers when the
 * settings ask for dropout), with the spare rows a step of that many rows split by rows sets
 * between its parts (ae_split_spare_rows; the model's pool must exist). */
int ae_workspace_reserve(ae_model *model, size_t n_rows);
size_t ae_split_spare_rows(const ae_model *model, size_t n_rows);
void ae_workspace_release(ae_workspace *work);

/* ---- training (train.c) ---------------------------------------------------- */

/* Copy the fields of a full report that fit in the caller's (out->size), keeping its size;
 * NULL out is a no-op. */
void ae_fit_report_copy(ae_fit_report *out, const ae_fit_report *full);

/* ---- penalties of the training objective (penalties.c) -------------------- */

bool ae_penalties_active(const ae_settings *settings);
/* The layer the sparsity penalty watches (the setting, with -1 meaning the latent layer). */
size_t ae_sparsity_layer(const ae_model *model);
/* The penalties for the batch whose activations the workspace holds, keeping the per-unit
 * terms the gradient needs: *row_sums gets the terms that are sums over rows (to be summed
 * across participants), *shared those of batch statistics (already combined: the same on
 * every participant). Means are over work.mean_rows rows. */
int ae_penalties_forward(ae_model *model, size_t n_rows, double *row_sums, double *shared);
/* grad (packed n_rows x width of `layer`) += dPenalties/dA of the layer's outputs. */
void ae_penalties_activation_grad(const ae_model *model, size_t layer, float *grad, size_t n_rows);
/* delta += dPenalties/dZ through act'' (the contractive term), after act' was applied. */
void ae_penalties_preactivation_grad(const ae_model *model, size_t layer, float *delta,
                                     size_t n_rows);
/* model->grads of the layer's weights += their direct penalty gradient. */
void ae_penalties_weight_grad(ae_model *model, size_t layer);

/* ---- scaling (scaling.c) ---------------------------------------------------- */

/* AE_ERR_STATE if the settings ask for a scaling that is not fitted. */
int ae_check_scaling_fitted(ae_model *err_model, const ae_model *model);
/* Fit the scaling of the settings to the rows of x (data already checked); with hooks, to
 * every participant's rows. */
int ae_scaling_fit(ae_model *model, const float *x, size_t n_rows, size_t ld_x);
/* Forget the fitted scaling, if any (fitted for another kind, or by a call that failed). */
void ae_scaling_drop(ae_model *model);
/* The same pass by pass, for rows that come in chunks (a data source): begin; while
 * wants_pass: add every row in order, end_pass; finish (installs the scaling). begin and
 * end_pass are collective with hooks. On failure the fitter is released. */
typedef struct ae_scaling_fitter {
    int pass;
    double rows;   /* rows of pass 0, every participant's once it ended */
    double *work;  /* 2 input_dim + 1 statistics */
    float *fitted; /* the offsets and scales being made */
} ae_scaling_fitter;
int ae_scaling_fitter_begin(ae_model *model, ae_scaling_fitter *fitter);
bool ae_scaling_fitter_wants_pass(const ae_model *model, const ae_scaling_fitter *fitter);
void ae_scaling_fitter_add(const ae_model *model, ae_scaling_fitter *fitter, const float *x,
                           size_t n_rows, size_t ld_x);
int ae_scaling_fitter_end_pass(ae_model *model, ae_scaling_fitter *fitter);
int ae_scaling_fitter_finish(ae_model *model, ae_scaling_fitter *fitter);
void ae_scaling_fitter_release(ae_scaling_fitter *fitter);
/* out (n_rows x input_dim, leading dimension ld_out) = x scaled by the fitted scaling, or
 * copied when the model has none. */
void ae_scaling_apply(const ae_model *model, const float *x, size_t ld_x, size_t n_rows,
                      float *out, size_t ld_out);
/* Copy a model's scaling onto another of the same input width (NULL source: none). */
int ae_scaling_copy(ae_model *dst, const ae_model *src);

/* ---- training rows from a data source (source.c) ----------------------------- */

typedef struct ae_stream ae_stream;
/* Check the sources and allocate the shuffle buffer and a chunk of rows. */
int ae_stream_open(ae_model *model, const ae_data_source *train, const ae_data_source *validation,
                   ae_stream **out);
void ae_stream_close(ae_stream *stream);
/* Before training: count and check every row, fit a scaling that needs fitting (collective
 * with hooks, agreed on first), check the validation rows. */
int ae_stream_scan(ae_model *model, ae_stream *stream, size_t *n_train, size_t *n_val);
/* Rewind the training source and fill the shuffle buffer. */
int ae_stream_begin_epoch(ae_model *model, ae_stream *stream);
/* Up to max_rows training rows of this epoch into out (packed, checked, scaled); *n 0 once
 * the epoch's rows are used up. */
int ae_stream_next_batch(ae_model *model, ae_stream *stream, size_t max_rows, float *out,
                         size_t *n);
/* After an epoch's last step: the training source's pass must hold no row beyond those it
 * counted (AE_ERR_IO otherwise). */
int ae_stream_end_epoch(ae_model *model, ae_stream *stream);
/* The sum of the elementwise losses over the validation source (0 without one), read into
 * scratch (max_rows packed rows) a chunk at a time. */
int ae_stream_validation_sum(ae_model *model, ae_stream *stream, float *scratch, size_t max_rows,
                             double *sum);

/* ---- optimizers (optim.c) ----------------------------------------------- */

/* Clip, decay and apply model->grads to model->params (or keep the update a split step
 * applied: work.applied). Returns AE_OK or AE_ERR_DIVERGED (non-finite gradient norm:
 * nothing applied). */
int ae_optimizer_step(ae_model *model);
/* The next update's coefficients (Adam's; the step counter advances when it is kept). */
typedef struct ae_update_plan {
    float b1, b2, one_minus_b1, one_minus_b2, eps, step_size, inv_sqrt_correction2;
    float l2, shrink; /* weight decay: Adam's L2 into the gradient, AdamW's shrink */
} ae_update_plan;
void ae_optimizer_plan(const ae_model *model, ae_update_plan *plan);
/* The update of parameters [begin, end) (weights with decay, biases without), new values
 * written over their gradients; returns the non-finite flags of the new values and state. */
uint32_t ae_optimizer_update_span(ae_model *model, const ae_update_plan *plan, size_t begin,
                                  size_t end);
/* The factor global-norm clipping scales the gradient by (1: none), as torch's. */
float ae_clip_scale(const ae_model *model, double norm);
/* What ae_optimizer_state_ensure changed: the state before it (whose moments a state of
 * another optimizer, displaced, keeps until ae_optimizer_state_settle), and whether it
 * allocated moments. */
typedef struct ae_optimizer_change {
    ae_optimizer_state before;
    bool allocated, displaced;
} ae_optimizer_change;
/* The optimizer state made to fit the settings, all or nothing (memory running out changes
 * nothing). With `change` NULL a state of another optimizer is released; given, it is kept
 * there, and ae_optimizer_state_settle, after the step, releases it if the step stood or
 * else puts the state back as it was. */
int ae_optimizer_state_ensure(ae_model *model, ae_optimizer_change *change);
void ae_optimizer_state_settle(ae_model *model, ae_optimizer_change *change, bool stood);
void ae_optimizer_state_release(ae_optimizer_state *state);
int ae_optimizer_state_copy(ae_optimizer_state *dst, const ae_optimizer_state *src,
                            size_t n_params);
/* Adam's step counter stops at 2^53: exact in a double (the bias corrections use it) and
 * far from wrapping to 0, which would divide by zero. */
#define AE_MAX_OPTIMIZER_STEP ((uint64_t)1 << 53)
/* Whether an optimizer state of `kind` with these buffers and step counter is one the
 * library could have made (the rules shared by model files and ae_model_set_optimizer_state):
 * AE_OK, or AE_ERR_INVALID_ARGUMENT with the reason recorded. */
int ae_optimizer_state_check(ae_model *err_model, int kind, uint64_t step, bool has_first,
                             bool has_second);

/* ---- inference helpers (infer.c) ---------------------------------------- */

/* Free the spare scratches and the blocks appended to `first` (not `first` itself). */
void ae_scratch_release(ae_scratch_block *first);

/* Run layers [first, last) on the rows of `in` (scaled when first is 0, unscaled when last
 * is the output layer), no checks; AE_ERR_NON_FINITE_RESULT names the first row whose
 * output overflows. */
int ae_infer_layers(const ae_model *model, size_t first, size_t last, const float *in,
                    size_t n_rows, size_t ld_in, float *out, size_t ld_out);
/* Each row's score (its mean loss) without a model workspace (const model), after checking
 * the rows. A row whose loss overflows scores FLT_MAX; *first_overflow (may be NULL)
 * receives the first such row, or SIZE_MAX. */
int ae_eval_scores(const ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                   float *scores, size_t *first_overflow);
/* The mean loss over the rows of x; AE_ERR_NON_FINITE_RESULT if a row's loss overflows. */
int ae_eval_loss(const ae_model *model, const float *x, size_t n_rows, size_t ld_x, double *loss);
/* Each element's loss (n_rows x input_dim, leading dimension ld_losses) for the rows of x,
 * which it checks as ae_eval_loss does; an element that overflows is FLT_MAX. */
int ae_eval_element_losses(const ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                           float *losses, size_t ld_losses);

/* ---- model files (format_write.c, format_read.c, model_file.c; private parts in format.h) ---- */

/* CRC-32C (Castagnoli) of n_bytes at data, continuing from crc (0 to start). */
uint32_t ae_crc32c(uint32_t crc, const void *data, size_t n_bytes);

#endif
