/* Model helpers shared by the suites: every call checks its status with CMocka, so a
 * helper failing fails the test that called it. */
#ifndef AE_TEST_MODELS_H
#define AE_TEST_MODELS_H

#include <stddef.h>

#include "autoenc.h"

/** ae_model_create that must succeed (prints ae_last_error() if it does not). */
ae_model *test_create_model(const size_t *encoder, size_t n_encoder, const size_t *decoder,
                            size_t n_decoder);

/** ae_model_clone that must succeed. */
ae_model *test_clone_model(const ae_model *model);

/** ae_model_set_param that must succeed (prints the model's error if it does not). */
void test_set_param(ae_model *model, ae_param param, double value);

/** Sets the hidden, latent and output activations, in that order. */
void test_set_activations(ae_model *model, int hidden, int latent, int output);

/** Sets AE_PARAM_EPOCHS, then AE_PARAM_BATCH_SIZE. */
void test_set_epochs_and_batch(ae_model *model, double epochs, double batch_size);

/** A malloc'ed copy of the model's flat parameters. */
float *test_params_of(const ae_model *model);

/** Whether two models (which must have as many parameters) hold bitwise equal parameters. */
int test_same_params(const ae_model *a, const ae_model *b);

/** Whether the model's parameters are bitwise equal to @p expected. */
int test_params_equal_to(const ae_model *model, const float *expected);

/** A zeroed fit report with its size field set. */
ae_fit_report test_new_fit_report(void);

struct test_rng;

/**
 * Parameters for gradient checks: every weight the model owns (all layers', or only the
 * encoder's with tied weights) normal with deviation 1.3 / sqrt(n_in), every bias of random
 * sign with 0.1 <= |b| <= 0.5, so pre-activations spread around 0 without collapsing on it.
 * Returns the malloc'ed flat vector after setting it; @p output_bias, when not 0, replaces
 * the magnitude of the output layer's biases.
 */
float *test_set_spread_params(ae_model *model, struct test_rng *rng, double output_bias);

/** Data for a loss: uniform in [0, 1] for BCE, with x[0] = 0 and x[1] = 1 (exact targets),
 *  in [-1, 1] otherwise; NaN in the padding columns (ld > dim). */
float *test_loss_data(struct test_rng *rng, int loss, size_t n_rows, size_t dim, size_t ld);

#endif
