/* Split training steps: with OpenBLAS running one thread per call and the model given
 * several threads (AE_PARAM_THREADS), each thread runs its own rows of the batch through the
 * whole network; the layer gradients are then either each part's own, added in order (the
 * model of 64 hidden units at 203 rows), or split by units over the whole batch (256 hidden
 * units at 89 rows, where the batch's rows weigh less than a gradient; a training step then
 * applies the update too, each thread to the parameters whose gradients it formed). With
 * few rows and broad layers (512 hidden units at 25 rows) the threads instead share every
 * layer's product, each its own units (or rows, where they are fewer), meeting after each
 * layer; the layer gradients are then split by units. Either
 * way the gradient is the single-threaded one up to float summation order, a fit is
 * bit-identical for a thread count, a step allocates nothing after the first, a step that
 * fails changes what one thread's would, and the split stays off when OpenBLAS runs its own
 * threads (calls from several threads would queue on its lock). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "alloc_counter.h"
#include "test_data.h"
#include "test_models.h"

/* OpenBLAS's controls; absent (NULL) when the library runs on another CBLAS, where the
 * split never happens and these tests skip. */
extern void openblas_set_num_threads(int threads) __attribute__((weak));
extern int openblas_get_num_threads(void) __attribute__((weak));

/* 203, 89 and 25 rows: parts of unequal size for 2, 3 and 4 threads */
enum { DIM = 96, ROWS = 203, NARROW = 64, WIDE = 256, UNITS_ROWS = 89, BROAD = 512, LAYERED_ROWS = 25 };

/* The two ways a split step forms its layer gradients, each with a batch that takes it. */
typedef struct shape {
    size_t hidden, rows;
    const char *name;
} shape;

static const shape SHAPES[] = {{NARROW, ROWS, "by rows"},
                               {WIDE, UNITS_ROWS, "by units"},
                               {BROAD, LAYERED_ROWS, "by units, layer by layer"}};
enum { N_SHAPES = sizeof SHAPES / sizeof SHAPES[0] };

static int blas_threads_before;

static int one_blas_thread(void **state)
{
    (void)state;
    if (!openblas_set_num_threads || !openblas_get_num_threads)
        return 0;
    blas_threads_before = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return 0;
}

static int restore_blas_threads(void **state)
{
    (void)state;
    if (openblas_set_num_threads)
        openblas_set_num_threads(blas_threads_before);
    return 0;
}

static bool on_openblas(void) { return openblas_set_num_threads && openblas_get_num_threads; }

/* ---- models ------------------------------------------------------------------------ */

typedef enum variant {
    PLAIN_BCE,
    PLAIN_MSE_STANDARDIZED,
    TIED,
    DENOISING,
    DROPOUT,
    VARIATIONAL,
    N_VARIANTS
} variant;

static const char *variant_name(variant v)
{
    static const char *names[] = {"plain, BCE", "plain, MSE, standardised", "tied", "denoising",
                                  "hidden and input dropout", "variational"};
    return names[v];
}

/* 96-hidden-16 mirrored (tied: the decoder shares the encoder's weights) with threads. */
static ae_model *make_model_of(variant v, size_t threads, size_t hidden)
{
    const size_t widths[] = {DIM, hidden, 16};
    ae_model *m = NULL;
    if (v == TIED)
        assert_int_equal(ae_model_create_ex(&m, widths, 3, NULL, 0, AE_ARCH_TIED_WEIGHTS), AE_OK);
    else if (v == VARIATIONAL) /* the parts must draw the codes' noise the whole batch would */
        assert_int_equal(ae_model_create_ex(&m, widths, 3, NULL, 0, AE_ARCH_VARIATIONAL), AE_OK);
    else
        m = test_create_model(widths, 3, NULL, 0);
    assert_non_null(m);
    test_set_param(m, AE_PARAM_SEED, 7);
    test_set_param(m, AE_PARAM_THREADS, (double)threads);
    if (v == PLAIN_MSE_STANDARDIZED) {
        test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_LINEAR);
        test_set_param(m, AE_PARAM_SCALING, AE_SCALING_STANDARDIZE);
    } else {
        test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
        test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    }
    if (v == DENOISING) {
        test_set_param(m, AE_PARAM_NOISE, AE_NOISE_GAUSSIAN);
        test_set_param(m, AE_PARAM_NOISE_LEVEL, 0.2);
    }
    if (v == DROPOUT) { /* the parts must draw the masks the whole batch would */
        test_set_param(m, AE_PARAM_DROPOUT_HIDDEN, 0.3);
        test_set_param(m, AE_PARAM_DROPOUT_INPUT, 0.1);
    }
    return m;
}

