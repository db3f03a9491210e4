#include "reference_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ref_net_from_model(ref_net *net, const ae_model *model)
{
    memset(net, 0, sizeof *net);
    size_t n_layers = ae_model_layer_count(model);
    if (n_layers == 0)
        return -1;
    net->layers = calloc(n_layers, sizeof *net->layers);
    if (!net->layers)
        return -1;
    net->n_layers = n_layers;

    size_t offset = 0;
    net->max_width = ae_model_input_dim(model);
    for (size_t l = 0; l < n_layers; l++) {
        ref_layer *layer = &net->layers[l];
        if (ae_model_layer_info(model, l, &layer->n_out, &layer->n_in, &layer->activation) != AE_OK)
            goto fail;
        layer->w_offset = offset;
        offset += layer->n_out * layer->n_in;
        if (layer->n_out > net->max_width)
            net->max_width = layer->n_out;
    }
    net->n_weights = offset;
    for (size_t l = 0; l < n_layers; l++) {
        net->layers[l].b_offset = offset;
        offset += net->layers[l].n_out;
    }
    net->n_params = offset;
    if (offset != ae_model_param_count(model))
        goto fail;
    net->n_encoder_layers = ae_model_encoder_layer_count(model);
    if (net->n_encoder_layers == 0 || net->n_encoder_layers > n_layers)
        goto fail;

    double loss, slope, alpha, sparsity_layer;
    if (ae_model_get_param(model, AE_PARAM_LOSS, &loss) != AE_OK ||
        ae_model_get_param(model, AE_PARAM_LEAKY_SLOPE, &slope) != AE_OK ||
        ae_model_get_param(model, AE_PARAM_ELU_ALPHA, &alpha) != AE_OK ||
        ae_model_get_param(model, AE_PARAM_SPARSITY_WEIGHT, &net->sparsity_weight) != AE_OK ||
        ae_model_get_param(model, AE_PARAM_SPARSITY_TARGET, &net->sparsity_target) != AE_OK ||
        ae_model_get_param(model, AE_PARAM_SPARSITY_LAYER, &sparsity_layer) != AE_OK ||
        ae_model_get_param(model, AE_PARAM_ACTIVITY_L1, &net->activity_l1) != AE_OK ||
        ae_model_get_param(model, AE_PARAM_CONTRACTIVE_WEIGHT, &net->contractive_weight) != AE_OK)
        goto fail;
    net->loss = (int)loss;
    net->leaky_slope = slope;
    net->elu_alpha = alpha;
    net->sparsity_layer = (long)sparsity_layer;

    float *params = malloc(net->n_params * sizeof *params);
    net->params = malloc(net->n_params * sizeof *net->params);
    if (!params || !net->params || ae_model_get_params(model, params, net->n_params) != AE_OK) {
        free(params);
        goto fail;
    }
    for (size_t i = 0; i < net->n_params; i++)
        net->params[i] = params[i];
    free(params);
    return 0;

fail:
    ref_net_free(net);
    return -1;
}

void ref_net_free(ref_net *net)
{
    free(net->layers);
    free(net->params);
    memset(net, 0, sizeof *net);
}

/* log(1 + exp(z)) without overflow or loss of precision for large |z|. */
static double softplus(double z) { return fmax(z, 0.0) + log1p(exp(-fabs(z))); }

double ref_activation(const ref_net *net, int activation, double z)
{
    return ref_activation_with(activation, z, net->leaky_slope, net->elu_alpha);
}

double ref_activation_with(int activation, double z, double leaky_slope, double elu_alpha)
{
    switch (activation) {
    case AE_ACT_LINEAR:
        return z;
    case AE_ACT_RELU:
        return z > 0 ? z : 0.0;
    case AE_ACT_LEAKY_RELU:
        return z > 0 ? z : leaky_slope * z;
    case AE_ACT_ELU:
        return z > 0 ? z : elu_alpha * expm1(z);
    case AE_ACT_SIGMOID:
        return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
    case AE_ACT_TANH:
        return tanh(z);
    case AE_ACT_SOFTPLUS:
        return softplus(z);
    default:
        return NAN;
    }
}

double ref_activation_derivative(const ref_net *net, int activation, double z)
{
    switch (activation) {
    case AE_ACT_LINEAR:
        return 1.0;
    case AE_ACT_RELU:
        return z > 0 ? 1.0 : 0.0;
    case AE_ACT_LEAKY_RELU:
        return z > 0 ? 1.0 : net->leaky_slope;
    case AE_ACT_ELU:
        return z > 0 ? 1.0 : net->elu_alpha * exp(z);
    case AE_ACT_SIGMOID: {
        double s = ref_activation(net, AE_ACT_SIGMOID, z);
        return s * (1.0 - s);
    }
    case AE_ACT_TANH: {
        double t = tanh(z);
        return 1.0 - t * t;
    }
    case AE_ACT_SOFTPLUS:
        return ref_activation(net, AE_ACT_SIGMOID, z);
    default:
        return NAN;
    }
}

