/* Helpers shared by the libFuzzer targets. Every check that fails traps
 * (__builtin_trap), so libFuzzer reports the input that caused it. */
#ifndef AE_FUZZ_COMMON_H
#define AE_FUZZ_COMMON_H

#include <stddef.h>

#include "autoenc.h"

/* malloc that never returns NULL (aborts instead); n may be 0. */
void *fuzz_malloc(size_t n);

/* Save m with flags into a new buffer of *n bytes; traps on any failure. */
unsigned char *fuzz_save(const ae_model *m, unsigned flags, size_t *n);

/* Save m with flags, load the bytes into a copy and save the copy again: traps unless
 * the load succeeds and both saves give the same bytes. Returns the copy. */
ae_model *fuzz_reload_checking_bytes(const ae_model *m, unsigned flags);

/* Encode the rows x (n_rows x input width) with a and with b: traps unless both succeed
 * with bitwise identical codes, or both refuse with AE_ERR_STATE (a scaling not fitted). */
void fuzz_check_same_codes(const ae_model *a, const ae_model *b, const float *x, size_t n_rows);

#endif
