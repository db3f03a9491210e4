/**
 * @file autoenc.h
 * @brief libautoenc: deep stacked autoencoders behind a stable C ABI.
 *
 * The one public header. Everything here is the stable API: status codes and
 * enum values are pinned forever, functions are only ever added.
 *
 * A typical session:
 * @code
 * size_t widths[] = {784, 512, 256, 64};          // encoder: input ... latent
 * ae_model *m = NULL;
 * if (ae_model_create(&m, widths, 4, NULL, 0) != AE_OK)   // decoder mirrors it
 *     fprintf(stderr, "%s\n", ae_last_error());
 * ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
 * ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
 * ae_model_set_param(m, AE_PARAM_EPOCHS, 10);
 * ae_fit_report report = {0};
 * report.size = sizeof report;                        // lets the struct grow
 * ae_model_fit(m, images, n_images, 784, &report);        // row-major, ld = 784
 * ae_model_encode(m, images, n_images, 784, codes, 64);   // latent codes
 * ae_model_free(m);
 * @endcode
 *
 * Conventions shared by every function:
 * - Functions return an `int` status: #AE_OK (0) on success, a negative
 *   ::ae_status on failure. A failed call changes nothing the caller can see
 *   (a failed training call leaves the model as it was or at a documented
 *   usable state) and records a message, see @ref ae_errors.
 * - Matrices are row-major `n_rows x n_cols` floats with a leading dimension
 *   `ld >= n_cols` (the distance in floats between the starts of two rows).
 *   They are owned by the caller; the library never keeps a pointer to them
 *   after a call returns and never copies a whole dataset.
 * - The library never aborts, exits, prints or touches global state (but for
 *   a count of fork()s, by which a child process knows that its parent's
 *   worker threads are not its own); every setting and the random generator
 *   live on the model handle.
 * - Thread safety: calls that take a `const ae_model *` may run concurrently
 *   on one model from several threads. Calls that take a non-const model need
 *   exclusive access to it. Breaking this rule is detected, not undefined: a
 *   call that changes a model while other calls use it, or a const call while
 *   another thread changes the model, does nothing and returns #AE_ERR_BUSY
 *   (see @ref ae_errors). ae_model_free() is the one call that cannot check:
 *   free a model only when no other call uses it.
 * - Results are finite: no call returns NaN or infinity with #AE_OK, even for
 *   finite inputs too large for float arithmetic (see @ref ae_overflow).
 */
#ifndef AUTOENC_H
#define AUTOENC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @cond INTERNAL */
#if defined(_WIN32)
#  if defined(AE_BUILDING_LIBRARY)
#    define AE_API __declspec(dllexport)
#  else
#    define AE_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define AE_API __attribute__((visibility("default")))
#else
#  define AE_API
#endif
/** @endcond */

/**
 * @defgroup ae_version Versions
 * @brief The library follows semantic versioning; the ABI major is the SONAME.
 * @{
 */
#define AE_VERSION_MAJOR 0 /**< Incremented on an incompatible ABI change. */
#define AE_VERSION_MINOR 3 /**< Incremented when functions or enum values are added. */
#define AE_VERSION_PATCH 0 /**< Incremented for fixes that change no interface. */
/** The version as one number: `major * 10000 + minor * 100 + patch`. */
#define AE_VERSION_NUMBER (AE_VERSION_MAJOR * 10000 + AE_VERSION_MINOR * 100 + AE_VERSION_PATCH)

/** @return #AE_VERSION_NUMBER of the library actually loaded (compare with the macro
 *  to detect a header/library mismatch). Thread-safe. */
AE_API unsigned ae_version_number(void);
/** @return the version as a static string such as "0.1.0"; never NULL. Thread-safe. */
AE_API const char *ae_version_string(void);
/** @} */

/**
 * @defgroup ae_limits Limits
 * @brief The largest models the library makes, trains, saves and loads.
 *
 * One set of limits holds everywhere: ae_model_create() and ae_model_create_ex()
 * refuse a model beyond them, so every model that exists can be saved and loaded
 * again. Each limit is also a function, for bindings that cannot read macros.
 * @{
 */
/** The most dense layers a model may have, encoder and decoder together. */
#define AE_MAX_LAYERS 4096
/** The widest a layer's input or output may be (2^24). The latent layer of a
 *  variational model holds two values per code unit, so its code is at most
 *  half as wide. */
#define AE_MAX_LAYER_WIDTH 16777216
/** @return #AE_MAX_LAYERS. Thread-safe. */
AE_API size_t ae_max_layers(void);
/** @return #AE_MAX_LAYER_WIDTH. Thread-safe. */
AE_API size_t ae_max_layer_width(void);
/** @} */

/**
 * @defgroup ae_errors Status codes and error messages
 * @brief Every function reports through a status code and a message.
 *
 * Each failure records a message in a thread-local slot read by
 * ae_last_error(). Failures of calls that take a non-const model are also
 * recorded on the model, read by ae_model_last_error(), whichever argument
 * was at fault; #AE_ERR_BUSY is the exception, recorded in the calling thread
 * only, since another call owns the model. The library owns these strings:
 * ae_last_error()'s stays valid until the next failing call in the same
 * thread; ae_model_last_error() gives a copy of the model's message, valid in
 * the calling thread until its fourth next call of ae_model_last_error() (so
 * that a few messages can be printed together), whatever other threads do.
 *
 * Misuse across threads is detected as SQLite detects it: each model counts
 * the calls inside it in atomic counters (const calls on one of 16 cache lines
 * chosen per thread, so that threads sharing a model for inference do not
 * contend). A call that would change the model
 * while other calls use it, or a const call while another thread changes it,
 * returns #AE_ERR_BUSY at once without doing anything; retry it when the other
 * call is done, or give each thread its own model (ae_model_clone()). The
 * thread running ae_model_fit() may still make const calls on the model from
 * its progress callback; a call that changes the model from there is
 * #AE_ERR_BUSY too.
 * @{
 */
/** Status codes. The values are pinned forever; new codes only get new values. */
typedef enum ae_status {
    AE_OK = 0,                      /**< Success. */
    AE_ERR_INVALID_ARGUMENT = -1,   /**< NULL pointer, zero size, value out of range, bad leading dimension. */
    AE_ERR_OUT_OF_MEMORY = -2,      /**< An allocation failed; nothing was changed. */
    AE_ERR_SIZE_OVERFLOW = -3,      /**< A size product would overflow `size_t`. */
    AE_ERR_NON_FINITE_INPUT = -4,   /**< Input holds NaN or Inf (the message names row and column). */
    AE_ERR_INPUT_RANGE = -5,        /**< Input outside the range the loss needs (the message names row and column). */
    AE_ERR_STATE = -6,              /**< The call does not fit the model's current configuration or state. */
    AE_ERR_CANCELLED = -7,          /**< The progress callback asked to stop; the model is usable. */
    AE_ERR_DIVERGED = -8,           /**< Loss or gradient became non-finite, or a fit's loss exploded
                                         (#AE_PARAM_DIVERGENCE_FACTOR); the last finite weights were restored. */
    AE_ERR_IO = -9,                 /**< A file could not be opened, read, written, flushed or renamed. */
    AE_ERR_FORMAT = -10,            /**< Model data is malformed or truncated (the message says where). */
    AE_ERR_CHECKSUM = -11,          /**< Model data does not match its checksum. */
    AE_ERR_VERSION = -12,           /**< Model data needs a newer library (a newer major format version). */
    AE_ERR_BUFFER_TOO_SMALL = -13,  /**< The caller's buffer is too small; the size needed is reported. */
    AE_ERR_NON_FINITE_RESULT = -14, /**< A result computed from finite inputs would be NaN or infinite:
                                         the float arithmetic overflowed on a row (the message names
                                         it); see @ref ae_overflow. */
    AE_ERR_BUSY = -15,              /**< The model is in use by another call that this one may not
                                         overlap (a call that changes the model while others use it,
                                         or a const call while it is being changed); nothing was
                                         done. Recorded in the calling thread only. */
    AE_ERR_PEER = -16               /**< A distributed training call (see @ref ae_distributed) stopped
                                         because another participant failed, or the engine joining
                                         them did; the model is as documented for the call. */
} ae_status;

/** @return a static English description of @p status (e.g. "out of memory");
 *  unknown values give "unknown status". Never NULL. Thread-safe. */
AE_API const char *ae_status_str(int status);

/** @return the message of the last failure in the calling thread, or "" if
 *  none; never NULL. Valid until the next failing call in this thread. */
AE_API const char *ae_last_error(void);
/** @} */

/**
 * @defgroup ae_overflow Overflow
 * @brief Finite inputs too large for float arithmetic never give NaN or
 * infinity with #AE_OK.
 *
 * A row of finite values can still be too large for the network's float
 * arithmetic (a row of 1e38s: a layer's products overflow, and +inf meets
 * -inf). Every call that computes from inputs catches it, with one contract:
 * - calls that return values (ae_model_encode(), ae_model_decode(),
 *   ae_model_reconstruct(), ae_model_encode_distribution(), ae_model_sample(),
 *   ae_model_interpolate(), ae_model_loss(), ae_model_gradient()) refuse with
 *   #AE_ERR_NON_FINITE_RESULT naming the first such row; the outputs then hold
 *   no meaningful values;
 * - scoring calls give such a row its place instead of refusing it:
 *   ae_model_score() gives it the score `FLT_MAX` (the largest float, meaning
 *   "beyond float range") and ae_model_feature_errors() gives `FLT_MAX` to each
 *   error that overflowed, so a batch with one extreme row still scores;
 * - detection fails closed: ae_model_detect() labels a row scoring `FLT_MAX`
 *   anomalous whatever the threshold, and on any failure sets every label to 1
 *   (see ae_model_detect() for the one exception, an impossible row count);
 * - ae_model_fit_threshold() refuses with #AE_ERR_NON_FINITE_RESULT (a
 *   quantile of real scores has no room for such a row);
 * - training steps that overflow are divergence (#AE_ERR_DIVERGED), as before.
 * Activations propagate NaN as torch does: a NaN inside the network is never
 * hidden by a saturating activation. An infinity is, where the activation's
 * limit is finite (sigmoid, tanh, ReLU of minus infinity), as in torch: such
 * a result is the limit, finite and correct.
 */

