/* Elementwise work around the GEMMs: the bias rows a product is added to, activations,
 * derivatives from the stored outputs, the output layer fused with the loss, reductions.
 * Each loop has its activation chosen outside it so the compiler sees a simple body. */
#include "internal.h"

#include <math.h>
#include <string.h>

/* exp(x) for x <= 0 in plain arithmetic, so loops that use it vectorise (a call to expf
 * stops that): exp(x) = 2^n exp(r) with n = round(x / ln 2) and |r| <= ln(2) / 2, a
 * degree-7 Taylor polynomial for exp(r) (error below 1e-8 relative), and 2^n built in the
 * exponent bits. Inputs below -87 give exp(-87) ~ 1.6e-38, the edge of the normal range. */
static inline float exp_nonpositive(float x)
{
    /* NaN takes the clamped path too (its integer conversion would be undefined) and comes
     * back as NaN at the end, so that an overflow upstream is never hidden. */
    const float clamped = x > -87.0f ? x : -87.0f;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (clamped * 1.44269504088896341f + round_magic) - round_magic;
    float r = (clamped - n * 0.693145751953125f) - n * 1.42860682030941723e-6f; /* ln 2 in two parts */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x == x ? p * scale : x;
}

/* log(1 + e) for e in [0, 1], without a library call so the loop stays cheap:
 * log1p(e) = 2 atanh(u) with u = e / (2 + e) in [0, 1/3], a series whose terms shrink
 * ninefold each; eight terms reach float precision. */
static inline float log1p_unit(float e)
{
    float u = e / (2.0f + e);
    /* Squaring at least 2^-30 keeps u^2 and its products clear of subnormals, whose microcode
     * assists cost about a hundred cycles each: every saturated logit (|z| > 44) paid them,
     * a 4.4x slower loss. No bit changes: for every float u below 2^-13 the series is exactly
     * 1 either way (checked exhaustively). */
    const float squared_base = u > 0x1p-30f ? u : 0x1p-30f;
    const float u2 = squared_base * squared_base;
    float series = 1.0f / 15.0f;
    series = series * u2 + 1.0f / 13.0f;
    series = series * u2 + 1.0f / 11.0f;
    series = series * u2 + 1.0f / 9.0f;
    series = series * u2 + 1.0f / 7.0f;
    series = series * u2 + 1.0f / 5.0f;
    series = series * u2 + 1.0f / 3.0f;
    series = series * u2 + 1.0f;
    return 2.0f * u * series;
}

/* Sigmoid from e = exp(-|z|): never exponentiates a large positive number. */
static inline float sigmoid_from(float z, float e) { return (z >= 0.0f ? 1.0f : e) / (1.0f + e); }

static inline float sigmoid(float z) { return sigmoid_from(z, exp_nonpositive(-fabsf(z))); }

static inline float softplus(float z)
{
    return (z > 0.0f ? z : 0.0f) + log1p_unit(exp_nonpositive(-fabsf(z)));
}

static inline float activate(float z, int activation, float slope, float alpha)
{
    switch (activation) {
    case AE_ACT_RELU: return z < 0.0f ? 0.0f : z; /* NaN stays NaN, as in torch.relu */
    case AE_ACT_LEAKY_RELU: return z > 0.0f ? z : slope * z;
    case AE_ACT_ELU: return z > 0.0f ? z : alpha * expm1f(z);
    case AE_ACT_SIGMOID: return sigmoid(z);
    case AE_ACT_TANH: return tanhf(z);
    case AE_ACT_SOFTPLUS: return softplus(z);
    default: return z;
    }
}

/* f'(z) written in terms of a = f(z), so only outputs need to be kept. */
static inline float derivative_from_output(float a, int activation, float slope, float alpha)
{
    switch (activation) {
    case AE_ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;
    case AE_ACT_LEAKY_RELU: return a > 0.0f ? 1.0f : slope;
    case AE_ACT_ELU: return a > 0.0f ? 1.0f : a + alpha;
    case AE_ACT_SIGMOID: return a * (1.0f - a);
    case AE_ACT_TANH: return 1.0f - a * a;
    case AE_ACT_SOFTPLUS: return -expm1f(-a); /* sigmoid(z) = 1 - exp(-softplus(z)) */
    default: return 1.0f;
    }
}

