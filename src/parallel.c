/* A small per-model pool of worker threads for the elementwise work of training (the
 * optimizer update, the output loss, reductions) and for row-split steps. Each task is split
 * into contiguous ranges, one per thread, whose results the caller combines in range order
 * (deterministic for a thread count). Between tasks a worker first polls for the next one
 * for AE_POOL_SPIN_NS, yielding the core, then sleeps on a condition variable: a sleeping
 * processor of a virtual machine takes tens of microseconds to wake, more than a narrow
 * model's whole step, while a pool that spins briefly costs an idle program nothing. The
 * caller waits for the workers the same way. A child of fork() has none of its parent's
 * workers: ae_pool_orphaned tells, and such a pool is only ever freed, never run or joined. */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

/* How many fork()s this process descends from since the library was loaded, counted in the
 * child by a pthread_atfork handler: a pool started at another count belongs to an ancestor.
 * (getpid() would tell too, but it is a system call, 80 ns, at every training call: 5% of a
 * 30-16-4 step on one row.) */
static atomic_uint forks_counted;
static pthread_once_t fork_counter_registered = PTHREAD_ONCE_INIT;

static void count_fork(void) { atomic_fetch_add_explicit(&forks_counted, 1, memory_order_relaxed); }

static void register_fork_counter(void) { (void)pthread_atfork(NULL, NULL, count_fork); }

/* How long a worker polls for the next task, and the caller for the workers, before they
 * sleep: longer than the gap between a training loop's steps, short against any pause. */
#define AE_POOL_SPIN_NS 200000

typedef struct worker_arg {
    ae_pool *pool;
    size_t index; /* 1 .. n_threads - 1; the caller is range 0 */
} worker_arg;

struct ae_pool {
    size_t n_threads; /* including the calling thread */
    unsigned forks;   /* forks_counted when the workers started */
    pthread_t *workers;
    worker_arg *args;
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    /* Incremented for every task (release, after the task's fields): a worker that sees it
     * change (acquire) may read them. Written under lock, read by polling workers without;
     * only ever compared for a change, so that it may wrap. */
    atomic_size_t generation;
    atomic_size_t pending; /* workers still running the current task */
    size_t sleepers;       /* workers waiting on start (under lock) */
    bool caller_sleeps;    /* the caller waits on done (under lock) */
    bool stopping;         /* under lock */
    ae_task_fn task;
    void *context;
    size_t n_items, grain;
};

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Polls *word for up to AE_POOL_SPIN_NS, yielding the core between looks: true as soon as
 * it equals value (until_equal) or differs from it (!until_equal), false if time runs out.
 * A worker waits so for the next task, the caller for its workers to finish. */
static bool poll_word(const atomic_size_t *word, size_t value, bool until_equal)
{
    const uint64_t until = now_ns() + AE_POOL_SPIN_NS;
    for (unsigned polls = 1;; polls++) {
        if ((atomic_load_explicit(word, memory_order_acquire) == value) == until_equal)
            return true;
        if (polls % 16 == 0 && now_ns() > until)
            return false;
        sched_yield();
    }
}

/* Range `index` of `parts` over [0, n), with boundaries on multiples of grain. */
static void split(size_t n, size_t grain, size_t parts, size_t index, size_t *begin, size_t *end)
{
    size_t units = (n + grain - 1) / grain;
    size_t per = units / parts, extra = units % parts;
    size_t first = index * per + (index < extra ? index : extra);
    size_t count = per + (index < extra ? 1 : 0);
    *begin = first * grain < n ? first * grain : n;
    *end = (first + count) * grain < n ? (first + count) * grain : n;
}

static void *worker_main(void *raw)
{
    worker_arg *arg = raw;
    ae_pool *pool = arg->pool;
    size_t seen = 0;
    for (;;) {
        if (!poll_word(&pool->generation, seen, false)) {
            pthread_mutex_lock(&pool->lock);
            pool->sleepers++;
            while (atomic_load_explicit(&pool->generation, memory_order_acquire) == seen &&
                   !pool->stopping)
                pthread_cond_wait(&pool->start, &pool->lock);
            pool->sleepers--;
            const bool stopping = pool->stopping;
            pthread_mutex_unlock(&pool->lock);
            if (stopping)
                return NULL;
        }
        seen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (pool->task == NULL) /* ae_pool_stop's last generation */
            return NULL;
        size_t begin, end;
        split(pool->n_items, pool->grain, pool->n_threads, arg->index, &begin, &end);
        if (begin < end)
            pool->task(pool->context, arg->index, begin, end);

        if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->lock);
            if (pool->caller_sleeps)
                pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->lock);
        }
    }
}

