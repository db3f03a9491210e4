/* libautoenc_mpi (autoenc_mpi.h), run as an MPI job: `mpiexec -np R test_mpi`, R = 1, 2, 3,
 * over shared memory and over TCP on loopback. R ranks training on their own rows end with
 * the weights of one process training on the combined batches (to 1e-5 relative after 20 or
 * more steps: the same sums in another order), every rank holds bitwise the same weights,
 * every variant and path of training takes part (tied, variational through its gradient,
 * denoising, penalties, scaling fitted on every rank's rows, uneven shards, data sources),
 * and an error, a cancellation or a checkpoint on one rank reaches every rank as a status.
 *
 * Every test is collective. A rank whose assertion fails ends the job at once (MPI_Abort
 * from the test's teardown) instead of leaving the others waiting in a collective; CTest's
 * timeout is the second guard. Only rank 0 prints CMocka's progress; failures print from
 * the rank that failed. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "autoenc_mpi.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define IN 10
#define MAX_RANKS 3
#define TOLERANCE 1e-5 /* relative, after at least 20 steps */

static int rank, n_ranks;
static int test_finished;   /* set by each test as its last statement */
static int a_test_failed;   /* on this rank */

/* ---- the job ----------------------------------------------------------------------------- */

static void finished(void) { test_finished = 1; }

/* A rank whose test failed ends the job before the next test (once CMocka has printed why):
 * the other ranks may be waiting for it inside a collective call. */