static ae_model *make_model(variant v, size_t threads) { return make_model_of(v, threads, NARROW); }

static bool has_scaling(const ae_model *m)
{
    double scaling = -1.0;
    assert_int_equal(ae_model_get_param(m, AE_PARAM_SCALING, &scaling), AE_OK);
    return scaling != AE_SCALING_NONE;
}

static float *make_data(size_t rows)
{
    test_rng rng;
    test_rng_seed(&rng, 42);
    float *x = test_random_matrix(&rng, rows, DIM, DIM, 0.0f, 1.0f);
    assert_non_null(x);
    return x;
}

/* The gradient of rows of x (fitting the scaling first where the model has one). */
static float *gradient_of(ae_model *m, const float *x, size_t rows, double *loss)
{
    size_t n = ae_model_param_count(m);
    float *g = malloc(n * sizeof *g);
    assert_non_null(g);
    if (has_scaling(m))
        assert_int_equal(ae_model_fit_scaling(m, x, rows, DIM), AE_OK);
    assert_int_equal(ae_model_gradient(m, x, rows, DIM, g, n, loss), AE_OK);
    return g;
}

/* ---- tests --------------------------------------------------------------------------- */

/* The gradient of a model of variant v (hidden units) over `rows` rows of x, split over 2 to
 * max_threads threads, against the single-threaded one: every entry within float summation
 * error of the gradient's scale, and the loss too (the sums run over parts of rows instead
 * of all rows). */
static void check_split_gradient(variant v, size_t hidden, const float *x, size_t rows,
                                 size_t max_threads, const char *name)
{
    ae_model *one = make_model_of(v, 1, hidden);
    double loss_one = NAN;
    float *g_one = gradient_of(one, x, rows, &loss_one);
    double scale = 0.0;
    for (size_t i = 0; i < ae_model_param_count(one); i++)
        scale = fmax(scale, fabs((double)g_one[i]));
    assert_true(scale > 0.0);
    for (size_t threads = 2; threads <= max_threads; threads++) {
        ae_model *split = make_model_of(v, threads, hidden);
        double loss_split = NAN;
        float *g_split = gradient_of(split, x, rows, &loss_split);
        double worst = 0.0;
        for (size_t i = 0; i < ae_model_param_count(one); i++)
            worst = fmax(worst, fabs((double)g_split[i] - (double)g_one[i]));
        if (worst > 1e-5 * scale || fabs(loss_split - loss_one) > 1e-6 * fabs(loss_one))
            print_error("%s, %s, %zu rows, %zu threads: gradient off by %.3g of scale %.3g, loss "
                        "%.9g vs %.9g\n",
                        name, variant_name(v), rows, threads, worst, scale, loss_split, loss_one);
        assert_true(worst <= 1e-5 * scale);
        assert_true(fabs(loss_split - loss_one) <= 1e-6 * fabs(loss_one));
        free(g_split);
        ae_model_free(split);
    }
    free(g_one);
    ae_model_free(one);
}