/* f''(z), also in terms of a = f(z); 0 for the piecewise-linear activations. */
static inline float second_derivative_from_output(float a, float d1, int activation, float alpha)
{
    switch (activation) {
    case AE_ACT_ELU: return a > 0.0f ? 0.0f : a + alpha;
    case AE_ACT_SIGMOID: return d1 * (1.0f - 2.0f * a);
    case AE_ACT_TANH: return -2.0f * a * d1;
    case AE_ACT_SOFTPLUS: return d1 * (1.0f - d1);
    default: return 0.0f;
    }
}

/* v[k] = act(v[k]) over one span: a row, or a block of rows stored back to back. Inlined
 * into each kernel so that every loop is vectorised for the kernel's clone. */
static inline void activate_span(float *restrict v, size_t len, int activation, float slope,
                                 float alpha)
{
    switch (activation) {
    case AE_ACT_LINEAR:
        break;
    case AE_ACT_SIGMOID:
        for (size_t k = 0; k < len; k++)
            v[k] = sigmoid(v[k]);
        break;
    case AE_ACT_RELU:
        for (size_t k = 0; k < len; k++)
            v[k] = v[k] < 0.0f ? 0.0f : v[k]; /* NaN stays NaN */
        break;
    default:
        for (size_t k = 0; k < len; k++)
            v[k] = activate(v[k], activation, slope, alpha);
        break;
    }
}

/* Rows stored back to back are one span: a row of 30 (or 4) values otherwise gets a vector
 * loop whose tail runs element by element, per row. */
AE_VECTOR_CLONES
static void activate_kernel(float *z, size_t ld, size_t n_rows, size_t n_out, int activation,
                            const ae_settings *settings)
{
    if (ld == n_out) {
        n_out *= n_rows;
        n_rows = 1;
    }
    for (size_t i = 0; i < n_rows; i++)
        activate_span(z + i * ld, n_out, activation, settings->leaky_slope, settings->elu_alpha);
}

/* The clones are static: an exported target_clones dispatcher would leak out of the
 * library whatever its visibility. */
void ae_activate(float *z, size_t ld, size_t n_rows, size_t n_out, int activation,
                 const ae_settings *settings)
{
    if (activation != AE_ACT_LINEAR)
        activate_kernel(z, ld, n_rows, n_out, activation, settings);
}

/* Rows [i0, i1) x columns [j0, j1) of in, transposed into out, element by element, in
 * blocks of 16 x 16: a block's reads and writes both stay in a few cache lines. */
static void transpose_scalar(const float *restrict in, size_t rows, size_t cols, float *restrict out,
                             size_t i0, size_t i1, size_t j0, size_t j1)
{
    enum { BLOCK = 16 };
    for (size_t bi = i0; bi < i1; bi += BLOCK)
        for (size_t bj = j0; bj < j1; bj += BLOCK) {
            const size_t ei = i1 - bi < BLOCK ? i1 : bi + BLOCK, ej = j1 - bj < BLOCK ? j1 : bj + BLOCK;
            for (size_t j = bj; j < ej; j++)
                for (size_t i = bi; i < ei; i++)
                    out[j * rows + i] = in[i * cols + j];
        }
}

#if defined(AE_VECTOR_TRANSPOSE)
#include <immintrin.h>

/* Blocks of 8 x 8 transposed in AVX registers. Rows k and k + 4 of a block are loaded into
 * the two 128-bit halves of one register (four columns each), so that interleaving them in
 * pairs and in fours, which works within the halves, leaves whole columns to store: no
 * shuffle across the halves. The element by element copy costs a load and a store per value
 * (1.9 us a pass for 64-32-8's 4,608 weights, 7% of its step at 64 rows); this, two
 * shuffles per eight values, all on one execution port (loading the halves rather than
 * swapping them in registers, as the first version did, took 1.5-1.96x less time for 24 x 48
 * to 50 x 100 weights). Only copies: the values are the same bits. */
