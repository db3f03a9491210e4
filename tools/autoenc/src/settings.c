/* Settings by name (see settings.h). */
#define _POSIX_C_SOURCE 200809L
#include "settings.h"

#include "cli.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { MAX_PARAM_ID = 256, MAX_ENUM_VALUES = 32 };

static const struct named_flag {
    const char *flag;
    const char *param;
} named_flags[] = {
    {"epochs", "epochs"},
    {"batch", "batch_size"},
    {"lr", "learning_rate"},
    {"seed", "seed"},
    {"loss", "loss"},
    {"optimizer", "optimizer"},
    {"momentum", "momentum"},
    {"weight-decay", "weight_decay"},
    {"clip-norm", "clip_norm"},
    {"validation", "validation_fraction"},
    {"patience", "patience"},
    {"min-delta", "min_delta"},
    {"activation", "hidden_activation"},
    {"latent-activation", "latent_activation"},
    {"output-activation", "output_activation"},
    {"noise", "noise"},
    {"noise-level", "noise_level"},
    {"scaling", "scaling"},
    {"sparsity", "sparsity_weight"},
    {"sparsity-target", "sparsity_target"},
    {"sparsity-layer", "sparsity_layer"},
    {"l1", "activity_l1"},
    {"contractive", "contractive_weight"},
    {"dropout", "dropout_hidden"},
    {"dropout-input", "dropout_input"},
    {"kl-weight", "kl_weight"},
    {"kl-warmup", "kl_warmup_epochs"},
    {"threads", "threads"},
};
enum { N_NAMED_FLAGS = sizeof named_flags / sizeof named_flags[0] };

/* The names of an enum setting's values, index = value, from the library
 * (ae_param_value_name); NULL if the setting is not an enum. */
static const char *const *enum_names(ae_param p)
{
    static const char *names[MAX_PARAM_ID][MAX_ENUM_VALUES + 1];
    ae_param_description d = {.size = sizeof d};
    if ((int)p < 0 || (int)p >= MAX_PARAM_ID || ae_param_describe(p, &d) != AE_OK ||
        d.kind != AE_PARAM_KIND_ENUM)
        return NULL;
    if (!names[p][0])
        for (int i = 0; i < MAX_ENUM_VALUES; i++)
            if (!(names[p][i] = ae_param_value_name(p, i)))
                break;
    return names[p];
}

/* Names compare ignoring case and treating '-' and '_' alike; "standardise" and
 * "min-max" are accepted too. */
static int same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (char)tolower((unsigned char)*a), y = (char)tolower((unsigned char)*b);
        if (x == '_')
            x = '-';
        if (y == '_')
            y = '-';
        if (x != y)
            return 0;
    }
    return *a == *b;
}

size_t cli_param_list(ae_param *params, size_t max)
{
    size_t n = 0;
    for (int id = 0; id < MAX_PARAM_ID && n < max; id++)
        if (ae_param_name((ae_param)id))
            params[n++] = (ae_param)id;
    return n;
}

static int param_by_name(const char *name, size_t len, ae_param *out)
{
    char buf[64];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    for (int id = 0; id < MAX_PARAM_ID; id++) {
        const char *n = ae_param_name((ae_param)id);
        if (n && same_name(n, buf)) {
            *out = (ae_param)id;
            return 0;
        }
    }
    return -1;
}

const char *cli_param_flag(ae_param param)
{
    const char *name = ae_param_name(param);
    for (size_t i = 0; name && i < N_NAMED_FLAGS; i++)
        if (strcmp(named_flags[i].param, name) == 0)
            return named_flags[i].flag;
    return NULL;
}

const char *cli_param_value_text(ae_param param, double value, char *buf, size_t size)
{
    const char *const *names = enum_names(param);
    if (names && value >= 0 && value < MAX_ENUM_VALUES && value == floor(value)) {
        for (int i = 0; names[i]; i++)
            if (i == (int)value)
                return names[i];
    }
    snprintf(buf, size, "%.10g", value);
    return buf;
}

