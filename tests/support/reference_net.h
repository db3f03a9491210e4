/* An independent double-precision reference of a model's forward pass, loss and
 * training objective (the loss plus the sparsity, activity-L1 and contractive
 * penalties written out in the Training group of autoenc.h).
 *
 * Built only from what the public API exposes (layer shapes and activations, the
 * loss, the leaky slope, the ELU alpha, the penalty settings and the flat
 * parameters), so the suites can measure the library against it. Straightforward
 * loops, no BLAS, no cleverness: it is the yardstick, so it must be obviously right
 * rather than fast. Its objective gradient is a central difference of the double
 * objective, so it shares no derivative code with the library. */
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
    size_t n_encoder_layers; /* the latent layer is n_encoder_layers - 1 */
    /* Penalties, as AE_PARAM_SPARSITY_WEIGHT / _TARGET / _LAYER, AE_PARAM_ACTIVITY_L1
     * and AE_PARAM_CONTRACTIVE_WEIGHT; sparsity_layer is the setting as read
     * (-1 = the latent layer). */
    double sparsity_weight;
    double sparsity_target;
    long sparsity_layer;
    double activity_l1;
    double contractive_weight;
} ref_net;

/* The terms of the training objective of one batch. */
typedef struct ref_objective {
    double reconstruction; /* the loss, as ref_net_loss() */
    double sparsity;       /* beta * sum_j KL(rho || r_j), r_j clamped into [1e-6, 1 - 1e-6] */
    double activity;       /* lambda / n * sum |h| over the latent codes */
    double contractive;    /* gamma / n * sum_rows sum_j act'(z_j)^2 sum_i W_ji^2 (latent layer) */
    double total;          /* the sum of the four */
} ref_objective;

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

/* The training objective of the batch, term by term. Returns 0, or -1 on allocation
 * failure or when the sparsity penalty is on but its layer is not a sigmoid encoder
 * layer (a configuration the library refuses). */
int ref_net_objective_terms(const ref_net *net, const float *x, size_t n_rows, size_t ld,
                            ref_objective *terms);

/* The total training objective; NaN where ref_net_objective_terms() fails. */
double ref_net_objective(const ref_net *net, const float *x, size_t n_rows, size_t ld);

/* Central differences of ref_net_objective() with respect to every parameter (step
 * @p step * max(1, |p|)) into @p gradient (n_params doubles). Returns 0 or -1. */
int ref_net_objective_gradient(const ref_net *net, const float *x, size_t n_rows, size_t ld,
                               double step, double *gradient);

/* Mean over the batch of each unit's activation in @p layer (n_out doubles), before
 * any clamping. Returns 0, or -1 on a bad layer or allocation failure. */
int ref_net_mean_activations(const ref_net *net, const float *x, size_t n_rows, size_t ld,
                             size_t layer, double *means);

/* The smallest |z| over the pre-activations of the batch that feed an activation
 * with a kink at 0 (relu, leaky relu, elu) and, when the activity L1 penalty is on,
 * over the latent pre-activations whose code crosses 0 with z (|h| has a kink there:
 * every latent activation but sigmoid and softplus); +Inf if there are none. A finite
 * difference is only trustworthy when no perturbation can push a pre-activation
 * across a kink, i.e. when this distance is large compared with the step's effect. */
double ref_net_min_kink_distance(const ref_net *net, const float *x, size_t n_rows, size_t ld);

/* The activation in double, with the net's slope and alpha. */
double ref_activation(const ref_net *net, int activation, double z);
/* The same with the leaky ReLU slope and the ELU alpha given directly. */
double ref_activation_with(int activation, double z, double leaky_slope, double elu_alpha);
/* Whether the activation has a kink at 0 (ReLU, leaky ReLU, ELU). */
int ref_has_kink(int activation);

/* Its first derivative (at a kink, the right-hand one is not promised: keep away). */
double ref_activation_derivative(const ref_net *net, int activation, double z);

#endif
