/* Per-feature scaling kept in the model (AE_PARAM_SCALING): fitting it from data, applying
 * it to inputs, and the public calls to fit, read and set it. */
#include "internal.h"

#include <float.h>
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

/* ---- fitting: statistics gathered pass by pass ---------------------------------------- */

/* The statistics are accumulated in double over one or two passes of rows (all at once, or
 * chunk by chunk from a data source) and, in a distributed fit, combined across
 * participants after each pass: min-max keeps the extremes (one pass); standardising the
 * count and sums (pass 0), then the squared deviations from the global mean (pass 1). Rows
 * added in order give the same sums whatever the chunks. */

int ae_scaling_fitter_begin(ae_model *m, ae_scaling_fitter *f)
{
    const size_t d = ae_input_dim(m);
    f->pass = 0;
    f->rows = 0.0;
    f->work = ae_alloc(sizeof(double) * (2 * d + 1));
    f->fitted = ae_alloc_floats(2 * d);
    int status = f->work && f->fitted
                     ? AE_OK
                     : ae_fail(NULL, AE_ERR_OUT_OF_MEMORY, "out of memory for the scaling");
    if (status == AE_OK) {
        const bool minmax = m->settings.scaling == AE_SCALING_MINMAX;
        for (size_t j = 0; j < 2 * d; j++) /* highs and negated lows, or sums and squares */
            f->work[j] = minmax ? -INFINITY : 0.0;
    }
    status = ae_hooks_agree(m, status);
    if (status != AE_OK)
        ae_scaling_fitter_release(f);
    return status;
}

void ae_scaling_fitter_release(ae_scaling_fitter *f)
{
    ae_free(f->work);
    ae_free(f->fitted);
    f->work = NULL;
    f->fitted = NULL;
}

bool ae_scaling_fitter_wants_pass(const ae_model *m, const ae_scaling_fitter *f)
{
    return f->pass == 0 || (f->pass == 1 && m->settings.scaling == AE_SCALING_STANDARDIZE);
}

void ae_scaling_fitter_add(const ae_model *m, ae_scaling_fitter *f, const float *x, size_t n_rows,
                           size_t ld_x)
{
    const size_t d = ae_input_dim(m);
    if (m->settings.scaling == AE_SCALING_MINMAX) {
        double *high = f->work, *neg_low = f->work + d;
        for (size_t j = 0; j < d; j++) {
            double top = high[j], bottom = neg_low[j];
            for (size_t i = 0; i < n_rows; i++) {
                double v = x[i * ld_x + j];
                top = v > top ? v : top;
                bottom = -v > bottom ? -v : bottom;
            }
            high[j] = top;
            neg_low[j] = bottom;
        }
    } else if (f->pass == 0) {
        double *sums = f->work;
        for (size_t j = 0; j < d; j++) {
            double sum = sums[j];
            for (size_t i = 0; i < n_rows; i++)
                sum += x[i * ld_x + j];
            sums[j] = sum;
        }
    } else {
        const double *sums = f->work;
        double *squares = f->work + d;
        for (size_t j = 0; j < d; j++) {
            const double mean = sums[j] / f->rows;
            /* Scaling subtracts the offset in float: a fitted row as far from the mean as a
             * float cannot hold (3e38 against a mean of -1.5e38) would reach the network as
             * infinity although its scaled value is small. Such a column makes the sum of
             * squares infinite (in a distributed fit, for every participant), so finishing
             * refuses it as it refuses a min-max range that overflows. */
            const float offset = (float)mean;
            double total = squares[j];
            bool overflow = false;
            for (size_t i = 0; i < n_rows; i++) {
                double dev = (double)x[i * ld_x + j] - mean;
                total += dev * dev;
                overflow |= !(fabsf(x[i * ld_x + j] - offset) <= FLT_MAX);
            }
            squares[j] = overflow ? INFINITY : total;
        }
    }
    if (f->pass == 0)
        f->rows += (double)n_rows;
}

int ae_scaling_fitter_end_pass(ae_model *m, ae_scaling_fitter *f)
{
    const size_t d = ae_input_dim(m);
    if (m->settings.scaling == AE_SCALING_MINMAX) {
        AE_FORWARD(ae_hooks_reduce(m, f->work, 2 * d, AE_REDUCE_MAX));
    } else if (f->pass == 0) {
        f->work[2 * d] = f->rows;
        double *combined = f->work; /* the sums, and the count after the squares' slots */
        AE_FORWARD(ae_hooks_reduce(m, combined, d, AE_REDUCE_SUM));
        AE_FORWARD(ae_hooks_reduce_counts(m, f->work + 2 * d, 1, AE_REDUCE_SUM));
        f->rows = f->work[2 * d];
    } else {
        AE_FORWARD(ae_hooks_reduce(m, f->work + d, d, AE_REDUCE_SUM));
    }
    f->pass++;
    return AE_OK;
}

int ae_scaling_fitter_finish(ae_model *m, ae_scaling_fitter *f)
{
    const size_t d = ae_input_dim(m);
    const double min_scale = m->settings.scaling_min_scale;
    float *offset = f->fitted, *scale = f->fitted + d;
    for (size_t j = 0; j < d; j++) {
        if (m->settings.scaling == AE_SCALING_MINMAX) {
            /* A float difference, so that (max - min) / scale is exactly 1. */
            offset[j] = (float)-f->work[d + j];
            scale[j] = floored_scale((float)f->work[j] - offset[j], min_scale);
        } else {
            offset[j] = (float)(f->work[j] / f->rows);
            scale[j] = floored_scale((float)sqrt(f->work[d + j] / f->rows), min_scale);
        }
        if (!isfinite(scale[j]) || !isfinite(offset[j])) {
            ae_scaling_fitter_release(f);
            return ae_fail(m, AE_ERR_INPUT_RANGE,
                           "column %zu spans more than a float can hold (its %s overflows); it "
                           "cannot be scaled",
                           j, m->settings.scaling == AE_SCALING_MINMAX
                                  ? "range"
                                  : "distance from the mean of a row");
        }
    }
    ae_free(m->scaling);
    m->scaling = f->fitted;
    f->fitted = NULL;
    ae_scaling_fitter_release(f);
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
    /* Computed aside, so that a refused fit leaves a fitted scaling as it was. */
    ae_scaling_fitter f;
    AE_FORWARD(ae_scaling_fitter_begin(m, &f));
    while (ae_scaling_fitter_wants_pass(m, &f)) {
        ae_scaling_fitter_add(m, &f, x, n_rows, ld_x);
        int status = ae_scaling_fitter_end_pass(m, &f);
        if (status != AE_OK) {
            ae_scaling_fitter_release(&f);
            return ae_fail_on_model(m, status);
        }
    }
    return ae_scaling_fitter_finish(m, &f);
}

void ae_scaling_drop(ae_model *m)
{
    ae_free(m->scaling);
    m->scaling = NULL;
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
    AE_FORWARD(ae_check_apart(NULL, ae_float_span("offset", offset, 1, n, n),
                              ae_float_span("scale", scale, 1, n, n)));
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