static int parse_value(ae_param param, const char *origin, const char *text, double *out)
{
    const char *const *names = enum_names(param);
    if (names) {
        for (int i = 0; names[i]; i++)
            if (same_name(text, names[i]) ||
                (param == AE_PARAM_SCALING && i == 1 && same_name(text, "min-max")) ||
                (param == AE_PARAM_SCALING && i == 2 && same_name(text, "standardise"))) {
                *out = i;
                return 0;
            }
    }
    double lo = 0, hi = 0;
    int integral = 0;
    ae_param_bounds(param, &lo, &hi, &integral);
    if (integral && lo == 0 && hi == 1 && !names) {
        int b = cli_parse_bool_word(text);
        if (b >= 0) {
            *out = b;
            return 0;
        }
    }
    char *end;
    double v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || !isfinite(v)) {
        if (names) {
            char list[256] = "";
            for (int i = 0; names[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, names[i], sizeof list - strlen(list) - 1);
            }
            return cli_fail(CLI_EX_USAGE, "%s %s: '%s' is not one of %s", origin,
                            ae_param_name(param), text, list);
        }
        return cli_fail(CLI_EX_USAGE, "%s %s: '%s' is not a number", origin, ae_param_name(param),
                        text);
    }
    *out = v;
    return 0;
}

static int add(cli_settings *s, ae_param param, const char *origin, const char *text)
{
    double v;
    int rc = parse_value(param, origin, text, &v);
    if (rc)
        return rc;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        cli_setting *grown = realloc(s->items, cap * sizeof *grown);
        if (!grown)
            return cli_fail(CLI_EX_OSERR, "out of memory");
        s->items = grown;
        s->cap = cap;
    }
    s->items[s->n++] = (cli_setting){param, v, origin};
    return 0;
}

const cli_opt *cli_setting_flags(void)
{
    static cli_opt table[N_NAMED_FLAGS + 1];
    if (!table[0].name)
        for (size_t i = 0; i < N_NAMED_FLAGS; i++)
            table[i] = (cli_opt){named_flags[i].flag, 0, 1, CLI_SETTING_FLAG_ID + (int)i};
    return table;
}

int cli_settings_add_flag(cli_settings *s, int id, const char *value)
{
    size_t i = (size_t)(id - CLI_SETTING_FLAG_ID);
    ae_param param;
    if (i >= N_NAMED_FLAGS ||
        param_by_name(named_flags[i].param, strlen(named_flags[i].param), &param) != 0)
        return cli_fail(CLI_EX_SOFTWARE, "internal error: the library has no setting %s",
                        i < N_NAMED_FLAGS ? named_flags[i].param : "?");
    static char origins[N_NAMED_FLAGS][32];
    snprintf(origins[i], sizeof origins[i], "--%s", named_flags[i].flag);
    return add(s, param, origins[i], value);
}

int cli_settings_add_assignment(cli_settings *s, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    ae_param param;
    if (!eq)
        return cli_fail(CLI_EX_USAGE, "--set %s: expected NAME=VALUE, e.g. learning_rate=3e-3",
                        assignment);
    if (param_by_name(assignment, (size_t)(eq - assignment), &param) != 0)
        return cli_fail(CLI_EX_USAGE,
                        "--set %.*s: the library has no such setting (see 'autoenc train --help')",
                        (int)(eq - assignment), assignment);
    return add(s, param, "--set", eq + 1);
}

void cli_settings_free(cli_settings *s)
{
    free(s->items);
    memset(s, 0, sizeof *s);
}

int cli_settings_has(const cli_settings *s, ae_param param)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].param == param)
            return 1;
    return 0;
}

/* Settings that others are checked against go first: activations (the loss and the
 * scaling depend on the output's), then the scaling (the loss depends on it), the loss,
 * the noise kind (its level depends on it), the sparsity layer and target (the weight
 * depends on them), and everything else last. */
static int apply_rank(ae_param p)
{
    if (p == AE_PARAM_HIDDEN_ACTIVATION || p == AE_PARAM_LATENT_ACTIVATION ||
        p == AE_PARAM_OUTPUT_ACTIVATION || p == AE_PARAM_LEAKY_SLOPE || p == AE_PARAM_ELU_ALPHA)
        return 0;
    if (p == AE_PARAM_SCALING)
        return 1;
    if (p == AE_PARAM_LOSS)
        return 2;
    if (p == AE_PARAM_NOISE)
        return 3;
    if (p == AE_PARAM_SPARSITY_LAYER || p == AE_PARAM_SPARSITY_TARGET)
        return 4;
    return 5;
}

