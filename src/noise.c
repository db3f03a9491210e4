/* The noise of training: input corruption for denoising (Gaussian, masking, salt and
 * pepper) and dropout's keep masks, drawn from the model's generator. */
#include "internal.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

void ae_corrupt(const float *x, size_t ld_x, size_t n_rows, size_t n_cols, float *out,
                const ae_settings *settings, ae_rng *rng)
{
    const float level = settings->noise_level;
    for (size_t i = 0; i < n_rows; i++) {
        const float *row = x + i * ld_x;
        float *dst = out + i * n_cols;
        switch (settings->noise) {
        case AE_NOISE_GAUSSIAN:
            /* Box-Muller gives two independent normals per draw. */
            for (size_t j = 0; j < n_cols; j += 2) {
                double radius = sqrt(-2.0 * log(1.0 - ae_rng_uniform(rng)));
                double angle = 6.283185307179586 * ae_rng_uniform(rng);
                dst[j] = row[j] + level * (float)(radius * cos(angle));
                if (j + 1 < n_cols)
                    dst[j + 1] = row[j + 1] + level * (float)(radius * sin(angle));
            }
            break;
        case AE_NOISE_MASKING:
            for (size_t j = 0; j < n_cols; j++)
                dst[j] = ae_rng_uniform(rng) < level ? 0.0f : row[j];
            break;
        case AE_NOISE_SALT_AND_PEPPER:
            for (size_t j = 0; j < n_cols; j++) {
                uint64_t bits = ae_rng_next(rng);
                /* 53 bits decide whether to corrupt, the lowest bit salt or pepper. */
                bool hit = (double)(bits >> 11) * 0x1.0p-53 < level;
                dst[j] = hit ? (float)(bits & 1) : row[j];
            }
            break;
        default:
            memcpy(dst, row, n_cols * sizeof *dst);
            break;
        }
    }
}

/* ---- dropout ---------------------------------------------------------------------- */

/* Whether each of n values survives dropout with probability p: a fresh 53-bit uniform per
 * value from the model's generator. */
void ae_dropout(const float *in, size_t ld_in, size_t n_rows, size_t n_cols, float p,
                ae_rng *rng, float *out, uint8_t *keep)
{
    const float survivor_scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n_rows; i++) {
        const float *row = in + i * ld_in;
        for (size_t j = 0; j < n_cols; j++) {
            bool kept = ae_rng_uniform(rng) >= (double)p;
            if (keep)
                keep[i * n_cols + j] = kept;
            out[i * n_cols + j] = kept ? row[j] * survivor_scale : 0.0f;
        }
    }
}

void ae_dropout_backward(float *delta, const uint8_t *keep, size_t n, float p)
{
    const float survivor_scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++)
        delta[i] = keep[i] ? delta[i] * survivor_scale : 0.0f;
}
