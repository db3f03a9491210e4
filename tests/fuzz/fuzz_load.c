/* libFuzzer target: arbitrary bytes into ae_model_load_from_memory(), as they are and
 * again with the trailing CRC-32C recomputed, so that mutations reach the checks behind
 * the checksum. A load must end in a documented status with no model, or in a model
 * that works: it encodes, and saving, loading and saving it again gives the same bytes.
 * Any other outcome traps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *checked_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

/* Save with flags into a new buffer; traps on any failure. */
static unsigned char *save(const ae_model *m, unsigned flags, size_t *n)
{
    if (ae_model_save_size(m, flags, n) != AE_OK)
        __builtin_trap();
    unsigned char *buf = checked_malloc(*n);
    size_t written = 0;
    if (ae_model_save_to_memory(m, flags, buf, *n, &written) != AE_OK || written != *n)
        __builtin_trap();
    return buf;
}

static uint32_t crc32c(const unsigned char *data, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static void load_one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_one(data, size);
    if (size >= 20) {
        unsigned char *fixed = checked_malloc(size);
        memcpy(fixed, data, size);
        uint32_t crc = crc32c(fixed, size - 4);
        for (int i = 0; i < 4; i++)
            fixed[size - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
        load_one(fixed, size);
        free(fixed);
    }
    return 0;
}

static void load_one(const uint8_t *data, size_t size)
{
    ae_model *m = NULL;
    int status = ae_model_load_from_memory(&m, data, size);
    if (status != AE_OK) {
        if (m != NULL || ae_last_error()[0] == '\0')
            __builtin_trap();
        if (status != AE_ERR_FORMAT && status != AE_ERR_CHECKSUM && status != AE_ERR_VERSION &&
            status != AE_ERR_OUT_OF_MEMORY)
            __builtin_trap();
        return;
    }

    size_t in = ae_model_input_dim(m), latent = ae_model_latent_dim(m);
    float *x = checked_malloc(in * sizeof *x), *z = checked_malloc(latent * sizeof *z);
    for (size_t j = 0; j < in; j++)
        x[j] = (float)(j % 5) * 0.25f;
    if (ae_model_encode(m, x, 1, in, z, latent) != AE_OK)
        __builtin_trap();

    size_t n1, n2;
    unsigned char *first = save(m, AE_SAVE_OPTIMIZER_STATE, &n1);
    ae_model *again = NULL;
    if (ae_model_load_from_memory(&again, first, n1) != AE_OK)
        __builtin_trap();
    unsigned char *second = save(again, AE_SAVE_OPTIMIZER_STATE, &n2);
    if (n1 != n2 || memcmp(first, second, n1) != 0)
        __builtin_trap();
    float *z2 = checked_malloc(latent * sizeof *z2);
    if (ae_model_encode(again, x, 1, in, z2, latent) != AE_OK || memcmp(z, z2, latent * sizeof *z) != 0)
        __builtin_trap();

    free(z2);
    free(second);
    free(first);
    free(z);
    free(x);
    ae_model_free(again);
    ae_model_free(m);
}
