/* CSV and TSV files: numbers separated by a delimiter (detected from the first line
 * among ',', tab, ';' and '|', else runs of blanks), an optional header row (detected:
 * a first row of text and no numbers; a first row mixing both is refused), a UTF-8 byte
 * order mark, '#' comment lines, and a choice of columns by 1-based number, range or
 * header name. Every value must be a finite number, of any length: an empty field, text,
 * NaN or a short row is an error naming line and column. */
#define _POSIX_C_SOURCE 200809L
#include "dataset.h"

#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fields and lines point into the file's text, which the reader owns and ends with a NUL. */
typedef struct csv_field {
    char *start;
    size_t len;
} csv_field;

typedef struct csv_line {
    char *start, *end; /* without the line ending */
    size_t number;           /* 1-based */
} csv_line;

static int next_line(char **cursor, char *end, size_t *line_no, csv_line *out)
{
    while (*cursor < end) {
        char *s = *cursor;
        char *e = memchr(s, '\n', (size_t)(end - s));
        char *next = e ? e + 1 : end;
        if (!e)
            e = end;
        if (e > s && e[-1] == '\r')
            e--;
        (*line_no)++;
        *cursor = next;
        const char *p = s;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        if (p == e || *p == '#')
            continue; /* blank lines and comments */
        out->start = s;
        out->end = e;
        out->number = *line_no;
        return 1;
    }
    return 0;
}

/* Splits a line into fields (at most max); returns the count (may exceed max). */
static size_t split(const csv_line *line, char delim, csv_field *fields, size_t max)
{
    size_t n = 0;
    char *p = line->start;
    if (delim == ' ') {
        for (;;) {
            while (p < line->end && (*p == ' ' || *p == '\t'))
                p++;
            if (p == line->end)
                return n;
            char *s = p;
            while (p < line->end && *p != ' ' && *p != '\t')
                p++;
            if (n < max)
                fields[n] = (csv_field){s, (size_t)(p - s)};
            n++;
        }
    }
    for (;;) {
        char *s = p;
        while (p < line->end && *p != delim)
            p++;
        if (n < max)
            fields[n] = (csv_field){s, (size_t)(p - s)};
        n++;
        if (p == line->end)
            return n;
        p++;
    }
}

static void trim(csv_field *f)
{
    while (f->len && (f->start[0] == ' ' || f->start[0] == '\t')) {
        f->start++;
        f->len--;
    }
    while (f->len && (f->start[f->len - 1] == ' ' || f->start[f->len - 1] == '\t'))
        f->len--;
    if (f->len >= 2 && (f->start[0] == '"' || f->start[0] == '\'') &&
        f->start[f->len - 1] == f->start[0]) {
        f->start++;
        f->len -= 2;
    }
}

enum { NUM_OK, NUM_EMPTY, NUM_TEXT, NUM_NOT_FINITE };

/* A field as a number, whatever its length: NUM_OK with *v, or what it is instead. */
static int parse_number(csv_field f, double *v)
{
    trim(&f);
    if (f.len == 0)
        return NUM_EMPTY;
    /* strtod needs a NUL after the field: borrow the byte after it (the delimiter, the
     * line ending, a closing quote or the text's final NUL) and put it back. */
    char saved = f.start[f.len];
    f.start[f.len] = '\0';
    char *end;
    errno = 0;
    *v = strtod(f.start, &end);
    int range_error = errno == ERANGE;
    f.start[f.len] = saved;
    if (end != f.start + f.len)
        return NUM_TEXT;
    if (!isfinite(*v) || range_error) {
        if (range_error && isfinite(*v))
            return NUM_OK; /* underflow to a tiny or zero value is fine */
        return NUM_NOT_FINITE;
    }
    if (fabs(*v) > 3.4028234663852886e38)
        return NUM_NOT_FINITE;
    return NUM_OK;
}

/* A first row of text is a header; one of numbers (or empty fields) is data; one mixing
 * both is refused, as either reading would drop or misread a row. 0 or an exit status. */
static int detect_header(const char *path, const csv_line *first, csv_field *fields,
                         size_t n_fields, int *header)
{
    size_t numbers = 0, text = 0, first_text = 0;
    for (size_t j = 0; j < n_fields; j++) {
        double v;
        int kind = parse_number(fields[j], &v);
        numbers += kind == NUM_OK || kind == NUM_NOT_FINITE;
        if (kind == NUM_TEXT && text++ == 0)
            first_text = j;
    }
    *header = text > 0 && numbers == 0;
    if (text == 0 || numbers == 0)
        return 0;
    csv_field f = fields[first_text];
    trim(&f);
    return cli_fail(CLI_EX_DATAERR,
                    "%s: line %zu: the first row mixes numbers and text (column %zu: '%.*s'): "
                    "give --header if it names the columns, --no-header if it is data",
                    path, first->number, first_text + 1, (int)(f.len > 40 ? 40 : f.len),
                    f.start);
}

