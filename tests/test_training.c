/* ae_model_fit / ae_model_fit_validated: the report, early stopping, restoring the best
 * epoch, validation, the progress callback, cancellation, determinism, resuming,
 * divergence and data layouts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#define N_IN 10
#define MAX_EPOCHS 64

/* ---------------------------------------------------------------- helpers */

/* A small 10-6-3-6-10 model with the given seed; every call below checks its status. */
static ae_model *make_model(uint64_t seed)
{
    size_t widths[] = {N_IN, 6, 3};
    ae_model *m = test_create_model(widths, 3, NULL, 0);
    assert_non_null(m);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_SEED, (double)seed), AE_OK);
    return m;
}

static float *make_data(uint64_t seed, size_t rows)
{
    test_rng rng;
    test_rng_seed(&rng, seed);
    float *x = test_random_matrix(&rng, rows, N_IN, N_IN, 0.0f, 1.0f);
    assert_non_null(x);
    return x;
}

static void assert_params_finite(const ae_model *m)
{
    float *p = test_params_of(m);
    for (size_t i = 0; i < ae_model_param_count(m); i++)
        assert_true(isfinite(p[i]));
    free(p);
}

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* Records every callback call; optionally snapshots the parameters at each epoch end
 * (ae_model_get_params takes a const model, so the callback may call it) and cancels. */
typedef struct recorder {
    const ae_model *model;
    size_t n_params;
    float *snapshots;             /* (MAX_EPOCHS + 1) x n_params; row 0 = before fit */
    int snapshot_valid[MAX_EPOCHS + 1];
    size_t calls, epoch_calls, batch_calls;
    ae_progress last;
    int size_ok, fields_ok;
    double epoch_train[MAX_EPOCHS + 1], epoch_val[MAX_EPOCHS + 1];
    double prev_seconds;
    uint64_t expected_batch; /* next batch number expected within the epoch */
    uint64_t expected_epoch;
    int every_batch;              /* PROGRESS_EVERY_BATCH is on */
    double batch_loss[MAX_EPOCHS + 1][8]; /* per-batch losses reported (first batches) */
    uint64_t cancel_epoch;       /* cancel at the end of this epoch (0 = never) */
    uint64_t cancel_batch_epoch; /* cancel after batch cancel_batch of this epoch */
    uint64_t cancel_batch;
    int encode_in_callback_ok;
} recorder;

static void recorder_init(recorder *r, const ae_model *m, int snapshots)
{
    memset(r, 0, sizeof *r);
    r->model = m;
    r->size_ok = 1;
    r->fields_ok = 1;
    r->expected_batch = 1;
    r->expected_epoch = 1;
    r->encode_in_callback_ok = 1;
    r->n_params = ae_model_param_count(m);
    if (snapshots) {
        r->snapshots = malloc((MAX_EPOCHS + 1) * r->n_params * sizeof(float));
        assert_non_null(r->snapshots);
        assert_int_equal(ae_model_get_params(m, r->snapshots, r->n_params), AE_OK);
        r->snapshot_valid[0] = 1;
    }
}

static void recorder_free(recorder *r) { free(r->snapshots); }

static int record(const ae_progress *p, void *user)
{
    recorder *r = user;
    r->calls++;
    r->last = *p;
    if (p->size != sizeof(ae_progress))
        r->size_ok = 0;
    if (p->seconds < r->prev_seconds || !(p->seconds >= 0))
        r->fields_ok = 0;
    r->prev_seconds = p->seconds;
    if (p->epoch != r->expected_epoch || p->epoch > p->epochs || p->batch > p->batches)
        r->fields_ok = 0;
    if (p->epoch_end) {
        r->epoch_calls++;
        if (p->batch != p->batches || !isfinite(p->train_loss))
            r->fields_ok = 0;
        /* with per-batch calls, batches 1 .. batches-1 were reported on their own and
         * the epoch-end call stands for the last batch (its `batch` equals `batches`) */
        if (r->every_batch && r->expected_batch != p->batches)
            r->fields_ok = 0;
        if (p->epoch <= MAX_EPOCHS) {
            r->epoch_train[p->epoch] = p->train_loss;
            r->epoch_val[p->epoch] = p->val_loss;
            if (r->snapshots) {
                if (ae_model_get_params(r->model, r->snapshots + p->epoch * r->n_params,
                                        r->n_params) != AE_OK)
                    r->fields_ok = 0;
                r->snapshot_valid[p->epoch] = 1;
            }
        }
        /* a const call on the model being trained must work from the callback */
        float row[N_IN] = {0}, code[16];
        if (ae_model_encode(r->model, row, 1, N_IN, code, ae_model_latent_dim(r->model)) != AE_OK)
            r->encode_in_callback_ok = 0;
        r->expected_epoch++;
        r->expected_batch = 1;
        if (r->cancel_epoch && p->epoch == r->cancel_epoch)
            return 1;
    } else {
        r->batch_calls++;
        if (p->batch != r->expected_batch || !isfinite(p->train_loss) || !isnan(p->val_loss))
            r->fields_ok = 0;
        if (!r->every_batch || p->batch >= p->batches)
            r->fields_ok = 0; /* no per-batch call unless asked; the last batch is the epoch end */
        if (p->epoch <= MAX_EPOCHS && p->batch <= 8)
            r->batch_loss[p->epoch][p->batch - 1] = p->train_loss;
        r->expected_batch++;
        if (r->cancel_batch_epoch && p->epoch == r->cancel_batch_epoch && p->batch == r->cancel_batch)
            return 1;
    }
    return 0;
}

/* recorder_init(), then install the recorder as @p m's progress callback. */
static void recorder_attach(recorder *r, ae_model *m, int snapshots)
{
    recorder_init(r, m, snapshots);
    assert_int_equal(ae_model_set_progress(m, record, r), AE_OK);
}

/* ae_model_fit on packed rows with a fresh report; asserts the returned status. */
static ae_fit_report fit_expecting(ae_model *m, const float *x, size_t n_rows, int status)
{
    ae_fit_report r = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, x, n_rows, N_IN, &r), status);
    return r;
}

/* Frees what a single-model test made; @p rec may be NULL. */
static void free_run(recorder *rec, float *x, ae_model *m)
{
    if (rec)
        recorder_free(rec);
    free(x);
    ae_model_free(m);
}