/* The split gradient against the single-threaded one, for every variant of every shape. */
static void test_split_gradient_equals_the_single_thread_gradient(void **state)
{
    (void)state;
    if (!on_openblas())
        skip();
    float *x = make_data(ROWS);
    for (size_t c = 0; c < N_SHAPES * N_VARIANTS; c++) { /* every variant of every shape */
        const shape *sh = &SHAPES[c / N_VARIANTS];
        check_split_gradient((variant)(c % N_VARIANTS), sh->hidden, x, sh->rows, 4, sh->name);
    }
    free(x);
}

/* One SGD step with clipping on a single-threaded model and on a split one: the same move
 * up to float summation order, beyond the rounding of each moved parameter to a float (a
 * move a ten-thousandth of the largest can round either way: one unit in the last place of
 * a parameter of 0.2 is 1.5e-8, a ten-thousandth of a model's largest move when it has
 * 200,000 parameters). models[0] is single-threaded; both are freed. */
static void check_split_step(ae_model *models[2], const float *x, size_t rows, const char *name)
{
    float *before = NULL, *after[2];
    for (size_t i = 0; i < 2; i++) {
        test_set_param(models[i], AE_PARAM_OPTIMIZER, AE_OPT_SGD);
        test_set_param(models[i], AE_PARAM_LEARNING_RATE, 0.5);
        test_set_param(models[i], AE_PARAM_CLIP_NORM, 0.01);
        if (has_scaling(models[i]))
            assert_int_equal(ae_model_fit_scaling(models[i], x, rows, DIM), AE_OK);
        if (i == 0)
            before = test_params_of(models[i]);
        assert_int_equal(ae_model_train_batch(models[i], x, rows, DIM, NULL), AE_OK);
        after[i] = test_params_of(models[i]);
    }
    double largest = 0.0, worst = 0.0;
    for (size_t j = 0; j < ae_model_param_count(models[0]); j++) {
        largest = fmax(largest, fabs((double)after[0][j] - (double)before[j]));
        const double ulp = (double)nextafterf(after[0][j], INFINITY) - (double)after[0][j];
        worst = fmax(worst, fabs((double)after[1][j] - (double)after[0][j]) - ulp);
    }
    if (worst > 1e-4 * largest)
        print_error("%s: split step off by %.3g of a largest move %.3g\n", name, worst, largest);
    assert_true(largest > 0.0);
    assert_true(worst <= 1e-4 * largest);
    free(before);
    for (size_t i = 0; i < 2; i++) {
        free(after[i]);
        ae_model_free(models[i]);
    }
}

/* A split training step applies the whole batch's gradient: the parts' gradients, which a
 * step leaves for the optimizer's norm pass to add, move the weights as one thread's do,
 * clipped by the norm of their sum (SGD, so the step is the gradient itself). */
static void test_split_step_applies_the_whole_clipped_gradient(void **state)
{
    (void)state;
    if (!on_openblas())
        skip();
    float *x = make_data(ROWS);
    for (size_t k = 0; k < N_SHAPES; k++) {
        for (variant v = 0; v < N_VARIANTS; v++) {
            const size_t hidden = SHAPES[k].hidden;
            ae_model *models[2] = {make_model_of(v, 1, hidden), make_model_of(v, 3, hidden)};
            check_split_step(models, x, SHAPES[k].rows, variant_name(v));
        }
    }
    free(x);
}

/* Dropout in parts that start at odd values of a layer (odd widths, and 4 threads putting
 * parts at rows 51 and 153): each part's masks are still the whole batch's. */
static void test_split_dropout_masks_at_odd_offsets_are_the_whole_batchs(void **state)
{
    (void)state;
    if (!on_openblas())
        skip();
    float *x = make_data(ROWS);
    const size_t widths[] = {DIM, 63, 15};
    ae_model *models[2];
    for (size_t i = 0; i < 2; i++) {
        models[i] = test_create_model(widths, 3, NULL, 0);
        test_set_param(models[i], AE_PARAM_SEED, 11);
        test_set_param(models[i], AE_PARAM_THREADS, i ? 4 : 1);
        test_set_param(models[i], AE_PARAM_DROPOUT_HIDDEN, 0.4);
    }
    check_split_step(models, x, ROWS, "dropout at odd offsets");
    free(x);
}

