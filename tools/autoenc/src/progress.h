/* Training progress on stderr and Ctrl-C: a bar redrawn in place on a terminal, one
 * plain line per epoch otherwise; the per-epoch history; checkpoints; and stopping at
 * the next batch when asked (signals.h). */
#ifndef AUTOENC_PROGRESS_H
#define AUTOENC_PROGRESS_H

#include <autoenc.h>

#include "output.h"

#include <stddef.h>
#include <stdint.h>

typedef enum cli_progress_mode {
    CLI_PROGRESS_QUIET = 0,
    CLI_PROGRESS_LINES = 1, /* stderr is not a terminal */
    CLI_PROGRESS_BAR = 2    /* stderr is a terminal */
} cli_progress_mode;

typedef struct cli_epoch_record {
    uint64_t stage, epoch;
    double train_loss, val_loss, seconds;
} cli_epoch_record;

typedef struct cli_progress {
    cli_progress_mode mode;
    size_t train_rows;          /* rows trained on per epoch (validation excluded) */
    const ae_model *model;      /* for checkpoints: only const calls from the callback */
    const char *checkpoint_path;
    uint64_t checkpoint_every;  /* epochs; 0: never */
    unsigned save_flags;
    /* state */
    uint64_t stage;             /* pre-training stage (1-based), 0 for a plain fit */
    uint64_t last_epoch;
    double last_seconds, epoch_start, last_draw;
    int line_open;              /* a bar is drawn without its newline */
    cli_epoch_record *history;
    size_t n_history, cap_history;
    int history_failed;
} cli_progress;

/* Choose the mode from --quiet and whether stderr is a terminal. */
void cli_progress_init(cli_progress *p, int quiet, size_t train_rows);
/* The ae_progress_fn: draws, records, checkpoints, and returns non-zero after Ctrl-C. */
int cli_progress_callback(const ae_progress *progress, void *user_data);
/* Ends an open bar line. */
void cli_progress_finish(cli_progress *p);
void cli_progress_free(cli_progress *p);
/* Write the history as CSV (stage,epoch,train_loss,val_loss,seconds) to @p out (open) and
 * finish it. 0 or a status. */
int cli_progress_write_history(const cli_progress *p, cli_atomic *out);

#endif
