/* Anomaly detection on top of inference: per-feature errors, a threshold kept in the
 * model (set, or fitted as a quantile of scores), and labels. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int feature_errors(const ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                          float *errors, size_t ld_errors)
{
    AE_FORWARD(ae_check_matrix(NULL, "errors", errors, n_rows, ae_input_dim(m), ld_errors));
    return ae_eval_element_losses(m, x, n_rows, ld_x, errors, ld_errors);
}

int ae_model_feature_errors(const ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                            float *errors, size_t ld_errors)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, feature_errors(m, x, n_rows, ld_x, errors, ld_errors));
}

static int compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of n sorted values, interpolating linearly between the order statistics
 * around position q (n - 1), as numpy.quantile's default method. */
static double sorted_quantile(const float *sorted, size_t n, double q)
{
    double position = q * (double)(n - 1);
    size_t below = (size_t)position;
    if (below >= n - 1)
        return (double)sorted[n - 1];
    double fraction = position - (double)below;
    return (double)sorted[below] + fraction * ((double)sorted[below + 1] - (double)sorted[below]);
}

static int fit_threshold(ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                         double contamination, double *threshold)
{
    AE_CHECK(contamination >= 0.0 && contamination <= 0.5, NULL, AE_ERR_INVALID_ARGUMENT,
             "contamination %g is outside [0, 0.5]", contamination);
    AE_FORWARD(ae_check_matrix(NULL, "x", x, n_rows, ae_input_dim(m), ld_x));
    float *scores = ae_alloc_floats(n_rows);
    AE_CHECK(scores != NULL, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory for %zu scores", n_rows);
    size_t overflow = SIZE_MAX;
    int status = ae_eval_scores(m, x, n_rows, ld_x, scores, &overflow);
    /* A threshold is a quantile of real scores: a row beyond float range has none. */
    if (status == AE_OK && overflow != SIZE_MAX)
        status = ae_fail(NULL, AE_ERR_NON_FINITE_RESULT,
                         "row %zu is too large for the model's float arithmetic: its score "
                         "overflows, and no threshold can be fitted on it",
                         overflow);
    double value = 0.0;
    if (status == AE_OK) {
        qsort(scores, n_rows, sizeof *scores, compare_floats);
        value = sorted_quantile(scores, n_rows, 1.0 - contamination);
    }
    ae_free(scores);
    AE_FORWARD(status);
    m->threshold = value;
    m->has_threshold = true;
    if (threshold)
        *threshold = value;
    return AE_OK;
}

int ae_model_fit_threshold(ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                           double contamination, double *threshold)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, fit_threshold(m, x, n_rows, ld_x, contamination, threshold));
}

static int set_threshold(ae_model *m, double threshold)
{
    AE_CHECK(isfinite(threshold) && threshold >= 0.0, NULL, AE_ERR_INVALID_ARGUMENT,
             "threshold %g must be finite and at least 0", threshold);
    m->threshold = threshold;
    m->has_threshold = true;
    return AE_OK;
}

int ae_model_set_threshold(ae_model *m, double threshold)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_WRITER(m, set_threshold(m, threshold));
}

static int get_threshold(const ae_model *m, double *threshold)
{
    AE_CHECK(threshold != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "threshold is NULL");
    AE_CHECK(m->has_threshold, NULL, AE_ERR_STATE,
             "the model has no anomaly threshold: set or fit one first");
    *threshold = m->threshold;
    return AE_OK;
}

int ae_model_get_threshold(const ae_model *m, double *threshold)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_RETURN_AS_READER(m, get_threshold(m, threshold));
}

/* Labels from scores: above the threshold, or beyond float range (a row whose error
 * overflowed is as far from normal as a row can be, whatever the threshold). */
static int detect(const ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                  uint8_t *is_anomaly, float *scores)
{
    AE_CHECK(m->has_threshold, NULL, AE_ERR_STATE,
             "the model has no anomaly threshold: set or fit one first");
    float *own = scores ? NULL : ae_alloc_floats(n_rows);
    AE_CHECK(scores || own, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory for %zu scores", n_rows);
    float *row_scores = scores ? scores : own;
    int status = ae_eval_scores(m, x, n_rows, ld_x, row_scores, NULL);
    for (size_t i = 0; status == AE_OK && i < n_rows; i++)
        is_anomaly[i] = (double)row_scores[i] > m->threshold || row_scores[i] >= FLT_MAX;
    ae_free(own);
    return status;
}

int ae_model_detect(const ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                    uint8_t *is_anomaly, float *scores)
{
    AE_CHECK(is_anomaly != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "is_anomaly is NULL");
    int status = m ? ae_check_matrix(NULL, "x", x, n_rows, ae_input_dim(m), ld_x)
                   : ae_fail(NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    /* Labels that share memory with x or the scores are not written even on failure (the
     * scores and x are checked apart where every scoring call is, ae_eval_scores). */
    bool labels_apart = true;
    if (status == AE_OK) {
        const ae_span labels = {"is_anomaly", (uintptr_t)is_anomaly, 1, n_rows, n_rows};
        const ae_span rows = ae_float_span("x", x, n_rows, ae_input_dim(m), ld_x);
        status = ae_check_apart(NULL, labels, rows);
        if (status == AE_OK)
            status = ae_check_apart(NULL, labels, ae_float_span("scores", scores, 1, n_rows, n_rows));
        labels_apart = status == AE_OK;
    }
    if (status == AE_OK) {
        status = ae_enter_reader(m);
        if (status == AE_OK) {
            status = detect(m, x, n_rows, ld_x, is_anomaly, scores);
            ae_leave_reader(m);
        }
    }
    /* Detection fails closed: a caller that misses the status sees every row flagged,
     * whatever failed (a NULL model or x, a bad leading dimension too). Only a row count
     * that no x could have (its rows overflow the address space) is left alone. */
    size_t span;
    if (status != AE_OK && status != AE_ERR_SIZE_OVERFLOW && labels_apart &&
        ae_mul_size(n_rows, ld_x ? ld_x : 1, &span) && span <= SIZE_MAX / sizeof(float))
        memset(is_anomaly, 1, n_rows);
    return status;
}
