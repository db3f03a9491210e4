/* NPY files (format versions 1.0, 2.0 and 3.0): the header dictionary is parsed, the
 * file is memory-mapped, and a little-endian float32 C-order array is used in place;
 * other dtypes and Fortran order are converted a chunk at a time when rows are asked
 * for (dataset.c). */
#define _POSIX_C_SOURCE 200809L
#include "dataset.h"

#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct npy_header {
    char descr[16];
    int fortran;
    size_t shape[8];
    int ndim;
} npy_header;

/* Finds 'key' in the header dictionary; returns the position after its ':' or NULL. */
static const char *find_key(const char *dict, const char *key)
{
    char quoted[32];
    for (int q = 0; q < 2; q++) {
        snprintf(quoted, sizeof quoted, q ? "\"%s\"" : "'%s'", key);
        const char *p = strstr(dict, quoted);
        if (p) {
            p += strlen(quoted);
            while (*p == ' ')
                p++;
            if (*p == ':')
                return p + 1;
        }
    }
    return NULL;
}

static int parse_header(const char *path, const char *dict, size_t dict_offset, npy_header *h)
{
    memset(h, 0, sizeof *h);
    const char *p = find_key(dict, "descr");
    if (!p)
        return cli_fail(CLI_EX_DATAERR, "%s: byte offset %zu: NPY header has no 'descr' key",
                        path, dict_offset);
    while (*p == ' ')
        p++;
    if (*p != '\'' && *p != '"')
        return cli_fail(CLI_EX_DATAERR,
                        "%s: byte offset %zu: NPY dtype %.20s is a structured type; expected a "
                        "plain number type such as '<f4'",
                        path, dict_offset + (size_t)(p - dict), p);
    char quote = *p++;
    size_t n = 0;
    while (p[n] && p[n] != quote && n + 1 < sizeof h->descr)
        n++;
    memcpy(h->descr, p, n);
    p = find_key(dict, "fortran_order");
    if (!p)
        return cli_fail(CLI_EX_DATAERR,
                        "%s: byte offset %zu: NPY header has no 'fortran_order' key", path,
                        dict_offset);
    while (*p == ' ')
        p++;
    h->fortran = strncmp(p, "True", 4) == 0;
    p = find_key(dict, "shape");
    if (!p)
        return cli_fail(CLI_EX_DATAERR, "%s: byte offset %zu: NPY header has no 'shape' key",
                        path, dict_offset);
    while (*p == ' ')
        p++;
    if (*p != '(')
        return cli_fail(CLI_EX_DATAERR, "%s: byte offset %zu: NPY shape is not a tuple", path,
                        dict_offset + (size_t)(p - dict));
    p++;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        if (h->ndim == 8)
            return cli_fail(CLI_EX_DATAERR,
                            "%s: byte offset %zu: NPY array of more than 8 dimensions, expected "
                            "rows of values (at most 8 dimensions)",
                            path, dict_offset + (size_t)(p - dict));
        if (!isdigit((unsigned char)*p))
            return cli_fail(CLI_EX_DATAERR,
                            "%s: byte offset %zu: NPY shape holds '%c', expected a size",
                            path, dict_offset + (size_t)(p - dict), *p ? *p : '?');
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || v > (unsigned long long)SIZE_MAX)
            return cli_fail(CLI_EX_DATAERR, "%s: NPY shape size %.20s is too large", path, p);
        h->shape[h->ndim++] = (size_t)v;
        p = end;
    }
    return 0;
}

static int parse_descr(const char *path, const char *descr, cli_dataset *ds)
{
    static const struct {
        const char *code;
        cli_dtype dtype;
        size_t itemsize;
    } types[] = {
        {"f4", CLI_DTYPE_F4, 4}, {"f8", CLI_DTYPE_F8, 8}, {"f2", CLI_DTYPE_F2, 2},
        {"i1", CLI_DTYPE_I1, 1}, {"u1", CLI_DTYPE_U1, 1}, {"b1", CLI_DTYPE_BOOL, 1},
        {"i2", CLI_DTYPE_I2, 2}, {"u2", CLI_DTYPE_U2, 2}, {"i4", CLI_DTYPE_I4, 4},
        {"u4", CLI_DTYPE_U4, 4}, {"i8", CLI_DTYPE_I8, 8}, {"u8", CLI_DTYPE_U8, 8},
    };
    char order = descr[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        goto unknown;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(descr + 1, types[i].code) != 0)
            continue;
        ds->dtype = types[i].dtype;
        ds->itemsize = types[i].itemsize;
        uint16_t one = 1;
        int little = *(unsigned char *)&one == 1;
        ds->swap_bytes = types[i].itemsize > 1 && ((order == '>' && little) || (order == '<' && !little));
        return 0;
    }
