/* IDX files (the MNIST format), plain or gzip-compressed, read through zlib (gzread
 * reads both). Header: two zero bytes, a type code, the number of dimensions, then one
 * big-endian u32 per dimension. uint8 values are pixels, scaled to [0, 1]; the other
 * types are converted as they are. Memory grows with the data actually read, so a
 * header that lies cannot make the reader allocate more than the file holds. */
#define _POSIX_C_SOURCE 200809L
#include "dataset.h"

#include "cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

typedef struct idx_file {
    gzFile gz;
    const char *path;
    size_t offset; /* bytes read so far (of the decompressed stream) */
    int gzipped;
} idx_file;

/* zlib's message without the "<fd:N>: " it puts before it (the file was opened by
 * descriptor); the caller names the file. */
static const char *zlib_message(gzFile gz, int *zerr)
{
    const char *msg = gzerror(gz, zerr);
    const char *cut = strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ">: ") : NULL;
    return cut ? cut + 3 : msg;
}

/* Reads up to n bytes; returns the count read, or (size_t)-1 after printing an error. A
 * gzip file that ends before its stream does (a cut file, or one missing its CRC and size
 * trailer) is an error, not a short read: zlib says so only through gzerror. */
static size_t idx_read(idx_file *f, void *buf, size_t n)
{
    unsigned char *dst = buf;
    size_t total = 0;
    while (total < n) {
        size_t want = n - total;
        unsigned chunk = want > (1u << 30) ? (1u << 30) : (unsigned)want;
        int got = gzread(f->gz, dst + total, chunk);
        if (got > 0) {
            total += (size_t)got;
            continue;
        }
        int zerr = 0;
        const char *msg = zlib_message(f->gz, &zerr);
        if (got == 0 && zerr == Z_OK)
            break; /* the end of the data */
        if (zerr == Z_ERRNO)
            cli_fail(CLI_EX_IOERR, "%s: read error: %s", f->path, strerror(errno));
        else if (zerr == Z_BUF_ERROR)
            cli_fail(CLI_EX_DATAERR,
                     "%s: truncated gzip file: the compressed data end at decompressed byte "
                     "offset %zu, before the end of the gzip stream",
                     f->path, f->offset + total);
        else
            cli_fail(CLI_EX_DATAERR,
                     "%s: damaged gzip file: %s (found reading decompressed bytes %zu to %zu)",
                     f->path, msg,
                     f->offset + total, f->offset + total + chunk);
        return (size_t)-1;
    }
    f->offset += total;
    return total;
}

static size_t idx_type_size(unsigned code)
{
    switch (code) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
    }
}

static float idx_value(unsigned code, const unsigned char *p)
{
    uint64_t u = 0;
    size_t n = idx_type_size(code);
    for (size_t i = 0; i < n; i++)
        u = u << 8 | p[i];
    switch (code) {
    case 0x09: return (float)(int8_t)u;
    case 0x0B: return (float)(int16_t)u;
    case 0x0C: return (float)(int32_t)u;
    case 0x0D: { uint32_t w = (uint32_t)u; float v; memcpy(&v, &w, 4); return v; }
    case 0x0E: { double v; memcpy(&v, &u, 8); return (float)v; }
    default: return (float)u;
    }
}

/* Opens the IDX file on a duplicate of fd; fills dims; returns 0 or a status. */
static int idx_open(idx_file *f, int fd, int gzipped, const char *path, unsigned *type_code,
                    uint32_t *dims, unsigned *ndim)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->gzipped = gzipped;
    int dup_fd = dup(fd);
    if (dup_fd < 0 || lseek(dup_fd, 0, SEEK_SET) < 0 || !(f->gz = gzdopen(dup_fd, "rb"))) {
        if (dup_fd >= 0)
            close(dup_fd);
        return cli_fail(CLI_EX_OSERR, "%s: cannot read: %s", path, strerror(errno));
    }
    gzbuffer(f->gz, 1u << 18);
    unsigned char head[4];
    size_t got = idx_read(f, head, 4);
    if (got == (size_t)-1)
        return CLI_EX_DATAERR;
    if (got < 4 || head[0] != 0 || head[1] != 0 || idx_type_size(head[2]) == 0 || head[3] == 0 ||
        head[3] > 4)
        return cli_fail(CLI_EX_DATAERR,
                        "%s: %sbyte offset 0: not an IDX header (expected 00 00, a type code "
                        "08/09/0B/0C/0D/0E and 1-4 dimensions)",
                        path, gzipped ? "decompressed " : "");
    *type_code = head[2];
    *ndim = head[3];
    for (unsigned i = 0; i < *ndim; i++) {
        unsigned char b[4];
        got = idx_read(f, b, 4);
        if (got == (size_t)-1)
            return CLI_EX_DATAERR;
        if (got < 4)
            return cli_fail(CLI_EX_DATAERR,
                            "%s: truncated IDX header: %sbyte offset %zu, expected %u dimension "
                            "sizes",
                            path, gzipped ? "decompressed " : "", f->offset, *ndim);
        dims[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    }
    return 0;
}