/* Two fits with the same thread count give the same weights bit for bit, and a split fit
 * ends where the single-threaded one does, up to the drift of summation order. */
static void test_split_fit_is_bit_identical_for_a_thread_count(void **state)
{
    (void)state;
    if (!on_openblas())
        skip();
    enum { FIT_ROWS = 512 };
    /* Rows, batch and epochs of each shape's fits (by units: fewer, the suite also runs
     * under valgrind, where each of the threads' meetings layer by layer costs a switch). */
    static const size_t fit_of_shape[N_SHAPES][3] = {{FIT_ROWS, 128, 3}, {256, 64, 2}, {50, 25, 1}};
    float *x = make_data(FIT_ROWS);
    for (size_t k = 0; k < N_SHAPES; k++) {
        const size_t rows = fit_of_shape[k][0], batch = fit_of_shape[k][1], epochs = fit_of_shape[k][2];
        for (variant v = 0; v < N_VARIANTS; v++) {
            ae_model *models[3];
            const size_t threads[3] = {2, 2, 1};
            ae_fit_report reports[3];
            for (size_t i = 0; i < 3; i++) {
                models[i] = make_model_of(v, threads[i], SHAPES[k].hidden);
                test_set_epochs_and_batch(models[i], epochs, batch);
                test_set_param(models[i], AE_PARAM_VALIDATION_FRACTION, 0);
                if (has_scaling(models[i]))
                    assert_int_equal(ae_model_fit_scaling(models[i], x, rows, DIM), AE_OK);
                reports[i] = test_new_fit_report();
                assert_int_equal(ae_model_fit(models[i], x, rows, DIM, &reports[i]), AE_OK);
            }
            assert_true(test_same_params(models[0], models[1]));
            assert_true(reports[0].final_train_loss == reports[1].final_train_loss);
            double drift = fabs(reports[0].final_train_loss - reports[2].final_train_loss) /
                           reports[2].final_train_loss;
            if (drift > 1e-3)
                print_error("%s, %s: split fit's loss %.9g, single thread's %.9g\n", SHAPES[k].name,
                            variant_name(v), reports[0].final_train_loss, reports[2].final_train_loss);
            assert_true(drift <= 1e-3);
            for (size_t i = 0; i < 3; i++)
                ae_model_free(models[i]);
        }
    }
    free(x);
}

/* Trains m on the first rows of x six times; every allocation is in the first step. Frees m
 * and returns the library's live bytes after the first step. */
static size_t live_after_first_of_six_steps(ae_model *m, const float *x, size_t rows)
{
    double loss;
    assert_int_equal(ae_model_train_batch(m, x, rows, DIM, &loss), AE_OK);
    const size_t live = test_alloc_counter_get().live_bytes;
    const size_t before = test_alloc_counter_get().allocations;
    for (int step = 0; step < 5; step++)
        assert_int_equal(ae_model_train_batch(m, x, rows, DIM, &loss), AE_OK);
    assert_int_equal(test_alloc_counter_get().allocations, before);
    ae_model_free(m);
    assert_int_equal(test_alloc_counter_get().live_bytes, 0);
    return live;
}

/* Whether two threads training a plain model of `hidden` units on the first rows of x hold
 * one gradient more after the first of six steps than one thread does: the parts' buffer of
 * a split by rows. */
static bool splits_by_rows(size_t hidden, const float *x, size_t rows)
{
    size_t live[2], n_params = 0;
    for (size_t threads = 1; threads <= 2; threads++) {
        assert_int_equal(test_alloc_counter_install(), 0);
        ae_model *m = make_model_of(PLAIN_BCE, threads, hidden);
        n_params = ae_model_param_count(m);
        live[threads - 1] = live_after_first_of_six_steps(m, x, rows);
        assert_int_equal(test_alloc_counter_uninstall(), 0);
    }
    return live[1] >= live[0] + n_params * sizeof(float);
}

