#include "alloc_counter.h"

#include <pthread.h>
#include <stdlib.h>

#include "autoenc.h"

/* Each block carries its size in a header that keeps malloc's alignment. */
typedef union header {
    size_t size;
    max_align_t align;
} header;

static test_alloc_counts counts;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *counting_alloc(size_t size, void *user)
{
    (void)user;
    header *h = malloc(sizeof *h + size);
    if (!h)
        return NULL;
    h->size = size;
    pthread_mutex_lock(&lock);
    counts.allocations++;
    counts.live_bytes += size;
    if (counts.live_bytes > counts.peak_bytes)
        counts.peak_bytes = counts.live_bytes;
    pthread_mutex_unlock(&lock);
    return h + 1;
}

static void counting_free(void *ptr, void *user)
{
    (void)user;
    header *h = (header *)ptr - 1;
    pthread_mutex_lock(&lock);
    counts.live_bytes -= h->size;
    pthread_mutex_unlock(&lock);
    free(h);
}

int test_alloc_counter_install(void)
{
    pthread_mutex_lock(&lock);
    counts = (test_alloc_counts){0};
    pthread_mutex_unlock(&lock);
    return ae_set_allocator(counting_alloc, counting_free, NULL) == AE_OK ? 0 : -1;
}

int test_alloc_counter_uninstall(void)
{
    return ae_set_allocator(NULL, NULL, NULL) == AE_OK ? 0 : -1;
}

test_alloc_counts test_alloc_counter_get(void)
{
    pthread_mutex_lock(&lock);
    test_alloc_counts now = counts;
    pthread_mutex_unlock(&lock);
    return now;
}

void test_alloc_counter_reset_peak(void)
{
    pthread_mutex_lock(&lock);
    counts.peak_bytes = counts.live_bytes;
    pthread_mutex_unlock(&lock);
}