__attribute__((target("avx"))) static void transpose_avx(const float *restrict in, size_t rows,
                                                          size_t cols, float *restrict out)
{
    const size_t rows8 = rows - rows % 8, cols8 = cols - cols % 8;
    for (size_t i = 0; i < rows8; i += 8)
        for (size_t j = 0; j < cols8; j += 8) {
            const float *a = in + i * cols + j;
            __m256 r[8], t[8]; /* r[k]: rows k and k + 4, columns 0-3; r[k + 4]: columns 4-7 */
            for (int k = 0; k < 4; k++)
                for (int half = 0; half < 2; half++)
                    r[k + 4 * half] = _mm256_insertf128_ps(
                        _mm256_castps128_ps256(_mm_loadu_ps(a + (size_t)k * cols + 4 * half)),
                        _mm_loadu_ps(a + (size_t)(k + 4) * cols + 4 * half), 1);
            for (int k = 0; k < 8; k += 2) {
                t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
                t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
            }
            float *b = out + j * rows + i;
            for (int c = 0; c < 8; c += 4) { /* columns c .. c + 3 of the block */
                _mm256_storeu_ps(b + (size_t)c * rows, _mm256_shuffle_ps(t[c], t[c + 2], _MM_SHUFFLE(1, 0, 1, 0)));
                _mm256_storeu_ps(b + (size_t)(c + 1) * rows, _mm256_shuffle_ps(t[c], t[c + 2], _MM_SHUFFLE(3, 2, 3, 2)));
                _mm256_storeu_ps(b + (size_t)(c + 2) * rows, _mm256_shuffle_ps(t[c + 1], t[c + 3], _MM_SHUFFLE(1, 0, 1, 0)));
                _mm256_storeu_ps(b + (size_t)(c + 3) * rows, _mm256_shuffle_ps(t[c + 1], t[c + 3], _MM_SHUFFLE(3, 2, 3, 2)));
            }
        }
    transpose_scalar(in, rows, cols, out, 0, rows8, cols8, cols); /* the columns left over */
    transpose_scalar(in, rows, cols, out, rows8, rows, 0, cols);  /* the rows left over */
}
#endif

void ae_transpose(const float *restrict in, size_t rows, size_t cols, float *restrict out)
{
#if defined(AE_VECTOR_TRANSPOSE)
    if (__builtin_cpu_supports("avx")) {
        transpose_avx(in, rows, cols, out);
        return;
    }
#endif
    transpose_scalar(in, rows, cols, out, 0, rows, 0, cols);
}

/* The block of rows that ae_fill_rows copies on: well inside any first-level data cache. */
#define AE_FILL_BLOCK_BYTES 4096

/* Every row of out (n_rows x width, leading dimension ld) set to row: the first row copied,
 * then, when rows are back to back, the rows filled so far copied after them. */
void ae_fill_rows(float *out, size_t ld, size_t n_rows, const float *row, size_t width)
{
    if (n_rows == 0)
        return;
    memcpy(out, row, width * sizeof *row);
    if (ld != width) {
        for (size_t i = 1; i < n_rows; i++)
            memcpy(out + i * ld, row, width * sizeof *row);
        return;
    }
    /* Rows back to back: the filled rows double until they make a block that stays in the
     * first-level cache, then that block is copied on, so that every copy reads from that
     * cache and only the writes go further. */
    const size_t row_bytes = width * sizeof *out;
    const size_t block_rows = row_bytes < AE_FILL_BLOCK_BYTES ? AE_FILL_BLOCK_BYTES / row_bytes : 1;
    size_t done = 1;
    while (done < n_rows && done < block_rows) {
        const size_t more = n_rows - done < done ? n_rows - done : done;
        memcpy(out + done * width, out, more * row_bytes);
        done += more;
    }
    const size_t block = done;
    for (; done < n_rows; done += block)
        memcpy(out + done * width, out, (n_rows - done < block ? n_rows - done : block) * row_bytes);
}

