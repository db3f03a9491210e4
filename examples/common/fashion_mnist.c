/* Fashion-MNIST reader: gzip-compressed IDX files through zlib's gzread.
 *
 * IDX layout (all integers big-endian):
 *   images: magic 0x00000803, count, rows, cols, then count*rows*cols bytes
 *   labels: magic 0x00000801, count, then count bytes (0..9)
 * Every header field is checked before anything is allocated, and a file that
 * ends early is reported as truncated. */
#include "fashion_mnist.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

enum {
    IDX_MAGIC_IMAGES = 0x00000803,
    IDX_MAGIC_LABELS = 0x00000801,
    FASHION_SIDE = 28,
    FASHION_CLASSES = 10
};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
    if (err == NULL || err_size == 0)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(err, err_size, fmt, args);
    va_end(args);
}

/* Reads exactly n bytes; returns 0, or -1 with a message on error or early end. */
static int read_exact(gzFile file, const char *path, void *buf, size_t n, char *err,
                      size_t err_size)
{
    unsigned char *dst = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(file, dst, chunk);
        if (got < 0) {
            int zerr = 0;
            const char *msg = gzerror(file, &zerr);
            set_error(err, err_size, "%s: read error: %s", path, msg);
            return -1;
        }
        if (got == 0) {
            set_error(err, err_size, "%s: file is truncated", path);
            return -1;
        }
        dst += got;
        n -= (size_t)got;
    }
    return 0;
}

