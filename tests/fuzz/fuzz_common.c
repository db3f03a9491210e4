#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

void *fuzz_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

unsigned char *fuzz_save(const ae_model *m, unsigned flags, size_t *n)
{
    if (ae_model_save_size(m, flags, n) != AE_OK)
        __builtin_trap();
    unsigned char *buf = fuzz_malloc(*n);
    size_t written = 0;
    if (ae_model_save_to_memory(m, flags, buf, *n, &written) != AE_OK || written != *n)
        __builtin_trap();
    return buf;
}

ae_model *fuzz_reload_checking_bytes(const ae_model *m, unsigned flags)
{
    size_t n1, n2;
    unsigned char *first = fuzz_save(m, flags, &n1);
    ae_model *copy = NULL;
    if (ae_model_load_from_memory(&copy, first, n1) != AE_OK)
        __builtin_trap();
    unsigned char *second = fuzz_save(copy, flags, &n2);
    if (n1 != n2 || memcmp(first, second, n1) != 0)
        __builtin_trap();
    free(second);
    free(first);
    return copy;
}

void fuzz_check_same_codes(const ae_model *a, const ae_model *b, const float *x, size_t n_rows)
{
    size_t in = ae_model_input_dim(a), latent = ae_model_latent_dim(a);
    float *za = fuzz_malloc(n_rows * latent * sizeof *za), *zb = fuzz_malloc(n_rows * latent * sizeof *zb);
    /* A model whose scaling is set but not fitted cannot encode (AE_ERR_STATE), and one
     * whose weights make a row overflow refuses it (AE_ERR_NON_FINITE_RESULT); then the copy
     * must refuse the same way. */
    int sa = ae_model_encode(a, x, n_rows, in, za, latent);
    int sb = ae_model_encode(b, x, n_rows, in, zb, latent);
    if (sa != sb || (sa != AE_OK && sa != AE_ERR_STATE && sa != AE_ERR_NON_FINITE_RESULT) ||
        (sa == AE_OK && memcmp(za, zb, n_rows * latent * sizeof *za) != 0))
        __builtin_trap();
    free(za);
    free(zb);
}