static char detect_delimiter(const csv_line *line)
{
    static const char candidates[] = {'\t', ',', ';', '|'};
    size_t best_count = 0;
    char best = ' ';
    for (size_t c = 0; c < sizeof candidates; c++) {
        size_t count = 0;
        for (const char *p = line->start; p < line->end; p++)
            count += *p == candidates[c];
        if (count > best_count) {
            best_count = count;
            best = candidates[c];
        }
    }
    return best;
}

static int field_matches(csv_field f, const char *name, size_t len)
{
    trim(&f);
    return f.len == len && memcmp(f.start, name, len) == 0;
}

/* Parses --columns into 0-based file column numbers. */
static int select_columns(const cli_dataset *ds, const char *spec, const csv_field *header,
                          size_t n_fields, size_t **out, size_t *n_out)
{
    size_t cap = 16, n = 0;
    size_t *cols = malloc(cap * sizeof *cols);
    const char *p = spec;
    while (cols && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char token[256];
        if (len == 0 || len >= sizeof token) {
            free(cols);
            return cli_fail(CLI_EX_USAGE, "--columns '%s': empty or too long entry", spec);
        }
        memcpy(token, p, len);
        token[len] = '\0';
        unsigned long a = 0, b = 0;
        char *end;
        a = strtoul(token, &end, 10);
        if (end != token && *end == '-' && end[1]) {
            b = strtoul(end + 1, &end, 10);
        } else {
            b = a;
        }
        if (end == token || *end != '\0') { /* a header name */
            a = 0;
            for (size_t i = 0; header && i < n_fields; i++)
                if (field_matches(header[i], token, len)) {
                    a = b = i + 1;
                    break;
                }
            if (a == 0) {
                free(cols);
                return cli_fail(CLI_EX_USAGE,
                                "--columns: %s has no column named '%s'%s", ds->path, token,
                                header ? "" : " (it has no header row)");
            }
        }
        if (a == 0 || b < a || b > n_fields) {
            free(cols);
            return cli_fail(CLI_EX_USAGE,
                            "--columns: '%s' is not within columns 1-%zu of %s", token, n_fields,
                            ds->path);
        }
        for (unsigned long c = a; c <= b; c++) {
            if (n == cap) {
                size_t *grown = realloc(cols, (cap *= 2) * sizeof *cols);
                if (!grown) {
                    free(cols);
                    return cli_fail(CLI_EX_OSERR, "out of memory");
                }
                cols = grown;
            }
            cols[n++] = c - 1;
        }
        p += len + (comma != NULL);
    }
    if (!cols)
        return cli_fail(CLI_EX_OSERR, "out of memory");
    *out = cols;
    *n_out = n;
    return 0;
}

/* The data lines (neither blank nor comments) from @p cursor on. */
static size_t count_data_lines(char *cursor, char *end)
{
    size_t count = 0, line_no = 0;
    csv_line line;
    while (next_line(&cursor, end, &line_no, &line))
        count++;
    return count;
}

/* Room for more rows, doubled up to @p max_rows: memory grows with the rows actually read,
 * never with lines x the first row's width (a wide first line before many short or blank
 * ones would otherwise ask for far more than the file holds). 0, or -1 out of memory. */
static int grow_rows(float **data, size_t **lines, size_t *cap, size_t max_rows, size_t cols)
{
    size_t next = *cap ? *cap * 2 : 64;
    if (next > max_rows)
        next = max_rows;
    if (next <= *cap || cols > (size_t)-1 / sizeof **data / next)
        return -1;
    float *more_data = realloc(*data, next * cols * sizeof **data);
    if (!more_data)
        return -1;
    *data = more_data;
    size_t *more_lines = realloc(*lines, next * sizeof **lines);
    if (!more_lines)
        return -1;
    *lines = more_lines;
    *cap = next;
    return 0;
}

