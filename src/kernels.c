/* Elementwise work around the GEMMs: bias and activation in one pass, derivatives from
 * the stored outputs, the output layer fused with the loss, reductions. Each loop has
 * its activation chosen outside it so the compiler sees a simple body. */
#include "internal.h"

#include <math.h>
#include <string.h>

static inline float sigmoid(float z)
{
    /* Never exponentiate a large positive number. */
    if (z >= 0.0f)
        return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

/* log(1 + e) for e in [0, 1], without a library call so the loop stays cheap:
 * log1p(e) = 2 atanh(u) with u = e / (2 + e) in [0, 1/3], a series whose terms shrink
 * ninefold each; eight terms reach float precision. */
static inline float log1p_unit(float e)
{
    float u = e / (2.0f + e), u2 = u * u;
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

static inline float softplus(float z) { return fmaxf(z, 0.0f) + log1pf(expf(-fabsf(z))); }

static inline float activate(float z, int activation, float slope, float alpha)
{
    switch (activation) {
    case AE_ACT_RELU: return z > 0.0f ? z : 0.0f;
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

void ae_bias_activate(float *z, size_t ld, size_t n_rows, size_t n_out, const float *bias,
                      int activation, const ae_settings *settings)
{
    const float slope = settings->leaky_slope, alpha = settings->elu_alpha;
    for (size_t i = 0; i < n_rows; i++) {
        float *row = z + i * ld;
        switch (activation) {
        case AE_ACT_LINEAR:
            for (size_t j = 0; j < n_out; j++)
                row[j] += bias[j];
            break;
        case AE_ACT_RELU:
            for (size_t j = 0; j < n_out; j++)
                {
                    float pre = row[j] + bias[j];
                    row[j] = pre > 0.0f ? pre : 0.0f;
                }
            break;
        default:
            for (size_t j = 0; j < n_out; j++)
                row[j] = activate(row[j] + bias[j], activation, slope, alpha);
            break;
        }
    }
}

void ae_mul_activation_derivative(float *delta, const float *a, size_t n, int activation,
                                  const ae_settings *settings)
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

double ae_output_loss(float *out, size_t ld_out, size_t n_rows, size_t n_out, const float *bias,
                      const float *target, size_t ld_target, int activation, int loss,
                      const ae_settings *settings, float *delta, float grad_scale,
                      double *row_loss)
{
    const float slope = settings->leaky_slope, alpha = settings->elu_alpha;
    double total = 0.0;
    for (size_t i = 0; i < n_rows; i++) {
        float *y = out + i * ld_out;
        const float *t = target + i * ld_target;
        float *d = delta ? delta + i * n_out : NULL;
        double row_sum = 0.0;
        if (loss == AE_LOSS_BCE) {
            /* Sigmoid and cross-entropy together: from the logit z the loss is
             * softplus(z) - t z and its gradient is sigmoid(z) - t, both stable and both
             * built on one exponential e = exp(-|z|). */
            for (size_t j = 0; j < n_out; j++) {
                float z = y[j] + bias[j];
                float e = expf(-fabsf(z));
                float p = (z >= 0.0f ? 1.0f : e) / (1.0f + e);
                /* In double: the difference of two nearly equal terms for large |z|. */
                row_sum += (double)(z > 0.0f ? z : 0.0f) - (double)t[j] * (double)z + (double)log1p_unit(e);
                y[j] = p;
                if (d)
                    d[j] = grad_scale * (p - t[j]);
            }
        } else {
            for (size_t j = 0; j < n_out; j++) {
                float a = activate(y[j] + bias[j], activation, slope, alpha);
                float diff = a - t[j];
                row_sum += (double)diff * (double)diff;
                y[j] = a;
                if (d)
                    d[j] = grad_scale * 2.0f * diff * derivative_from_output(a, activation, slope, alpha);
            }
        }
        if (row_loss)
            row_loss[i] = row_sum;
        total += row_sum;
    }
    return total;
}

void ae_column_sums(const float *m, size_t n_rows, size_t n_cols, float *sums)
{
    memset(sums, 0, n_cols * sizeof *sums);
    for (size_t i = 0; i < n_rows; i++) {
        const float *row = m + i * n_cols;
        for (size_t j = 0; j < n_cols; j++)
            sums[j] += row[j];
    }
}

double ae_sum_squares(const float *v, size_t n)
{
    /* Blocks summed in float across independent lanes (which the compiler vectorises),
     * the block sums in double: accurate to float rounding of a block, and fast. */
    enum { LANES = 16, BLOCK = 1024 };
    double total = 0.0;
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK) {
        float lane[LANES] = {0};
        for (size_t k = 0; k < BLOCK; k += LANES)
            for (size_t j = 0; j < LANES; j++)
                lane[j] += v[i + k + j] * v[i + k + j];
        for (size_t j = 0; j < LANES; j++)
            total += (double)lane[j];
    }
    for (; i < n; i++)
        total += (double)v[i] * (double)v[i];
    return total;
}

void ae_scale(float *v, size_t n, float factor)
{
    for (size_t i = 0; i < n; i++)
        v[i] *= factor;
}
