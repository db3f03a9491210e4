/* The noise of training: input corruption for denoising (Gaussian, masking, salt and
 * pepper) and dropout's keep masks.
 *
 * Each call draws one 64-bit key from the model's generator; element n of the packed
 * n_rows x n_cols matrix (n = i * n_cols + j) then takes 32-bit word n of a SplitMix64
 * stream seeded with that key: word 2m is the low half, word 2m + 1 the high half, of
 * output m = mix(key + (m + 1) * golden). The draws depend on the seed only, not on the
 * vector width or the leading dimensions, and every output is computed independently,
 * so the loops vectorise. SplitMix64 passes BigCrush. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Elements per block: their words and Gaussian values stay on the stack. */
enum { NOISE_BLOCK = 256 };

#define GOLDEN_GAMMA 0x9E3779B97F4A7C15ull

/* 32-bit words [2 * first_output, 2 * (first_output + n_outputs)) of the stream of key. */
static inline void stream_words(uint64_t key, uint64_t first_output, size_t n_outputs,
                                uint32_t *restrict words)
{
    for (size_t k = 0; k < n_outputs; k++) {
        uint64_t z = key + (first_output + k + 1) * GOLDEN_GAMMA;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        words[2 * k] = (uint32_t)z;
        words[2 * k + 1] = (uint32_t)(z >> 32);
    }
}

/* Words [start, start + len) of the stream, returned as a pointer into words (which holds
 * len + 2): they come in pairs from even positions, so an odd start skips one. */
static inline const uint32_t *block_words(uint64_t key, size_t start, size_t len,
                                          uint32_t *restrict words)
{
    const size_t skip = start & 1;
    stream_words(key, start / 2, (len + skip + 1) / 2, words);
    return words + skip;
}

/* A probability p in [0, 1] as a threshold on 31-bit uniforms: (word >> 1) < threshold
 * with probability p (to 2^-31). 31 bits leave the lowest bit free for salt and pepper, and
 * p = 1 (2^31) still fits in 32 bits. */
static uint32_t threshold31(float p)
{
    if (!(p > 0.0f))
        return 0;
    if (p >= 1.0f)
        return UINT32_C(1) << 31;
    return (uint32_t)((double)p * 0x1.0p31 + 0.5);
}

/* A block of elements [start, start + len) of a packed n_cols-wide matrix is applied a row
 * segment at a time: a segment starts at (row, col), takes len elements and begins at
 * offset done within the block. */
typedef struct segment {
    size_t row, col, done, len;
} segment;

static inline segment first_segment(size_t start, size_t len, size_t n_cols)
{
    segment s = {start / n_cols, start % n_cols, 0, n_cols - start % n_cols};
    if (s.len > len)
        s.len = len;
    return s;
}

/* The next segment of a block of len elements, or one of length 0 at the end. */
static inline segment next_segment(segment s, size_t len, size_t n_cols)
{
    s.done += s.len;
    s.row++;
    s.col = 0;
    s.len = len - s.done < n_cols ? len - s.done : n_cols;
    return s;
}

/* One row segment of each kind: dst[t] from src[t] and the block's words or values. */
static inline void add_span(const float *restrict src, const float *restrict noise, size_t n,
                            float level, float *restrict dst)
{
    for (size_t t = 0; t < n; t++)
        dst[t] = src[t] + level * noise[t];
}

static inline void mask_span(const float *restrict src, const uint32_t *restrict words, size_t n,
                             uint32_t threshold, float *restrict dst)
{
    for (size_t t = 0; t < n; t++)
        dst[t] = (words[t] >> 1) < threshold ? 0.0f : src[t];
}

static inline void salt_span(const float *restrict src, const uint32_t *restrict words, size_t n,
                             uint32_t threshold, float *restrict dst)
{
    for (size_t t = 0; t < n; t++)
        dst[t] = (words[t] >> 1) < threshold ? ((words[t] & 1) ? 1.0f : 0.0f) : src[t];
}

/* src may be dst (dropout in place). */
static inline void dropout_span(const float *src, const uint32_t *restrict words, size_t n,
                                uint32_t threshold, float survivor_scale, float *dst)
{
    for (size_t t = 0; t < n; t++) {
        const float scaled = src[t] * survivor_scale; /* unconditional: the loop vectorises */
        dst[t] = (words[t] >> 1) >= threshold ? scaled : 0.0f;
    }
}

/* ---- Gaussian: Box-Muller in float --------------------------------------------------- */

/* log(x) for normal positive x without a library call (so the loop vectorises):
 * x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) from Cephes' logf polynomial in m - 1,
 * e ln 2 added in two parts. Within about 2 ulp. */
