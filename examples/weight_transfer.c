/* Weight transfer: read a trained encoder layer by layer and copy it into a
 * second model with a different decoder. Each layer's weights come out as
 * n_out x n_in row-major floats, the layout of torch.nn.Linear(n_in, n_out).weight,
 * so the same arrays can also initialise a PyTorch network:
 *     linear.weight.data = torch.from_numpy(w).view(n_out, n_in)
 *     linear.bias.data   = torch.from_numpy(b) */
#include <autoenc.h>

#include "example_usage.h"
#include "fashion_mnist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                  \
    do {                                                                             \
        if ((call) != AE_OK) {                                                       \
            fprintf(stderr, "weight_transfer: %s failed: %s\n", #call, ae_last_error()); \
            goto done;                                                               \
        }                                                                            \
    } while (0)

enum { DIM = 784, CODE = 32 };

int main(int argc, char **argv)
{
    if (argc > 1) /* no options: anything on the command line is a mistake, not a reason to train */
        return example_usage("weight_transfer (no arguments)", argc == 2 && example_wants_help(argv[1]));
    fashion_mnist train = {0};
    ae_model *source = NULL, *target = NULL;
    float *w = NULL, *b = NULL, *codes_source = NULL, *codes_target = NULL;
    int status = 1;
    char err[512];

    if (fashion_mnist_load(NULL, FASHION_MNIST_TRAIN, 5000, &train, err, sizeof err) != 0) {
        fprintf(stderr, "weight_transfer: %s\n", err);
        goto done;
    }

    /* The source: 784-256-32 mirrored, trained briefly. */
    const size_t encoder[] = {DIM, 256, CODE};
    CHECK(ae_model_create(&source, encoder, 3, NULL, 0));
    CHECK(ae_model_set_param(source, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID));
    CHECK(ae_model_set_param(source, AE_PARAM_LOSS, AE_LOSS_BCE));
    CHECK(ae_model_set_param(source, AE_PARAM_EPOCHS, 3));
    CHECK(ae_model_fit(source, train.pixels, train.n_rows, DIM, NULL));

    /* The target: the same encoder, but a one-layer decoder 32 -> 784. */
    const size_t decoder[] = {CODE, DIM};
    CHECK(ae_model_create(&target, encoder, 3, decoder, 2));

    /* The first layer is the widest here; size the buffers for it. */
    w = malloc(256 * DIM * sizeof *w);
    b = malloc(256 * sizeof *b);
    if (w == NULL || b == NULL) {
        fprintf(stderr, "weight_transfer: out of memory\n");
        goto done;
    }
    for (size_t layer = 0; layer < ae_model_encoder_layer_count(source); layer++) {
        size_t n_out = 0, n_in = 0;
        CHECK(ae_model_layer_info(source, layer, &n_out, &n_in, NULL));
        CHECK(ae_model_get_weights(source, layer, w, n_out * n_in));
        CHECK(ae_model_get_bias(source, layer, b, n_out));
        CHECK(ae_model_set_weights(target, layer, w, n_out * n_in));
        CHECK(ae_model_set_bias(target, layer, b, n_out));
        printf("layer %zu: weight %zu x %zu (torch.nn.Linear(%zu, %zu).weight), bias %zu\n", layer,
               n_out, n_in, n_in, n_out, n_out);
    }

    /* Both encoders now compute the same function: compare their codes. */
    const size_t n = 1000;
    codes_source = malloc(n * CODE * sizeof *codes_source);
    codes_target = malloc(n * CODE * sizeof *codes_target);
    if (codes_source == NULL || codes_target == NULL) {
        fprintf(stderr, "weight_transfer: out of memory\n");
        goto done;
    }
    CHECK(ae_model_encode(source, train.pixels, n, DIM, codes_source, CODE));
    CHECK(ae_model_encode(target, train.pixels, n, DIM, codes_target, CODE));
    double max_diff = 0;
    for (size_t i = 0; i < n * CODE; i++)
        max_diff = fmax(max_diff, fabs((double)codes_source[i] - (double)codes_target[i]));
    printf("codes of %zu images from both models: max difference %g (%s)\n", n, max_diff,
           max_diff == 0 ? "identical" : "DIFFERENT");
    status = max_diff == 0 ? 0 : 1;
done:
    ae_model_free(source);
    ae_model_free(target);
    free(w);
    free(b);
    free(codes_source);
    free(codes_target);
    fashion_mnist_free(&train);
    return status;
}
