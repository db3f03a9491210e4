/* Outputs that share memory with an input of the same call, or with another output: refused
 * with AE_ERR_INVALID_ARGUMENT naming both buffers, the input left as it was. Without the
 * check such a call returned AE_OK with wrong results (an output written a row after its
 * input overwrote rows the pass had not read yet). Buffers interleaved by their leading
 * dimensions, as columns of one table, share no element and are accepted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

/* More rows than one inference chunk (1024), so that a pass reads rows after it writes. */
enum { IN = 6, LAT = 2, ROWS = 1500, WIDE = IN + LAT + IN };

static const size_t WIDTHS[] = {IN, 4, LAT};

typedef struct fixture {
    ae_model *model;
    float *x;     /* ROWS x IN, values in [0, 1) */
    float *table; /* ROWS x WIDE: room for x and outputs side by side or on top of it */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    test_rng rng;
    test_rng_seed(&rng, 77);
    if (!f || ae_model_create(&f->model, WIDTHS, 3, NULL, 0) != AE_OK)
        return -1;
    f->x = test_random_matrix(&rng, ROWS, IN, IN, 0.0f, 1.0f);
    f->table = calloc((size_t)ROWS * WIDE, sizeof(float));
    *state = f;
    return f->x && f->table ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ae_model_free(f->model);
    free(f->x);
    free(f->table);
    free(f);
    return 0;
}

/* Copies x into the table's first IN columns; returns the table. */
static float *table_with_x(fixture *f)
{
    for (size_t i = 0; i < ROWS; i++)
        memcpy(f->table + i * WIDE, f->x + i * IN, IN * sizeof(float));
    return f->table;
}

static void assert_x_in_table_untouched(const fixture *f, const float *at, size_t ld)
{
    for (size_t i = 0; i < ROWS; i++)
        assert_memory_equal(at + i * ld, f->x + i * IN, IN * sizeof(float));
}

/* The call's status and the last error's words. */
static void assert_refused_naming(int status, const char *a, const char *b)
{
    assert_int_equal(status, AE_ERR_INVALID_ARGUMENT);
    const char *msg = ae_last_error();
    assert_non_null(strstr(msg, "share memory"));
    assert_non_null(strstr(msg, a));
    assert_non_null(strstr(msg, b));
}

typedef int (*transform_fn)(const ae_model *, const float *, size_t, size_t, float *, size_t);

/* A transform whose output starts `shift` floats into a copy of its input (ld WIDE) is
 * refused and leaves the input as it was: in place (0), a row later (WIDE) or earlier
 * (-WIDE), a column later (1) or earlier (-1), a row and a column later. */
static void expect_transform_refused(fixture *f, transform_fn fn, size_t in_width, ptrdiff_t shift)
{
    float *base = f->table + WIDE; /* a row of room on either side */
    memset(f->table, 0, (size_t)ROWS * WIDE * sizeof(float));
    for (size_t i = 0; i + 2 < ROWS; i++)
        memcpy(base + i * WIDE, f->x + i * IN, in_width * sizeof(float));
    assert_refused_naming(fn(f->model, base, ROWS - 2, WIDE, base + shift, WIDE), "output", "input");
    for (size_t i = 0; i + 2 < ROWS; i++)
        assert_memory_equal(base + i * WIDE, f->x + i * IN, in_width * sizeof(float));
}

static void test_transforms_refuse_an_output_over_their_input(void **state)
{
    fixture *f = *state;
    const ptrdiff_t shifts[] = {0, WIDE, -WIDE, 1, -1, WIDE + 1};
    for (size_t s = 0; s < sizeof shifts / sizeof *shifts; s++) {
        expect_transform_refused(f, ae_model_encode, IN, shifts[s]);
        expect_transform_refused(f, ae_model_reconstruct, IN, shifts[s]);
        expect_transform_refused(f, ae_model_decode, LAT, shifts[s]);
    }
}

/* The reference results of a call on separate buffers, against the same call writing into
 * columns of the table beside its input. */
