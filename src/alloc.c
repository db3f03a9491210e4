/* The one door through which the library allocates, so that allocation can be
 * hooked (custom allocators, failure injection) in one place. */
#include "internal.h"

#include <stdlib.h>

void *ae_alloc(size_t n_bytes) { return n_bytes ? malloc(n_bytes) : NULL; }

void *ae_calloc(size_t count, size_t size) { return count && size ? calloc(count, size) : NULL; }

void ae_free(void *ptr) { free(ptr); }

bool ae_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

float *ae_alloc_floats(size_t n)
{
    size_t bytes;
    if (!ae_mul_size(n, sizeof(float), &bytes))
        return NULL;
    return ae_alloc(bytes);
}