/* ------------------------------------------------------------------ report */

static void test_fit_report_describes_a_completed_run(void **state)
{
    (void)state;
    const size_t n = 100, batch = 16;
    const uint64_t epochs = 3;
    ae_model *m = make_model(1);
    float *x = make_data(11, n);
    test_set_epochs_and_batch(m, (double)epochs, (double)batch);

    ae_fit_report r = test_new_fit_report();
    r.seconds = -1;
    r.samples_per_second = -1;
    assert_int_equal(ae_model_fit(m, x, n, N_IN, &r), AE_OK);
    assert_int_equal(r.size, sizeof r);
    assert_int_equal(r.epochs_run, epochs);
    assert_int_equal(r.steps_run, epochs * ceil_div(n, batch));
    assert_int_equal(r.stop_reason, AE_STOP_COMPLETED);
    assert_true(r.best_epoch >= 1 && r.best_epoch <= epochs);
    assert_true(r.restored_best == 0 || r.restored_best == 1);
    assert_true(isfinite(r.final_train_loss) && r.final_train_loss > 0);
    assert_true(isnan(r.final_val_loss));
    assert_true(isfinite(r.best_loss));
    assert_true(r.best_loss <= r.final_train_loss);
    assert_true(r.seconds > 0);
    assert_true(r.samples_per_second > 0 && isfinite(r.samples_per_second));
    free_run(NULL, x, m);
}

static void test_fit_report_with_smaller_size_leaves_later_fields_untouched(void **state)
{
    (void)state;
    const size_t n = 40, batch = 8;
    const size_t sizes[] = {offsetof(ae_fit_report, best_epoch), offsetof(ae_fit_report, final_train_loss),
                            offsetof(ae_fit_report, seconds)};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        ae_model *m = make_model(2);
        float *x = make_data(12, n);
        test_set_epochs_and_batch(m, 2, (double)batch);
        unsigned char raw[sizeof(ae_fit_report) + 16];
        memset(raw, 0xA5, sizeof raw);
        ae_fit_report *r = (ae_fit_report *)(void *)raw;
        r->size = sizes[k];
        assert_int_equal(ae_model_fit(m, x, n, N_IN, r), AE_OK);
        assert_int_equal(r->size, sizes[k]);
        /* the fields that fit are filled */
        assert_int_equal(r->epochs_run, 2);
        assert_int_equal(r->steps_run, 2 * ceil_div(n, batch));
        if (sizes[k] > offsetof(ae_fit_report, stop_reason))
            assert_int_equal(r->stop_reason, AE_STOP_COMPLETED);
        /* every byte past `size` is untouched, even past the struct */
        for (size_t i = sizes[k]; i < sizeof raw; i++)
            assert_int_equal(raw[i], 0xA5);
        free_run(NULL, x, m);
    }
}

static void test_fit_accepts_a_null_report(void **state)
{
    (void)state;
    ae_model *m = make_model(3);
    float *x = make_data(13, 30);
    test_set_param(m, AE_PARAM_EPOCHS, 2);
    float *before = test_params_of(m);
    assert_int_equal(ae_model_fit(m, x, 30, N_IN, NULL), AE_OK);
    assert_false(test_params_equal_to(m, before)); /* it did train */
    free(before);
    free_run(NULL, x, m);
}

/* -------------------------------------------------------- early stopping */

static void test_early_stopping_with_huge_min_delta_stops_after_one_plus_patience_epochs(void **state)
{
    (void)state;
    for (uint64_t patience = 1; patience <= 4; patience++) {
        ae_model *m = make_model(4);
        float *x = make_data(14, 64);
        test_set_epochs_and_batch(m, 50, 16);
        test_set_param(m, AE_PARAM_PATIENCE, (double)patience);
        test_set_param(m, AE_PARAM_MIN_DELTA, 1e30); /* only the first epoch counts as an improvement */
        recorder rec;
        recorder_attach(&rec, m, 0);
        ae_fit_report r = fit_expecting(m, x, 64, AE_OK);
        assert_int_equal(r.stop_reason, AE_STOP_EARLY);
        assert_int_equal(r.epochs_run, 1 + patience);
        assert_int_equal(r.steps_run, (1 + patience) * 4);
        assert_int_equal(rec.epoch_calls, 1 + patience);
        assert_int_equal(r.best_epoch, 1);
        free_run(&rec, x, m);
    }
}

static void test_early_stopping_treats_an_unchanged_loss_as_no_improvement(void **state)
{
    (void)state;
    /* SGD steps of 1e-30 * gradient vanish next to weights of order 0.1, so the weights
     * and, without shuffling, every epoch's loss stay exactly the same */
    ae_model *m = make_model(4);
    float *x = make_data(14, 64);
    test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 1e-30);
    test_set_param(m, AE_PARAM_SHUFFLE, 0);
    test_set_epochs_and_batch(m, 50, 16);
    test_set_param(m, AE_PARAM_PATIENCE, 2);
    recorder rec;
    recorder_attach(&rec, m, 0);
    ae_fit_report r = fit_expecting(m, x, 64, AE_OK);
    assert_true(rec.epoch_train[2] == rec.epoch_train[1]);
    assert_int_equal(r.stop_reason, AE_STOP_EARLY);
    assert_int_equal(r.epochs_run, 3);
    assert_int_equal(r.best_epoch, 1);
    assert_true(r.best_loss == rec.epoch_train[1]);
    free_run(&rec, x, m);
}

/* Replays the documented rule on the recorded monitored losses: stop when `patience`
 * epochs pass without improving on the best by more than min_delta. Returns the epoch
 * at which fit must stop, or 0 if it must not stop within `epochs`. */
static uint64_t expected_stop_epoch(const double *loss, uint64_t epochs, uint64_t patience, double min_delta)
{
    double best = INFINITY;
    uint64_t wait = 0;
    for (uint64_t e = 1; e <= epochs; e++) {
        if (loss[e] < best - min_delta) {
            best = loss[e];
            wait = 0;
        } else if (++wait >= patience) {
            return e;
        }
    }
    return 0;
}