/**
 * @defgroup ae_model_group Models
 * @brief Creating, copying and describing a model.
 *
 * A model is a stack of dense layers. The encoder maps `input_dim` features
 * through hidden layers to the latent code; the decoder maps the code back to
 * `input_dim` outputs. Layers are numbered from 0 (the first encoder layer) to
 * ae_model_layer_count() - 1 (the output layer); the encoder is layers
 * `0 .. ae_model_encoder_layer_count() - 1`.
 * @{
 */
/** An opaque model: architecture, parameters, settings, optimizer state and
 *  the model's own random generator. */
typedef struct ae_model ae_model;

/**
 * Create a model with freshly initialised weights.
 *
 * @param out             receives the new model; set to NULL on failure.
 * @param encoder_widths  `{input_dim, hidden..., latent_dim}`: at least 2 widths,
 *                        each at least 1.
 * @param n_encoder_widths number of entries in @p encoder_widths (the encoder has
 *                        `n_encoder_widths - 1` layers).
 * @param decoder_widths  NULL to mirror the encoder; otherwise
 *                        `{latent_dim, hidden..., input_dim}` (first entry equal to
 *                        the latent width, last to the input width).
 * @param n_decoder_widths number of entries in @p decoder_widths (0 with NULL).
 * @return #AE_OK, #AE_ERR_INVALID_ARGUMENT, #AE_ERR_SIZE_OVERFLOW or #AE_ERR_OUT_OF_MEMORY.
 *
 * Weights are drawn from the model's generator seeded with #AE_PARAM_SEED
 * (default 0): He-normal for ReLU, leaky ReLU and ELU layers, Glorot-uniform
 * otherwise; biases are zero. Until the model is first trained or its weights
 * are set, changing the seed or an activation redraws them, so the initial
 * weights depend only on the architecture, the activations and the seed,
 * whatever the order of the calls. Free with ae_model_free().
 */
AE_API int ae_model_create(ae_model **out,
                           const size_t *encoder_widths, size_t n_encoder_widths,
                           const size_t *decoder_widths, size_t n_decoder_widths);

/** Architecture variants for ae_model_create_ex(); combine with `|`. Values pinned forever. */
typedef enum ae_architecture_flags {
    AE_ARCH_PLAIN = 0,         /**< every layer has its own weights; a deterministic code */
    AE_ARCH_TIED_WEIGHTS = 1,  /**< each decoder layer uses the transposed weights of its mirror
                                    encoder layer (the decoder must mirror the encoder); the
                                    decoder keeps only its own biases */
    AE_ARCH_VARIATIONAL = 2    /**< a variational autoencoder: the latent layer gives a mean and a
                                    log-variance per latent unit, training samples the code with
                                    the reparameterisation trick and adds the KL divergence from
                                    the standard normal prior (see @ref ae_training); not with
                                    #AE_ARCH_TIED_WEIGHTS */
} ae_architecture_flags;

/**
 * Create a model of an architecture variant: as ae_model_create() with
 * @p flags, a combination of ::ae_architecture_flags.
 *
 * With #AE_ARCH_TIED_WEIGHTS, ae_model_param_count() counts the encoder's
 * weights and every layer's bias; a decoder layer's ae_model_get_weights()
 * returns the transpose of its mirror's weights and ae_model_set_weights() on
 * it is #AE_ERR_STATE (set the mirror instead).
 *
 * With #AE_ARCH_VARIATIONAL, the latent layer (layer
 * `ae_model_encoder_layer_count() - 1`) has `2 * latent_dim` outputs: rows
 * `0 .. latent_dim - 1` of its weights and bias give the mean, rows
 * `latent_dim .. 2 * latent_dim - 1` the log-variance, both linear (the
 * #AE_PARAM_LATENT_ACTIVATION setting must stay linear). ae_model_layer_info()
 * reports that width; ae_model_latent_dim() reports `latent_dim`. Encoding
 * gives the mean; ae_model_encode_distribution() gives both.
 * @return as ae_model_create(), or #AE_ERR_INVALID_ARGUMENT for unknown or
 *         incompatible flags or a decoder that tied weights cannot mirror.
 */
AE_API int ae_model_create_ex(ae_model **out,
                              const size_t *encoder_widths, size_t n_encoder_widths,
                              const size_t *decoder_widths, size_t n_decoder_widths,
                              unsigned flags);

/** @return the model's ::ae_architecture_flags (0 if @p model is NULL). */
AE_API unsigned ae_model_architecture(const ae_model *model);

/** Free a model and everything it owns. NULL is a no-op. */
AE_API void ae_model_free(ae_model *model);

/**
 * Make an independent deep copy: architecture, settings, parameters,
 * optimizer state and generator state (so both continue identically).
 * The progress callback is copied too. Thread-safe on a const source.
 * @return #AE_OK, #AE_ERR_INVALID_ARGUMENT or #AE_ERR_OUT_OF_MEMORY.
 */
AE_API int ae_model_clone(const ae_model *model, ae_model **out);

/**
 * Redraw all weights (zero biases) from the generator reseeded with the
 * current #AE_PARAM_SEED, and reset the optimizer state. Use it to restart
 * training from scratch.
 */
AE_API int ae_model_reset(ae_model *model);

/** @return the message of the last failed non-const call on @p model, "" if
 *  none, or a fixed text if @p model is NULL; never NULL. A const call: while
 *  another thread changes the model it returns a fixed text saying so (the
 *  message is being written) instead of racing with it, and it never changes
 *  ae_last_error(). The string is a copy, valid as said in @ref ae_errors. */
AE_API const char *ae_model_last_error(const ae_model *model);

/** @return the number of input (and output) features; 0 if @p model is NULL. */
AE_API size_t ae_model_input_dim(const ae_model *model);
/** @return the width of the latent code; 0 if @p model is NULL. */
AE_API size_t ae_model_latent_dim(const ae_model *model);
/** @return the total number of dense layers (encoder and decoder); 0 if NULL. */
AE_API size_t ae_model_layer_count(const ae_model *model);
/** @return the number of encoder layers (the latent layer is the last); 0 if NULL. */
AE_API size_t ae_model_encoder_layer_count(const ae_model *model);
/** @return the number of trainable scalars (all weights and biases); 0 if NULL. */
AE_API size_t ae_model_param_count(const ae_model *model);

/**
 * Describe one layer.
 * @param model       the model.
 * @param layer       0 .. ae_model_layer_count() - 1.
 * @param n_out       receives the layer's output width (may be NULL).
 * @param n_in        receives the layer's input width (may be NULL).
 * @param activation  receives the layer's ::ae_activation (may be NULL).
 * @return #AE_OK or #AE_ERR_INVALID_ARGUMENT.
 */
AE_API int ae_model_layer_info(const ae_model *model, size_t layer,
                               size_t *n_out, size_t *n_in, int *activation);

/**
 * Everything that describes one layer, where its parameters lie in the flat
 * vector of ae_model_get_params() included, so that bindings never re-derive
 * the layout. Set `size` to `sizeof(ae_layer_description)` before the call: the
 * library fills only the fields that fit in `size` bytes, so the struct can
 * grow at its end.
 */
typedef struct ae_layer_description {
    size_t size;            /**< set by the caller: sizeof(ae_layer_description) */
    uint64_t n_in;          /**< input width */
    uint64_t n_out;         /**< output width (for a variational latent layer, twice the code) */
    int32_t activation;     /**< ::ae_activation */
    int32_t tied;           /**< 1 if the layer uses the transposed weights of `weights_layer`
                                 (#AE_ARCH_TIED_WEIGHTS), else 0 */
    uint64_t weights_layer; /**< the layer whose weights this layer uses: itself, or its mirror
                                 encoder layer when tied */
    uint64_t weight_offset; /**< where the weights it uses start in the flat vector: its own
                                 `n_out x n_in` matrix, or when tied its mirror's `n_in x n_out`
                                 one */
    uint64_t weight_count;  /**< weights the layer owns in the flat vector: `n_out * n_in`, or 0
                                 when tied */
    uint64_t bias_offset;   /**< where its bias starts in the flat vector */
    uint64_t bias_count;    /**< its bias length, `n_out` */
} ae_layer_description;

/**
 * Describe layer @p layer (0 .. ae_model_layer_count() - 1) into @p description,
 * whose `size` the caller has set.
 * @return #AE_OK, or #AE_ERR_INVALID_ARGUMENT (NULL, no such layer, `size` not set).
 * A const call: safe to call concurrently.
 */
AE_API int ae_model_describe_layer(const ae_model *model, size_t layer,
                                   ae_layer_description *description);
/** @} */

/**
 * @defgroup ae_params Settings
 * @brief Every setting is one enumerated parameter with a `double` value.
 *
 * Set them one at a time with ae_model_set_param(); integer and enum settings
 * take integral values. ae_param_bounds() gives each one's valid range, so
 * bindings never mirror private layouts. Settings may be changed between
 * training calls; they are copied by ae_model_clone().
 *
 * Some settings must suit each other and the model:
 * - #AE_LOSS_BCE needs a sigmoid output (#AE_PARAM_OUTPUT_ACTIVATION) and
 *   targets in [0, 1], so not #AE_SCALING_STANDARDIZE;
 * - #AE_SCALING_STANDARDIZE needs an output that takes values of both signs
 *   without bound: linear or leaky ReLU;
 * - #AE_PARAM_NOISE_LEVEL is a probability (at most 1) for masking and
 *   salt-and-pepper noise;
 * - a variational model keeps a linear latent layer and takes neither the
 *   activity nor the contractive penalty;
 * - a positive #AE_PARAM_SPARSITY_WEIGHT needs #AE_PARAM_SPARSITY_LAYER to name
 *   an encoder layer whose activation is sigmoid.
 *
 * A setting that breaks one of these rules against settings the caller has
 * chosen (set with ae_model_set_param(), or loaded from a file) is refused
 * when it is set, with #AE_ERR_STATE and a message naming the other setting;
 * the model keeps its settings. A rule broken against a setting still at its
 * default is left for later, so that settings can come in any order (the
 * loss before the output activation that suits it): the calls that need the
 * rule (training, and for the loss rules scoring) refuse the model until it
 * is mended. A model file written by version 0.2 or earlier may hold settings
 * that break a rule; it loads, the calls that need the rule refuse it, and
 * it can be mended one setting at a time.
 * @{
 */