AE_VECTOR_CLONES
static void mul_activation_derivative_kernel(float *delta, const float *a, size_t n,
                                             int activation, const ae_settings *settings)
{
    const float slope = settings->leaky_slope, alpha = settings->elu_alpha;
    switch (activation) {
    case AE_ACT_LINEAR:
        break;
    case AE_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            delta[i] = a[i] > 0.0f ? delta[i] : 0.0f;
        break;
    default:
        for (size_t i = 0; i < n; i++)
            delta[i] *= derivative_from_output(a[i], activation, slope, alpha);
        break;
    }
}

void ae_mul_activation_derivative(float *delta, const float *a, size_t n, int activation,
                                  const ae_settings *settings)
{
    mul_activation_derivative_kernel(delta, a, n, activation, settings);
}

/* Lanes of partial sums: independent accumulators the compiler can vectorise. */
enum { LOSS_LANES = 16 };

/* Binary cross-entropy fused with the sigmoid. From the logit z the loss is
 * softplus(z) - t z and its gradient is sigmoid(z) - t: both stable, both built on one
 * exponential e = exp(-|z|). The loss is summed as max(z, 0) - t z + log1p(e) so that
 * for large |z| the small term is not lost in a difference of nearly equal numbers. */
static inline float bce_loss_term(float z, float t, float e)
{
    return ((z > 0.0f ? z : 0.0f) - t * z) + log1p_unit(e);
}

/* Element j's output (and gradient, with_gradients) from its logit y[j], keeping z and e
 * for its loss term. with_gradients is a constant at each call, so that the inlined loop
 * has no branch (a test of d itself would stay in the loop wherever d is an offset from a
 * pointer not known to be non-null, and stop its vectorisation). */
static inline void bce_output(float *restrict y, const float *restrict t, bool with_gradients,
                              float *restrict d, float grad_scale, size_t j,
                              float *restrict z_kept, float *restrict e_kept)
{
    const float z = y[j];
    const float e = exp_nonpositive(-fabsf(z));
    const float p = sigmoid_from(z, e);
    y[j] = p;
    if (with_gradients)
        d[j] = grad_scale * (p - t[j]);
    *z_kept = z;
    *e_kept = e;
}

static inline float bce_element(float *y, const float *t, float *d, float grad_scale, size_t j)
{
    float z, e;
    bce_output(y, t, d != NULL, d, grad_scale, j, &z, &e);
    return bce_loss_term(z, t[j], e);
}

/* bce_element in two passes over a group of chunks of LOSS_LANES values: the outputs and
 * gradients first (bce_chunk_outputs), keeping z and e, then the loss terms into the lanes,
 * chunk by chunk in order. Each pass's loop body is half the element's chain of dependent
 * operations, so the processor overlaps more chunks: 15-19% faster on the same arithmetic,
 * bit for bit. */
enum { BCE_GROUP = 8 * LOSS_LANES };

static inline void bce_chunk_outputs(float *restrict y, const float *restrict t,
                                     bool with_gradients, float *restrict d, float grad_scale,
                                     float *restrict z_kept, float *restrict e_kept)
{
    for (size_t k = 0; k < LOSS_LANES; k++)
        bce_output(y, t, with_gradients, d, grad_scale, k, z_kept + k, e_kept + k);
}

static inline float mse_element(float *y, const float *t, float *d, float grad_scale, size_t j,
                                int activation, float slope, float alpha)
{
    float a = activate(y[j], activation, slope, alpha);
    float diff = a - t[j];
    y[j] = a;
    if (d)
        d[j] = grad_scale * 2.0f * diff * derivative_from_output(a, activation, slope, alpha);
    return diff * diff;
}

/* The last n_tail (< LOSS_LANES) values through one full chunk on zero-padded copies, so that
 * the tail is vectorised too. Each element's arithmetic is bce_element's; returns the tail's
 * loss summed in double, element by element. */
