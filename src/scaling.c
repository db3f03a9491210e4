/* Per-feature scaling kept in the model (AE_PARAM_SCALING): fitting it from data, applying
 * it to inputs, and the public calls to fit, read and set it. */
#include "internal.h"

#include <math.h>
#include <string.h>

static const char *scaling_name(int kind)
{
    return kind == AE_SCALING_MINMAX ? "min-max" : kind == AE_SCALING_STANDARDIZE ? "standardising" : "no";
}

int ae_check_scaling_fitted(ae_model *err_model, const ae_model *m)
{
    AE_CHECK(m->settings.scaling == AE_SCALING_NONE || m->scaling != NULL, err_model, AE_ERR_STATE,
             "the model's %s scaling is not fitted yet: call ae_model_fit() or "
             "ae_model_fit_scaling() first",
             scaling_name(m->settings.scaling));
    return AE_OK;
}

/* The scale of a feature whose spread (range or standard deviation) is `spread`: 1 for a
 * constant feature, at least min_scale otherwise. */
static float floored_scale(float spread, double min_scale)
{
    if (!(spread > 0.0f))
        return 1.0f;
    return (double)spread < min_scale ? (float)min_scale : spread;
}

/* Offsets and scales of every column from statistics accumulated in double and, in a
 * distributed fit, combined across participants (min-max: the extremes; standardising: the
 * count and sums, then the squared deviations from the global mean). `work` holds 2d + 1
 * doubles. AE_ERR_INPUT_RANGE names a column whose range overflows a float. */
static int compute_scaling(ae_model *m, const float *x, size_t n_rows, size_t ld_x, float *offset,
                           float *scale, double *work)
{
    const size_t d = ae_input_dim(m);
    const double min_scale = m->settings.scaling_min_scale;
    if (m->settings.scaling == AE_SCALING_MINMAX) {
        double *high = work, *neg_low = work + d;
        for (size_t j = 0; j < d; j++) {
            float low = x[j], top = x[j];
            for (size_t i = 0; i < n_rows; i++) {
                float v = x[i * ld_x + j];
                low = v < low ? v : low;
                top = v > top ? v : top;
            }
            high[j] = top;
            neg_low[j] = -(double)low;
        }
        AE_FORWARD(ae_hooks_reduce(m, work, 2 * d, AE_REDUCE_MAX));
        for (size_t j = 0; j < d; j++) {
            /* A float difference, so that (max - min) / scale is exactly 1. */
            offset[j] = (float)-neg_low[j];
            scale[j] = floored_scale((float)high[j] - offset[j], min_scale);
        }
    } else {
        double *sums = work, *count = work + d;
        for (size_t j = 0; j < d; j++) {
            double sum = 0.0;
            for (size_t i = 0; i < n_rows; i++)
                sum += x[i * ld_x + j];
            sums[j] = sum;
        }
        *count = (double)n_rows;
        AE_FORWARD(ae_hooks_reduce(m, work, d + 1, AE_REDUCE_SUM));
        const double n = *count;
        double *squares = work + d + 1;
        for (size_t j = 0; j < d; j++) {
            const double mean = sums[j] / n;
            double total = 0.0;
            for (size_t i = 0; i < n_rows; i++) {
                double dev = (double)x[i * ld_x + j] - mean;
                total += dev * dev;
            }
            squares[j] = total;
            offset[j] = (float)mean;
        }
        AE_FORWARD(ae_hooks_reduce(m, squares, d, AE_REDUCE_SUM));
        for (size_t j = 0; j < d; j++)
            scale[j] = floored_scale((float)sqrt(squares[j] / n), min_scale);
    }
    for (size_t j = 0; j < d; j++)
        AE_CHECK(isfinite(scale[j]), NULL, AE_ERR_INPUT_RANGE,
                 "column %zu spans more than a float can hold; it cannot be scaled", j);
    return AE_OK;
}

/* The model's scaling buffer (input_dim offsets, then as many scales), allocated on first
 * use; NULL if memory runs out (the model keeps what it had). */
static float *scaling_buffer(ae_model *m)
{
    if (!m->scaling)
        m->scaling = ae_alloc_floats(2 * ae_input_dim(m));
    return m->scaling;
}

int ae_scaling_fit(ae_model *m, const float *x, size_t n_rows, size_t ld_x)
{
    const size_t d = ae_input_dim(m);
    /* Computed aside, so that a refused fit leaves a fitted scaling as it was. */
    float *fitted = ae_alloc_floats(2 * d);
    double *work = ae_calloc(2 * d + 1, sizeof(double));
    int status = fitted && work ? AE_OK
                                : ae_fail(NULL, AE_ERR_OUT_OF_MEMORY, "out of memory for the scaling");
    status = ae_hooks_agree(m, status);
    if (status == AE_OK)
        status = compute_scaling(m, x, n_rows, ld_x, fitted, fitted + d, work);
    ae_free(work);
    if (status != AE_OK) {
        ae_free(fitted);
        return ae_fail_on_model(m, status);
    }
    ae_free(m->scaling);
    m->scaling = fitted;
    return AE_OK;
}

