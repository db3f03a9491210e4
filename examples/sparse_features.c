/* Sparse and contractive features: train three models 784-128-784 with a sigmoid
 * code on Fashion-MNIST, the same in every way but the penalty on the code:
 *   plain        no penalty;
 *   sparse       AE_PARAM_SPARSITY_WEIGHT: a KL-divergence penalty that pulls each
 *                code unit's mean activation over a batch towards
 *                AE_PARAM_SPARSITY_TARGET (0.05), so that each image switches on
 *                only a few units;
 *   contractive  AE_PARAM_CONTRACTIVE_WEIGHT: a penalty on the squared norm of the
 *                code's Jacobian with respect to the input, so that small changes
 *                of an image barely move its code.
 * Then it prints, for held-out images, the mean code activation, the share of code
 * values that are off (below 0.01), how many units an image switches on (above 0.1),
 * how much the code moves under a small change of the input (the Jacobian's norm)
 * and the reconstruction error, next to that of predicting the mean training image.
 * The penalties shape the training objective only: ae_model_loss() and the validation
 * loss stay the plain reconstruction loss.
 *
 * Usage: sparse_features [EPOCHS]   (20 by default) */
#include <autoenc.h>

#include "example_usage.h"
#include "fashion_mnist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                    \
    do {                                                                               \
        if ((call) != AE_OK) {                                                         \
            fprintf(stderr, "sparse_features: %s failed: %s\n", #call, ae_last_error()); \
            goto done;                                                                 \
        }                                                                              \
    } while (0)

enum { DIM = 784, CODE = 128, N_TRAIN = 5000, N_TEST = 1000, N_MODELS = 3 };

static const char *const names[N_MODELS] = {"plain", "sparse", "contractive"};

/* What we measure on the held-out images. */
typedef struct summary {
    double mean_activation; /* over all units and images */
    double share_off;       /* share of code values below 0.01 */
    double units_on;        /* units above 0.1, per image */
    double jacobian;        /* sqrt of the mean squared Frobenius norm of d code / d image */
    double mse;             /* mean squared pixel error of the reconstructions */
} summary;

static int measure(const ae_model *model, const float *x, size_t n, float *codes, float *restored,
                   float *weights, summary *out)
{
    if (ae_model_encode(model, x, n, DIM, codes, CODE) != AE_OK ||
        ae_model_reconstruct(model, x, n, DIM, restored, DIM) != AE_OK ||
        ae_model_get_weights(model, 0, weights, (size_t)CODE * DIM) != AE_OK)
        return -1;
    /* For a one-layer encoder h = sigmoid(W x + b), d h_j / d x_i = h_j (1 - h_j) W_ji:
     * the squared Frobenius norm is sum_j (h_j (1 - h_j))^2 |W_j|^2, the quantity the
     * contractive penalty keeps small. */
    double row_norms[CODE];
    for (size_t j = 0; j < CODE; j++) {
        row_norms[j] = 0;
        for (size_t i = 0; i < DIM; i++)
            row_norms[j] += (double)weights[j * DIM + i] * weights[j * DIM + i];
    }
    double sum = 0, jacobian = 0, err = 0;
    size_t off = 0, on = 0;
    for (size_t r = 0; r < n; r++) {
        for (size_t j = 0; j < CODE; j++) {
            double h = codes[r * CODE + j], slope = h * (1 - h);
            sum += h;
            off += h < 0.01;
            on += h > 0.1;
            jacobian += slope * slope * row_norms[j];
        }
        for (size_t i = 0; i < DIM; i++) {
            double d = (double)restored[r * DIM + i] - x[r * DIM + i];
            err += d * d;
        }
    }
    out->mean_activation = sum / ((double)n * CODE);
    out->share_off = (double)off / ((double)n * CODE);
    out->units_on = (double)on / (double)n;
    out->jacobian = sqrt(jacobian / (double)n);
    out->mse = err / ((double)n * DIM);
    return 0;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    errno = 0;
    long epochs = argc > 1 ? strtol(argv[1], &end, 10) : 20;
    if (argc > 2 || epochs < 1 || errno != 0 || (argc > 1 && (end == argv[1] || *end != '\0')))
        return example_usage("sparse_features [EPOCHS]  (a whole number from 1 [20])",
                             argc == 2 && example_wants_help(argv[1]));
    fashion_mnist train = {0}, test = {0};
    ae_model *models[N_MODELS] = {NULL, NULL, NULL};
    float *codes = NULL, *restored = NULL, *weights = NULL;
    summary results[N_MODELS];
    int status = 1;
    char err[512];

    if (fashion_mnist_load(NULL, FASHION_MNIST_TRAIN, N_TRAIN, &train, err, sizeof err) != 0 ||
        fashion_mnist_load(NULL, FASHION_MNIST_TEST, N_TEST, &test, err, sizeof err) != 0) {
        fprintf(stderr, "sparse_features: %s\n", err);
        goto done;
    }

    /* Three models with the same seed, so the same initial weights. */
    const size_t widths[] = {DIM, CODE};
    for (int k = 0; k < N_MODELS; k++) {
        CHECK(ae_model_create(&models[k], widths, 2, NULL, 0));
        CHECK(ae_model_set_param(models[k], AE_PARAM_LATENT_ACTIVATION, AE_ACT_SIGMOID));
        CHECK(ae_model_set_param(models[k], AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID));
        CHECK(ae_model_set_param(models[k], AE_PARAM_LOSS, AE_LOSS_BCE));
        CHECK(ae_model_set_param(models[k], AE_PARAM_EPOCHS, (double)epochs));
    }
    /* Sparse: each unit should be on for about 5% of the images. The penalty needs a
     * sigmoid on the layer it watches (by default the code, AE_PARAM_SPARSITY_LAYER -1). */
    CHECK(ae_model_set_param(models[1], AE_PARAM_SPARSITY_WEIGHT, 0.3));
    CHECK(ae_model_set_param(models[1], AE_PARAM_SPARSITY_TARGET, 0.05));
    /* Contractive: works with any code activation. */
    CHECK(ae_model_set_param(models[2], AE_PARAM_CONTRACTIVE_WEIGHT, 0.01));

    codes = malloc((size_t)N_TEST * CODE * sizeof *codes);
    restored = malloc((size_t)N_TEST * DIM * sizeof *restored);
    weights = malloc((size_t)CODE * DIM * sizeof *weights);
    if (codes == NULL || restored == NULL || weights == NULL) {
        fprintf(stderr, "sparse_features: out of memory\n");
        goto done;
    }
    for (int k = 0; k < N_MODELS; k++) {
        ae_fit_report report = {0};
        report.size = sizeof report;
        int rc = ae_model_fit(models[k], train.pixels, train.n_rows, DIM, &report);
        if (rc != AE_OK) {
            fprintf(stderr, "sparse_features: fit %s: %s: %s\n", names[k], ae_status_str(rc),
                    ae_model_last_error(models[k]));
            goto done;
        }
        printf("%-11s trained: %llu epochs, final training objective %.4f\n", names[k],
               (unsigned long long)report.epochs_run, report.final_train_loss);
        if (measure(models[k], test.pixels, test.n_rows, codes, restored, weights, &results[k]) != 0) {
            fprintf(stderr, "sparse_features: %s: %s\n", names[k], ae_last_error());
            goto done;
        }
    }

    printf("\n%zu held-out images, %d code units:\n", test.n_rows, CODE);
    printf("%-11s  %15s  %10s  %13s  %14s  %16s\n", "model", "mean activation", "share off",
           "units on/img", "Jacobian norm", "reconstr. MSE");
    for (int k = 0; k < N_MODELS; k++)
        printf("%-11s  %15.4f  %10.3f  %13.1f  %14.3f  %16.5f\n", names[k],
               results[k].mean_activation, results[k].share_off, results[k].units_on,
               results[k].jacobian, results[k].mse);
    /* For scale: the error of predicting every image by the mean training image. */
    double baseline = 0;
    for (size_t i = 0; i < DIM; i++) {
        double mean = 0;
        for (size_t r = 0; r < train.n_rows; r++)
            mean += train.pixels[r * DIM + i];
        mean /= (double)train.n_rows;
        for (size_t r = 0; r < test.n_rows; r++)
            baseline += (test.pixels[r * DIM + i] - mean) * (test.pixels[r * DIM + i] - mean);
    }
    printf("%-11s  %15s  %10s  %13s  %14s  %16.5f\n", "mean image", "", "", "", "",
           baseline / ((double)test.n_rows * DIM));
    printf("\n(\"off\": below 0.01; \"on\": above 0.1; the Jacobian norm measures how far "
           "the code moves\nwhen the image changes a little)\n");
    status = 0;
done:
    for (int k = 0; k < N_MODELS; k++)
        ae_model_free(models[k]);
    free(codes);
    free(restored);
    free(weights);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
    return status;
}
