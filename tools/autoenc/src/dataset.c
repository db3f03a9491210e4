/* Data sets: opening by content, row access, class selection and error locations. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED): posix_madvise ignores DONTNEED on Linux */
#include "dataset.h"

#include "cli.h"
#include "output.h"

#include <autoenc.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_read_options_init(cli_read_options *o)
{
    memset(o, 0, sizeof *o);
    o->header = -1;
    o->class_label = -1;
}

static int looks_like_idx(const unsigned char *b, size_t n)
{
    if (n < 4 || b[0] != 0 || b[1] != 0 || b[3] == 0 || b[3] > 4)
        return 0;
    return b[2] == 0x08 || b[2] == 0x09 || b[2] == 0x0B || b[2] == 0x0C || b[2] == 0x0D ||
           b[2] == 0x0E;
}

static int looks_like_text(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] == 0 || (b[i] < 0x20 && b[i] != '\n' && b[i] != '\r' && b[i] != '\t'))
            return 0;
    return 1;
}

static int open_input(const char *path, int *fd_out, size_t *size_out)
{
    int rc = cli_claim_input(path);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return cli_fail(CLI_EX_NOINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return cli_fail(CLI_EX_NOINPUT, "%s: cannot read: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return cli_fail(CLI_EX_NOINPUT, "%s: is a directory, expected a data file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cli_fail(CLI_EX_NOINPUT, "%s: is not a regular file, expected a data file", path);
    }
    /* Blocking reads from here on. */
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    *fd_out = fd;
    *size_out = (size_t)st.st_size;
    return 0;
}

static int detect_and_read(cli_dataset *ds, const char *path, const cli_read_options *o)
{
    int fd = -1;
    size_t size = 0;
    int rc = open_input(path, &fd, &size);
    if (rc)
        return rc;
    if (size == 0) {
        close(fd);
        return cli_fail(CLI_EX_DATAERR,
                        "%s: the file is empty, expected NPY, IDX or CSV data", path);
    }
    unsigned char head[16] = {0};
    ssize_t got = pread(fd, head, sizeof head, 0);
    if (got < 0) {
        int e = errno;
        close(fd);
        return cli_fail(CLI_EX_NOINPUT, "%s: cannot read: %s", path, strerror(e));
    }
    size_t n = (size_t)got;
    if (n >= 6 && memcmp(head, "\x93NUMPY", 6) == 0) {
        ds->format = CLI_FORMAT_NPY;
        rc = cli_read_npy(ds, fd, size);
    } else if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
        ds->format = CLI_FORMAT_IDX;
        rc = cli_read_idx(ds, fd, 1, o);
    } else if (looks_like_idx(head, n)) {
        ds->format = CLI_FORMAT_IDX;
        rc = cli_read_idx(ds, fd, 0, o);
    } else if (looks_like_text(head, n) && o->row_block) {
        ds->format = CLI_FORMAT_CSV;
        rc = cli_fail(CLI_EX_USAGE,
                      "%s: CSV text cannot be read a block of rows at a time (the rows' places "
                      "are only known by reading all of it): convert it to NPY first",
                      path);
    } else if (looks_like_text(head, n)) {
        ds->format = CLI_FORMAT_CSV;
        rc = cli_read_csv(ds, fd, size, o);
    } else {
        rc = cli_fail(CLI_EX_DATAERR,
                      "%s: byte offset 0: not a data file this tool reads (expected an NPY file "
                      "starting \\x93NUMPY, an IDX file, gzip-compressed or not, or CSV text)",
                      path);
    }
    close(fd);
    return rc;
}