unknown:
    return cli_fail(CLI_EX_DATAERR,
                    "%s: NPY dtype '%s' is not supported; expected float (f2, f4, f8), integer "
                    "(i1..i8, u1..u8) or bool",
                    path, descr);
}

int cli_read_npy(cli_dataset *ds, int fd, size_t size)
{
    const char *path = ds->path;
    if (size < 10)
        return cli_fail(CLI_EX_DATAERR,
                        "%s: truncated NPY file: %zu bytes, expected at least a 10-byte header",
                        path, size);
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        return cli_fail(CLI_EX_IOERR, "%s: cannot map the file: %s", path, strerror(errno));
    ds->map = map;
    ds->map_size = size;
    const unsigned char *b = map;
    unsigned major = b[6];
    size_t header_len, dict_offset;
    if (major == 1) {
        header_len = (size_t)b[8] | (size_t)b[9] << 8;
        dict_offset = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12)
            return cli_fail(CLI_EX_DATAERR, "%s: truncated NPY %u.0 header at byte offset %zu",
                            path, major, size);
        header_len = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        dict_offset = 12;
    } else {
        return cli_fail(CLI_EX_DATAERR,
                        "%s: byte offset 6: NPY format version %u.%u, expected 1.0, 2.0 or 3.0",
                        path, major, b[7]);
    }
    if (header_len > size - dict_offset)
        return cli_fail(CLI_EX_DATAERR,
                        "%s: truncated NPY header: it announces %zu bytes from byte offset %zu, "
                        "the file has %zu",
                        path, header_len, dict_offset, size);
    char *dict = malloc(header_len + 1);
    if (!dict)
        return cli_fail(CLI_EX_OSERR, "out of memory");
    memcpy(dict, b + dict_offset, header_len);
    dict[header_len] = '\0';
    npy_header h;
    int rc = parse_header(path, dict, dict_offset, &h);
    free(dict);
    if (rc)
        return rc;
    if ((rc = parse_descr(path, h.descr, ds)) != 0)
        return rc;
    if (h.ndim == 0)
        return cli_fail(CLI_EX_DATAERR, "%s: NPY array is a scalar, expected rows of values",
                        path);
    if (h.fortran && h.ndim > 2)
        return cli_fail(CLI_EX_DATAERR,
                        "%s: NPY array of %d dimensions in Fortran order; save it in C order "
                        "(numpy.ascontiguousarray) or as 2-D",
                        path, h.ndim);
    ds->rows = h.shape[0];
    ds->cols = 1;
    for (int i = 1; i < h.ndim; i++) {
        if (h.shape[i] != 0 && ds->cols > SIZE_MAX / h.shape[i])
            return cli_fail(CLI_EX_DATAERR, "%s: NPY shape overflows", path);
        ds->cols *= h.shape[i];
    }
    if (h.ndim == 3 || (h.ndim == 4 && (h.shape[3] == 1 || h.shape[3] == 3))) {
        ds->image_height = h.shape[1];
        ds->image_width = h.shape[2];
        ds->image_channels = h.ndim == 4 ? h.shape[3] : 1;
    }
    ds->fortran = h.fortran && h.ndim == 2 && ds->cols > 1 && ds->rows > 1;
    ds->data_offset = dict_offset + header_len;
    size_t count = ds->rows * ds->cols;
    if (ds->cols != 0 && ds->rows > SIZE_MAX / ds->cols / ds->itemsize)
        return cli_fail(CLI_EX_DATAERR, "%s: NPY shape overflows", path);
    size_t need = count * ds->itemsize;
    if (need > size - ds->data_offset)
        return cli_fail(CLI_EX_DATAERR,
                        "%s: truncated NPY file: the array needs %zu bytes from byte offset %zu, "
                        "the file ends at byte offset %zu (%zu complete rows)",
                        path, need, ds->data_offset, size,
                        ds->cols ? (size - ds->data_offset) / ds->itemsize / ds->cols : 0);
    uint16_t one = 1;
    int little = *(unsigned char *)&one == 1;
    if (ds->dtype == CLI_DTYPE_F4 && !ds->swap_bytes && little && !ds->fortran &&
        ds->data_offset % sizeof(float) == 0) {
        ds->data = (float *)(void *)(ds->map + ds->data_offset); /* used in place */
        ds->owns_data = 0;
    }
    return 0;
}
