/* Training progress (see progress.h). */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include "cli.h"
#include "output.h"
#include "signals.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_progress_init(cli_progress *p, int quiet, size_t train_rows)
{
    memset(p, 0, sizeof *p);
    p->train_rows = train_rows;
    p->mode = quiet ? CLI_PROGRESS_QUIET : isatty(2) ? CLI_PROGRESS_BAR : CLI_PROGRESS_LINES;
}

static void format_duration(double seconds, char *buf, size_t size)
{
    if (!(seconds >= 0) || seconds > 1e7) {
        snprintf(buf, size, "--:--");
        return;
    }
    unsigned long s = (unsigned long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%lu:%02lu", s / 60, s % 60);
}

static void record(cli_progress *p, const ae_progress *pr)
{
    if (p->n_history == p->cap_history) {
        size_t cap = p->cap_history ? p->cap_history * 2 : 64;
        cli_epoch_record *grown = realloc(p->history, cap * sizeof *grown);
        if (!grown) {
            p->history_failed = 1;
            return;
        }
        p->history = grown;
        p->cap_history = cap;
    }
    p->history[p->n_history++] =
        (cli_epoch_record){p->stage, pr->epoch, pr->train_loss, pr->val_loss, pr->seconds};
}

static void draw(cli_progress *p, const ae_progress *pr, double epoch_seconds)
{
    double done = pr->batches ? (double)pr->batch / (double)pr->batches : 1.0;
    double rows_done = done * (double)p->train_rows;
    double rate = epoch_seconds > 0 ? rows_done / epoch_seconds : 0;
    char stage[32] = "";
    if (p->stage)
        snprintf(stage, sizeof stage, "stage %llu ", (unsigned long long)p->stage);
    if (p->mode == CLI_PROGRESS_LINES) {
        fprintf(stderr, "%sepoch %llu/%llu: loss %.6g", stage, (unsigned long long)pr->epoch,
                (unsigned long long)pr->epochs, pr->train_loss);
        if (!isnan(pr->val_loss))
            fprintf(stderr, ", validation loss %.6g", pr->val_loss);
        fprintf(stderr, ", %.0f rows/s, %.1f s\n", rate, epoch_seconds);
        return;
    }
    enum { BAR = 24 };
    char bar[BAR + 1];
    size_t filled = (size_t)(done * BAR);
    for (size_t i = 0; i < BAR; i++)
        bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[BAR] = '\0';
    char time_text[32];
    if (pr->epoch_end) {
        format_duration(epoch_seconds, time_text, sizeof time_text);
        fprintf(stderr, "\r%sepoch %llu/%llu [%s] 100%% %8.0f rows/s %s  loss %.5g", stage,
                (unsigned long long)pr->epoch, (unsigned long long)pr->epochs, bar, rate,
                time_text, pr->train_loss);
        if (!isnan(pr->val_loss))
            fprintf(stderr, "  val %.5g", pr->val_loss);
        fputs("\033[K\n", stderr);
        p->line_open = 0;
    } else {
        double eta = done > 0 ? epoch_seconds * (1.0 - done) / done : NAN;
        format_duration(eta, time_text, sizeof time_text);
        fprintf(stderr, "\r%sepoch %llu/%llu [%s] %3.0f%% %8.0f rows/s ETA %s  loss %.5g\033[K",
                stage, (unsigned long long)pr->epoch, (unsigned long long)pr->epochs, bar,
                done * 100.0, rate, time_text, pr->train_loss);
        p->line_open = 1;
    }
    fflush(stderr);
}

int cli_progress_callback(const ae_progress *pr, void *user_data)
{
    cli_progress *p = user_data;
    if (pr->seconds < p->last_seconds || (p->stage && pr->epoch < p->last_epoch)) {
        /* A new pre-training stage: the library starts a new fit. */
        p->stage++;
        p->last_epoch = 0;
        p->last_seconds = 0;
        p->epoch_start = 0;
        if (p->mode != CLI_PROGRESS_QUIET) {
            cli_progress_finish(p);
            fprintf(stderr, "pre-training stage %llu\n", (unsigned long long)p->stage);
        }
    }
    if (pr->epoch != p->last_epoch) {
        p->epoch_start = p->last_seconds;
        p->last_epoch = pr->epoch;
    }
    p->last_seconds = pr->seconds;
    double epoch_seconds = pr->seconds - p->epoch_start;
    if (pr->epoch_end) {
        record(p, pr);
        /* The checkpoint is saved before the epoch's line is printed, so that a line on
         * the screen means its checkpoint is on disk. */
        if (p->checkpoint_every && p->checkpoint_path && pr->epoch % p->checkpoint_every == 0) {
            /* ae_model_save is a const call: allowed from the callback. */
            int rc = ae_model_save(p->model, p->checkpoint_path, p->save_flags);
            if (rc != AE_OK) {
                cli_progress_finish(p);
                cli_fail(CLI_EX_IOERR, "checkpoint %s: %s (training goes on)",
                         p->checkpoint_path, ae_last_error());
            }
        }
        if (p->mode != CLI_PROGRESS_QUIET)
            draw(p, pr, epoch_seconds);
    } else if (p->mode == CLI_PROGRESS_BAR && pr->seconds - p->last_draw >= 0.1) {
        p->last_draw = pr->seconds;
        draw(p, pr, epoch_seconds);
    }
    return cli_interrupted() ? 1 : 0;
}

void cli_progress_finish(cli_progress *p)
{
    if (p->line_open) {
        fputc('\n', stderr);
        p->line_open = 0;
    }
}

void cli_progress_free(cli_progress *p)
{
    free(p->history);
    p->history = NULL;
}

int cli_progress_write_history(const cli_progress *p, cli_atomic *out)
{
    fputs("stage,epoch,train_loss,val_loss,seconds\n", out->fp);
    for (size_t i = 0; i < p->n_history; i++) {
        const cli_epoch_record *r = &p->history[i];
        fprintf(out->fp, "%llu,%llu,%.9g,", (unsigned long long)r->stage,
                (unsigned long long)r->epoch, r->train_loss);
        if (!isnan(r->val_loss))
            fprintf(out->fp, "%.9g", r->val_loss);
        fprintf(out->fp, ",%.6f\n", r->seconds);
    }
    return cli_atomic_finish(out);
}