/* Keep the rows whose label is o->class_label, then the first o->max_rows. */
static int select_rows(cli_dataset *ds, const cli_read_options *o)
{
    size_t n_keep = ds->rows;
    long *labels = NULL;
    if (o->labels && o->class_label < 0)
        return cli_fail(CLI_EX_USAGE, "--labels %s: labels only pick rows with --class N; give "
                                      "--class or drop --labels", o->labels);
    if (o->class_label >= 0) {
        char *sibling = NULL;
        const char *labels_path = o->labels;
        if (!labels_path) {
            sibling = cli_sibling_labels(ds->path);
            if (!sibling)
                return cli_fail(CLI_EX_USAGE,
                                "--class needs the labels of %s: give them with --labels FILE",
                                ds->path);
            labels_path = sibling;
        }
        size_t n_labels = 0;
        int rc = cli_read_labels(labels_path, &labels, &n_labels);
        if (rc == 0 && n_labels != ds->rows)
            rc = cli_fail(CLI_EX_DATAERR, "%s: %zu labels for the %zu rows of %s", labels_path,
                          n_labels, ds->rows, ds->path);
        free(sibling);
        if (rc) {
            free(labels);
            return rc;
        }
        n_keep = 0;
        for (size_t i = 0; i < ds->rows; i++)
            n_keep += labels[i] == o->class_label;
        if (n_keep == 0) {
            free(labels);
            return cli_fail(CLI_EX_DATAERR, "%s: no row has the label %ld", ds->path,
                            o->class_label);
        }
    }
    if (o->max_rows > 0 && o->max_rows < n_keep && !o->row_block) /* a block already obeys it */
        n_keep = o->max_rows;
    if (!labels) {
        ds->rows = n_keep; /* the first rows: no copy */
        return 0;
    }
    size_t *index = cli_malloc_array(n_keep, sizeof *index);
    float *kept = cli_malloc_array(n_keep, ds->cols * sizeof *kept);
    float *row = cli_malloc_array(ds->cols, sizeof *row);
    if (!index || !kept || !row) {
        free(index);
        free(kept);
        free(row);
        free(labels);
        return cli_fail(CLI_EX_OSERR, "%s: out of memory selecting rows", ds->path);
    }
    size_t k = 0;
    for (size_t i = 0; i < ds->rows && k < n_keep; i++) {
        if (labels[i] != o->class_label)
            continue;
        memcpy(kept + k * ds->cols, cli_dataset_rows(ds, i, 1, row), ds->cols * sizeof *kept);
        index[k++] = i;
    }
    free(row);
    free(labels);
    if (ds->owns_data)
        free(ds->data);
    if (ds->map) {
        munmap(ds->map, ds->map_size);
        ds->map = NULL;
    }
    ds->data = kept;
    ds->owns_data = 1;
    ds->rows = n_keep;
    ds->row_index = index;
    return 0;
}

int cli_dataset_open(cli_dataset *ds, const char *path, const cli_read_options *o)
{
    memset(ds, 0, sizeof *ds);
    ds->path = strdup(path);
    if (!ds->path)
        return cli_fail(CLI_EX_OSERR, "out of memory");
    int rc = o->row_block && o->class_label >= 0
                 ? cli_fail(CLI_EX_USAGE, "%s: --class picks rows from the whole file, which "
                                          "cannot be read a block of rows at a time", path)
                 : detect_and_read(ds, path, o);
    if (rc == 0 && ds->file_rows == 0)
        ds->file_rows = ds->rows;
    if (rc == 0 && (ds->file_rows == 0 || ds->cols == 0))
        rc = cli_fail(CLI_EX_DATAERR, "%s: holds no values (%zu rows of %zu columns)", path,
                      ds->file_rows, ds->cols);
    if (rc == 0 && o->row_block && ds->format == CLI_FORMAT_NPY) {
        /* Only the block's part of the map is ever touched. */
        size_t first = 0, count = 0;
        rc = cli_dataset_block(ds, o, ds->file_rows, &first, &count);
        if (rc == 0) {
            ds->first_row = first;
            ds->rows = count;
            if (ds->data)
                ds->data += first * ds->cols;
        }
    }
    if (rc == 0 && ds->format != CLI_FORMAT_CSV && (o->columns || o->header == 1))
        rc = cli_fail(CLI_EX_USAGE, "%s: --columns and --header apply to CSV files only", path);
    if (rc == 0)
        rc = select_rows(ds, o);
    if (rc)
        cli_dataset_free(ds);
    return rc;
}

