/* Fashion-MNIST reader for the examples, tests and benchmarks (not part of the library).
 * Reads the gzip-compressed IDX files shipped by Debian's dataset-fashion-mnist package. */
#ifndef AE_EXAMPLES_FASHION_MNIST_H
#define AE_EXAMPLES_FASHION_MNIST_H

#include <stddef.h>
#include <stdint.h>

/** Where Debian's dataset-fashion-mnist package puts the files. */
#define FASHION_MNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"

typedef struct fashion_mnist {
    float *pixels;    /**< n_rows x n_cols row-major, scaled to [0, 1] */
    uint8_t *labels;  /**< n_rows class labels 0..9 */
    size_t n_rows;
    size_t n_cols;    /**< 784 */
} fashion_mnist;

typedef enum fashion_mnist_split { FASHION_MNIST_TRAIN = 0, FASHION_MNIST_TEST = 1 } fashion_mnist_split;

/**
 * Load the first @p max_rows rows (0 = all) of a split from @p dir (NULL = the
 * default directory, or the FASHION_MNIST_DIR environment variable if set).
 * Returns 0 on success; on failure returns -1, leaves @p out zeroed and writes
 * a message into @p err (@p err_size bytes).
 */
int fashion_mnist_load(const char *dir, fashion_mnist_split split, size_t max_rows,
                       fashion_mnist *out, char *err, size_t err_size);

/** Free what fashion_mnist_load() allocated; zeroes @p data. NULL-safe. */
void fashion_mnist_free(fashion_mnist *data);

#endif
