/* Editing saved model bytes for tests (see model_bytes.h). */
#include "model_bytes.h"

#include <string.h>

uint32_t test_crc32c(const unsigned char *data, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static uint64_t read_le(const unsigned char *p, unsigned n_bytes)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < n_bytes; i++)
        value |= (uint64_t)p[i] << (8 * i);
    return value;
}

static void write_le(unsigned char *p, uint64_t value, unsigned n_bytes)
{
    for (unsigned i = 0; i < n_bytes; i++)
        p[i] = (unsigned char)(value >> (8 * i));
}

void test_fix_crc(unsigned char *file, size_t n)
{
    write_le(file + n - 4, test_crc32c(file, n - 4), 4);
}

int test_patch_setting(unsigned char *file, size_t n, ae_param param, double value)
{
    if (n < 20)
        return -1;
    const uint64_t count = read_le(file + 12, 4);
    size_t pos = 16;
    for (uint64_t s = 0; s < count && pos + 16 <= n - 4; s++) {
        const uint64_t length = read_le(file + pos + 8, 8);
        if (length > n - 4 - pos - 16)
            return -1;
        if (memcmp(file + pos, "SETT", 4) == 0) {
            const unsigned char *payload = file + pos + 16;
            const uint64_t records = read_le(payload, 4);
            for (uint64_t r = 0; r < records && 4 + 12 * (r + 1) <= length; r++) {
                unsigned char *record = file + pos + 16 + 4 + 12 * r;
                if (read_le(record, 4) != (uint64_t)param)
                    continue;
                uint64_t bits;
                memcpy(&bits, &value, sizeof bits);
                write_le(record + 4, bits, 8);
                test_fix_crc(file, n);
                return 0;
            }
            return -1;
        }
        pos += 16 + (size_t)length;
    }
    return -1;
}
