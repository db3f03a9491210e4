/* Fitting from data sources (autoenc.h, ae_model_fit_source): rows streamed in chunks, so
 * that a fit never holds the data. In source order it trains exactly as ae_model_fit on the
 * same rows; a shuffle buffer of one row is source order; memory stays bounded whatever the
 * number of rows; every kind of source failure stops the fit cleanly, before training with
 * the model untouched, during it with the weights of the last step. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "alloc_counter.h"
#include "test_data.h"
#include "test_models.h"

#define IN 8

/* ---- a source over an array, with failures on demand ---------------------------------- */

typedef struct array_source {
    const float *x;
    size_t rows, next, ld;
    size_t reads, rewinds;
    size_t fail_read_at;   /* the read call (counted from 1) that fails, or 0 */
    size_t fail_rewind_at; /* the rewind call (counted from 1) that fails, or 0 */
    size_t extra_rows_at;  /* a read that gives one row more than asked, or 0 */
    size_t shrink_after;   /* after this many rewinds, the source gives one row fewer, or 0 */
    size_t grow_after;     /* after this many rewinds, one row more (x holds it), or 0 */
    size_t generated;      /* with x NULL: rows made up on the fly (a source larger than memory) */
} array_source;

static int array_read(void *user, float *rows, size_t n_cols, size_t max_rows, size_t *n_read)
{
    array_source *s = user;
    s->reads++;
    if (s->fail_read_at && s->reads == s->fail_read_at)
        return 7;
    size_t total = s->x ? s->rows : s->generated;
    if (s->shrink_after && s->rewinds > s->shrink_after)
        total--;
    if (s->grow_after && s->rewinds > s->grow_after)
        total++;
    size_t n = total - s->next < max_rows ? total - s->next : max_rows;
    for (size_t i = 0; i < n; i++) {
        if (s->x) {
            memcpy(rows + i * n_cols, s->x + (s->next + i) * s->ld, n_cols * sizeof(float));
        } else {
            for (size_t j = 0; j < n_cols; j++) /* a deterministic pattern in [0, 1] */
                rows[i * n_cols + j] = (float)(((s->next + i) * 7 + j * 13) % 101) / 100.0f;
        }
    }
    s->next += n;
    *n_read = n + (s->extra_rows_at && s->reads == s->extra_rows_at ? max_rows : 0);
    return 0;
}

static int array_rewind(void *user)
{
    array_source *s = user;
    s->rewinds++;
    if (s->fail_rewind_at && s->rewinds == s->fail_rewind_at)
        return 3;
    s->next = 0;
    return 0;
}

static ae_data_source source_of(array_source *s)
{
    return (ae_data_source){.size = sizeof(ae_data_source), .user_data = s, .read = array_read,
                            .rewind = array_rewind};
}

static ae_model *make_model(int scaling)
{
    static const size_t widths[] = {IN, 5, 3};
    ae_model *m = test_create_model(widths, 3, NULL, 0);
    test_set_param(m, AE_PARAM_THREADS, 1);
    test_set_activations(m, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_LINEAR);
    if (scaling != AE_SCALING_NONE)
        test_set_param(m, AE_PARAM_SCALING, scaling);
    test_set_epochs_and_batch(m, 3, 16);
    test_set_param(m, AE_PARAM_SHUFFLE, 0);
    test_set_param(m, AE_PARAM_SEED, 3);
    return m;
}

static float *make_data(uint64_t seed, size_t rows)
{
    test_rng rng;
    test_rng_seed(&rng, seed);
    float *x = test_random_matrix(&rng, rows, IN, IN, -1.0f, 2.0f);
    assert_non_null(x);
    return x;
}

/* In source order, a fit from sources is a fit on the arrays, bit for bit: the same batches,
 * the same scaling (fitted chunk by chunk), the same validation losses, the same report. */
