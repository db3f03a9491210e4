/* Misuse detection (autoenc.h, "Threads"): const calls share a model, a call that changes it
 * needs it alone, and a call that finds the model held the other way gets AE_ERR_BUSY
 * instead of racing. The deterministic tests hold the model from inside a call (its progress
 * callback, or the allocation hook a const call goes through) and try the other kind of call
 * from a second thread; the stress tests race threads against each other and are meant to
 * run under ThreadSanitizer (.ci/run), which must stay silent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#define IN 12
#define LAT 3
#define ROWS 32

static const size_t WIDTHS[] = {IN, 8, LAT};

static ae_model *make_model(void)
{
    ae_model *m = test_create_model(WIDTHS, 3, NULL, 0);
    test_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    test_set_epochs_and_batch(m, 2, 8);
    test_set_param(m, AE_PARAM_THREADS, 1);
    return m;
}

static float *make_data(uint64_t seed)
{
    test_rng rng;
    test_rng_seed(&rng, seed);
    return test_random_matrix(&rng, ROWS, IN, IN, 0.0f, 1.0f);
}

/* ---- one call from another thread ---------------------------------------------------- */

typedef enum attempt_kind {
    TRY_ENCODE,
    TRY_SCORE,
    TRY_GET_PARAMS,
    TRY_SAVE_TO_MEMORY,
    TRY_CLONE,
    TRY_SET_PARAM,
    TRY_TRAIN_BATCH,
    TRY_SET_THRESHOLD,
    TRY_COPY_INTO,           /* copy_layers into the model */
    TRY_COPY_FROM,           /* copy_layers out of the model (a const use of it) */
    TRY_FIT_SCALING_SETTING, /* set_param(SCALING): frees a fitted scaling; last, since an
                                unfitted scaling stops training steps */
    N_ATTEMPTS
} attempt_kind;

static int is_const_attempt(attempt_kind k)
{
    return k <= TRY_CLONE || k == TRY_COPY_FROM;
}

typedef struct attempt {
    ae_model *model;
    ae_model *other; /* a second model of the same shape, for the copies */
    const float *x;
    attempt_kind kind;
    int status;
    char message[256];
} attempt;

static void *run_attempt(void *raw)
{
    attempt *a = raw;
    float out[ROWS * IN];
    float *params = malloc(ae_model_param_count(a->model) * sizeof *params);
    unsigned char bytes[1 << 14];
    size_t written = 0;
    ae_model *copy = NULL;
    switch (a->kind) {
    case TRY_ENCODE: a->status = ae_model_encode(a->model, a->x, ROWS, IN, out, LAT); break;
    case TRY_SCORE: a->status = ae_model_score(a->model, a->x, ROWS, IN, out); break;
    case TRY_GET_PARAMS:
        a->status = ae_model_get_params(a->model, params, ae_model_param_count(a->model));
        break;
    case TRY_SAVE_TO_MEMORY:
        a->status = ae_model_save_to_memory(a->model, 0, bytes, sizeof bytes, &written);
        break;
    case TRY_CLONE: a->status = ae_model_clone(a->model, &copy); break;
    case TRY_SET_PARAM: a->status = ae_model_set_param(a->model, AE_PARAM_LEARNING_RATE, 0.5); break;
    case TRY_FIT_SCALING_SETTING:
        a->status = ae_model_set_param(a->model, AE_PARAM_SCALING, AE_SCALING_MINMAX);
        break;
    case TRY_TRAIN_BATCH: a->status = ae_model_train_batch(a->model, a->x, ROWS, IN, NULL); break;
    case TRY_SET_THRESHOLD: a->status = ae_model_set_threshold(a->model, 1.0); break;
    case TRY_COPY_INTO: a->status = ae_model_copy_layers(a->model, 0, a->other, 0, 1); break;
    case TRY_COPY_FROM: a->status = ae_model_copy_layers(a->other, 0, a->model, 0, 1); break;
    default: a->status = -1000; break;
    }
    snprintf(a->message, sizeof a->message, "%s", ae_last_error());
    ae_model_free(copy);
    free(params);
    return NULL;
}