/* What a split step needs beyond the workspace (the parts' gradient buffers by rows, the
 * store of every layer's deltas by units) is allocated at the first split step, as the rest
 * of the workspace: later steps allocate nothing. With OpenBLAS on its own threads a model
 * whose products it would take to its threads even in chunks of 16 rows (96-256-16 at 128
 * rows) does not split, hence has no such buffers. */
static void test_split_steps_allocate_only_at_the_first(void **state)
{
    (void)state;
    if (!on_openblas())
        skip();
    enum { BATCH = 128, UNITS_BATCH = 64 };
    float *x = make_data(BATCH);
    assert_true(splits_by_rows(NARROW, x, BATCH)); /* two threads hold one more gradient */

    /* Split by units: the store of every layer's deltas, then nothing. */
    assert_int_equal(test_alloc_counter_install(), 0);
    (void)live_after_first_of_six_steps(make_model_of(PLAIN_BCE, 2, WIDE), x, UNITS_BATCH);
    assert_int_equal(test_alloc_counter_uninstall(), 0);

    /* OpenBLAS on two threads: the model's threads leave such products to it. */
    openblas_set_num_threads(2);
    if (openblas_get_num_threads() == 2)
        assert_false(splits_by_rows(WIDE, x, BATCH));
    openblas_set_num_threads(1);
    free(x);
}

/* The program's own BLAS calls from another thread while a model trains split by rows
 * (OpenBLAS on one thread per call serves every caller at once): the fit is the same bit
 * for bit, and so are the program's products. */
typedef struct blas_user {
    atomic_bool stop;
    size_t products, wrong;
} blas_user;

/* The products the program's thread runs at most (under valgrind, whose threads take turns,
 * an unbounded loop would starve the fit). */
enum { MAX_PRODUCTS = 200 };

static void *multiply_until_stopped(void *arg)
{
    blas_user *u = arg;
    enum { N = 96 };
    static float a[N * N], b[N * N], c[N * N];
    for (size_t i = 0; i < N * N; i++) {
        a[i] = (float)(i % 7) - 3.0f;
        b[i] = i % (N + 1) == 0 ? 1.0f : 0.0f; /* the identity: c must equal a */
    }
    while (!atomic_load(&u->stop) && u->products < MAX_PRODUCTS) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
        u->products++;
        u->wrong += memcmp(a, c, sizeof a) != 0;
    }
    return NULL;
}

static void test_split_fit_is_unchanged_by_the_programs_own_blas_calls(void **state)
{
    (void)state;
    if (!on_openblas())
        skip();
    enum { FIT_ROWS = 1024 };
    float *x = make_data(FIT_ROWS);
    ae_model *quiet = make_model(PLAIN_BCE, 2), *busy = make_model(PLAIN_BCE, 2);
    test_set_epochs_and_batch(quiet, 2, 256);
    test_set_epochs_and_batch(busy, 2, 256);
    test_set_param(quiet, AE_PARAM_VALIDATION_FRACTION, 0);
    test_set_param(busy, AE_PARAM_VALIDATION_FRACTION, 0);
    assert_int_equal(ae_model_fit(quiet, x, FIT_ROWS, DIM, NULL), AE_OK);

    blas_user user = {.products = 0};
    atomic_init(&user.stop, false);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, multiply_until_stopped, &user), 0);
    assert_int_equal(ae_model_fit(busy, x, FIT_ROWS, DIM, NULL), AE_OK);
    atomic_store(&user.stop, true);
    assert_int_equal(pthread_join(thread, NULL), 0);

    assert_true(test_same_params(quiet, busy));
    assert_true(user.products > 0);
    assert_int_equal(user.wrong, 0);
    ae_model_free(quiet);
    ae_model_free(busy);
    free(x);
}