static void test_outputs_beside_the_input_in_one_table_are_accepted(void **state)
{
    fixture *f = *state;
    float *z = malloc((size_t)ROWS * LAT * sizeof(float)), *y = malloc((size_t)ROWS * IN * sizeof(float));
    float *scores = malloc(ROWS * sizeof(float));
    assert_non_null(z), assert_non_null(y), assert_non_null(scores);
    assert_int_equal(ae_model_encode(f->model, f->x, ROWS, IN, z, LAT), AE_OK);
    assert_int_equal(ae_model_reconstruct(f->model, f->x, ROWS, IN, y, IN), AE_OK);
    assert_int_equal(ae_model_score(f->model, f->x, ROWS, IN, scores), AE_OK);

    float *t = table_with_x(f);
    assert_int_equal(ae_model_encode(f->model, t, ROWS, WIDE, t + IN, WIDE), AE_OK);
    assert_int_equal(ae_model_reconstruct(f->model, t, ROWS, WIDE, t + IN + LAT, WIDE), AE_OK);
    assert_x_in_table_untouched(f, t, WIDE);
    for (size_t i = 0; i < ROWS; i++) {
        assert_memory_equal(t + i * WIDE + IN, z + i * LAT, LAT * sizeof(float));
        assert_memory_equal(t + i * WIDE + IN + LAT, y + i * IN, IN * sizeof(float));
    }
    /* decode reads the codes' columns and writes the reconstructions' */
    assert_int_equal(ae_model_decode(f->model, t + IN, ROWS, WIDE, t + IN + LAT, WIDE), AE_OK);
    /* the errors beside x, and scores in a buffer that ends where x begins */
    float *errors = t + IN + LAT;
    assert_int_equal(ae_model_feature_errors(f->model, t, ROWS, WIDE, errors, WIDE), AE_OK);
    float *joined = malloc((ROWS + (size_t)ROWS * IN) * sizeof(float));
    assert_non_null(joined);
    memcpy(joined + ROWS, f->x, (size_t)ROWS * IN * sizeof(float));
    assert_int_equal(ae_model_score(f->model, joined + ROWS, ROWS, IN, joined), AE_OK);
    assert_memory_equal(joined, scores, ROWS * sizeof(float));
    free(joined), free(z), free(y), free(scores);
}

/* Leading dimensions that differ: x in columns 0..5 of rows 16 floats apart, the codes in
 * rows 8 apart from column 6, so that they take columns 6-7 and 14-15 of x's rows, which x
 * does not use. Accepted, with the codes of separate buffers; a column earlier, refused. */
static void test_interleaved_rows_of_different_strides_are_apart(void **state)
{
    fixture *f = *state;
    enum { LD_X = 16, LD_Z = 8 };
    float *z = malloc((size_t)ROWS * LAT * sizeof(float));
    float *t = calloc((size_t)ROWS * LD_X, sizeof(float));
    assert_non_null(z), assert_non_null(t);
    for (size_t i = 0; i < ROWS; i++)
        memcpy(t + i * LD_X, f->x + i * IN, IN * sizeof(float));
    assert_int_equal(ae_model_encode(f->model, f->x, ROWS, IN, z, LAT), AE_OK);
    assert_int_equal(ae_model_encode(f->model, t, ROWS, LD_X, t + IN, LD_Z), AE_OK);
    for (size_t i = 0; i < ROWS; i++) {
        assert_memory_equal(t + IN + i * LD_Z, z + i * LAT, LAT * sizeof(float));
        assert_memory_equal(t + i * LD_X, f->x + i * IN, IN * sizeof(float));
    }
    assert_refused_naming(ae_model_encode(f->model, t, ROWS, LD_X, t + IN - 1, LD_Z), "output", "input");
    free(z), free(t);
}

static void test_scores_and_errors_refuse_memory_of_their_input(void **state)
{
    fixture *f = *state;
    float *t = table_with_x(f);
    /* scores into x's last rows: written chunk by chunk, they would change rows not read yet */
    assert_refused_naming(ae_model_score(f->model, t, ROWS, WIDE, t + (ROWS - 10) * WIDE), "scores", "x");
    assert_refused_naming(ae_model_feature_errors(f->model, t, ROWS, WIDE, t + WIDE, WIDE), "errors", "x");
    assert_refused_naming(ae_model_feature_errors(f->model, t, ROWS, WIDE, t + 3, WIDE), "errors", "x");
    assert_x_in_table_untouched(f, t, WIDE);
}

static void test_detect_refuses_overlaps_and_never_writes_labels_over_its_input(void **state)
{
    fixture *f = *state;
    assert_int_equal(ae_model_set_threshold(f->model, 0.5), AE_OK);
    float *t = table_with_x(f);
    uint8_t *labels = malloc(ROWS);
    float *scores = malloc(ROWS * sizeof(float));
    assert_non_null(labels), assert_non_null(scores);
    /* labels inside x: refused, and not set to 1 as other failures set them */
    assert_refused_naming(ae_model_detect(f->model, t, ROWS, WIDE, (uint8_t *)(t + 5 * WIDE), scores),
                          "is_anomaly", "x");
    assert_x_in_table_untouched(f, t, WIDE);
    /* scores inside x: refused; the labels, apart, fail closed */
    memset(labels, 0, ROWS);
    assert_refused_naming(ae_model_detect(f->model, t, ROWS, WIDE, labels, t + 2), "scores", "x");
    assert_x_in_table_untouched(f, t, WIDE);
    for (size_t i = 0; i < ROWS; i++)
        assert_int_equal(labels[i], 1);
    /* labels over the scores */
    assert_refused_naming(ae_model_detect(f->model, t, ROWS, WIDE, (uint8_t *)(scores + 7), scores),
                          "is_anomaly", "scores");
    /* apart: accepted */
    assert_int_equal(ae_model_detect(f->model, t, ROWS, WIDE, labels, scores), AE_OK);
    free(labels), free(scores);
}

