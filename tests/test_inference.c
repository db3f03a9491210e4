/* Inference: encode, decode, reconstruct, score and loss agree with each other, with
 * row-by-row calls, with padded layouts, across internal chunks and across threads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "reference_net.h"
#include "test_data.h"
#include "test_models.h"

#define N_IN 24
#define N_LATENT 6

/* Batched and row-by-row calls may reach cblas_sgemm with different row counts, and
 * OpenBLAS may then block the inner products differently (small-matrix kernels, other
 * tile edges). Reordering a float sum of K terms moves it by at most about
 * 2 K 2^-24 sum|terms|. Here K <= 24, inputs lie in [0, 1], hidden outputs in [-1, 1]
 * and weights are N(0, 0.25^2), so sum|terms| is a few units and the worst case is
 * below ~1e-5 per layer; typical differences are ~1e-7. A wrong row, weight or bias
 * changes values by ~1e-2 or more, so 2e-5 * (1 + |value|) separates rounding from
 * real differences. */
#define ORDER_TOL 2e-5

static ae_model *make_model(int output_activation, int loss)
{
    size_t widths[] = {N_IN, 16, N_LATENT};
    ae_model *m = test_create_model(widths, 3, NULL, 0);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH), AE_OK);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, output_activation), AE_OK);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_LOSS, loss), AE_OK);
    /* non-trivial weights and biases (the default biases are zero) */
    size_t n = ae_model_param_count(m);
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    test_rng rng;
    test_rng_seed(&rng, 99);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(0.25 * test_rng_normal(&rng));
    assert_int_equal(ae_model_set_params(m, p, n), AE_OK);
    free(p);
    return m;
}

static float *make_data(uint64_t seed, size_t rows, size_t cols, size_t ld)
{
    test_rng rng;
    test_rng_seed(&rng, seed);
    float *x = test_random_matrix(&rng, rows, cols, ld, 0.0f, 1.0f);
    assert_non_null(x);
    return x;
}

static float *alloc_floats(size_t n, float fill)
{
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = fill;
    return p;
}

static void assert_close(const float *a, const float *b, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++) {
        double scale = 1.0 + fabs((double)b[i]);
        if (!(fabs((double)a[i] - (double)b[i]) <= tol * scale))
            fail_msg("entry %zu: %.9g vs %.9g (tolerance %g)", i, (double)a[i], (double)b[i], tol * scale);
    }
}

static void assert_all_finite(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_true(isfinite(a[i]));
}

/* ------------------------------------------------------------ consistency */

static void test_encode_then_decode_equals_reconstruct(void **state)
{
    (void)state;
    const size_t n = 37;
    ae_model *m = make_model(AE_ACT_SIGMOID, AE_LOSS_MSE);
    float *x = make_data(1, n, N_IN, N_IN);
    float *z = alloc_floats(n * N_LATENT, NAN);
    float *y_via_code = alloc_floats(n * N_IN, NAN);
    float *y = alloc_floats(n * N_IN, NAN);
    assert_int_equal(ae_model_encode(m, x, n, N_IN, z, N_LATENT), AE_OK);
    assert_int_equal(ae_model_decode(m, z, n, N_LATENT, y_via_code, N_IN), AE_OK);
    assert_int_equal(ae_model_reconstruct(m, x, n, N_IN, y, N_IN), AE_OK);
    assert_all_finite(y, n * N_IN);
    /* the same layers on the same number of rows: the same arithmetic */
    assert_memory_equal(y, y_via_code, n * N_IN * sizeof *y);
    free(x);
    free(z);
    free(y_via_code);
    free(y);
    ae_model_free(m);
}

