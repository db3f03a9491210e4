/* Matrices out: NPY (version 1.0, little-endian float32 or uint8, C order) or CSV/TSV
 * text with float32 values printed to round-trip ("%.9g"). Rows are appended a block
 * at a time, so outputs of any size stream through bounded memory. */
#define _POSIX_C_SOURCE 200809L
#include "output.h"

#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    return dot ? dot + 1 : "";
}

int cli_output_format(const char *path, const char *format_option, cli_out_format *out)
{
    const char *name = format_option;
    if (!name) {
        if (strcmp(path, "-") == 0) {
            *out = CLI_OUT_CSV;
            return 0;
        }
        name = extension(path);
        if (strcasecmp(name, "csv") != 0 && strcasecmp(name, "tsv") != 0 &&
            strcasecmp(name, "txt") != 0)
            name = "npy";
        if (strcasecmp(name, "txt") == 0)
            name = "csv";
    }
    if (strcasecmp(name, "npy") == 0)
        *out = CLI_OUT_NPY;
    else if (strcasecmp(name, "csv") == 0)
        *out = CLI_OUT_CSV;
    else if (strcasecmp(name, "tsv") == 0)
        *out = CLI_OUT_TSV;
    else
        return cli_fail(CLI_EX_USAGE, "--format %s: expected npy, csv or tsv", name);
    return 0;
}

static int write_npy_header(cli_matrix_writer *w)
{
    char dict[160];
    int n;
    if (w->one_d)
        n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }",
                     w->as_bytes ? "|u1" : "<f4", w->rows);
    else
        n = snprintf(dict, sizeof dict,
                     "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
                     w->as_bytes ? "|u1" : "<f4", w->rows, w->cols);
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t header_len = padded - 10;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(header_len & 0xff),
                             (unsigned char)(header_len >> 8)};
    FILE *fp = w->file.fp;
    fwrite(pre, 1, sizeof pre, fp);
    fwrite(dict, 1, (size_t)n, fp);
    for (size_t i = total; i < padded; i++)
        fputc(' ', fp);
    fputc('\n', fp);
    return ferror(fp) ? -1 : 0;
}

int cli_matrix_writer_open(cli_matrix_writer *w, const char *path, const char *format_option,
                           size_t rows, size_t cols, int as_bytes, int one_d)
{
    memset(w, 0, sizeof *w);
    int rc = cli_output_format(path, format_option, &w->format);
    if (rc)
        return rc;
    if (w->format == CLI_OUT_NPY && strcmp(path, "-") == 0 && isatty(1))
        return cli_fail(CLI_EX_USAGE,
                        "will not write binary NPY to a terminal: give -o FILE or --format csv");
    w->rows = rows;
    w->cols = cols;
    w->as_bytes = as_bytes;
    w->one_d = one_d && cols == 1;
    if ((rc = cli_atomic_open(&w->file, path)) != 0)
        return rc;
    if (w->format == CLI_OUT_NPY && write_npy_header(w) != 0) {
        int e = errno;
        cli_atomic_abort(&w->file);
        return cli_fail(CLI_EX_IOERR, "%s: write error: %s", path, strerror(e));
    }
    return 0;
}

int cli_matrix_writer_rows(cli_matrix_writer *w, const float *x, size_t n, size_t ld)
{
    FILE *fp = w->file.fp;
    if (w->format == CLI_OUT_NPY) {
        for (size_t i = 0; i < n; i++) {
            const float *row = x + i * ld;
            if (w->as_bytes) {
                for (size_t j = 0; j < w->cols; j++)
                    fputc(row[j] != 0.0f, fp);
            } else {
                fwrite(row, sizeof(float), w->cols, fp);
            }
        }
    } else {
        char sep = w->format == CLI_OUT_TSV ? '\t' : ',';
        for (size_t i = 0; i < n; i++) {
            const float *row = x + i * ld;
            for (size_t j = 0; j < w->cols; j++) {
                if (j)
                    fputc(sep, fp);
                if (w->as_bytes)
                    fputc(row[j] != 0.0f ? '1' : '0', fp);
                else
                    fprintf(fp, "%.9g", (double)row[j]);
            }
            fputc('\n', fp);
        }
    }
    w->written += n;
    if (ferror(fp))
        return cli_fail(CLI_EX_IOERR, "%s: write error: %s",
                        w->file.slot == 0 ? "standard output" : w->file.path, strerror(errno));
    return 0;
}

int cli_matrix_writer_close(cli_matrix_writer *w)
{
    if (w->written != w->rows) {
        cli_matrix_writer_abort(w);
        return cli_fail(CLI_EX_SOFTWARE, "internal error: %zu rows written of %zu", w->written,
                        w->rows);
    }
    return cli_atomic_finish(&w->file);
}

void cli_matrix_writer_abort(cli_matrix_writer *w) { cli_atomic_abort(&w->file); }
