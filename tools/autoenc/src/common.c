/* Shared options, model loading and data checks (see common.h). */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include "cli.h"
#include "output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const cli_opt cli_opts_misc[] = {
    {"help", 'h', 0, OPT_HELP}, {"quiet", 'q', 0, OPT_QUIET}, {"json", 0, 0, OPT_JSON}, {0}};
const cli_opt cli_opts_output[] = {{"output", 'o', 1, OPT_OUTPUT}, {"format", 0, 1, OPT_FORMAT}, {0}};
const cli_opt cli_opts_data[] = {
    {"header", 0, 0, OPT_HEADER},   {"no-header", 0, 0, OPT_NO_HEADER},
    {"delimiter", 0, 1, OPT_DELIMITER}, {"columns", 0, 1, OPT_COLUMNS},
    {"labels", 0, 1, OPT_LABELS},   {"class", 0, 1, OPT_CLASS},
    {"rows", 0, 1, OPT_ROWS},       {0}};
const cli_opt cli_opts_png[] = {{"png", 0, 1, OPT_PNG}, {"scale", 0, 1, OPT_SCALE},
                                {"image", 0, 1, OPT_IMAGE}, {"count", 0, 1, OPT_COUNT}, {0}};

void cli_common_init(cli_common *c)
{
    memset(c, 0, sizeof *c);
    cli_read_options_init(&c->read);
    c->scale = 2;
    c->count = 16;
}

static int parse_delimiter(const char *value, char *out)
{
    if (strcmp(value, "tab") == 0 || strcmp(value, "\\t") == 0)
        *out = '\t';
    else if (strcmp(value, "space") == 0 || strcmp(value, " ") == 0)
        *out = ' ';
    else if (strlen(value) == 1 && value[0] != '"' && value[0] != '\n')
        *out = value[0];
    else
        return cli_fail(CLI_EX_USAGE,
                        "--delimiter '%s': expected one character, 'tab' or 'space'", value);
    return 0;
}

int cli_common_option(cli_common *c, int id, const char *value)
{
    size_t n;
    int rc = 0;
    switch (id) {
    case OPT_HELP: c->help = 1; break;
    case OPT_QUIET: c->quiet = 1; break;
    case OPT_JSON: c->json = 1; break;
    case OPT_OUTPUT: c->output = value; break;
    case OPT_FORMAT: c->format = value; break;
    case OPT_HEADER: c->read.header = 1; break;
    case OPT_NO_HEADER: c->read.header = 0; break;
    case OPT_DELIMITER: rc = parse_delimiter(value, &c->read.delimiter); break;
    case OPT_COLUMNS: c->read.columns = value; break;
    case OPT_LABELS: c->read.labels = value; break;
    case OPT_CLASS:
        rc = cli_parse_size("--class", value, 0, &n);
        if (rc == 0 && n > 1000000000)
            rc = cli_fail(CLI_EX_USAGE, "--class %s: too large", value);
        c->read.class_label = (long)n;
        break;
    case OPT_ROWS: rc = cli_parse_size("--rows", value, 1, &c->read.max_rows); break;
    case OPT_PNG: c->png = value; break;
    case OPT_SCALE:
        rc = cli_parse_size("--scale", value, 1, &c->scale);
        if (rc == 0 && c->scale > 64)
            rc = cli_fail(CLI_EX_USAGE, "--scale %s: at most 64", value);
        break;
    case OPT_COUNT: rc = cli_parse_size("--count", value, 1, &c->count); break;
    case OPT_IMAGE:
        rc = cli_parse_image("--image", value, &c->image.width, &c->image.height,
                             &c->image.channels);
        break;
    default: return -1;
    }
    return rc;
}

int cli_load_model(const char *path, ae_model **out)
{
    struct stat st;
    *out = NULL;
    int rc = cli_claim_input(path);
    if (rc)
        return rc;
    if (stat(path, &st) != 0)
        return cli_fail(CLI_EX_NOINPUT, "%s: cannot open the model: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return cli_fail(CLI_EX_NOINPUT, "%s: is a directory, expected a model file", path);
    rc = ae_model_load(out, path);
    if (rc == AE_OK)
        return 0;
    if (rc == AE_ERR_IO)
        return cli_fail(CLI_EX_NOINPUT, "%s", ae_last_error());
    return cli_fail(rc == AE_ERR_OUT_OF_MEMORY ? CLI_EX_OSERR : CLI_EX_MODEL,
                    "%s (expected a model file written by 'autoenc train' or ae_model_save)",
                    ae_last_error());
}

int cli_open_data(cli_dataset *ds, const char *path, const cli_read_options *o,
                  size_t expected_cols, const char *model_path, const char *what)
{
    int rc = cli_dataset_open(ds, path, o);
    if (rc)
        return rc;
    if (expected_cols && ds->cols != expected_cols) {
        rc = cli_fail(CLI_EX_DATAERR, "%s: rows of %zu values, but the model %s takes %s of %zu",
                      path, ds->cols, model_path, what, expected_cols);
        cli_dataset_free(ds);
    }
    return rc;
}

int cli_picture_shape(const cli_common *c, const cli_dataset *ds, size_t dim,
                      cli_image_shape *out)
{
    cli_image_shape from_file = {0, 0, 0};
    if (ds)
        from_file = (cli_image_shape){ds->image_width, ds->image_height, ds->image_channels};
    return cli_image_shape_for(dim, &c->image, &from_file, out);
}

int cli_expect_positionals(const cli_args *a, size_t min, size_t max, const char *usage)
{
    if (a->n_positional < min)
        return cli_fail(CLI_EX_USAGE, "%s: missing arguments; usage: %s", a->command, usage);
    if (a->n_positional > max)
        return cli_fail(CLI_EX_USAGE, "%s: unexpected argument '%s'; usage: %s", a->command,
                        a->positional[max], usage);
    return 0;
}

int cli_check_rows_fit(const char *option, size_t rows, size_t cols)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double memory = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
    double bytes = (double)rows * (double)cols * (double)sizeof(float);
    if (memory == 0 || bytes <= memory / 2)
        return 0;
    return cli_fail(CLI_EX_USAGE,
                    "%s %zu: %zu rows of %zu values need %.1f GB, more than half of this "
                    "machine's memory (%.1f GB)",
                    option, rows, rows, cols, bytes / 1e9, memory / 1e9);
}