static void test_batch_calls_equal_row_by_row_calls(void **state)
{
    (void)state;
    const size_t n = 53;
    ae_model *m = make_model(AE_ACT_SIGMOID, AE_LOSS_MSE);
    float *x = make_data(2, n, N_IN, N_IN);
    float *z = alloc_floats(n * N_LATENT, NAN), *z1 = alloc_floats(n * N_LATENT, NAN);
    float *y = alloc_floats(n * N_IN, NAN), *y1 = alloc_floats(n * N_IN, NAN);
    float *d = alloc_floats(n * N_IN, NAN), *d1 = alloc_floats(n * N_IN, NAN);
    float *s = alloc_floats(n, NAN), *s1 = alloc_floats(n, NAN);
    assert_int_equal(ae_model_encode(m, x, n, N_IN, z, N_LATENT), AE_OK);
    assert_int_equal(ae_model_reconstruct(m, x, n, N_IN, y, N_IN), AE_OK);
    assert_int_equal(ae_model_decode(m, z, n, N_LATENT, d, N_IN), AE_OK);
    assert_int_equal(ae_model_score(m, x, n, N_IN, s), AE_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ae_model_encode(m, x + i * N_IN, 1, N_IN, z1 + i * N_LATENT, N_LATENT), AE_OK);
        assert_int_equal(ae_model_reconstruct(m, x + i * N_IN, 1, N_IN, y1 + i * N_IN, N_IN), AE_OK);
        assert_int_equal(ae_model_decode(m, z + i * N_LATENT, 1, N_LATENT, d1 + i * N_IN, N_IN), AE_OK);
        assert_int_equal(ae_model_score(m, x + i * N_IN, 1, N_IN, s1 + i), AE_OK);
    }
    assert_all_finite(z, n * N_LATENT);
    assert_close(z1, z, n * N_LATENT, ORDER_TOL);
    assert_close(y1, y, n * N_IN, ORDER_TOL);
    assert_close(d1, d, n * N_IN, ORDER_TOL);
    assert_close(s1, s, n, ORDER_TOL);
    /* and the rows really differ from each other (a test that cannot fail is a defect) */
    assert_true(test_max_abs_diff(z, z + N_LATENT, N_LATENT) > 1e-3);
    free(x), free(z), free(z1), free(y), free(y1), free(d), free(d1), free(s), free(s1);
    ae_model_free(m);
}

/* A call of 8 rows or more multiplies the layers of 16 units or more by a copy of their
 * weights transposed, made for the call (src/net.c, ae_multiplies_copy); single rows
 * multiply by W itself. Each result of such calls, at row counts below, at and above 8 and
 * over several chunks, is the row-by-row call's up to summation order, and the scores are
 * the double reference's (untied), for a model whose layers take the copy beside one that
 * does not (12 units), untied and tied (whose decoder multiplies by its mirror's weights),
 * and again after the weights change (the copies follow). */
static void test_calls_that_multiply_by_transposed_copies_match_rows_and_the_reference(void **state)
{
    (void)state;
    enum { D = 24, K = 12, MOST = 700 }; /* no layer of more than 24 inputs: ORDER_TOL holds */
    static const size_t widths[] = {D, 16, K};
    static const size_t row_counts[] = {5, 8, 37, MOST}; /* 700: several chunks */
    float *x = make_data(11, MOST, D, D);
    float *z = alloc_floats(MOST * K, NAN), *z1 = alloc_floats(K, NAN);
    float *y = alloc_floats(MOST * D, NAN), *y1 = alloc_floats(D, NAN);
    float *s = alloc_floats(MOST, NAN), *s1 = alloc_floats(1, NAN);
    double *ref = malloc(MOST * sizeof *ref);
    assert_non_null(ref);
    for (int tied = 0; tied < 2; tied++) {
        ae_model *m = NULL;
        assert_int_equal(ae_model_create_ex(&m, widths, 3, NULL, 0, tied ? AE_ARCH_TIED_WEIGHTS : 0), AE_OK);
        test_set_activations(m, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_SIGMOID);
        for (int round = 0; round < 2; round++) {
            const size_t n_params = ae_model_param_count(m);
            float *p = malloc(n_params * sizeof *p);
            assert_non_null(p);
            test_rng rng;
            test_rng_seed(&rng, 700u + 10u * (uint64_t)tied + (uint64_t)round);
            for (size_t i = 0; i < n_params; i++)
                p[i] = (float)(0.25 * test_rng_normal(&rng));
            assert_int_equal(ae_model_set_params(m, p, n_params), AE_OK);
            free(p);
            if (!tied) { /* the reference has no tied layers */
                ref_net net;
                assert_int_equal(ref_net_from_model(&net, m), 0);
                assert_int_equal(ref_net_row_losses(&net, x, MOST, D, ref), 0);
                ref_net_free(&net);
            }
            for (size_t c = 0; c < sizeof row_counts / sizeof row_counts[0]; c++) {
                const size_t n = row_counts[c];
                assert_int_equal(ae_model_encode(m, x, n, D, z, K), AE_OK);
                assert_int_equal(ae_model_reconstruct(m, x, n, D, y, D), AE_OK);
                assert_int_equal(ae_model_score(m, x, n, D, s), AE_OK);
                for (size_t i = 0; i < n; i++) {
                    assert_int_equal(ae_model_encode(m, x + i * D, 1, D, z1, K), AE_OK);
                    assert_int_equal(ae_model_reconstruct(m, x + i * D, 1, D, y1, D), AE_OK);
                    assert_int_equal(ae_model_score(m, x + i * D, 1, D, s1), AE_OK);
                    assert_close(z + i * K, z1, K, ORDER_TOL);
                    assert_close(y + i * D, y1, D, ORDER_TOL);
                    assert_close(s + i, s1, 1, ORDER_TOL);
                    assert_true(tied || fabs((double)s[i] - ref[i]) <= 1e-5 * ref[i]);
                }
            }
        }
        ae_model_free(m);
    }
    free(x), free(z), free(z1), free(y), free(y1), free(s), free(s1), free(ref);
}