int ref_has_kink(int activation)
{
    return activation == AE_ACT_RELU || activation == AE_ACT_LEAKY_RELU || activation == AE_ACT_ELU;
}

/* Whether act(z) changes sign at z = 0, so that |act(z)| has a kink there. */
static int crosses_zero(int activation)
{
    return activation != AE_ACT_SIGMOID && activation != AE_ACT_SOFTPLUS;
}

/* What a pass over the batch gathers besides the loss (all sums over the rows). */
typedef struct pass_sums {
    size_t watch_layer;         /* the layer whose activations are summed */
    double *unit_sums;          /* per unit of watch_layer: sum of its activation, or NULL */
    const double *w_row_norms;  /* latent layer: sum_i W_ji^2 per unit j, or NULL */
    double abs_code;            /* sum_j |h_j| over the latent codes */
    double jacobian;            /* sum_j act'(z_j)^2 * sum_i W_ji^2 over the latent layer */
} pass_sums;

/* Forward one row. On return z holds the output layer's pre-activations (the
 * logits) and a its activations; *min_kink is lowered to the smallest |z| seen
 * at a kinked activation (with the activity L1 penalty on, at the latent layer
 * too); @p sums, if not NULL, gathers the penalties' ingredients. */
static void forward_row(const ref_net *net, const float *x, double *a, double *z, double *min_kink,
                        pass_sums *sums)
{
    size_t latent = net->n_encoder_layers - 1;
    size_t n_in = net->layers[0].n_in;
    for (size_t j = 0; j < n_in; j++)
        a[j] = x[j];
    for (size_t l = 0; l < net->n_layers; l++) {
        const ref_layer *layer = &net->layers[l];
        const double *w = net->params + layer->w_offset;
        const double *b = net->params + layer->b_offset;
        for (size_t o = 0; o < layer->n_out; o++) {
            double sum = b[o];
            for (size_t i = 0; i < layer->n_in; i++)
                sum += w[o * layer->n_in + i] * a[i];
            z[o] = sum;
            int kinked = ref_has_kink(layer->activation) ||
                         (l == latent && net->activity_l1 != 0 && crosses_zero(layer->activation));
            if (kinked && fabs(sum) < *min_kink)
                *min_kink = fabs(sum);
        }
        for (size_t o = 0; o < layer->n_out; o++)
            a[o] = ref_activation(net, layer->activation, z[o]);
        if (!sums)
            continue;
        if (sums->unit_sums && l == sums->watch_layer)
            for (size_t o = 0; o < layer->n_out; o++)
                sums->unit_sums[o] += a[o];
        if (l == latent) {
            for (size_t o = 0; o < layer->n_out; o++) {
                sums->abs_code += fabs(a[o]);
                if (sums->w_row_norms) {
                    double d = ref_activation_derivative(net, layer->activation, z[o]);
                    sums->jacobian += d * d * sums->w_row_norms[o];
                }
            }
        }
    }
}

static double row_loss(const ref_net *net, const float *x, const double *a, const double *z)
{
    size_t n = net->layers[0].n_in;
    double sum = 0;
    for (size_t j = 0; j < n; j++) {
        double target = x[j];
        if (net->loss == AE_LOSS_BCE) {
            /* -(x log s(z) + (1 - x) log(1 - s(z))) = softplus(z) - x z */
            sum += softplus(z[j]) - target * z[j];
        } else {
            double diff = a[j] - target;
            sum += diff * diff;
        }
    }
    return sum / (double)n;
}

static int run(const ref_net *net, const float *x, size_t n_rows, size_t ld, double *row_losses,
               double *mean_loss, double *min_kink, pass_sums *sums)
{
    double *a = malloc(net->max_width * sizeof *a);
    double *z = malloc(net->max_width * sizeof *z);
    if (!a || !z) {
        free(a), free(z);
        return -1;
    }
    double total = 0;
    for (size_t r = 0; r < n_rows; r++) {
        forward_row(net, x + r * ld, a, z, min_kink, sums);
        double loss = row_loss(net, x + r * ld, a, z);
        if (row_losses)
            row_losses[r] = loss;
        total += loss;
    }
    free(a);
    free(z);
    /* Every row has input_dim elements, so the mean of the row means is the mean
     * over all elements. */
    *mean_loss = total / (double)n_rows;
    return 0;
}

int ref_net_row_losses(const ref_net *net, const float *x, size_t n_rows, size_t ld,
                       double *row_losses)
{
    double mean, min_kink = INFINITY;
    return run(net, x, n_rows, ld, row_losses, &mean, &min_kink, NULL);
}

