/* A small per-model pool of worker threads for the elementwise work of training (the
 * optimizer update, the output loss, reductions), which would otherwise run on one core
 * while the BLAS threads wait. Workers sleep on a condition variable between tasks, so an
 * idle pool costs nothing; each task is split into contiguous ranges, one per thread,
 * whose results the caller combines in range order (deterministic for a thread count). */
#include "internal.h"

#include <pthread.h>
#include <sched.h>

typedef struct worker_arg {
    ae_pool *pool;
    size_t index; /* 1 .. n_threads - 1; the caller is range 0 */
} worker_arg;

struct ae_pool {
    size_t n_threads; /* including the calling thread */
    pthread_t *workers;
    worker_arg *args;
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    uint64_t generation; /* incremented for every task */
    size_t pending;      /* workers still running the current task */
    bool stopping;
    ae_task_fn task;
    void *context;
    size_t n_items, grain;
};

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
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (pool->generation == seen && !pool->stopping)
            pthread_cond_wait(&pool->start, &pool->lock);
        if (pool->stopping) {
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        seen = pool->generation;
        ae_task_fn task = pool->task;
        void *context = pool->context;
        size_t begin, end;
        split(pool->n_items, pool->grain, pool->n_threads, arg->index, &begin, &end);
        pthread_mutex_unlock(&pool->lock);

        if (begin < end)
            task(context, arg->index, begin, end);

        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->done);
        pthread_mutex_unlock(&pool->lock);
    }
}

void ae_pool_stop(ae_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i + 1 < pool->n_threads; i++)
        pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->lock);
    ae_free(pool->args);
    ae_free(pool->workers);
    ae_free(pool);
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
    pool->n_threads = 1;
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
    pthread_mutex_lock(&pool->lock);
    pool->task = task;
    pool->context = context;
    pool->n_items = n_items;
    pool->grain = grain;
    pool->pending = pool->n_threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);

    size_t begin, end;
    split(n_items, grain, pool->n_threads, 0, &begin, &end);
    if (begin < end)
        task(context, 0, begin, end);

    pthread_mutex_lock(&pool->lock);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}

void ae_meet(ae_meeting *meeting)
{
    atomic_fetch_add_explicit(&meeting->arrived, 1, memory_order_acq_rel);
    while (atomic_load_explicit(&meeting->arrived, memory_order_acquire) < meeting->parties)
        sched_yield();
}