/* ----------------------------------------------------------------- layouts */

#define SENTINEL 12345.5f

static void assert_padding_untouched(const float *p, size_t rows, size_t cols, size_t ld)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = cols; j < ld; j++)
            if (p[i * ld + j] != SENTINEL)
                fail_msg("padding at row %zu, column %zu was overwritten", i, j);
}

static void assert_rows_equal(const float *padded, size_t ld, const float *packed, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        assert_memory_equal(padded + i * ld, packed + i * cols, cols * sizeof *packed);
}

static void check_padded_outputs_match_packed_outputs(size_t n)
{
    const size_t ld_z = N_LATENT + 3, ld_y = N_IN + 5;
    ae_model *m = make_model(AE_ACT_SIGMOID, AE_LOSS_MSE);
    float *x = make_data(3, n, N_IN, N_IN);
    float *z = alloc_floats(n * N_LATENT, NAN), *y = alloc_floats(n * N_IN, NAN);
    float *d = alloc_floats(n * N_IN, NAN);
    float *zp = alloc_floats(n * ld_z, SENTINEL), *yp = alloc_floats(n * ld_y, SENTINEL);
    float *dp = alloc_floats(n * ld_y, SENTINEL);
    assert_int_equal(ae_model_encode(m, x, n, N_IN, z, N_LATENT), AE_OK);
    assert_int_equal(ae_model_reconstruct(m, x, n, N_IN, y, N_IN), AE_OK);
    assert_int_equal(ae_model_decode(m, z, n, N_LATENT, d, N_IN), AE_OK);
    assert_int_equal(ae_model_encode(m, x, n, N_IN, zp, ld_z), AE_OK);
    assert_int_equal(ae_model_reconstruct(m, x, n, N_IN, yp, ld_y), AE_OK);
    assert_int_equal(ae_model_decode(m, z, n, N_LATENT, dp, ld_y), AE_OK);
    assert_padding_untouched(zp, n, N_LATENT, ld_z);
    assert_padding_untouched(yp, n, N_IN, ld_y);
    assert_padding_untouched(dp, n, N_IN, ld_y);
    assert_rows_equal(zp, ld_z, z, n, N_LATENT);
    assert_rows_equal(yp, ld_y, y, n, N_IN);
    assert_rows_equal(dp, ld_y, d, n, N_IN);
    free(x), free(z), free(y), free(d), free(zp), free(yp), free(dp);
    ae_model_free(m);
}

static void test_padded_outputs_keep_their_padding_and_match_packed_outputs(void **state)
{
    (void)state;
    check_padded_outputs_match_packed_outputs(29);
}

/* Packed outputs of narrow layers (6 and 24 wide here) over enough rows are worked as one
 * block across row boundaries, padded ones row by row: the same values bit for bit. */
static void test_packed_outputs_of_many_narrow_rows_match_padded_ones_bit_for_bit(void **state)
{
    (void)state;
    check_padded_outputs_match_packed_outputs(67);
    check_padded_outputs_match_packed_outputs(1000);
}

