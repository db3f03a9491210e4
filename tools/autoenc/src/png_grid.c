/* PNG grids through libpng, written to an atomic output (output.h). */
#define _POSIX_C_SOURCE 200809L
#include "png_grid.h"

#include "cli.h"
#include "output.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

enum { GAP_GREY = 128 };

int cli_image_shape_for(size_t dim, const cli_image_shape *given, const cli_image_shape *from_file,
                        cli_image_shape *out)
{
    if (given && given->width) {
        if (given->width * given->height * given->channels != dim)
            return cli_fail(CLI_EX_USAGE, "--image %zux%zu%s holds %zu values, the rows have %zu",
                            given->width, given->height, given->channels == 3 ? "x3" : "",
                            given->width * given->height * given->channels, dim);
        *out = *given;
        return 0;
    }
    if (from_file && from_file->width && from_file->width * from_file->height * from_file->channels == dim) {
        *out = *from_file;
        return 0;
    }
    size_t side = (size_t)llround(sqrt((double)dim));
    if (side * side == dim) {
        *out = (cli_image_shape){side, side, 1};
        return 0;
    }
    return cli_fail(CLI_EX_USAGE,
                    "rows of %zu values are not square images: give their shape with --image "
                    "WIDTHxHEIGHT",
                    dim);
}

static void find_range(const float *const *cells, size_t n_cells, size_t dim, float *lo, float *hi)
{
    float mn = INFINITY, mx = -INFINITY;
    for (size_t c = 0; c < n_cells; c++)
        for (size_t i = 0; cells[c] && i < dim; i++) {
            float v = cells[c][i];
            if (v < mn) mn = v;
            if (v > mx) mx = v;
        }
    if (!(mn >= 0.0f && mx <= 1.0f)) {
        *lo = isfinite(mn) ? mn : 0.0f;
        *hi = isfinite(mx) && mx > *lo ? mx : *lo + 1.0f;
    } else {
        *lo = 0.0f;
        *hi = 1.0f;
    }
}

static png_byte to_byte(float v, float lo, float hi)
{
    float t = (v - lo) / (hi - lo);
    if (!(t > 0.0f))
        return 0; /* also NaN */
    if (t >= 1.0f)
        return 255;
    return (png_byte)lrintf(t * 255.0f);
}

static void png_error_fn(png_structp png, png_const_charp msg)
{
    cli_fail(CLI_EX_IOERR, "libpng: %s", msg);
    longjmp(png_jmpbuf(png), 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

enum { MAX_SIDE = 100000 };
static const double max_bytes = 1073741824.0; /* 1 GiB of pixels */

/* The picture's size in pixels, in double so that no count can overflow. */
static void grid_size(size_t grid_rows, size_t grid_cols, const cli_image_shape *shape,
                      size_t scale, double *width, double *height)
{
    double s = (double)scale;
    *width = (double)grid_cols * ((double)shape->width * s + s) + s;
    *height = (double)grid_rows * ((double)shape->height * s + s) + s;
}

static int grid_fits(size_t grid_rows, size_t grid_cols, const cli_image_shape *shape,
                     size_t scale)
{
    double width, height;
    grid_size(grid_rows, grid_cols, shape, scale, &width, &height);
    return width <= MAX_SIDE && height <= MAX_SIDE &&
           width * height * (double)shape->channels <= max_bytes;
}

int cli_png_grid_check(const char *path, size_t grid_rows, size_t grid_cols,
                       const cli_image_shape *shape, size_t scale, const char *count_option)
{
    if (grid_fits(grid_rows, grid_cols, shape, scale))
        return 0;
    double width, height;
    grid_size(grid_rows, grid_cols, shape, scale, &width, &height);
    char hint[96];
    size_t fitting = scale;
    while (fitting > 1 && !grid_fits(grid_rows, grid_cols, shape, fitting))
        fitting--;
    if (grid_fits(grid_rows, grid_cols, shape, fitting))
        snprintf(hint, sizeof hint, "lower --scale (%zu fits) or %s", fitting, count_option);
    else if (!grid_fits(1, 1, shape, 1))
        snprintf(hint, sizeof hint, "the images themselves are too large to draw");
    else
        snprintf(hint, sizeof hint, "lower %s", count_option);
    return cli_fail(CLI_EX_USAGE,
                    "%s: a picture of %.0f x %.0f pixels is too large (at most %d each way and "
                    "1 GiB): %s",
                    path, width, height, MAX_SIDE, hint);
}

int cli_png_grid(cli_atomic *out, const float *const *cells, size_t grid_rows,
                 size_t grid_cols, const cli_image_shape *shape, size_t scale)
{
    int rc = cli_png_grid_check(out->path, grid_rows, grid_cols, shape, scale, "the rows");
    if (rc) {
        cli_atomic_abort(out);
        return rc;
    }
    const size_t w = shape->width, h = shape->height, ch = shape->channels;
    const size_t dim = w * h * ch;
    const size_t cell_w = w * scale, cell_h = h * scale;
    const size_t width = grid_cols * cell_w + (grid_cols + 1) * scale;
    const size_t height = grid_rows * cell_h + (grid_rows + 1) * scale;
    float lo, hi;
    find_range(cells, grid_rows * grid_cols, dim, &lo, &hi);
    png_bytep pixels = cli_malloc_array(height, width * ch);
    png_bytepp rows = cli_malloc_array(height, sizeof *rows);
    png_structp png = pixels && rows ? png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL,
                                                               png_error_fn, png_warning_fn)
                                     : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, &info);
        cli_atomic_abort(out);
        free(pixels);
        free(rows);
        return cli_fail(CLI_EX_OSERR, "out of memory");
    }
    memset(pixels, GAP_GREY, height * width * ch);
    for (size_t gr = 0; gr < grid_rows; gr++)
        for (size_t gc = 0; gc < grid_cols; gc++) {
            const float *cell = cells[gr * grid_cols + gc];
            if (!cell)
                continue;
            size_t x0 = scale + gc * (cell_w + scale), y0 = scale + gr * (cell_h + scale);
            for (size_t y = 0; y < cell_h; y++)
                for (size_t x = 0; x < cell_w; x++)
                    for (size_t c = 0; c < ch; c++)
                        pixels[((y0 + y) * width + x0 + x) * ch + c] =
                            to_byte(cell[((y / scale) * w + x / scale) * ch + c], lo, hi);
        }
    for (size_t y = 0; y < height; y++)
        rows[y] = pixels + y * width * ch;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        cli_atomic_abort(out);
        free(pixels);
        free(rows);
        return CLI_EX_IOERR;
    }
    png_init_io(png, out->fp);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 ch == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(pixels);
    free(rows);
    return cli_atomic_finish(out);
}
