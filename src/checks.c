/* Checks shared by the entry points: matrices, data, the model's kind, and the rules that tie
 * settings to each other and to the model. They live here, apart from model.c and scaling.c,
 * because every room of the library calls them. */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>

/* ---- matrices and data ------------------------------------------------------------- */

int ae_check_matrix(ae_model *err_model, const char *name, const float *data, size_t n_rows,
                    size_t n_cols, size_t ld)
{
    AE_CHECK(data != NULL, err_model, AE_ERR_INVALID_ARGUMENT, "%s is NULL", name);
    AE_CHECK(n_rows > 0, err_model, AE_ERR_INVALID_ARGUMENT, "%s has no rows", name);
    AE_CHECK(ld >= n_cols, err_model, AE_ERR_INVALID_ARGUMENT,
             "leading dimension of %s (%zu) is smaller than its row width (%zu)", name, ld, n_cols);
    AE_CHECK(ld <= INT_MAX, err_model, AE_ERR_SIZE_OVERFLOW,
             "leading dimension of %s (%zu) is larger than BLAS can take (%d)", name, ld, INT_MAX);
    size_t span;
    AE_CHECK(ae_mul_size(n_rows - 1, ld, &span) && span <= SIZE_MAX / sizeof(float) - n_cols,
             err_model, AE_ERR_SIZE_OVERFLOW, "%s: %zu rows with leading dimension %zu overflow",
             name, n_rows, ld);
    return AE_OK;
}

int ae_check_data(ae_model *err_model, const ae_model *m, const char *name, const float *x,
                  size_t n_rows, size_t n_cols, size_t ld, bool targets)
{
    bool need_unit_range = targets && m->settings.loss == AE_LOSS_BCE;
    /* Targets are the scaled inputs: check the values the loss will see. */
    const float *offset = need_unit_range && m->scaling ? ae_scaling_offsets(m) : NULL;
    const float *scale = offset ? ae_scaling_scales(m) : NULL;
    /* Rows stored back to back (and no per-column scaling): one verdict for the whole batch
     * instead of a call per row, which for narrow rows cost more than the scan itself. Values
     * in [0, 1] are finite: one scan gives both verdicts. */
    size_t n_values;
    if (ld == n_cols && !offset && n_rows > 1 && ae_mul_size(n_rows, n_cols, &n_values) &&
        (need_unit_range ? ae_in_unit_range(x, n_values, NULL, NULL) : ae_all_finite(x, n_values)))
        return AE_OK;
    for (size_t i = 0; i < n_rows; i++) {
        const float *row = x + i * ld;
        /* A fast vectorised verdict per row; only a bad row is searched for its column. */
        if (need_unit_range ? ae_in_unit_range(row, n_cols, offset, scale) : ae_all_finite(row, n_cols))
            continue;
        for (size_t j = 0; j < n_cols; j++) {
            AE_CHECK(isfinite(row[j]), err_model, AE_ERR_NON_FINITE_INPUT,
                     "%s holds %s at row %zu, column %zu", name, isnan(row[j]) ? "NaN" : "Inf", i, j);
            float v = offset ? (row[j] - offset[j]) / scale[j] : row[j];
            AE_CHECK(!need_unit_range || (v >= 0.0f && v <= 1.0f), err_model, AE_ERR_INPUT_RANGE,
                     "%s holds %g at row %zu, column %zu%s; binary cross-entropy needs values in "
                     "[0, 1]",
                     name, (double)v, i, j, offset ? " after scaling" : "");
        }
    }
    return AE_OK;
}

/* Where the first row of s that shares a byte with some row of t lies, or SIZE_MAX. Row i
 * of s covers [s.first + i ld, + row_bytes); the rows of t are at least as far apart as
 * they are long, so only the first row of t that ends after row i starts can share bytes
 * with it. A division per row of s: called only when the two spans' extents meet. */
static size_t first_shared_row(ae_span s, ae_span t, size_t *t_row)
{
    for (size_t i = 0; i < s.n_rows; i++) {
        const uintptr_t start = s.first + i * s.ld_bytes, end = start + s.row_bytes;
        const uintptr_t t_end0 = t.first + t.row_bytes; /* the end of t's first row */
        const size_t j = start < t_end0 ? 0 : (size_t)((start - t_end0) / t.ld_bytes) + 1;
        if (j < t.n_rows && t.first + j * t.ld_bytes < end) {
            *t_row = j;
            return i;
        }
    }
    return SIZE_MAX;
}

int ae_check_apart(ae_model *err_model, ae_span a, ae_span b)
{
    if (!a.first || !b.first)
        return AE_OK;
    const uintptr_t a_end = a.first + (a.n_rows - 1) * a.ld_bytes + a.row_bytes;
    const uintptr_t b_end = b.first + (b.n_rows - 1) * b.ld_bytes + b.row_bytes;
    if (a_end <= b.first || b_end <= a.first)
        return AE_OK;
    /* The search walks the rows of the span with fewer of them. */
    size_t a_row = SIZE_MAX, b_row = SIZE_MAX;
    if (a.n_rows <= b.n_rows)
        a_row = first_shared_row(a, b, &b_row);
    else
        b_row = first_shared_row(b, a, &a_row);
    AE_CHECK(a_row == SIZE_MAX, err_model, AE_ERR_INVALID_ARGUMENT,
             "%s and %s share memory (row %zu of %s with row %zu of %s): each needs its own",
             a.name, b.name, a_row, a.name, b_row, b.name);
    return AE_OK;
}