static void test_padded_inputs_give_the_same_results_as_packed_inputs(void **state)
{
    (void)state;
    const size_t n = 31, ld_x = N_IN + 4, ld_z = N_LATENT + 2;
    ae_model *m = make_model(AE_ACT_SIGMOID, AE_LOSS_BCE);
    /* NaN in the padding: reading it would poison the outputs */
    float *xp = make_data(4, n, N_IN, ld_x);
    float *x = alloc_floats(n * N_IN, 0);
    for (size_t i = 0; i < n; i++)
        memcpy(x + i * N_IN, xp + i * ld_x, N_IN * sizeof *x);
    float *z = alloc_floats(n * N_LATENT, 0), *zq = alloc_floats(n * N_LATENT, 0);
    float *y = alloc_floats(n * N_IN, 0), *yq = alloc_floats(n * N_IN, 0);
    float *d = alloc_floats(n * N_IN, 0), *dq = alloc_floats(n * N_IN, 0);
    float *s = alloc_floats(n, 0), *sq = alloc_floats(n, 0);
    assert_int_equal(ae_model_encode(m, x, n, N_IN, z, N_LATENT), AE_OK);
    assert_int_equal(ae_model_encode(m, xp, n, ld_x, zq, N_LATENT), AE_OK);
    assert_memory_equal(z, zq, n * N_LATENT * sizeof *z);
    assert_int_equal(ae_model_reconstruct(m, x, n, N_IN, y, N_IN), AE_OK);
    assert_int_equal(ae_model_reconstruct(m, xp, n, ld_x, yq, N_IN), AE_OK);
    assert_memory_equal(y, yq, n * N_IN * sizeof *y);
    assert_int_equal(ae_model_score(m, x, n, N_IN, s), AE_OK);
    assert_int_equal(ae_model_score(m, xp, n, ld_x, sq), AE_OK);
    assert_memory_equal(s, sq, n * sizeof *s);
    double loss = 0, loss_padded = 0;
    assert_int_equal(ae_model_loss(m, x, n, N_IN, &loss), AE_OK);
    assert_int_equal(ae_model_loss(m, xp, n, ld_x, &loss_padded), AE_OK);
    assert_true(loss == loss_padded);
    assert_true(isfinite(loss));
    /* a padded latent input to decode */
    float *zp = alloc_floats(n * ld_z, NAN);
    for (size_t i = 0; i < n; i++)
        memcpy(zp + i * ld_z, z + i * N_LATENT, N_LATENT * sizeof *z);
    assert_int_equal(ae_model_decode(m, z, n, N_LATENT, d, N_IN), AE_OK);
    assert_int_equal(ae_model_decode(m, zp, n, ld_z, dq, N_IN), AE_OK);
    assert_memory_equal(d, dq, n * N_IN * sizeof *d);
    assert_all_finite(d, n * N_IN);
    free(xp), free(x), free(z), free(zq), free(y), free(yq), free(d), free(dq), free(s), free(sq), free(zp);
    ae_model_free(m);
}

/* -------------------------------------------------------------- many rows */

static void test_encoding_many_rows_equals_encoding_in_pieces(void **state)
{
    (void)state;
    const size_t n = 5000;
    const size_t pieces[] = {1, 3, 996, 2500, 1500}; /* sums to 5000 */
    ae_model *m = make_model(AE_ACT_SIGMOID, AE_LOSS_MSE);
    float *x = make_data(5, n, N_IN, N_IN);
    float *z = alloc_floats(n * N_LATENT, NAN), *zq = alloc_floats(n * N_LATENT, NAN);
    float *y = alloc_floats(n * N_IN, NAN), *yq = alloc_floats(n * N_IN, NAN);
    float *s = alloc_floats(n, NAN), *sq = alloc_floats(n, NAN);
    assert_int_equal(ae_model_encode(m, x, n, N_IN, z, N_LATENT), AE_OK);
    assert_int_equal(ae_model_reconstruct(m, x, n, N_IN, y, N_IN), AE_OK);
    assert_int_equal(ae_model_score(m, x, n, N_IN, s), AE_OK);
    size_t first = 0;
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        assert_int_equal(ae_model_encode(m, x + first * N_IN, pieces[k], N_IN, zq + first * N_LATENT, N_LATENT),
                         AE_OK);
        assert_int_equal(ae_model_reconstruct(m, x + first * N_IN, pieces[k], N_IN, yq + first * N_IN, N_IN),
                         AE_OK);
        assert_int_equal(ae_model_score(m, x + first * N_IN, pieces[k], N_IN, sq + first), AE_OK);
        first += pieces[k];
    }
    assert_int_equal(first, n);
    assert_all_finite(z, n * N_LATENT);
    assert_close(zq, z, n * N_LATENT, ORDER_TOL);
    assert_close(yq, y, n * N_IN, ORDER_TOL);
    assert_close(sq, s, n, ORDER_TOL);
    /* the last rows were really written (not left at the NaN fill) */
    assert_all_finite(y, n * N_IN);
    assert_all_finite(s, n);
    free(x), free(z), free(zq), free(y), free(yq), free(s), free(sq);
    ae_model_free(m);
}

