/* Pictures of rows: a grid of images written as a PNG file through libpng. */
#ifndef AUTOENC_PNG_GRID_H
#define AUTOENC_PNG_GRID_H

#include <stddef.h>

#include "output.h"

typedef struct cli_image_shape {
    size_t width, height, channels; /* channels 1 (grey) or 3 (RGB, interleaved) */
} cli_image_shape;

/* Whether a grid of @p grid_rows x @p grid_cols cells fits in a picture (at most 100000
 * pixels each way and 1 GiB of pixels); else says what to lower (--scale, or
 * @p count_option, the option that sets the number of cells) and returns CLI_EX_USAGE.
 * Called before the work, with the grid cli_png_grid will get. */
int cli_png_grid_check(const char *path, size_t grid_rows, size_t grid_cols,
                       const cli_image_shape *shape, size_t scale, const char *count_option);

/* Write @p grid_rows x @p grid_cols cells (row-major; NULL for an empty cell), each a row
 * of width*height*channels values, every pixel drawn as @p scale x @p scale pixels, to
 * @p out (opened with cli_atomic_open, finished here). Cells are separated and framed by
 * @p scale pixels of grey 128. Values map to 0..255 from [0, 1] when they all lie there,
 * else from the smallest to the largest value shown. 0 or an exit status. */
int cli_png_grid(cli_atomic *out, const float *const *cells, size_t grid_rows,
                 size_t grid_cols, const cli_image_shape *shape, size_t scale);

/* The image shape of rows of @p dim values: @p given if set (checked against @p dim),
 * else the data file's shape, else a square when dim is a perfect square.
 * 0 or an exit status. */
int cli_image_shape_for(size_t dim, const cli_image_shape *given, const cli_image_shape *from_file,
                        cli_image_shape *out);

#endif
