/* Helper for the tool's tests: writes small data files of every format the tool reads,
 * checks PNG pictures pixel by pixel with libpng, and measures a command's peak memory.
 *   cli_test_helper npy OUT ROWS COLS DTYPE [fortran]   DTYPE: f4 f8 i4 u1 >f4
 *   cli_test_helper idx OUT ROWS WIDTH HEIGHT            (gzip if OUT ends in .gz)
 *   cli_test_helper labels OUT ROWS                      IDX labels i % 3 (gzip if .gz)
 *   cli_test_helper csv OUT ROWS COLS [header] [DELIM]
 *   cli_test_helper pngcheck PNG W H SCALE GRID_ROWS GRID_COLS CELLS.csv
 *   cli_test_helper maxrss COMMAND...                    prints the peak RSS in KiB
 *   cli_test_helper interleave IN.npy OUT.npy RANKS BATCH
 *       IN's rows in the order one process meets them when it trains on the combined
 *       batches of RANKS processes holding ae_mpi_shard_range blocks of IN, BATCH rows each
 *       (step k: rows k*BATCH.. of every block in rank order); float32 C-order NPY only
 *   cli_test_helper weights A.model B.model RTOL
 *       prints max |a - b| / max |b| over the two models' parameters; fails above RTOL
 * Values are a fixed pseudo-random sequence in [0, 1] (integers: 0..255). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <autoenc.h>

static uint64_t state = 12345;
static double next_value(void)
{
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(state >> 40) / (double)(1ULL << 24);
}

static int write_npy(const char *path, size_t rows, size_t cols, const char *dtype, int fortran)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    char dict[128];
    const char *descr = strcmp(dtype, "f4") == 0 ? "<f4" : strcmp(dtype, "f8") == 0 ? "<f8"
                      : strcmp(dtype, "i4") == 0 ? "<i4" : strcmp(dtype, "u1") == 0 ? "|u1" : ">f4";
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': (%zu, %zu), }",
                     descr, fortran ? "True" : "False", rows, cols);
    size_t total = 10 + (size_t)n + 1, padded = (total + 63) / 64 * 64;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)((padded - 10) & 255),
                             (unsigned char)((padded - 10) >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)n, f);
    for (size_t i = total; i < padded; i++)
        fputc(' ', f);
    fputc('\n', f);
    size_t count = rows * cols;
    for (size_t k = 0; k < count; k++) {
        double v = next_value();
        if (strcmp(descr, "<f4") == 0) {
            float x = (float)v;
            fwrite(&x, 4, 1, f);
        } else if (strcmp(descr, "<f8") == 0) {
            fwrite(&v, 8, 1, f);
        } else if (strcmp(descr, "<i4") == 0) {
            int32_t x = (int32_t)(v * 255);
            fwrite(&x, 4, 1, f);
        } else if (strcmp(descr, "|u1") == 0) {
            fputc((int)(v * 255), f);
        } else {
            float x = (float)v;
            unsigned char b[4], r[4];
            memcpy(b, &x, 4);
            for (int i = 0; i < 4; i++)
                r[i] = b[3 - i];
            fwrite(r, 1, 4, f);
        }
    }
    return fclose(f) != 0;
}

static int write_idx(const char *path, size_t rows, size_t w, size_t h, int labels)
{
    size_t n = strlen(path);
    int gz = n > 3 && strcmp(path + n - 3, ".gz") == 0;
    gzFile f = gzopen(path, gz ? "wb" : "wbT");
    if (!f)
        return 1;
    unsigned char head[16] = {0, 0, 8, labels ? 1 : 3};
    uint32_t dims[3] = {(uint32_t)rows, (uint32_t)h, (uint32_t)w};
    int ndim = labels ? 1 : 3;
    for (int d = 0; d < ndim; d++)
        for (int b = 0; b < 4; b++)
            head[4 + 4 * d + b] = (unsigned char)(dims[d] >> (24 - 8 * b));
    gzwrite(f, head, (unsigned)(4 + 4 * ndim));
    for (size_t i = 0; i < rows; i++) {
        if (labels) {
            unsigned char c = (unsigned char)(i % 3);
            gzwrite(f, &c, 1);
            continue;
        }
        for (size_t k = 0; k < w * h; k++) {
            unsigned char c = (unsigned char)(next_value() * 255);
            gzwrite(f, &c, 1);
        }
    }
    return gzclose(f) != Z_OK;
}

static int write_csv(const char *path, size_t rows, size_t cols, int header, char delim)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    if (header)
        for (size_t j = 0; j < cols; j++)
            fprintf(f, "%sc%zu", j ? (char[]){delim, 0} : "", j + 1);
    if (header)
        fputc('\n', f);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            fprintf(f, "%.6f%c", next_value(), j + 1 < cols ? delim : '\n');
    return fclose(f) != 0;
}

static int png_check(char **argv)
{
    const char *path = argv[0];
    size_t w = strtoul(argv[1], NULL, 10), h = strtoul(argv[2], NULL, 10);
    size_t scale = strtoul(argv[3], NULL, 10), grid_rows = strtoul(argv[4], NULL, 10);
    size_t grid_cols = strtoul(argv[5], NULL, 10);
    size_t n_cells = grid_rows * grid_cols, dim = w * h;
    float *cells = calloc(n_cells * dim, sizeof *cells);
    FILE *c = fopen(argv[6], "r");
    if (!c || !cells)
        return 2;
    for (size_t i = 0; i < n_cells * dim; i++)
        if (fscanf(c, " %f%*[,\t]", &cells[i]) != 1) {
            fprintf(stderr, "pngcheck: %s: too few values (%zu)\n", argv[6], i);
            return 2;
        }
    fclose(c);
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) {
        fprintf(stderr, "pngcheck: %s: %s\n", path, image.message);
        return 1;
    }
    image.format = PNG_FORMAT_GRAY;
    png_bytep pixels = malloc(PNG_IMAGE_SIZE(image));
    if (!pixels || !png_image_finish_read(&image, NULL, pixels, 0, NULL)) {
        fprintf(stderr, "pngcheck: %s: cannot decode\n", path);
        return 1;
    }
    size_t width = grid_cols * w * scale + (grid_cols + 1) * scale;
    size_t height = grid_rows * h * scale + (grid_rows + 1) * scale;
    if (image.width != width || image.height != height) {
        fprintf(stderr, "pngcheck: %s is %ux%u, expected %zux%zu\n", path, image.width,
                image.height, width, height);
        return 1;
    }
    float lo = 0, hi = 1, mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n_cells * dim; i++) {
        mn = cells[i] < mn ? cells[i] : mn;
        mx = cells[i] > mx ? cells[i] : mx;
    }
    if (!(mn >= 0 && mx <= 1)) {
        lo = mn;
        hi = mx > mn ? mx : mn + 1;
    }
    for (size_t y = 0; y < height; y++)
        for (size_t x = 0; x < width; x++) {
            int expected = 128;
            size_t gx = x / (w * scale + scale), gy = y / (h * scale + scale);
            size_t ox = x % (w * scale + scale), oy = y % (h * scale + scale);
            if (ox >= scale && oy >= scale && gx < grid_cols && gy < grid_rows) {
                float v = cells[(gy * grid_cols + gx) * dim + ((oy - scale) / scale) * w + (ox - scale) / scale];
                float t = (v - lo) / (hi - lo);
                expected = !(t > 0) ? 0 : t >= 1 ? 255 : (int)lrintf(t * 255.0f);
            }
            int got = pixels[y * width + x];
            if (abs(got - expected) > 1) { /* CSV holds values to 9 digits */
                fprintf(stderr, "pngcheck: %s: pixel (%zu, %zu) is %d, expected %d\n", path, x,
                        y, got, expected);
                return 1;
            }
        }
    printf("pngcheck: %s: %zux%zu, every pixel as expected\n", path, width, height);
    free(pixels);
    free(cells);
    return 0;
}