void ae_scaling_apply(const ae_model *m, const float *x, size_t ld_x, size_t n_rows, float *out,
                      size_t ld_out)
{
    const size_t d = ae_input_dim(m);
    if (m->scaling) {
        ae_scale_rows(x, ld_x, n_rows, d, ae_scaling_offsets(m), ae_scaling_scales(m), out, ld_out);
        return;
    }
    for (size_t i = 0; i < n_rows; i++)
        memcpy(out + i * ld_out, x + i * ld_x, d * sizeof(float));
}

int ae_scaling_copy(ae_model *dst, const ae_model *src)
{
    if (!src->scaling) {
        ae_free(dst->scaling);
        dst->scaling = NULL;
        return AE_OK;
    }
    AE_CHECK(scaling_buffer(dst) != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory copying the scaling");
    memcpy(dst->scaling, src->scaling, 2 * ae_input_dim(src) * sizeof(float));
    return AE_OK;
}

/* ---- public calls ------------------------------------------------------------------ */

static int check_scaling_setting(ae_model *m)
{
    AE_CHECK(m->settings.scaling != AE_SCALING_NONE, m, AE_ERR_STATE,
             "the model's scaling setting is none: set AE_PARAM_SCALING first");
    return AE_OK;
}

static int check_fit_scaling(ae_model *m, const float *x, size_t n_rows, size_t ld_x)
{
    AE_FORWARD(check_scaling_setting(m));
    AE_FORWARD(ae_check_matrix(m, "x", x, n_rows, ae_input_dim(m), ld_x));
    return ae_check_data(m, m, "x", x, n_rows, ae_input_dim(m), ld_x, false);
}

static int fit_scaling(ae_model *m, const float *x, size_t n_rows, size_t ld_x)
{
    /* Distributed: every participant's checks hold before the statistics are combined. */
    AE_FORWARD(ae_hooks_agree(m, check_fit_scaling(m, x, n_rows, ld_x)));
    return ae_scaling_fit(m, x, n_rows, ld_x);
}

int ae_model_fit_scaling(ae_model *m, const float *x, size_t n_rows, size_t ld_x)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, fit_scaling(m, x, n_rows, ld_x));
}

static int get_scaling(const ae_model *m, float *offset, float *scale, size_t n)
{
    AE_CHECK(offset != NULL && scale != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "offset or scale is NULL");
    AE_CHECK(n == ae_input_dim(m), NULL, AE_ERR_INVALID_ARGUMENT,
             "n = %zu; the model has %zu input features", n, ae_input_dim(m));
    AE_CHECK(m->scaling != NULL, NULL, AE_ERR_STATE, "the model has no fitted scaling");
    memcpy(offset, ae_scaling_offsets(m), n * sizeof(float));
    memcpy(scale, ae_scaling_scales(m), n * sizeof(float));
    return AE_OK;
}

int ae_model_get_scaling(const ae_model *m, float *offset, float *scale, size_t n)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, get_scaling(m, offset, scale, n));
}

static int set_scaling(ae_model *m, const float *offset, const float *scale, size_t n)
{
    AE_CHECK(offset != NULL && scale != NULL, m, AE_ERR_INVALID_ARGUMENT, "offset or scale is NULL");
    AE_CHECK(n == ae_input_dim(m), m, AE_ERR_INVALID_ARGUMENT,
             "n = %zu; the model has %zu input features", n, ae_input_dim(m));
    AE_FORWARD(check_scaling_setting(m));
    for (size_t j = 0; j < n; j++) {
        AE_CHECK(isfinite(offset[j]), m, AE_ERR_INVALID_ARGUMENT, "offset[%zu] is not finite", j);
        AE_CHECK(isfinite(scale[j]) && scale[j] > 0.0f, m, AE_ERR_INVALID_ARGUMENT,
                 "scale[%zu] = %g must be finite and positive", j, (double)scale[j]);
    }
    AE_CHECK(scaling_buffer(m) != NULL, m, AE_ERR_OUT_OF_MEMORY, "out of memory for the scaling");
    memcpy(m->scaling, offset, n * sizeof(float));
    memcpy(m->scaling + n, scale, n * sizeof(float));
    return AE_OK;
}

int ae_model_set_scaling(ae_model *m, const float *offset, const float *scale, size_t n)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, set_scaling(m, offset, scale, n));
}