void cli_dataset_free(cli_dataset *ds)
{
    if (ds->owns_data)
        free(ds->data);
    if (ds->map)
        munmap(ds->map, ds->map_size);
    free(ds->row_index);
    free(ds->csv_lines);
    free(ds->csv_columns);
    free(ds->path);
    memset(ds, 0, sizeof *ds);
}

int cli_dataset_is_contiguous(const cli_dataset *ds) { return ds->data != NULL; }

static double load_element(const cli_dataset *ds, const unsigned char *p)
{
    unsigned char b[8];
    if (ds->swap_bytes) {
        for (size_t i = 0; i < ds->itemsize; i++)
            b[i] = p[ds->itemsize - 1 - i];
        p = b;
    }
    switch (ds->dtype) {
    case CLI_DTYPE_F4: { float v; memcpy(&v, p, 4); return v; }
    case CLI_DTYPE_F8: { double v; memcpy(&v, p, 8); return v; }
    case CLI_DTYPE_F2: {
        uint16_t h;
        memcpy(&h, p, 2);
        int e = (h >> 10) & 0x1f, m = h & 0x3ff;
        double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m | 0x400, e - 25);
        return (h & 0x8000) ? -v : v;
    }
    case CLI_DTYPE_I1: return (int8_t)p[0];
    case CLI_DTYPE_U1: return p[0];
    case CLI_DTYPE_BOOL: return p[0] != 0;
    case CLI_DTYPE_I2: { int16_t v; memcpy(&v, p, 2); return v; }
    case CLI_DTYPE_U2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case CLI_DTYPE_I4: { int32_t v; memcpy(&v, p, 4); return v; }
    case CLI_DTYPE_U4: { uint32_t v; memcpy(&v, p, 4); return v; }
    case CLI_DTYPE_I8: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    case CLI_DTYPE_U8: { uint64_t v; memcpy(&v, p, 8); return (double)v; }
    }
    return 0;
}

/* The element of a file row (the block's first row included). */
static size_t element_index(const cli_dataset *ds, size_t file_row, size_t col)
{
    return ds->fortran ? col * ds->file_rows + file_row : file_row * ds->cols + col;
}

int cli_dataset_block(const cli_dataset *ds, const cli_read_options *o, size_t file_rows,
                      size_t *first, size_t *count)
{
    size_t n = o->max_rows > 0 && o->max_rows < file_rows ? o->max_rows : file_rows;
    *first = 0;
    *count = n;
    if (!o->row_block)
        return 0;
    int rc = o->row_block(ds->path, n, o->row_block_user, first, count);
    if (rc == 0 && (*first > n || *count > n - *first))
        rc = cli_fail(CLI_EX_SOFTWARE, "%s: internal error: rows %zu + %zu of %zu", ds->path,
                      *first, *count, n);
    return rc;
}

const float *cli_dataset_rows(const cli_dataset *ds, size_t first, size_t count, float *scratch)
{
    if (ds->data)
        return ds->data + first * ds->cols;
    const unsigned char *base = ds->map + ds->data_offset;
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < ds->cols; j++) {
            double v = load_element(
                ds, base + element_index(ds, ds->first_row + first + i, j) * ds->itemsize);
            /* Values beyond float range become infinite and are refused by the checks. */
            scratch[i * ds->cols + j] = (float)v;
        }
    return scratch;
}

int cli_dataset_materialize(cli_dataset *ds)
{
    if (ds->data)
        return 0;
    float *all = cli_malloc_array(ds->rows, ds->cols * sizeof *all);
    if (!all)
        return cli_fail(CLI_EX_OSERR, "%s: out of memory converting %zu x %zu values to float",
                        ds->path, ds->rows, ds->cols);
    cli_dataset_rows(ds, 0, ds->rows, all);
    ds->data = all;
    ds->owns_data = 1;
    return 0;
}