static inline double bce_tail(float *y, const float *t, float *d, float grad_scale, size_t n_tail)
{
    float tail_y[LOSS_LANES] = {0}, tail_t[LOSS_LANES] = {0}, tail_d[LOSS_LANES], tail_loss[LOSS_LANES];
    memcpy(tail_y, y, n_tail * sizeof *y);
    memcpy(tail_t, t, n_tail * sizeof *t);
    for (size_t k = 0; k < LOSS_LANES; k++)
        tail_loss[k] = bce_element(tail_y, tail_t, tail_d, grad_scale, k);
    memcpy(y, tail_y, n_tail * sizeof *y);
    if (d)
        memcpy(d, tail_d, n_tail * sizeof *d);
    double sum = 0.0;
    for (size_t k = 0; k < n_tail; k++)
        sum += (double)tail_loss[k];
    return sum;
}

/* BCE (and its gradient into d, unless NULL) over n values stored back to back: a row, or
 * narrow rows as one span (a 30-wide row otherwise costs a call and a partial chunk per
 * row). Element k of a chunk goes into lane k, in double because a span may run over a whole
 * batch; the tail (14 of a 30-wide row) goes through one more chunk on padded copies, so
 * that it is vectorised too. The pointers never overlap (restrict): without that promise
 * the compiler must assume the stores to y and d may change t. */
AE_VECTOR_CLONES
static double bce_span(float *restrict y, const float *restrict t, float *restrict d,
                       float grad_scale, size_t n)
{
    double lane[LOSS_LANES] = {0};
    const size_t full = n - n % LOSS_LANES, n_tail = n - full;
    float z_kept[BCE_GROUP], e_kept[BCE_GROUP];
    for (size_t g = 0; g < full; g += BCE_GROUP) {
        const size_t len = full - g < BCE_GROUP ? full - g : BCE_GROUP;
        if (d) /* two loops, so that each inlined copy knows whether there are gradients */
            for (size_t j = 0; j < len; j += LOSS_LANES)
                bce_chunk_outputs(y + g + j, t + g + j, true, d + g + j, grad_scale, z_kept + j,
                                  e_kept + j);
        else
            for (size_t j = 0; j < len; j += LOSS_LANES)
                bce_chunk_outputs(y + g + j, t + g + j, false, NULL, grad_scale, z_kept + j,
                                  e_kept + j);
        for (size_t j = 0; j < len; j += LOSS_LANES)
            for (size_t k = 0; k < LOSS_LANES; k++)
                lane[k] += (double)bce_loss_term(z_kept[j + k], t[g + j + k], e_kept[j + k]);
    }
    double sum = 0.0;
    if (n_tail)
        sum += bce_tail(y + full, t + full, d ? d + full : NULL, grad_scale, n_tail);
    for (size_t k = 0; k < LOSS_LANES; k++)
        sum += lane[k];
    return sum;
}

AE_VECTOR_CLONES
static double mse_row(float *y, const float *t, float *d, float grad_scale, size_t n,
                      int activation, float slope, float alpha)
{
    float lane[LOSS_LANES] = {0};
    size_t j = 0;
    for (; j + LOSS_LANES <= n; j += LOSS_LANES)
        for (size_t k = 0; k < LOSS_LANES; k++)
            lane[k] += mse_element(y, t, d, grad_scale, j + k, activation, slope, alpha);
    double sum = 0.0;
    for (; j < n; j++)
        sum += (double)mse_element(y, t, d, grad_scale, j, activation, slope, alpha);
    for (size_t k = 0; k < LOSS_LANES; k++)
        sum += (double)lane[k];
    return sum;
}

double ae_output_loss(float *out, size_t ld_out, size_t n_rows, size_t n_out, const float *target,
                      size_t ld_target, int activation, int loss, const ae_settings *settings,
                      float *delta, float grad_scale, double *row_loss)
{
    /* Rows stored back to back, with one sum for all: one span, not a loop of rows. */
    if (loss == AE_LOSS_BCE && !row_loss && ld_out == n_out && ld_target == n_out)
        return bce_span(out, target, delta, grad_scale, n_rows * n_out);
    double total = 0.0;
    for (size_t i = 0; i < n_rows; i++) {
        float *y = out + i * ld_out;
        const float *t = target + i * ld_target;
        float *d = delta ? delta + i * ld_out : NULL;
        double row_sum = loss == AE_LOSS_BCE
                             ? bce_span(y, t, d, grad_scale, n_out)
                             : mse_row(y, t, d, grad_scale, n_out, activation,
                                       settings->leaky_slope, settings->elu_alpha);
        if (row_loss)
            row_loss[i] = row_sum;
        total += row_sum;
    }
    return total;
}

