/* Settings by name: every ae_param the library knows (found through ae_param_name, so
 * the tool never falls behind the library), named flags for the common ones, enum
 * values by name, and an order of application that never trips the library's
 * conflict rules for a consistent command line. */
#ifndef AUTOENC_SETTINGS_H
#define AUTOENC_SETTINGS_H

#include <autoenc.h>

#include <stdio.h>

#include "args.h"

typedef struct cli_setting {
    ae_param param;
    double value;
    const char *origin; /* "--lr" or "--set" for messages */
} cli_setting;

typedef struct cli_settings {
    cli_setting *items;
    size_t n, cap;
} cli_settings;

/* The named flags (--epochs, --lr, ...), as an option table whose ids start at
 * CLI_SETTING_FLAG_ID; terminated by a zeroed entry. */
enum { CLI_SETTING_FLAG_ID = 1000 };
const cli_opt *cli_setting_flags(void);
/* Handle option @p id (a named flag) with @p value. 0 or an exit status. */
int cli_settings_add_flag(cli_settings *s, int id, const char *value);
/* Handle "--set name=value". 0 or an exit status. */
int cli_settings_add_assignment(cli_settings *s, const char *assignment);
void cli_settings_free(cli_settings *s);
/* Whether @p param was given. */
int cli_settings_has(const cli_settings *s, ae_param param);

/* Apply in a safe order; a genuine conflict is reported with the library's message
 * and gives CLI_EX_USAGE. */
int cli_settings_apply(const cli_settings *s, ae_model *model);

/* Every known parameter id, in enum order; returns the count (at most max). */
size_t cli_param_list(ae_param *params, size_t max);
/* The value as a person reads it: enum values by name. */
const char *cli_param_value_text(ae_param param, double value, char *buf, size_t size);
/* The named flag of @p param, or NULL. */
const char *cli_param_flag(ae_param param);

/* The settings reference (train --help, the man page): one entry per setting with its
 * flag, bounds, default (from a freshly created model) and enum names. @p troff: man
 * page markup. */
void cli_settings_reference(FILE *out, int troff);

#endif
