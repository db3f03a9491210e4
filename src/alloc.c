/* The one door through which the library allocates, so that allocation can be
 * replaced by the caller (custom allocators, failure injection in tests). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void *system_alloc(size_t size, void *user_data)
{
    (void)user_data;
    return malloc(size);
}

static void system_free(void *ptr, void *user_data)
{
    (void)user_data;
    free(ptr);
}

/* The process-wide allocator (see ae_set_allocator for why it is not per model). */
static struct {
    ae_alloc_fn alloc;
    ae_free_fn free;
    void *user_data;
} allocator = {system_alloc, system_free, NULL};

int ae_set_allocator(ae_alloc_fn alloc_fn, ae_free_fn free_fn, void *user_data)
{
    AE_CHECK((alloc_fn == NULL) == (free_fn == NULL), NULL, AE_ERR_INVALID_ARGUMENT,
             "give both an allocation and a free function, or neither");
    allocator.alloc = alloc_fn ? alloc_fn : system_alloc;
    allocator.free = free_fn ? free_fn : system_free;
    allocator.user_data = alloc_fn ? user_data : NULL;
    return AE_OK;
}

void *ae_alloc(size_t n_bytes) { return n_bytes ? allocator.alloc(n_bytes, allocator.user_data) : NULL; }

void *ae_calloc(size_t count, size_t size)
{
    size_t bytes;
    if (!ae_mul_size(count, size, &bytes))
        return NULL;
    void *ptr = ae_alloc(bytes);
    if (ptr)
        memset(ptr, 0, bytes);
    return ptr;
}

void ae_free(void *ptr)
{
    if (ptr)
        allocator.free(ptr, allocator.user_data);
}

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

void ae_copy_size_prefixed(void *out, const void *full, size_t full_size)
{
    size_t out_size;
    memcpy(&out_size, out, sizeof out_size);
    size_t n = out_size < full_size ? out_size : full_size;
    if (n > sizeof(size_t))
        memcpy((char *)out + sizeof(size_t), (const char *)full + sizeof(size_t), n - sizeof(size_t));
}