/* A learning rate so large (Adam, 0.3) that the validation loss stops improving. */
static void noisy_setup(ae_model *m)
{
    test_set_param(m, AE_PARAM_LEARNING_RATE, 0.3);
    test_set_param(m, AE_PARAM_BATCH_SIZE, 8);
    test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.25);
}

static void test_early_stopping_stops_when_validation_stops_improving(void **state)
{
    (void)state;
    const uint64_t patience = 3, epochs = 60;
    ae_model *m = make_model(5);
    float *x = make_data(15, 80);
    noisy_setup(m);
    test_set_param(m, AE_PARAM_EPOCHS, (double)epochs);
    test_set_param(m, AE_PARAM_PATIENCE, (double)patience);
    recorder rec;
    recorder_attach(&rec, m, 0);
    ae_fit_report r = fit_expecting(m, x, 80, AE_OK);
    assert_true(rec.fields_ok);
    assert_int_equal(r.stop_reason, AE_STOP_EARLY);
    assert_true(r.epochs_run < epochs);
    assert_int_equal(rec.epoch_calls, r.epochs_run);
    for (uint64_t e = 1; e <= r.epochs_run; e++)
        assert_true(isfinite(rec.epoch_val[e]));
    assert_int_equal(expected_stop_epoch(rec.epoch_val, r.epochs_run, patience, 0.0), r.epochs_run);
    free_run(&rec, x, m);
}

static void test_early_stopping_off_runs_all_epochs(void **state)
{
    (void)state;
    ae_model *m = make_model(5);
    float *x = make_data(15, 80);
    noisy_setup(m);
    test_set_param(m, AE_PARAM_EPOCHS, 30);
    test_set_param(m, AE_PARAM_MIN_DELTA, 1e30); /* ignored while PATIENCE is 0 */
    ae_fit_report r = fit_expecting(m, x, 80, AE_OK);
    assert_int_equal(r.stop_reason, AE_STOP_COMPLETED);
    assert_int_equal(r.epochs_run, 30);
    free_run(NULL, x, m);
}

/* ----------------------------------------------------------- restore best */

static uint64_t argmin_epoch(const double *loss, uint64_t epochs)
{
    uint64_t best = 1;
    for (uint64_t e = 2; e <= epochs; e++)
        if (loss[e] < loss[best])
            best = e;
    return best;
}

static void run_restore(int restore, int with_validation)
{
    const uint64_t epochs = 12;
    ae_model *m = make_model(6);
    float *x = make_data(16, 80);
    noisy_setup(m);
    if (!with_validation)
        test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0);
    test_set_param(m, AE_PARAM_EPOCHS, (double)epochs);
    test_set_param(m, AE_PARAM_RESTORE_BEST, restore);
    recorder rec;
    recorder_attach(&rec, m, 1);
    ae_fit_report r = fit_expecting(m, x, 80, AE_OK);
    assert_true(rec.fields_ok);
    assert_int_equal(r.epochs_run, epochs);
    const double *monitored = with_validation ? rec.epoch_val : rec.epoch_train;
    uint64_t best = argmin_epoch(monitored, epochs);
    /* the run must be noisy enough for the test to mean something */
    assert_true(best < epochs);
    assert_int_equal(r.best_epoch, best);
    assert_true(r.best_loss == monitored[best]);
    /* Only a validation loss chooses weights: without validation the fit ends with its last
     * epoch's (the default the header documents for AE_PARAM_RESTORE_BEST). */
    if (restore && with_validation) {
        assert_int_equal(r.restored_best, 1);
        assert_true(test_params_equal_to(m, rec.snapshots + best * rec.n_params));
    } else {
        assert_int_equal(r.restored_best, 0);
        assert_true(test_params_equal_to(m, rec.snapshots + epochs * rec.n_params));
    }
    /* the reported final losses are those of the last epoch, whatever was restored */
    assert_true(r.final_train_loss == rec.epoch_train[epochs]);
    if (with_validation)
        assert_true(r.final_val_loss == rec.epoch_val[epochs]);
    free_run(&rec, x, m);
}

static void test_restore_best_keeps_the_weights_of_the_best_validation_epoch(void **state)
{
    (void)state;
    run_restore(1, 1);
}

static void test_restore_best_without_validation_keeps_the_last_weights(void **state)
{
    (void)state;
    run_restore(1, 0);
}

static void test_restore_best_off_keeps_the_last_weights(void **state)
{
    (void)state;
    run_restore(0, 1);
}

static void test_restore_best_applies_on_early_stop(void **state)
{
    (void)state;
    ae_model *m = make_model(5);
    float *x = make_data(15, 80);
    noisy_setup(m);
    test_set_param(m, AE_PARAM_EPOCHS, 60);
    test_set_param(m, AE_PARAM_PATIENCE, 3);
    recorder rec;
    recorder_attach(&rec, m, 1);
    ae_fit_report r = fit_expecting(m, x, 80, AE_OK);
    assert_int_equal(r.stop_reason, AE_STOP_EARLY);
    assert_true(r.epochs_run <= MAX_EPOCHS);
    uint64_t best = argmin_epoch(rec.epoch_val, r.epochs_run);
    assert_int_equal(r.best_epoch, best);
    assert_int_equal(r.restored_best, 1);
    assert_true(test_params_equal_to(m, rec.snapshots + best * rec.n_params));
    free_run(&rec, x, m);
}

/* -------------------------------------------------------------- validation */

static void test_validation_fraction_holds_out_rows_and_reports_their_loss(void **state)
{
    (void)state;
    const size_t n = 100, batch = 16, n_val = 25;
    const uint64_t epochs = 3;
    ae_model *m = make_model(7);
    float *x = make_data(17, n);
    test_set_epochs_and_batch(m, (double)epochs, (double)batch);
    test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.25);
    recorder rec;
    recorder_attach(&rec, m, 0);
    ae_fit_report r = fit_expecting(m, x, n, AE_OK);
    assert_true(rec.fields_ok);
    assert_int_equal(rec.epoch_calls, epochs);
    /* 75 training rows: 5 batches of up to 16 */
    assert_int_equal(rec.last.batches, ceil_div(n - n_val, batch));
    assert_int_equal(r.steps_run, epochs * ceil_div(n - n_val, batch));
    for (uint64_t e = 1; e <= epochs; e++)
        assert_true(isfinite(rec.epoch_val[e]) && rec.epoch_val[e] > 0);
    assert_true(isfinite(r.final_val_loss));
    assert_true(r.final_val_loss == rec.epoch_val[epochs]);
    assert_true(r.best_loss == rec.epoch_val[argmin_epoch(rec.epoch_val, epochs)]);
    free_run(&rec, x, m);
}

