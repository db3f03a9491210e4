/* Command-line parsing: long options (--name VALUE, --name=VALUE), short ones
 * (-o VALUE, -oVALUE), positionals anywhere, and "--" to end the options.
 * Options come in groups (tables ending with a zeroed entry) so that the options
 * several subcommands share are declared once. */
#ifndef AUTOENC_ARGS_H
#define AUTOENC_ARGS_H

#include <stddef.h>

typedef struct cli_opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 for none */
    int has_value;    /* 1: takes a value */
    int id;           /* returned by cli_next_option */
} cli_opt;

typedef struct cli_args {
    const char *command; /* for messages: "train" */
    int argc;
    char **argv;
    int index;
    int options_ended;
    const char **positional;
    size_t n_positional;
} cli_args;

/* Start parsing argv[1..argc-1] (argv[0] is the subcommand). 0, or -1 out of memory. */
int cli_args_init(cli_args *a, const char *command, int argc, char **argv);
void cli_args_free(cli_args *a);

/* Next option from the NULL-terminated list of tables @p groups: 1 with *id and
 * *value (NULL for flags) set, 0 at the end, or an exit status (> 1) after printing
 * the reason (unknown option, missing value). Positionals are collected. */
int cli_next_option(cli_args *a, const cli_opt *const *groups, int *id, const char **value);

/* Parsers: 0 on success, or print "option --name: ..." and return CLI_EX_USAGE. */
int cli_parse_size(const char *option, const char *text, size_t min_value, size_t *out);
int cli_parse_double(const char *option, const char *text, double *out);
/* "784,256,32" -> widths (malloc'ed), at least @p min_count entries, each >= 1. */
int cli_parse_size_list(const char *option, const char *text, size_t min_count, size_t **out,
                        size_t *count);
/* "28x28" or "32x32x3" -> width, height, channels (1 or 3). */
int cli_parse_image(const char *option, const char *text, size_t *width, size_t *height,
                    size_t *channels);
/* "yes/no/true/false/on/off/1/0" -> 0 or 1; -1 when not a boolean word. */
int cli_parse_bool_word(const char *text);

#endif
