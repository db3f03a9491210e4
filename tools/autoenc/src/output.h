/* Outputs that are never half-written, and all of a command's or none: files are written
 * under a temporary name in the target's folder, opened before the work so that an output
 * that cannot be created fails the command first, and renamed over the targets together
 * once every one is complete (atomic_file.c); matrices go out as NPY or CSV a block of rows
 * at a time (matrix_writer.c); models as the library's file bytes (model_output.c). */
#ifndef AUTOENC_OUTPUT_H
#define AUTOENC_OUTPUT_H

#include <autoenc.h>

#include <stdint.h>
#include <stdio.h>

typedef struct cli_atomic {
    FILE *fp;         /* write here; NULL once finished */
    const char *path; /* the target, for messages */
    int slot;         /* 1 + its place among the pending outputs; 0: standard output */
} cli_atomic;

/* Create a temporary file next to @p path ("-": standard output). 0 or an exit status. */
int cli_atomic_open(cli_atomic *a, const char *path);
/* Flush, sync and close it: complete, it waits for cli_outputs_commit. 0 or an exit
 * status (then the temporary is gone). */
int cli_atomic_finish(cli_atomic *a);
/* Remove the temporary file; the target is untouched. */
void cli_atomic_abort(cli_atomic *a);
/* Rename every finished output over its target: what a command does last, once all of its
 * outputs are written. 0 or an exit status. */
int cli_outputs_commit(void);
/* Remove every temporary file not committed (main, when a command ends). */
void cli_outputs_discard(void);
/* The same from a signal handler (async-signal-safe). */
void cli_atomic_abort_all_from_signal(void);

/* The files a command reads (inputs) and writes (outputs): an output that is an input or
 * another output is refused with CLI_EX_USAGE (file_claims.c). cli_atomic_open claims its
 * outputs, the data and model readers their inputs; an input meant to be replaced (a model
 * updated in place) is claimed replaceable first. 0 or CLI_EX_USAGE. */
int cli_claim_input(const char *path);
int cli_claim_output(const char *path);
int cli_claim_replaceable(const char *path);

/* Write @p model as a model file (ae_model_save_to_memory's bytes) and finish @p out.
 * 0 or an exit status. */
int cli_write_model(cli_atomic *out, const ae_model *model, unsigned flags);

typedef enum cli_out_format { CLI_OUT_NPY, CLI_OUT_CSV, CLI_OUT_TSV } cli_out_format;

/* The format for @p path: @p format_option ("npy", "csv", "tsv") if given, else the
 * extension, else NPY (CSV for standard output). 0 or CLI_EX_USAGE. */
int cli_output_format(const char *path, const char *format_option, cli_out_format *out);

typedef struct cli_matrix_writer {
    cli_atomic file;
    cli_out_format format;
    size_t rows, cols, written;
    int as_bytes; /* values are 0/1 labels: NPY uint8, CSV integers */
    int one_d;    /* NPY shape (rows,) */
} cli_matrix_writer;

/* Start an output of @p rows x @p cols. 0 or an exit status. */
int cli_matrix_writer_open(cli_matrix_writer *w, const char *path, const char *format_option,
                           size_t rows, size_t cols, int as_bytes, int one_d);
/* Append @p n rows of @p x (leading dimension @p ld). 0 or CLI_EX_IOERR. */
int cli_matrix_writer_rows(cli_matrix_writer *w, const float *x, size_t n, size_t ld);
/* Finish: check the row count, flush (cli_atomic_finish). 0 or an exit status. */
int cli_matrix_writer_close(cli_matrix_writer *w);
void cli_matrix_writer_abort(cli_matrix_writer *w);

#endif
