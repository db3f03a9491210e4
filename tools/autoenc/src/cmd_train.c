/* autoenc train DATA -o MODEL --widths 784,256,32 [settings]: one ae_model_fit (after an
 * optional ae_model_pretrain) on the whole data, memory-mapped or read once, or with
 * --stream one ae_model_fit_source that reads it a chunk at a time; with progress,
 * history, checkpoints, Ctrl-C and an optional anomaly threshold. With --distributed, one
 * process of an MPI job: its own block of the rows, the model from process 0, the fit
 * collective through libautoenc_mpi, and process 0 alone reporting and writing. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "common.h"
#include "distributed.h"
#include "output.h"
#include "progress.h"
#include "settings.h"
#include "signals.h"

#include "blas_hint.h" /* tools/common */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_WIDTHS = OPT_COMMAND_BASE, OPT_DECODER, OPT_TIED, OPT_VARIATIONAL, OPT_PRETRAIN, OPT_SET,
    OPT_RESUME, OPT_VALIDATION_DATA, OPT_CONTAMINATION, OPT_HISTORY, OPT_CHECKPOINT_EVERY,
    OPT_CHECKPOINT, OPT_SAVE_OPTIMIZER, OPT_STREAM, OPT_DISTRIBUTED
};

static const cli_opt train_opts[] = {
    {"widths", 'w', 1, OPT_WIDTHS},
    {"decoder", 0, 1, OPT_DECODER},
    {"tied", 0, 0, OPT_TIED},
    {"variational", 0, 0, OPT_VARIATIONAL},
    {"pretrain", 0, 0, OPT_PRETRAIN},
    {"set", 0, 1, OPT_SET},
    {"resume", 0, 1, OPT_RESUME},
    {"validation-data", 0, 1, OPT_VALIDATION_DATA},
    {"contamination", 0, 1, OPT_CONTAMINATION},
    {"history", 0, 1, OPT_HISTORY},
    {"checkpoint-every", 0, 1, OPT_CHECKPOINT_EVERY},
    {"checkpoint", 0, 1, OPT_CHECKPOINT},
    {"save-optimizer", 0, 0, OPT_SAVE_OPTIMIZER},
    {"stream", 0, 0, OPT_STREAM},
    {"distributed", 0, 0, OPT_DISTRIBUTED},
    {0}};

typedef struct train_args {
    cli_common common;
    cli_settings settings;
    size_t *widths, n_widths, *decoder, n_decoder;
    unsigned arch;
    int pretrain, save_optimizer, stream, distributed;
    cli_dist dist;
    const char *resume, *validation_data, *history, *checkpoint;
    double contamination;
    size_t checkpoint_every;
} train_args;

static const char *stop_reason_name(int reason)
{
    switch (reason) {
    case AE_STOP_COMPLETED: return "completed";
    case AE_STOP_EARLY: return "early_stopping";
    case AE_STOP_CANCELLED: return "cancelled";
    case AE_STOP_DIVERGED: return "diverged";
    default: return "unknown";
    }
}

static void json_number(FILE *out, const char *key, double v, int last)
{
    if (isfinite(v))
        fprintf(out, "  \"%s\": %.9g%s\n", key, v, last ? "" : ",");
    else
        fprintf(out, "  \"%s\": null%s\n", key, last ? "" : ",");
}

