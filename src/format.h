/* The byte encoding of model files (docs/format.md is the specification), private to
 * the three files that use it: format_write.c turns a model into bytes, format_read.c
 * checks bytes and builds a model from them, model_file.c moves the bytes between
 * memory and a path. */
#ifndef AE_FORMAT_H
#define AE_FORMAT_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FORMAT_MAJOR 1u
#define FORMAT_MINOR 3u
#define HEADER_SIZE 16u /* magic, major, minor, section count */
#define SECTION_HEADER_SIZE 16u
#define CRC_SIZE 4u
#define LAYER_RECORD_SIZE 24u
#define SETTING_RECORD_SIZE 12u
#define RNG_SECTION_SIZE 33u
#define OPTM_FIXED_SIZE 14u
#define THRS_SECTION_SIZE 8u
#define FLAG_REQUIRED 1u
#define MAX_PARAM_ID 256 /* setting ids are small; the writer scans 0 .. MAX_PARAM_ID - 1 */

static const unsigned char file_magic[8] = {0x89, 'A', 'E', 'N', 'C', 0x0D, 0x0A, 0x1A};

enum {
    SEC_ARCH, SEC_SETT, SEC_PARM, SEC_RNG, SEC_OPTM, SEC_THRS, SEC_SCAL, SEC_ENCO, SEC_TIED,
    SEC_VARL, SEC_COUNT
};
static const char section_tags[SEC_COUNT][5] = {"ARCH", "SETT", "PARM", "RNG ", "OPTM",
                                                "THRS", "SCAL", "ENCO", "TIED", "VARL"};

/* Optional sections carry what an older reader may drop without changing the results;
 * the others are flagged required, so an older reader refuses a file it would misread. */
static inline bool section_required(int section)
{
    return section != SEC_OPTM && section != SEC_THRS;
}

/* Sections every file has; the others appear when the model has what they hold. */
static inline bool section_always_present(int section) { return section <= SEC_RNG; }

/* The n_bytes low bytes of value at p, least significant first, and back. */
static inline void store_le(unsigned char *p, uint64_t value, unsigned n_bytes)
{
    for (unsigned i = 0; i < n_bytes; i++)
        p[i] = (unsigned char)(value >> (8 * i));
}

static inline uint64_t load_le(const unsigned char *p, unsigned n_bytes)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < n_bytes; i++)
        value |= (uint64_t)p[i] << (8 * i);
    return value;
}

/* ---- format_write.c ---- */

/* The whole file for model with flags in a new buffer (ae_free it), holding the model as a
 * reader meanwhile: AE_OK, AE_ERR_INVALID_ARGUMENT, AE_ERR_SIZE_OVERFLOW,
 * AE_ERR_OUT_OF_MEMORY or AE_ERR_BUSY. */
int ae_format_serialise(const ae_model *model, unsigned flags, unsigned char **bytes,
                        size_t *size);

/* ---- format_read.c ---- */

/* Steps 1 and 2 of the reading order on the first n bytes of a file (n may be below
 * HEADER_SIZE): magic and version, with the statuses and messages of a full load. */
int ae_format_check_header(const unsigned char *bytes, size_t n);

/* Check n bytes completely and build the model from them into *out. */
int ae_format_load(ae_model **out, const unsigned char *bytes, size_t n);

#endif