static void test_a_source_in_order_trains_exactly_as_the_array(void **state)
{
    (void)state;
    static const int scalings[] = {AE_SCALING_NONE, AE_SCALING_MINMAX, AE_SCALING_STANDARDIZE};
    for (size_t k = 0; k < 3; k++) {
        const size_t rows = 1000, val_rows = 300; /* several chunks of 256 rows */
        float *x = make_data(1, rows), *val = make_data(2, val_rows);
        ae_model *from_array = make_model(scalings[k]), *from_source = make_model(scalings[k]);
        ae_fit_report r1 = test_new_fit_report(), r2 = test_new_fit_report();
        assert_int_equal(ae_model_fit_validated(from_array, x, rows, IN, val, val_rows, IN, &r1), AE_OK);
        array_source train = {.x = x, .rows = rows, .ld = IN};
        array_source validation = {.x = val, .rows = val_rows, .ld = IN};
        ae_data_source train_source = source_of(&train), validation_source = source_of(&validation);
        assert_int_equal(ae_model_fit_source(from_source, &train_source, &validation_source, &r2), AE_OK);
        assert_true(test_same_params(from_array, from_source));
        assert_true(r1.final_train_loss == r2.final_train_loss);
        assert_true(r1.final_val_loss == r2.final_val_loss);
        assert_int_equal(r1.steps_run, r2.steps_run);
        assert_int_equal(r1.best_epoch, r2.best_epoch);
        /* one scan (two passes to standardise), then one pass per epoch */
        size_t scan = scalings[k] == AE_SCALING_STANDARDIZE ? 2 : 1;
        assert_int_equal(train.rewinds, scan + 3);
        assert_int_equal(validation.rewinds, 1 + 3);
        free(x);
        free(val);
        ae_model_free(from_array);
        ae_model_free(from_source);
    }
}

/* A shuffle buffer of one row gives the source's order; a larger one shuffles, and the fit
 * still uses every row once per epoch (as many steps, and it learns). */
static void test_the_shuffle_buffer_shuffles_within_its_reach(void **state)
{
    (void)state;
    const size_t rows = 600;
    float *x = make_data(3, rows);
    ae_model *ordered = make_model(AE_SCALING_NONE), *one = make_model(AE_SCALING_NONE),
             *shuffled = make_model(AE_SCALING_NONE);
    test_set_param(one, AE_PARAM_SHUFFLE, 1);
    test_set_param(one, AE_PARAM_SHUFFLE_BUFFER, 1);
    test_set_param(shuffled, AE_PARAM_SHUFFLE, 1);
    test_set_param(shuffled, AE_PARAM_SHUFFLE_BUFFER, 200);
    ae_model *models[3] = {ordered, one, shuffled};
    ae_fit_report reports[3];
    double before = 0;
    assert_int_equal(ae_model_loss(ordered, x, rows, IN, &before), AE_OK);
    for (int k = 0; k < 3; k++) {
        array_source train = {.x = x, .rows = rows, .ld = IN};
        ae_data_source source = source_of(&train);
        reports[k] = test_new_fit_report();
        assert_int_equal(ae_model_fit_source(models[k], &source, NULL, &reports[k]), AE_OK);
        assert_int_equal(reports[k].steps_run, 3 * ((rows + 15) / 16));
    }
    assert_true(test_same_params(ordered, one));
    assert_false(test_same_params(ordered, shuffled));
    double after = 0;
    assert_int_equal(ae_model_loss(shuffled, x, rows, IN, &after), AE_OK);
    assert_true(after < before);
    for (int k = 0; k < 3; k++)
        ae_model_free(models[k]);
    free(x);
}

/* ---- bounded memory ------------------------------------------------------------------- */

/* The library's peak memory during a fit from a generated source is the same for 20,000 rows
 * as for 200,000: it holds the shuffle buffer and a chunk, never the rows. */