double ref_net_loss(const ref_net *net, const float *x, size_t n_rows, size_t ld)
{
    double mean, min_kink = INFINITY;
    return run(net, x, n_rows, ld, NULL, &mean, &min_kink, NULL) == 0 ? mean : NAN;
}

double ref_net_min_kink_distance(const ref_net *net, const float *x, size_t n_rows, size_t ld)
{
    double mean, min_kink = INFINITY;
    return run(net, x, n_rows, ld, NULL, &mean, &min_kink, NULL) == 0 ? min_kink : NAN;
}

int ref_net_mean_activations(const ref_net *net, const float *x, size_t n_rows, size_t ld,
                             size_t layer, double *means)
{
    if (layer >= net->n_layers || n_rows == 0)
        return -1;
    pass_sums sums = {layer, means, NULL, 0, 0};
    for (size_t o = 0; o < net->layers[layer].n_out; o++)
        means[o] = 0;
    double mean, min_kink = INFINITY;
    if (run(net, x, n_rows, ld, NULL, &mean, &min_kink, &sums) != 0)
        return -1;
    for (size_t o = 0; o < net->layers[layer].n_out; o++)
        means[o] /= (double)n_rows;
    return 0;
}

int ref_net_objective_terms(const ref_net *net, const float *x, size_t n_rows, size_t ld,
                            ref_objective *terms)
{
    size_t latent = net->n_encoder_layers - 1;
    size_t watch = latent;
    if (net->sparsity_layer >= 0)
        watch = (size_t)net->sparsity_layer;
    int sparse = net->sparsity_weight != 0;
    if (sparse && (watch > latent || net->layers[watch].activation != AE_ACT_SIGMOID))
        return -1;

    const ref_layer *code = &net->layers[latent];
    double *norms = calloc(code->n_out, sizeof *norms);
    double *unit_sums = sparse ? calloc(net->layers[watch].n_out, sizeof *unit_sums) : NULL;
    if (!norms || (sparse && !unit_sums)) {
        free(norms), free(unit_sums);
        return -1;
    }
    /* ||W_j||^2 of every latent unit: the squared norm of row j of the Jacobian is
     * act'(z_j)^2 times it. */
    const double *w = net->params + code->w_offset;
    for (size_t j = 0; j < code->n_out; j++)
        for (size_t i = 0; i < code->n_in; i++)
            norms[j] += w[j * code->n_in + i] * w[j * code->n_in + i];

    pass_sums sums = {watch, unit_sums, norms, 0, 0};
    double mean, min_kink = INFINITY;
    int rc = run(net, x, n_rows, ld, NULL, &mean, &min_kink, &sums);
    if (rc == 0) {
        double n = (double)n_rows;
        terms->reconstruction = mean;
        terms->sparsity = 0;
        if (sparse) {
            double rho = net->sparsity_target, kl = 0;
            for (size_t j = 0; j < net->layers[watch].n_out; j++) {
                double r = fmin(fmax(unit_sums[j] / n, 1e-6), 1.0 - 1e-6);
                kl += rho * log(rho / r) + (1.0 - rho) * log((1.0 - rho) / (1.0 - r));
            }
            terms->sparsity = net->sparsity_weight * kl;
        }
        terms->activity = net->activity_l1 * sums.abs_code / n;
        terms->contractive = net->contractive_weight * sums.jacobian / n;
        terms->total = terms->reconstruction + terms->sparsity + terms->activity + terms->contractive;
    }
    free(norms);
    free(unit_sums);
    return rc;
}

double ref_net_objective(const ref_net *net, const float *x, size_t n_rows, size_t ld)
{
    ref_objective terms;
    return ref_net_objective_terms(net, x, n_rows, ld, &terms) == 0 ? terms.total : NAN;
}

int ref_net_objective_gradient(const ref_net *net, const float *x, size_t n_rows, size_t ld,
                               double step, double *gradient)
{
    /* Perturb a private copy of the parameters; the rest of the net is shared. */
    ref_net copy = *net;
    copy.params = malloc(net->n_params * sizeof *copy.params);
    if (!copy.params)
        return -1;
    memcpy(copy.params, net->params, net->n_params * sizeof *copy.params);
    int rc = 0;
    for (size_t i = 0; i < net->n_params && rc == 0; i++) {
        double saved = copy.params[i];
        double h = step * fmax(1.0, fabs(saved));
        copy.params[i] = saved + h;
        double plus = ref_net_objective(&copy, x, n_rows, ld);
        copy.params[i] = saved - h;
        double minus = ref_net_objective(&copy, x, n_rows, ld);
        copy.params[i] = saved;
        gradient[i] = (plus - minus) / (2 * h);
        if (!isfinite(gradient[i]))
            rc = -1;
    }
    free(copy.params);
    return rc;
}
