/* libFuzzer target: arbitrary bytes into ae_model_load_from_memory(), as they are and
 * again with the trailing CRC-32C recomputed, so that mutations reach the checks behind
 * the checksum. A load must end in a documented status with no model, or in a model
 * that works: it encodes, and saving, loading and saving it again gives the same bytes.
 * Any other outcome traps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        unsigned char *fixed = fuzz_malloc(size);
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

    /* It encodes, and the copy saved and loaded back encodes the same. */
    size_t in = ae_model_input_dim(m);
    float *x = fuzz_malloc(in * sizeof *x);
    for (size_t j = 0; j < in; j++)
        x[j] = (float)(j % 5) * 0.25f;
    ae_model *again = fuzz_reload_checking_bytes(m, AE_SAVE_OPTIMIZER_STATE);
    fuzz_check_same_codes(m, again, x, 1);

    free(x);
    ae_model_free(again);
    ae_model_free(m);
}