static void end_job_if_a_test_failed(void)
{
    if (!a_test_failed)
        return;
    fprintf(stderr, "test_mpi: a test failed on rank %d of %d (above); ending the job so that "
                    "no rank waits for it\n", rank, n_ranks);
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static int start_test(void **state)
{
    (void)state;
    end_job_if_a_test_failed();
    test_finished = 0;
    return 0;
}

static int end_test(void **state)
{
    (void)state;
    if (!test_finished) {
        a_test_failed = 1;
        return 0;
    }
    /* No test starts before every rank has left the last one. */
    MPI_Barrier(MPI_COMM_WORLD);
    return 0;
}

/* Whether a condition holds on every rank (collective). */
static int everywhere(int holds)
{
    int all = holds != 0;
    MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all;
}

/* Whether every rank's model has bitwise rank 0's parameters (collective). */
static int same_params_everywhere(const ae_model *m)
{
    size_t n = ae_model_param_count(m);
    float *mine = test_params_of(m), *root = malloc(n * sizeof *root);
    assert_non_null(root);
    memcpy(root, mine, n * sizeof *root);
    MPI_Bcast(root, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
    int same = memcmp(root, mine, n * sizeof *root) == 0;
    free(mine);
    free(root);
    return everywhere(same);
}

static ae_mpi_context *attach(ae_model *m)
{
    ae_mpi_context *context = NULL;
    int status = ae_mpi_attach(m, MPI_COMM_WORLD, &context);
    if (status != AE_OK)
        print_error("rank %d: ae_mpi_attach: %s\n", rank, ae_mpi_last_error());
    assert_int_equal(status, AE_OK);
    assert_non_null(context);
    return context;
}

static void detach(ae_mpi_context *context) { assert_int_equal(ae_mpi_detach(context), AE_OK); }

/* ---- models and data (as tests/test_distributed.c) ---------------------------------------- */

typedef struct variant {
    const char *name;
    unsigned flags;
    int hidden, latent, output, loss, scaling;
    double sparsity, activity, contractive;
} variant;

static const variant VARIANTS[] = {
    {"plain", AE_ARCH_PLAIN, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_SIGMOID, AE_LOSS_BCE, AE_SCALING_NONE, 0, 0, 0},
    {"tied", AE_ARCH_TIED_WEIGHTS, AE_ACT_ELU, AE_ACT_LINEAR, AE_ACT_LINEAR, AE_LOSS_MSE, AE_SCALING_NONE, 0, 0, 0},
    {"penalties", AE_ARCH_PLAIN, AE_ACT_TANH, AE_ACT_SIGMOID, AE_ACT_LINEAR, AE_LOSS_MSE, AE_SCALING_NONE, 0.3, 0.05, 0.1},
    {"standardised", AE_ARCH_PLAIN, AE_ACT_RELU, AE_ACT_LINEAR, AE_ACT_LINEAR, AE_LOSS_MSE, AE_SCALING_STANDARDIZE, 0, 0, 0},
    {"min-max", AE_ARCH_PLAIN, AE_ACT_SOFTPLUS, AE_ACT_TANH, AE_ACT_SIGMOID, AE_LOSS_BCE, AE_SCALING_MINMAX, 0, 0, 0},
};
static const variant VARIATIONAL = {"variational", AE_ARCH_VARIATIONAL, AE_ACT_TANH, AE_ACT_LINEAR,
                                    AE_ACT_SIGMOID, AE_LOSS_BCE, AE_SCALING_NONE, 0, 0, 0};

static ae_model *make_model(const variant *v)
{
    static const size_t widths[] = {IN, 6, 3};
    ae_model *m = NULL;
    assert_int_equal(ae_model_create_ex(&m, widths, 3, NULL, 0, v->flags), AE_OK);
    test_set_param(m, AE_PARAM_THREADS, 1);
    test_set_activations(m, v->hidden, v->latent, v->output);
    test_set_param(m, AE_PARAM_LOSS, v->loss);
    if (v->scaling != AE_SCALING_NONE)
        test_set_param(m, AE_PARAM_SCALING, v->scaling);
    if (v->sparsity > 0)
        test_set_param(m, AE_PARAM_SPARSITY_WEIGHT, v->sparsity);
    if (v->activity > 0)
        test_set_param(m, AE_PARAM_ACTIVITY_L1, v->activity);
    if (v->contractive > 0)
        test_set_param(m, AE_PARAM_CONTRACTIVE_WEIGHT, v->contractive);
    test_set_param(m, AE_PARAM_SHUFFLE, 0);
    test_set_param(m, AE_PARAM_SEED, 7);
    return m;
}

/* Rank r's shard: rows x IN values in [0, 1] (BCE targets), columns of different spreads. */
static float *make_data(uint64_t seed, size_t rows)
{
    test_rng rng;
    test_rng_seed(&rng, seed);
    float *x = test_random_matrix(&rng, rows, IN, IN, 0.0f, 1.0f);
    for (size_t i = 0; i < rows; i++)
        x[i * IN + 3] *= 0.2f;
    return x;
}

/* One training step of 16 rows of this rank's own succeeds and leaves the same weights on
 * every rank: the model is attached, whole and in step. */
static void assert_one_step_trains_alike(ae_model *m, uint64_t seed)
{
    float *x = make_data(seed + (uint64_t)rank, 16);
    assert_int_equal(ae_model_train_batch(m, x, 16, IN, NULL), AE_OK);
    assert_true(same_params_everywhere(m));
    free(x);
}

/* The combined batches of shards of the given sizes with per-rank batch b: step k takes rows
 * [k b, (k + 1) b) of every shard, rank by rank. Returns the number of steps. */
static size_t combine(float *const *shards, const size_t *sizes, int n, size_t b, float *combined,
                      size_t *steps)
{
    size_t most = 0, at = 0, n_steps = 0;
    for (int r = 0; r < n; r++)
        most = sizes[r] > most ? sizes[r] : most;
    for (size_t start = 0; start < most; start += b) {
        size_t rows = 0;
        for (int r = 0; r < n; r++) {
            for (size_t i = start; i < sizes[r] && i < start + b; i++, rows++)
                memcpy(combined + (at++) * IN, shards[r] + i * IN, IN * sizeof(float));
        }
        steps[n_steps++] = rows;
    }
    return n_steps;
}

static double relative_difference(const float *a, const float *b, size_t n)
{
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return worst / scale;
}

/* ---- equivalence with one process ------------------------------------------------------- */

typedef struct engine_settings {
    double bucket_bytes; /* < 0: the default */
    int overlap;
} engine_settings;

static const engine_settings DEFAULT_ENGINE = {-1, 1};

/* The ranks, with shards of sizes[rank] rows, fit `epochs` epochs of per-rank batch `batch`;
 * on rank 0 one process takes the same combined batches with ae_model_train_batch (its
 * scaling fitted on all the rows). Every rank ends with bitwise the same weights, and they
 * agree with the one process to TOLERANCE. Returns rank 0's weights (malloc'ed). */
static float *check_equivalence(const variant *v, const size_t *sizes, size_t batch,
                                uint64_t epochs, engine_settings engine)
{
    float *shard = make_data(100 + (uint64_t)rank, sizes[rank]);
    ae_model *m = make_model(v);
    test_set_epochs_and_batch(m, (double)epochs, (double)batch);
    ae_mpi_context *context = attach(m);
    if (engine.bucket_bytes >= 0)
        assert_int_equal(ae_mpi_set_param(context, AE_MPI_PARAM_BUCKET_BYTES, engine.bucket_bytes), AE_OK);
    assert_int_equal(ae_mpi_set_param(context, AE_MPI_PARAM_OVERLAP, engine.overlap), AE_OK);
    ae_fit_report report = test_new_fit_report();
    int status = ae_model_fit(m, shard, sizes[rank], IN, &report);
    if (status != AE_OK)
        print_error("%s, rank %d: %s\n", v->name, rank, ae_last_error());
    assert_int_equal(status, AE_OK);
    assert_int_equal(report.epochs_run, epochs);
    double loss = report.final_train_loss, root_loss = loss;
    MPI_Bcast(&root_loss, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    assert_true(everywhere(loss == root_loss));
    assert_true(same_params_everywhere(m));
    float *weights = test_params_of(m);
    if (rank == 0) {
        /* One process, the combined batches in the same order. */
        float *shards[MAX_RANKS];
        size_t total = 0;
        for (int r = 0; r < n_ranks; r++) {
            shards[r] = make_data(100 + (uint64_t)r, sizes[r]);
            total += sizes[r];
        }
        float *combined = malloc(total * IN * sizeof *combined);
        size_t steps[1024];
        assert_non_null(combined);
        size_t n_steps = combine(shards, sizes, n_ranks, batch, combined, steps);
        assert_true(n_steps * epochs >= 20);
        ae_model *single = make_model(v);
        if (v->scaling != AE_SCALING_NONE)
            assert_int_equal(ae_model_fit_scaling(single, combined, total, IN), AE_OK);
        for (uint64_t epoch = 0; epoch < epochs; epoch++) {
            size_t at = 0;
            for (size_t k = 0; k < n_steps; k++) {
                assert_int_equal(ae_model_train_batch(single, combined + at * IN, steps[k], IN, NULL), AE_OK);
                at += steps[k];
            }
        }
        if (v->scaling != AE_SCALING_NONE) {
            float o1[IN], s1[IN], o2[IN], s2[IN];
            assert_int_equal(ae_model_get_scaling(single, o1, s1, IN), AE_OK);
            assert_int_equal(ae_model_get_scaling(m, o2, s2, IN), AE_OK);
            for (size_t j = 0; j < IN; j++) {
                assert_true(fabsf(o1[j] - o2[j]) <= 1e-6f * (1 + fabsf(o1[j])));
                assert_true(fabsf(s1[j] - s2[j]) <= 1e-6f * s1[j]);
            }
        }
        float *expected = test_params_of(single);
        double difference = relative_difference(weights, expected, ae_model_param_count(m));
        if (getenv("AE_TEST_VERBOSE"))
            print_message("%s, %d ranks, bucket %g, overlap %d: %.3g relative\n", v->name, n_ranks,
                          engine.bucket_bytes, engine.overlap, difference);
        if (difference > TOLERANCE)
            print_error("%s, %d ranks: weights differ from one process by %.3g relative\n", v->name,
                        n_ranks, difference);
        assert_true(difference <= TOLERANCE);
        free(expected);
        ae_model_free(single);
        free(combined);
        for (int r = 0; r < n_ranks; r++)
            free(shards[r]);
    }
    detach(context);
    ae_model_free(m);
    free(shard);
    return weights;
}

static void test_ranks_train_as_one_process_on_the_combined_batches(void **state)
{
    (void)state;
    const size_t sizes[MAX_RANKS] = {48, 48, 48};
    for (size_t k = 0; k < ARRAY_LEN(VARIANTS); k++)
        free(check_equivalence(&VARIANTS[k], sizes, 8, 4, DEFAULT_ENGINE));
    finished();
}

/* Buckets of every size, and no overlap, give the same sums: with two ranks bitwise (each
 * element is one sum a + b), with more to TOLERANCE of the one process. */
static void test_bucket_sizes_and_overlap_change_only_the_order_of_sums(void **state)
{
    (void)state;
    const size_t sizes[MAX_RANKS] = {48, 48, 48};
    const engine_settings engines[] = {{0, 1}, {64, 1}, {1024, 1}, {-1, 1}, {1e12, 1}, {-1, 0}};
    ae_model *shape = make_model(&VARIANTS[2]);
    const size_t bytes = ae_model_param_count(shape) * sizeof(float);
    ae_model_free(shape);
    float *first = NULL;
    for (size_t k = 0; k < ARRAY_LEN(engines); k++) {
        float *weights = check_equivalence(&VARIANTS[2], sizes, 8, 4, engines[k]);
        if (!first) {
            first = weights;
            continue;
        }
        if (n_ranks <= 2)
            assert_memory_equal(first, weights, bytes);
        free(weights);
    }
    free(first);
    finished();
}

/* Uneven shards: a rank whose rows run out takes part with empty batches. */
static void test_uneven_shards_train_as_one_process(void **state)
{
    (void)state;
    static const size_t sizes[MAX_RANKS + 1][MAX_RANKS] = {{0}, {61}, {40, 3}, {61, 13, 30}};
    free(check_equivalence(&VARIANTS[0], sizes[n_ranks], 8, n_ranks == 2 ? 5 : 3, DEFAULT_ENGINE));
    free(check_equivalence(&VARIANTS[2], sizes[n_ranks], 8, n_ranks == 2 ? 5 : 3, DEFAULT_ENGINE));
    free(check_equivalence(&VARIANTS[3], sizes[n_ranks], 8, n_ranks == 2 ? 5 : 3, DEFAULT_ENGINE));
    finished();
}

/* A variational model samples its codes from each rank's own stream, so its steps cannot
 * equal one process's; its gradient (which decodes the mean) can: the ranks' collective
 * ae_model_gradient equals one process's on the combined batch. A fit runs and every rank
 * ends with the same weights. */
static void test_variational_gradient_equals_one_process_and_fits_agree(void **state)
{
    (void)state;
    const size_t rows = 16;
    float *shard = make_data(300 + (uint64_t)rank, rows);
    ae_model *m = make_model(&VARIATIONAL);
    const size_t n = ae_model_param_count(m);
    float *gradient = malloc(n * sizeof *gradient);
    assert_non_null(gradient);
    ae_mpi_context *context = attach(m);
    double loss = 0;
    assert_int_equal(ae_model_gradient(m, shard, rows, IN, gradient, n, &loss), AE_OK);
    if (rank == 0) {
        float *all = malloc((size_t)n_ranks * rows * IN * sizeof *all);
        assert_non_null(all);
        for (int r = 0; r < n_ranks; r++) {
            float *x = make_data(300 + (uint64_t)r, rows);
            memcpy(all + (size_t)r * rows * IN, x, rows * IN * sizeof *x);
            free(x);
        }
        ae_model *single = make_model(&VARIATIONAL);
        float *expected = malloc(n * sizeof *expected);
        assert_non_null(expected);
        double expected_loss = 0;
        assert_int_equal(ae_model_gradient(single, all, (size_t)n_ranks * rows, IN, expected, n,
                                           &expected_loss), AE_OK);
        double difference = relative_difference(gradient, expected, n);
        if (getenv("AE_TEST_VERBOSE"))
            print_message("variational gradient, %d ranks: %.3g relative\n", n_ranks, difference);
        assert_true(difference <= TOLERANCE);
        assert_true(fabs(loss - expected_loss) <= TOLERANCE * fabs(expected_loss));
        free(expected);
        free(all);
        ae_model_free(single);
    }
    test_set_epochs_and_batch(m, 3, 4);
    test_set_param(m, AE_PARAM_SHUFFLE, 1);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, shard, rows, IN, &report), AE_OK);
    assert_true(isfinite(report.final_elbo));
    assert_true(same_params_everywhere(m));
    detach(context);
    free(gradient);
    free(shard);
    ae_model_free(m);
    finished();
}

/* Denoising, dropout, shuffling and a random validation split draw from each rank's own
 * stream: the fit runs, the loss falls, and every rank agrees on everything. */
static double first_epoch_loss;

static int remember_first_epoch(const ae_progress *progress, void *user)
{
    (void)user;
    if (progress->epoch_end && progress->epoch == 1)
        first_epoch_loss = progress->train_loss;
    return 0;
}

static void test_denoising_runs_and_agrees_across_ranks(void **state)
{
    (void)state;
    const size_t rows = 64;
    float *shard = make_data(400 + (uint64_t)rank, rows);
    ae_model *m = make_model(&VARIANTS[0]);
    test_set_param(m, AE_PARAM_NOISE, AE_NOISE_MASKING);
    test_set_param(m, AE_PARAM_NOISE_LEVEL, 0.2);
    test_set_param(m, AE_PARAM_DROPOUT_HIDDEN, 0.1);
    test_set_param(m, AE_PARAM_SHUFFLE, 1);
    test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.25);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 0.01);
    test_set_epochs_and_batch(m, 8, 8);
    ae_mpi_context *context = attach(m);
    if (rank == 0)
        assert_int_equal(ae_model_set_progress(m, remember_first_epoch, NULL), AE_OK);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, shard, rows, IN, &report), AE_OK);
    assert_int_equal(report.epochs_run, 8);
    double figures[3] = {report.final_train_loss, report.final_val_loss, (double)report.best_epoch};
    double root[3];
    memcpy(root, figures, sizeof root);
    MPI_Bcast(root, 3, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    assert_true(everywhere(memcmp(root, figures, sizeof root) == 0));
    assert_true(same_params_everywhere(m));
    if (rank == 0)
        assert_true(report.final_train_loss < first_epoch_loss);
    detach(context);
    free(shard);
    ae_model_free(m);
    finished();
}