/** Activation functions. Values pinned forever. */
typedef enum ae_activation {
    AE_ACT_LINEAR = 0,     /**< f(z) = z */
    AE_ACT_RELU = 1,       /**< f(z) = max(z, 0) */
    AE_ACT_LEAKY_RELU = 2, /**< f(z) = z > 0 ? z : slope * z, slope = #AE_PARAM_LEAKY_SLOPE */
    AE_ACT_ELU = 3,        /**< f(z) = z > 0 ? z : alpha * (exp(z) - 1), alpha = #AE_PARAM_ELU_ALPHA */
    AE_ACT_SIGMOID = 4,    /**< f(z) = 1 / (1 + exp(-z)) */
    AE_ACT_TANH = 5,       /**< f(z) = tanh(z) */
    AE_ACT_SOFTPLUS = 6    /**< f(z) = log(1 + exp(z)) */
} ae_activation;

/** Reconstruction losses, each the mean over all elements of a batch. Values pinned forever. */
typedef enum ae_loss {
    AE_LOSS_MSE = 0, /**< mean of (y - x)^2 */
    AE_LOSS_BCE = 1  /**< mean of -(x log y + (1 - x) log(1 - y)); needs a sigmoid output
                          (fused with it, computed from the logits) and targets in [0, 1] */
} ae_loss;

/** Optimizers. Values pinned forever. */
typedef enum ae_optimizer {
    AE_OPT_SGD = 0,   /**< SGD with optional (Nesterov) momentum, as torch.optim.SGD */
    AE_OPT_ADAM = 1,  /**< Adam with L2 weight decay added to the gradient, as torch.optim.Adam */
    AE_OPT_ADAMW = 2  /**< Adam with decoupled weight decay, as torch.optim.AdamW */
} ae_optimizer;

/** Corruption applied to training inputs for denoising. Values pinned forever. */
typedef enum ae_noise {
    AE_NOISE_NONE = 0,            /**< train on the clean input */
    AE_NOISE_GAUSSIAN = 1,        /**< add normal noise of deviation #AE_PARAM_NOISE_LEVEL (its
                                       tails cut at 5.77 deviations, a share of 8e-9) */
    AE_NOISE_MASKING = 2,         /**< set each value to 0 with probability #AE_PARAM_NOISE_LEVEL */
    AE_NOISE_SALT_AND_PEPPER = 3  /**< set each value, with probability #AE_PARAM_NOISE_LEVEL, to
                                       0 or 1 with equal chance (for data in [0, 1]) */
} ae_noise;

/** How input features are scaled (#AE_PARAM_SCALING). Values pinned forever.
 *  A feature's scaled value is `(x - offset) / scale`. */
typedef enum ae_scaling {
    AE_SCALING_NONE = 0,       /**< features are used as they are */
    AE_SCALING_MINMAX = 1,     /**< offset = minimum, scale = maximum - minimum, at least
                                    #AE_PARAM_SCALING_MIN_SCALE (1 for a constant feature): the
                                    fitted rows map into [0, 1] */
    AE_SCALING_STANDARDIZE = 2 /**< offset = mean, scale = standard deviation (population), at
                                    least #AE_PARAM_SCALING_MIN_SCALE (1 for a constant
                                    feature); not with #AE_LOSS_BCE, and only with a linear or
                                    leaky ReLU output */
} ae_scaling;

/** Settings. Values pinned forever. Defaults in brackets. */
typedef enum ae_param {
    AE_PARAM_SEED = 1,                 /**< generator seed, integer in [0, 2^53] [0]; setting it,
                                            even to its current value, restarts the generator
                                            from it (noise, dropout, shuffling) */
    AE_PARAM_HIDDEN_ACTIVATION = 2,    /**< ::ae_activation of hidden layers [RELU] */
    AE_PARAM_LATENT_ACTIVATION = 3,    /**< ::ae_activation of the latent layer [LINEAR] */
    AE_PARAM_OUTPUT_ACTIVATION = 4,    /**< ::ae_activation of the output layer [LINEAR] */
    AE_PARAM_LOSS = 5,                 /**< ::ae_loss [MSE] */
    AE_PARAM_LEAKY_SLOPE = 6,          /**< negative slope of leaky ReLU, [0, 1) [0.01] */
    AE_PARAM_ELU_ALPHA = 7,            /**< ELU alpha, (0, 100] [1] */

    AE_PARAM_OPTIMIZER = 10,           /**< ::ae_optimizer [ADAM] */
    AE_PARAM_LEARNING_RATE = 11,       /**< step size, (0, 1e3] [1e-3] */
    AE_PARAM_MOMENTUM = 12,            /**< SGD momentum, [0, 1) [0] */
    AE_PARAM_NESTEROV = 13,            /**< SGD Nesterov momentum, 0 or 1 [0] */
    AE_PARAM_ADAM_BETA1 = 14,          /**< Adam first-moment decay, [0, 1) [0.9] */
    AE_PARAM_ADAM_BETA2 = 15,          /**< Adam second-moment decay, [0, 1) [0.999] */
    AE_PARAM_ADAM_EPSILON = 16,        /**< Adam denominator term, (0, 1] [1e-8] */
    AE_PARAM_WEIGHT_DECAY = 17,        /**< L2 on weights (not biases); decoupled for AdamW, [0, 1e3] [0] */
    AE_PARAM_CLIP_NORM = 18,           /**< global gradient-norm clip as torch.nn.utils.clip_grad_norm_: the
                                            gradient is scaled by clip / (norm + 1e-6) when that is below
                                            1; 0 = off, [0, 1e30] [0] */

    AE_PARAM_EPOCHS = 20,              /**< passes over the data in ae_model_fit(), [1, 1e9] [10] */
    AE_PARAM_BATCH_SIZE = 21,          /**< rows per step, [1, 1e7] [64] */
    AE_PARAM_SHUFFLE = 22,             /**< reshuffle the rows every epoch, 0 or 1 [1] */
    AE_PARAM_VALIDATION_FRACTION = 23, /**< share of the rows held out at random for validation when no
                                            validation set is given, [0, 0.9] [0] */
    AE_PARAM_PATIENCE = 24,            /**< early stopping: epochs without improvement, 0 = off, [0, 1e9] [0] */
    AE_PARAM_MIN_DELTA = 25,           /**< early stopping: smallest loss decrease that counts, [0, 1e30] [0] */
    AE_PARAM_RESTORE_BEST = 26,        /**< after a fit with validation, keep the weights of the epoch with
                                            the lowest validation loss, 0 or 1 [1]. Without validation a fit
                                            ends with its last epoch's weights whatever this says: the
                                            training loss is measured while the weights move, and choosing
                                            an epoch by it would follow noise. */
    AE_PARAM_PROGRESS_EVERY_BATCH = 27, /**< also call the progress callback after every batch, 0 or 1 [0] */
    AE_PARAM_DIVERGENCE_FACTOR = 28,   /**< a fit stops with #AE_ERR_DIVERGED (restoring the weights from the
                                            start of the epoch) when an epoch's training loss, though finite,
                                            is more than this many times the loss the fit started from (the
                                            mean loss of the first 1,024 rows of epoch 1 at the starting
                                            weights, measured before the first step; from a data source, the
                                            mean over the first tenth of epoch 1's steps); a starting loss
                                            below 1e-6 of the rows' mean square (a fit already at rounding
                                            level) sets no reference; 0 = only non-finite losses count,
                                            [0, 1e30] [1e3] */
    AE_PARAM_SHUFFLE_BUFFER = 29,      /**< ae_model_fit_source(): rows held to shuffle a data source's rows
                                            (a row waits in the buffer and leaves it at a random step);
                                            never more rows than the source gives, so memory is
                                            min(this, rows) x input_dim floats, [1, 1e9] [10000] */

    AE_PARAM_THREADS = 30,             /**< threads for the elementwise work of training (optimizer
                                            update, loss), the caller's included; 0 = one per online
                                            processor, counted when the threads start (at the first
                                            training call, and again when this setting changes,
                                            and in a child of fork() at its first training call).
                                            Stopped by ae_model_free(); inference always runs on the
                                            calling thread. Matrix products use the BLAS library's
                                            own threads (OPENBLAS_NUM_THREADS), except where these
                                            threads split a training batch between them, each with
                                            its own single-threaded BLAS calls (faster than
                                            OpenBLAS's threads, which meet at every product): for
                                            any model when OpenBLAS runs one thread per call
                                            (OPENBLAS_NUM_THREADS=1 or openblas_set_num_threads(1)),
                                            and with OpenBLAS's threads for narrow models, whose
                                            rows then go in chunks small enough for OpenBLAS to
                                            run each product on the calling thread. Not for
                                            activation penalties or distributed steps, nor for
                                            batches too small to gain. Results are bit-identical
                                            for the same setting and the same BLAS thread count.
                                            [0, 64] [0] */

    AE_PARAM_NOISE = 40,               /**< ::ae_noise: denoising. Each training batch is corrupted
                                            afresh by the model's generator while the loss compares
                                            with the clean batch; validation and inference see clean
                                            inputs. [NONE] */
    AE_PARAM_NOISE_LEVEL = 41,         /**< deviation for GAUSSIAN, probability (at most 1, applied
                                            to within 2^-31) for MASKING and SALT_AND_PEPPER,
                                            [0, 1e6] [0.1] */

    AE_PARAM_SCALING = 50,             /**< ::ae_scaling of the input features, kept in the model:
                                            fitted by the first ae_model_fit() on its rows (or by
                                            ae_model_fit_scaling()), then applied by every call that
                                            takes inputs and undone by every call that returns
                                            outputs. Changing it forgets a fitted scaling. [NONE] */
    AE_PARAM_SCALING_MIN_SCALE = 51,   /**< the smallest scale a fitted scaling gives a feature that is not
                                            constant, in the feature's own units: a nearly constant feature
                                            (standard deviation or range below this) is divided by this
                                            instead, so that its tiny spread does not blow small
                                            differences up into huge inputs; a constant feature gets 1.
                                            Takes effect when a scaling is next fitted. [0, 1e30] [0.05] */

    AE_PARAM_SPARSITY_WEIGHT = 60,     /**< weight of the KL-divergence sparsity penalty on the
                                            mean activations of #AE_PARAM_SPARSITY_LAYER, whose
                                            activation must be sigmoid; 0 = off, [0, 1e3] [0] */
    AE_PARAM_SPARSITY_TARGET = 61,     /**< the target mean activation rho, (0, 1) [0.05] */
    AE_PARAM_SPARSITY_LAYER = 62,      /**< the encoder layer the sparsity penalty watches;
                                            -1 = the latent layer, [-1, #AE_MAX_LAYERS - 1] [-1] */
    AE_PARAM_ACTIVITY_L1 = 63,         /**< weight of the L1 penalty on the latent code,
                                            0 = off, [0, 1e3] [0] */
    AE_PARAM_CONTRACTIVE_WEIGHT = 64,  /**< weight of the contractive penalty, 0 = off, [0, 1e3] [0] */

    AE_PARAM_DROPOUT_INPUT = 70,       /**< training only: probability of zeroing each input value
                                            (survivors scaled by 1 / (1 - p)); the loss compares
                                            with the clean input, [0, 1) [0] */
    AE_PARAM_DROPOUT_HIDDEN = 71,      /**< training only: the same for the outputs of every layer
                                            but the output layer (and a variational latent layer),
                                            [0, 1) [0] */

    AE_PARAM_KL_WEIGHT = 80,           /**< variational models: weight beta of the KL term, [0, 1e3] [1] */
    AE_PARAM_KL_WARMUP_EPOCHS = 81     /**< variational models: in ae_model_fit(), beta grows linearly
                                            over this many epochs (epoch e of a fit uses
                                            beta * min(1, e / warmup)); 0 = off, [0, 1e9] [0] */
} ae_param;

