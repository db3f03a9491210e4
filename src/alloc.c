/* The one door through which the library allocates, so that allocation can be
 * replaced by the caller (custom allocators, failure injection in tests). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The process-wide allocator (see ae_set_allocator for why it is not per model); NULL
 * functions: the C library's. */
static struct {
    ae_alloc_fn alloc;
    ae_free_fn free;
    void *user_data;
} allocator = {NULL, NULL, NULL};

int ae_set_allocator(ae_alloc_fn alloc_fn, ae_free_fn free_fn, void *user_data)
{
    AE_CHECK((alloc_fn == NULL) == (free_fn == NULL), NULL, AE_ERR_INVALID_ARGUMENT,
             "give both an allocation and a free function, or neither");
    allocator.alloc = alloc_fn;
    allocator.free = free_fn;
    allocator.user_data = alloc_fn ? user_data : NULL;
    return AE_OK;
}

/* Every block starts a cache line of its own: two buffers that different threads write, such
 * as two parts' gradients of a split step, then never share a line (each write there would
 * move it between the cores), and rows of floats start aligned for vector loads. The C
 * library aligns the block itself, so that what the library holds is the start of what it was
 * given (a memory checker then sees every block the program still holds at its exit as
 * reachable, not as possibly lost). A caller's allocator promises only malloc's alignment:
 * its block is a line longer, and the byte before the library's block says how far into it
 * the library's block starts (1 to AE_CACHE_LINE bytes). */
void *ae_alloc(size_t n_bytes)
{
    if (n_bytes == 0 || n_bytes > SIZE_MAX - AE_CACHE_LINE)
        return NULL;
    if (!allocator.alloc) /* C11 asks for a whole number of lines */
        return aligned_alloc(AE_CACHE_LINE, (n_bytes + AE_CACHE_LINE - 1) / AE_CACHE_LINE * AE_CACHE_LINE);
    unsigned char *base = allocator.alloc(n_bytes + AE_CACHE_LINE, allocator.user_data);
    if (!base)
        return NULL;
    unsigned char *block = base + (AE_CACHE_LINE - (uintptr_t)base % AE_CACHE_LINE);
    block[-1] = (unsigned char)(block - base);
    return block;
}

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
    if (!ptr)
        return;
    if (!allocator.free) {
        free(ptr);
        return;
    }
    unsigned char *block = ptr;
    allocator.free(block - block[-1], allocator.user_data);
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