/* With hidden layers of 16 units, the validation pass and ae_model_loss multiply those layers
 * by transposed copies of the weights (src/net.c), each made for its pass: a copy left from
 * the epoch's last step would give the weights before its update. */
static void test_explicit_validation_set_loss_equals_model_loss_at_the_end(void **state)
{
    (void)state;
    const size_t n = 96, n_val = 37;
    const uint64_t epochs = 4;
    for (size_t hidden = 6; hidden <= 16; hidden += 10) {
        const size_t widths[] = {N_IN, hidden, 3};
        ae_model *m = test_create_model(widths, 3, NULL, 0);
        test_set_param(m, AE_PARAM_SEED, 8);
        float *x = make_data(18, n);
        float *x_val = make_data(19, n_val);
        test_set_epochs_and_batch(m, (double)epochs, 32);
        test_set_param(m, AE_PARAM_RESTORE_BEST, 0);
        test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.5); /* ignored: an explicit set is given */
        recorder rec;
        recorder_attach(&rec, m, 0);
        ae_fit_report r = test_new_fit_report();
        assert_int_equal(ae_model_fit_validated(m, x, n, N_IN, x_val, n_val, N_IN, &r), AE_OK);
        assert_true(rec.fields_ok);
        /* every training row is used: 3 batches of 32 */
        assert_int_equal(rec.last.batches, 3);
        assert_int_equal(r.steps_run, epochs * 3);
        double loss = NAN;
        assert_int_equal(ae_model_loss(m, x_val, n_val, N_IN, &loss), AE_OK);
        /* Same weights, same rows: only the order in which the products and the per-element
         * losses are summed may differ between the two paths (their chunks of rows differ, and
         * so may OpenBLAS's kernels), a relative effect of order 1e-7 in float. */
        assert_true(fabs(r.final_val_loss - loss) <= 1e-6 * loss);
        assert_true(fabs(rec.epoch_val[epochs] - loss) <= 1e-6 * loss);
        assert_true(r.final_val_loss == rec.epoch_val[epochs]);
        recorder_free(&rec);
        free(x);
        free(x_val);
        ae_model_free(m);
    }
}

static void test_fit_validated_without_a_set_is_fit(void **state)
{
    (void)state;
    ae_model *a = make_model(9), *b = make_model(9);
    float *x = make_data(20, 50);
    test_set_param(a, AE_PARAM_EPOCHS, 3);
    test_set_param(b, AE_PARAM_EPOCHS, 3);
    assert_int_equal(ae_model_fit(a, x, 50, N_IN, NULL), AE_OK);
    ae_fit_report r = test_new_fit_report();
    assert_int_equal(ae_model_fit_validated(b, x, 50, N_IN, NULL, 0, 0, &r), AE_OK);
    assert_true(isnan(r.final_val_loss));
    assert_true(test_same_params(a, b));
    free(x);
    ae_model_free(a);
    ae_model_free(b);
}

/* ------------------------------------------------------- progress callback */

static void test_progress_callback_is_called_once_per_epoch(void **state)
{
    (void)state;
    const size_t n = 70, batch = 16;
    const uint64_t epochs = 5;
    ae_model *m = make_model(10);
    float *x = make_data(21, n);
    test_set_epochs_and_batch(m, (double)epochs, (double)batch);
    recorder rec;
    recorder_attach(&rec, m, 0);
    ae_fit_report r = fit_expecting(m, x, n, AE_OK);
    assert_int_equal(rec.calls, epochs);
    assert_int_equal(rec.epoch_calls, epochs);
    assert_int_equal(rec.batch_calls, 0);
    assert_true(rec.size_ok);
    assert_true(rec.fields_ok);
    assert_true(rec.encode_in_callback_ok);
    assert_int_equal(rec.last.epoch, epochs);
    assert_int_equal(rec.last.epochs, epochs);
    assert_int_equal(rec.last.batches, ceil_div(n, batch));
    assert_int_equal(rec.last.batch, rec.last.batches);
    assert_true(isnan(rec.last.val_loss)); /* no validation */
    assert_true(rec.last.seconds <= r.seconds);
    assert_true(r.final_train_loss == rec.epoch_train[epochs]);

    /* removing the callback stops the calls */
    assert_int_equal(ae_model_set_progress(m, NULL, NULL), AE_OK);
    assert_int_equal(ae_model_fit(m, x, n, N_IN, &r), AE_OK);
    assert_int_equal(rec.calls, epochs);
    free_run(NULL, x, m);
}

static void test_progress_every_batch_reports_each_batch_and_the_weighted_epoch_mean(void **state)
{
    (void)state;
    const size_t n = 100, batch = 32; /* batches of 32, 32, 32, 4 rows */
    const uint64_t epochs = 3, batches = 4;
    float *x = make_data(22, n);
    ae_model *m = make_model(11);
    test_set_epochs_and_batch(m, (double)epochs, (double)batch);
    test_set_param(m, AE_PARAM_SHUFFLE, 0);
    test_set_param(m, AE_PARAM_PROGRESS_EVERY_BATCH, 1);
    recorder rec;
    recorder_attach(&rec, m, 0);
    rec.every_batch = 1;
    fit_expecting(m, x, n, AE_OK);
    /* one call per batch, the epoch-end call standing for the last batch */
    assert_int_equal(rec.batch_calls, epochs * (batches - 1));
    assert_int_equal(rec.epoch_calls, epochs);
    assert_int_equal(rec.calls, epochs * batches);
    assert_true(rec.size_ok);
    assert_true(rec.fields_ok);

    /* Without shuffling, fit takes the same steps as train_batch over consecutive rows
     * (checked bit for bit below), so those steps' losses are the batch losses: the
     * per-batch calls report them, and the epoch loss is their mean weighted by rows. */
    ae_model *b = make_model(11);
    for (uint64_t e = 1; e <= epochs; e++) {
        double weighted = 0;
        for (size_t k = 0; k < batches; k++) {
            size_t first = k * batch, rows = n - first < batch ? n - first : batch;
            double loss = NAN;
            assert_int_equal(ae_model_train_batch(b, x + first * N_IN, rows, N_IN, &loss), AE_OK);
            weighted += loss * (double)rows;
            if (k + 1 < batches)
                assert_true(rec.batch_loss[e][k] == loss);
        }
        weighted /= (double)n;
        /* the same doubles summed in the same order; allow a few ulps */
        assert_true(fabs(rec.epoch_train[e] - weighted) <= 1e-15 * weighted);
    }
    free_run(NULL, x, m);
    ae_model_free(b);
}