/* Reads exactly `need` bytes of payload into a buffer that grows with the data. With
 * @p to_end (the file's last rows), asks for one byte more in the same reads: finding the
 * end proves nothing follows, and makes zlib check a gzip file's trailer, which it skips
 * when a read ends exactly where the compressed data do. */
static int idx_read_payload(idx_file *f, size_t need, int to_end, unsigned char **out)
{
    const size_t want = need + (to_end ? 1 : 0);
    size_t cap = want < ((size_t)1 << 24) ? want : ((size_t)1 << 24);
    unsigned char *buf = malloc(cap ? cap : 1);
    size_t have = 0;
    while (buf) {
        size_t got = idx_read(f, buf + have, cap - have);
        if (got == (size_t)-1) {
            free(buf);
            return CLI_EX_DATAERR;
        }
        have += got;
        if (have == want || (have == need && have < cap))
            break;
        if (have < cap) {
            free(buf);
            return cli_fail(CLI_EX_DATAERR,
                            "%s: truncated IDX data: %sbyte offset %zu, expected %zu bytes of "
                            "values after the header",
                            f->path, f->gzipped ? "decompressed " : "", f->offset, need);
        }
        size_t next = cap > want / 2 ? want : cap * 2;
        unsigned char *grown = realloc(buf, next);
        if (!grown)
            free(buf);
        buf = grown;
        cap = next;
    }
    if (!buf)
        return cli_fail(CLI_EX_OSERR, "%s: out of memory", f->path);
    if (have > need) {
        free(buf);
        return cli_fail(CLI_EX_DATAERR,
                        "%s: %sbyte offset %zu: data goes on past the %zu bytes of values the "
                        "IDX header announces",
                        f->path, f->gzipped ? "decompressed " : "", f->offset - 1, need);
    }
    *out = buf;
    return 0;
}

static int idx_check_size(const char *path, const uint32_t *dims, unsigned ndim, size_t item,
                          size_t *count)
{
    size_t n = 1;
    for (unsigned i = 0; i < ndim; i++) {
        if (dims[i] != 0 && n > SIZE_MAX / 8 / dims[i])
            return cli_fail(CLI_EX_DATAERR, "%s: IDX dimensions overflow", path);
        n *= dims[i];
    }
    (void)item;
    *count = n;
    return 0;
}

int cli_read_idx(cli_dataset *ds, int fd, int gzipped, const cli_read_options *o)
{
    idx_file f;
    unsigned code = 0, ndim = 0;
    uint32_t dims[4] = {0};
    int rc = idx_open(&f, fd, gzipped, ds->path, &code, dims, &ndim);
    size_t count = 0, item = idx_type_size(code);
    size_t file_rows = dims[0], first = 0, block_rows = file_rows;
    unsigned char *raw = NULL;
    if (rc == 0)
        rc = idx_check_size(ds->path, dims, ndim, item, &count);
    size_t row_values = file_rows ? count / file_rows : 0;
    if (rc == 0 && o && o->row_block && file_rows > 0 && row_values > 0) {
        /* One block of rows: skip to it (a seek in a plain file; decompressing and dropping
         * the bytes before it in a gzip file) and read only it. */
        rc = cli_dataset_block(ds, o, file_rows, &first, &block_rows);
        size_t skip = first * row_values * item;
        if (rc == 0 && skip > 0 &&
            gzseek(f.gz, (z_off_t)(f.offset + skip), SEEK_SET) != (z_off_t)(f.offset + skip))
            rc = cli_fail(CLI_EX_DATAERR,
                          "%s: truncated IDX data: %sbyte offset %zu, expected %zu rows of %zu "
                          "bytes after the header",
                          ds->path, gzipped ? "decompressed " : "", f.offset, file_rows,
                          row_values * item);
        if (rc == 0)
            f.offset += skip;
        count = block_rows * row_values;
    }
    if (rc == 0)
        rc = idx_read_payload(&f, count * item, first + block_rows == file_rows, &raw);
    if (f.gz)
        gzclose(f.gz);
    if (rc) {
        free(raw);
        return rc;
    }
    float *data = cli_malloc_array(count, sizeof *data);
    if (!data) {
        free(raw);
        return cli_fail(CLI_EX_OSERR, "%s: out of memory", ds->path);
    }
    if (code == 0x08) {
        float table[256];
        for (int i = 0; i < 256; i++)
            table[i] = (float)i / 255.0f;
        for (size_t i = 0; i < count; i++)
            data[i] = table[raw[i]];
    } else {
        for (size_t i = 0; i < count; i++)
            data[i] = idx_value(code, raw + i * item);
    }
    free(raw);
    ds->data = data;
    ds->owns_data = 1;
    ds->rows = block_rows;
    ds->first_row = first;
    ds->file_rows = file_rows;
    ds->cols = ndim > 1 ? row_values : 1;
    ds->data_offset = 4 + 4 * (size_t)ndim;
    ds->itemsize = item;
    ds->value_scale = code == 0x08 ? 1.0f / 255.0f : 1.0f;
    if (ndim == 3 || (ndim == 4 && (dims[3] == 1 || dims[3] == 3))) {
        ds->image_height = dims[1];
        ds->image_width = dims[2];
        ds->image_channels = ndim == 4 ? dims[3] : 1;
    }
    return 0;
}