static inline float log_positive(float x)
{
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int32_t e = (bits >> 23) - 126;
    bits = (bits & 0x007fffff) | 0x3f000000; /* mantissa in [0.5, 1) */
    float m;
    memcpy(&m, &bits, sizeof m);
    const int32_t below = m < 0.707106781186547524f;
    e -= below;
    m = m + (below ? m : 0.0f) - 1.0f;
    const float z = m * m;
    float p = 7.0376836292e-2f;
    p = p * m - 1.1514610310e-1f;
    p = p * m + 1.1676998740e-1f;
    p = p * m - 1.2420140846e-1f;
    p = p * m + 1.4249322787e-1f;
    p = p * m - 1.6668057665e-1f;
    p = p * m + 2.0000714765e-1f;
    p = p * m - 2.4999993993e-1f;
    p = p * m + 3.3333331174e-1f;
    const float fe = (float)e;
    float y = p * m * z - 2.12194440e-4f * fe - 0.5f * z;
    return (m + y) + 0.693359375f * fe;
}

/* Box-Muller: the pair of normals from one stream output, u1 from its low word and the
 * angle from its high word, 24 bits each. u1 = (k + 1) 2^-24 lies in (0, 1], never 0, so
 * the radius sqrt(-2 log u1) is at most sqrt(48 ln 2) = 5.77: the tails beyond 5.77
 * deviations (a share of 8e-9 of a true normal's values) are cut, which noise does not miss.
 * cos and sin of 2 pi u2 come from a reduction by quadrant on the 24-bit integer itself
 * (exact) and Cephes' sinf/cosf polynomials on |x| <= pi/4 (about 1 ulp). */
static inline void normal_pair(uint32_t low, uint32_t high, float *first, float *second)
{
    const float u1 = (float)((low >> 8) + 1) * 0x1.0p-24f;
    const float radius = sqrtf(-2.0f * log_positive(u1));
    const int32_t angle = (int32_t)(high >> 8);           /* in turns of 2^-24 of 2 pi */
    const int32_t quadrant = (angle + (1 << 21)) >> 22;   /* nearest multiple of pi / 2, 0..4 */
    const int32_t offset = angle - quadrant * (1 << 22);  /* in [-2^21, 2^21) */
    const float x = (float)offset * 3.74507028292392897e-7f; /* pi / 2^23 */
    const float z = x * x;
    const float s = x + x * z * ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f);
    const float c = 1.0f - 0.5f * z +
                    z * z * ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z +
                             4.166664568298827e-2f);
    const int32_t odd = quadrant & 1;
    const float cos_abs = odd ? s : c, sin_abs = odd ? c : s;
    const float cos_sign = ((quadrant + 1) & 2) ? -1.0f : 1.0f;
    const float sin_sign = (quadrant & 2) ? -1.0f : 1.0f;
    *first = radius * (cos_sign * cos_abs);
    *second = radius * (sin_sign * sin_abs);
}

/* Standard normals of the stream's values [start, start + len), returned as a pointer into
 * values (which, like words, holds len + 2): value v is the first (v even) or the second of
 * the pair output v / 2 gives, so an odd start skips one. */
static inline const float *normal_block(uint64_t key, size_t start, size_t len,
                                        uint32_t *restrict words, float *restrict values)
{
    const size_t skip = start & 1, pairs = (len + skip + 1) / 2;
    stream_words(key, start / 2, pairs, words);
    for (size_t k = 0; k < pairs; k++)
        normal_pair(words[2 * k], words[2 * k + 1], &values[2 * k], &values[2 * k + 1]);
    return values + skip;
}

AE_VECTOR_CLONES
static void gaussian_kernel(const float *restrict x, size_t ld_x, size_t n_rows, size_t n_cols,
                            float *restrict out, float level, uint64_t key)
{
    const size_t total = n_rows * n_cols;
    uint32_t words[NOISE_BLOCK + 2];
    float values[NOISE_BLOCK + 2];
    for (size_t start = 0; start < total; start += NOISE_BLOCK) {
        const size_t len = total - start < NOISE_BLOCK ? total - start : NOISE_BLOCK;
        const float *noise = normal_block(key, start, len, words, values);
        for (segment g = first_segment(start, len, n_cols); g.len;
             g = next_segment(g, len, n_cols))
            add_span(x + g.row * ld_x + g.col, noise + g.done, g.len, level,
                     out + g.row * n_cols + g.col);
    }
}

/* Values [first_value, first_value + n) of the key's stream as standard normals. */
AE_VECTOR_CLONES
static void standard_normals_kernel(uint64_t key, size_t first_value, size_t n, float *restrict out)
{
    uint32_t words[NOISE_BLOCK + 2];
    float values[NOISE_BLOCK + 2];
    for (size_t start = 0; start < n; start += NOISE_BLOCK) {
        const size_t len = n - start < NOISE_BLOCK ? n - start : NOISE_BLOCK;
        memcpy(out + start, normal_block(key, first_value + start, len, words, values),
               len * sizeof *out);
    }
}

