/* New rows from a model: autoenc sample (codes drawn from the prior of a variational
 * model) and autoenc interpolate (decoded points on the line between two rows' codes). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "common.h"
#include "output.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_N = OPT_COMMAND_BASE, OPT_SEED, OPT_FROM, OPT_TO, OPT_STEPS };
static const cli_opt sample_opts[] = {{"samples", 'n', 1, OPT_N}, {"seed", 0, 1, OPT_SEED}, {0}};
static const cli_opt interpolate_opts[] = {
    {"from", 0, 1, OPT_FROM}, {"to", 0, 1, OPT_TO}, {"steps", 'n', 1, OPT_STEPS}, {0}};

typedef struct gen_args {
    cli_common common;
    size_t n, seed, from, to;
} gen_args;

static int parse(gen_args *g, cli_args *a, const cli_opt *own)
{
    const cli_opt *groups[] = {cli_opts_misc, cli_opts_output, cli_opts_data, cli_opts_png, own,
                               NULL};
    int id, rc;
    const char *v;
    while ((rc = cli_next_option(a, groups, &id, &v)) == 1) {
        rc = cli_common_option(&g->common, id, v);
        if (rc > 0)
            return rc;
        rc = 0;
        switch (id) {
        case OPT_N: rc = cli_parse_size(own == sample_opts ? "-n" : "--steps", v, own == sample_opts ? 1 : 2, &g->n); break;
        case OPT_STEPS: rc = cli_parse_size("--steps", v, 2, &g->n); break;
        case OPT_SEED: rc = cli_parse_size("--seed", v, 0, &g->seed); break;
        case OPT_FROM: rc = cli_parse_size("--from", v, 0, &g->from); break;
        case OPT_TO: rc = cli_parse_size("--to", v, 0, &g->to); break;
        default: break;
        }
        if (rc)
            return rc;
    }
    return rc;
}

/* -o and --png, opened before the work so that an output that cannot be made fails first,
 * and committed together. */
typedef struct gen_outputs {
    cli_matrix_writer matrix;
    cli_atomic png;
    cli_image_shape shape;
    size_t grid_rows, grid_cols;
} gen_outputs;

/* For @p rows rows of @p d values, drawn as a strip or a square grid (@p strip);
 * @p count_option sets the rows, for the hint when the picture is too large. */
static int open_outputs(const gen_args *g, const cli_dataset *ds, size_t rows, size_t d,
                        int strip, const char *count_option, gen_outputs *out)
{
    int rc = 0;
    if (g->common.png) {
        size_t cols = strip ? rows : (size_t)ceil(sqrt((double)rows)); /* a square */
        while (!strip && cols > 1 && (double)(cols - 1) * (double)(cols - 1) >= (double)rows)
            cols--;
        out->grid_cols = cols;
        out->grid_rows = rows / cols + (rows % cols != 0);
        if ((rc = cli_picture_shape(&g->common, ds, d, &out->shape)) != 0 ||
            (rc = cli_png_grid_check(g->common.png, out->grid_rows, out->grid_cols, &out->shape,
                                     g->common.scale, count_option)) != 0 ||
            (rc = cli_atomic_open(&out->png, g->common.png)) != 0)
            return rc;
    }
    if (g->common.output)
        rc = cli_matrix_writer_open(&out->matrix, g->common.output, g->common.format, rows, d,
                                    0, 0);
    return rc;
}

static int write_outputs(const gen_args *g, gen_outputs *out, const float *y, size_t rows,
                         size_t d)
{
    int rc = 0;
    if (g->common.output && (rc = cli_matrix_writer_rows(&out->matrix, y, rows, d)) == 0)
        rc = cli_matrix_writer_close(&out->matrix);
    if (rc == 0 && g->common.png) {
        const float **cells = calloc(out->grid_rows * out->grid_cols, sizeof *cells);
        if (!cells)
            return cli_fail(CLI_EX_OSERR, "out of memory");
        for (size_t i = 0; i < rows; i++)
            cells[i] = y + i * d;
        rc = cli_png_grid(&out->png, cells, out->grid_rows, out->grid_cols, &out->shape,
                          g->common.scale);
        free(cells);
    }
    return rc == 0 ? cli_outputs_commit() : rc;
}

