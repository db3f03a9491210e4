#include "test_data.h"

#include <math.h>
#include <stdlib.h>

/* splitmix64: tiny, good enough for test data, independent of the library's generator. */
static uint64_t next_u64(test_rng *rng)
{
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void test_rng_seed(test_rng *rng, uint64_t seed) { rng->state = seed; }

double test_rng_uniform(test_rng *rng) { return (double)(next_u64(rng) >> 11) * 0x1.0p-53; }

double test_rng_normal(test_rng *rng)
{
    double u1 = test_rng_uniform(rng), u2 = test_rng_uniform(rng);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

float *test_random_matrix(test_rng *rng, size_t rows, size_t cols, size_t ld, float lo, float hi)
{
    float *m = malloc(rows * ld * sizeof *m);
    if (!m)
        return NULL;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < ld; j++)
            m[i * ld + j] = j < cols ? lo + (hi - lo) * (float)test_rng_uniform(rng) : NAN;
    return m;
}

float *test_low_rank_matrix(test_rng *rng, size_t rows, size_t cols, size_t rank)
{
    double *left = malloc(rows * rank * sizeof *left);
    double *right = malloc(rank * cols * sizeof *right);
    float *m = malloc(rows * cols * sizeof *m);
    if (!left || !right || !m) {
        free(left), free(right), free(m);
        return NULL;
    }
    for (size_t i = 0; i < rows * rank; i++)
        left[i] = test_rng_normal(rng);
    for (size_t i = 0; i < rank * cols; i++)
        right[i] = test_rng_normal(rng);
    double scale = 1.0 / sqrt((double)rank);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double sum = 0;
            for (size_t k = 0; k < rank; k++)
                sum += left[i * rank + k] * right[k * cols + j];
            m[i * cols + j] = (float)(sum * scale);
        }
    free(left);
    free(right);
    return m;
}

double test_max_abs_diff(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > worst || d != d)
            worst = d;
    }
    return worst;
}