/* Greedy layer-wise pre-training is collective too (each stage trains through the hooks):
 * every rank ends with the same weights, the scaling fitted on every rank's rows. */
static void test_pretraining_runs_and_agrees_across_ranks(void **state)
{
    (void)state;
    const size_t rows = 24 + (size_t)rank * 5;
    float *shard = make_data(450 + (uint64_t)rank, rows);
    ae_model *m = make_model(&VARIANTS[3]);
    test_set_epochs_and_batch(m, 3, 8);
    ae_mpi_context *context = attach(m);
    ae_fit_report reports[2] = {test_new_fit_report(), test_new_fit_report()};
    int status = ae_model_pretrain(m, shard, rows, IN, reports, 2);
    if (status != AE_OK)
        print_error("rank %d: %s\n", rank, ae_last_error());
    assert_int_equal(status, AE_OK);
    assert_int_equal(reports[1].epochs_run, 3);
    assert_true(same_params_everywhere(m));
    float offset[IN], scale[IN], root[2 * IN];
    assert_int_equal(ae_model_get_scaling(m, offset, scale, IN), AE_OK);
    memcpy(root, offset, sizeof offset);
    memcpy(root + IN, scale, sizeof scale);
    MPI_Bcast(root, 2 * IN, MPI_FLOAT, 0, MPI_COMM_WORLD);
    assert_true(everywhere(memcmp(root, offset, sizeof offset) == 0 &&
                           memcmp(root + IN, scale, sizeof scale) == 0));
    detach(context);
    free(shard);
    ae_model_free(m);
    finished();
}

/* ---- every rank takes the same branch ----------------------------------------------------- */

typedef enum call_kind { CALL_FIT, CALL_TRAIN_BATCH, CALL_GRADIENT } call_kind;

static int run_call(ae_model *m, call_kind kind, const float *x, size_t rows)
{
    size_t n = ae_model_param_count(m);
    float *gradient = malloc(n * sizeof *gradient);
    assert_non_null(gradient);
    int status = kind == CALL_FIT          ? ae_model_fit(m, x, rows, IN, NULL)
                 : kind == CALL_TRAIN_BATCH ? ae_model_train_batch(m, x, rows, IN, NULL)
                                            : ae_model_gradient(m, x, rows, IN, gradient, n, NULL);
    free(gradient);
    return status;
}

/* NaN in the last rank's rows: that rank gets its data error, the others AE_ERR_PEER, nobody
 * changed anything, and the context trains on afterwards. */