/* ------------------------------------------------------------ cancellation */

static void test_cancelling_at_an_epoch_end_returns_cancelled_and_leaves_a_usable_model(void **state)
{
    (void)state;
    const size_t n = 64, batch = 16;
    ae_model *m = make_model(12);
    float *x = make_data(23, n);
    test_set_epochs_and_batch(m, 10, (double)batch);
    test_set_param(m, AE_PARAM_RESTORE_BEST, 0);
    recorder rec;
    recorder_attach(&rec, m, 1);
    rec.cancel_epoch = 3;
    ae_fit_report r = fit_expecting(m, x, n, AE_ERR_CANCELLED);
    assert_true(strlen(ae_model_last_error(m)) > 0);
    assert_true(strlen(ae_last_error()) > 0);
    assert_int_equal(r.stop_reason, AE_STOP_CANCELLED);
    assert_int_equal(r.epochs_run, 3);
    assert_int_equal(r.steps_run, 3 * ceil_div(n, batch));
    assert_int_equal(rec.epoch_calls, 3);
    assert_true(isfinite(r.final_train_loss));
    /* weights as after the last completed step */
    assert_true(test_params_equal_to(m, rec.snapshots + 3 * rec.n_params));

    /* still usable: encode works, and fit works again */
    float codes[64 * 3];
    assert_int_equal(ae_model_encode(m, x, n, N_IN, codes, 3), AE_OK);
    for (size_t i = 0; i < n * 3; i++)
        assert_true(isfinite(codes[i]));
    rec.cancel_epoch = 0;
    assert_int_equal(ae_model_set_progress(m, NULL, NULL), AE_OK);
    ae_fit_report r2 = fit_expecting(m, x, n, AE_OK);
    assert_int_equal(r2.stop_reason, AE_STOP_COMPLETED);
    assert_int_equal(r2.epochs_run, 10);
    assert_true(r2.final_train_loss < r.final_train_loss);
    free_run(&rec, x, m);
}

static void test_cancelling_mid_epoch_reports_no_completed_epoch(void **state)
{
    (void)state;
    const size_t n = 64, batch = 16;
    ae_model *m = make_model(13);
    float *x = make_data(24, n);
    test_set_epochs_and_batch(m, 5, (double)batch);
    test_set_param(m, AE_PARAM_PROGRESS_EVERY_BATCH, 1);
    recorder rec;
    recorder_attach(&rec, m, 0);
    rec.every_batch = 1;
    rec.cancel_batch_epoch = 1;
    rec.cancel_batch = 2;
    float *before = test_params_of(m);
    ae_fit_report r = fit_expecting(m, x, n, AE_ERR_CANCELLED);
    assert_int_equal(r.stop_reason, AE_STOP_CANCELLED);
    assert_int_equal(r.epochs_run, 0);
    assert_int_equal(r.steps_run, 2);
    assert_int_equal(r.best_epoch, 0);
    assert_true(isnan(r.final_train_loss));
    assert_true(isnan(r.best_loss));
    assert_int_equal(rec.calls, 2);
    /* two steps were taken and kept (there is no best epoch to restore) */
    assert_false(test_params_equal_to(m, before));
    assert_params_finite(m);
    assert_int_equal(ae_model_set_progress(m, NULL, NULL), AE_OK);
    assert_int_equal(ae_model_fit(m, x, n, N_IN, NULL), AE_OK);
    free(before);
    free_run(&rec, x, m);
}

static void test_cancelling_with_restore_best_restores_the_best_epoch(void **state)
{
    (void)state;
    ae_model *m = make_model(6);
    float *x = make_data(16, 80);
    noisy_setup(m);
    test_set_param(m, AE_PARAM_EPOCHS, 40);
    recorder rec;
    recorder_attach(&rec, m, 1);
    rec.cancel_epoch = 12;
    ae_fit_report r = fit_expecting(m, x, 80, AE_ERR_CANCELLED);
    assert_int_equal(r.epochs_run, 12);
    uint64_t best = argmin_epoch(rec.epoch_val, 12);
    assert_true(best < 12); /* so that restoring is visible */
    assert_int_equal(r.best_epoch, best);
    assert_int_equal(r.restored_best, 1);
    assert_true(test_params_equal_to(m, rec.snapshots + best * rec.n_params));
    free_run(&rec, x, m);
}

/* ------------------------------------------------------------- determinism */

static void configure_for_determinism(ae_model *m)
{
    test_set_epochs_and_batch(m, 4, 8);
    test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.2);
    test_set_param(m, AE_PARAM_SHUFFLE, 1);
}

static void test_same_seed_and_settings_give_bit_identical_weights(void **state)
{
    (void)state;
    float *x = make_data(25, 90);
    ae_model *a = make_model(42), *b = make_model(42);
    configure_for_determinism(a);
    configure_for_determinism(b);
    ae_fit_report ra = test_new_fit_report(), rb = test_new_fit_report();
    assert_int_equal(ae_model_fit(a, x, 90, N_IN, &ra), AE_OK);
    assert_int_equal(ae_model_fit(b, x, 90, N_IN, &rb), AE_OK);
    assert_true(test_same_params(a, b));
    assert_true(ra.final_train_loss == rb.final_train_loss);
    assert_true(ra.final_val_loss == rb.final_val_loss);
    free(x);
    ae_model_free(a);
    ae_model_free(b);
}

