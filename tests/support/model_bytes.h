/* Editing saved model bytes for tests: crafted files as an older library, or an attacker,
 * could write them, with a correct checksum (docs/format.md is the layout). */
#ifndef AE_TEST_MODEL_BYTES_H
#define AE_TEST_MODEL_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "autoenc.h"

/** CRC-32C (Castagnoli) of n bytes, bit by bit: the format's checksum, computed
 *  independently of the library's. */
uint32_t test_crc32c(const unsigned char *data, size_t n);

/** Rewrite the checksum at the end of a model file of n bytes. */
void test_fix_crc(unsigned char *file, size_t n);

/** Give setting @p param the value @p value in the SETT section of a model file of n bytes
 *  and fix its checksum. Returns 0, or -1 if the file has no such setting record. */
int test_patch_setting(unsigned char *file, size_t n, ae_param param, double value);

#endif