static void test_memory_stays_bounded_whatever_the_number_of_rows(void **state)
{
    (void)state;
    size_t peaks[2];
    static const size_t sizes[2] = {20000, 200000};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(test_alloc_counter_install(), 0);
        ae_model *m = make_model(AE_SCALING_STANDARDIZE);
        test_set_epochs_and_batch(m, 1, 64);
        test_set_param(m, AE_PARAM_SHUFFLE, 1);
        test_set_param(m, AE_PARAM_SHUFFLE_BUFFER, 1000);
        array_source generated = {.generated = sizes[k]};
        ae_data_source source = source_of(&generated);
        ae_fit_report report = test_new_fit_report();
        assert_int_equal(ae_model_fit_source(m, &source, NULL, &report), AE_OK);
        peaks[k] = test_alloc_counter_get().peak_bytes;
        ae_model_free(m);
        assert_int_equal(test_alloc_counter_get().live_bytes, 0);
        assert_int_equal(test_alloc_counter_uninstall(), 0);
        print_message("      %zu rows of %d floats: library peak %zu bytes\n", sizes[k], IN, peaks[k]);
    }
    assert_int_equal(peaks[0], peaks[1]);
    assert_true(peaks[1] < 200000 * IN * sizeof(float) / 10);
}

/* A shuffle buffer never holds more rows than the source gives: a row leaves it at a step
 * drawn among the rows it holds, so a larger buffer shuffles the same and only costs memory
 * (the default of 10,000 rows of a wide model used to be allocated, gigabytes, for a small
 * source). A buffer of a million rows over 50 rows trains bit for bit as one of 50 rows, at
 * the same peak memory. */
static void test_a_shuffle_buffer_is_no_larger_than_the_source(void **state)
{
    (void)state;
    static const double buffers[2] = {50, 1e6};
    size_t peaks[2];
    float *params[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(test_alloc_counter_install(), 0);
        ae_model *m = make_model(AE_SCALING_NONE);
        test_set_epochs_and_batch(m, 2, 8);
        test_set_param(m, AE_PARAM_SHUFFLE, 1);
        test_set_param(m, AE_PARAM_SHUFFLE_BUFFER, buffers[k]);
        array_source generated = {.generated = 50};
        ae_data_source source = source_of(&generated);
        assert_int_equal(ae_model_fit_source(m, &source, NULL, NULL), AE_OK);
        peaks[k] = test_alloc_counter_get().peak_bytes;
        params[k] = test_params_of(m);
        ae_model_free(m);
        assert_int_equal(test_alloc_counter_get().live_bytes, 0);
        assert_int_equal(test_alloc_counter_uninstall(), 0);
    }
    print_message("      library peak %zu bytes with a buffer of 50 rows, %zu with 1e6\n", peaks[0],
                  peaks[1]);
    assert_int_equal(peaks[0], peaks[1]);
    ae_model *probe = make_model(AE_SCALING_NONE);
    const size_t n = ae_model_param_count(probe);
    ae_model_free(probe);
    assert_memory_equal(params[0], params[1], n * sizeof(float));
    free(params[0]);
    free(params[1]);
}

/* ---- failures --------------------------------------------------------------------------- */