/* Run one attempt on its own thread and wait for it. */
static void attempt_from_another_thread(attempt *a)
{
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, run_attempt, a), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
}

/* ---- a model held by a call that changes it ------------------------------------------ */

typedef struct callback_probe {
    ae_model *model, *other;
    const float *x;
    int done;
    int statuses[N_ATTEMPTS];
    char messages[N_ATTEMPTS][256];
    int own_const_status, own_change_status;
    char own_change_message[256];
} callback_probe;

/* Inside fit (the model held as the writer): every attempt from another thread is busy;
 * the fit's own thread may read the model, not change it. */
static int probe_during_fit(const ae_progress *progress, void *user_data)
{
    (void)progress;
    callback_probe *p = user_data;
    if (p->done)
        return 0;
    p->done = 1;
    for (int k = 0; k < N_ATTEMPTS; k++) {
        attempt a = {.model = p->model, .other = p->other, .x = p->x, .kind = (attempt_kind)k};
        attempt_from_another_thread(&a);
        p->statuses[k] = a.status;
        memcpy(p->messages[k], a.message, sizeof a.message);
    }
    float codes[ROWS * LAT];
    p->own_const_status = ae_model_encode(p->model, p->x, ROWS, IN, codes, LAT);
    p->own_change_status = ae_model_set_param(p->model, AE_PARAM_LEARNING_RATE, 0.25);
    snprintf(p->own_change_message, sizeof p->own_change_message, "%s", ae_last_error());
    return 0;
}

static void test_every_call_is_busy_while_another_thread_changes_the_model(void **state)
{
    (void)state;
    ae_model *m = make_model(), *other = make_model();
    float *x = make_data(1);
    float *before = NULL;
    callback_probe probe = {.model = m, .other = other, .x = x};
    assert_int_equal(ae_model_set_progress(m, probe_during_fit, &probe), AE_OK);
    double rate_before;
    assert_int_equal(ae_model_get_param(m, AE_PARAM_LEARNING_RATE, &rate_before), AE_OK);
    assert_int_equal(ae_model_fit(m, x, ROWS, IN, NULL), AE_OK);
    assert_true(probe.done);
    for (int k = 0; k < N_ATTEMPTS; k++) {
        if (probe.statuses[k] != AE_ERR_BUSY)
            print_error("attempt %d: status %d (%s)\n", k, probe.statuses[k], probe.messages[k]);
        assert_int_equal(probe.statuses[k], AE_ERR_BUSY);
        assert_non_null(strstr(probe.messages[k], "another thread"));
    }
    /* The fit's own thread reads from its callback; it may not change the model. */
    assert_int_equal(probe.own_const_status, AE_OK);
    assert_int_equal(probe.own_change_status, AE_ERR_BUSY);
    assert_non_null(strstr(probe.own_change_message, "progress callback"));
    /* Nothing the refused calls would have done happened. */
    double rate_after, threshold;
    assert_int_equal(ae_model_get_param(m, AE_PARAM_LEARNING_RATE, &rate_after), AE_OK);
    assert_true(rate_after == rate_before);
    assert_int_equal(ae_model_get_threshold(m, &threshold), AE_ERR_STATE);
    /* And the model is free again once the fit returned: every call works. */
    assert_int_equal(ae_model_set_progress(m, NULL, NULL), AE_OK);
    for (int k = 0; k < N_ATTEMPTS; k++) {
        attempt a = {.model = m, .other = other, .x = x, .kind = (attempt_kind)k};
        attempt_from_another_thread(&a);
        if (a.status != AE_OK)
            print_error("attempt %d after the fit: %d (%s)\n", k, a.status, a.message);
        assert_int_equal(a.status, AE_OK);
    }
    free(before);
    free(x);
    ae_model_free(m);
    ae_model_free(other);
}

/* ---- a model held by const calls -------------------------------------------------------- */

/* The allocation hook runs inside the library's calls; while `armed`, its first allocation
 * (made by a const call on `model`, which then holds it as a reader) runs the attempts from
 * another thread. */
