/* The row-by-row subcommands: encode, decode, reconstruct, score and detect. Rows are
 * read (from a memory map when possible), passed through the model and written out a
 * block at a time, so a data file larger than memory goes through in bounded memory. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "common.h"
#include "output.h"
#include "signals.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum map_kind { MAP_ENCODE, MAP_DECODE, MAP_RECONSTRUCT, MAP_SCORE, MAP_DETECT } map_kind;

enum { OPT_THRESHOLD = OPT_COMMAND_BASE, OPT_SCORES, OPT_DISTRIBUTION, OPT_CHUNK };

static const cli_opt detect_opts[] = {
    {"threshold", 0, 1, OPT_THRESHOLD}, {"scores", 0, 0, OPT_SCORES}, {0}};
static const cli_opt encode_opts[] = {{"distribution", 0, 0, OPT_DISTRIBUTION}, {0}};
static const cli_opt chunk_opts[] = {{"chunk", 0, 1, OPT_CHUNK}, {0}};
static const cli_opt no_opts[] = {{0}};

typedef struct map_job {
    map_kind kind;
    const char *name;
    cli_common common;
    double threshold;
    int have_threshold, scores, distribution;
    size_t chunk;
    ae_model *model;
    cli_dataset ds;
    size_t in_cols, out_cols;
    int unit_range; /* inputs must lie in [0, 1] */
    /* pictures */
    cli_atomic png_out;
    cli_image_shape shape;
    size_t grid_rows, grid_cols;
    float *picture_in, *picture_out; /* reconstruct: the first rows and their outputs */
    size_t picture_rows;
    size_t *best, *worst; /* score: indices of the least and most anomalous rows */
    float *best_score, *worst_score;
    size_t n_best, n_worst;
    size_t n_anomalous;
} map_job;

/* Keeps the k rows with the extreme scores (insertion into a small sorted list). */
static void keep_extreme(size_t *idx, float *score, size_t *n, size_t k, size_t row, float s,
                         int highest)
{
    size_t pos = *n;
    while (pos > 0 && (highest ? s > score[pos - 1] : s < score[pos - 1]))
        pos--;
    if (pos >= k)
        return;
    size_t last = *n < k ? *n : k - 1;
    for (size_t i = last; i > pos; i--) {
        idx[i] = idx[i - 1];
        score[i] = score[i - 1];
    }
    idx[pos] = row;
    score[pos] = s;
    if (*n < k)
        (*n)++;
}

static int run_chunk(map_job *j, const float *x, size_t first, size_t n, float *y,
                     uint8_t *labels, float *scores)
{
    const ae_model *m = j->model;
    int rc = AE_OK;
    switch (j->kind) {
    case MAP_ENCODE:
        if (j->distribution) {
            size_t latent = ae_model_latent_dim(m);
            rc = ae_model_encode_distribution(m, x, n, j->in_cols, y, j->out_cols, y + latent,
                                              j->out_cols);
        } else {
            rc = ae_model_encode(m, x, n, j->in_cols, y, j->out_cols);
        }
        break;
    case MAP_DECODE: rc = ae_model_decode(m, x, n, j->in_cols, y, j->out_cols); break;
    case MAP_RECONSTRUCT: rc = ae_model_reconstruct(m, x, n, j->in_cols, y, j->out_cols); break;
    case MAP_SCORE: rc = ae_model_score(m, x, n, j->in_cols, y); break;
    case MAP_DETECT:
        rc = ae_model_detect(m, x, n, j->in_cols, labels, scores);
        if (rc == AE_OK)
            for (size_t i = 0; i < n; i++) {
                j->n_anomalous += labels[i];
                y[i * j->out_cols] = labels[i];
                if (j->scores)
                    y[i * j->out_cols + 1] = scores[i];
            }
        break;
    }
    if (rc != AE_OK)
        return cli_dataset_report(&j->ds, first, n, rc, ae_last_error(), j->unit_range);
    if (j->kind == MAP_SCORE && j->common.png) {
        size_t k = j->picture_rows;
        for (size_t i = 0; i < n; i++) {
            keep_extreme(j->worst, j->worst_score, &j->n_worst, k, first + i, y[i], 1);
            keep_extreme(j->best, j->best_score, &j->n_best, k, first + i, y[i], 0);
        }
    }
    if (j->kind == MAP_RECONSTRUCT && j->common.png && first < j->picture_rows) {
        size_t take = j->picture_rows - first < n ? j->picture_rows - first : n;
        memcpy(j->picture_in + first * j->in_cols, x, take * j->in_cols * sizeof(float));
        memcpy(j->picture_out + first * j->in_cols, y, take * j->in_cols * sizeof(float));
    }
    return 0;
}