/* ------------------------------------------------------------------ scores */

static void test_score_is_the_per_row_mse_of_the_reconstruction(void **state)
{
    (void)state;
    const size_t n = 300;
    ae_model *m = make_model(AE_ACT_LINEAR, AE_LOSS_MSE);
    float *x = make_data(6, n, N_IN, N_IN);
    float *y = alloc_floats(n * N_IN, NAN), *s = alloc_floats(n, NAN);
    assert_int_equal(ae_model_reconstruct(m, x, n, N_IN, y, N_IN), AE_OK);
    assert_int_equal(ae_model_score(m, x, n, N_IN, s), AE_OK);
    double total = 0, mean_of_scores = 0;
    for (size_t i = 0; i < n; i++) {
        double row = 0;
        for (size_t j = 0; j < N_IN; j++) {
            double e = (double)y[i * N_IN + j] - (double)x[i * N_IN + j];
            row += e * e;
        }
        row /= N_IN;
        total += row;
        mean_of_scores += s[i];
        /* score is a float: one rounding plus float accumulation of 24 terms */
        assert_true(fabs((double)s[i] - row) <= 1e-5 * row);
    }
    double loss = NAN;
    assert_int_equal(ae_model_loss(m, x, n, N_IN, &loss), AE_OK);
    mean_of_scores /= (double)n;
    total /= (double)n;
    assert_true(loss > 0);
    assert_true(fabs(mean_of_scores - loss) <= 1e-5 * loss);
    assert_true(fabs(total - loss) <= 1e-5 * loss);
    free(x), free(y), free(s);
    ae_model_free(m);
}

static void test_score_is_the_per_row_bce_and_its_mean_is_the_loss(void **state)
{
    (void)state;
    const size_t n = 200;
    ae_model *m = make_model(AE_ACT_SIGMOID, AE_LOSS_BCE);
    float *x = make_data(7, n, N_IN, N_IN);
    float *y = alloc_floats(n * N_IN, NAN), *s = alloc_floats(n, NAN);
    assert_int_equal(ae_model_reconstruct(m, x, n, N_IN, y, N_IN), AE_OK);
    assert_int_equal(ae_model_score(m, x, n, N_IN, s), AE_OK);
    double mean_of_scores = 0;
    for (size_t i = 0; i < n; i++) {
        double row = 0;
        for (size_t j = 0; j < N_IN; j++) {
            double t = x[i * N_IN + j], p = y[i * N_IN + j];
            /* the outputs stay well inside (0, 1), so the float rounding of y moves
             * the logs by at most ~1e-7 relative */
            assert_true(p > 1e-3 && p < 1 - 1e-3);
            row -= t * log(p) + (1 - t) * log(1 - p);
        }
        row /= N_IN;
        mean_of_scores += s[i];
        assert_true(fabs((double)s[i] - row) <= 1e-5 * row);
    }
    mean_of_scores /= (double)n;
    double loss = NAN;
    assert_int_equal(ae_model_loss(m, x, n, N_IN, &loss), AE_OK);
    assert_true(fabs(mean_of_scores - loss) <= 1e-6 * loss);
    free(x), free(y), free(s);
    ae_model_free(m);
}

/* ------------------------------------------------------------- concurrency */

#define N_THREADS 4
#define ROWS_PER_THREAD 300
#define ITERATIONS 40

typedef struct slice_job {
    const ae_model *model;
    const float *x;        /* ROWS_PER_THREAD x N_IN */
    const float *z_ref, *y_ref, *d_ref, *s_ref;
    double loss_ref;
    int mismatches;
    int failures;
} slice_job;