static struct {
    _Atomic int armed;
    ae_model *model, *other;
    const float *x;
    int statuses[N_ATTEMPTS];
    char messages[N_ATTEMPTS][256];
} hook;

static void *probing_alloc(size_t size, void *user_data)
{
    (void)user_data;
    int expected = 1;
    if (atomic_compare_exchange_strong(&hook.armed, &expected, 0)) {
        for (int k = 0; k < N_ATTEMPTS; k++) {
            attempt a = {.model = hook.model, .other = hook.other, .x = hook.x, .kind = (attempt_kind)k};
            attempt_from_another_thread(&a);
            hook.statuses[k] = a.status;
            memcpy(hook.messages[k], a.message, sizeof a.message);
        }
    }
    return malloc(size);
}

static void plain_free(void *ptr, void *user_data)
{
    (void)user_data;
    free(ptr);
}

static void test_calls_that_change_the_model_are_busy_while_a_const_call_runs(void **state)
{
    (void)state;
    assert_int_equal(ae_set_allocator(probing_alloc, plain_free, NULL), AE_OK);
    ae_model *m = make_model(), *other = make_model();
    float *x = make_data(2);
    float *params = test_params_of(m);
    hook.model = m;
    hook.other = other;
    hook.x = x;
    /* An interpolation allocates its path's codes (a few rows' scratch is on the stack):
     * the hook fires inside it. */
    float path[4 * IN];
    atomic_store(&hook.armed, 1);
    assert_int_equal(ae_model_interpolate(m, x, x + IN, 4, path, IN), AE_OK);
    assert_int_equal(atomic_load(&hook.armed), 0);
    for (int k = 0; k < N_ATTEMPTS; k++) {
        /* Const calls share the model; the copy into it, set_param and training do not. */
        int expected = is_const_attempt((attempt_kind)k) ? AE_OK : AE_ERR_BUSY;
        if (hook.statuses[k] != expected)
            print_error("attempt %d: status %d (%s)\n", k, hook.statuses[k], hook.messages[k]);
        assert_int_equal(hook.statuses[k], expected);
        if (expected == AE_ERR_BUSY)
            assert_non_null(strstr(hook.messages[k], "in use by 1 const call"));
    }
    /* The refused changes left nothing behind. */
    assert_true(test_params_equal_to(m, params));
    double scaling;
    assert_int_equal(ae_model_get_param(m, AE_PARAM_SCALING, &scaling), AE_OK);
    assert_true(scaling == AE_SCALING_NONE);
    /* A refusal is recorded in the refused thread only: the model keeps its own message. */
    assert_string_equal(ae_model_last_error(m), "");
    ae_model_free(m);
    ae_model_free(other);
    assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
    free(params);
    free(x);
}

/* ---- readers spread over the guard's shards ------------------------------------------- */

/* Const calls count in one of several shards, one per thread dealt round-robin; a call that
 * changes the model must see the readers of every shard. More reader threads than shards,
 * each inside a const call when its allocation hook runs, against a writer inside fit when
 * its progress callback runs: neither ever finds the other inside. */
#define CROWD_READERS 40
#define CROWD_READS_EACH 5

static struct {
    _Atomic int readers_inside, writer_inside, readers_done, stop_writing;
    _Atomic long overlaps, wrong_statuses, writer_ok, writer_busy;
} crowd;
static _Thread_local int in_crowd; /* set on the reader threads */

static void *crowd_alloc(size_t size, void *user_data)
{
    (void)user_data;
    if (in_crowd) {
        atomic_fetch_add(&crowd.readers_inside, 1);
        if (atomic_load(&crowd.writer_inside))
            atomic_fetch_add(&crowd.overlaps, 1);
        sched_yield(); /* stay inside a while, for the writer to find */
        atomic_fetch_sub(&crowd.readers_inside, 1);
    }
    return malloc(size);
}

static int writer_inside_fit(const ae_progress *progress, void *user_data)
{
    (void)progress;
    (void)user_data;
    atomic_store(&crowd.writer_inside, 1);
    if (atomic_load(&crowd.readers_inside))
        atomic_fetch_add(&crowd.overlaps, 1);
    sched_yield();
    atomic_store(&crowd.writer_inside, 0);
    return 0;
}

