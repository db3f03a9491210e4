/* A counting allocator for the library's allocation hook (ae_set_allocator): how many
 * blocks the library allocated, and its live and peak bytes. Thread-safe, for suites whose
 * threads allocate (or must not) at the same time. */
#ifndef AE_TEST_ALLOC_COUNTER_H
#define AE_TEST_ALLOC_COUNTER_H

#include <stddef.h>

typedef struct test_alloc_counts {
    size_t allocations; /* blocks allocated since the counter was installed */
    size_t live_bytes, peak_bytes;
} test_alloc_counts;

/* Route the library's allocations through the counter, from zero; 0 or -1. */
int test_alloc_counter_install(void);
/* Give the library back malloc and free; 0 or -1. */
int test_alloc_counter_uninstall(void);
/* The counts now. */
test_alloc_counts test_alloc_counter_get(void);
/* Start the peak afresh at the live bytes. */
void test_alloc_counter_reset_peak(void);

#endif