static void test_a_distribution_refuses_shared_mean_log_variance_and_input(void **state)
{
    (void)state;
    ae_model *m = NULL;
    assert_int_equal(ae_model_create_ex(&m, WIDTHS, 3, NULL, 0, AE_ARCH_VARIATIONAL), AE_OK);
    test_rng rng;
    test_rng_seed(&rng, 5);
    float *t = test_random_matrix(&rng, ROWS, WIDE, WIDE, 0.0f, 1.0f);
    float *mean = malloc((size_t)ROWS * LAT * sizeof(float));
    assert_non_null(t), assert_non_null(mean);
    assert_refused_naming(ae_model_encode_distribution(m, t, ROWS, WIDE, mean, LAT, mean + 1, LAT),
                          "log_variance", "mean");
    assert_refused_naming(ae_model_encode_distribution(m, t, ROWS, WIDE, t + WIDE, WIDE, mean, LAT),
                          "mean", "input");
    assert_refused_naming(ae_model_encode_distribution(m, t, ROWS, WIDE, mean, LAT, t + 1, WIDE),
                          "log_variance", "input");
    /* mean and log-variance side by side in the table, beside x */
    assert_int_equal(ae_model_encode_distribution(m, t, ROWS, WIDE, t + IN, WIDE, t + IN + LAT, WIDE),
                     AE_OK);
    ae_model_free(m);
    free(t), free(mean);
}

static void test_state_getters_refuse_two_outputs_in_one_buffer(void **state)
{
    fixture *f = *state;
    test_set_param(f->model, AE_PARAM_SCALING, AE_SCALING_MINMAX);
    assert_int_equal(ae_model_fit_scaling(f->model, f->x, ROWS, IN), AE_OK);
    float both[2 * IN];
    assert_refused_naming(ae_model_get_scaling(f->model, both, both + 1, IN), "offset", "scale");
    assert_int_equal(ae_model_get_scaling(f->model, both, both + IN, IN), AE_OK);

    assert_int_equal(ae_model_train_batch(f->model, f->x, 64, IN, NULL), AE_OK);
    const size_t n = ae_model_param_count(f->model);
    float *moments = malloc(2 * n * sizeof(float));
    uint64_t step = 0;
    assert_non_null(moments);
    assert_refused_naming(ae_model_get_optimizer_state(f->model, &step, moments, moments + n - 1, n),
                          "first_moment", "second_moment");
    assert_int_equal(ae_model_get_optimizer_state(f->model, &step, moments, moments + n, n), AE_OK);
    assert_int_equal(step, 1);
    free(moments);
}

/* A path decoded over either of its ends, and a gradient over its batch: refused, the inputs
 * as they were; apart, accepted. */
static void test_a_path_and_a_gradient_refuse_memory_of_their_inputs(void **state)
{
    fixture *f = *state;
    float *t = table_with_x(f);
    const float *x_a = t, *x_b = t + WIDE;
    /* the path over both ends, or starting in the second's row */
    assert_refused_naming(ae_model_interpolate(f->model, x_a, x_b, 4, t, WIDE), "y", "x_a");
    assert_refused_naming(ae_model_interpolate(f->model, f->x, x_b, 4, t + 1, WIDE), "y", "x_b");
    assert_x_in_table_untouched(f, t, WIDE);
    /* beside the ends, in the table's last columns */
    assert_int_equal(ae_model_interpolate(f->model, x_a, x_b, 4, t + IN + LAT, WIDE), AE_OK);
    assert_x_in_table_untouched(f, t, WIDE);

    const size_t n = ae_model_param_count(f->model);
    assert_true(n <= (size_t)ROWS * IN);
    assert_refused_naming(ae_model_gradient(f->model, t, ROWS, WIDE, t + 3, n, NULL), "gradient", "x");
    assert_x_in_table_untouched(f, t, WIDE);
    float *g = malloc(n * sizeof *g);
    assert_non_null(g);
    assert_int_equal(ae_model_gradient(f->model, t, ROWS, WIDE, g, n, NULL), AE_OK);
    free(g);
}

#define FIXTURE_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(test_transforms_refuse_an_output_over_their_input),
        FIXTURE_TEST(test_outputs_beside_the_input_in_one_table_are_accepted),
        FIXTURE_TEST(test_interleaved_rows_of_different_strides_are_apart),
        FIXTURE_TEST(test_scores_and_errors_refuse_memory_of_their_input),
        FIXTURE_TEST(test_detect_refuses_overlaps_and_never_writes_labels_over_its_input),
        cmocka_unit_test(test_a_distribution_refuses_shared_mean_log_variance_and_input),
        FIXTURE_TEST(test_state_getters_refuse_two_outputs_in_one_buffer),
        FIXTURE_TEST(test_a_path_and_a_gradient_refuse_memory_of_their_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
