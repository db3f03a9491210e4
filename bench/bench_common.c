#include "bench_common.h"

#include <autoenc.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- counting allocator ------------------------------------------------------ */

/* A header in front of every block keeps its size; its size keeps malloc's alignment. */
#define BENCH_HEADER sizeof(max_align_t)

static atomic_llong g_current, g_peak, g_allocs;

static void *counting_alloc(size_t size, void *user_data)
{
    (void)user_data;
    if (size > SIZE_MAX - BENCH_HEADER)
        return NULL;
    unsigned char *block = malloc(size + BENCH_HEADER);
    if (!block)
        return NULL;
    memcpy(block, &size, sizeof size);
    long long now = atomic_fetch_add(&g_current, (long long)size) + (long long)size;
    long long peak = atomic_load(&g_peak);
    while (now > peak && !atomic_compare_exchange_weak(&g_peak, &peak, now)) {
    }
    atomic_fetch_add(&g_allocs, 1);
    return block + BENCH_HEADER;
}

static void counting_free(void *ptr, void *user_data)
{
    (void)user_data;
    unsigned char *block = (unsigned char *)ptr - BENCH_HEADER;
    size_t size;
    memcpy(&size, block, sizeof size);
    atomic_fetch_sub(&g_current, (long long)size);
    free(block);
}

int bench_alloc_install(void)
{
    return ae_set_allocator(counting_alloc, counting_free, NULL) == AE_OK ? 0 : -1;
}

bench_alloc_stats bench_alloc_get(void)
{
    bench_alloc_stats s = {atomic_load(&g_current), atomic_load(&g_peak), atomic_load(&g_allocs)};
    return s;
}

void bench_alloc_reset_peak(void)
{
    atomic_store(&g_peak, atomic_load(&g_current));
}

/* ---- resident memory --------------------------------------------------------- */

static int64_t status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    size_t key_len = strlen(key);
    int64_t value = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
            value = (int64_t)strtoll(line + key_len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return value < 0 ? -1 : value * 1024;
}

int64_t bench_rss_now(void)
{
    return status_kib("VmRSS");
}

int64_t bench_rss_peak(void)
{
    return status_kib("VmHWM");
}

int bench_rss_reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}
