/* What the subcommands share: option groups (data, output, pictures), loading a model
 * with a clear error, opening data that must fit a model, and --help. */
#ifndef AUTOENC_COMMON_H
#define AUTOENC_COMMON_H

#include <autoenc.h>

#include "args.h"
#include "dataset.h"
#include "png_grid.h"

enum cli_common_id {
    OPT_HELP = 1, OPT_QUIET, OPT_JSON,
    OPT_OUTPUT, OPT_FORMAT,
    OPT_HEADER, OPT_NO_HEADER, OPT_DELIMITER, OPT_COLUMNS, OPT_LABELS, OPT_CLASS, OPT_ROWS,
    OPT_PNG, OPT_SCALE, OPT_IMAGE, OPT_COUNT,
    OPT_COMMAND_BASE = 100 /* first id for a subcommand's own options */
};

typedef struct cli_common {
    cli_read_options read;
    const char *output, *format, *png;
    size_t scale, count;
    cli_image_shape image;
    int quiet, json, help;
} cli_common;

extern const cli_opt cli_opts_misc[];   /* --help, --quiet, --json */
extern const cli_opt cli_opts_output[]; /* -o, --format */
extern const cli_opt cli_opts_data[];   /* --header, --no-header, --delimiter, --columns, --labels, --class, --rows */
extern const cli_opt cli_opts_png[];    /* --png, --scale, --image, --count */

void cli_common_init(cli_common *c);
/* Handle a shared option: 0 handled, -1 not a shared option, or an exit status. */
int cli_common_option(cli_common *c, int id, const char *value);

/* Load a model file: 66 when missing or not a file, 80 when it does not load. */
int cli_load_model(const char *path, ae_model **out);
/* Open data whose rows must have @p expected_cols values (0: any). */
int cli_open_data(cli_dataset *ds, const char *path, const cli_read_options *o,
                  size_t expected_cols, const char *model_path, const char *what);
/* The image shape for pictures of rows of @p dim values (--image, the file, a square). */
int cli_picture_shape(const cli_common *c, const cli_dataset *ds, size_t dim,
                      cli_image_shape *out);

/* Rows a command holds in memory at once (sample -n, interpolate --steps): refused with
 * CLI_EX_USAGE, before anything is allocated, when @p rows of @p cols floats would take
 * more than half of the machine's memory (their byte count cannot overflow a double). */
int cli_check_rows_fit(const char *option, size_t rows, size_t cols);

/* Print a subcommand's help (help.c); 0. */
int cli_print_help(const char *command);
/* The positional-argument check: exactly @p n, naming them in the usage message. */
int cli_expect_positionals(const cli_args *a, size_t min, size_t max, const char *usage);

#endif
