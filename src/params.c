/* The table of settings: names, defaults, bounds, and the typed view the engine reads. */
#include "internal.h"

#include <math.h>

enum { INTEGRAL = 1, MIN_OPEN = 2, MAX_OPEN = 4 };

typedef struct param_info {
    ae_param param;
    const char *name;
    double default_value, min_value, max_value;
    unsigned flags;
} param_info;

#define MAX_SEED 9007199254740992.0 /* 2^53: every integer below is exact in a double */

static const param_info param_table[AE_PARAM_SLOT_COUNT] = {
    {AE_PARAM_SEED, "seed", 0, 0, MAX_SEED, INTEGRAL},
    {AE_PARAM_HIDDEN_ACTIVATION, "hidden_activation", AE_ACT_RELU, 0, AE_ACT_SOFTPLUS, INTEGRAL},
    {AE_PARAM_LATENT_ACTIVATION, "latent_activation", AE_ACT_LINEAR, 0, AE_ACT_SOFTPLUS, INTEGRAL},
    {AE_PARAM_OUTPUT_ACTIVATION, "output_activation", AE_ACT_LINEAR, 0, AE_ACT_SOFTPLUS, INTEGRAL},
    {AE_PARAM_LOSS, "loss", AE_LOSS_MSE, 0, AE_LOSS_BCE, INTEGRAL},
    {AE_PARAM_LEAKY_SLOPE, "leaky_slope", 0.01, 0, 1, MAX_OPEN},
    {AE_PARAM_ELU_ALPHA, "elu_alpha", 1, 0, 100, MIN_OPEN},
    {AE_PARAM_OPTIMIZER, "optimizer", AE_OPT_ADAM, 0, AE_OPT_ADAMW, INTEGRAL},
    {AE_PARAM_LEARNING_RATE, "learning_rate", 1e-3, 0, 1e3, MIN_OPEN},
    {AE_PARAM_MOMENTUM, "momentum", 0, 0, 1, MAX_OPEN},
    {AE_PARAM_NESTEROV, "nesterov", 0, 0, 1, INTEGRAL},
    {AE_PARAM_ADAM_BETA1, "adam_beta1", 0.9, 0, 1, MAX_OPEN},
    {AE_PARAM_ADAM_BETA2, "adam_beta2", 0.999, 0, 1, MAX_OPEN},
    {AE_PARAM_ADAM_EPSILON, "adam_epsilon", 1e-8, 0, 1, MIN_OPEN},
    {AE_PARAM_WEIGHT_DECAY, "weight_decay", 0, 0, 1e3, 0},
    {AE_PARAM_CLIP_NORM, "clip_norm", 0, 0, 1e30, 0},
    {AE_PARAM_EPOCHS, "epochs", 10, 1, 1e9, INTEGRAL},
    {AE_PARAM_BATCH_SIZE, "batch_size", 64, 1, 1e7, INTEGRAL},
    {AE_PARAM_SHUFFLE, "shuffle", 1, 0, 1, INTEGRAL},
    {AE_PARAM_VALIDATION_FRACTION, "validation_fraction", 0, 0, 0.9, 0},
    {AE_PARAM_PATIENCE, "patience", 0, 0, 1e9, INTEGRAL},
    {AE_PARAM_MIN_DELTA, "min_delta", 0, 0, 1e30, 0},
    {AE_PARAM_RESTORE_BEST, "restore_best", 1, 0, 1, INTEGRAL},
    {AE_PARAM_PROGRESS_EVERY_BATCH, "progress_every_batch", 0, 0, 1, INTEGRAL},
    {AE_PARAM_DIVERGENCE_FACTOR, "divergence_factor", 1e3, 0, 1e30, 0},
    {AE_PARAM_SHUFFLE_BUFFER, "shuffle_buffer", 10000, 1, 1e9, INTEGRAL},
    {AE_PARAM_THREADS, "threads", 0, 0, AE_MAX_THREADS, INTEGRAL},
    {AE_PARAM_NOISE, "noise", AE_NOISE_NONE, 0, AE_NOISE_SALT_AND_PEPPER, INTEGRAL},
    {AE_PARAM_NOISE_LEVEL, "noise_level", 0.1, 0, 1e6, 0},
    {AE_PARAM_SCALING, "scaling", AE_SCALING_NONE, 0, AE_SCALING_STANDARDIZE, INTEGRAL},
    {AE_PARAM_SCALING_MIN_SCALE, "scaling_min_scale", 0.05, 0, 1e30, 0},
    {AE_PARAM_SPARSITY_WEIGHT, "sparsity_weight", 0, 0, 1e3, 0},
    {AE_PARAM_SPARSITY_TARGET, "sparsity_target", 0.05, 0, 1, MIN_OPEN | MAX_OPEN},
    {AE_PARAM_SPARSITY_LAYER, "sparsity_layer", -1, -1, AE_MAX_LAYERS - 1, INTEGRAL},
    {AE_PARAM_ACTIVITY_L1, "activity_l1", 0, 0, 1e3, 0},
    {AE_PARAM_CONTRACTIVE_WEIGHT, "contractive_weight", 0, 0, 1e3, 0},
    {AE_PARAM_DROPOUT_INPUT, "dropout_input", 0, 0, 1, MAX_OPEN},
    {AE_PARAM_DROPOUT_HIDDEN, "dropout_hidden", 0, 0, 1, MAX_OPEN},
    {AE_PARAM_KL_WEIGHT, "kl_weight", 1, 0, 1e3, 0},
    {AE_PARAM_KL_WARMUP_EPOCHS, "kl_warmup_epochs", 0, 0, 1e9, INTEGRAL},
};