int cmd_sample(int argc, char **argv)
{
    gen_args g;
    memset(&g, 0, sizeof g);
    cli_common_init(&g.common);
    g.n = 16;
    cli_args a;
    if (cli_args_init(&a, "sample", argc, argv) != 0)
        return cli_fail(CLI_EX_OSERR, "out of memory");
    ae_model *m = NULL;
    float *y = NULL;
    int rc = parse(&g, &a, sample_opts);
    if (rc == 0 && g.common.help) {
        rc = cli_print_help("sample");
        goto done;
    }
    if (rc || (rc = cli_expect_positionals(&a, 1, 1, "autoenc sample MODEL -n N -o OUT [--png FILE]")))
        goto done;
    if (!g.common.output && !g.common.png) {
        rc = cli_fail(CLI_EX_USAGE, "sample: give -o OUT, --png FILE or both");
        goto done;
    }
    if ((rc = cli_load_model(a.positional[0], &m)) != 0)
        goto done;
    if (!(ae_model_architecture(m) & AE_ARCH_VARIATIONAL)) {
        rc = cli_fail(CLI_EX_MODEL_STATE,
                      "%s: sampling needs a variational model (train it with --variational); "
                      "'autoenc interpolate' works with any model",
                      a.positional[0]);
        goto done;
    }
    size_t d = ae_model_input_dim(m);
    gen_outputs out;
    memset(&out, 0, sizeof out);
    if ((rc = open_outputs(&g, NULL, g.n, d, 0, "-n", &out)) != 0 ||
        (rc = cli_check_rows_fit("-n", g.n, d)) != 0)
        goto done;
    y = cli_malloc_array(g.n, d * sizeof *y);
    if (!y) {
        rc = cli_fail(CLI_EX_OSERR, "out of memory for %zu rows of %zu values", g.n, d);
        goto done;
    }
    int arc = ae_model_sample(m, (uint64_t)g.seed, g.n, y, d);
    if (arc != AE_OK) {
        rc = cli_fail(cli_status_from_ae(arc), "sample: %s", ae_last_error());
        goto done;
    }
    rc = write_outputs(&g, &out, y, g.n, d);
done:
    free(y);
    ae_model_free(m);
    cli_args_free(&a);
    return rc;
}

int cmd_interpolate(int argc, char **argv)
{
    gen_args g;
    memset(&g, 0, sizeof g);
    cli_common_init(&g.common);
    g.n = 10;
    g.to = 1;
    cli_args a;
    if (cli_args_init(&a, "interpolate", argc, argv) != 0)
        return cli_fail(CLI_EX_OSERR, "out of memory");
    ae_model *m = NULL;
    cli_dataset ds;
    memset(&ds, 0, sizeof ds);
    float *y = NULL, *ends = NULL;
    int rc = parse(&g, &a, interpolate_opts);
    if (rc == 0 && g.common.help) {
        rc = cli_print_help("interpolate");
        goto done;
    }
    if (rc || (rc = cli_expect_positionals(&a, 2, 2,
                                           "autoenc interpolate MODEL DATA --from I --to J -o OUT")))
        goto done;
    if (!g.common.output && !g.common.png) {
        rc = cli_fail(CLI_EX_USAGE, "interpolate: give -o OUT, --png FILE or both");
        goto done;
    }
    if ((rc = cli_load_model(a.positional[0], &m)) != 0)
        goto done;
    if (ae_model_layer_count(m) == ae_model_encoder_layer_count(m)) {
        rc = cli_fail(CLI_EX_MODEL_STATE, "%s: an encoder alone cannot interpolate: it has no decoder",
                      a.positional[0]);
        goto done;
    }
    size_t d = ae_model_input_dim(m);
    if ((rc = cli_open_data(&ds, a.positional[1], &g.common.read, d, a.positional[0], "rows")) != 0)
        goto done;
    if (g.from >= ds.rows || g.to >= ds.rows) {
        rc = cli_fail(CLI_EX_USAGE, "--from %zu --to %zu: %s has rows 0 to %zu", g.from, g.to,
                      ds.path, ds.rows - 1);
        goto done;
    }
    gen_outputs out;
    memset(&out, 0, sizeof out);
    if ((rc = open_outputs(&g, &ds, g.n, d, 1, "--steps", &out)) != 0 ||
        (rc = cli_check_rows_fit("--steps", g.n, d)) != 0)
        goto done;
    y = cli_malloc_array(g.n, d * sizeof *y);
    ends = cli_malloc_array(2, d * sizeof *ends);
    if (!y || !ends) {
        rc = cli_fail(CLI_EX_OSERR, "out of memory");
        goto done;
    }
    memmove(ends, cli_dataset_rows(&ds, g.from, 1, ends), d * sizeof *ends);
    memmove(ends + d, cli_dataset_rows(&ds, g.to, 1, ends + d), d * sizeof *ends);
    int arc = ae_model_interpolate(m, ends, ends + d, g.n, y, d);
    if (arc != AE_OK) {
        rc = cli_fail(cli_status_from_ae(arc), "%s: rows %zu and %zu: %s", ds.path, g.from, g.to,
                      ae_last_error());
        goto done;
    }
    rc = write_outputs(&g, &out, y, g.n, d);
done:
    free(y);
    free(ends);
    cli_dataset_free(&ds);
    ae_model_free(m);
    cli_args_free(&a);
    return rc;
}