void cli_dataset_release(const cli_dataset *ds, size_t end)
{
    if (!ds->map || ds->fortran)
        return;
    long page = sysconf(_SC_PAGESIZE);
    size_t page_size = page > 0 ? (size_t)page : 4096;
    size_t bytes = ds->data_offset + (ds->first_row + end) * ds->cols * ds->itemsize;
    bytes -= bytes % page_size;
    if (bytes > 0)
        madvise(ds->map, bytes, MADV_DONTNEED);
}

void cli_dataset_where(const cli_dataset *ds, size_t row, size_t col, char *buf, size_t size)
{
    size_t file_row = ds->first_row + (ds->row_index ? ds->row_index[row] : row);
    if (ds->format == CLI_FORMAT_CSV && ds->csv_lines) {
        snprintf(buf, size, "line %zu, column %zu", ds->csv_lines[row],
                 ds->csv_columns ? ds->csv_columns[col] : col + 1);
        return;
    }
    size_t itemsize = ds->itemsize ? ds->itemsize : 1;
    snprintf(buf, size, "%sbyte offset %zu (row %zu, column %zu)",
             ds->format == CLI_FORMAT_IDX ? "data " : "",
             ds->data_offset + element_index(ds, file_row, col) * itemsize, file_row + 1, col + 1);
}

/* Whether a library check with @p code refuses @p v. */
static int refused(int code, int unit_range, float v)
{
    if (code == AE_ERR_NON_FINITE_INPUT)
        return !isfinite(v);
    return code == AE_ERR_INPUT_RANGE && unit_range && !(v >= 0.0f && v <= 1.0f);
}

/* Finds the first refused value of rows first .. first+count-1. The value is copied out:
 * rows may be converted into a scratch row, which is gone on return. 1 found, 0 none,
 * -1 out of memory. */
static int find_refused(const cli_dataset *ds, size_t first, size_t count, int code,
                        int unit_range, size_t *row, size_t *col, float *value)
{
    float *scratch = cli_malloc_array(ds->cols, sizeof *scratch);
    if (!scratch)
        return -1;
    int found = 0;
    for (size_t i = 0; !found && i < count; i++) {
        const float *x = cli_dataset_rows(ds, first + i, 1, scratch);
        for (size_t j = 0; !found && j < ds->cols; j++)
            if (refused(code, unit_range, x[j])) {
                *row = first + i;
                *col = j;
                *value = x[j];
                found = 1;
            }
    }
    free(scratch);
    return found;
}

int cli_dataset_report_value(const cli_dataset *ds, size_t first, size_t count, int code,
                             int unit_range, int *status)
{
    size_t row = 0, col = 0;
    float v = 0;
    if (find_refused(ds, first, count, code, unit_range, &row, &col, &v) != 1)
        return 0;
    char where[128];
    cli_dataset_where(ds, row, col, where, sizeof where);
    if (code == AE_ERR_NON_FINITE_INPUT)
        *status = cli_fail(cli_status_from_ae(code), "%s: %s: %s, expected a finite number",
                           ds->path, where, isnan(v) ? "NaN" : "an infinite value");
    else
        *status = cli_fail(cli_status_from_ae(code),
                           "%s: %s: %g, expected a value in [0, 1] (the model's loss is binary "
                           "cross-entropy)",
                           ds->path, where, (double)v);
    return 1;
}

int cli_dataset_report(const cli_dataset *ds, size_t first, size_t count, int code,
                       const char *library_message, int unit_range)
{
    int status;
    if (cli_dataset_report_value(ds, first, count, code, unit_range, &status))
        return status;
    return cli_fail(cli_status_from_ae(code), "%s: rows %zu-%zu: %s", ds->path, first + 1,
                    first + count,
                    library_message && *library_message ? library_message
                                                        : ae_status_str(code));
}