/* Before training (the scan): the model is untouched. */
static void test_a_source_failing_before_training_leaves_the_model_untouched(void **state)
{
    (void)state;
    const size_t rows = 700;
    float *x = make_data(4, rows);
    struct {
        array_source source;
        int scaling, status;
        const char *needle;
    } cases[] = {
        {{.x = x, .rows = rows, .ld = IN, .fail_read_at = 2}, AE_SCALING_NONE, AE_ERR_IO, "read hook returned 7"},
        {{.x = x, .rows = rows, .ld = IN, .fail_rewind_at = 1}, AE_SCALING_NONE, AE_ERR_IO, "rewind hook returned 3"},
        {{.x = x, .rows = rows, .ld = IN, .extra_rows_at = 2}, AE_SCALING_NONE, AE_ERR_IO, "at most"},
        {{.x = x, .rows = rows, .ld = IN, .shrink_after = 1}, AE_SCALING_STANDARDIZE, AE_ERR_IO, "same rows"},
        {{.x = x, .rows = 0, .ld = IN}, AE_SCALING_NONE, AE_ERR_INVALID_ARGUMENT, "no rows"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ae_model *m = make_model(cases[k].scaling);
        float *before = test_params_of(m);
        ae_data_source source = source_of(&cases[k].source);
        int rc = ae_model_fit_source(m, &source, NULL, NULL);
        if (rc != cases[k].status)
            print_error("case %zu: %d (%s)\n", k, rc, ae_model_last_error(m));
        assert_int_equal(rc, cases[k].status);
        assert_non_null(strstr(ae_model_last_error(m), cases[k].needle));
        assert_true(test_params_equal_to(m, before));
        float offset[IN], scale[IN];
        assert_int_equal(ae_model_get_scaling(m, offset, scale, IN), AE_ERR_STATE); /* none fitted */
        free(before);
        ae_model_free(m);
    }
    /* A bad row: named by where its chunk starts in the source. */
    x[600 * IN + 2] = NAN;
    ae_model *m = make_model(AE_SCALING_NONE);
    array_source bad = {.x = x, .rows = rows, .ld = IN};
    ae_data_source source = source_of(&bad);
    assert_int_equal(ae_model_fit_source(m, &source, NULL, NULL), AE_ERR_NON_FINITE_INPUT);
    assert_non_null(strstr(ae_model_last_error(m), "row 88, column 2"));
    assert_non_null(strstr(ae_model_last_error(m), "row 512 of the training data source"));
    ae_model_free(m);
    free(x);
}

/* A training or validation source whose later pass gives a row fewer or more than its first
 * stops the fit with that said (not a loss of 0 / 0, nor rows silently dropped), and the
 * report says it failed; whether the extra row comes in a step's chunk or after the epoch's
 * last full step (704 rows, steps of 16). A validation source of no rows is refused. */
static void test_a_pass_of_another_length_stops_the_fit_with_a_reason(void **state)
{
    (void)state;
    enum { ROWS = 704 };
    float *x = make_data(8, ROWS + 1);
    const struct {
        bool validation;
        size_t rows, shrink_after, grow_after;
    } cases[] = {
        {false, ROWS, 1, 0}, {false, ROWS, 0, 1}, {false, ROWS - 4, 0, 1},
        {true, ROWS, 1, 0},  {true, ROWS, 0, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ae_model *m = make_model(AE_SCALING_NONE);
        array_source changing = {.x = x, .rows = cases[k].rows, .ld = IN,
                                 .shrink_after = cases[k].shrink_after,
                                 .grow_after = cases[k].grow_after};
        array_source steady = {.x = x, .rows = 100, .ld = IN};
        ae_data_source train = source_of(cases[k].validation ? &steady : &changing);
        ae_data_source validation = source_of(&changing);
        ae_fit_report report = test_new_fit_report();
        const int rc = ae_model_fit_source(m, &train, cases[k].validation ? &validation : NULL,
                                           &report);
        if (rc != AE_ERR_IO)
            print_error("case %zu: %d (%s)\n", k, rc, ae_model_last_error(m));
        assert_int_equal(rc, AE_ERR_IO);
        assert_non_null(strstr(ae_model_last_error(m), "every pass must give the same rows"));
        assert_non_null(strstr(ae_model_last_error(m),
                               cases[k].validation ? "validation data source" : "training data source"));
        assert_int_equal(report.stop_reason, AE_STOP_FAILED);
        ae_model_free(m);
    }
    ae_model *m = make_model(AE_SCALING_NONE);
    array_source some = {.x = x, .rows = 100, .ld = IN}, none = {.x = x, .rows = 0, .ld = IN};
    ae_data_source train = source_of(&some), validation = source_of(&none);
    assert_int_equal(ae_model_fit_source(m, &train, &validation, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ae_model_last_error(m), "validation data source gave no rows"));
    ae_model_free(m);
    free(x);
}

/* During training: the fit stops with the weights of its last completed step. */
static void test_a_source_failing_during_training_keeps_the_last_steps_weights(void **state)
{
    (void)state;
    const size_t rows = 700;
    float *x = make_data(5, rows);
    ae_model *m = make_model(AE_SCALING_NONE);
    float *before = test_params_of(m);
    /* The scan reads 3 chunks and the end; epoch 1 reads 4 more, then epoch 2 fails. */
    array_source failing = {.x = x, .rows = rows, .ld = IN, .fail_read_at = 10};
    ae_data_source source = source_of(&failing);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit_source(m, &source, NULL, &report), AE_ERR_IO);
    assert_false(test_params_equal_to(m, before));
    /* and the model goes on training */
    array_source fine = {.x = x, .rows = rows, .ld = IN};
    source = source_of(&fine);
    assert_int_equal(ae_model_fit_source(m, &source, NULL, NULL), AE_OK);
    free(before);
    free(x);
    ae_model_free(m);
}

/* From a source the divergence reference is the first steps' mean loss (the rows cannot be
 * read twice): ordinary training, which only lowers the loss, stays below even a strict
 * factor, as it does in memory. */
static void test_the_divergence_factor_leaves_ordinary_training_from_a_source_alone(void **state)
{
    (void)state;
    enum { ROWS = 400 };
    float *x = make_data(11, ROWS);
    array_source a = {.x = x, .rows = ROWS, .ld = IN};
    ae_data_source source = source_of(&a);
    ae_model *m = make_model(AE_SCALING_NONE);
    test_set_epochs_and_batch(m, 10, 16);
    test_set_param(m, AE_PARAM_DIVERGENCE_FACTOR, 2); /* strict: only a doubling stops it */
    ae_fit_report report = test_new_fit_report();
    const int status = ae_model_fit_source(m, &source, NULL, &report);
    if (status != AE_OK)
        print_error("%s\n", ae_model_last_error(m));
    assert_int_equal(status, AE_OK);
    assert_int_equal(report.epochs_run, 10);
    ae_model_free(m);
    free(x);
}

static void test_fit_source_checks_its_arguments(void **state)
{
    (void)state;
    ae_model *m = make_model(AE_SCALING_NONE);
    float *x = make_data(6, 64);
    array_source s = {.x = x, .rows = 64, .ld = IN};
    ae_data_source source = source_of(&s);
    assert_int_equal(ae_model_fit_source(NULL, &source, NULL, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_fit_source(m, NULL, NULL, NULL), AE_ERR_INVALID_ARGUMENT);
    ae_data_source broken = source;
    broken.read = NULL;
    assert_int_equal(ae_model_fit_source(m, &broken, NULL, NULL), AE_ERR_INVALID_ARGUMENT);
    broken = source;
    broken.size = 0;
    assert_int_equal(ae_model_fit_source(m, &source, &broken, NULL), AE_ERR_INVALID_ARGUMENT);
    test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.2);
    assert_int_equal(ae_model_fit_source(m, &source, NULL, NULL), AE_ERR_STATE);
    assert_non_null(strstr(ae_model_last_error(m), "validation source"));
    free(x);
    ae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_source_in_order_trains_exactly_as_the_array),
        cmocka_unit_test(test_the_shuffle_buffer_shuffles_within_its_reach),
        cmocka_unit_test(test_memory_stays_bounded_whatever_the_number_of_rows),
        cmocka_unit_test(test_a_shuffle_buffer_is_no_larger_than_the_source),
        cmocka_unit_test(test_a_source_failing_before_training_leaves_the_model_untouched),
        cmocka_unit_test(test_a_source_failing_during_training_keeps_the_last_steps_weights),
        cmocka_unit_test(test_a_pass_of_another_length_stops_the_fit_with_a_reason),
        cmocka_unit_test(test_the_divergence_factor_leaves_ordinary_training_from_a_source_alone),
        cmocka_unit_test(test_fit_source_checks_its_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