static void test_an_error_on_one_rank_reaches_every_rank_as_a_status(void **state)
{
    (void)state;
    const int bad = n_ranks - 1;
    for (int kind = CALL_FIT; kind <= CALL_GRADIENT; kind++) {
        ae_model *m = make_model(&VARIANTS[2]);
        ae_mpi_context *context = attach(m);
        float *x = make_data(500 + (uint64_t)rank, 24), *before = test_params_of(m);
        if (rank == bad)
            x[5 * IN + 2] = NAN;
        int status = run_call(m, (call_kind)kind, x, 24);
        assert_int_equal(status, rank == bad ? AE_ERR_NON_FINITE_INPUT : AE_ERR_PEER);
        if (rank != bad)
            assert_non_null(strstr(ae_last_error(), "another participant failed"));
        assert_true(test_params_equal_to(m, before));
        /* Nobody is out of step: the same context trains on clean rows. */
        x[5 * IN + 2] = 0.5f;
        assert_int_equal(run_call(m, (call_kind)kind, x, 24), AE_OK);
        assert_true(same_params_everywhere(m));
        detach(context);
        ae_model_free(m);
        free(x);
        free(before);
    }
    finished();
}

/* Out of memory on the last rank: that rank says so, the others AE_ERR_PEER. */
static int fail_allocations;

static void *failing_alloc(size_t size, void *user)
{
    (void)user;
    return fail_allocations ? NULL : malloc(size);
}

static void plain_free(void *p, void *user)
{
    (void)user;
    free(p);
}

static void test_out_of_memory_on_one_rank_reaches_every_rank(void **state)
{
    (void)state;
    const int bad = n_ranks - 1;
    assert_int_equal(ae_set_allocator(failing_alloc, plain_free, NULL), AE_OK);
    ae_model *m = make_model(&VARIANTS[0]);
    ae_mpi_context *context = attach(m);
    float *x = make_data(600 + (uint64_t)rank, 32), *before = test_params_of(m);
    fail_allocations = rank == bad;
    int status = ae_model_fit(m, x, 32, IN, NULL);
    fail_allocations = 0;
    assert_int_equal(status, rank == bad ? AE_ERR_OUT_OF_MEMORY : AE_ERR_PEER);
    assert_true(test_params_equal_to(m, before));
    assert_int_equal(ae_model_fit(m, x, 32, IN, NULL), AE_OK);
    assert_true(same_params_everywhere(m));
    detach(context);
    ae_model_free(m);
    assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
    free(x);
    free(before);
    finished();
}

/* Rank 0's progress callback stops every rank after the same epoch. */
static int stop_after_two_epochs(const ae_progress *progress, void *user)
{
    (void)user;
    return progress->epoch_end && progress->epoch >= 2;
}

static void test_cancelling_on_rank_0_stops_every_rank_after_the_same_epoch(void **state)
{
    (void)state;
    ae_model *m = make_model(&VARIANTS[0]);
    test_set_epochs_and_batch(m, 30, 8);
    ae_mpi_context *context = attach(m);
    if (rank == 0)
        assert_int_equal(ae_model_set_progress(m, stop_after_two_epochs, NULL), AE_OK);
    float *x = make_data(700 + (uint64_t)rank, 32);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, x, 32, IN, &report), AE_ERR_CANCELLED);
    assert_int_equal(report.epochs_run, 2);
    assert_int_equal(report.stop_reason, AE_STOP_CANCELLED);
    assert_true(same_params_everywhere(m));
    detach(context);
    ae_model_free(m);
    free(x);
    finished();
}

/* ---- checkpoints ------------------------------------------------------------------------- */

typedef struct checkpoint {
    const ae_model *model; /* the model in training: const calls are allowed from its callback */
    const char *path;
    uint64_t after_epoch;
    int saved;
} checkpoint;

static int save_checkpoint(const ae_progress *progress, void *user)
{
    checkpoint *c = user;
    if (progress->epoch_end && progress->epoch == c->after_epoch)
        c->saved = ae_model_save(c->model, c->path, AE_SAVE_OPTIMIZER_STATE) == AE_OK;
    return 0;
}

/* 4 epochs uninterrupted, against 2 epochs whose checkpoint (written by rank 0 from its
 * progress callback) every rank loads for 2 more: the same weights, bitwise. The core derives
 * each epoch's randomness from one draw of the model's generator, which the checkpoint holds. */