static void print_json(const ae_fit_report *r, const char *model_path, size_t rows, int status,
                       double threshold)
{
    FILE *out = stdout;
    fprintf(out, "{\n  \"model\": \"");
    for (const char *p = model_path ? model_path : ""; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', out);
        if ((unsigned char)*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fprintf(out, "\",\n  \"rows\": %zu,\n  \"status\": %d,\n", rows, status);
    fprintf(out, "  \"epochs_run\": %llu,\n  \"steps_run\": %llu,\n  \"best_epoch\": %llu,\n",
            (unsigned long long)r->epochs_run, (unsigned long long)r->steps_run,
            (unsigned long long)r->best_epoch);
    fprintf(out, "  \"stop_reason\": \"%s\",\n  \"restored_best\": %s,\n",
            stop_reason_name(r->stop_reason), r->restored_best ? "true" : "false");
    json_number(out, "final_train_loss", r->final_train_loss, 0);
    json_number(out, "final_val_loss", r->final_val_loss, 0);
    json_number(out, "best_loss", r->best_loss, 0);
    json_number(out, "final_kl", r->final_kl, 0);
    json_number(out, "final_elbo", r->final_elbo, 0);
    json_number(out, "threshold", threshold, 0);
    json_number(out, "seconds", r->seconds, 0);
    json_number(out, "samples_per_second", r->samples_per_second, 1);
    fprintf(out, "}\n");
    fflush(out);
}

static int parse(train_args *t, cli_args *a)
{
    const cli_opt *groups[] = {cli_opts_misc, cli_opts_output, cli_opts_data, train_opts,
                               cli_setting_flags(), NULL};
    int id, rc;
    const char *value;
    while ((rc = cli_next_option(a, groups, &id, &value)) == 1) {
        rc = cli_common_option(&t->common, id, value);
        if (rc > 0)
            return rc;
        if (rc == 0)
            continue;
        rc = 0;
        if (id >= CLI_SETTING_FLAG_ID) {
            rc = cli_settings_add_flag(&t->settings, id, value);
        } else {
            switch (id) {
            case OPT_WIDTHS:
                free(t->widths);
                rc = cli_parse_size_list("--widths", value, 2, &t->widths, &t->n_widths);
                break;
            case OPT_DECODER:
                free(t->decoder);
                rc = cli_parse_size_list("--decoder", value, 2, &t->decoder, &t->n_decoder);
                break;
            case OPT_TIED: t->arch |= AE_ARCH_TIED_WEIGHTS; break;
            case OPT_VARIATIONAL: t->arch |= AE_ARCH_VARIATIONAL; break;
            case OPT_PRETRAIN: t->pretrain = 1; break;
            case OPT_SET: rc = cli_settings_add_assignment(&t->settings, value); break;
            case OPT_RESUME: t->resume = value; break;
            case OPT_VALIDATION_DATA: t->validation_data = value; break;
            case OPT_CONTAMINATION:
                rc = cli_parse_double("--contamination", value, &t->contamination);
                if (rc == 0 && !(t->contamination >= 0 && t->contamination <= 0.5))
                    rc = cli_fail(CLI_EX_USAGE, "--contamination %s: expected a share in [0, 0.5]",
                                  value);
                break;
            case OPT_HISTORY: t->history = value; break;
            case OPT_CHECKPOINT_EVERY:
                rc = cli_parse_size("--checkpoint-every", value, 1, &t->checkpoint_every);
                break;
            case OPT_CHECKPOINT: t->checkpoint = value; break;
            case OPT_SAVE_OPTIMIZER: t->save_optimizer = 1; break;
            case OPT_STREAM: t->stream = 1; break;
            case OPT_DISTRIBUTED: t->distributed = 1; break;
            default: rc = cli_fail(CLI_EX_SOFTWARE, "internal error: option %d", id);
            }
        }
        if (rc)
            return rc;
    }
    return rc;
}

static int make_model(train_args *t, const cli_dataset *ds, ae_model **model)
{
    if (t->resume) {
        if (t->widths || t->decoder || t->arch)
            return cli_fail(CLI_EX_USAGE,
                            "--resume takes the architecture from the model: drop --widths, "
                            "--decoder, --tied and --variational");
        int rc = cli_load_model(t->resume, model);
        if (rc)
            return rc;
        if (ae_model_input_dim(*model) != ds->cols) {
            cli_fail(CLI_EX_DATAERR, "%s: rows of %zu values, but the model %s takes rows of %zu",
                     ds->path, ds->cols, t->resume, ae_model_input_dim(*model));
            ae_model_free(*model);
            *model = NULL;
            return CLI_EX_DATAERR;
        }
        return 0;
    }
    if (!t->widths)
        return cli_fail(CLI_EX_USAGE,
                        "train: give the encoder's widths, e.g. --widths %zu,256,32 (input, "
                        "hidden..., code)",
                        ds->cols);
    if (t->widths[0] != ds->cols)
        return cli_fail(CLI_EX_DATAERR,
                        "%s: rows of %zu values, but --widths starts with an input width of %zu",
                        ds->path, ds->cols, t->widths[0]);
    int rc = ae_model_create_ex(model, t->widths, t->n_widths, t->decoder, t->n_decoder, t->arch);
    if (rc != AE_OK)
        return cli_fail(rc == AE_ERR_INVALID_ARGUMENT ? CLI_EX_USAGE : cli_status_from_ae(rc),
                        "cannot make the model: %s", ae_last_error());
    return 0;
}

/* @p val: the validation rows (none when they hold no rows): a refused value is looked
 * for in both files, so that the one holding it is named. */
static int report_fit_failure(int rc, const ae_model *model, const cli_dataset *ds,
                              const cli_dataset *val, const char *what)
{
    double loss = 0, scaling = 0;
    ae_model_get_param(model, AE_PARAM_LOSS, &loss);
    ae_model_get_param(model, AE_PARAM_SCALING, &scaling);
    const int unit_range = loss == AE_LOSS_BCE && scaling == AE_SCALING_NONE;
    int status;
    if (rc == AE_ERR_NON_FINITE_INPUT || rc == AE_ERR_INPUT_RANGE) {
        if (cli_dataset_report_value(ds, 0, ds->rows, rc, unit_range, &status) ||
            (val->rows && cli_dataset_report_value(val, 0, val->rows, rc, unit_range, &status)))
            return status;
        return cli_fail(cli_status_from_ae(rc), "%s: %s", what, ae_model_last_error(model));
    }
    if (rc == AE_ERR_STATE)
        return cli_fail(CLI_EX_USAGE, "%s: %s", what, ae_model_last_error(model));
    if (rc == AE_ERR_DIVERGED)
        return cli_fail(CLI_EX_TRAINING,
                        "%s diverged: %s (no model saved; try a lower --lr or --clip-norm)",
                        what, ae_model_last_error(model));
    return cli_fail(cli_status_from_ae(rc), "%s: %s", what, ae_model_last_error(model));
}

/* A data set as a library data source: rows handed over a chunk at a time, converted where
 * the file needs it, and mapped pages given back once used, so that a file larger than
 * memory trains in bounded memory (--stream). */
typedef struct dataset_source {
    const cli_dataset *ds;
    size_t next;
} dataset_source;

static int dataset_read(void *user, float *rows, size_t n_cols, size_t max_rows, size_t *n_read)
{
    dataset_source *s = user;
    size_t n = s->ds->rows - s->next < max_rows ? s->ds->rows - s->next : max_rows;
    const float *src = n ? cli_dataset_rows(s->ds, s->next, n, rows) : rows;
    if (src != rows)
        memcpy(rows, src, n * n_cols * sizeof *rows);
    s->next += n;
    cli_dataset_release(s->ds, s->next);
    *n_read = n;
    return 0;
}

static int dataset_rewind(void *user)
{
    ((dataset_source *)user)->next = 0;
    return 0;
}

static ae_data_source source_of(dataset_source *s)
{
    ae_data_source source = {sizeof source, s, dataset_read, dataset_rewind};
    return source;
}

static int check_stream_options(const train_args *t, const ae_model *model)
{
    double fraction = 0;
    ae_model_get_param(model, AE_PARAM_VALIDATION_FRACTION, &fraction);
    if (fraction > 0)
        return cli_fail(CLI_EX_USAGE, "--stream reads DATA as it goes and cannot hold out "
                                      "--validation rows: give --validation-data FILE");
    if (t->pretrain)
        return cli_fail(CLI_EX_USAGE, "--pretrain needs DATA in memory: drop --stream");
    if (t->contamination > 0)
        return cli_fail(CLI_EX_USAGE, "--contamination scores DATA in memory: drop --stream, "
                                      "or fit it afterwards with autoenc threshold");
    return 0;
}

/* --distributed: a step every rank takes; a rank that did not fail itself stops with
 * CLI_EX_PEER, quietly (the failing rank printed why). Local without --distributed. */
static int agree(const cli_dist *d, int rc)
{
    int all = cli_dist_agree(d, rc);
    return rc ? rc : all ? CLI_EX_PEER : 0;
}

/* A failed collective call (broadcast, attach): the rank where it failed says why. */
static int report_mpi_failure(int rc, const char *what)
{
    if (rc == AE_ERR_PEER)
        return CLI_EX_PEER;
    return cli_fail(cli_status_from_ae(rc), "%s: %s", what, cli_dist_last_error());
}

static int run(train_args *t, const char *data_path)
{
    cli_dataset ds, val;
    memset(&ds, 0, sizeof ds);
    memset(&val, 0, sizeof val);
    ae_model *model = NULL;
    cli_progress progress;
    memset(&progress, 0, sizeof progress);
    ae_fit_report report;
    memset(&report, 0, sizeof report);
    report.size = sizeof report;
    report.final_train_loss = report.final_val_loss = report.best_loss = NAN;
    report.final_kl = report.final_elbo = NAN;
    double threshold = NAN;
    cli_dist *dist = &t->dist;
    const int root = dist->rank == 0; /* 1 without --distributed */
    if (root && !t->common.output && !t->common.json)
        cli_note("no -o MODEL given: the trained model will not be saved");
    if (root && !cli_is_quiet()) { /* OpenBLAS on kernels older than this CPU supports */
        const blas_hint blas = blas_hint_query();
        char note[512];
        if (blas_hint_note(&blas, note, sizeof note))
            cli_note("%s", note);
    }
    /* Process 0's outputs are made before the work, so that one that cannot be fails first. */
    cli_atomic model_out, history_out;
    memset(&model_out, 0, sizeof model_out);
    memset(&history_out, 0, sizeof history_out);
    int rc = 0;
    if (t->resume) /* training on from a model and saving it in its place is allowed */
        rc = cli_claim_replaceable(t->resume);
    if (rc == 0 && root && t->common.output)
        rc = cli_atomic_open(&model_out, t->common.output);
    if (rc == 0 && root && t->history)
        rc = cli_atomic_open(&history_out, t->history);
    /* Checkpoints are saved as they come (by the library), but must not replace an input
     * either; by default they go to -o. */
    if (rc == 0 && root && t->checkpoint &&
        !(t->common.output && strcmp(t->checkpoint, t->common.output) == 0))
        rc = cli_claim_output(t->checkpoint);
    cli_read_options ro = t->common.read;
    if (dist->on) { /* this rank's block of rows only */
        ro.row_block = cli_dist_train_block;
        ro.row_block_user = dist;
    }
    if (rc == 0)
        rc = cli_open_data(&ds, data_path, &ro, 0, NULL, NULL);
    if (rc == 0 && !t->stream)
        rc = cli_dataset_materialize(&ds);
    if (rc == 0 && t->validation_data) {
        cli_read_options vo = t->common.read;
        vo.class_label = -1; /* validation rows are given as they are */
        vo.labels = NULL;
        vo.max_rows = 0;
        if (dist->on) {
            vo.row_block = cli_dist_validation_block;
            vo.row_block_user = dist;
        }
        if ((rc = cli_open_data(&val, t->validation_data, &vo, ds.cols, "being trained",
                                "rows")) == 0 &&
            !t->stream)
            rc = cli_dataset_materialize(&val);
    }
    if ((rc = agree(dist, rc)) != 0)
        goto done;
    /* The model: made (or loaded) and set up on process 0, then copied to the others. */
    if (root && (rc = make_model(t, &ds, &model)) == 0 &&
        (rc = cli_settings_apply(&t->settings, model)) == 0 && t->stream)
        rc = check_stream_options(t, model);
    if ((rc = agree(dist, rc)) != 0)
        goto done;
    if (dist->on) {
        int brc = cli_dist_broadcast(dist, &model);
        if (brc != AE_OK) {
            rc = report_mpi_failure(brc, "cannot give every process the model");
            goto done;
        }
    }
    double vf = 0;
    ae_model_get_param(model, AE_PARAM_VALIDATION_FRACTION, &vf);
    size_t train_rows = t->validation_data ? ds.rows : ds.rows - (size_t)((double)ds.rows * vf);
    train_rows = cli_dist_sum(dist, train_rows);
    const size_t all_rows = cli_dist_sum(dist, ds.rows);
    cli_progress_init(&progress, t->common.quiet || !root, train_rows);
    progress.model = model;
    progress.checkpoint_every = root ? t->checkpoint_every : 0;
    progress.checkpoint_path = t->checkpoint ? t->checkpoint : t->common.output;
    progress.save_flags = t->save_optimizer ? AE_SAVE_OPTIMIZER_STATE : AE_SAVE_DEFAULT;
    ae_model_set_param(model, AE_PARAM_PROGRESS_EVERY_BATCH, 1); /* every rank: settings agree */
    if (root) /* the callback's decisions (Ctrl-C) reach every rank through the hooks */
        ae_model_set_progress(model, cli_progress_callback, &progress);
    if (dist->on) {
        int arc = cli_dist_attach(dist, model);
        if (arc != AE_OK) {
            rc = report_mpi_failure(arc, "cannot train with the other processes");
            goto done;
        }
    }

    cli_signals_graceful(1);
    int fit_rc = AE_OK;
    if (t->pretrain) {
        size_t stages = ae_model_encoder_layer_count(model);
        fit_rc = ae_model_pretrain(model, ds.data, ds.rows, ds.cols, NULL, 0);
        cli_progress_finish(&progress);
        if (fit_rc == AE_OK && progress.mode != CLI_PROGRESS_QUIET)
            fprintf(stderr, "fine-tuning after %zu pre-training stages\n", stages);
        progress.stage = 0;
        progress.last_seconds = 0;
        progress.last_epoch = 0;
        progress.epoch_start = 0;
    }
    if (fit_rc == AE_OK && t->stream) {
        dataset_source train_set = {&ds, 0}, validation_set = {&val, 0};
        ae_data_source train_source = source_of(&train_set), validation_source = source_of(&validation_set);
        fit_rc = ae_model_fit_source(model, &train_source,
                                     t->validation_data && val.rows ? &validation_source : NULL,
                                     &report);
    } else if (fit_rc == AE_OK) {
        fit_rc = ae_model_fit_validated(model, ds.data, ds.rows, ds.cols,
                                        val.rows ? val.data : NULL, val.rows, val.cols, &report);
    }
    cli_signals_graceful(0);
    cli_dist_detach(dist);
    cli_progress_finish(&progress);
    ae_model_set_progress(model, NULL, NULL);
    ae_model_set_param(model, AE_PARAM_PROGRESS_EVERY_BATCH, 0);

    int interrupted = fit_rc == AE_ERR_CANCELLED;
    if (!root && (fit_rc == AE_ERR_PEER || fit_rc == AE_ERR_DIVERGED || interrupted)) {
        rc = cli_status_from_ae(fit_rc); /* every rank has it; process 0 says so */
        goto done;
    }
    if (fit_rc != AE_OK && !interrupted) {
        rc = fit_rc == AE_ERR_PEER ? CLI_EX_PEER
                                   : report_fit_failure(fit_rc, model, &ds, &val, "training");
        goto done;
    }
    if (!root) { /* process 0 writes */
        rc = 0;
        goto done;
    }
    if (!interrupted && t->contamination > 0) {
        int trc = ae_model_fit_threshold(model, ds.data, ds.rows, ds.cols, t->contamination,
                                         &threshold);
        if (trc != AE_OK) {
            rc = report_fit_failure(trc, model, &ds, &val, "fitting the threshold");
            goto done;
        }
        cli_note("anomaly threshold %.6g (%.3g%% of the training rows score above it)",
                 threshold, 100.0 * t->contamination);
    }
    if (t->common.output &&
        (rc = cli_write_model(&model_out, model, progress.save_flags)) != 0)
        goto done;
    if (t->history && (rc = cli_progress_write_history(&progress, &history_out)) != 0)
        goto done;
    if ((rc = cli_outputs_commit()) != 0)
        goto done;
    if (t->common.json)
        print_json(&report, t->common.output, all_rows, interrupted ? cli_interrupt_status() : 0,
                   threshold);
    if (interrupted) {
        rc = cli_interrupt_status();
        if (t->common.output)
            cli_fail(rc, "%s after %llu complete epochs: saved the model (%s weights) to %s",
                     cli_interrupt_what(), (unsigned long long)report.epochs_run,
                     report.restored_best ? "the best epoch's" : "the latest", t->common.output);
        else
            cli_fail(rc, "%s: nothing saved (no -o given)", cli_interrupt_what());
        goto done;
    }
    if (progress.mode != CLI_PROGRESS_QUIET)
        fprintf(stderr, "trained %llu epochs (%s) in %.1f s, %.0f rows/s%s; %s%s\n",
                (unsigned long long)report.epochs_run, stop_reason_name(report.stop_reason),
                report.seconds, report.samples_per_second, /* the step's rows on every rank */
                dist->ranks > 1 ? " over every process" : "",
                t->common.output ? "saved to " : "not saved (no -o given)",
                t->common.output ? t->common.output : "");
    rc = 0;
done:
    cli_dist_detach(dist);
    cli_progress_free(&progress);
    ae_model_free(model);
    cli_dataset_free(&val);
    cli_dataset_free(&ds);
    return rc;
}

/* What --distributed cannot do, said once by process 0 (the other processes stop with the
 * same status quietly). */
static int check_distributed_options(const train_args *t)
{
    const char *why = NULL;
    if (t->contamination > 0)
        why = "--contamination scores the training rows, which no process holds all of: fit the "
              "threshold afterwards with autoenc threshold";
    else if (t->common.read.class_label >= 0)
        why = "--class picks rows from the whole file: select them into a file of their own first";
    if (!why)
        return 0;
    return t->dist.rank == 0 ? cli_fail(CLI_EX_USAGE, "--distributed: %s", why) : CLI_EX_USAGE;
}

int cmd_train(int argc, char **argv)
{
    train_args t;
    memset(&t, 0, sizeof t);
    cli_common_init(&t.common);
    cli_args a;
    if (cli_args_init(&a, "train", argc, argv) != 0)
        return cli_fail(CLI_EX_OSERR, "out of memory");
    int rc = parse(&t, &a);
    if (rc == 0 && t.common.help)
        rc = cli_print_help("train");
    else if (rc == 0)
        rc = cli_expect_positionals(&a, 1, 1, "autoenc train DATA -o MODEL --widths IN,...,CODE");
    if (rc == 0 && !t.common.help) {
        cli_set_quiet(t.common.quiet);
        t.dist.ranks = 1;
        if (t.checkpoint_every && !t.checkpoint && !t.common.output)
            rc = cli_fail(CLI_EX_USAGE, "--checkpoint-every needs -o MODEL or --checkpoint FILE");
        else if (t.distributed && (rc = cli_dist_start(&t.dist)) == 0) {
            if ((rc = check_distributed_options(&t)) == 0)
                rc = run(&t, a.positional[0]);
            cli_dist_end(&t.dist);
        } else if (!t.distributed)
            rc = run(&t, a.positional[0]);
    }
    cli_settings_free(&t.settings);
    free(t.widths);
    free(t.decoder);
    cli_args_free(&a);
    return rc;
}