static void test_a_different_seed_gives_different_weights(void **state)
{
    (void)state;
    float *x = make_data(25, 90);
    ae_model *a = make_model(42), *b = make_model(43);
    configure_for_determinism(a);
    configure_for_determinism(b);
    assert_false(test_same_params(a, b)); /* different initial weights */
    assert_int_equal(ae_model_fit(a, x, 90, N_IN, NULL), AE_OK);
    assert_int_equal(ae_model_fit(b, x, 90, N_IN, NULL), AE_OK);
    assert_false(test_same_params(a, b));

    /* same initial weights, different seed: the shuffling and the held-out rows differ */
    ae_model *c = make_model(42), *d = make_model(44);
    configure_for_determinism(c);
    configure_for_determinism(d);
    float *init = test_params_of(c);
    assert_int_equal(ae_model_set_params(d, init, ae_model_param_count(d)), AE_OK);
    assert_true(test_same_params(c, d));
    assert_int_equal(ae_model_fit(c, x, 90, N_IN, NULL), AE_OK);
    assert_int_equal(ae_model_fit(d, x, 90, N_IN, NULL), AE_OK);
    assert_false(test_same_params(c, d));
    free(init);
    free(x);
    ae_model_free(a);
    ae_model_free(b);
    ae_model_free(c);
    ae_model_free(d);
}

static void test_shuffle_on_and_off_give_different_weights(void **state)
{
    (void)state;
    float *x = make_data(26, 64);
    ae_model *a = make_model(7), *b = make_model(7);
    test_set_param(a, AE_PARAM_EPOCHS, 3);
    test_set_param(b, AE_PARAM_EPOCHS, 3);
    test_set_param(a, AE_PARAM_BATCH_SIZE, 8);
    test_set_param(b, AE_PARAM_BATCH_SIZE, 8);
    test_set_param(a, AE_PARAM_SHUFFLE, 0);
    test_set_param(b, AE_PARAM_SHUFFLE, 1);
    assert_true(test_same_params(a, b));
    assert_int_equal(ae_model_fit(a, x, 64, N_IN, NULL), AE_OK);
    assert_int_equal(ae_model_fit(b, x, 64, N_IN, NULL), AE_OK);
    assert_false(test_same_params(a, b));
    free(x);
    ae_model_free(a);
    ae_model_free(b);
}

static void test_fit_without_shuffle_equals_train_batch_over_consecutive_rows(void **state)
{
    (void)state;
    const size_t n = 50, batch = 16; /* batches of 16, 16, 16, 2 rows */
    float *x = make_data(27, n);
    ae_model *a = make_model(8), *b = make_model(8);
    test_set_epochs_and_batch(a, 3, (double)batch);
    test_set_param(a, AE_PARAM_SHUFFLE, 0);
    test_set_param(a, AE_PARAM_RESTORE_BEST, 0);
    assert_int_equal(ae_model_fit(a, x, n, N_IN, NULL), AE_OK);
    for (int epoch = 0; epoch < 3; epoch++)
        for (size_t first = 0; first < n; first += batch) {
            size_t rows = n - first < batch ? n - first : batch;
            assert_int_equal(ae_model_train_batch(b, x + first * N_IN, rows, N_IN, NULL), AE_OK);
        }
    assert_true(test_same_params(a, b));
    free(x);
    ae_model_free(a);
    ae_model_free(b);
}

/* Per-batch losses of a fit with batch size 1, to tell which row each step used. */
typedef struct row_trace {
    size_t n[3];
    double loss[3][64];
} row_trace;

static int trace_rows(const ae_progress *p, void *user)
{
    row_trace *t = user;
    if (!p->epoch_end && p->epoch <= 2 && t->n[p->epoch] < 64) {
        t->loss[p->epoch][t->n[p->epoch]] = p->train_loss;
        t->n[p->epoch]++;
    }
    return 0;
}

static void test_fit_without_shuffle_visits_training_rows_in_data_order_with_a_validation_fraction(void **state)
{
    (void)state;
    /* Steps of 1e-30 * gradient leave the weights unchanged, so each one-row batch loss
     * is that row's score and names the row. Without shuffling, the training rows
     * (all but the randomly held-out ones) must come in data order, as they do
     * without validation. */
    const size_t n = 24;
    float *x = make_data(33, n);
    ae_model *m = make_model(14);
    test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 1e-30);
    test_set_param(m, AE_PARAM_SHUFFLE, 0);
    test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.25);
    test_set_param(m, AE_PARAM_BATCH_SIZE, 1);
    test_set_param(m, AE_PARAM_EPOCHS, 2);
    test_set_param(m, AE_PARAM_PROGRESS_EVERY_BATCH, 1);
    float scores[24];
    assert_int_equal(ae_model_score(m, x, n, N_IN, scores), AE_OK);
    row_trace trace;
    memset(&trace, 0, sizeof trace);
    assert_int_equal(ae_model_set_progress(m, trace_rows, &trace), AE_OK);
    assert_int_equal(ae_model_fit(m, x, n, N_IN, NULL), AE_OK);
    for (size_t epoch = 1; epoch <= 2; epoch++) {
        /* 18 training rows; the last batch is reported by the epoch-end call */
        assert_int_equal(trace.n[epoch], 17);
        size_t previous_row = 0;
        for (size_t k = 0; k < trace.n[epoch]; k++) {
            size_t row = n, matches = 0;
            for (size_t i = 0; i < n; i++)
                if (fabs(trace.loss[epoch][k] - (double)scores[i]) <= 1e-6 * scores[i]) {
                    row = i;
                    matches++;
                }
            assert_int_equal(matches, 1);
            if (k > 0 && row <= previous_row)
                fail_msg("epoch %zu, step %zu trained on row %zu after row %zu: not data order", epoch,
                         k + 1, row, previous_row);
            previous_row = row;
        }
    }
    free_run(NULL, x, m);
}

/* ----------------------------------------------------------------- resuming */

static void test_repeated_fit_calls_resume_training(void **state)
{
    (void)state;
    const size_t n = 80;
    float *x = make_data(28, n);
    ae_model *m = make_model(9);
    test_set_epochs_and_batch(m, 2, 16);
    double previous = INFINITY, loss = 0;
    assert_int_equal(ae_model_loss(m, x, n, N_IN, &previous), AE_OK);
    for (int call = 0; call < 5; call++) {
        ae_fit_report r = fit_expecting(m, x, n, AE_OK);
        assert_int_equal(r.epochs_run, 2); /* counted per call */
        assert_int_equal(ae_model_loss(m, x, n, N_IN, &loss), AE_OK);
        assert_true(loss < previous);
        previous = loss;
    }
    free_run(NULL, x, m);
}