static void *run_slice(void *arg)
{
    slice_job *job = arg;
    const size_t n = ROWS_PER_THREAD;
    float *z = malloc(n * N_LATENT * sizeof *z), *y = malloc(n * N_IN * sizeof *y);
    float *d = malloc(n * N_IN * sizeof *d), *s = malloc(n * sizeof *s);
    if (!z || !y || !d || !s) {
        job->failures++;
    } else {
        for (int it = 0; it < ITERATIONS; it++) {
            double loss = NAN;
            if (ae_model_encode(job->model, job->x, n, N_IN, z, N_LATENT) != AE_OK
                || ae_model_reconstruct(job->model, job->x, n, N_IN, y, N_IN) != AE_OK
                || ae_model_decode(job->model, job->z_ref, n, N_LATENT, d, N_IN) != AE_OK
                || ae_model_score(job->model, job->x, n, N_IN, s) != AE_OK
                || ae_model_loss(job->model, job->x, n, N_IN, &loss) != AE_OK) {
                job->failures++;
                continue;
            }
            if (memcmp(z, job->z_ref, n * N_LATENT * sizeof *z) != 0 || memcmp(y, job->y_ref, n * N_IN * sizeof *y) != 0
                || memcmp(d, job->d_ref, n * N_IN * sizeof *d) != 0 || memcmp(s, job->s_ref, n * sizeof *s) != 0
                || loss != job->loss_ref)
                job->mismatches++;
        }
    }
    free(z), free(y), free(d), free(s);
    return NULL;
}

static void test_concurrent_inference_on_one_model_matches_a_single_thread(void **state)
{
    (void)state;
    const size_t n = N_THREADS * ROWS_PER_THREAD;
    ae_model *m = make_model(AE_ACT_SIGMOID, AE_LOSS_BCE);
    float *x = make_data(8, n, N_IN, N_IN);
    float *z = alloc_floats(n * N_LATENT, NAN), *y = alloc_floats(n * N_IN, NAN);
    float *d = alloc_floats(n * N_IN, NAN), *s = alloc_floats(n, NAN);
    slice_job jobs[N_THREADS];
    /* single-threaded references, computed slice by slice with the same row counts */
    for (size_t t = 0; t < N_THREADS; t++) {
        size_t first = t * ROWS_PER_THREAD;
        slice_job *job = &jobs[t];
        memset(job, 0, sizeof *job);
        job->model = m;
        job->x = x + first * N_IN;
        job->z_ref = z + first * N_LATENT;
        job->y_ref = y + first * N_IN;
        job->d_ref = d + first * N_IN;
        job->s_ref = s + first;
        assert_int_equal(ae_model_encode(m, job->x, ROWS_PER_THREAD, N_IN, z + first * N_LATENT, N_LATENT), AE_OK);
        assert_int_equal(ae_model_reconstruct(m, job->x, ROWS_PER_THREAD, N_IN, y + first * N_IN, N_IN), AE_OK);
        assert_int_equal(ae_model_decode(m, job->z_ref, ROWS_PER_THREAD, N_LATENT, d + first * N_IN, N_IN), AE_OK);
        assert_int_equal(ae_model_score(m, job->x, ROWS_PER_THREAD, N_IN, s + first), AE_OK);
        assert_int_equal(ae_model_loss(m, job->x, ROWS_PER_THREAD, N_IN, &job->loss_ref), AE_OK);
    }
    assert_all_finite(y, n * N_IN);
    pthread_t threads[N_THREADS];
    for (size_t t = 0; t < N_THREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, run_slice, &jobs[t]), 0);
    for (size_t t = 0; t < N_THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (size_t t = 0; t < N_THREADS; t++) {
        assert_int_equal(jobs[t].failures, 0);
        assert_int_equal(jobs[t].mismatches, 0);
    }
    free(x), free(z), free(y), free(d), free(s);
    ae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_then_decode_equals_reconstruct),
        cmocka_unit_test(test_batch_calls_equal_row_by_row_calls),
        cmocka_unit_test(test_calls_that_multiply_by_transposed_copies_match_rows_and_the_reference),
        cmocka_unit_test(test_padded_outputs_keep_their_padding_and_match_packed_outputs),
        cmocka_unit_test(test_packed_outputs_of_many_narrow_rows_match_padded_ones_bit_for_bit),
        cmocka_unit_test(test_padded_inputs_give_the_same_results_as_packed_inputs),
        cmocka_unit_test(test_encoding_many_rows_equals_encoding_in_pieces),
        cmocka_unit_test(test_score_is_the_per_row_mse_of_the_reconstruction),
        cmocka_unit_test(test_score_is_the_per_row_bce_and_its_mean_is_the_loss),
        cmocka_unit_test(test_concurrent_inference_on_one_model_matches_a_single_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