static int read_all(const char *path, int fd, size_t size, char **out)
{
    char *text = malloc(size + 1);
    if (!text)
        return cli_fail(CLI_EX_OSERR, "%s: out of memory reading %zu bytes", path, size);
    size_t have = 0;
    while (have < size) {
        ssize_t got = pread(fd, text + have, size - have, (off_t)have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            int e = errno;
            free(text);
            return cli_fail(CLI_EX_IOERR, "%s: read error at byte offset %zu: %s", path, have,
                            got < 0 ? strerror(e) : "the file shrank");
        }
        have += (size_t)got;
    }
    text[size] = '\0';
    *out = text;
    return 0;
}

int cli_read_csv(cli_dataset *ds, int fd, size_t size, const cli_read_options *o)
{
    const char *path = ds->path;
    char *text = NULL;
    int rc = read_all(path, fd, size, &text);
    if (rc)
        return rc;
    char *cursor = text, *end = text + size;
    if (size >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        cursor += 3; /* a UTF-8 byte order mark */
    size_t line_no = 0;
    csv_line first;
    if (!next_line(&cursor, end, &line_no, &first)) {
        free(text);
        return cli_fail(CLI_EX_DATAERR, "%s: holds no rows (only blank or comment lines)", path);
    }
    char delim = o->delimiter ? o->delimiter : detect_delimiter(&first);
    size_t n_fields = split(&first, delim, NULL, 0);
    csv_field *fields = malloc(n_fields * sizeof *fields);
    size_t *columns = NULL, n_columns = 0;
    float *data = NULL;
    size_t *lines = NULL;
    if (!fields) {
        free(text);
        return cli_fail(CLI_EX_OSERR, "out of memory");
    }
    split(&first, delim, fields, n_fields);
    int header = o->header;
    rc = header < 0 ? detect_header(path, &first, fields, n_fields, &header) : 0;
    if (rc == 0 && o->columns)
        rc = select_columns(ds, o->columns, header ? fields : NULL, n_fields, &columns,
                            &n_columns);
    if (rc == 0 && !columns) {
        columns = cli_malloc_array(n_fields, sizeof *columns);
        n_columns = n_fields;
        for (size_t j = 0; columns && j < n_fields; j++)
            columns[j] = j;
        if (!columns)
            rc = cli_fail(CLI_EX_OSERR, "out of memory");
    }
    const size_t max_rows = 1 + count_data_lines(cursor, end);
    size_t rows = 0, cap_rows = 0;
    csv_line line = first;
    int have_line = !header || next_line(&cursor, end, &line_no, &line);
    while (rc == 0 && have_line) {
        size_t n = split(&line, delim, fields, n_fields);
        if (n != n_fields) {
            rc = cli_fail(CLI_EX_DATAERR, "%s: line %zu: %zu fields, expected %zu like line %zu",
                          path, line.number, n, n_fields, first.number);
            break;
        }
        if (rows == cap_rows && grow_rows(&data, &lines, &cap_rows, max_rows, n_columns) != 0) {
            rc = cli_fail(CLI_EX_OSERR, "%s: out of memory for %zu rows of %zu values", path,
                          rows + 1, n_columns);
            break;
        }
        for (size_t k = 0; k < n_columns; k++) {
            double v;
            csv_field f = fields[columns[k]];
            int bad = parse_number(f, &v);
            if (bad) {
                trim(&f);
                rc = cli_fail(CLI_EX_DATAERR, "%s: line %zu, column %zu: %s%.*s%s, expected a %s",
                              path, line.number, columns[k] + 1,
                              bad == NUM_EMPTY ? "missing value" : "'",
                              bad == NUM_EMPTY ? 0 : (int)(f.len > 40 ? 40 : f.len), f.start,
                              bad == NUM_EMPTY ? "" : "'",
                              bad == NUM_NOT_FINITE ? "finite number" : "number");
                break;
            }
            data[rows * n_columns + k] = (float)v;
        }
        lines[rows++] = line.number;
        have_line = next_line(&cursor, end, &line_no, &line);
    }
    free(fields);
    free(text);
    if (rc == 0 && rows == 0)
        rc = cli_fail(CLI_EX_DATAERR, "%s: a header line and no rows of data", path);
    if (rc) {
        free(data);
        free(lines);
        free(columns);
        return rc;
    }
    for (size_t k = 0; k < n_columns; k++)
        columns[k] += 1; /* 1-based for messages */
    ds->data = data;
    ds->owns_data = 1;
    ds->rows = rows;
    ds->cols = n_columns;
    ds->csv_lines = lines;
    ds->csv_columns = columns;
    ds->value_scale = 1.0f;
    return 0;
}
