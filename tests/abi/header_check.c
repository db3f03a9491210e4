/* Compiled as C11 and as C++ with -Wall -Wextra -pedantic -Werror: the public
 * header must be self-contained (included first), idempotent (included twice),
 * warning-free in both languages, and keep every pinned value and layout. */
#include <autoenc.h>
#include <autoenc.h>

#include <stddef.h>

#ifdef __cplusplus
#  define PIN(cond) static_assert(cond, #cond)
#else
#  define PIN(cond) _Static_assert(cond, #cond)
#endif

/* Status codes, enum values: pinned forever. */
PIN(AE_OK == 0);
PIN(AE_ERR_INVALID_ARGUMENT == -1);
PIN(AE_ERR_OUT_OF_MEMORY == -2);
PIN(AE_ERR_SIZE_OVERFLOW == -3);
PIN(AE_ERR_NON_FINITE_INPUT == -4);
PIN(AE_ERR_INPUT_RANGE == -5);
PIN(AE_ERR_STATE == -6);
PIN(AE_ERR_CANCELLED == -7);
PIN(AE_ERR_DIVERGED == -8);
PIN(AE_ERR_IO == -9);
PIN(AE_ERR_FORMAT == -10);
PIN(AE_ERR_CHECKSUM == -11);
PIN(AE_ERR_VERSION == -12);
PIN(AE_ERR_BUFFER_TOO_SMALL == -13);
PIN(AE_ERR_NON_FINITE_RESULT == -14);
PIN(AE_ERR_BUSY == -15);
PIN(AE_ERR_PEER == -16);

PIN(AE_ACT_LINEAR == 0);
PIN(AE_ACT_RELU == 1);
PIN(AE_ACT_LEAKY_RELU == 2);
PIN(AE_ACT_ELU == 3);
PIN(AE_ACT_SIGMOID == 4);
PIN(AE_ACT_TANH == 5);
PIN(AE_ACT_SOFTPLUS == 6);

PIN(AE_LOSS_MSE == 0);
PIN(AE_LOSS_BCE == 1);

PIN(AE_OPT_SGD == 0);
PIN(AE_OPT_ADAM == 1);
PIN(AE_OPT_ADAMW == 2);
PIN(AE_NOISE_NONE == 0);
PIN(AE_NOISE_GAUSSIAN == 1);
PIN(AE_NOISE_MASKING == 2);
PIN(AE_NOISE_SALT_AND_PEPPER == 3);

PIN(AE_PARAM_SEED == 1);
PIN(AE_PARAM_HIDDEN_ACTIVATION == 2);
PIN(AE_PARAM_LATENT_ACTIVATION == 3);
PIN(AE_PARAM_OUTPUT_ACTIVATION == 4);
PIN(AE_PARAM_LOSS == 5);
PIN(AE_PARAM_LEAKY_SLOPE == 6);
PIN(AE_PARAM_ELU_ALPHA == 7);
PIN(AE_PARAM_OPTIMIZER == 10);
PIN(AE_PARAM_LEARNING_RATE == 11);
PIN(AE_PARAM_MOMENTUM == 12);
PIN(AE_PARAM_NESTEROV == 13);
PIN(AE_PARAM_ADAM_BETA1 == 14);
PIN(AE_PARAM_ADAM_BETA2 == 15);
PIN(AE_PARAM_ADAM_EPSILON == 16);
PIN(AE_PARAM_WEIGHT_DECAY == 17);
PIN(AE_PARAM_CLIP_NORM == 18);
PIN(AE_PARAM_EPOCHS == 20);
PIN(AE_PARAM_BATCH_SIZE == 21);
PIN(AE_PARAM_SHUFFLE == 22);
PIN(AE_PARAM_VALIDATION_FRACTION == 23);
PIN(AE_PARAM_PATIENCE == 24);
PIN(AE_PARAM_MIN_DELTA == 25);
PIN(AE_PARAM_RESTORE_BEST == 26);
PIN(AE_PARAM_PROGRESS_EVERY_BATCH == 27);
PIN(AE_PARAM_DIVERGENCE_FACTOR == 28);
PIN(AE_PARAM_SHUFFLE_BUFFER == 29);
PIN(AE_PARAM_THREADS == 30);
PIN(AE_PARAM_NOISE == 40);
PIN(AE_PARAM_NOISE_LEVEL == 41);
PIN(AE_PARAM_SCALING == 50);
PIN(AE_PARAM_SCALING_MIN_SCALE == 51);
PIN(AE_PARAM_SPARSITY_WEIGHT == 60);
PIN(AE_PARAM_SPARSITY_TARGET == 61);
PIN(AE_PARAM_SPARSITY_LAYER == 62);
PIN(AE_PARAM_ACTIVITY_L1 == 63);
PIN(AE_PARAM_CONTRACTIVE_WEIGHT == 64);
PIN(AE_PARAM_DROPOUT_INPUT == 70);
PIN(AE_PARAM_DROPOUT_HIDDEN == 71);
PIN(AE_PARAM_KL_WEIGHT == 80);
PIN(AE_PARAM_KL_WARMUP_EPOCHS == 81);
PIN(AE_SCALING_NONE == 0);
PIN(AE_SCALING_MINMAX == 1);
PIN(AE_SCALING_STANDARDIZE == 2);
PIN(AE_ARCH_PLAIN == 0);
PIN(AE_ARCH_TIED_WEIGHTS == 1);
PIN(AE_ARCH_VARIATIONAL == 2);
PIN(AE_MAX_LAYERS == 4096);
PIN(AE_MAX_LAYER_WIDTH == 16777216);