typedef struct crowd_job {
    ae_model *model;
    const float *x;
} crowd_job;

static void *read_in_crowd(void *raw)
{
    crowd_job *job = raw;
    in_crowd = 1;
    float path[4 * IN];
    for (int reads = 0; reads < CROWD_READS_EACH;) {
        int status = ae_model_interpolate(job->model, job->x, job->x + IN, 4, path, IN);
        if (status == AE_OK)
            reads++;
        else if (status != AE_ERR_BUSY || !strstr(ae_last_error(), "another thread"))
            atomic_fetch_add(&crowd.wrong_statuses, 1);
        else
            sched_yield(); /* let the writer finish (valgrind runs one thread at a time) */
    }
    atomic_fetch_add(&crowd.readers_done, 1);
    return NULL;
}

static void *write_against_crowd(void *raw)
{
    crowd_job *job = raw;
    while (!atomic_load(&crowd.stop_writing)) {
        int status = ae_model_fit(job->model, job->x, ROWS, IN, NULL);
        if (status == AE_OK)
            atomic_fetch_add(&crowd.writer_ok, 1);
        else if (status == AE_ERR_BUSY && strstr(ae_last_error(), "const call"))
            atomic_fetch_add(&crowd.writer_busy, 1);
        else
            atomic_fetch_add(&crowd.wrong_statuses, 1);
        sched_yield(); /* a gap for the readers: without it, under valgrind's one-thread-at-a-time
                          scheduling, they could wait minutes for one */
    }
    return NULL;
}

static void test_a_writer_never_overlaps_readers_on_any_shard(void **state)
{
    (void)state;
    assert_int_equal(ae_set_allocator(crowd_alloc, plain_free, NULL), AE_OK);
    ae_model *m = make_model();
    test_set_epochs_and_batch(m, 1, ROWS);
    float *x = make_data(6);
    assert_int_equal(ae_model_set_progress(m, writer_inside_fit, NULL), AE_OK);
    crowd_job job = {.model = m, .x = x};
    pthread_t writer_thread, threads[CROWD_READERS];
    assert_int_equal(pthread_create(&writer_thread, NULL, write_against_crowd, &job), 0);
    for (int t = 0; t < CROWD_READERS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, read_in_crowd, &job), 0);
    for (int t = 0; t < CROWD_READERS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    atomic_store(&crowd.stop_writing, 1);
    assert_int_equal(pthread_join(writer_thread, NULL), 0);
    assert_int_equal(atomic_load(&crowd.readers_done), CROWD_READERS);
    assert_int_equal(atomic_load(&crowd.overlaps), 0);
    assert_int_equal(atomic_load(&crowd.wrong_statuses), 0);
    /* Every reader has left, whatever shard it counted in: the writer gets in. */
    long before = atomic_load(&crowd.writer_ok);
    assert_int_equal(ae_model_fit(m, x, ROWS, IN, NULL), AE_OK);
    assert_int_equal(atomic_load(&crowd.writer_ok), before); /* counted only on its thread */
    ae_model_free(m);
    assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
    free(x);
}