/* With OpenBLAS on its own threads, a model narrow enough still splits by rows, each part
 * taking its rows in chunks whose products OpenBLAS runs on the calling thread: 96-16-16
 * (1,536 weights in its broadest layer) in chunks of 160 rows (at 600 rows parts of 300 and
 * 200 rows take two chunks; at 326 and 321 rows, two parts end with a chunk of 3 rows and of
 * 1), 96-64-16 (6,144 weights) in chunks of 32 (parts of 163 and 160 rows at 321 and 320:
 * chunks ending in 3 rows, and whole). The gradient is the single-threaded one up to
 * summation order, a step moves the weights as one thread's does, two fits are the same
 * bit for bit and close to one thread's, the program's own products on OpenBLAS's threads
 * meanwhile change neither, and the parts' gradient buffer shows that the split happened. */
static void test_narrow_models_split_beside_openblas_threads(void **state)
{
    (void)state;
    if (!on_openblas())
        skip();
    openblas_set_num_threads(2);
    if (openblas_get_num_threads() != 2) {
        openblas_set_num_threads(1);
        skip();
    }
    enum { SLIM = 16, SLIM_ROWS = 600 };
    static const struct {
        size_t hidden, rows;
    } cases[] = {{SLIM, SLIM_ROWS}, {SLIM, 326}, {SLIM, 321}, {NARROW, 321}, {NARROW, 320}};
    enum { N_CASES = sizeof cases / sizeof *cases };
    float *x = make_data(SLIM_ROWS);
    for (size_t c = 0; c < N_CASES * N_VARIANTS; c++) {
        const variant v = (variant)(c % N_VARIANTS);
        const size_t hidden = cases[c / N_VARIANTS].hidden, rows = cases[c / N_VARIANTS].rows;
        check_split_gradient(v, hidden, x, rows, 3, "beside OpenBLAS's threads");
        ae_model *models[2] = {make_model_of(v, 1, hidden), make_model_of(v, 2, hidden)};
        check_split_step(models, x, rows, variant_name(v));
    }

    ae_model *fits[3] = {make_model_of(PLAIN_BCE, 2, SLIM), make_model_of(PLAIN_BCE, 2, SLIM),
                         make_model_of(PLAIN_BCE, 1, SLIM)};
    ae_fit_report reports[3];
    blas_user user = {.products = 0};
    atomic_init(&user.stop, false);
    pthread_t thread;
    for (size_t i = 0; i < 3; i++) {
        test_set_epochs_and_batch(fits[i], 2, SLIM_ROWS / 2);
        test_set_param(fits[i], AE_PARAM_VALIDATION_FRACTION, 0);
        reports[i] = test_new_fit_report();
        if (i == 1) /* the second fit beside the program's own products */
            assert_int_equal(pthread_create(&thread, NULL, multiply_until_stopped, &user), 0);
        assert_int_equal(ae_model_fit(fits[i], x, SLIM_ROWS, DIM, &reports[i]), AE_OK);
        if (i == 1) {
            atomic_store(&user.stop, true);
            assert_int_equal(pthread_join(thread, NULL), 0);
        }
    }
    assert_true(test_same_params(fits[0], fits[1]));
    assert_true(reports[0].final_train_loss == reports[1].final_train_loss);
    assert_true(fabs(reports[0].final_train_loss - reports[2].final_train_loss) <=
                1e-3 * reports[2].final_train_loss);
    assert_true(user.products > 0);
    assert_int_equal(user.wrong, 0);
    for (size_t i = 0; i < 3; i++)
        ae_model_free(fits[i]);

    assert_true(splits_by_rows(SLIM, x, SLIM_ROWS));
    assert_true(splits_by_rows(NARROW, x, SLIM_ROWS));
    openblas_set_num_threads(1);
    free(x);
}

