/* Deterministic data for the test suites: a tiny seeded generator and matrix makers. */
#ifndef AE_TEST_DATA_H
#define AE_TEST_DATA_H

#include <stddef.h>
#include <stdint.h>

typedef struct test_rng {
    uint64_t state;
} test_rng;

void test_rng_seed(test_rng *rng, uint64_t seed);
/** Uniform in [0, 1). */
double test_rng_uniform(test_rng *rng);
/** Standard normal. */
double test_rng_normal(test_rng *rng);

/** A malloc'ed rows x ld matrix (ld >= cols) with entries uniform in [lo, hi) in the
 *  first cols columns and NaN in the padding, so code reading past a row shows up. */
float *test_random_matrix(test_rng *rng, size_t rows, size_t cols, size_t ld, float lo, float hi);

/** A malloc'ed rows x cols matrix of exact rank @p rank: (rows x rank) * (rank x cols)
 *  normal factors, scaled so entries have unit variance. */
float *test_low_rank_matrix(test_rng *rng, size_t rows, size_t cols, size_t rank);

/** Largest |a[i] - b[i]| over n entries. */
double test_max_abs_diff(const float *a, const float *b, size_t n);

#endif