void ae_standard_normals(uint64_t key, size_t first_value, size_t n, float *out)
{
    standard_normals_kernel(key, first_value, n, out);
}

/* ---- masking and salt and pepper ------------------------------------------------------ */

/* Each value is replaced with probability p (p = 1 replaces all): by 0 (masking) or, with
 * salt, by 0 or 1 equally likely (the word's lowest bit, independent of the 31 bits that
 * decide the hit). */
AE_VECTOR_CLONES
static void replace_kernel(const float *restrict x, size_t ld_x, size_t n_rows, size_t n_cols,
                           float *restrict out, uint32_t threshold, bool salt, uint64_t key)
{
    const size_t total = n_rows * n_cols;
    uint32_t buffer[NOISE_BLOCK + 2];
    for (size_t start = 0; start < total; start += NOISE_BLOCK) {
        const size_t len = total - start < NOISE_BLOCK ? total - start : NOISE_BLOCK;
        const uint32_t *words = block_words(key, start, len, buffer);
        for (segment g = first_segment(start, len, n_cols); g.len;
             g = next_segment(g, len, n_cols)) {
            const float *src = x + g.row * ld_x + g.col;
            float *dst = out + g.row * n_cols + g.col;
            if (salt) /* per segment, not per value: each span stays a plain loop */
                salt_span(src, words + g.done, g.len, threshold, dst);
            else
                mask_span(src, words + g.done, g.len, threshold, dst);
        }
    }
}

void ae_corrupt(const float *x, size_t ld_x, size_t n_rows, size_t n_cols, float *out,
                const ae_settings *settings, ae_rng *rng)
{
    const float level = settings->noise_level;
    const uint64_t key = ae_rng_next(rng);
    switch (settings->noise) {
    case AE_NOISE_GAUSSIAN:
        gaussian_kernel(x, ld_x, n_rows, n_cols, out, level, key);
        break;
    case AE_NOISE_MASKING:
    case AE_NOISE_SALT_AND_PEPPER:
        replace_kernel(x, ld_x, n_rows, n_cols, out, threshold31(level),
                       settings->noise == AE_NOISE_SALT_AND_PEPPER, key);
        break;
    default:
        for (size_t i = 0; i < n_rows; i++)
            memcpy(out + i * n_cols, x + i * ld_x, n_cols * sizeof *out);
        break;
    }
}

/* ---- dropout -------------------------------------------------------------------------- */

/* in and out may be the same buffer (in place, ld_in = n_cols): no restrict on them. Value n
 * draws word first_value + n of the key's stream. */
AE_VECTOR_CLONES
static void dropout_kernel(const float *in, size_t ld_in, size_t n_rows, size_t n_cols,
                           size_t first_value, uint32_t threshold, float survivor_scale,
                           uint64_t key, float *out, uint8_t *keep)
{
    const size_t total = n_rows * n_cols;
    uint32_t buffer[NOISE_BLOCK + 2];
    for (size_t start = 0; start < total; start += NOISE_BLOCK) {
        const size_t len = total - start < NOISE_BLOCK ? total - start : NOISE_BLOCK;
        const uint32_t *drawn = block_words(key, first_value + start, len, buffer);
        for (segment g = first_segment(start, len, n_cols); g.len;
             g = next_segment(g, len, n_cols))
            dropout_span(in + g.row * ld_in + g.col, drawn + g.done, g.len, threshold,
                         survivor_scale, out + g.row * n_cols + g.col);
        if (keep)
            for (size_t t = 0; t < len; t++)
                keep[start + t] = (uint8_t)((drawn[t] >> 1) >= threshold);
    }
}

/* Whether each value survives dropout with probability 1 - p (p < 1). */
void ae_dropout(const float *in, size_t ld_in, size_t n_rows, size_t n_cols, float p,
                uint64_t key, size_t first_value, float *out, uint8_t *keep)
{
    dropout_kernel(in, ld_in, n_rows, n_cols, first_value, threshold31(p), 1.0f / (1.0f - p), key,
                   out, keep);
}

AE_VECTOR_CLONES
static void dropout_backward_kernel(float *delta, const uint8_t *keep, size_t n,
                                    float survivor_scale)
{
    for (size_t i = 0; i < n; i++) {
        const float scaled = delta[i] * survivor_scale;
        delta[i] = keep[i] ? scaled : 0.0f;
    }
}

void ae_dropout_backward(float *delta, const uint8_t *keep, size_t n, float p)
{
    dropout_backward_kernel(delta, keep, n, 1.0f / (1.0f - p));
}