static void check_resume(int shuffle)
{
    char path[256];
    snprintf(path, sizeof path, "%s/test_mpi_checkpoint_%ld.aenc",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
    MPI_Bcast(path, (int)sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD); /* rank 0's name */
    float *x = make_data(800 + (uint64_t)rank, 40 + (size_t)rank * 7);
    const size_t rows = 40 + (size_t)rank * 7;

    ae_model *whole = make_model(&VARIANTS[2]);
    test_set_param(whole, AE_PARAM_SHUFFLE, shuffle);
    test_set_param(whole, AE_PARAM_NOISE, AE_NOISE_GAUSSIAN);
    test_set_epochs_and_batch(whole, 4, 8);
    ae_mpi_context *context = attach(whole);
    checkpoint saving = {.model = whole, .path = path, .after_epoch = 2};
    if (rank == 0)
        assert_int_equal(ae_model_set_progress(whole, save_checkpoint, &saving), AE_OK);
    assert_int_equal(ae_model_fit(whole, x, rows, IN, NULL), AE_OK);
    detach(context);
    if (rank == 0)
        assert_true(saving.saved);
    MPI_Barrier(MPI_COMM_WORLD); /* the file is there before anyone reads it */

    ae_model *resumed = NULL;
    assert_int_equal(ae_model_load(&resumed, path), AE_OK);
    test_set_param(resumed, AE_PARAM_EPOCHS, 2);
    context = attach(resumed);
    assert_int_equal(ae_model_fit(resumed, x, rows, IN, NULL), AE_OK);
    detach(context);
    assert_true(everywhere(test_same_params(whole, resumed)));
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        unlink(path);
    ae_model_free(whole);
    ae_model_free(resumed);
    free(x);
}

static void test_a_checkpoint_from_rank_0_resumes_every_rank_exactly(void **state)
{
    (void)state;
    check_resume(0);
    finished();
}

/* The same with shuffling: needs each epoch's order drawn from the identity (see
 * tests/mpi/CMakeLists.txt). */
static void test_a_checkpoint_resumes_every_rank_exactly_with_shuffling(void **state)
{
    (void)state;
    check_resume(1);
    finished();
}

/* ---- data sources -------------------------------------------------------------------------- */

typedef struct shard_source {
    const float *x;
    size_t rows, next;
} shard_source;

static int shard_read(void *user, float *rows, size_t n_cols, size_t max_rows, size_t *n_read)
{
    shard_source *s = user;
    size_t n = s->rows - s->next < max_rows ? s->rows - s->next : max_rows;
    n = n < 5 ? n : 5;
    memcpy(rows, s->x + s->next * n_cols, n * n_cols * sizeof(float));
    s->next += n;
    *n_read = n;
    return 0;
}

static int shard_rewind(void *user)
{
    ((shard_source *)user)->next = 0;
    return 0;
}

/* Each rank streams its own rows (uneven shards, the scaling fitted on every rank's): the
 * same weights, bitwise, as fitting from the arrays. */
static void test_ranks_fit_from_their_own_sources(void **state)
{
    (void)state;
    const size_t sizes[MAX_RANKS] = {50, 17, 33};
    float *x = make_data(900 + (uint64_t)rank, sizes[rank]);
    ae_model *models[2];
    for (int pass = 0; pass < 2; pass++) {
        ae_model *m = models[pass] = make_model(&VARIANTS[3]);
        test_set_epochs_and_batch(m, 3, 8);
        ae_mpi_context *context = attach(m);
        shard_source shard = {.x = x, .rows = sizes[rank]};
        ae_data_source source = {.size = sizeof source, .user_data = &shard, .read = shard_read,
                                 .rewind = shard_rewind};
        int status = pass ? ae_model_fit_source(m, &source, NULL, NULL)
                          : ae_model_fit(m, x, sizes[rank], IN, NULL);
        if (status != AE_OK)
            print_error("rank %d: %s\n", rank, ae_last_error());
        assert_int_equal(status, AE_OK);
        detach(context);
    }
    assert_true(everywhere(test_same_params(models[0], models[1])));
    assert_true(same_params_everywhere(models[1]));
    ae_model_free(models[0]);
    ae_model_free(models[1]);
    free(x);
    finished();
}

/* ---- the same model everywhere --------------------------------------------------------------- */

/* attach refuses models that differ, naming the difference on the rank that has it and that
 * rank on the others; nothing is installed. */
static void expect_attach_refused(ae_model *m, const char *what)
{
    const int odd = n_ranks - 1;
    static char sentinel;
    ae_mpi_context *context = (ae_mpi_context *)(void *)&sentinel; /* must come back NULL */
    int status = ae_mpi_attach(m, MPI_COMM_WORLD, &context);
    if (n_ranks == 1) {
        assert_int_equal(status, AE_OK); /* nothing to differ from */
        detach(context);
        return;
    }
    assert_null(context);
    assert_int_equal(status, rank == odd ? AE_ERR_STATE : AE_ERR_PEER);
    if (!strstr(ae_mpi_last_error(), what))
        print_error("rank %d: \"%s\" lacks \"%s\"\n", rank, ae_mpi_last_error(), what);
    assert_non_null(strstr(ae_mpi_last_error(), what));
    char rank_name[32];
    snprintf(rank_name, sizeof rank_name, "rank %d", odd);
    assert_non_null(strstr(ae_mpi_last_error(), rank_name));
}

static void test_attach_refuses_models_that_differ_and_names_the_difference(void **state)
{
    (void)state;
    const int odd = n_ranks - 1;
    ae_model *m = make_model(&VARIANTS[0]);
    /* a setting */
    if (rank == odd && n_ranks > 1)
        test_set_param(m, AE_PARAM_LEARNING_RATE, 0.01);
    expect_attach_refused(m, "learning_rate");
    ae_model_free(m);
    /* a weight */
    m = make_model(&VARIANTS[0]);
    if (rank == odd && n_ranks > 1) {
        float b[6] = {0.25f, 0, 0, 0, 0, 0}; /* layer 0 has 6 outputs */
        assert_int_equal(ae_model_set_bias(m, 0, b, 6), AE_OK);
    }
    expect_attach_refused(m, "weights and biases");
    ae_model_free(m);
    /* a scaling fitted on one rank only */
    m = make_model(&VARIANTS[3]);
    if (rank == odd && n_ranks > 1) {
        float *x = make_data(1, 8);
        assert_int_equal(ae_model_fit_scaling(m, x, 8, IN), AE_OK);
        free(x);
    }
    expect_attach_refused(m, "exists on one rank only");
    ae_model_free(m);
    /* the architecture */
    static const size_t wider[] = {IN, 7, 3};
    const variant *v = &VARIANTS[0];
    m = make_model(v);
    if (rank == odd && n_ranks > 1) {
        ae_model_free(m);
        assert_int_equal(ae_model_create(&m, wider, 3, NULL, 0), AE_OK);
    }
    expect_attach_refused(m, "layer 0's output width");
    ae_model_free(m);
    finished();
}

/* ae_mpi_broadcast_model gives every rank the root's model, exactly: attach accepts it. */
static void test_broadcast_gives_every_rank_the_roots_model(void **state)
{
    (void)state;
    for (int root = 0; root < n_ranks; root += n_ranks > 1 ? n_ranks - 1 : 1) {
        ae_model *m = NULL;
        if (rank == root) {
            m = make_model(&VARIANTS[3]);
            test_set_param(m, AE_PARAM_LEARNING_RATE, 0.02);
            float *x = make_data(1000, 16);
            assert_int_equal(ae_model_fit_scaling(m, x, 16, IN), AE_OK);
            assert_int_equal(ae_model_train_batch(m, x, 16, IN, NULL), AE_OK); /* optimizer state */
            free(x);
        } else if (rank % 2) {
            m = make_model(&VARIANTS[1]); /* replaced */
        }
        int status = ae_mpi_broadcast_model(&m, root, MPI_COMM_WORLD);
        if (status != AE_OK)
            print_error("rank %d: %s\n", rank, ae_mpi_last_error());
        assert_int_equal(status, AE_OK);
        assert_non_null(m);
        double rate = 0;
        assert_int_equal(ae_model_get_param(m, AE_PARAM_LEARNING_RATE, &rate), AE_OK);
        assert_true(rate == 0.02);
        ae_mpi_context *context = attach(m); /* every byte equal */
        float *x = make_data(1100 + (uint64_t)rank, 16);
        assert_int_equal(ae_model_train_batch(m, x, 16, IN, NULL), AE_OK);
        assert_true(same_params_everywhere(m));
        detach(context);
        free(x);
        ae_model_free(m);
        if (n_ranks == 1)
            break;
    }
    /* A bad root is refused everywhere, models untouched. */
    ae_model *m = make_model(&VARIANTS[0]), *before = m;
    assert_int_equal(ae_mpi_broadcast_model(&m, n_ranks, MPI_COMM_WORLD), AE_ERR_INVALID_ARGUMENT);
    assert_ptr_equal(m, before);
    /* The root without a model: it says so, the others AE_ERR_PEER. */
    ae_model *none = NULL;
    assert_int_equal(ae_mpi_broadcast_model(rank == 0 ? &none : &m, 0, MPI_COMM_WORLD),
                     rank == 0 ? AE_ERR_INVALID_ARGUMENT : AE_ERR_PEER);
    assert_ptr_equal(m, before);
    ae_model_free(m);
    finished();
}

/* ---- the convenience calls, settings, statistics, arguments --------------------------------- */

/* ae_mpi_fit: validation rows on rank 0 only, every rank agrees on the report, and the model
 * comes back detached (it trains alone afterwards). */
static void test_mpi_fit_trains_every_rank_and_detaches(void **state)
{
    (void)state;
    ae_model *m = make_model(&VARIANTS[0]);
    test_set_epochs_and_batch(m, 6, 8);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 0.02);
    float *x = make_data(1200 + (uint64_t)rank, 32), *val = make_data(1300, 12);
    ae_fit_report report = test_new_fit_report();
    int status = ae_mpi_fit(m, x, 32, IN, rank == 0 ? val : NULL, rank == 0 ? 12 : 0, IN, &report,
                            MPI_COMM_WORLD);
    if (status != AE_OK)
        print_error("rank %d: %s\n", rank, ae_mpi_last_error());
    assert_int_equal(status, AE_OK);
    assert_int_equal(report.epochs_run, 6);
    assert_true(isfinite(report.final_val_loss));
    double figures[2] = {report.final_val_loss, (double)report.best_epoch}, root[2];
    memcpy(root, figures, sizeof root);
    MPI_Bcast(root, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    assert_true(everywhere(memcmp(root, figures, sizeof root) == 0));
    assert_true(same_params_everywhere(m));
    if (rank == n_ranks - 1) /* alone: no other rank takes part, nobody waits */
        assert_int_equal(ae_model_train_batch(m, x, 32, IN, NULL), AE_OK);
    ae_model_free(m);
    /* A failure inside the fit comes back with its message: the rank with bad data gets its
     * own status, the others AE_ERR_PEER naming it. */
    m = make_model(&VARIANTS[0]);
    if (rank == n_ranks - 1)
        x[3 * IN + 1] = NAN;
    status = ae_mpi_fit(m, x, 32, IN, NULL, 0, 0, NULL, MPI_COMM_WORLD);
    assert_int_equal(status, rank == n_ranks - 1 ? AE_ERR_NON_FINITE_INPUT : AE_ERR_PEER);
    assert_non_null(strstr(ae_mpi_last_error(), "row 3"));
    free(x);
    free(val);
    ae_model_free(m);
    finished();
}

static void test_shard_range_covers_every_row_once(void **state)
{
    (void)state;
    static const size_t counts[] = {0, 1, 2, 5, 7, 100, 101};
    for (size_t k = 0; k < ARRAY_LEN(counts); k++) {
        for (int ranks = 1; ranks <= 5; ranks++) {
            size_t next = 0;
            for (int r = 0; r < ranks; r++) {
                size_t first = 99, count = 99;
                assert_int_equal(ae_mpi_shard_range(counts[k], r, ranks, &first, &count), AE_OK);
                assert_int_equal(first, next);
                assert_true(count == counts[k] / (size_t)ranks || count == counts[k] / (size_t)ranks + 1);
                next += count;
            }
            assert_int_equal(next, counts[k]);
        }
    }
    size_t first, count;
    assert_int_equal(ae_mpi_shard_range(10, 2, 2, &first, &count), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_shard_range(10, -1, 2, &first, &count), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_shard_range(10, 0, 0, &first, &count), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_shard_range(10, 0, 1, NULL, &count), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_shard_range(10, 0, 1, &first, NULL), AE_ERR_INVALID_ARGUMENT);
    finished();
}

static void test_settings_are_collective_and_statistics_count_the_work(void **state)
{
    (void)state;
    ae_model *m = make_model(&VARIANTS[0]);
    test_set_epochs_and_batch(m, 2, 8);
    ae_mpi_context *context = attach(m);
    assert_ptr_equal(ae_mpi_context_model(context), m);
    assert_int_equal(ae_mpi_context_rank(context), rank);
    assert_int_equal(ae_mpi_context_size(context), n_ranks);
    double value = 0;
    assert_int_equal(ae_mpi_get_param(context, AE_MPI_PARAM_BUCKET_BYTES, &value), AE_OK);
    assert_true(value == 262144);
    assert_int_equal(ae_mpi_get_param(context, AE_MPI_PARAM_OVERLAP, &value), AE_OK);
    assert_true(value == 1);
    /* out of range, not integral, unknown: refused everywhere */
    assert_int_equal(ae_mpi_set_param(context, AE_MPI_PARAM_BUCKET_BYTES, -1), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_set_param(context, AE_MPI_PARAM_BUCKET_BYTES, 10.5), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_set_param(context, AE_MPI_PARAM_OVERLAP, 2), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_set_param(context, (ae_mpi_param)99, 1), AE_ERR_INVALID_ARGUMENT);
    /* a value on one rank only: refused on every rank, which keep the old one */
    int status = ae_mpi_set_param(context, AE_MPI_PARAM_BUCKET_BYTES, rank == 0 ? 4096 : 8192);
    assert_int_equal(status, n_ranks == 1 ? AE_OK : AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_set_param(context, AE_MPI_PARAM_BUCKET_BYTES, 1024), AE_OK);
    assert_int_equal(ae_mpi_get_param(context, AE_MPI_PARAM_BUCKET_BYTES, &value), AE_OK);
    assert_true(value == 1024);
    assert_int_equal(ae_mpi_get_param(context, (ae_mpi_param)99, &value), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_get_param(NULL, AE_MPI_PARAM_OVERLAP, &value), AE_ERR_INVALID_ARGUMENT);

    /* statistics */
    ae_mpi_stats stats = {0};
    assert_int_equal(ae_mpi_get_stats(context, &stats), AE_ERR_INVALID_ARGUMENT); /* size unset */
    stats.size = sizeof stats;
    assert_int_equal(ae_mpi_reset_stats(context), AE_OK);
    float *x = make_data(1400 + (uint64_t)rank, 32);
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, x, 32, IN, &report), AE_OK);
    assert_int_equal(ae_mpi_get_stats(context, &stats), AE_OK);
    assert_int_equal(stats.size, sizeof stats);
    assert_int_equal(stats.steps, report.steps_run);
    if (n_ranks > 1) {
        /* every parameter once per step, in buckets of at least 1 KiB where spans allow */
        assert_int_equal(stats.gradient_bytes, stats.steps * ae_model_param_count(m) * sizeof(float));
        assert_true(stats.buckets >= stats.steps);
        assert_true(stats.reduces > stats.steps);
        assert_true(stats.gradient_wait_seconds >= 0 && stats.reduce_seconds > 0);
    } else {
        assert_int_equal(stats.buckets, 0); /* one rank: no MPI at all */
        assert_int_equal(stats.reduces, 0);
    }
    /* a shorter struct from an older caller gets the fields it has */
    ae_mpi_stats old = {.size = offsetof(ae_mpi_stats, buckets), .buckets = 12345};
    assert_int_equal(ae_mpi_get_stats(context, &old), AE_OK);
    assert_int_equal(old.steps, stats.steps);
    assert_int_equal(old.buckets, 12345);
    assert_int_equal(ae_mpi_reset_stats(context), AE_OK);
    assert_int_equal(ae_mpi_get_stats(context, &stats), AE_OK);
    assert_int_equal(stats.steps, 0);
    detach(context);
    ae_model_free(m);
    free(x);
    finished();
}