/* The picture's grid: reconstruct draws lines of up to 10 originals, each followed by the
 * line of their reconstructions; score, the most anomalous rows on the first line and the
 * least anomalous on the second. */
static void picture_grid(map_job *j)
{
    size_t n = j->picture_rows, per_line = 10;
    j->grid_cols = n < per_line || j->kind == MAP_SCORE ? n : per_line;
    j->grid_rows = j->kind == MAP_SCORE ? 2 : 2 * ((n + j->grid_cols - 1) / j->grid_cols);
}

static int write_pictures(map_job *j)
{
    int rc;
    size_t cols = j->grid_cols;
    if (j->kind == MAP_RECONSTRUCT) {
        const float **cells = calloc(j->grid_rows * cols, sizeof *cells);
        if (!cells)
            return cli_fail(CLI_EX_OSERR, "out of memory");
        for (size_t i = 0; i < j->picture_rows; i++) {
            size_t b = i / cols, c = i % cols;
            cells[(2 * b) * cols + c] = j->picture_in + i * j->in_cols;
            cells[(2 * b + 1) * cols + c] = j->picture_out + i * j->in_cols;
        }
        rc = cli_png_grid(&j->png_out, cells, j->grid_rows, cols, &j->shape, j->common.scale);
        free(cells);
        return rc;
    }
    const float **cells = calloc(2 * cols, sizeof *cells);
    float *rows = cli_malloc_array(2 * cols, j->in_cols * sizeof *rows);
    if (!cells || !rows) {
        free(cells);
        free(rows);
        return cli_fail(CLI_EX_OSERR, "out of memory");
    }
    for (size_t i = 0; i < j->n_worst; i++) {
        float *dst = rows + i * j->in_cols;
        memmove(dst, cli_dataset_rows(&j->ds, j->worst[i], 1, dst), j->in_cols * sizeof *dst);
        cells[i] = dst;
    }
    for (size_t i = 0; i < j->n_best; i++) {
        float *dst = rows + (cols + i) * j->in_cols;
        memmove(dst, cli_dataset_rows(&j->ds, j->best[i], 1, dst), j->in_cols * sizeof *dst);
        cells[cols + i] = dst;
    }
    rc = cli_png_grid(&j->png_out, cells, 2, cols, &j->shape, j->common.scale);
    free(cells);
    free(rows);
    return rc;
}

