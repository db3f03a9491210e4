/* A child of fork() goes on training a model of its parent's: the model's worker threads
 * (AE_PARAM_THREADS) belong to the parent, and a child that waited for them hung for ever
 * (Python's multiprocessing forks by default). The child trains on workers of its own, to the
 * very parameters the parent reaches with the same steps, and frees the model without
 * joining threads it never had; both with OpenBLAS's own threads (the pool does the
 * elementwise work) and with one BLAS thread (the pool splits the rows). Skipped under
 * ThreadSanitizer, which stops a child of a threaded process that starts threads. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/* OpenBLAS's controls; absent (NULL) on another CBLAS, where the split case is skipped. */
extern void openblas_set_num_threads(int threads) __attribute__((weak));
extern int openblas_get_num_threads(void) __attribute__((weak));

/* 512 rows of 96: enough for the pool to take the loss, the update and, with one BLAS
 * thread, the rows. */
enum { DIM = 96, ROWS = 512, THREADS = 2, CHILD_SECONDS = 120 };

static ae_model *make_model(void)
{
    const size_t widths[] = {DIM, 256, 16};
    ae_model *m = test_create_model(widths, 3, NULL, 0);
    test_set_param(m, AE_PARAM_SEED, 11);
    test_set_param(m, AE_PARAM_THREADS, THREADS);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    return m;
}

/* The child: one more step, its parameters into the memory it shares with the parent, its
 * copies of the model and the data freed (under valgrind's leak check, which runs in the
 * child too, anything left would fail it). Exit status 0 only if all of that worked; an
 * alarm ends a child that hangs. */
static void child_trains(ae_model *m, float *x, float *shared)
{
    alarm(CHILD_SECONDS);
    bool ok = ae_model_train_batch(m, x, ROWS, DIM, NULL) == AE_OK &&
              ae_model_get_params(m, shared, ae_model_param_count(m)) == AE_OK;
    ae_model_free(m);
    free(x);
    _exit(ok ? 0 : 1);
}

/* Two steps in the parent (its workers start at the first), a fork, one more step on each
 * side: the child's parameters must be the parent's, bit for bit. */
static void check_child_trains_as_parent(void)
{
    test_rng rng;
    test_rng_seed(&rng, 5);
    float *x = test_random_matrix(&rng, ROWS, DIM, DIM, 0.0f, 1.0f);
    ae_model *m = make_model();
    for (int step = 0; step < 2; step++)
        assert_int_equal(ae_model_train_batch(m, x, ROWS, DIM, NULL), AE_OK);

    const size_t n = ae_model_param_count(m), bytes = n * sizeof(float);
    float *theirs = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(theirs != MAP_FAILED);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        child_trains(m, x, theirs);
    assert_int_equal(ae_model_train_batch(m, x, ROWS, DIM, NULL), AE_OK);
    float *mine = malloc(bytes);
    assert_non_null(mine);
    assert_int_equal(ae_model_get_params(m, mine, n), AE_OK);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    if (WIFSIGNALED(status))
        fail_msg("the child was ended by signal %d (%s)", WTERMSIG(status),
                 WTERMSIG(status) == SIGALRM ? "it hung" : "it crashed");
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_memory_equal(mine, theirs, bytes);
    free(mine);
    munmap(theirs, bytes);
    ae_model_free(m);
    free(x);
}

static void test_a_child_trains_with_blas_threads(void **state)
{
    (void)state;
#ifdef UNDER_TSAN
    skip();
#endif
    check_child_trains_as_parent();
}

static void test_a_child_trains_with_the_rows_split(void **state)
{
    (void)state;
#ifdef UNDER_TSAN
    skip();
#endif
    if (!openblas_set_num_threads || !openblas_get_num_threads)
        skip();
    const int before = openblas_get_num_threads();
    openblas_set_num_threads(1);
    check_child_trains_as_parent();
    openblas_set_num_threads(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_child_trains_with_blas_threads),
        cmocka_unit_test(test_a_child_trains_with_the_rows_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