PIN(AE_STOP_COMPLETED == 0);
PIN(AE_STOP_EARLY == 1);
PIN(AE_STOP_CANCELLED == 2);
PIN(AE_STOP_DIVERGED == 3);
PIN(AE_STOP_FAILED == 4);
PIN(AE_REDUCE_SUM == 0);
PIN(AE_REDUCE_MAX == 1);
PIN(AE_PARAM_KIND_REAL == 0);
PIN(AE_PARAM_KIND_INTEGER == 1);
PIN(AE_PARAM_KIND_BOOLEAN == 2);
PIN(AE_PARAM_KIND_ENUM == 3);

PIN(AE_VERSION_NUMBER ==
    AE_VERSION_MAJOR * 10000 + AE_VERSION_MINOR * 100 + AE_VERSION_PATCH);

/* Struct layouts on LP64 platforms (the fields a binding mirrors; only ever
 * appended to). */
#if defined(__LP64__) || defined(_LP64)
PIN(offsetof(ae_fit_report, size) == 0);
PIN(offsetof(ae_fit_report, epochs_run) == 8);
PIN(offsetof(ae_fit_report, steps_run) == 16);
PIN(offsetof(ae_fit_report, best_epoch) == 24);
PIN(offsetof(ae_fit_report, stop_reason) == 32);
PIN(offsetof(ae_fit_report, restored_best) == 36);
PIN(offsetof(ae_fit_report, final_train_loss) == 40);
PIN(offsetof(ae_fit_report, final_val_loss) == 48);
PIN(offsetof(ae_fit_report, best_loss) == 56);
PIN(offsetof(ae_fit_report, seconds) == 64);
PIN(offsetof(ae_fit_report, samples_per_second) == 72);
PIN(offsetof(ae_fit_report, final_kl) == 80);
PIN(offsetof(ae_fit_report, final_elbo) == 88);
PIN(sizeof(ae_fit_report) == 96);

PIN(offsetof(ae_progress, size) == 0);
PIN(offsetof(ae_progress, epoch) == 8);
PIN(offsetof(ae_progress, epochs) == 16);
PIN(offsetof(ae_progress, batch) == 24);
PIN(offsetof(ae_progress, batches) == 32);
PIN(offsetof(ae_progress, epoch_end) == 40);
PIN(offsetof(ae_progress, train_loss) == 48);
PIN(offsetof(ae_progress, val_loss) == 56);
PIN(offsetof(ae_progress, seconds) == 64);
PIN(sizeof(ae_progress) == 72);

PIN(offsetof(ae_layer_description, size) == 0);
PIN(offsetof(ae_layer_description, n_in) == 8);
PIN(offsetof(ae_layer_description, n_out) == 16);
PIN(offsetof(ae_layer_description, activation) == 24);
PIN(offsetof(ae_layer_description, tied) == 28);
PIN(offsetof(ae_layer_description, weights_layer) == 32);
PIN(offsetof(ae_layer_description, weight_offset) == 40);
PIN(offsetof(ae_layer_description, weight_count) == 48);
PIN(offsetof(ae_layer_description, bias_offset) == 56);
PIN(offsetof(ae_layer_description, bias_count) == 64);
PIN(sizeof(ae_layer_description) == 72);

PIN(offsetof(ae_train_hooks, size) == 0);
PIN(offsetof(ae_train_hooks, participant) == 8);
PIN(offsetof(ae_train_hooks, participants) == 12);
PIN(offsetof(ae_train_hooks, user_data) == 16);
PIN(offsetof(ae_train_hooks, reduce) == 24);
PIN(offsetof(ae_train_hooks, gradient_ready) == 32);
PIN(offsetof(ae_train_hooks, gradient_wait) == 40);
PIN(sizeof(ae_train_hooks) == 48);

PIN(offsetof(ae_data_source, size) == 0);
PIN(offsetof(ae_data_source, user_data) == 8);
PIN(offsetof(ae_data_source, read) == 16);
PIN(offsetof(ae_data_source, rewind) == 24);
PIN(sizeof(ae_data_source) == 32);

PIN(offsetof(ae_param_description, size) == 0);
PIN(offsetof(ae_param_description, name) == 8);
PIN(offsetof(ae_param_description, kind) == 16);
PIN(offsetof(ae_param_description, min_open) == 20);
PIN(offsetof(ae_param_description, max_open) == 24);
PIN(offsetof(ae_param_description, reserved) == 28);
PIN(offsetof(ae_param_description, default_value) == 32);
PIN(offsetof(ae_param_description, min_value) == 40);
PIN(offsetof(ae_param_description, max_value) == 48);
PIN(sizeof(ae_param_description) == 56);
#endif

/* The declarations are usable as written: take the address of a few and call
 * through a callback of the documented type. */
static int on_progress(const ae_progress *progress, void *user_data)
{
    (void)user_data;
    return progress->epoch_end;
}

int header_check_uses(void);
int header_check_uses(void)
{
    ae_progress_fn callback = on_progress;
    int (*create)(ae_model **, const size_t *, size_t, const size_t *, size_t) = ae_model_create;
    const char *(*status_str)(int) = ae_status_str;
    return callback != NULL && create != NULL && status_str != NULL;
}