/* Two const calls held inside the model at once, on two threads started one after the other
 * (so dealt different shards): a call that changes it counts both. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int inside, released;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
static _Thread_local int waits_at_gate;

static void *gated_alloc(size_t size, void *user_data)
{
    (void)user_data;
    if (waits_at_gate) {
        waits_at_gate = 0;
        pthread_mutex_lock(&gate.lock);
        gate.inside++;
        pthread_cond_broadcast(&gate.changed);
        while (!gate.released)
            pthread_cond_wait(&gate.changed, &gate.lock);
        pthread_mutex_unlock(&gate.lock);
    }
    return malloc(size);
}

typedef struct gated_read {
    crowd_job job;
    int status;
} gated_read;

static void *read_through_gate(void *raw)
{
    gated_read *r = raw;
    waits_at_gate = 1;
    float path[4 * IN];
    r->status = ae_model_interpolate(r->job.model, r->job.x, r->job.x + IN, 4, path, IN);
    return NULL;
}

static void test_a_writer_counts_the_const_calls_of_every_shard(void **state)
{
    (void)state;
    assert_int_equal(ae_set_allocator(gated_alloc, plain_free, NULL), AE_OK);
    ae_model *m = make_model();
    float *x = make_data(7);
    gated_read reads[2];
    pthread_t threads[2];
    for (int t = 0; t < 2; t++) {
        reads[t] = (gated_read){.job = {.model = m, .x = x}, .status = -1000};
        assert_int_equal(pthread_create(&threads[t], NULL, read_through_gate, &reads[t]), 0);
        /* Wait for this reader to be inside before starting the next. */
        pthread_mutex_lock(&gate.lock);
        while (gate.inside < t + 1)
            pthread_cond_wait(&gate.changed, &gate.lock);
        pthread_mutex_unlock(&gate.lock);
    }
    assert_int_equal(ae_model_set_param(m, AE_PARAM_LEARNING_RATE, 0.5), AE_ERR_BUSY);
    assert_non_null(strstr(ae_last_error(), "in use by 2 const calls"));
    pthread_mutex_lock(&gate.lock);
    gate.released = 1;
    pthread_cond_broadcast(&gate.changed);
    pthread_mutex_unlock(&gate.lock);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(reads[t].status, AE_OK);
    }
    assert_int_equal(ae_model_set_param(m, AE_PARAM_LEARNING_RATE, 0.5), AE_OK);
    ae_model_free(m);
    assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK);
    free(x);
}

/* ---- races, for ThreadSanitizer -------------------------------------------------------- */

typedef struct race {
    ae_model *model;
    const float *x;
    _Atomic int stop;
    _Atomic long ok, busy, other, unfitted;
} race;

/* Besides running or being refused as busy, a call may find the scaling set but not yet
 * fitted (the writer sets it, then fits it, in two calls, and the fit may have been refused
 * as busy), and is refused for that: a state the model passes through, not calls mixing. */
static void count(race *r, int status)
{
    if (status == AE_ERR_STATE && strstr(ae_last_error(), "not fitted"))
        atomic_fetch_add(&r->unfitted, 1);
    else if (status == AE_OK)
        atomic_fetch_add(&r->ok, 1);
    else if (status == AE_ERR_BUSY)
        atomic_fetch_add(&r->busy, 1);
    else
        atomic_fetch_add(&r->other, 1);
}

/* Const calls in a loop: encode, score, clone (a struct copy the spare-scratch exchange of
 * other readers must not race with), save to memory. */
static void *reader(void *raw)
{
    race *r = raw;
    float out[ROWS * IN];
    unsigned char bytes[1 << 14];
    for (int i = 0; !atomic_load(&r->stop) && i < 400; i++) {
        size_t written;
        ae_model *copy = NULL;
        switch (i % 4) {
        case 0: count(r, ae_model_encode(r->model, r->x, ROWS, IN, out, LAT)); break;
        case 1: count(r, ae_model_score(r->model, r->x, ROWS, IN, out)); break;
        case 2:
            count(r, ae_model_clone(r->model, &copy));
            ae_model_free(copy);
            break;
        default: count(r, ae_model_save_to_memory(r->model, 0, bytes, sizeof bytes, &written)); break;
        }
    }
    return NULL;
}

/* Calls that change the model in a loop: the scaling setting (which frees a fitted scaling
 * that a concurrent encode would read), fitting a scaling, a training step, weights. */
static void *writer(void *raw)
{
    race *r = raw;
    float *params = malloc(ae_model_param_count(r->model) * sizeof *params);
    for (int i = 0; i < 200; i++) {
        switch (i % 4) {
        case 0:
            count(r, ae_model_set_param(r->model, AE_PARAM_SCALING,
                                        (i / 4) % 2 ? AE_SCALING_MINMAX : AE_SCALING_NONE));
            break;
        case 1: {
            int status = ae_model_fit_scaling(r->model, r->x, ROWS, IN);
            /* with the setting at none there is nothing to fit */
            count(r, status == AE_ERR_STATE ? AE_OK : status);
            break;
        }
        case 2: count(r, ae_model_train_batch(r->model, r->x, ROWS, IN, NULL)); break;
        default:
            if (ae_model_get_params(r->model, params, ae_model_param_count(r->model)) == AE_OK)
                count(r, ae_model_set_params(r->model, params, ae_model_param_count(r->model)));
            break;
        }
    }
    atomic_store(&r->stop, 1);
    free(params);
    return NULL;
}