static void test_two_fits_equal_one_fit_of_both_lengths_without_shuffle(void **state)
{
    (void)state;
    /* resuming keeps the weights and the optimizer state (Adam's moments and step) */
    const size_t n = 48;
    float *x = make_data(29, n);
    ae_model *a = make_model(10), *b = make_model(10);
    test_set_param(a, AE_PARAM_SHUFFLE, 0);
    test_set_param(b, AE_PARAM_SHUFFLE, 0);
    test_set_param(a, AE_PARAM_RESTORE_BEST, 0);
    test_set_param(b, AE_PARAM_RESTORE_BEST, 0);
    test_set_param(a, AE_PARAM_BATCH_SIZE, 16);
    test_set_param(b, AE_PARAM_BATCH_SIZE, 16);
    test_set_param(a, AE_PARAM_EPOCHS, 2);
    test_set_param(b, AE_PARAM_EPOCHS, 4);
    assert_int_equal(ae_model_fit(a, x, n, N_IN, NULL), AE_OK);
    assert_int_equal(ae_model_fit(a, x, n, N_IN, NULL), AE_OK);
    assert_int_equal(ae_model_fit(b, x, n, N_IN, NULL), AE_OK);
    assert_true(test_same_params(a, b));
    free(x);
    ae_model_free(a);
    ae_model_free(b);
}

/* With shuffling on, each epoch's order depends only on the generator's state, which the
 * model file keeps: 2 epochs, saved and loaded, then 2 more give the 4-epoch fit's weights. */
static void test_a_shuffled_fit_resumed_from_a_saved_model_equals_the_uninterrupted_fit(void **state)
{
    (void)state;
    const size_t n = 48;
    float *x = make_data(31, n);
    ae_model *a = make_model(12), *b = make_model(12);
    for (int i = 0; i < 2; i++) {
        ae_model *m = i ? b : a;
        test_set_param(m, AE_PARAM_SHUFFLE, 1);
        test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0); /* a split is drawn per call */
        test_set_param(m, AE_PARAM_RESTORE_BEST, 0);
        test_set_epochs_and_batch(m, i ? 4 : 2, 16);
    }
    assert_int_equal(ae_model_fit(a, x, n, N_IN, NULL), AE_OK);
    size_t size = 0;
    assert_int_equal(ae_model_save_size(a, AE_SAVE_OPTIMIZER_STATE, &size), AE_OK);
    void *bytes = malloc(size);
    assert_non_null(bytes);
    size_t written = 0;
    assert_int_equal(ae_model_save_to_memory(a, AE_SAVE_OPTIMIZER_STATE, bytes, size, &written), AE_OK);
    assert_int_equal(written, size);
    ae_model *resumed = NULL;
    assert_int_equal(ae_model_load_from_memory(&resumed, bytes, size), AE_OK);
    assert_int_equal(ae_model_fit(resumed, x, n, N_IN, NULL), AE_OK);
    assert_int_equal(ae_model_fit(b, x, n, N_IN, NULL), AE_OK);
    assert_true(test_same_params(resumed, b));
    free(bytes);
    free(x);
    ae_model_free(a);
    ae_model_free(b);
    ae_model_free(resumed);
}

/* --------------------------------------------------------------- divergence */

/* SGD on a linear model with inputs in [-10, 10]: the learning rate decides when the
 * weights blow up. Returns the report; checks what every divergence must satisfy. */
static ae_fit_report run_divergence(double lr)
{
    const size_t n = 64;
    test_rng rng;
    test_rng_seed(&rng, 30);
    float *x = test_random_matrix(&rng, n, N_IN, N_IN, -10.0f, 10.0f);
    assert_non_null(x);
    ae_model *m = make_model(11);
    test_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_LINEAR); /* nothing saturates or dies */
    test_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_SGD);
    test_set_param(m, AE_PARAM_LEARNING_RATE, lr);
    test_set_epochs_and_batch(m, 20, 16);
    test_set_param(m, AE_PARAM_RESTORE_BEST, 0);
    recorder rec;
    recorder_attach(&rec, m, 1);
    ae_fit_report r = fit_expecting(m, x, n, AE_ERR_DIVERGED);
    assert_true(strlen(ae_model_last_error(m)) > 0);
    assert_int_equal(r.stop_reason, AE_STOP_DIVERGED);
    assert_true(r.epochs_run < 20);
    assert_int_equal(rec.epoch_calls, r.epochs_run);
    assert_params_finite(m);
    /* restored to the weights at the start of the epoch that diverged */
    assert_true(rec.snapshot_valid[r.epochs_run]);
    assert_true(test_params_equal_to(m, rec.snapshots + r.epochs_run * rec.n_params));
    if (r.epochs_run > 0)
        assert_true(r.final_train_loss == rec.epoch_train[r.epochs_run]);
    else
        assert_true(isnan(r.final_train_loss));
    /* still usable */
    double loss = NAN;
    assert_int_equal(ae_model_loss(m, x, n, N_IN, &loss), AE_OK);
    assert_true(isfinite(loss));
    float codes[64 * 3];
    assert_int_equal(ae_model_encode(m, x, n, N_IN, codes, 3), AE_OK);
    free_run(&rec, x, m);
    return r;
}

static void test_fit_with_a_huge_sgd_learning_rate_diverges_and_keeps_finite_weights(void **state)
{
    (void)state;
    ae_fit_report r = run_divergence(1e3);
    assert_int_equal(r.epochs_run, 0); /* blows up within the first epoch */
}

static void test_fit_diverging_in_a_later_epoch_restores_that_epochs_starting_weights(void **state)
{
    (void)state;
    /* 0.05 is just past the stable range here: the first epoch completes, then the
     * weights blow up (a smaller rate converges, a larger one diverges at once) */
    ae_fit_report r = run_divergence(0.05);
    assert_true(r.epochs_run >= 1);
}

/* ------------------------------------------------------------ data layouts */