/**
 * Set one setting.
 * @return #AE_OK; #AE_ERR_INVALID_ARGUMENT for an unknown parameter, a
 *         non-integral value for an integer setting, or a value out of
 *         ae_param_bounds(); #AE_ERR_STATE for a value that conflicts with
 *         settings the caller chose (see above); the model is unchanged on error.
 */
AE_API int ae_model_set_param(ae_model *model, ae_param param, double value);
/** Read one setting into @p value. @return #AE_OK or #AE_ERR_INVALID_ARGUMENT. */
AE_API int ae_model_get_param(const ae_model *model, ae_param param, double *value);
/**
 * The valid closed range of a setting (open ends are described in ::ae_param;
 * a value equal to an open end is refused), and whether it takes integers only.
 * Any output pointer may be NULL. Thread-safe.
 * @return #AE_OK or #AE_ERR_INVALID_ARGUMENT for an unknown parameter.
 */
AE_API int ae_param_bounds(ae_param param, double *min_value, double *max_value, int *integral);
/** @return the parameter's name, e.g. "learning_rate", or NULL if unknown. Thread-safe. */
AE_API const char *ae_param_name(ae_param param);

/** What kind of value a setting takes. Values pinned forever. */
typedef enum ae_param_kind {
    AE_PARAM_KIND_REAL = 0,    /**< any double in the range */
    AE_PARAM_KIND_INTEGER = 1, /**< whole numbers in the range */
    AE_PARAM_KIND_BOOLEAN = 2, /**< 0 or 1 */
    AE_PARAM_KIND_ENUM = 3     /**< the values of an enum, each with a name (ae_param_value_name()) */
} ae_param_kind;

/**
 * Everything a binding or a tool needs to offer a setting: its name, kind,
 * default and range with its open ends. Set `size` to
 * `sizeof(ae_param_description)`; the struct may grow at its end.
 */
typedef struct ae_param_description {
    size_t size;          /**< set by the caller: sizeof(ae_param_description) */
    const char *name;     /**< as ae_param_name(); static */
    int32_t kind;         /**< ::ae_param_kind */
    int32_t min_open;     /**< 1 if #min_value itself is refused */
    int32_t max_open;     /**< 1 if #max_value itself is refused */
    int32_t reserved;     /**< 0 */
    double default_value; /**< the value of a new model */
    double min_value;     /**< the smallest valid value (or the open end) */
    double max_value;     /**< the largest valid value (or the open end) */
} ae_param_description;

/** Describe setting @p param into @p description (whose `size` the caller set).
 *  @return #AE_OK or #AE_ERR_INVALID_ARGUMENT (unknown parameter, NULL, `size` not set).
 *  Thread-safe. */
AE_API int ae_param_describe(ae_param param, ae_param_description *description);
/** @return the number of settings the library knows. Thread-safe. */
AE_API size_t ae_param_count(void);
/** @return the setting at @p index (0 .. ae_param_count() - 1, in increasing id order), or 0
 *  for an index out of range: for bindings that list every setting. Thread-safe. */
AE_API ae_param ae_param_at(size_t index);
/** @return the name of value @p value of an enum setting, e.g. "bce" for #AE_PARAM_LOSS 1,
 *  "adamw", "masking", "standardize", or an activation's name; NULL if @p param is not an
 *  enum setting or @p value none of its values. Thread-safe. */
AE_API const char *ae_param_value_name(ae_param param, double value);
/** @return the activation's name, e.g. "relu", or NULL if unknown. Thread-safe. */
AE_API const char *ae_activation_name(ae_activation activation);
/** @} */

/**
 * @defgroup ae_training Training
 * @brief Whole runs with ae_model_fit(), single steps for custom loops.
 *
 * The training objective of a batch of `n` rows is the reconstruction loss
 * (the mean of the elementwise loss over all `n x input_dim` values, against
 * the clean, scaled input) plus the enabled penalties:
 * - sparsity (#AE_PARAM_SPARSITY_WEIGHT `beta`, target `rho`): with
 *   `r_j` the mean over the batch of unit j's activation in
 *   #AE_PARAM_SPARSITY_LAYER (clamped into [1e-6, 1 - 1e-6]),
 *   `beta * sum_j (rho log(rho / r_j) + (1 - rho) log((1 - rho) / (1 - r_j)))`;
 * - activity L1 (#AE_PARAM_ACTIVITY_L1 `lambda`): `lambda / n * sum |h|`
 *   over the latent codes `h` of the batch;
 * - contractive (#AE_PARAM_CONTRACTIVE_WEIGHT `gamma`): `gamma / n` times
 *   the sum over the rows of the squared Frobenius norm of the Jacobian of the
 *   latent code with respect to the latent layer's input,
 *   `sum_j act'(z_j)^2 * sum_i W_ji^2` (for a one-layer encoder, the Jacobian
 *   with respect to the input itself).
 *
 * Variational models (#AE_ARCH_VARIATIONAL) add the KL divergence of each
 * row's Gaussian code from the standard normal prior,
 * `KL = -1/2 sum_j (1 + logvar_j - mean_j^2 - exp(logvar_j))`, as
 * `beta / (n * input_dim) * sum over rows of KL` (#AE_PARAM_KL_WEIGHT), so
 * that `input_dim` times the objective is the mean over rows of the summed
 * reconstruction loss plus `beta * KL`: for #AE_LOSS_BCE and beta 1, the
 * negative evidence lower bound (ELBO) per row. A training step decodes a
 * code sampled as `mean + exp(logvar / 2) * eps`, eps standard normal from the
 * model's generator; ae_model_gradient(), validation and inference decode the
 * mean (eps = 0). The latent layer's log-variance is clamped into [-30, 20]
 * wherever it is used (training, ae_model_encode_distribution()), so that
 * `exp(logvar)` cannot overflow; a clamped value passes no gradient, as
 * torch.clamp.
 *
 * The penalties see the activations before hidden dropout. Training losses
 * (ae_model_train_batch(), ae_model_gradient(), the fit report's training
 * loss, the progress callback) are this objective; validation losses,
 * ae_model_loss() and ae_model_score() are the reconstruction loss alone.
 * @{
 */
/** Why a fit ended. Values pinned forever. */
typedef enum ae_stop_reason {
    AE_STOP_COMPLETED = 0,     /**< all #AE_PARAM_EPOCHS ran */
    AE_STOP_EARLY = 1,         /**< early stopping: no improvement for #AE_PARAM_PATIENCE epochs */
    AE_STOP_CANCELLED = 2,     /**< the progress callback returned non-zero */
    AE_STOP_DIVERGED = 3,      /**< a non-finite loss or gradient, or a loss beyond
                                    #AE_PARAM_DIVERGENCE_FACTOR; last finite weights restored */
    AE_STOP_FAILED = 4         /**< the fit stopped on an error other than those above (the
                                    returned status says which: a data source, a validation loss
                                    that overflowed, memory, or in a distributed fit another
                                    participant or the engine, #AE_ERR_PEER); weights as after
                                    the last step */
} ae_stop_reason;

/**
 * What a fit did. Set `size` to `sizeof(ae_fit_report)` before the call: the
 * library fills only the fields that fit in `size` bytes, so the struct can
 * grow at its end without breaking older callers.
 */