static void test_racing_const_calls_and_changes_never_mix(void **state)
{
    (void)state;
    ae_model *m = make_model();
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_MSE); /* min-max scaling keeps the rows in range */
    float *x = make_data(3);
    race r = {.model = m, .x = x};
    pthread_t threads[4];
    assert_int_equal(pthread_create(&threads[0], NULL, writer, &r), 0);
    for (int t = 1; t < 4; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, reader, &r), 0);
    for (int t = 0; t < 4; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    /* Every call either ran or was refused as busy (or as unfitted): no other failure, no
     * corruption. */
    assert_int_equal(atomic_load(&r.other), 0);
    assert_true(atomic_load(&r.ok) > 0);
    /* The writer's last fit of the scaling may have been refused as busy. */
    int fitted = ae_model_fit_scaling(m, x, ROWS, IN);
    assert_true(fitted == AE_OK || fitted == AE_ERR_STATE); /* STATE: the setting is none */
    float out[ROWS * LAT];
    assert_int_equal(ae_model_encode(m, x, ROWS, IN, out, LAT), AE_OK);
    for (size_t i = 0; i < ROWS * LAT; i++)
        assert_true(isfinite(out[i]));
    free(x);
    ae_model_free(m);
}

/* Clone is a const call: many threads clone one model while others encode it, and every copy
 * equals the source. */
typedef struct cloner {
    const ae_model *model;
    const float *x;
    int mismatches, failures;
} cloner;

static void *clone_and_compare(void *raw)
{
    cloner *c = raw;
    float codes[ROWS * LAT], codes_copy[ROWS * LAT];
    for (int i = 0; i < 100; i++) {
        ae_model *copy = NULL;
        if (ae_model_clone(c->model, &copy) != AE_OK ||
            ae_model_encode(c->model, c->x, ROWS, IN, codes, LAT) != AE_OK ||
            ae_model_encode(copy, c->x, ROWS, IN, codes_copy, LAT) != AE_OK)
            c->failures++;
        else if (memcmp(codes, codes_copy, sizeof codes) != 0)
            c->mismatches++;
        ae_model_free(copy);
    }
    return NULL;
}