AE_VECTOR_CLONES
static void output_element_losses_kernel(float *out, size_t ld_out, size_t n_rows,
                                         size_t n_out, const float *target,
                                         size_t ld_target, int activation, int loss,
                                         const ae_settings *settings, float *losses,
                                         size_t ld_losses)
{
    const float slope = settings->leaky_slope, alpha = settings->elu_alpha;
    for (size_t i = 0; i < n_rows; i++) {
        float *y = out + i * ld_out;
        const float *t = target + i * ld_target;
        float *e = losses + i * ld_losses;
        if (loss == AE_LOSS_BCE)
            for (size_t j = 0; j < n_out; j++)
                e[j] = bce_element(y, t, NULL, 0.0f, j);
        else
            for (size_t j = 0; j < n_out; j++)
                e[j] = mse_element(y, t, NULL, 0.0f, j, activation, slope, alpha);
    }
}

void ae_output_element_losses(float *out, size_t ld_out, size_t n_rows, size_t n_out,
                              const float *target, size_t ld_target, int activation, int loss,
                              const ae_settings *settings, float *losses, size_t ld_losses)
{
    output_element_losses_kernel(out, ld_out, n_rows, n_out, target, ld_target, activation,
                                 loss, settings, losses, ld_losses);
}

/* Columns per block of the column sums: their double accumulators stay on the stack. */
enum { COLUMN_BLOCK = 256 };

/* Column sums accumulated in double (a float running sum over thousands of rows loses
 * digits as the sum grows: the bias gradients would drift from torch's at large batches),
 * a block of columns at a time so the accumulators fit on the stack. */
AE_VECTOR_CLONES
static void column_sums_kernel(const float *m, size_t n_rows, size_t n_cols, float *sums, bool add)
{
    for (size_t first = 0; first < n_cols; first += COLUMN_BLOCK) {
        const size_t width = n_cols - first < COLUMN_BLOCK ? n_cols - first : COLUMN_BLOCK;
        double acc[COLUMN_BLOCK];
        memset(acc, 0, width * sizeof *acc); /* not all 2 KiB for a narrower layer */
        for (size_t i = 0; i < n_rows; i++) {
            const float *row = m + i * n_cols + first;
            for (size_t j = 0; j < width; j++)
                acc[j] += (double)row[j];
        }
        for (size_t j = 0; j < width; j++)
            sums[first + j] = add ? sums[first + j] + (float)acc[j] : (float)acc[j];
    }
}

/* Column sums of narrow rows stored back to back work on a block cut into periods, each a
 * whole number of rows and of vectors of BLOCK_LANES values, so that every value's column
 * repeats from one period to the next. */
enum { BLOCK_LANES = 16, BLOCK_MAX_WIDTH = 128, BLOCK_MIN_PERIOD = 64 };