typedef struct ae_fit_report {
    size_t size;               /**< set by the caller: sizeof(ae_fit_report) */
    uint64_t epochs_run;       /**< completed epochs */
    uint64_t steps_run;        /**< optimizer steps taken */
    uint64_t best_epoch;       /**< 1-based epoch with the lowest monitored loss (0 if none completed) */
    int32_t stop_reason;       /**< ::ae_stop_reason */
    int32_t restored_best;     /**< 1 if the best epoch's weights were restored at the end */
    double final_train_loss;   /**< mean training loss of the last completed epoch (NaN if none) */
    double final_val_loss;     /**< validation loss after the last completed epoch (NaN without validation) */
    double best_loss;          /**< lowest monitored loss: validation if any, else training (NaN if none) */
    double seconds;            /**< wall-clock time of the whole call */
    double samples_per_second; /**< training rows processed per second, validation excluded */
    double final_kl;           /**< variational: mean KL divergence per row over the last completed
                                    epoch's training batches (NaN otherwise) */
    double final_elbo;         /**< variational: `-(summed reconstruction loss + KL)` per row over
                                    the same batches; for #AE_LOSS_BCE the evidence lower bound,
                                    for MSE the same bound up to the constants of a unit-variance
                                    Gaussian likelihood (NaN for models that are not variational) */
} ae_fit_report;

/** Progress passed to the callback. Fields may be appended; read `size` first. */
typedef struct ae_progress {
    size_t size;         /**< sizeof(ae_progress) of the library that filled it */
    uint64_t epoch;      /**< 1-based current epoch */
    uint64_t epochs;     /**< epochs requested */
    uint64_t batch;      /**< 1-based batch within the epoch (equal to `batches` at epoch end) */
    uint64_t batches;    /**< batches per epoch */
    int32_t epoch_end;   /**< 1 at the end of an epoch, 0 after a single batch */
    double train_loss;   /**< epoch end: the epoch's mean training loss; otherwise this batch's loss */
    double val_loss;     /**< epoch end with validation: the validation loss; otherwise NaN */
    double seconds;      /**< time since the fit began */
} ae_progress;

/**
 * Progress callback: called from the thread running ae_model_fit() at the end
 * of each epoch. With #AE_PARAM_PROGRESS_EVERY_BATCH it is also called after
 * every batch but the last of an epoch, whose call is the epoch-end one: an
 * epoch of `batches` batches gives `batches` calls. Return 0 to go on,
 * non-zero to stop. It may call const functions on the model (encode,
 * get_params, ...), never non-const ones.
 */
typedef int (*ae_progress_fn)(const ae_progress *progress, void *user_data);

/** Install (or with NULL remove) the progress callback of @p model.
 *  @p user_data is passed through untouched. */
AE_API int ae_model_set_progress(ae_model *model, ae_progress_fn callback, void *user_data);

/**
 * Train on the rows of @p x for #AE_PARAM_EPOCHS epochs of mini-batches of
 * #AE_PARAM_BATCH_SIZE rows.
 *
 * Rows are visited in an order reshuffled every epoch by the model's
 * generator (indices only; the data is never copied as a whole), each epoch's
 * order drawn from the rows in data order, so that it depends only on the
 * generator's state, which model files keep: a fit continued from a saved
 * model visits the rows the uninterrupted fit would have. If
 * #AE_PARAM_VALIDATION_FRACTION is positive, that share of rows, chosen at
 * random by the generator anew in each call, is held out and its loss is
 * monitored; pass an explicit set to ae_model_fit_validated() to keep the
 * same validation rows across calls. Early stopping
 * (#AE_PARAM_PATIENCE, #AE_PARAM_MIN_DELTA) acts on the monitored loss: the
 * validation loss if there is validation, else the epoch's training loss.
 * #AE_PARAM_RESTORE_BEST acts only with validation (the best epoch is chosen
 * by validation loss; without validation the fit ends with its last epoch's
 * weights). Training continues from the current weights and optimizer state,
 * so repeated calls resume.
 *
 * @param model   the model to train.
 * @param x       `n_rows x ae_model_input_dim()` row-major, leading dimension @p ld_x.
 * @param n_rows  number of rows in @p x, at least 1.
 * @param ld_x    leading dimension of @p x, at least ae_model_input_dim().
 * @param report  filled when not NULL (also on #AE_ERR_CANCELLED and #AE_ERR_DIVERGED).
 * @return #AE_OK; #AE_ERR_CANCELLED (weights kept as after the last completed
 *         step, or the best epoch's with #AE_PARAM_RESTORE_BEST and validation);
 *         #AE_ERR_DIVERGED (a non-finite loss or gradient, or an epoch's loss
 *         beyond #AE_PARAM_DIVERGENCE_FACTOR times the starting loss; weights
 *         restored to those at the start of the epoch that diverged);
 *         #AE_ERR_NON_FINITE_RESULT (the validation loss overflowed while the
 *         training loss stayed finite: a validation row too large for the
 *         weights, which the message names; the fit stops after that epoch and
 *         keeps its weights); or an argument/data/memory error before any step,
 *         with the model untouched.
 */
AE_API int ae_model_fit(ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                        ae_fit_report *report);

/**
 * As ae_model_fit(), with an explicit validation set @p x_val
 * (`n_val_rows x input_dim`, leading dimension @p ld_val) instead of
 * #AE_PARAM_VALIDATION_FRACTION. With @p x_val NULL and @p n_val_rows 0 it
 * is ae_model_fit().
 */
AE_API int ae_model_fit_validated(ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                                  const float *x_val, size_t n_val_rows, size_t ld_val,
                                  ae_fit_report *report);

/**
 * Rows that a caller streams to ae_model_fit_source(), so that a fit never
 * holds the data (a file larger than memory, a database cursor, a generator).
 * Set `size` to `sizeof(ae_data_source)`; the struct may grow at its end.
 * Every pass must give the same rows in the same order: a pass of another
 * number of rows than the first (training or validation) stops the fit with
 * #AE_ERR_IO, and a validation source of no rows is refused.
 */
typedef struct ae_data_source {
    size_t size;     /**< set by the caller: sizeof(ae_data_source) */
    void *user_data; /**< passed to the hooks untouched */
    /** Write up to @p max_rows next rows of the pass, @p n_cols floats each, row after row,
     *  to @p rows, and their number to @p n_read (0: the pass is over). Return 0, or
     *  non-zero to stop the fit with #AE_ERR_IO. */
    int (*read)(void *user_data, float *rows, size_t n_cols, size_t max_rows, size_t *n_read);
    /** Start a new pass at the first row. Return 0, or non-zero (#AE_ERR_IO). */
    int (*rewind)(void *user_data);
} ae_data_source;

/**
 * As ae_model_fit(), with the rows read from @p train a chunk at a time, and
 * the validation loss from @p validation (NULL: none;
 * #AE_PARAM_VALIDATION_FRACTION must be 0 with a source, #AE_ERR_STATE
 * otherwise). Memory stays bounded whatever the data's size: a shuffle buffer of
 * #AE_PARAM_SHUFFLE_BUFFER rows, or of all the rows when the source has fewer
 * (when #AE_PARAM_SHUFFLE is on: each epoch a row
 * read from the source waits in it and leaves at a random step, so order is
 * random within the buffer's reach) and a chunk of 256 rows.
 *
 * Before training one pass over both sources counts and checks every row (a
 * bad row is refused with the model untouched, as ae_model_fit() does) and a
 * scaling that needs fitting is fitted from the training rows (a second pass
 * for #AE_SCALING_STANDARDIZE); each epoch then reads the training source once
 * more, and the validation source once. A source that fails mid-fit, or gives
 * a bad row then, stops the fit (#AE_ERR_IO, or the data error) with the
 * weights of the last completed step. With ae_train_hooks, every participant
 * reads its own sources (see @ref ae_distributed).
 * @return as ae_model_fit(), or #AE_ERR_IO from a source.
 */
AE_API int ae_model_fit_source(ae_model *model, const ae_data_source *train,
                               const ae_data_source *validation, ae_fit_report *report);

/**
 * One optimizer step on the batch @p x (all @p n_rows rows at once).
 * @param model  the model to train.
 * @param x      `n_rows x ae_model_input_dim()` row-major, leading dimension @p ld_x.
 * @param n_rows number of rows in @p x, at least 1.
 * @param ld_x   leading dimension of @p x, at least ae_model_input_dim().
 * @param loss receives the batch loss before the step (may be NULL).
 * @return #AE_OK; #AE_ERR_DIVERGED if the loss, the gradient or the updated
 *         weights would be non-finite (the step is skipped and the weights are
 *         unchanged; if the update overflowed, the optimizer state is reset);
 *         or an argument or data error.
 */
AE_API int ae_model_train_batch(ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                                double *loss);

/**
 * Loss and gradient on a batch without changing the weights, for custom
 * optimizers and for checking gradients. The input is used as it is (after
 * the model's scaling): no denoising noise is drawn and nothing is dropped
 * (#AE_PARAM_NOISE and dropout act in training steps only), so the result is
 * the deterministic gradient of the training objective, penalties included.
 * @param model    the model (its weights are not changed).
 * @param x        `n_rows x ae_model_input_dim()` row-major, leading dimension @p ld_x.
 * @param n_rows   number of rows in @p x, at least 1.
 * @param ld_x     leading dimension of @p x, at least ae_model_input_dim().
 * @param gradient receives ae_model_param_count() floats in the flat layout of
 *                 ae_model_get_params(); the loss is the training objective
 *                 (weight decay is applied by the optimizer, not here). It may not
 *                 share memory with @p x (#AE_ERR_INVALID_ARGUMENT, nothing written).
 * @param n_gradient must equal ae_model_param_count().
 * @param loss     receives the batch loss (may be NULL).
 * @return #AE_OK; an argument, data or state error; or #AE_ERR_NON_FINITE_RESULT
 *         if the loss or the gradient would not be finite, naming the first row
 *         whose loss overflows when there is one (see @ref ae_overflow).
 */
AE_API int ae_model_gradient(ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                             float *gradient, size_t n_gradient, double *loss);
/** @} */