static int apply_one(ae_model *model, const cli_setting *it)
{
    int rc = ae_model_set_param(model, it->param, it->value);
    if (rc == AE_OK)
        return 0;
    char buf[64];
    const char *value = cli_param_value_text(it->param, it->value, buf, sizeof buf);
    int status = rc == AE_ERR_STATE || rc == AE_ERR_INVALID_ARGUMENT ? CLI_EX_USAGE
                                                                    : cli_status_from_ae(rc);
    if (strcmp(it->origin, "--set") == 0)
        return cli_fail(status, "--set %s=%s: %s", ae_param_name(it->param), value,
                        ae_model_last_error(model));
    return cli_fail(status, "%s %s: %s", it->origin, value, ae_model_last_error(model));
}

int cli_settings_apply(const cli_settings *s, ae_model *model)
{
    /* --loss bce without an output activation means a sigmoid output, the one BCE takes. */
    double loss = 0, output = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].param == AE_PARAM_LOSS)
            loss = s->items[i].value;
    ae_model_get_param(model, AE_PARAM_OUTPUT_ACTIVATION, &output);
    if (loss == AE_LOSS_BCE && !cli_settings_has(s, AE_PARAM_OUTPUT_ACTIVATION) &&
        output != AE_ACT_SIGMOID) {
        cli_setting implied = {AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID, "--loss bce (which implies) --output-activation"};
        int rc = apply_one(model, &implied);
        if (rc)
            return rc;
    }
    for (int rank = 0; rank <= 5; rank++)
        for (size_t i = 0; i < s->n; i++)
            if (apply_rank(s->items[i].param) == rank) {
                int rc = apply_one(model, &s->items[i]);
                if (rc)
                    return rc;
            }
    return 0;
}

/* Whether the end of a range is open: the library refuses the bound itself. */
static int bound_is_open(ae_model *probe, ae_param p, double bound)
{
    double saved;
    ae_model_get_param(probe, p, &saved);
    int rc = ae_model_set_param(probe, p, bound);
    if (rc == AE_OK)
        ae_model_set_param(probe, p, saved);
    return rc == AE_ERR_INVALID_ARGUMENT;
}

void cli_settings_reference(FILE *out, int troff)
{
    ae_param params[MAX_PARAM_ID];
    size_t n = cli_param_list(params, MAX_PARAM_ID);
    const size_t widths[] = {2, 1};
    ae_model *fresh = NULL;
    ae_model_create(&fresh, widths, 2, NULL, 0);
    for (size_t k = 0; k < n; k++) {
        ae_param p = params[k];
        double lo = 0, hi = 0, def = 0;
        int integral = 0;
        ae_param_bounds(p, &lo, &hi, &integral);
        int have_default = fresh && ae_model_get_param(fresh, p, &def) == AE_OK;
        const char *flag = cli_param_flag(p);
        const char *const *names = enum_names(p);
        char range[160], dbuf[64];
        if (names) {
            range[0] = '\0';
            for (int i = 0; names[i] && i <= (int)hi; i++) {
                strncat(range, i ? ", " : "one of ", sizeof range - strlen(range) - 1);
                strncat(range, names[i], sizeof range - strlen(range) - 1);
            }
        } else if (integral && lo == 0 && hi == 1) {
            snprintf(range, sizeof range, "0 or 1 (also no/yes, off/on)");
        } else {
            int lo_open = !integral && fresh && bound_is_open(fresh, p, lo);
            int hi_open = !integral && fresh && bound_is_open(fresh, p, hi);
            snprintf(range, sizeof range, "%s%s%.6g, %.6g%s", integral ? "integer " : "",
                     lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
        }
        const char *def_text = have_default ? cli_param_value_text(p, def, dbuf, sizeof dbuf) : "?";
        if (troff) {
            fprintf(out, ".TP\n.B %s\n", ae_param_name(p));
            if (flag)
                fprintf(out, "(\\fB\\-\\-%s\\fR) ", flag);
            fprintf(out, "%s; default %s\n", range, def_text);
        } else {
            char name[64];
            snprintf(name, sizeof name, "%s%s%s%s", ae_param_name(p), flag ? " (--" : "",
                     flag ? flag : "", flag ? ")" : "");
            fprintf(out, "  %-38s %s; default %s\n", name, range, def_text);
        }
    }
    ae_model_free(fresh);
}