static int prepare(map_job *j, const char *model_path, const char *data_path)
{
    int rc = cli_load_model(model_path, &j->model);
    if (rc)
        return rc;
    ae_model *m = j->model;
    size_t input_dim = ae_model_input_dim(m), latent = ae_model_latent_dim(m);
    int has_decoder = ae_model_layer_count(m) > ae_model_encoder_layer_count(m);
    if (j->kind != MAP_ENCODE && !has_decoder)
        return cli_fail(CLI_EX_MODEL_STATE,
                        "%s: an encoder alone (exported) cannot %s: it has no decoder",
                        model_path, j->name);
    if (j->distribution && !(ae_model_architecture(m) & AE_ARCH_VARIATIONAL))
        return cli_fail(CLI_EX_MODEL_STATE,
                        "%s: --distribution needs a variational model (train --variational)",
                        model_path);
    if (j->kind == MAP_DETECT) {
        if (j->have_threshold) {
            rc = ae_model_set_threshold(m, j->threshold);
            if (rc != AE_OK)
                return cli_fail(CLI_EX_USAGE, "--threshold: %s", ae_model_last_error(m));
        } else if (ae_model_get_threshold(m, &j->threshold) != AE_OK) {
            return cli_fail(CLI_EX_MODEL_STATE,
                            "%s: the model has no anomaly threshold: fit one with 'autoenc "
                            "threshold MODEL DATA --contamination 0.01', or give --threshold",
                            model_path);
        }
    }
    j->in_cols = j->kind == MAP_DECODE ? latent : input_dim;
    switch (j->kind) {
    case MAP_ENCODE: j->out_cols = j->distribution ? 2 * latent : latent; break;
    case MAP_DECODE:
    case MAP_RECONSTRUCT: j->out_cols = input_dim; break;
    case MAP_SCORE: j->out_cols = 1; break;
    case MAP_DETECT: j->out_cols = j->scores ? 2 : 1; break;
    }
    double loss = 0, scaling = 0;
    ae_model_get_param(m, AE_PARAM_LOSS, &loss);
    ae_model_get_param(m, AE_PARAM_SCALING, &scaling);
    j->unit_range = loss == AE_LOSS_BCE && scaling == AE_SCALING_NONE;
    rc = cli_open_data(&j->ds, data_path, &j->common.read, j->in_cols, model_path,
                       j->kind == MAP_DECODE ? "codes" : "rows");
    if (rc)
        return rc;
    if (!j->common.png)
        return 0;
    if (j->kind != MAP_RECONSTRUCT && j->kind != MAP_SCORE)
        return cli_fail(CLI_EX_USAGE, "%s: --png is for reconstruct, score, sample and interpolate",
                        j->name);
    /* The picture's size and file are checked before any row is read. */
    j->picture_rows = j->common.count < j->ds.rows ? j->common.count : j->ds.rows;
    picture_grid(j);
    if ((rc = cli_picture_shape(&j->common, &j->ds, input_dim, &j->shape)) != 0 ||
        (rc = cli_png_grid_check(j->common.png, j->grid_rows, j->grid_cols, &j->shape,
                                 j->common.scale, "--count")) != 0 ||
        (rc = cli_atomic_open(&j->png_out, j->common.png)) != 0)
        return rc;
    size_t k = j->picture_rows;
    if (j->kind == MAP_RECONSTRUCT) {
        j->picture_in = cli_malloc_array(k, input_dim * sizeof(float));
        j->picture_out = cli_malloc_array(k, input_dim * sizeof(float));
        if (!j->picture_in || !j->picture_out)
            return cli_fail(CLI_EX_OSERR, "out of memory");
    } else {
        j->best = cli_malloc_array(k, sizeof *j->best);
        j->worst = cli_malloc_array(k, sizeof *j->worst);
        j->best_score = cli_malloc_array(k, sizeof(float));
        j->worst_score = cli_malloc_array(k, sizeof(float));
        if (!j->best || !j->worst || !j->best_score || !j->worst_score)
            return cli_fail(CLI_EX_OSERR, "out of memory");
    }
    return 0;
}