/**
 * @defgroup ae_distributed Distributed training
 * @brief A general way for an outside engine to take part in training, so that
 * several processes (or threads, or machines) train one model on their own
 * rows and end with the weights one process would get from all the rows.
 *
 * Each participant holds its own copy of the model (the same architecture,
 * settings, weights, optimizer state and generator state: broadcast them
 * first, e.g. with ae_model_save_to_memory()) and its own rows, and installs
 * hooks with ae_model_set_train_hooks(). The library never learns what the
 * engine is (libautoenc_mpi uses MPI). With hooks, ae_model_fit(),
 * ae_model_fit_validated(), ae_model_train_batch(), ae_model_gradient(),
 * ae_model_fit_scaling(), ae_model_pretrain() and the scaling a first fit
 * fits become collective: every participant must make the same call, and:
 * - a training step's objective is the mean over the rows of all participants
 *   (the participant's own rows summed, divided by the global row count), and
 *   its gradient is summed across participants through the gradient hooks: the
 *   library hands each span of the flat gradient buffer to `gradient_ready` as
 *   soon as the backward pass has finished it, last layer first, so the engine
 *   can overlap communication with the rest of the backward pass, and calls
 *   `gradient_wait` before clipping and the update;
 * - the batch statistics of the sparsity penalty, the losses, row counts,
 *   validation losses and every decision (divergence, early stopping, the best
 *   epoch, cancellation, the scaling's statistics) go through `reduce`, so
 *   every participant takes the same branch;
 * - ae_model_fit() runs as many steps per epoch on every participant as the
 *   participant with the most rows needs: one that runs out of rows takes part
 *   with empty batches (uneven shards are fine; every row is used once per
 *   epoch);
 * - a failure on one participant (bad data, bad arguments, out of memory) is
 *   agreed on before any step: the failing participant returns its own status,
 *   the others #AE_ERR_PEER, every model unchanged; a hook that returns
 *   non-zero fails the call with #AE_ERR_PEER;
 * - every such agreement also compares the participants' settings: if a
 *   setting differs (changed on some of them only), every participant returns
 *   #AE_ERR_STATE there, unchanged, rather than going out of step;
 * - randomness (shuffles, validation splits, noise, dropout masks, variational
 *   codes) comes from a stream of the participant's own, derived from one draw
 *   of the model's generator per epoch (per step in ae_model_train_batch()), so
 *   the generators of all participants stay equal and a checkpoint saved by one
 *   participant resumes all of them;
 * - the progress callback is called where it is installed (install it on one
 *   participant); its decision to stop is combined, so all stop together.
 * One participant with hooks trains exactly as without them. The sums go in a
 * different order than in one process, so the weights equal those of one
 * process training on the combined batches up to float summation order.
 * @{
 */
/** How ae_train_hooks::reduce combines values across participants. Values pinned forever. */
typedef enum ae_reduce_op {
    AE_REDUCE_SUM = 0, /**< elementwise sum */
    AE_REDUCE_MAX = 1  /**< elementwise maximum */
} ae_reduce_op;

/**
 * The engine's part in a distributed training step. Set `size` to
 * `sizeof(ae_train_hooks)`; the struct may grow at its end. Each hook returns
 * 0, or non-zero when the engine failed (the call then fails with
 * #AE_ERR_PEER). Every participant makes the same hook calls in the same order
 * with the same counts.
 */
typedef struct ae_train_hooks {
    size_t size;           /**< set by the caller: sizeof(ae_train_hooks) */
    uint32_t participant;  /**< this participant's index, 0 .. participants - 1 */
    uint32_t participants; /**< how many take part, at least 1 */
    void *user_data;       /**< passed to every hook untouched */
    /** Combine @p count doubles across participants with @p op (an ::ae_reduce_op), in
     *  place; when it returns, every participant holds the same result. */
    int (*reduce)(double *values, size_t count, int op, void *user_data);
    /** The span `gradients[offset .. offset + count)` of this participant's gradient is
     *  final for this step: start summing it across participants, in place. May return
     *  before the sum is done. */
    int (*gradient_ready)(float *gradients, size_t offset, size_t count, void *user_data);
    /** Return once every span handed to `gradient_ready` since the step began holds the
     *  sum across participants (`gradients` has @p count floats, the whole buffer). */
    int (*gradient_wait)(float *gradients, size_t count, void *user_data);
} ae_train_hooks;

/**
 * Install @p hooks on @p model (copied; NULL removes them). The model's
 * clones, exported encoders and loaded copies have no hooks.
 * @return #AE_OK, or #AE_ERR_INVALID_ARGUMENT (`size` not set, a hook missing,
 *         a participant index out of range).
 */
AE_API int ae_model_set_train_hooks(ae_model *model, const ae_train_hooks *hooks);
/** @} */

/**
 * @defgroup ae_inference Inference
 * @brief Encode, decode, reconstruct and score. All take a const model and
 * are safe to call concurrently on one model. Rows go through in chunks, so
 * the scratch is bounded whatever @p n_rows. A call on a few rows (a single
 * row of most models) keeps its scratch on the stack, about 16 KiB at most;
 * a larger one reuses one of the model's spare scratches, of which the model
 * keeps as many as calls have run on it at once, so repeated calls from any
 * number of threads allocate nothing once warm. The spares are freed with the
 * model.
 *
 * An output may not share memory with the call's input, nor with another of
 * its outputs: such a call returns #AE_ERR_INVALID_ARGUMENT naming both
 * buffers and writes nothing. Outputs in other columns of the input's own
 * table (rows interleaved through the leading dimensions) share no element
 * and are fine. The same holds for the anomaly calls and for the two buffers
 * of ae_model_get_scaling() and ae_model_get_optimizer_state().
 * @{
 */
/** Latent codes: @p z (`n_rows x latent_dim`, leading dimension @p ld_z) from @p x
 *  (`n_rows x input_dim`, leading dimension @p ld_x). */
AE_API int ae_model_encode(const ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                           float *z, size_t ld_z);
/** Outputs @p y (`n_rows x input_dim`) from latent codes @p z (`n_rows x latent_dim`). */
AE_API int ae_model_decode(const ae_model *model, const float *z, size_t n_rows, size_t ld_z,
                           float *y, size_t ld_y);
/** Reconstructions @p y of @p x, both `n_rows x input_dim`; @p y apart from @p x. */
AE_API int ae_model_reconstruct(const ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                                float *y, size_t ld_y);
/**
 * Per-row reconstruction error: @p scores[i] is the model's loss (mean over
 * the features) for row i. For #AE_LOSS_BCE, @p x must lie in [0, 1]. A row
 * whose error overflows float scores `FLT_MAX` (see @ref ae_overflow).
 */
AE_API int ae_model_score(const ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                          float *scores);
/** Mean loss over all rows of @p x, accumulated in double;
 *  #AE_ERR_NON_FINITE_RESULT if a row's loss overflows (see @ref ae_overflow). */
AE_API int ae_model_loss(const ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                         double *loss);

/**
 * Mean and log-variance of the Gaussian code of each row of a variational
 * model (#AE_ERR_STATE for other models).
 * @param model            the model (const: safe to call concurrently).
 * @param x                `n_rows x input_dim`, leading dimension @p ld_x.
 * @param n_rows           rows of @p x, at least 1.
 * @param ld_x             leading dimension of @p x, at least input_dim.
 * @param mean             receives `n_rows x latent_dim`, leading dimension @p ld_mean.
 * @param ld_mean          at least latent_dim.
 * @param log_variance     receives `n_rows x latent_dim`, leading dimension
 *                         @p ld_log_variance (may be NULL).
 * @param ld_log_variance  at least latent_dim (ignored with NULL).
 */
AE_API int ae_model_encode_distribution(const ae_model *model, const float *x, size_t n_rows,
                                        size_t ld_x, float *mean, size_t ld_mean,
                                        float *log_variance, size_t ld_log_variance);

/**
 * Generate @p n_rows new rows from a variational model: codes drawn from the
 * standard normal prior by a generator seeded with @p seed (the same seed
 * gives the same rows), decoded into @p y (`n_rows x input_dim`, leading
 * dimension @p ld_y, in the original units). #AE_ERR_STATE for a model that
 * is not variational.
 */
AE_API int ae_model_sample(const ae_model *model, uint64_t seed, size_t n_rows, float *y,
                           size_t ld_y);

/**
 * Walk the latent space from one input to another: the codes of @p x_a and
 * @p x_b (the means, for a variational model) are mixed as
 * `(1 - t) * z_a + t * z_b` for `t = i / (n_steps - 1)`, i = 0 .. n_steps - 1,
 * and decoded into the rows of @p y (`n_steps x input_dim`, leading dimension
 * @p ld_y). Any model with a decoder.
 * @param model   the model (const: safe to call concurrently).
 * @param x_a     one row of input_dim features: the start.
 * @param x_b     one row of input_dim features: the end.
 * @param n_steps rows of @p y, at least 2 (the first decodes x_a's code, the last x_b's).
 * @param y       receives the decoded rows; it may not share memory with @p x_a or
 *                @p x_b (#AE_ERR_INVALID_ARGUMENT, nothing written).
 * @param ld_y    leading dimension of @p y, at least input_dim.
 * @return #AE_OK, an argument, data or state error, or #AE_ERR_NON_FINITE_RESULT
 *         (see @ref ae_overflow) naming the end whose code overflows (`x_a` or
 *         `x_b`) or the row of @p y whose decoded output would not be finite.
 */
AE_API int ae_model_interpolate(const ae_model *model, const float *x_a, const float *x_b,
                                size_t n_steps, float *y, size_t ld_y);
/** @} */

/**
 * @defgroup ae_anomaly Anomaly detection
 * @brief Reconstruction error as an anomaly score, a threshold kept in the
 * model (and in its file), and labels.
 *
 * A row's score is ae_model_score(): its mean reconstruction loss. Rows
 * scoring above the model's threshold are anomalous. The threshold is either
 * given, or set from data as the `1 - contamination` quantile of its scores
 * (linear interpolation between order statistics, as numpy's default), so
 * that about a share `contamination` of those rows lies above it. The
 * threshold is copied by ae_model_clone() and saved with the model; training
 * and ae_model_reset() leave it as it is (fit it again after retraining).
 * @{
 */
