/* Denoising: train one model on corrupted inputs and one plain model of the
 * same shape, then ask both to restore test images with half their pixels
 * blacked out. With AE_PARAM_NOISE = AE_NOISE_MASKING and AE_PARAM_NOISE_LEVEL
 * = 0.5, every training batch has each pixel set to 0 with probability 0.5,
 * drawn afresh, while the loss compares the output with the clean image:
 * the model learns to fill in what is missing. */
#include <autoenc.h>

#include "example_usage.h"
#include "fashion_mnist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                              \
    do {                                                                         \
        if ((call) != AE_OK) {                                                   \
            fprintf(stderr, "denoising: %s failed: %s\n", #call, ae_last_error()); \
            goto done;                                                           \
        }                                                                        \
    } while (0)

enum { DIM = 784, SHOWN = 0 }; /* SHOWN: the test image drawn at the end */
enum { PLAIN, DENOISER };

/* Set each value to 0 with probability 1/2, as the masking noise does in
 * training. A fixed xorshift generator: every run masks the same pixels. */
static void mask_half(const float *x, float *out, size_t n)
{
    uint64_t state = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < n; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out[i] = (state >> 63) ? 0.0f : x[i];
    }
}

static double mean_squared_error(const float *a, const float *b, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sum / (double)n;
}

/* One text line of a 28x28 image: two pixel rows averaged, ten shades. */
static void print_line(const float *image, int line)
{
    static const char ramp[] = " .:-=+*#%@";
    for (int col = 0; col < 28; col++) {
        float v = 0.5f * (image[2 * line * 28 + col] + image[(2 * line + 1) * 28 + col]);
        int level = (int)(v * 9.0f + 0.5f);
        putchar(ramp[level < 0 ? 0 : level > 9 ? 9 : level]);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) /* no options: anything on the command line is a mistake, not a reason to train */
        return example_usage("denoising (no arguments)", argc == 2 && example_wants_help(argv[1]));
    fashion_mnist train = {0}, test = {0};
    ae_model *models[2] = {NULL, NULL}; /* [PLAIN], [DENOISER] */
    float *corrupted = NULL, *out_plain = NULL, *out_denoiser = NULL;
    int status = 1;
    char err[512];

    if (fashion_mnist_load(NULL, FASHION_MNIST_TRAIN, 10000, &train, err, sizeof err) != 0 ||
        fashion_mnist_load(NULL, FASHION_MNIST_TEST, 1000, &test, err, sizeof err) != 0) {
        fprintf(stderr, "denoising: %s\n", err);
        goto done;
    }

    /* Two models 784-256-64-256-784 with the same settings and seed (so the
     * same initial weights); only the denoiser sees corrupted inputs. */
    const size_t widths[] = {DIM, 256, 64};
    for (int k = 0; k < 2; k++) {
        CHECK(ae_model_create(&models[k], widths, 3, NULL, 0));
        CHECK(ae_model_set_param(models[k], AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID));
        CHECK(ae_model_set_param(models[k], AE_PARAM_LOSS, AE_LOSS_BCE));
        CHECK(ae_model_set_param(models[k], AE_PARAM_EPOCHS, 5));
    }
    CHECK(ae_model_set_param(models[DENOISER], AE_PARAM_NOISE, AE_NOISE_MASKING));
    CHECK(ae_model_set_param(models[DENOISER], AE_PARAM_NOISE_LEVEL, 0.5));
    for (int k = 0; k < 2; k++) {
        int rc = ae_model_fit(models[k], train.pixels, train.n_rows, DIM, NULL);
        if (rc != AE_OK) {
            fprintf(stderr, "denoising: fit: %s: %s\n", ae_status_str(rc),
                    ae_model_last_error(models[k]));
            goto done;
        }
    }

    /* Corrupt the held-out images the same way and reconstruct with both. */
    const size_t n = test.n_rows;
    corrupted = malloc(n * DIM * sizeof *corrupted);
    out_plain = malloc(n * DIM * sizeof *out_plain);
    out_denoiser = malloc(n * DIM * sizeof *out_denoiser);
    if (corrupted == NULL || out_plain == NULL || out_denoiser == NULL) {
        fprintf(stderr, "denoising: out of memory\n");
        goto done;
    }
    mask_half(test.pixels, corrupted, n * DIM);
    CHECK(ae_model_reconstruct(models[PLAIN], corrupted, n, DIM, out_plain, DIM));
    CHECK(ae_model_reconstruct(models[DENOISER], corrupted, n, DIM, out_denoiser, DIM));

    const float *clean = test.pixels;
    printf("%zu test images with half their pixels set to 0; MSE to the clean images:\n", n);
    printf("  corrupted input itself       %.5f\n", mean_squared_error(corrupted, clean, n * DIM));
    printf("  plain model's reconstruction %.5f\n", mean_squared_error(out_plain, clean, n * DIM));
    printf("  denoising model's            %.5f\n", mean_squared_error(out_denoiser, clean, n * DIM));

    const float *images[4] = {clean + SHOWN * DIM, corrupted + SHOWN * DIM,
                              out_plain + SHOWN * DIM, out_denoiser + SHOWN * DIM};
    printf("\n%-28s  %-28s  %-28s  %s\n", "clean", "corrupted", "plain model", "denoised");
    for (int line = 0; line < 14; line++) {
        for (int k = 0; k < 4; k++) {
            print_line(images[k], line);
            fputs(k < 3 ? "  " : "\n", stdout);
        }
    }
    status = 0;
done:
    ae_model_free(models[PLAIN]);
    ae_model_free(models[DENOISER]);
    free(corrupted);
    free(out_plain);
    free(out_denoiser);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
    return status;
}