static void test_fit_with_batch_larger_than_the_data_takes_one_step_per_epoch(void **state)
{
    (void)state;
    const size_t n = 10;
    float *x = make_data(31, n);
    ae_model *m = make_model(12);
    test_set_epochs_and_batch(m, 4, 64);
    test_set_param(m, AE_PARAM_SHUFFLE, 0);
    test_set_param(m, AE_PARAM_RESTORE_BEST, 0);
    ae_fit_report r = fit_expecting(m, x, n, AE_OK);
    assert_int_equal(r.epochs_run, 4);
    assert_int_equal(r.steps_run, 4);
    assert_true(isfinite(r.final_train_loss));
    /* the same as four full-batch steps */
    ae_model *b = make_model(12);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ae_model_train_batch(b, x, n, N_IN, NULL), AE_OK);
    assert_true(test_same_params(m, b));
    free_run(NULL, x, m);
    ae_model_free(b);
}

static void test_fit_with_padded_rows_equals_fit_on_packed_rows(void **state)
{
    (void)state;
    const size_t n = 60, ld = N_IN + 7;
    test_rng rng;
    test_rng_seed(&rng, 32);
    /* NaN in the padding: reading it would make fit refuse the data or poison the weights */
    float *padded = test_random_matrix(&rng, n, N_IN, ld, 0.0f, 1.0f);
    assert_non_null(padded);
    float *packed = malloc(n * N_IN * sizeof *packed);
    assert_non_null(packed);
    for (size_t i = 0; i < n; i++)
        memcpy(packed + i * N_IN, padded + i * ld, N_IN * sizeof *packed);
    float *val_padded = malloc(20 * ld * sizeof *val_padded);
    assert_non_null(val_padded);
    for (size_t i = 0; i < 20 * ld; i++)
        val_padded[i] = NAN;
    for (size_t i = 0; i < 20; i++)
        memcpy(val_padded + i * ld, packed + i * N_IN, N_IN * sizeof *packed);

    ae_model *a = make_model(13), *b = make_model(13);
    ae_model *c = make_model(13), *d = make_model(13);
    ae_model *all[] = {a, b, c, d};
    for (int i = 0; i < 4; i++) {
        test_set_param(all[i], AE_PARAM_EPOCHS, 3);
        test_set_param(all[i], AE_PARAM_BATCH_SIZE, 16);
    }
    ae_fit_report ra = test_new_fit_report(), rb = test_new_fit_report(), rc = test_new_fit_report(), rd = test_new_fit_report();
    assert_int_equal(ae_model_fit(a, padded, n, ld, &ra), AE_OK);
    assert_int_equal(ae_model_fit(b, packed, n, N_IN, &rb), AE_OK);
    assert_true(test_same_params(a, b));
    assert_true(ra.final_train_loss == rb.final_train_loss);
    assert_params_finite(a);
    /* and with a padded validation set */
    assert_int_equal(ae_model_fit_validated(c, padded, n, ld, val_padded, 20, ld, &rc), AE_OK);
    assert_int_equal(ae_model_fit_validated(d, packed, n, N_IN, packed, 20, N_IN, &rd), AE_OK);
    assert_true(test_same_params(c, d));
    assert_true(isfinite(rc.final_val_loss));
    assert_true(rc.final_val_loss == rd.final_val_loss);
    free(padded);
    free(packed);
    free(val_padded);
    for (int i = 0; i < 4; i++)
        ae_model_free(all[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_report_describes_a_completed_run),
        cmocka_unit_test(test_fit_report_with_smaller_size_leaves_later_fields_untouched),
        cmocka_unit_test(test_fit_accepts_a_null_report),
        cmocka_unit_test(test_early_stopping_with_huge_min_delta_stops_after_one_plus_patience_epochs),
        cmocka_unit_test(test_early_stopping_treats_an_unchanged_loss_as_no_improvement),
        cmocka_unit_test(test_early_stopping_stops_when_validation_stops_improving),
        cmocka_unit_test(test_early_stopping_off_runs_all_epochs),
        cmocka_unit_test(test_restore_best_keeps_the_weights_of_the_best_validation_epoch),
        cmocka_unit_test(test_restore_best_without_validation_keeps_the_last_weights),
        cmocka_unit_test(test_restore_best_off_keeps_the_last_weights),
        cmocka_unit_test(test_restore_best_applies_on_early_stop),
        cmocka_unit_test(test_validation_fraction_holds_out_rows_and_reports_their_loss),
        cmocka_unit_test(test_explicit_validation_set_loss_equals_model_loss_at_the_end),
        cmocka_unit_test(test_fit_validated_without_a_set_is_fit),
        cmocka_unit_test(test_progress_callback_is_called_once_per_epoch),
        cmocka_unit_test(test_progress_every_batch_reports_each_batch_and_the_weighted_epoch_mean),
        cmocka_unit_test(test_cancelling_at_an_epoch_end_returns_cancelled_and_leaves_a_usable_model),
        cmocka_unit_test(test_cancelling_mid_epoch_reports_no_completed_epoch),
        cmocka_unit_test(test_cancelling_with_restore_best_restores_the_best_epoch),
        cmocka_unit_test(test_same_seed_and_settings_give_bit_identical_weights),
        cmocka_unit_test(test_a_different_seed_gives_different_weights),
        cmocka_unit_test(test_shuffle_on_and_off_give_different_weights),
        cmocka_unit_test(test_fit_without_shuffle_equals_train_batch_over_consecutive_rows),
        cmocka_unit_test(test_fit_without_shuffle_visits_training_rows_in_data_order_with_a_validation_fraction),
        cmocka_unit_test(test_repeated_fit_calls_resume_training),
        cmocka_unit_test(test_two_fits_equal_one_fit_of_both_lengths_without_shuffle),
        cmocka_unit_test(test_a_shuffled_fit_resumed_from_a_saved_model_equals_the_uninterrupted_fit),
        cmocka_unit_test(test_fit_with_a_huge_sgd_learning_rate_diverges_and_keeps_finite_weights),
        cmocka_unit_test(test_fit_diverging_in_a_later_epoch_restores_that_epochs_starting_weights),
        cmocka_unit_test(test_fit_with_batch_larger_than_the_data_takes_one_step_per_epoch),
        cmocka_unit_test(test_fit_with_padded_rows_equals_fit_on_packed_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