int ae_param_slot(ae_param param)
{
    for (int i = 0; i < AE_PARAM_SLOT_COUNT; i++)
        if (param_table[i].param == param)
            return i;
    return -1;
}

void ae_param_defaults(double *values)
{
    for (int i = 0; i < AE_PARAM_SLOT_COUNT; i++)
        values[i] = param_table[i].default_value;
}

int ae_param_check(ae_model *err_model, ae_param param, double value)
{
    int slot = ae_param_slot(param);
    AE_CHECK(slot >= 0, err_model, AE_ERR_INVALID_ARGUMENT, "unknown parameter %d", (int)param);
    const param_info *info = &param_table[slot];
    AE_CHECK(isfinite(value), err_model, AE_ERR_INVALID_ARGUMENT, "%s must be finite", info->name);
    bool low_ok = (info->flags & MIN_OPEN) ? value > info->min_value : value >= info->min_value;
    bool high_ok = (info->flags & MAX_OPEN) ? value < info->max_value : value <= info->max_value;
    AE_CHECK(low_ok && high_ok, err_model, AE_ERR_INVALID_ARGUMENT,
             "%s = %g is outside %c%g, %g%c", info->name, value,
             (info->flags & MIN_OPEN) ? '(' : '[', info->min_value, info->max_value,
             (info->flags & MAX_OPEN) ? ')' : ']');
    AE_CHECK(!(info->flags & INTEGRAL) || value == floor(value), err_model,
             AE_ERR_INVALID_ARGUMENT, "%s takes whole numbers, not %g", info->name, value);
    return AE_OK;
}

static double value_of(const double *values, ae_param param) { return values[ae_param_slot(param)]; }