static void test_clone_races_with_nothing_among_const_calls(void **state)
{
    (void)state;
    ae_model *m = make_model();
    float *x = make_data(4);
    assert_int_equal(ae_model_fit(m, x, ROWS, IN, NULL), AE_OK);
    cloner workers[4];
    pthread_t threads[4];
    for (int t = 0; t < 4; t++) {
        workers[t] = (cloner){.model = m, .x = x};
        assert_int_equal(pthread_create(&threads[t], NULL, clone_and_compare, &workers[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(workers[t].failures, 0);
        assert_int_equal(workers[t].mismatches, 0);
    }
    free(x);
    ae_model_free(m);
}

/* ae_model_last_error() is a const call too. While another thread changes the model (and
 * may be writing its message) it gives a fixed text saying so instead of reading the message
 * as it is written, and it leaves the calling thread's own last error alone; the fit's own
 * thread reads the message from its callback, and once the fit returned every thread does.
 * The string it gives is a copy: a later failure in another thread does not change it. */
typedef struct message_probe {
    ae_model *model;
    int done, other_thread_status;
    char from_other[256], other_thread_error[256], from_own[256];
} message_probe;

static void *read_message_in_another_thread(void *raw)
{
    message_probe *p = raw;
    /* This thread's own last error, which reading the model's message must not change. */
    p->other_thread_status = ae_model_set_param(NULL, AE_PARAM_EPOCHS, 1);
    snprintf(p->from_other, sizeof p->from_other, "%s", ae_model_last_error(p->model));
    snprintf(p->other_thread_error, sizeof p->other_thread_error, "%s", ae_last_error());
    return NULL;
}

static int read_message_during_fit(const ae_progress *progress, void *user_data)
{
    (void)progress;
    message_probe *p = user_data;
    if (p->done)
        return 0;
    p->done = 1;
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, read_message_in_another_thread, p), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    snprintf(p->from_own, sizeof p->from_own, "%s", ae_model_last_error(p->model));
    return 0;
}

typedef struct message_race {
    ae_model *model;
    _Atomic int stop;
    _Atomic long torn, reads;
} message_race;

static void *fail_repeatedly(void *raw)
{
    message_race *r = raw;
    /* At least 3,000 failures, and on until the readers have read (they may start late). */
    for (long i = 0; i < 3000 || (atomic_load(&r->reads) < 100 && i < 10000000); i++)
        ae_model_set_param(r->model, AE_PARAM_LEARNING_RATE, i % 2 ? -1.0 : 2000.0);
    atomic_store(&r->stop, 1);
    return NULL;
}

static void *read_messages(void *raw)
{
    message_race *r = raw;
    while (!atomic_load(&r->stop)) {
        const char *message = ae_model_last_error(r->model);
        if (strncmp(message, "learning_rate = ", 16) != 0 && !strstr(message, "another thread"))
            atomic_fetch_add(&r->torn, 1);
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void test_model_last_error_never_races_with_a_change(void **state)
{
    (void)state;
    ae_model *m = make_model();
    float *x = make_data(5);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_LEARNING_RATE, -1.0), AE_ERR_INVALID_ARGUMENT);
    char before[256];
    snprintf(before, sizeof before, "%s", ae_model_last_error(m));
    assert_non_null(strstr(before, "learning_rate = -1"));
    message_probe probe = {.model = m};
    assert_int_equal(ae_model_set_progress(m, read_message_during_fit, &probe), AE_OK);
    assert_int_equal(ae_model_fit(m, x, ROWS, IN, NULL), AE_OK);
    assert_true(probe.done);
    assert_int_equal(probe.other_thread_status, AE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(probe.from_other, "being changed by a call in another thread"));
    assert_string_equal(probe.other_thread_error, "model is NULL");
    assert_string_equal(probe.from_own, before);
    assert_string_equal(ae_model_last_error(m), before);
    /* A copy: a later failure leaves the string given before it as it was. */
    const char *given = ae_model_last_error(m);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_EPOCHS, 0), AE_ERR_INVALID_ARGUMENT);
    assert_string_equal(given, before);
    assert_non_null(strstr(ae_model_last_error(m), "epochs"));
    /* Racing failures and reads (ThreadSanitizer must stay silent): every read is a whole
     * message or the busy text. */
    assert_int_equal(ae_model_set_progress(m, NULL, NULL), AE_OK);
    assert_int_equal(ae_model_set_param(m, AE_PARAM_LEARNING_RATE, -1.0), AE_ERR_INVALID_ARGUMENT);
    message_race r = {.model = m};
    pthread_t threads[3];
    assert_int_equal(pthread_create(&threads[0], NULL, fail_repeatedly, &r), 0);
    for (int t = 1; t < 3; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, read_messages, &r), 0);
    for (int t = 0; t < 3; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    assert_int_equal(atomic_load(&r.torn), 0);
    assert_true(atomic_load(&r.reads) > 0);
    free(x);
    ae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_call_is_busy_while_another_thread_changes_the_model),
        cmocka_unit_test(test_calls_that_change_the_model_are_busy_while_a_const_call_runs),
        cmocka_unit_test(test_a_writer_never_overlaps_readers_on_any_shard),
        cmocka_unit_test(test_a_writer_counts_the_const_calls_of_every_shard),
        cmocka_unit_test(test_racing_const_calls_and_changes_never_mix),
        cmocka_unit_test(test_clone_races_with_nothing_among_const_calls),
        cmocka_unit_test(test_model_last_error_never_races_with_a_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