/**
 * Per-feature reconstruction error: @p errors[i * ld_errors + j] is the
 * model's elementwise loss for row i, feature j (squared error for MSE,
 * cross-entropy for BCE), so a row's mean over j is its score.
 * @param model     the model (const: safe to call concurrently).
 * @param x         `n_rows x input_dim`, leading dimension @p ld_x; for
 *                  #AE_LOSS_BCE in [0, 1].
 * @param n_rows    rows of @p x, at least 1.
 * @param ld_x      leading dimension of @p x, at least input_dim.
 * @param errors    receives `n_rows x input_dim` errors, leading dimension
 *                  @p ld_errors (caller-owned; padding is left untouched); an
 *                  error that overflows float is `FLT_MAX` (see @ref ae_overflow).
 * @param ld_errors leading dimension of @p errors, at least input_dim.
 */
AE_API int ae_model_feature_errors(const ae_model *model, const float *x, size_t n_rows,
                                   size_t ld_x, float *errors, size_t ld_errors);

/**
 * Set the threshold from data: the `1 - contamination` quantile of the scores
 * of the rows of @p x (typically the training data, or held-out normal data).
 * On failure the model keeps its previous threshold (or none).
 * @param model         the model; needs exclusive access.
 * @param x             `n_rows x input_dim`, leading dimension @p ld_x.
 * @param n_rows        rows of @p x, at least 1.
 * @param ld_x          leading dimension of @p x, at least input_dim.
 * @param contamination the expected share of anomalies, in [0, 0.5]; 0 gives
 *                      the largest score.
 * @param threshold     receives the threshold set (may be NULL).
 * @return #AE_OK, an argument or data error, or #AE_ERR_NON_FINITE_RESULT if a
 *         row's score overflows float (see @ref ae_overflow).
 */
AE_API int ae_model_fit_threshold(ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                                  double contamination, double *threshold);

/** Set the threshold explicitly (finite, at least 0). */
AE_API int ae_model_set_threshold(ae_model *model, double threshold);

/** Read the threshold; #AE_ERR_STATE if none was set or fitted. */
AE_API int ae_model_get_threshold(const ae_model *model, double *threshold);

/**
 * Label rows: @p is_anomaly[i] = 1 if row i scores above the threshold, else 0.
 * Detection fails closed: a row whose error overflows float (score `FLT_MAX`,
 * see @ref ae_overflow) is anomalous whatever the threshold, and when the call
 * fails, whatever failed (a NULL model or @p x, a bad leading dimension, data,
 * threshold, #AE_ERR_BUSY), every one of the @p n_rows labels is set to 1, so a
 * caller that misses the status flags every row rather than none. The
 * exceptions are a row count no @p x could have (#AE_ERR_SIZE_OVERFLOW, or
 * `n_rows * ld_x` floats beyond the address space) and labels that share
 * memory with @p x or @p scores (#AE_ERR_INVALID_ARGUMENT): then nothing is
 * written.
 * @param model      the model (const: safe to call concurrently).
 * @param x          `n_rows x input_dim`, leading dimension @p ld_x.
 * @param n_rows     rows of @p x, at least 1.
 * @param ld_x       leading dimension of @p x, at least input_dim.
 * @param is_anomaly receives @p n_rows labels, 0 or 1.
 * @param scores     receives the @p n_rows scores too when not NULL.
 * @return #AE_OK, #AE_ERR_STATE without a threshold, or an argument or data error.
 */
AE_API int ae_model_detect(const ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                           uint8_t *is_anomaly, float *scores);
/** @} */

/**
 * @defgroup ae_scaling_group Scaling
 * @brief Per-feature scaling that travels with the model (#AE_PARAM_SCALING).
 *
 * With a scaling other than #AE_SCALING_NONE the network works on scaled
 * features `(x - offset) / scale`: training, encoding, scoring, anomaly
 * errors and thresholds all see scaled inputs (so features in different
 * units weigh alike), while ae_model_decode() and ae_model_reconstruct()
 * return outputs in the original units (`y * scale + offset`). The offsets
 * and scales are fitted from data once, by the first ae_model_fit() (from all
 * its rows, validation rows included; ae_model_fit_validated() from its training rows,
 * not from the validation set) or by ae_model_fit_scaling(), and are
 * then kept: later fits, ae_model_reset() and training steps leave them
 * alone, and they are copied, saved and loaded with the model. Until they
 * are fitted, calls that need them return #AE_ERR_STATE (ae_model_fit()
 * fits them itself). With #AE_SCALING_MINMAX and #AE_LOSS_BCE, rows outside
 * the fitted range are refused with #AE_ERR_INPUT_RANGE.
 * @{
 */
/** Fit the scaling of #AE_PARAM_SCALING to the rows of @p x now (replacing a
 *  fitted one); #AE_ERR_STATE if the setting is #AE_SCALING_NONE,
 *  #AE_ERR_INPUT_RANGE (naming the column) if a column cannot be scaled in
 *  float arithmetic: its range overflows a float (#AE_SCALING_MINMAX), or a
 *  row's distance from the column's mean does (#AE_SCALING_STANDARDIZE). The
 *  first ae_model_fit() refuses such a column the same way. */
AE_API int ae_model_fit_scaling(ae_model *model, const float *x, size_t n_rows, size_t ld_x);
/** Copy the fitted offsets and scales (@p n must equal input_dim) into two
 *  buffers that share no memory; #AE_ERR_STATE if none are fitted. */
AE_API int ae_model_get_scaling(const ae_model *model, float *offset, float *scale, size_t n);
/** Set the offsets and scales (finite; scales positive) explicitly, e.g. from
 *  another model; #AE_ERR_STATE if the setting is #AE_SCALING_NONE. The values
 *  are kept exactly, whatever their size: a scale so small that `(x - offset) /
 *  scale` overflows for the rows the model is given (a subnormal one does for
 *  almost every row) makes those calls fail: #AE_ERR_NON_FINITE_RESULT for
 *  inference, #AE_ERR_DIVERGED for training (see @ref ae_overflow). */
AE_API int ae_model_set_scaling(ae_model *model, const float *offset, const float *scale, size_t n);
/** @} */

/**
 * @defgroup ae_transfer Pre-training and transfer
 * @brief Greedy layer-wise pre-training, encoder export, weight transfer.
 *
 * Warm starts need no special call: ae_model_fit() continues from the current
 * weights and optimizer state, also of a loaded model.
 * @{
 */
/**
 * Greedy layer-wise pre-training of a model whose decoder mirrors its encoder.
 *
 * Stage k (k = 0 .. encoder_layer_count - 1) trains a shallow autoencoder made
 * of encoder layer k and its mirror, decoder layer `layer_count - 1 - k`, with
 * the model's settings (optimizer, epochs, batches, validation, noise,
 * dropout), on the codes that the already pre-trained layers 0 .. k-1 give
 * for @p x (stage 0 on the scaled rows of @p x themselves), and copies its
 * weights into the model. Stage 0 uses the model's loss, later stages mean
 * squared error; the sparsity penalty acts in the stage whose code layer is
 * #AE_PARAM_SPARSITY_LAYER, the activity and contractive penalties in the last
 * stage. Fine-tune the whole stack afterwards with ae_model_fit(). The model's
 * optimizer state is reset; a scaling is fitted first if needed. Stages after
 * the first hold the codes of all rows in memory (`n_rows x width` floats).
 *
 * @param model     a model with a mirrored decoder, not variational (#AE_ERR_STATE
 *                  otherwise: a variational model trains as a whole).
 * @param x         `n_rows x input_dim`, leading dimension @p ld_x.
 * @param n_rows    rows of @p x, at least 1.
 * @param ld_x      leading dimension of @p x, at least input_dim.
 * @param reports   NULL, or @p n_reports reports (each with `size` set), one
 *                  per stage, filled as ae_model_fit() fills its report.
 * @param n_reports 0 with NULL, else ae_model_encoder_layer_count().
 * @return #AE_OK, or the first failing stage's status; on failure the model's
 *         weights, generator and scaling are those it had before the call (a
 *         scaling fitted for the stages goes with them).
 */
AE_API int ae_model_pretrain(ae_model *model, const float *x, size_t n_rows, size_t ld_x,
                             ae_fit_report *reports, size_t n_reports);

/**
 * Make a new model of the encoder alone: its layers, weights, settings and
 * scaling (no optimizer state, no anomaly threshold). An encoder-only model
 * encodes, saves and loads, and gives its layers to other models through
 * ae_model_copy_layers(); calls that need a decoder (training, decoding,
 * reconstructing, scoring) return #AE_ERR_STATE. Its ae_model_layer_count()
 * equals its ae_model_encoder_layer_count().
 */
AE_API int ae_model_export_encoder(const ae_model *model, ae_model **out);

/**
 * Copy the weights and biases of @p n_layers consecutive layers of @p src,
 * starting at @p src_layer, into @p dst starting at @p dst_layer; every pair
 * of layers must have the same shape (activations may differ). @p dst's
 * optimizer state is reset (its moments belonged to the old weights) and its
 * weights stop being fresh. Scaling is not copied (see ae_model_set_scaling()).
 * A tied decoder layer of @p dst (#AE_ARCH_TIED_WEIGHTS) receives only the
 * bias, since its weights are its mirror's; a tied layer of @p src gives its
 * effective (transposed) weights.
 * @return #AE_OK, or #AE_ERR_INVALID_ARGUMENT (NULL, range, shape mismatch,
 *         or @p dst equal to @p src) with @p dst unchanged.
 */
AE_API int ae_model_copy_layers(ae_model *dst, size_t dst_layer, const ae_model *src,
                                size_t src_layer, size_t n_layers);
/** @} */

/**
 * @defgroup ae_files Saving and loading
 * @brief Model files: architecture, settings, parameters and optionally the
 * optimizer state, little-endian, checksummed; see docs/format.md.
 *
 * Loading validates every size, count and value before allocating, so a
 * damaged or hostile file yields #AE_ERR_FORMAT, #AE_ERR_CHECKSUM or
 * #AE_ERR_VERSION, never a crash. Files written by any earlier version load.
 * @{
 */