static int read_u32_be(gzFile file, const char *path, uint32_t *value, char *err,
                       size_t err_size)
{
    unsigned char bytes[4];
    if (read_exact(file, path, bytes, sizeof bytes, err, err_size) != 0)
        return -1;
    *value = (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 |
             (uint32_t)bytes[3];
    return 0;
}

static gzFile open_idx(const char *dir, const char *name, char *path, size_t path_size,
                       char *err, size_t err_size)
{
    int len = snprintf(path, path_size, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= path_size) {
        set_error(err, err_size, "path too long: %s/%s", dir, name);
        return NULL;
    }
    errno = 0;
    gzFile file = gzopen(path, "rb");
    if (file == NULL) {
        set_error(err, err_size, "cannot open %s: %s%s", path,
                  errno != 0 ? strerror(errno) : "out of memory",
                  errno == ENOENT ? " (install dataset-fashion-mnist or set FASHION_MNIST_DIR)"
                                  : "");
        return NULL;
    }
    gzbuffer(file, 1u << 17);
    return file;
}

/* Reads and checks an IDX header: magic, then n_dims big-endian sizes. */
static int read_idx_header(gzFile file, const char *path, uint32_t magic_expected,
                           const char *what, uint32_t *dims, int n_dims, char *err,
                           size_t err_size)
{
    uint32_t magic = 0;
    if (read_u32_be(file, path, &magic, err, err_size) != 0)
        return -1;
    if (magic != magic_expected) {
        set_error(err, err_size, "%s: bad magic number 0x%08lx (expected 0x%08lx, IDX %s)",
                  path, (unsigned long)magic, (unsigned long)magic_expected, what);
        return -1;
    }
    for (int i = 0; i < n_dims; i++)
        if (read_u32_be(file, path, &dims[i], err, err_size) != 0)
            return -1;
    return 0;
}

/* Grows both arrays to hold at least `need` rows; capacity doubles, so memory
 * follows the data actually read and never trusts the header's count alone. */
static int grow(fashion_mnist *data, size_t *capacity, size_t need, char *err, size_t err_size)
{
    if (need <= *capacity)
        return 0;
    size_t cap = *capacity > 0 ? *capacity : 4096;
    while (cap < need)
        cap *= 2;
    float *pixels = realloc(data->pixels, cap * data->n_cols * sizeof *pixels);
    if (pixels == NULL) {
        set_error(err, err_size, "out of memory for %zu Fashion-MNIST images", cap);
        return -1;
    }
    data->pixels = pixels;
    uint8_t *labels = realloc(data->labels, cap);
    if (labels == NULL) {
        set_error(err, err_size, "out of memory for %zu Fashion-MNIST labels", cap);
        return -1;
    }
    data->labels = labels;
    *capacity = cap;
    return 0;
}

int fashion_mnist_load(const char *dir, fashion_mnist_split split, size_t max_rows,
                       fashion_mnist *out, char *err, size_t err_size)
{
    if (err != NULL && err_size > 0)
        err[0] = '\0';
    if (out == NULL) {
        set_error(err, err_size, "fashion_mnist_load: out is NULL");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (split != FASHION_MNIST_TRAIN && split != FASHION_MNIST_TEST) {
        set_error(err, err_size, "fashion_mnist_load: unknown split %d", (int)split);
        return -1;
    }
    if (dir == NULL) {
        const char *env = getenv("FASHION_MNIST_DIR");
        dir = env != NULL && env[0] != '\0' ? env : FASHION_MNIST_DEFAULT_DIR;
    }
    const int train = split == FASHION_MNIST_TRAIN;

    int rc = -1;
    char image_path[4096], label_path[4096];
    unsigned char *bytes = NULL;
    fashion_mnist data = {NULL, NULL, 0, (size_t)FASHION_SIDE * FASHION_SIDE};
    size_t capacity = 0;
    gzFile labels_file = NULL;
    gzFile images_file =
        open_idx(dir, train ? "train-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte.gz",
                 image_path, sizeof image_path, err, err_size);
    if (images_file == NULL)
        goto done;
    labels_file =
        open_idx(dir, train ? "train-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte.gz",
                 label_path, sizeof label_path, err, err_size);
    if (labels_file == NULL)
        goto done;

    uint32_t image_dims[3] = {0, 0, 0}, label_count = 0;
    if (read_idx_header(images_file, image_path, IDX_MAGIC_IMAGES, "images", image_dims, 3, err,
                        err_size) != 0 ||
        read_idx_header(labels_file, label_path, IDX_MAGIC_LABELS, "labels", &label_count, 1,
                        err, err_size) != 0)
        goto done;
    if (image_dims[1] != FASHION_SIDE || image_dims[2] != FASHION_SIDE) {
        set_error(err, err_size, "%s: images are %lux%lu, expected %dx%d", image_path,
                  (unsigned long)image_dims[1], (unsigned long)image_dims[2], FASHION_SIDE,
                  FASHION_SIDE);
        goto done;
    }
    if (image_dims[0] == 0 || image_dims[0] != label_count) {
        set_error(err, err_size, "%s holds %lu images but %s holds %lu labels", image_path,
                  (unsigned long)image_dims[0], label_path, (unsigned long)label_count);
        goto done;
    }
    const size_t n_rows = max_rows == 0 || max_rows > label_count ? label_count : max_rows;

    /* Read in slices so the byte image of the whole file is never held at once. */
    const size_t rows_per_slice = 1024;
    bytes = malloc(rows_per_slice * data.n_cols);
    if (bytes == NULL) {
        set_error(err, err_size, "out of memory reading %s", image_path);
        goto done;
    }
    for (size_t row = 0; row < n_rows; row += rows_per_slice) {
        size_t n_slice = n_rows - row < rows_per_slice ? n_rows - row : rows_per_slice;
        if (grow(&data, &capacity, row + n_slice, err, err_size) != 0 ||
            read_exact(images_file, image_path, bytes, n_slice * data.n_cols, err,
                       err_size) != 0 ||
            read_exact(labels_file, label_path, data.labels + row, n_slice, err, err_size) != 0)
            goto done;
        float *dst = data.pixels + row * data.n_cols;
        for (size_t i = 0; i < n_slice * data.n_cols; i++)
            dst[i] = (float)bytes[i] / 255.0f;
        for (size_t i = row; i < row + n_slice; i++) {
            if (data.labels[i] >= FASHION_CLASSES) {
                set_error(err, err_size, "%s: label %u of row %zu is out of range 0..9",
                          label_path, (unsigned)data.labels[i], i);
                goto done;
            }
        }
    }
    data.n_rows = n_rows;
    *out = data;
    rc = 0;
done:
    free(bytes);
    if (images_file != NULL)
        gzclose(images_file);
    if (labels_file != NULL)
        gzclose(labels_file);
    if (rc != 0) {
        free(data.pixels);
        free(data.labels);
    }
    return rc;
}

void fashion_mnist_free(fashion_mnist *data)
{
    if (data == NULL)
        return;
    free(data->pixels);
    free(data->labels);
    memset(data, 0, sizeof *data);
}