/* Where a plain model of `hidden` units starts to split: its parts' gradient buffer appears
 * at `rows` rows and not at rows - 2, and there the split gradient of the first `variants`
 * variants is one thread's up to summation order. */
static void check_splits_from(size_t hidden, size_t rows, variant variants, const char *name)
{
    if (!on_openblas())
        skip();
    float *x = make_data(rows);
    for (variant v = 0; v < variants; v++)
        check_split_gradient(v, hidden, x, rows, 2, name);
    assert_false(splits_by_rows(hidden, x, rows - 2));
    assert_true(splits_by_rows(hidden, x, rows));
    free(x);
}

/* A model whose rows each cost little (96-1-16: 672 multiply-adds a row) splits once its
 * parts' work times their rows reaches 2^22, well short of the work that splits wider models:
 * at 160 rows (80 a part of 53,760 multiply-adds; 158 rows make 4,193,952). Its gradient is
 * checked for plain BCE only: through one hidden unit, the standardised MSE model's gradient
 * is all cancellation (2e-9 at a loss of 1), too small a scale to compare sums taken in
 * another order against. */
static void test_cheap_rows_split_once_their_rows_make_up_for_it(void **state)
{
    (void)state;
    check_splits_from(1, 160, PLAIN_BCE + 1, "cheap rows");
}

/* Between those, from 64 rows a part, a part's work times its rows decides: 96-8-16 (5,376
 * multiply-adds a row, 344 k a part of 64 rows, a third of the million that splits by work
 * alone) splits at 128 rows (its parts multiply by transposed copies of the weights, as
 * split parts of at most 256 rows do). */
static void test_rows_and_work_together_split_from_64_rows_a_part(void **state)
{
    (void)state;
    check_splits_from(8, 128, N_VARIANTS, "rows and work");
}

/* Batches too small to be worth waking a thread run whole and train as before. */
static void test_small_batches_train_whole(void **state)
{
    (void)state;
    if (!on_openblas())
        skip();
    float *x = make_data(ROWS);
    for (variant v = 0; v < N_VARIANTS; v++) {
        for (size_t rows = 1; rows <= 3; rows++) {
            ae_model *one = make_model(v, 1), *two = make_model(v, 2);
            if (has_scaling(one)) {
                assert_int_equal(ae_model_fit_scaling(one, x, ROWS, DIM), AE_OK);
                assert_int_equal(ae_model_fit_scaling(two, x, ROWS, DIM), AE_OK);
            }
            double l1, l2;
            assert_int_equal(ae_model_train_batch(one, x, rows, DIM, &l1), AE_OK);
            assert_int_equal(ae_model_train_batch(two, x, rows, DIM, &l2), AE_OK);
            /* Run whole, the two models do the same arithmetic. */
            assert_true(l1 == l2);
            assert_true(test_same_params(one, two));
            ae_model_free(one);
            ae_model_free(two);
        }
    }
    free(x);
}

/* ---- steps that fail ------------------------------------------------------------------ */

/* Weights that make a step fail after a finite loss (MSE, linear output, zero biases): the
 * decoder's hidden layer outputs about 2e30 (kind NON_FINITE_GRADIENT), whose product with
 * the output layer's delta overflows that layer's gradient; or about 1e20 (kind
 * OVERFLOWING_UPDATE), a finite gradient whose square overflows Adam's second moment. */
typedef enum failure { NON_FINITE_GRADIENT, OVERFLOWING_UPDATE } failure;

static void set_failing_weights(ae_model *m, failure kind)
{
    const float scales[4] = {1.0f, 1.0f, kind == NON_FINITE_GRADIENT ? 1e25f : 1e15f, 1e-16f};
    for (size_t l = 0; l < 4; l++) {
        size_t n_out = 0, n_in = 0;
        assert_int_equal(ae_model_layer_info(m, l, &n_out, &n_in, NULL), AE_OK);
        float *w = malloc(n_out * n_in * sizeof *w), *b = calloc(n_out, sizeof *b);
        assert_non_null(w), assert_non_null(b);
        for (size_t i = 0; i < n_out * n_in; i++)
            w[i] = scales[l];
        assert_int_equal(ae_model_set_weights(m, l, w, n_out * n_in), AE_OK);
        assert_int_equal(ae_model_set_bias(m, l, b, n_out), AE_OK);
        free(w), free(b);
    }
}