/** Flags for saving. Values pinned forever. */
typedef enum ae_save_flags {
    AE_SAVE_DEFAULT = 0,          /**< architecture, settings, parameters, generator state */
    AE_SAVE_OPTIMIZER_STATE = 1   /**< also the optimizer state, so training resumes exactly */
} ae_save_flags;

/**
 * Save @p model to @p path atomically: the new file is written next to the file
 * @p path names, flushed, and renamed over it, so that after a crash the path
 * holds the old file or the new one, never a mix.
 *
 * - A symbolic link is followed to the file it names (relative links from the
 *   link's folder, at most 40 links, then #AE_ERR_IO); that file is replaced
 *   and the link stays a link. A link to nothing creates the file it names.
 * - A @p path that exists and is not a regular file (a folder, FIFO, device
 *   or socket) is refused with #AE_ERR_IO and nothing is created.
 * - The new file keeps the permission bits of the file it replaces and, when
 *   the process may give them, its owner and group; a new file gets 0666 less
 *   the umask.
 * - The new file is written unnamed where the system offers it (Linux
 *   O_TMPFILE) and named only just before the rename, so a process killed
 *   while saving leaves nothing behind. Elsewhere it is a hidden file
 *   ".<name>.XXXXXX" in the same folder, which a killed process may leave.
 * - On any failure before the rename, @p path is untouched, no temporary file
 *   remains, and the status is #AE_ERR_IO (or #AE_ERR_OUT_OF_MEMORY).
 * - Once the rename has happened the call returns #AE_OK: @p path holds the
 *   new file. Flushing the folder afterwards, so that the rename itself
 *   survives a power loss, is best-effort (as in SQLite): it needs read
 *   permission on the folder and a file system that can flush one; without
 *   them, a crash may still show the old file, never a torn one.
 *
 * Paths of any length work when each folder on the way can be reached.
 * @param model the model to save.
 * @param path  the file to write (replaced atomically).
 * @param flags a combination of ::ae_save_flags.
 * @return #AE_OK, #AE_ERR_INVALID_ARGUMENT, #AE_ERR_SIZE_OVERFLOW, #AE_ERR_IO or
 * #AE_ERR_OUT_OF_MEMORY.
 * Thread-safe with other const calls on the same model.
 */
AE_API int ae_model_save(const ae_model *model, const char *path, unsigned flags);

/**
 * Load a model saved by ae_model_save(). @p out receives it (NULL on failure).
 *
 * Anything but a regular file (a folder, FIFO, device or socket, also through
 * a symbolic link) is refused with #AE_ERR_IO ("... is a socket, not a
 * regular file"), without opening it where it can be told before (opening a
 * device can act on it) and never waiting on it. The
 * 16-byte header is read and checked first, so a file that is not a model is
 * refused without being read whole; then the file is read and checked as
 * ae_model_load_from_memory() checks data, with the same statuses, and the
 * messages prefixed with @p path.
 * @return #AE_OK, #AE_ERR_INVALID_ARGUMENT, #AE_ERR_IO, #AE_ERR_FORMAT,
 * #AE_ERR_CHECKSUM, #AE_ERR_VERSION or #AE_ERR_OUT_OF_MEMORY.
 */
AE_API int ae_model_load(ae_model **out, const char *path);

/** The exact number of bytes ae_model_save_to_memory() writes with @p flags, into @p size.
 *  @return #AE_OK, #AE_ERR_INVALID_ARGUMENT or #AE_ERR_SIZE_OVERFLOW (a model too large
 *  for a 32-bit address space). */
AE_API int ae_model_save_size(const ae_model *model, unsigned flags, size_t *size);

/**
 * Save into the caller's @p buffer of @p capacity bytes; @p written receives
 * the bytes used, or on #AE_ERR_BUFFER_TOO_SMALL the bytes needed (nothing is
 * written then). The bytes are those of a file saved with the same flags.
 * @return #AE_OK, #AE_ERR_INVALID_ARGUMENT, #AE_ERR_BUFFER_TOO_SMALL or #AE_ERR_SIZE_OVERFLOW.
 */
AE_API int ae_model_save_to_memory(const ae_model *model, unsigned flags, void *buffer,
                                   size_t capacity, size_t *written);

/** Load a model from @p size bytes at @p data (not kept after the call). */
AE_API int ae_model_load_from_memory(ae_model **out, const void *data, size_t size);
/** @} */

/**
 * @defgroup ae_memory Allocation
 * @brief Every allocation the library makes goes through one pair of functions.
 * @{
 */
/** Allocate @p size bytes aligned for any type (as malloc), or return NULL. */
typedef void *(*ae_alloc_fn)(size_t size, void *user_data);
/** Free memory from the matching ::ae_alloc_fn; never called with NULL. */
typedef void (*ae_free_fn)(void *ptr, void *user_data);

/**
 * Route the library's allocations through @p alloc_fn and @p free_fn (both
 * NULL: back to malloc and free). Process-wide: call it while no other
 * thread is inside the library. Models may exist: every block goes back to
 * the allocator that gave it (with that allocator's @p user_data), whichever
 * is in use when it is freed, so a program may install an allocator to count
 * one call's allocations while it holds models made with another; an
 * allocator's functions and user data must stay valid while any block it gave
 * is held. A model's later allocations (its optimizer state, a bigger batch's
 * workspace) come from the allocator in use then. Each block the library asks
 * a caller's allocator for is 151 bytes longer than what it keeps there: its
 * data starts on a cache line of its own, whatever the block's own alignment,
 * after a note of where it goes back to.
 * @return #AE_OK, or #AE_ERR_INVALID_ARGUMENT if only one function is NULL.
 */
AE_API int ae_set_allocator(ae_alloc_fn alloc_fn, ae_free_fn free_fn, void *user_data);
/** @} */

/**
 * @defgroup ae_weights Weights
 * @brief Read and write parameters, per layer or as one flat vector.
 *
 * Layer @c l has weights `W` of shape `n_out x n_in`, row-major (the layout
 * of `torch.nn.Linear.weight`), and a bias of length `n_out`; its output is
 * `act(x W^T + b)`. The flat vector holds every layer's `W` in layer order,
 * then every layer's bias in layer order.
 * Setting weights ends the "fresh weights" state described in ae_model_create().
 * @{
 */
/** Copy layer @p layer's weights into @p w; @p n_w must equal `n_out * n_in`. */
AE_API int ae_model_get_weights(const ae_model *model, size_t layer, float *w, size_t n_w);
/** Replace layer @p layer's weights from @p w (finite values only); @p n_w must equal `n_out * n_in`. */
AE_API int ae_model_set_weights(ae_model *model, size_t layer, const float *w, size_t n_w);
/** Copy layer @p layer's bias into @p b; @p n_b must equal `n_out`. */
AE_API int ae_model_get_bias(const ae_model *model, size_t layer, float *b, size_t n_b);
/** Replace layer @p layer's bias from @p b (finite values only); @p n_b must equal `n_out`. */
AE_API int ae_model_set_bias(ae_model *model, size_t layer, const float *b, size_t n_b);
/** Copy all parameters (flat layout above); @p n must equal ae_model_param_count(). */
AE_API int ae_model_get_params(const ae_model *model, float *params, size_t n);
/** Replace all parameters (finite values only); @p n must equal ae_model_param_count(). */
AE_API int ae_model_set_params(ae_model *model, const float *params, size_t n);

/**
 * Read the optimizer state, in the flat layout of ae_model_get_params(): for
 * Adam and AdamW the first and second moments (torch's `exp_avg` and
 * `exp_avg_sq`) and the step counter (torch's `step`); for SGD the momentum
 * buffer (torch's `momentum_buffer`) as the first moment, no second moment, and
 * a step counter of 0. Before the first step the moments are zeros, which
 * behave exactly as no state.
 * @param model         the model (const: safe to call concurrently).
 * @param step          receives the step counter (may be NULL).
 * @param first_moment  receives ae_model_param_count() floats (may be NULL).
 * @param second_moment receives ae_model_param_count() floats (may be NULL).
 * @param n             ae_model_param_count() (ignored when both buffers are NULL).
 * @return #AE_OK, #AE_ERR_INVALID_ARGUMENT (NULL model, wrong @p n, moments
 *         that share memory), or #AE_ERR_STATE for a buffer the model's optimizer
 *         does not keep (a second moment for SGD; a first moment for SGD without
 *         momentum).
 */
AE_API int ae_model_get_optimizer_state(const ae_model *model, uint64_t *step,
                                        float *first_moment, float *second_moment, size_t n);

/**
 * Set the optimizer state of the model's current optimizer (#AE_PARAM_OPTIMIZER),
 * in the layout of ae_model_get_optimizer_state(), e.g. to continue training
 * from another framework's checkpoint. For Adam and AdamW both moments are
 * required (the second not negative) and @p step is at most 2^53 (both NULL
 * with @p step 0 clears the state); for SGD the
 * momentum buffer may be given or NULL (no momentum state yet), the second
 * moment must be NULL and @p step 0. All values must be finite. The next
 * training step continues from this state as torch.optim does from its
 * state_dict.
 * @param model         the model to change; needs exclusive access.
 * @param step          the step counter (torch's `step`): at most 2^53 for Adam, 0 for SGD.
 * @param first_moment  ae_model_param_count() floats: Adam's first moment or SGD's
 *                      momentum buffer (NULL: none).
 * @param second_moment ae_model_param_count() floats: Adam's second moment (NULL: none).
 * @param n             ae_model_param_count().
 * @return #AE_OK, #AE_ERR_INVALID_ARGUMENT (NULL, wrong @p n, a buffer or counter
 *         the optimizer does not take), #AE_ERR_NON_FINITE_INPUT (a value that is
 *         not finite, or a negative second moment) or #AE_ERR_OUT_OF_MEMORY; on
 *         failure the state is unchanged.
 */
AE_API int ae_model_set_optimizer_state(ae_model *model, uint64_t step, const float *first_moment,
                                        const float *second_moment, size_t n);
/** @} */

#ifdef __cplusplus
}
#endif

#endif /* AUTOENC_H */
