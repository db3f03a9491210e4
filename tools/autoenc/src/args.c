/* Command-line parsing (see args.h). */
#include "args.h"

#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cli_args_init(cli_args *a, const char *command, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->command = command;
    a->argc = argc;
    a->argv = argv;
    a->index = 1;
    a->positional = cli_malloc_array((size_t)(argc > 0 ? argc : 1), sizeof *a->positional);
    return a->positional ? 0 : -1;
}

void cli_args_free(cli_args *a)
{
    free(a->positional);
    a->positional = NULL;
}

static const cli_opt *find_long(const cli_opt *const *groups, const char *name, size_t len)
{
    for (size_t g = 0; groups[g]; g++)
        for (const cli_opt *o = groups[g]; o->name || o->short_name; o++)
            if (o->name && strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                return o;
    return NULL;
}

static const cli_opt *find_short(const cli_opt *const *groups, char c)
{
    for (size_t g = 0; groups[g]; g++)
        for (const cli_opt *o = groups[g]; o->name || o->short_name; o++)
            if (o->short_name == c)
                return o;
    return NULL;
}

int cli_next_option(cli_args *a, const cli_opt *const *groups, int *id, const char **value)
{
    while (a->index < a->argc) {
        const char *arg = a->argv[a->index++];
        if (a->options_ended || arg[0] != '-' || arg[1] == '\0') { /* "-" is a positional */
            a->positional[a->n_positional++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            a->options_ended = 1;
            continue;
        }
        const cli_opt *opt;
        const char *inline_value = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            opt = find_long(groups, name, len);
            if (!opt)
                return cli_fail(CLI_EX_USAGE, "%s: unknown option --%.*s (see 'autoenc %s --help')",
                                a->command, (int)len, name, a->command);
            if (eq) {
                if (!opt->has_value)
                    return cli_fail(CLI_EX_USAGE, "%s: option --%s takes no value", a->command,
                                    opt->name);
                inline_value = eq + 1;
            }
        } else {
            opt = find_short(groups, arg[1]);
            if (!opt)
                return cli_fail(CLI_EX_USAGE, "%s: unknown option -%c (see 'autoenc %s --help')",
                                a->command, arg[1], a->command);
            if (arg[2] != '\0') {
                if (!opt->has_value)
                    return cli_fail(CLI_EX_USAGE, "%s: option -%c takes no value", a->command,
                                    arg[1]);
                inline_value = arg + 2;
            }
        }
        *id = opt->id;
        *value = NULL;
        if (opt->has_value) {
            if (inline_value) {
                *value = inline_value;
            } else if (a->index < a->argc) {
                *value = a->argv[a->index++];
            } else {
                return cli_fail(CLI_EX_USAGE, "%s: option %s%s needs a value", a->command,
                                opt->name ? "--" : "-",
                                opt->name ? opt->name : (char[]){opt->short_name, 0});
            }
        }
        return 1;
    }
    return 0;
}

int cli_parse_size(const char *option, const char *text, size_t min_value, size_t *out)
{
    char *end = NULL;
    errno = 0;
    if (text[0] == '-' || text[0] == '\0')
        goto bad;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > (unsigned long long)(size_t)-1)
        goto bad;
    if ((size_t)v < min_value)
        return cli_fail(CLI_EX_USAGE, "option %s: %s is below the smallest value, %zu", option,
                        text, min_value);
    *out = (size_t)v;
    return 0;
bad:
    return cli_fail(CLI_EX_USAGE, "option %s: '%s' is not a whole number", option, text);
}

int cli_parse_double(const char *option, const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v))
        return cli_fail(CLI_EX_USAGE, "option %s: '%s' is not a finite number", option, text);
    *out = v;
    return 0;
}

int cli_parse_size_list(const char *option, const char *text, size_t min_count, size_t **out,
                        size_t *count)
{
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    size_t *list = cli_malloc_array(n, sizeof *list);
    if (!list)
        return cli_fail(CLI_EX_OSERR, "out of memory");
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = (*p >= '0' && *p <= '9') ? strtoull(p, &end, 10) : 0;
        if (end == NULL || end == p || errno != 0 || v == 0 || (*end != ',' && *end != '\0') ||
            v > (unsigned long long)(size_t)-1) {
            free(list);
            return cli_fail(CLI_EX_USAGE,
                            "option %s: '%s' is not a list of positive widths such as 784,256,32 "
                            "(entry %zu)",
                            option, text, i + 1);
        }
        list[i] = (size_t)v;
        p = end + (*end == ',');
    }
    if (n < min_count) {
        free(list);
        return cli_fail(CLI_EX_USAGE, "option %s: '%s' needs at least %zu widths", option, text,
                        min_count);
    }
    *out = list;
    *count = n;
    return 0;
}

int cli_parse_image(const char *option, const char *text, size_t *width, size_t *height,
                    size_t *channels)
{
    unsigned long long v[3] = {0, 0, 1};
    int n = 0;
    const char *p = text;
    while (n < 3) {
        char *end = NULL;
        errno = 0;
        if (*p < '0' || *p > '9')
            break;
        v[n++] = strtoull(p, &end, 10);
        if (errno != 0 || end == p)
            break;
        p = end;
        if (*p != 'x' && *p != 'X')
            break;
        p++;
    }
    if (n < 2 || *p != '\0' || v[0] == 0 || v[1] == 0 || v[0] > 65535 || v[1] > 65535 ||
        (v[2] != 1 && v[2] != 3))
        return cli_fail(CLI_EX_USAGE,
                        "option %s: '%s' is not an image shape WIDTHxHEIGHT or WIDTHxHEIGHTx3, "
                        "e.g. 28x28",
                        option, text);
    *width = (size_t)v[0];
    *height = (size_t)v[1];
    *channels = (size_t)v[2];
    return 0;
}

int cli_parse_bool_word(const char *text)
{
    static const char *const yes[] = {"1", "yes", "true", "on"};
    static const char *const no[] = {"0", "no", "false", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0)
            return 1;
        if (strcasecmp(text, no[i]) == 0)
            return 0;
    }
    return -1;
}