void ae_settings_from_values(ae_settings *s, const double *v)
{
    s->seed = (uint64_t)value_of(v, AE_PARAM_SEED);
    s->hidden_activation = (int)value_of(v, AE_PARAM_HIDDEN_ACTIVATION);
    s->latent_activation = (int)value_of(v, AE_PARAM_LATENT_ACTIVATION);
    s->output_activation = (int)value_of(v, AE_PARAM_OUTPUT_ACTIVATION);
    s->loss = (int)value_of(v, AE_PARAM_LOSS);
    s->leaky_slope = (float)value_of(v, AE_PARAM_LEAKY_SLOPE);
    s->elu_alpha = (float)value_of(v, AE_PARAM_ELU_ALPHA);
    s->optimizer = (int)value_of(v, AE_PARAM_OPTIMIZER);
    s->learning_rate = value_of(v, AE_PARAM_LEARNING_RATE);
    s->momentum = value_of(v, AE_PARAM_MOMENTUM);
    s->nesterov = value_of(v, AE_PARAM_NESTEROV) != 0;
    s->beta1 = value_of(v, AE_PARAM_ADAM_BETA1);
    s->beta2 = value_of(v, AE_PARAM_ADAM_BETA2);
    s->epsilon = value_of(v, AE_PARAM_ADAM_EPSILON);
    s->weight_decay = value_of(v, AE_PARAM_WEIGHT_DECAY);
    s->clip_norm = value_of(v, AE_PARAM_CLIP_NORM);
    s->epochs = (uint64_t)value_of(v, AE_PARAM_EPOCHS);
    s->batch_size = (uint64_t)value_of(v, AE_PARAM_BATCH_SIZE);
    s->shuffle = value_of(v, AE_PARAM_SHUFFLE) != 0;
    s->validation_fraction = value_of(v, AE_PARAM_VALIDATION_FRACTION);
    s->patience = (uint64_t)value_of(v, AE_PARAM_PATIENCE);
    s->min_delta = value_of(v, AE_PARAM_MIN_DELTA);
    s->restore_best = value_of(v, AE_PARAM_RESTORE_BEST) != 0;
    s->progress_every_batch = value_of(v, AE_PARAM_PROGRESS_EVERY_BATCH) != 0;
    s->divergence_factor = value_of(v, AE_PARAM_DIVERGENCE_FACTOR);
    s->shuffle_buffer = (uint64_t)value_of(v, AE_PARAM_SHUFFLE_BUFFER);
    s->threads = (size_t)value_of(v, AE_PARAM_THREADS);
    s->noise = (int)value_of(v, AE_PARAM_NOISE);
    s->noise_level = (float)value_of(v, AE_PARAM_NOISE_LEVEL);
    s->scaling = (int)value_of(v, AE_PARAM_SCALING);
    s->scaling_min_scale = value_of(v, AE_PARAM_SCALING_MIN_SCALE);
    s->sparsity_weight = value_of(v, AE_PARAM_SPARSITY_WEIGHT);
    s->sparsity_target = value_of(v, AE_PARAM_SPARSITY_TARGET);
    s->sparsity_layer = (long)value_of(v, AE_PARAM_SPARSITY_LAYER);
    s->activity_l1 = value_of(v, AE_PARAM_ACTIVITY_L1);
    s->contractive_weight = value_of(v, AE_PARAM_CONTRACTIVE_WEIGHT);
    s->dropout_input = (float)value_of(v, AE_PARAM_DROPOUT_INPUT);
    s->dropout_hidden = (float)value_of(v, AE_PARAM_DROPOUT_HIDDEN);
    s->kl_weight = value_of(v, AE_PARAM_KL_WEIGHT);
    s->kl_warmup_epochs = (uint64_t)value_of(v, AE_PARAM_KL_WARMUP_EPOCHS);
}

int ae_param_bounds(ae_param param, double *min_value, double *max_value, int *integral)
{
    int slot = ae_param_slot(param);
    AE_CHECK(slot >= 0, NULL, AE_ERR_INVALID_ARGUMENT, "unknown parameter %d", (int)param);
    if (min_value)
        *min_value = param_table[slot].min_value;
    if (max_value)
        *max_value = param_table[slot].max_value;
    if (integral)
        *integral = (param_table[slot].flags & INTEGRAL) != 0;
    return AE_OK;
}

