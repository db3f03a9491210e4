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

    double loss, slope, alpha;
    if (ae_model_get_param(model, AE_PARAM_LOSS, &loss) != AE_OK ||
        ae_model_get_param(model, AE_PARAM_LEAKY_SLOPE, &slope) != AE_OK ||
        ae_model_get_param(model, AE_PARAM_ELU_ALPHA, &alpha) != AE_OK)
        goto fail;
    net->loss = (int)loss;
    net->leaky_slope = slope;
    net->elu_alpha = alpha;

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
    switch (activation) {
    case AE_ACT_LINEAR:
        return z;
    case AE_ACT_RELU:
        return z > 0 ? z : 0.0;
    case AE_ACT_LEAKY_RELU:
        return z > 0 ? z : net->leaky_slope * z;
    case AE_ACT_ELU:
        return z > 0 ? z : net->elu_alpha * expm1(z);
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

static int has_kink(int activation)
{
    return activation == AE_ACT_RELU || activation == AE_ACT_LEAKY_RELU || activation == AE_ACT_ELU;
}

/* Forward one row. On return z holds the output layer's pre-activations (the
 * logits) and a its activations; *min_kink is lowered to the smallest |z| seen
 * at a kinked activation. */
static void forward_row(const ref_net *net, const float *x, double *a, double *z, double *min_kink)
{
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
            if (has_kink(layer->activation) && fabs(sum) < *min_kink)
                *min_kink = fabs(sum);
        }
        for (size_t o = 0; o < layer->n_out; o++)
            a[o] = ref_activation(net, layer->activation, z[o]);
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
               double *mean_loss, double *min_kink)
{
    double *a = malloc(net->max_width * sizeof *a);
    double *z = malloc(net->max_width * sizeof *z);
    if (!a || !z) {
        free(a), free(z);
        return -1;
    }
    double total = 0;
    for (size_t r = 0; r < n_rows; r++) {
        forward_row(net, x + r * ld, a, z, min_kink);
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
    return run(net, x, n_rows, ld, row_losses, &mean, &min_kink);
}

double ref_net_loss(const ref_net *net, const float *x, size_t n_rows, size_t ld)
{
    double mean, min_kink = INFINITY;
    return run(net, x, n_rows, ld, NULL, &mean, &min_kink) == 0 ? mean : NAN;
}

double ref_net_min_kink_distance(const ref_net *net, const float *x, size_t n_rows, size_t ld)
{
    double mean, min_kink = INFINITY;
    return run(net, x, n_rows, ld, NULL, &mean, &min_kink) == 0 ? min_kink : NAN;
}
