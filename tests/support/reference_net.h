/* An independent double-precision reference of a model's forward pass and loss.
 *
 * Built only from what the public API exposes (layer shapes and activations, the
 * loss, the leaky slope, the ELU alpha and the flat parameters), so the suites can
 * measure the library against it. Straightforward loops, no BLAS, no cleverness:
 * it is the yardstick, so it must be obviously right rather than fast. */
#ifndef AE_REFERENCE_NET_H
#define AE_REFERENCE_NET_H

#include <stddef.h>

#include "autoenc.h"

typedef struct ref_layer {
    size_t n_out, n_in;
    int activation;  /* ae_activation */
    size_t w_offset; /* index of W[0][0] in ref_net.params */
    size_t b_offset; /* index of b[0] in ref_net.params */
} ref_layer;

/* Fields are public: tests may perturb params (finite differences) or override
 * leaky_slope / elu_alpha to show a setting makes a difference. */
typedef struct ref_net {
    size_t n_layers;
    ref_layer *layers;
    int loss;           /* ae_loss */
    double leaky_slope;
    double elu_alpha;
    size_t n_params;    /* equals ae_model_param_count() */
    size_t n_weights;   /* parameters [0, n_weights) are weights, the rest biases */
    double *params;     /* flat layout of ae_model_get_params() */
    size_t max_width;
} ref_net;

/* Copy architecture, settings and parameters of @p model. Returns 0, or -1 on a
 * failed API call or allocation (the net is then left empty and safe to free). */
int ref_net_from_model(ref_net *net, const ae_model *model);
void ref_net_free(ref_net *net);

/* Per-row loss (mean over the features) of rows of @p x (row-major, leading
 * dimension @p ld), like ae_model_score(). Returns 0, or -1 on allocation failure. */
int ref_net_row_losses(const ref_net *net, const float *x, size_t n_rows, size_t ld,
                       double *row_losses);

/* Mean loss over all elements of the batch, like ae_model_loss(); NaN on
 * allocation failure. */
double ref_net_loss(const ref_net *net, const float *x, size_t n_rows, size_t ld);

/* The smallest |z| over the pre-activations of the batch that feed an activation
 * with a kink at 0 (relu, leaky relu, elu); +Inf if there are none. A finite
 * difference is only trustworthy when no perturbation can push a pre-activation
 * across a kink, i.e. when this distance is large compared with the step's effect. */
double ref_net_min_kink_distance(const ref_net *net, const float *x, size_t n_rows, size_t ld);

/* The activation in double, with the net's slope and alpha. */
double ref_activation(const ref_net *net, int activation, double z);

#endif