static int stream(map_job *j)
{
    const size_t widest = j->in_cols > j->out_cols ? j->in_cols : j->out_cols;
    size_t chunk = j->chunk ? j->chunk : (((size_t)1 << 21) / widest > 0 ? ((size_t)1 << 21) / widest : 1);
    if (chunk > j->ds.rows)
        chunk = j->ds.rows;
    float *scratch = cli_dataset_is_contiguous(&j->ds) ? NULL
                                                       : cli_malloc_array(chunk, j->in_cols * sizeof(float));
    float *y = cli_malloc_array(chunk, j->out_cols * sizeof(float));
    uint8_t *labels = j->kind == MAP_DETECT ? cli_malloc_array(chunk, 1) : NULL;
    float *scores = j->kind == MAP_DETECT ? cli_malloc_array(chunk, sizeof(float)) : NULL;
    int rc = 0;
    if ((!cli_dataset_is_contiguous(&j->ds) && !scratch) || !y ||
        (j->kind == MAP_DETECT && (!labels || !scores)))
        rc = cli_fail(CLI_EX_OSERR, "out of memory");
    cli_matrix_writer w;
    int writing = 0;
    const char *out = j->common.output ? j->common.output : "-";
    if (rc == 0) {
        rc = cli_matrix_writer_open(&w, out, j->common.format, j->ds.rows, j->out_cols,
                                    j->kind == MAP_DETECT && !j->scores, 1);
        writing = rc == 0;
    }
    cli_signals_graceful(1);
    for (size_t first = 0; rc == 0 && first < j->ds.rows; first += chunk) {
        size_t n = j->ds.rows - first < chunk ? j->ds.rows - first : chunk;
        const float *x = cli_dataset_rows(&j->ds, first, n, scratch);
        rc = run_chunk(j, x, first, n, y, labels, scores);
        if (rc == 0)
            rc = cli_matrix_writer_rows(&w, y, n, j->out_cols);
        cli_dataset_release(&j->ds, first + n);
        if (rc == 0 && cli_interrupted())
            rc = cli_fail(cli_interrupt_status(), "%s: %s left unchanged", cli_interrupt_what(),
                          out);
    }
    cli_signals_graceful(0);
    if (writing)
        rc = rc == 0 ? cli_matrix_writer_close(&w) : (cli_matrix_writer_abort(&w), rc);
    if (rc == 0 && j->common.png)
        rc = write_pictures(j);
    if (rc == 0)
        rc = cli_outputs_commit();
    if (rc == 0 && j->kind == MAP_DETECT)
        cli_note("%zu of %zu rows anomalous (score above the threshold %.6g)", j->n_anomalous,
                 j->ds.rows, j->threshold);
    free(scratch);
    free(y);
    free(labels);
    free(scores);
    return rc;
}

static int run_map(map_kind kind, const char *name, int argc, char **argv)
{
    map_job j;
    memset(&j, 0, sizeof j);
    j.kind = kind;
    j.name = name;
    cli_common_init(&j.common);
    const cli_opt *own = kind == MAP_DETECT ? detect_opts : kind == MAP_ENCODE ? encode_opts : no_opts;
    const cli_opt *groups[] = {cli_opts_misc, cli_opts_output, cli_opts_data, cli_opts_png,
                               chunk_opts, own, NULL};
    cli_args a;
    if (cli_args_init(&a, name, argc, argv) != 0)
        return cli_fail(CLI_EX_OSERR, "out of memory");
    int id, rc;
    const char *value;
    while ((rc = cli_next_option(&a, groups, &id, &value)) == 1) {
        rc = cli_common_option(&j.common, id, value);
        if (rc > 0)
            break;
        if (rc == 0)
            continue;
        rc = 0;
        if (id == OPT_THRESHOLD) {
            rc = cli_parse_double("--threshold", value, &j.threshold);
            j.have_threshold = 1;
        } else if (id == OPT_SCORES) {
            j.scores = 1;
        } else if (id == OPT_DISTRIBUTION) {
            j.distribution = 1;
        } else if (id == OPT_CHUNK) {
            rc = cli_parse_size("--chunk", value, 1, &j.chunk);
        }
        if (rc)
            break;
    }
    if (rc == 0 && j.common.help) {
        rc = cli_print_help(name);
    } else if (rc == 0) {
        char usage[96];
        snprintf(usage, sizeof usage, "autoenc %s MODEL DATA [-o OUT]", name);
        rc = cli_expect_positionals(&a, 2, 2, usage);
        cli_set_quiet(j.common.quiet);
        if (rc == 0)
            rc = prepare(&j, a.positional[0], a.positional[1]);
        if (rc == 0)
            rc = stream(&j);
    }
    ae_model_free(j.model);
    cli_dataset_free(&j.ds);
    free(j.picture_in);
    free(j.picture_out);
    free(j.best);
    free(j.worst);
    free(j.best_score);
    free(j.worst_score);
    cli_args_free(&a);
    return rc;
}

int cmd_encode(int argc, char **argv) { return run_map(MAP_ENCODE, "encode", argc, argv); }
int cmd_decode(int argc, char **argv) { return run_map(MAP_DECODE, "decode", argc, argv); }
int cmd_reconstruct(int argc, char **argv) { return run_map(MAP_RECONSTRUCT, "reconstruct", argc, argv); }
int cmd_score(int argc, char **argv) { return run_map(MAP_SCORE, "score", argc, argv); }
int cmd_detect(int argc, char **argv) { return run_map(MAP_DETECT, "detect", argc, argv); }