/* The pool's memory, without its workers (which, in a child of fork(), do not exist) and
 * without its lock and conditions (which a worker may have held at the fork). */
static void free_pool_memory(ae_pool *pool)
{
    ae_free(pool->args);
    ae_free(pool->workers);
    ae_free(pool);
}

bool ae_pool_orphaned(const ae_pool *pool)
{
    return pool && pool->forks != atomic_load_explicit(&forks_counted, memory_order_relaxed);
}

void ae_pool_stop(ae_pool *pool)
{
    if (!pool)
        return;
    if (ae_pool_orphaned(pool)) {
        free_pool_memory(pool);
        return;
    }
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pool->task = NULL; /* and a generation of its own for the workers that poll */
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i + 1 < pool->n_threads; i++)
        pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->lock);
    free_pool_memory(pool);
}

int ae_pool_start(ae_pool **out, size_t n_threads)
{
    *out = NULL;
    if (n_threads <= 1)
        return AE_OK;
    ae_pool *pool = ae_calloc(1, sizeof *pool);
    worker_arg *args = ae_calloc(n_threads - 1, sizeof *args);
    pthread_t *workers = ae_calloc(n_threads - 1, sizeof *workers);
    if (!pool || !args || !workers) {
        ae_free(pool);
        ae_free(args);
        ae_free(workers);
        return AE_ERR_OUT_OF_MEMORY;
    }
    pthread_once(&fork_counter_registered, register_fork_counter);
    pool->n_threads = 1;
    pool->forks = atomic_load_explicit(&forks_counted, memory_order_relaxed);
    pool->workers = workers;
    pool->args = args;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);
    for (size_t i = 0; i + 1 < n_threads; i++) {
        args[i] = (worker_arg){pool, i + 1};
        if (pthread_create(&workers[i], NULL, worker_main, &args[i]) != 0)
            break;
        pool->n_threads++;
    }
    if (pool->n_threads == 1) { /* no thread could start: run everything on the caller */
        pthread_cond_destroy(&pool->start);
        pthread_cond_destroy(&pool->done);
        pthread_mutex_destroy(&pool->lock);
        ae_free(args);
        ae_free(workers);
        ae_free(pool);
        return AE_OK;
    }
    *out = pool;
    return AE_OK;
}

size_t ae_pool_threads(const ae_pool *pool) { return pool ? pool->n_threads : 1; }

void ae_pool_run(ae_pool *pool, ae_task_fn task, void *context, size_t n_items, size_t grain)
{
    if (grain == 0)
        grain = 1;
    if (!pool || n_items <= grain) {
        task(context, 0, 0, n_items);
        return;
    }
    pool->task = task;
    pool->context = context;
    pool->n_items = n_items;
    pool->grain = grain;
    atomic_store_explicit(&pool->pending, pool->n_threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    if (pool->sleepers > 0)
        pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);

    size_t begin, end;
    split(n_items, grain, pool->n_threads, 0, &begin, &end);
    if (begin < end)
        task(context, 0, begin, end);

    if (poll_word(&pool->pending, 0, true))
        return;
    pthread_mutex_lock(&pool->lock);
    pool->caller_sleeps = true;
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pool->caller_sleeps = false;
    pthread_mutex_unlock(&pool->lock);
}

void ae_meet(ae_meeting *meeting)
{
    /* the arrivals count on over the rounds: this round ends at the next multiple of parties */
    const size_t before = atomic_fetch_add_explicit(&meeting->arrived, 1, memory_order_acq_rel);
    const size_t round_end = (before / meeting->parties + 1) * meeting->parties;
    while (atomic_load_explicit(&meeting->arrived, memory_order_acquire) < round_end)
        sched_yield();
}