static int max_rss(char **argv)
{
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    struct rusage usage;
    if (pid < 0 || wait4(pid, &status, 0, &usage) < 0)
        return 2;
    printf("%ld\n", usage.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A little-endian float32 C-order 2-D NPY file read whole (small test files only). */
static float *read_npy_f4(const char *path, size_t *rows, size_t *cols)
{
    FILE *f = fopen(path, "rb");
    unsigned char head[10];
    if (!f || fread(head, 1, 10, f) != 10 || memcmp(head, "\x93NUMPY\x01", 7) != 0) {
        if (f)
            fclose(f);
        return NULL;
    }
    size_t header_len = (size_t)head[8] | (size_t)head[9] << 8;
    char dict[1024] = {0};
    float *data = NULL;
    if (header_len < sizeof dict && fread(dict, 1, header_len, f) == header_len &&
        strstr(dict, "'<f4'") && strstr(dict, "'fortran_order': False")) {
        const char *shape = strstr(dict, "'shape': (");
        if (shape && sscanf(shape, "'shape': (%zu, %zu)", rows, cols) == 2 &&
            (data = malloc(*rows * *cols * sizeof *data + 1)) != NULL &&
            fread(data, sizeof *data, *rows * *cols, f) != *rows * *cols) {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

static int write_npy_f4(const char *path, const float *data, size_t rows, size_t cols)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                     rows, cols);
    size_t total = 10 + (size_t)n + 1, padded = (total + 63) / 64 * 64;
    unsigned header_len = (unsigned)(padded - 10);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc((int)(header_len & 0xff), f);
    fputc((int)(header_len >> 8), f);
    fwrite(dict, 1, (size_t)n, f);
    for (size_t i = total; i < padded; i++)
        fputc(' ', f);
    fputc('\n', f);
    size_t written = fwrite(data, sizeof *data, rows * cols, f);
    return fclose(f) != 0 || written != rows * cols;
}

static int interleave(const char *in, const char *out, size_t ranks, size_t batch)
{
    size_t rows = 0, cols = 0;
    float *x = read_npy_f4(in, &rows, &cols);
    float *y = x ? malloc(rows * cols * sizeof *y + 1) : NULL;
    if (!y || ranks == 0 || batch == 0) {
        free(x);
        return 2;
    }
    size_t out_row = 0, base = rows / ranks, extra = rows % ranks;
    for (size_t step = 0; out_row < rows; step++)
        for (size_t r = 0; r < ranks; r++) { /* ae_mpi_shard_range's blocks */
            size_t first = r * base + (r < extra ? r : extra), count = base + (r < extra);
            for (size_t i = step * batch; i < (step + 1) * batch && i < count; i++)
                memcpy(y + cols * out_row++, x + cols * (first + i), cols * sizeof *y);
        }
    int rc = write_npy_f4(out, y, rows, cols);
    free(x);
    free(y);
    return rc;
}

static int compare_weights(const char *a_path, const char *b_path, double tolerance)
{
    ae_model *a = NULL, *b = NULL;
    if (ae_model_load(&a, a_path) != AE_OK || ae_model_load(&b, b_path) != AE_OK) {
        fprintf(stderr, "cli_test_helper: %s\n", ae_last_error());
        ae_model_free(a);
        return 2;
    }
    size_t n = ae_model_param_count(a);
    float *wa = malloc(n * sizeof *wa + 1), *wb = malloc(n * sizeof *wb + 1);
    int rc = 2;
    if (wa && wb && n == ae_model_param_count(b) && ae_model_get_params(a, wa, n) == AE_OK &&
        ae_model_get_params(b, wb, n) == AE_OK) {
        double worst = 0, scale = 0;
        for (size_t i = 0; i < n; i++) {
            worst = fmax(worst, fabs((double)wa[i] - wb[i]));
            scale = fmax(scale, fabs((double)wb[i]));
        }
        printf("%.3g\n", worst / scale);
        rc = worst / scale <= tolerance ? 0 : 1;
    }
    free(wa);
    free(wb);
    ae_model_free(a);
    ae_model_free(b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *what = argv[1];
    if (strcmp(what, "npy") == 0 && argc >= 6)
        return write_npy(argv[2], strtoul(argv[3], NULL, 10), strtoul(argv[4], NULL, 10), argv[5],
                         argc > 6 && strcmp(argv[6], "fortran") == 0);
    if (strcmp(what, "idx") == 0 && argc >= 6)
        return write_idx(argv[2], strtoul(argv[3], NULL, 10), strtoul(argv[4], NULL, 10),
                         strtoul(argv[5], NULL, 10), 0);
    if (strcmp(what, "labels") == 0 && argc >= 4)
        return write_idx(argv[2], strtoul(argv[3], NULL, 10), 0, 0, 1);
    if (strcmp(what, "csv") == 0 && argc >= 5)
        return write_csv(argv[2], strtoul(argv[3], NULL, 10), strtoul(argv[4], NULL, 10),
                         argc > 5 && strcmp(argv[5], "header") == 0, argc > 6 ? argv[6][0] : ',');
    if (strcmp(what, "pngcheck") == 0 && argc >= 9)
        return png_check(argv + 2);
    if (strcmp(what, "maxrss") == 0)
        return max_rss(argv + 2);
    if (strcmp(what, "interleave") == 0 && argc >= 6)
        return interleave(argv[2], argv[3], strtoul(argv[4], NULL, 10), strtoul(argv[5], NULL, 10));
    if (strcmp(what, "weights") == 0 && argc >= 5)
        return compare_weights(argv[2], argv[3], strtod(argv[4], NULL));
    fprintf(stderr, "cli_test_helper: bad arguments\n");
    return 2;
}
