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
 * move it between the cores), and rows of floats start aligned for vector loads.
 *
 * And every block goes back to the allocator that gave it, whichever is in use when it is
 * freed (a program may hold a model made with one allocator while it installs another, say
 * to count one call's allocations): a C library block handed to a caller's free, or the
 * reverse, would corrupt the heap. Where a block starts tells which gave it. The C library's
 * blocks start on 128 bytes, aligned by the library itself, so that what the library holds
 * is the start of what it was given (a memory checker then sees every block a program still
 * holds at its exit as reachable, not as possibly lost). A caller's allocator promises only
 * malloc's alignment: its block is longer by AE_BLOCK_EXTRA, the library's block starts 64
 * bytes past a multiple of 128, and the bytes before it hold the free function and user data
 * it goes back to (block_origin) and, in the last, how far into the caller's block it
 * starts. */
#define AE_BLOCK_TAG_ALIGN (2 * AE_CACHE_LINE)

typedef struct block_origin {
    ae_free_fn free;
    void *user_data;
} block_origin;

enum {
    AE_ORIGIN_BYTES = sizeof(block_origin) + 8, /* the origin, then up to the offset's byte */
    AE_BLOCK_EXTRA = AE_ORIGIN_BYTES + AE_BLOCK_TAG_ALIGN - 1
};

static bool from_c_library(const void *block) { return (uintptr_t)block % AE_BLOCK_TAG_ALIGN == 0; }

void *ae_alloc(size_t n_bytes)
{
    if (n_bytes == 0 || n_bytes > SIZE_MAX - AE_BLOCK_EXTRA)
        return NULL;
    if (!allocator.alloc) /* C11 asks for a whole number of the alignment */
        return aligned_alloc(AE_BLOCK_TAG_ALIGN,
                             (n_bytes + AE_BLOCK_TAG_ALIGN - 1) / AE_BLOCK_TAG_ALIGN * AE_BLOCK_TAG_ALIGN);
    unsigned char *base = allocator.alloc(n_bytes + AE_BLOCK_EXTRA, allocator.user_data);
    if (!base)
        return NULL;
    /* the first address at least AE_ORIGIN_BYTES in that is a line past a multiple of 128
     * (unsigned arithmetic wraps modulo a multiple of 128, so the difference's residue holds) */
    const uintptr_t earliest = (uintptr_t)base + AE_ORIGIN_BYTES;
    const size_t offset = AE_ORIGIN_BYTES + (size_t)(((uintptr_t)AE_CACHE_LINE - earliest) % AE_BLOCK_TAG_ALIGN);
    unsigned char *block = base + offset;
    const block_origin origin = {allocator.free, allocator.user_data};
    memcpy(block - AE_ORIGIN_BYTES, &origin, sizeof origin);
    block[-1] = (unsigned char)offset;
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
    if (from_c_library(ptr)) {
        free(ptr);
        return;
    }
    unsigned char *block = ptr;
    block_origin origin;
    memcpy(&origin, block - AE_ORIGIN_BYTES, sizeof origin);
    origin.free(block - block[-1], origin.user_data);
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
