/* Anomaly detection on top of inference: per-feature errors, a threshold kept in the
 * model (set, or fitted as a quantile of scores), and labels. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ae_model_feature_errors(const ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                            float *errors, size_t ld_errors)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_FORWARD(ae_check_matrix(NULL, "errors", errors, n_rows, ae_input_dim(m), ld_errors));
    return ae_eval_element_losses(m, x, n_rows, ld_x, errors, ld_errors);
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

int ae_model_fit_threshold(ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                           double contamination, double *threshold)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_CHECK(contamination >= 0.0 && contamination <= 0.5, m, AE_ERR_INVALID_ARGUMENT,
             "contamination %g is outside [0, 0.5]", contamination);
    AE_FORWARD(ae_fail_on_model(m, ae_check_matrix(NULL, "x", x, n_rows, ae_input_dim(m), ld_x)));
    float *scores = ae_alloc_floats(n_rows);
    AE_CHECK(scores != NULL, m, AE_ERR_OUT_OF_MEMORY, "out of memory for %zu scores", n_rows);
    int status = ae_fail_on_model(m, ae_eval_loss(m, x, n_rows, ld_x, NULL, scores));
    for (size_t i = 0; status == AE_OK && i < n_rows; i++)
        if (!isfinite(scores[i]))
            status = ae_fail(m, AE_ERR_STATE,
                             "row %zu scores %g: the model's outputs overflow, no threshold "
                             "can be fitted", i, (double)scores[i]);
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

int ae_model_set_threshold(ae_model *m, double threshold)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_CHECK(isfinite(threshold) && threshold >= 0.0, m, AE_ERR_INVALID_ARGUMENT,
             "threshold %g must be finite and at least 0", threshold);
    m->threshold = threshold;
    m->has_threshold = true;
    return AE_OK;
}

int ae_model_get_threshold(const ae_model *m, double *threshold)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_CHECK(threshold != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "threshold is NULL");
    AE_CHECK(m->has_threshold, NULL, AE_ERR_STATE,
             "the model has no anomaly threshold: set or fit one first");
    *threshold = m->threshold;
    return AE_OK;
}

int ae_model_detect(const ae_model *m, const float *x, size_t n_rows, size_t ld_x,
                    uint8_t *is_anomaly, float *scores)
{
    AE_CHECK(m != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "model is NULL");
    AE_CHECK(is_anomaly != NULL, NULL, AE_ERR_INVALID_ARGUMENT, "is_anomaly is NULL");
    AE_CHECK(m->has_threshold, NULL, AE_ERR_STATE,
             "the model has no anomaly threshold: set or fit one first");
    AE_FORWARD(ae_check_matrix(NULL, "x", x, n_rows, ae_input_dim(m), ld_x));
    float *own = scores ? NULL : ae_alloc_floats(n_rows);
    AE_CHECK(scores || own, NULL, AE_ERR_OUT_OF_MEMORY, "out of memory for %zu scores", n_rows);
    float *row_scores = scores ? scores : own;
    int status = ae_eval_loss(m, x, n_rows, ld_x, NULL, row_scores);
    for (size_t i = 0; status == AE_OK && i < n_rows; i++)
        is_anomaly[i] = (double)row_scores[i] > m->threshold;
    ae_free(own);
    return status;
}