static void test_arguments_are_checked_on_every_rank(void **state)
{
    (void)state;
    ae_mpi_context *context = NULL;
    ae_model *m = make_model(&VARIANTS[0]);
    /* NULL model on the last rank only: it says so, the others AE_ERR_PEER naming it */
    int status = ae_mpi_attach(rank == n_ranks - 1 ? NULL : m, MPI_COMM_WORLD, &context);
    assert_int_equal(status, rank == n_ranks - 1 ? AE_ERR_INVALID_ARGUMENT : AE_ERR_PEER);
    assert_null(context);
    assert_non_null(strstr(ae_mpi_last_error(), "model is NULL"));
    assert_int_equal(ae_mpi_attach(m, MPI_COMM_WORLD, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_attach(m, MPI_COMM_NULL, &context), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_broadcast_model(&m, 0, MPI_COMM_NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_detach(NULL), AE_OK);
    assert_null(ae_mpi_context_model(NULL));
    assert_int_equal(ae_mpi_context_rank(NULL), -1);
    assert_int_equal(ae_mpi_context_size(NULL), 0);
    assert_int_equal(ae_mpi_get_stats(NULL, NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_reset_stats(NULL), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_mpi_set_param(NULL, AE_MPI_PARAM_OVERLAP, 1), AE_ERR_INVALID_ARGUMENT);
    /* the model still attaches and trains: nothing was left installed or half-done */
    context = attach(m);
    assert_one_step_trains_alike(m, 1500);
    detach(context);
    ae_model_free(m);
    finished();
}

/* What every rank must pass alike is checked, not only what is in range on each: different
 * settings in ae_mpi_set_param (each rank changed its own, and the next step hung on buckets
 * that did not match), different roots in ae_mpi_broadcast_model (each rank kept its own
 * model and returned AE_OK). Every rank fails, nothing changes. */
static void test_arguments_that_must_match_are_checked(void **state)
{
    (void)state;
    ae_model *m = make_model(&VARIANTS[0]);
    ae_mpi_context *context = attach(m);
    const int differ = n_ranks > 1;
    int status = ae_mpi_set_param(context, rank == 1 ? AE_MPI_PARAM_OVERLAP : AE_MPI_PARAM_BUCKET_BYTES, 1);
    assert_int_equal(status, differ ? AE_ERR_INVALID_ARGUMENT : AE_OK);
    double bucket = 0, overlap = 0;
    assert_int_equal(ae_mpi_get_param(context, AE_MPI_PARAM_BUCKET_BYTES, &bucket), AE_OK);
    assert_int_equal(ae_mpi_get_param(context, AE_MPI_PARAM_OVERLAP, &overlap), AE_OK);
    assert_true(bucket == (differ ? 262144 : 1) && overlap == 1);
    assert_one_step_trains_alike(m, 1800);
    detach(context);
    /* each rank's own model as a root, every rank a different one */
    ae_model *own = make_model(&VARIANTS[1 + rank % 2]), *kept = own;
    status = ae_mpi_broadcast_model(&own, rank, MPI_COMM_WORLD);
    assert_int_equal(status, differ ? AE_ERR_INVALID_ARGUMENT : AE_OK);
    assert_ptr_equal(own, kept);
    if (differ)
        assert_non_null(strstr(ae_mpi_last_error(), "different roots"));
    ae_model_free(own);
    ae_model_free(m);
    finished();
}

/* A model has one set of hooks: attaching it a second time is refused on every rank (it
 * replaced the first context's hooks, and detaching the first then left the model training
 * alone, silently), and so is replacing it by a broadcast while attached (the context kept
 * a freed model). The first context trains on. */
static void test_an_attached_model_is_not_attached_again_nor_replaced(void **state)
{
    (void)state;
    ae_model *m = make_model(&VARIANTS[0]);
    ae_mpi_context *context = attach(m), *second = NULL;
    assert_int_equal(ae_mpi_attach(m, MPI_COMM_WORLD, &second), AE_ERR_STATE);
    assert_null(second);
    assert_non_null(strstr(ae_mpi_last_error(), "already attached"));
    if (n_ranks > 1) {
        ae_model *kept = m;
        assert_int_equal(ae_mpi_broadcast_model(&m, 0, MPI_COMM_WORLD),
                         rank == 0 ? AE_ERR_PEER : AE_ERR_STATE);
        assert_ptr_equal(m, kept);
    }
    assert_one_step_trains_alike(m, 1900);
    ae_mpi_stats stats = {.size = sizeof stats};
    assert_int_equal(ae_mpi_get_stats(context, &stats), AE_OK);
    assert_int_equal(stats.steps, 1);
    detach(context);
    /* detached, it attaches again */
    context = attach(m);
    detach(context);
    ae_model_free(m);
    finished();
}

/* A model another thread trains, on the last rank: attach says AE_ERR_BUSY there (it said
 * the model differed, "layer 0's input width is 0 here", reading the failed calls as
 * zeros) and AE_ERR_PEER elsewhere, and no rank keeps what it made for the comparison (the
 * other ranks' descriptions leaked: AddressSanitizer's build sees it). */
static atomic_int busy_entered, busy_release;

static void pause_a_millisecond(void)
{
    const struct timespec millisecond = {0, 1000000};
    nanosleep(&millisecond, NULL);
}

static int hold_the_model(const ae_progress *progress, void *user)
{
    (void)progress;
    (void)user;
    atomic_store(&busy_entered, 1);
    while (!atomic_load(&busy_release))
        pause_a_millisecond();
    return 1; /* cancel: the fit ends */
}

typedef struct busy_fit {
    ae_model *m;
    const float *x;
} busy_fit;

static void *fit_in_a_thread(void *user)
{
    busy_fit *b = user;
    ae_model_fit(b->m, b->x, 16, IN, NULL);
    return NULL;
}

static void test_a_model_busy_on_one_rank_is_refused_as_busy(void **state)
{
    (void)state;
    const int busy = n_ranks - 1;
    ae_model *m = make_model(&VARIANTS[0]);
    float *x = make_data(2000 + (uint64_t)rank, 16);
    busy_fit b = {m, x};
    pthread_t thread;
    atomic_store(&busy_entered, 0);
    atomic_store(&busy_release, 0);
    if (rank == busy) {
        test_set_param(m, AE_PARAM_PROGRESS_EVERY_BATCH, 1);
        assert_int_equal(ae_model_set_progress(m, hold_the_model, NULL), AE_OK);
        assert_int_equal(pthread_create(&thread, NULL, fit_in_a_thread, &b), 0);
        while (!atomic_load(&busy_entered))
            pause_a_millisecond();
    }
    ae_mpi_context *context = NULL;
    int status = ae_mpi_attach(m, MPI_COMM_WORLD, &context);
    if (rank == busy) {
        atomic_store(&busy_release, 1);
        assert_int_equal(pthread_join(thread, NULL), 0);
    }
    assert_int_equal(status, rank == busy ? AE_ERR_BUSY : AE_ERR_PEER);
    assert_null(context);
    ae_model_free(m);
    free(x);
    finished();
}

/* ae_mpi_fit with NaN in the last rank's rows: that rank says where, and the others'
 * AE_ERR_PEER names the rank and gives its words (they said only "another participant
 * failed"). */
static void test_mpi_fit_names_the_rank_that_failed(void **state)
{
    (void)state;
    const int bad = n_ranks - 1;
    ae_model *m = make_model(&VARIANTS[0]);
    float *x = make_data(2100 + (uint64_t)rank, 16), *before = test_params_of(m);
    if (rank == bad)
        x[3 * IN + 1] = NAN;
    int status = ae_mpi_fit(m, x, 16, IN, NULL, 0, 0, NULL, MPI_COMM_WORLD);
    assert_int_equal(status, rank == bad ? AE_ERR_NON_FINITE_INPUT : AE_ERR_PEER);
    char expected[32];
    snprintf(expected, sizeof expected, "rank %d failed", bad);
    if (rank != bad)
        assert_non_null(strstr(ae_mpi_last_error(), expected));
    assert_non_null(strstr(ae_mpi_last_error(), "NaN"));
    assert_true(test_params_equal_to(m, before));
    /* a shared outcome keeps every rank's own words and status */
    x[3 * IN + 1] = 0.5f;
    if (rank == 0)
        assert_int_equal(ae_model_set_progress(m, stop_after_two_epochs, NULL), AE_OK);
    test_set_param(m, AE_PARAM_EPOCHS, 3);
    status = ae_mpi_fit(m, x, 16, IN, NULL, 0, 0, NULL, MPI_COMM_WORLD);
    assert_int_equal(status, AE_ERR_CANCELLED);
    assert_null(strstr(ae_mpi_last_error(), "rank 0 failed"));
    ae_model_free(m);
    free(x);
    free(before);
    finished();
}

/* An intercommunicator (two groups of ranks) is refused by every call on every process of
 * both groups, locally: its collectives join groups, not ranks (before, MPI_Allreduce with
 * MPI_IN_PLACE over it aborted the job). */
static void test_intercommunicators_are_refused_everywhere(void **state)
{
    (void)state;
    if (n_ranks < 2) {
        finished();
        return;
    }
    MPI_Comm local = MPI_COMM_NULL, inter = MPI_COMM_NULL;
    assert_int_equal(MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &local), MPI_SUCCESS);
    assert_int_equal(MPI_Intercomm_create(local, 0, MPI_COMM_WORLD, rank % 2 ? 0 : 1, 71, &inter),
                     MPI_SUCCESS);
    ae_model *m = make_model(&VARIANTS[0]), *copy = m;
    float *x = make_data(1600 + (uint64_t)rank, 16), *before = test_params_of(m);
    ae_mpi_context *context = NULL;
    assert_int_equal(ae_mpi_attach(m, inter, &context), AE_ERR_INVALID_ARGUMENT);
    assert_null(context);
    assert_non_null(strstr(ae_mpi_last_error(), "intercommunicator"));
    assert_int_equal(ae_mpi_broadcast_model(&copy, 0, inter), AE_ERR_INVALID_ARGUMENT);
    assert_ptr_equal(copy, m);
    assert_int_equal(ae_mpi_fit(m, x, 16, IN, NULL, 0, 0, NULL, inter), AE_ERR_INVALID_ARGUMENT);
    assert_true(test_params_equal_to(m, before));
    MPI_Comm_free(&inter);
    MPI_Comm_free(&local);
    ae_model_free(m);
    free(x);
    free(before);
    finished();
}

/* Past MPI_Finalize (no MPI call allowed: Open MPI aborts the process), a model still
 * attached over several ranks fails its training calls with AE_ERR_PEER, the settings
 * with AE_ERR_STATE, and detaching works: the model then trains alone. Run by main() after
 * the suite; it finalises MPI. Returns the number of failed checks. */
static int after_finalize_calls_fail_cleanly(void)
{
    ae_model *m = NULL;
    static const size_t widths[] = {IN, 6, 3};
    ae_mpi_context *context = NULL;
    int failed = ae_model_create_ex(&m, widths, 3, NULL, 0, AE_ARCH_PLAIN) != AE_OK ||
                 ae_model_set_param(m, AE_PARAM_SEED, 3) != AE_OK ||
                 ae_mpi_attach(m, MPI_COMM_WORLD, &context) != AE_OK;
    MPI_Finalize();
    if (failed)
        return 1;
    float *x = make_data(1700 + (uint64_t)rank, 8), *before = test_params_of(m);
    const int expected = n_ranks > 1 ? AE_ERR_PEER : AE_OK;
    int status = ae_model_train_batch(m, x, 8, IN, NULL);
    if (status != expected || (n_ranks > 1 && !test_params_equal_to(m, before))) {
        fprintf(stderr, "rank %d: training after MPI_Finalize returned %d (%s)\n", rank, status,
                ae_last_error());
        failed++;
    }
    if (ae_mpi_set_param(context, AE_MPI_PARAM_OVERLAP, 0) != AE_ERR_STATE) {
        fprintf(stderr, "rank %d: ae_mpi_set_param after MPI_Finalize: %s\n", rank,
                ae_mpi_last_error());
        failed++;
    }
    ae_mpi_context *again = NULL;
    failed += ae_mpi_attach(m, MPI_COMM_WORLD, &again) != AE_ERR_STATE || again != NULL;
    failed += ae_mpi_detach(context) != AE_OK;
    failed += ae_model_train_batch(m, x, 8, IN, NULL) != AE_OK;
    ae_model_free(m);
    free(x);
    free(before);
    return failed;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
    if (n_ranks > MAX_RANKS) {
        if (rank == 0)
            fprintf(stderr, "test_mpi: run with at most %d ranks\n", MAX_RANKS);
        MPI_Finalize();
        return 2;
    }
    /* test_mpi [--only PATTERN] [--skip PATTERN]: CMocka's filters (* and ? wildcards) */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--only") == 0)
            cmocka_set_test_filter(argv[i + 1]);
        else if (strcmp(argv[i], "--skip") == 0)
            cmocka_set_skip_filter(argv[i + 1]);
    }
    if (rank != 0 && !freopen("/dev/null", "w", stdout))
        return 2;
#define TEST(name) cmocka_unit_test_setup_teardown(name, start_test, end_test)
    const struct CMUnitTest tests[] = {
        TEST(test_ranks_train_as_one_process_on_the_combined_batches),
        TEST(test_bucket_sizes_and_overlap_change_only_the_order_of_sums),
        TEST(test_uneven_shards_train_as_one_process),
        TEST(test_variational_gradient_equals_one_process_and_fits_agree),
        TEST(test_denoising_runs_and_agrees_across_ranks),
        TEST(test_pretraining_runs_and_agrees_across_ranks),
        TEST(test_an_error_on_one_rank_reaches_every_rank_as_a_status),
        TEST(test_out_of_memory_on_one_rank_reaches_every_rank),
        TEST(test_cancelling_on_rank_0_stops_every_rank_after_the_same_epoch),
        TEST(test_a_checkpoint_from_rank_0_resumes_every_rank_exactly),
        TEST(test_a_checkpoint_resumes_every_rank_exactly_with_shuffling),
        TEST(test_ranks_fit_from_their_own_sources),
        TEST(test_attach_refuses_models_that_differ_and_names_the_difference),
        TEST(test_broadcast_gives_every_rank_the_roots_model),
        TEST(test_mpi_fit_trains_every_rank_and_detaches),
        TEST(test_shard_range_covers_every_row_once),
        TEST(test_settings_are_collective_and_statistics_count_the_work),
        TEST(test_arguments_are_checked_on_every_rank),
        TEST(test_intercommunicators_are_refused_everywhere),
        TEST(test_arguments_that_must_match_are_checked),
        TEST(test_an_attached_model_is_not_attached_again_nor_replaced),
        TEST(test_a_model_busy_on_one_rank_is_refused_as_busy),
        TEST(test_mpi_fit_names_the_rank_that_failed),
    };
#undef TEST
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    a_test_failed |= failures != 0;
    end_job_if_a_test_failed();
    failures += after_finalize_calls_fail_cleanly();
    return failures == 0 ? 0 : 1;
}