static size_t greatest_common_divisor(size_t a, size_t b)
{
    while (b) {
        size_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* The period of a block of rows `width` wide, or 0 if the row loop is as good: rows that
 * are not back to back, too wide for the accumulators, or a block shorter than a few
 * periods. A period holds at least BLOCK_MIN_PERIOD values: a row's accumulators are
 * otherwise added to again before the previous row's sums have left them (4-wide rows took
 * 2.7x as long per value, 16-wide rows 1.5x). */
static size_t block_period(size_t ld, size_t n_rows, size_t width)
{
    /* A period is at least as wide as a row: fewer than 4 rows never make 4 periods (and a
     * single row, as in serving, skips the divisions below). */
    if (n_rows < 4 || ld != width || width > BLOCK_MAX_WIDTH)
        return 0;
    size_t period = width / greatest_common_divisor(width, BLOCK_LANES) * BLOCK_LANES;
    while (period < BLOCK_MIN_PERIOD)
        period *= 2;
    return n_rows * width >= 4 * period ? period : 0;
}

/* Column sums of narrow rows as one block: a double accumulator per value of a period,
 * each column's accumulators added in order at the end. The same double accumulation as the
 * row loop, grouped differently (a few rows apart), so the float sums differ at most in a
 * rounding of the double. */
AE_VECTOR_CLONES
static void column_sums_block_kernel(const float *restrict m, size_t n, size_t period, size_t n_cols,
                                     float *restrict sums, bool add)
{
    double acc[BLOCK_MAX_WIDTH * BLOCK_LANES];
    memset(acc, 0, period * sizeof *acc);
    size_t start = 0;
    for (; start + period <= n; start += period)
        for (size_t k = 0; k < period; k++)
            acc[k] += (double)m[start + k];
    for (size_t k = 0; k < n - start; k++)
        acc[k] += (double)m[start + k];
    for (size_t j = 0; j < n_cols; j++) {
        double sum = 0.0;
        for (size_t k = j; k < period; k += n_cols)
            sum += acc[k];
        sums[j] = add ? sums[j] + (float)sum : (float)sum;
    }
}

void ae_column_sums(const float *m, size_t n_rows, size_t n_cols, float *sums, bool add)
{
    if (n_rows == 1) { /* a float through a double and back is itself: the sums are the row */
        if (add)
            ae_add(sums, m, n_cols);
        else
            memcpy(sums, m, n_cols * sizeof *sums);
        return;
    }
    const size_t period = block_period(n_cols, n_rows, n_cols);
    if (period)
        column_sums_block_kernel(m, n_rows * n_cols, period, n_cols, sums, add);
    else
        column_sums_kernel(m, n_rows, n_cols, sums, add);
}

AE_VECTOR_CLONES
static double sum_squares_kernel(const float *v, size_t n)
{
    /* Squares in double (a float square overflows above 1.8e19) across independent lanes,
     * which the compiler vectorises; the lanes are added in a fixed order. */
    enum { LANES = 16 };
    double lane[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (size_t j = 0; j < LANES; j++)
            lane[j] += (double)v[i + j] * (double)v[i + j];
    double total = 0.0;
    for (; i < n; i++)
        total += (double)v[i] * (double)v[i];
    for (size_t j = 0; j < LANES; j++)
        total += lane[j];
    return total;
}

double ae_sum_squares(const float *v, size_t n)
{
    return sum_squares_kernel(v, n);
}

void ae_scale(float *v, size_t n, float factor)
{
    for (size_t i = 0; i < n; i++)
        v[i] *= factor;
}

void ae_add(float *restrict dst, const float *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

void ae_clamp_log_variance(float *stats, size_t n_rows, size_t k)
{
    for (size_t i = 0; i < n_rows; i++) {
        float *log_var = stats + i * 2 * k + k;
        for (size_t j = 0; j < k; j++) {
            float v = log_var[j];
            log_var[j] = v < AE_LOG_VARIANCE_MIN ? AE_LOG_VARIANCE_MIN
                         : v > AE_LOG_VARIANCE_MAX ? AE_LOG_VARIANCE_MAX : v;
        }
    }
}

/* ---- scaling ---------------------------------------------------------------------- */

void ae_scale_rows(const float *x, size_t ld_x, size_t n_rows, size_t n_cols,
                   const float *offset, const float *scale, float *out, size_t ld_out)
{
    for (size_t i = 0; i < n_rows; i++)
        for (size_t j = 0; j < n_cols; j++)
            out[i * ld_out + j] = (x[i * ld_x + j] - offset[j]) / scale[j];
}

void ae_unscale_rows(float *y, size_t ld_y, size_t n_rows, size_t n_cols, const float *offset,
                     const float *scale)
{
    for (size_t i = 0; i < n_rows; i++)
        for (size_t j = 0; j < n_cols; j++)
            y[i * ld_y + j] = y[i * ld_y + j] * scale[j] + offset[j];
}

/* ---- contractive penalty ------------------------------------------------------------ */

double ae_contractive_columns(const float *a, size_t n_rows, size_t n_cols, int activation,
                              const ae_settings *settings, const float *row_norms, float *sums)
{
    double total = 0.0;
    for (size_t j = 0; j < n_cols; j++)
        sums[j] = 0.0f;
    for (size_t i = 0; i < n_rows; i++) {
        const float *row = a + i * n_cols;
        for (size_t j = 0; j < n_cols; j++) {
            float d1 = derivative_from_output(row[j], activation, settings->leaky_slope,
                                              settings->elu_alpha);
            sums[j] += d1 * d1;
        }
    }
    for (size_t j = 0; j < n_cols; j++)
        total += (double)sums[j] * (double)row_norms[j];
    return total;
}

void ae_contractive_delta(float *delta, const float *a, size_t n_rows, size_t n_cols,
                          int activation, const ae_settings *settings, const float *coefficients)
{
    for (size_t i = 0; i < n_rows; i++) {
        for (size_t j = 0; j < n_cols; j++) {
            float v = a[i * n_cols + j];
            float d1 = derivative_from_output(v, activation, settings->leaky_slope,
                                              settings->elu_alpha);
            float d2 = second_derivative_from_output(v, d1, activation, settings->elu_alpha);
            delta[i * n_cols + j] += coefficients[j] * 2.0f * d1 * d2;
        }
    }
}

/* ---- input validation ----------------------------------------------------------------- */

/* Both scans only say yes or no (the caller finds the offending value itself), through an OR
 * of integer flags (see ae_nonfinite_flag): the plain loop vectorises, tail included. */
AE_VECTOR_CLONES
static bool all_finite_kernel(const float *v, size_t n)
{
    uint32_t special = 0;
    for (size_t i = 0; i < n; i++)
        special |= ae_nonfinite_flag(v[i]);
    return (special & AE_NONFINITE_BIT) == 0;
}

bool ae_all_finite(const float *v, size_t n) { return all_finite_kernel(v, n); }

size_t ae_first_nonfinite_row(const float *v, size_t ld, size_t n_rows, size_t n_cols)
{
    /* Rows back to back are scanned in one call first: a call per narrow row costs more than
     * its scan (a fifth of a 30-16-4 encode at 256 rows under the SkylakeX kernels). */
    if (ld == n_cols && all_finite_kernel(v, n_rows * n_cols))
        return n_rows;
    for (size_t i = 0; i < n_rows; i++)
        if (!all_finite_kernel(v + i * ld, n_cols))
            return i;
    return n_rows;
}

AE_VECTOR_CLONES
static bool in_unit_range_kernel(const float *v, size_t n, const float *offset, const float *scale)
{
    /* negated comparisons, which a NaN fails as well */
    unsigned outside = 0;
    if (offset)
        for (size_t i = 0; i < n; i++) {
            float x = (v[i] - offset[i]) / scale[i];
            outside |= (unsigned)!(x >= 0.0f) | (unsigned)!(x <= 1.0f);
        }
    else
        for (size_t i = 0; i < n; i++)
            outside |= (unsigned)!(v[i] >= 0.0f) | (unsigned)!(v[i] <= 1.0f);
    return outside == 0;
}

bool ae_in_unit_range(const float *v, size_t n, const float *offset, const float *scale)
{
    return in_unit_range_kernel(v, n, offset, scale);
}

AE_VECTOR_CLONES
static void outer_product_kernel(const float *u, size_t n_u, const float *v, size_t n_v, float *out,
                                 size_t ld_out, bool accumulate)
{
    for (size_t i = 0; i < n_u; i++) {
        float *row = out + i * ld_out;
        const float ui = u[i];
        if (accumulate)
            for (size_t j = 0; j < n_v; j++)
                row[j] += ui * v[j];
        else
            for (size_t j = 0; j < n_v; j++)
                row[j] = ui * v[j];
    }
}

void ae_outer_product(const float *u, size_t n_u, const float *v, size_t n_v, float *out, size_t ld_out,
                      bool accumulate)
{
    outer_product_kernel(u, n_u, v, n_v, out, ld_out, accumulate);
}
