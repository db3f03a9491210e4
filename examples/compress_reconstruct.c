/* Compression and reconstruction: squeeze each 28x28 image into 32 numbers
 * with ae_model_encode(), bring it back with ae_model_decode(), and measure
 * what was lost. ae_model_reconstruct() does both steps in one call. */
#include <autoenc.h>

#include "example_usage.h"
#include "fashion_mnist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                       \
    do {                                                                                  \
        if ((call) != AE_OK) {                                                            \
            fprintf(stderr, "compress_reconstruct: %s failed: %s\n", #call, ae_last_error()); \
            goto done;                                                                    \
        }                                                                                 \
    } while (0)

int main(int argc, char **argv)
{
    if (argc > 1) /* no options: anything on the command line is a mistake, not a reason to train */
        return example_usage("compress_reconstruct (no arguments)", argc == 2 && example_wants_help(argv[1]));
    enum { DIM = 784, CODE = 32 };
    fashion_mnist train = {0}, test = {0};
    ae_model *model = NULL;
    float *codes = NULL, *decoded = NULL, *reconstructed = NULL;
    int status = 1;
    char err[512];

    if (fashion_mnist_load(NULL, FASHION_MNIST_TRAIN, 10000, &train, err, sizeof err) != 0 ||
        fashion_mnist_load(NULL, FASHION_MNIST_TEST, 1000, &test, err, sizeof err) != 0) {
        fprintf(stderr, "compress_reconstruct: %s\n", err);
        goto done;
    }

    /* 784 -> 256 -> 32 -> 256 -> 784; pixels lie in [0, 1], so a sigmoid output
     * with binary cross-entropy suits them. */
    const size_t widths[] = {DIM, 256, CODE};
    CHECK(ae_model_create(&model, widths, 3, NULL, 0));
    CHECK(ae_model_set_param(model, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID));
    CHECK(ae_model_set_param(model, AE_PARAM_LOSS, AE_LOSS_BCE));
    CHECK(ae_model_set_param(model, AE_PARAM_EPOCHS, 5));
    CHECK(ae_model_fit(model, train.pixels, train.n_rows, DIM, NULL));

    const size_t n = test.n_rows;
    codes = malloc(n * CODE * sizeof *codes);
    decoded = malloc(n * DIM * sizeof *decoded);
    reconstructed = malloc(n * DIM * sizeof *reconstructed);
    if (codes == NULL || decoded == NULL || reconstructed == NULL) {
        fprintf(stderr, "compress_reconstruct: out of memory\n");
        goto done;
    }
    CHECK(ae_model_encode(model, test.pixels, n, DIM, codes, CODE));       /* compress */
    CHECK(ae_model_decode(model, codes, n, CODE, decoded, DIM));           /* decompress */
    CHECK(ae_model_reconstruct(model, test.pixels, n, DIM, reconstructed, DIM)); /* both */

    double sq_err = 0, max_pixel_err = 0, max_path_diff = 0;
    for (size_t i = 0; i < n * DIM; i++) {
        double e = (double)decoded[i] - (double)test.pixels[i];
        sq_err += e * e;
        max_pixel_err = fmax(max_pixel_err, fabs(e));
        max_path_diff = fmax(max_path_diff, fabs((double)decoded[i] - (double)reconstructed[i]));
    }
    double mse = sq_err / (double)(n * DIM);
    printf("%zu test images, each %d pixels -> %d latent floats\n", n, DIM, CODE);
    printf("compression: %.1fx fewer numbers (%.1fx fewer bytes than the 8-bit pixels)\n",
           (double)DIM / CODE, (double)DIM / (CODE * sizeof(float)));
    printf("reconstruction MSE %.5f (PSNR %.1f dB), worst pixel error %.3f\n", mse,
           10.0 * log10(1.0 / mse), max_pixel_err);
    printf("decode(encode(x)) vs reconstruct(x): max difference %.3g\n", max_path_diff);
    status = 0;
done:
    ae_model_free(model);
    free(codes);
    free(decoded);
    free(reconstructed);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
    return status;
}