const char *ae_param_name(ae_param param)
{
    int slot = ae_param_slot(param);
    return slot >= 0 ? param_table[slot].name : NULL;
}

const char *ae_activation_name(ae_activation activation)
{
    static const char *const names[] = {"linear", "relu", "leaky_relu", "elu",
                                        "sigmoid", "tanh", "softplus"};
    if ((int)activation < 0 || (int)activation >= (int)(sizeof names / sizeof names[0]))
        return NULL;
    return names[activation];
}

/* ---- descriptions for bindings and tools --------------------------------------------------- */

static ae_param_kind kind_of(const param_info *info)
{
    switch (info->param) {
    case AE_PARAM_HIDDEN_ACTIVATION:
    case AE_PARAM_LATENT_ACTIVATION:
    case AE_PARAM_OUTPUT_ACTIVATION:
    case AE_PARAM_LOSS:
    case AE_PARAM_OPTIMIZER:
    case AE_PARAM_NOISE:
    case AE_PARAM_SCALING:
        return AE_PARAM_KIND_ENUM;
    case AE_PARAM_NESTEROV:
    case AE_PARAM_SHUFFLE:
    case AE_PARAM_RESTORE_BEST:
    case AE_PARAM_PROGRESS_EVERY_BATCH:
        return AE_PARAM_KIND_BOOLEAN;
    default:
        return (info->flags & INTEGRAL) ? AE_PARAM_KIND_INTEGER : AE_PARAM_KIND_REAL;
    }
}

int ae_param_describe(ae_param param, ae_param_description *out)
{
    int slot = ae_param_slot(param);
    AE_CHECK(slot >= 0, NULL, AE_ERR_INVALID_ARGUMENT, "unknown parameter %d", (int)param);
    AE_CHECK(out != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "description is NULL");
    AE_CHECK(out->size >= sizeof out->size, NULL, AE_ERR_INVALID_ARGUMENT,
             "description->size must be set to sizeof(ae_param_description)");
    const param_info *info = &param_table[slot];
    ae_param_description full = {
        .size = sizeof full,
        .name = info->name,
        .kind = kind_of(info),
        .min_open = (info->flags & MIN_OPEN) != 0,
        .max_open = (info->flags & MAX_OPEN) != 0,
        .default_value = info->default_value,
        .min_value = info->min_value,
        .max_value = info->max_value,
    };
    ae_copy_size_prefixed(out, &full, sizeof full);
    return AE_OK;
}

size_t ae_param_count(void) { return AE_PARAM_SLOT_COUNT; }

ae_param ae_param_at(size_t index)
{
    /* The table lists the settings in increasing id order. */
    return index < AE_PARAM_SLOT_COUNT ? param_table[index].param : (ae_param)0;
}

const char *ae_param_value_name(ae_param param, double value)
{
    static const char *const losses[] = {"mse", "bce"};
    static const char *const optimizers[] = {"sgd", "adam", "adamw"};
    static const char *const noises[] = {"none", "gaussian", "masking", "salt_and_pepper"};
    static const char *const scalings[] = {"none", "minmax", "standardize"};
    if (!(value >= 0.0 && value < 16.0) || value != (double)(int)value)
        return NULL;
    const int v = (int)value;
#define NAME_FROM(table) (v < (int)(sizeof table / sizeof table[0]) ? table[v] : NULL)
    switch (param) {
    case AE_PARAM_HIDDEN_ACTIVATION:
    case AE_PARAM_LATENT_ACTIVATION:
    case AE_PARAM_OUTPUT_ACTIVATION: return ae_activation_name((ae_activation)v);
    case AE_PARAM_LOSS: return NAME_FROM(losses);
    case AE_PARAM_OPTIMIZER: return NAME_FROM(optimizers);
    case AE_PARAM_NOISE: return NAME_FROM(noises);
    case AE_PARAM_SCALING: return NAME_FROM(scalings);
    default: return NULL;
    }
#undef NAME_FROM
}
