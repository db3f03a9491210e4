/* Outputs that are never half-written: files are written under a temporary name in
 * the target's folder, flushed and renamed over the target (atomic_file.c); matrices
 * go out as NPY or CSV a block of rows at a time (matrix_writer.c). */
#ifndef AUTOENC_OUTPUT_H
#define AUTOENC_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

typedef struct cli_atomic {
    char *path;  /* the target */
    char *temp;  /* the temporary name, NULL once renamed or for stdout */
    FILE *fp;
    int is_stdout;
} cli_atomic;

/* Open a temporary file next to @p path ("-": standard output). 0 or an exit status. */
int cli_atomic_open(cli_atomic *a, const char *path);
/* Flush, sync and rename over the target. 0 or an exit status (the temporary is gone). */
int cli_atomic_commit(cli_atomic *a);
/* Remove the temporary file; the target is untouched. */
void cli_atomic_abort(cli_atomic *a);
/* Remove every temporary file still open: for the SIGINT handler (async-signal-safe). */
void cli_atomic_abort_all_from_signal(void);

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
/* Finish: check the row count, commit. 0 or an exit status. */
int cli_matrix_writer_close(cli_matrix_writer *w);
void cli_matrix_writer_abort(cli_matrix_writer *w);

/* Write a whole matrix: open, rows, close. */
int cli_write_matrix(const char *path, const char *format_option, const float *x, size_t rows,
                     size_t cols, int as_bytes, int one_d);

#endif
