/* Feature extraction: train without labels, then use the latent codes as
 * features. A nearest-centroid classifier on the 32-number codes is compared
 * with the same classifier on the raw 784 pixels and with chance. */
#include <autoenc.h>

#include "example_usage.h"
#include "fashion_mnist.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                     \
    do {                                                                                \
        if ((call) != AE_OK) {                                                          \
            fprintf(stderr, "feature_extraction: %s failed: %s\n", #call, ae_last_error()); \
            goto done;                                                                  \
        }                                                                               \
    } while (0)

enum { DIM = 784, CODE = 32, CLASSES = 10 };

/* Share of test rows whose nearest class centroid (computed on the training
 * rows) has the right label. Rows have `dim` features. */
static double nearest_centroid_accuracy(const float *train, const uint8_t *train_labels,
                                        size_t n_train, const float *test,
                                        const uint8_t *test_labels, size_t n_test, size_t dim)
{
    double *centroids = calloc(CLASSES * dim, sizeof *centroids);
    size_t counts[CLASSES] = {0};
    if (centroids == NULL)
        return -1;
    for (size_t i = 0; i < n_train; i++) {
        counts[train_labels[i]]++;
        for (size_t j = 0; j < dim; j++)
            centroids[train_labels[i] * dim + j] += train[i * dim + j];
    }
    for (size_t c = 0; c < CLASSES; c++)
        for (size_t j = 0; j < dim; j++)
            centroids[c * dim + j] /= counts[c] > 0 ? (double)counts[c] : 1.0;

    size_t correct = 0;
    for (size_t i = 0; i < n_test; i++) {
        double best = DBL_MAX;
        size_t best_class = 0;
        for (size_t c = 0; c < CLASSES; c++) {
            double d = 0;
            for (size_t j = 0; j < dim; j++) {
                double diff = test[i * dim + j] - centroids[c * dim + j];
                d += diff * diff;
            }
            if (d < best) {
                best = d;
                best_class = c;
            }
        }
        correct += best_class == test_labels[i];
    }
    free(centroids);
    return (double)correct / (double)n_test;
}

int main(int argc, char **argv)
{
    if (argc > 1) /* no options: anything on the command line is a mistake, not a reason to train */
        return example_usage("feature_extraction (no arguments)", argc == 2 && example_wants_help(argv[1]));
    fashion_mnist train = {0}, test = {0};
    ae_model *model = NULL;
    float *train_codes = NULL, *test_codes = NULL;
    int status = 1;
    char err[512];

    if (fashion_mnist_load(NULL, FASHION_MNIST_TRAIN, 10000, &train, err, sizeof err) != 0 ||
        fashion_mnist_load(NULL, FASHION_MNIST_TEST, 2000, &test, err, sizeof err) != 0) {
        fprintf(stderr, "feature_extraction: %s\n", err);
        goto done;
    }

    const size_t widths[] = {DIM, 256, CODE};
    CHECK(ae_model_create(&model, widths, 3, NULL, 0));
    CHECK(ae_model_set_param(model, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID));
    CHECK(ae_model_set_param(model, AE_PARAM_LOSS, AE_LOSS_BCE));
    CHECK(ae_model_set_param(model, AE_PARAM_EPOCHS, 5));
    CHECK(ae_model_fit(model, train.pixels, train.n_rows, DIM, NULL)); /* labels unused */

    train_codes = malloc(train.n_rows * CODE * sizeof *train_codes);
    test_codes = malloc(test.n_rows * CODE * sizeof *test_codes);
    if (train_codes == NULL || test_codes == NULL) {
        fprintf(stderr, "feature_extraction: out of memory\n");
        goto done;
    }
    CHECK(ae_model_encode(model, train.pixels, train.n_rows, DIM, train_codes, CODE));
    CHECK(ae_model_encode(model, test.pixels, test.n_rows, DIM, test_codes, CODE));

    double acc_codes = nearest_centroid_accuracy(train_codes, train.labels, train.n_rows,
                                                 test_codes, test.labels, test.n_rows, CODE);
    double acc_pixels = nearest_centroid_accuracy(train.pixels, train.labels, train.n_rows,
                                                  test.pixels, test.labels, test.n_rows, DIM);
    if (acc_codes < 0 || acc_pixels < 0) {
        fprintf(stderr, "feature_extraction: out of memory\n");
        goto done;
    }
    printf("nearest-centroid accuracy on %zu test images (centroids from %zu training images)\n",
           test.n_rows, train.n_rows);
    printf("  %3d latent features  %5.1f%%\n", CODE, 100 * acc_codes);
    printf("  %3d raw pixels       %5.1f%%\n", DIM, 100 * acc_pixels);
    printf("  chance               %5.1f%%\n", 100.0 / CLASSES);
    status = 0;
done:
    ae_model_free(model);
    free(train_codes);
    free(test_codes);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
    return status;
}