int ae_check_decoder(ae_model *err_model, const ae_model *m, const char *what)
{
    AE_CHECK(ae_has_decoder(m), err_model, AE_ERR_STATE,
             "the model is an encoder alone (exported by ae_model_export_encoder); it cannot %s",
             what);
    return AE_OK;
}

/* ---- rules between settings ---------------------------------------------------------- */

static size_t sparsity_layer_of(const ae_model *m, const ae_settings *s)
{
    return s->sparsity_layer < 0 ? m->n_encoder_layers - 1 : (size_t)s->sparsity_layer;
}

static bool bce_has_sigmoid_output(const ae_model *m, const ae_settings *s)
{
    (void)m;
    return s->loss != AE_LOSS_BCE || s->output_activation == AE_ACT_SIGMOID;
}

static bool bce_has_unit_targets(const ae_model *m, const ae_settings *s)
{
    (void)m;
    return s->loss != AE_LOSS_BCE || s->scaling != AE_SCALING_STANDARDIZE;
}

/* Standardised features take values of both signs without bound: only an output that does
 * too can reconstruct them. */
static bool standardized_output_unbounded(const ae_model *m, const ae_settings *s)
{
    (void)m;
    return s->scaling != AE_SCALING_STANDARDIZE || s->output_activation == AE_ACT_LINEAR ||
           s->output_activation == AE_ACT_LEAKY_RELU;
}

static bool noise_level_is_probability(const ae_model *m, const ae_settings *s)
{
    (void)m;
    return s->noise == AE_NOISE_NONE || s->noise == AE_NOISE_GAUSSIAN || s->noise_level <= 1.0f;
}

static bool variational_latent_linear(const ae_model *m, const ae_settings *s)
{
    return !ae_is_variational(m) || s->latent_activation == AE_ACT_LINEAR;
}

static bool variational_without_activity_penalty(const ae_model *m, const ae_settings *s)
{
    return !ae_is_variational(m) || s->activity_l1 <= 0.0;
}

static bool variational_without_contractive_penalty(const ae_model *m, const ae_settings *s)
{
    return !ae_is_variational(m) || s->contractive_weight <= 0.0;
}

static bool sparsity_on_encoder_layer(const ae_model *m, const ae_settings *s)
{
    return s->sparsity_weight <= 0.0 || sparsity_layer_of(m, s) < m->n_encoder_layers;
}

/* The sparsity penalty on a sigmoid layer: one rule for a watched latent layer, one for a
 * watched hidden layer, since each ties the weight to a different activation setting. */
static bool sparsity_watches(const ae_model *m, const ae_settings *s, bool latent)
{
    size_t k = sparsity_layer_of(m, s);
    return s->sparsity_weight > 0.0 && k < m->n_encoder_layers &&
           (k == m->n_encoder_layers - 1) == latent;
}

static bool sparsity_on_sigmoid_latent_layer(const ae_model *m, const ae_settings *s)
{
    return !sparsity_watches(m, s, true) || s->latent_activation == AE_ACT_SIGMOID;
}

static bool sparsity_on_sigmoid_hidden_layer(const ae_model *m, const ae_settings *s)
{
    return !sparsity_watches(m, s, false) || s->hidden_activation == AE_ACT_SIGMOID;
}

/* A rule ties up to three settings (or one setting to the architecture). When a change
 * breaks it, the message names the others. */
typedef struct setting_rule {
    bool (*holds)(const ae_model *m, const ae_settings *s);
    bool loss;          /* the loss cannot be computed without it: scoring checks it too */
    ae_param params[3]; /* 0 ends the list early */
    const char *reason;
} setting_rule;

#define CODE_PENALTY_REASON                                                                      \
    "it acts on a deterministic latent code; a variational model's code is regularised by its " \
    "KL term"