/* The model's optimizer state as one buffer: step counter, then both moments. */
static float *optimizer_state_of(const ae_model *m, uint64_t *step)
{
    const size_t n = ae_model_param_count(m);
    float *state = malloc(2 * n * sizeof *state);
    assert_non_null(state);
    assert_int_equal(ae_model_get_optimizer_state(m, step, state, state + n, n), AE_OK);
    return state;
}

/* A step that fails after a finite loss, split or not (the split applies the update as it
 * forms the gradients): AE_ERR_DIVERGED, the weights as they were, and the optimizer state
 * as it was for a gradient that is not finite, reset for an update that overflowed. */
static void test_failing_split_steps_change_what_one_thread_changes(void **state)
{
    (void)state;
    if (!on_openblas())
        skip();
    float *x = make_data(ROWS);
    for (size_t c = 0; c < N_SHAPES * 2 * 2; c++) {
        const shape *sh = &SHAPES[c / 4];
        const failure kind = (failure)(c / 2 % 2);
        const size_t threads = c % 2 ? 3 : 1;
        ae_model *m = make_model_of(PLAIN_MSE_STANDARDIZED, threads, sh->hidden);
        test_set_param(m, AE_PARAM_SCALING, AE_SCALING_NONE);
        assert_int_equal(ae_model_train_batch(m, x, sh->rows, DIM, NULL), AE_OK); /* some state */
        set_failing_weights(m, kind);
        float *before = test_params_of(m);
        uint64_t step_before = 0, step_after = 0;
        float *state_before = optimizer_state_of(m, &step_before);
        double loss = NAN;
        assert_int_equal(ae_model_train_batch(m, x, sh->rows, DIM, &loss), AE_ERR_DIVERGED);
        assert_true(isfinite(loss));
        assert_true(test_params_equal_to(m, before));
        float *state_after = optimizer_state_of(m, &step_after);
        const size_t n = 2 * ae_model_param_count(m);
        if (kind == NON_FINITE_GRADIENT) {
            assert_non_null(strstr(ae_model_last_error(m), "gradient is not finite"));
            assert_int_equal(step_after, step_before);
            assert_memory_equal(state_after, state_before, n * sizeof(float));
        } else {
            assert_non_null(strstr(ae_model_last_error(m), "optimizer state was reset"));
            assert_int_equal(step_after, 0);
            for (size_t i = 0; i < n; i++)
                assert_true(state_after[i] == 0.0f);
        }
        free(before), free(state_before), free(state_after);
        ae_model_free(m);
    }
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_gradient_equals_the_single_thread_gradient),
        cmocka_unit_test(test_split_step_applies_the_whole_clipped_gradient),
        cmocka_unit_test(test_split_dropout_masks_at_odd_offsets_are_the_whole_batchs),
        cmocka_unit_test(test_split_fit_is_bit_identical_for_a_thread_count),
        cmocka_unit_test(test_split_steps_allocate_only_at_the_first),
        cmocka_unit_test(test_split_fit_is_unchanged_by_the_programs_own_blas_calls),
        cmocka_unit_test(test_narrow_models_split_beside_openblas_threads),
        cmocka_unit_test(test_cheap_rows_split_once_their_rows_make_up_for_it),
        cmocka_unit_test(test_rows_and_work_together_split_from_64_rows_a_part),
        cmocka_unit_test(test_small_batches_train_whole),
        cmocka_unit_test(test_failing_split_steps_change_what_one_thread_changes),
    };
    return cmocka_run_group_tests(tests, one_blas_thread, restore_blas_threads);
}