static const setting_rule setting_rules[] = {
    {bce_has_sigmoid_output, true, {AE_PARAM_LOSS, AE_PARAM_OUTPUT_ACTIVATION},
     "binary cross-entropy needs a sigmoid output activation (it is computed from the logits)"},
    {bce_has_unit_targets, true, {AE_PARAM_LOSS, AE_PARAM_SCALING},
     "binary cross-entropy needs targets in [0, 1], which standardised features are not: use "
     "min-max scaling or mean squared error"},
    {standardized_output_unbounded, false, {AE_PARAM_SCALING, AE_PARAM_OUTPUT_ACTIVATION},
     "standardised features take values of both signs without bound, which only a linear or "
     "leaky ReLU output can reconstruct"},
    {noise_level_is_probability, false, {AE_PARAM_NOISE, AE_PARAM_NOISE_LEVEL},
     "the noise level of masking and salt-and-pepper noise is a probability, at most 1"},
    {variational_latent_linear, false, {AE_PARAM_LATENT_ACTIVATION},
     "a variational model's latent layer gives a mean and a log-variance: its activation stays "
     "linear"},
    {variational_without_activity_penalty, false, {AE_PARAM_ACTIVITY_L1}, CODE_PENALTY_REASON},
    {variational_without_contractive_penalty, false, {AE_PARAM_CONTRACTIVE_WEIGHT},
     CODE_PENALTY_REASON},
    {sparsity_on_encoder_layer, false, {AE_PARAM_SPARSITY_WEIGHT, AE_PARAM_SPARSITY_LAYER},
     "the sparsity penalty watches an encoder layer, and sparsity_layer names none of this "
     "model's"},
    {sparsity_on_sigmoid_latent_layer, false,
     {AE_PARAM_SPARSITY_WEIGHT, AE_PARAM_SPARSITY_LAYER, AE_PARAM_LATENT_ACTIVATION},
     "the sparsity penalty watches the latent layer (sparsity_layer), which needs a sigmoid "
     "activation (mean activations must lie in (0, 1))"},
    {sparsity_on_sigmoid_hidden_layer, false,
     {AE_PARAM_SPARSITY_WEIGHT, AE_PARAM_SPARSITY_LAYER, AE_PARAM_HIDDEN_ACTIVATION},
     "the sparsity penalty watches a hidden layer (sparsity_layer), which needs a sigmoid "
     "activation (mean activations must lie in (0, 1))"},
};
enum { RULE_COUNT = sizeof setting_rules / sizeof setting_rules[0] };

/* A setting's value as a person reads it: enum settings by name. */
static const char *value_text(ae_param param, double value, char *buffer, size_t size)
{
    const char *name = ae_param_value_name(param, value);
    if (name)
        return name;
    snprintf(buffer, size, "%g", value);
    return buffer;
}

/* "name = value" of each setting of the rule but `except`, joined by "and". */
static void describe_others(const ae_model *m, const setting_rule *rule, ae_param except,
                            char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < 3 && rule->params[i]; i++) {
        ae_param p = rule->params[i];
        if (p == except || used >= size)
            continue;
        char number[32];
        used += (size_t)snprintf(out + used, size - used, "%s%s = %s", used ? " and " : "",
                                 ae_param_name(p),
                                 value_text(p, m->param_values[ae_param_slot(p)], number,
                                            sizeof number));
    }
}

static int check_rules(ae_model *err_model, const ae_model *m, bool loss_only)
{
    for (int r = 0; r < RULE_COUNT; r++) {
        const setting_rule *rule = &setting_rules[r];
        if ((loss_only && !rule->loss) || rule->holds(m, &m->settings))
            continue;
        char settings[160];
        describe_others(m, rule, (ae_param)0, settings, sizeof settings);
        return ae_fail(err_model, AE_ERR_STATE, "the setting%s %s %s not suit this model: %s",
                       rule->params[1] ? "s" : "", settings, rule->params[1] ? "do" : "does",
                       rule->reason);
    }
    return AE_OK;
}

int ae_check_settings(ae_model *err_model, const ae_model *m)
{
    return check_rules(err_model, m, false);
}

int ae_check_loss_settings(ae_model *err_model, const ae_model *m)
{
    return check_rules(err_model, m, true);
}

/* Whether every setting of the rule has been chosen by the caller (or loaded), counting
 * `also` as chosen (0 for none). */
static bool all_chosen(const ae_model *m, const setting_rule *rule, ae_param also)
{
    for (int i = 0; i < 3 && rule->params[i]; i++)
        if (rule->params[i] != also &&
            !(m->chosen_settings & ((uint64_t)1 << ae_param_slot(rule->params[i]))))
            return false;
    return true;
}

int ae_check_setting_change(ae_model *err_model, const ae_model *m, const ae_settings *next,
                            ae_param param, double value)
{
    for (int r = 0; r < RULE_COUNT; r++) {
        const setting_rule *rule = &setting_rules[r];
        /* A conflict with a setting still at its default is left for training to refuse, so
         * that settings can come in any order (loss = bce before output_activation = sigmoid,
         * sparsity_weight before the sparsity_layer it is meant for); a conflict that a loaded
         * file already held among chosen settings is left too, so that such a model can be
         * mended one setting at a time. What is refused is a change that makes, or completes,
         * a conflict among the caller's choices. */
        if (rule->holds(m, next) || !all_chosen(m, rule, param))
            continue;
        if (!rule->holds(m, &m->settings) && all_chosen(m, rule, (ae_param)0))
            continue;
        char others[160], number[32];
        describe_others(m, rule, param, others, sizeof others);
        return ae_fail(err_model, AE_ERR_STATE, "%s = %s conflicts with %s: %s",
                       ae_param_name(param), value_text(param, value, number, sizeof number),
                       others[0] ? others : "the model's architecture", rule->reason);
    }
    return AE_OK;
}
