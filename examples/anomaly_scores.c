/* Anomaly detection: train on one class only ("normal" = trousers), set a
 * threshold from the training images (ae_model_fit_threshold), then label every
 * test image with ae_model_detect(): its score is its own reconstruction error,
 * and images unlike anything seen in training reconstruct badly and score high. */
#include <autoenc.h>

#include "example_usage.h"
#include "fashion_mnist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                 \
    do {                                                                            \
        if ((call) != AE_OK) {                                                      \
            fprintf(stderr, "anomaly_scores: %s failed: %s\n", #call, ae_last_error()); \
            goto done;                                                              \
        }                                                                           \
    } while (0)

enum { DIM = 784, NORMAL_CLASS = 1, CLASSES = 10 };

static const char *const CLASS_NAMES[CLASSES] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                 "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};

int main(int argc, char **argv)
{
    if (argc > 1) /* no options: anything on the command line is a mistake, not a reason to train */
        return example_usage("anomaly_scores (no arguments)", argc == 2 && example_wants_help(argv[1]));
    fashion_mnist train = {0}, test = {0};
    ae_model *model = NULL;
    float *normal = NULL, *test_scores = NULL;
    uint8_t *is_anomaly = NULL;
    int status = 1;
    char err[512];

    if (fashion_mnist_load(NULL, FASHION_MNIST_TRAIN, 20000, &train, err, sizeof err) != 0 ||
        fashion_mnist_load(NULL, FASHION_MNIST_TEST, 5000, &test, err, sizeof err) != 0) {
        fprintf(stderr, "anomaly_scores: %s\n", err);
        goto done;
    }

    /* Gather the normal rows into one block: fit takes a row-major matrix. */
    normal = malloc(train.n_rows * DIM * sizeof *normal);
    test_scores = malloc(test.n_rows * sizeof *test_scores);
    is_anomaly = malloc(test.n_rows);
    if (normal == NULL || test_scores == NULL || is_anomaly == NULL) {
        fprintf(stderr, "anomaly_scores: out of memory\n");
        goto done;
    }
    size_t n_normal = 0;
    for (size_t i = 0; i < train.n_rows; i++)
        if (train.labels[i] == NORMAL_CLASS)
            memcpy(normal + DIM * n_normal++, train.pixels + DIM * i, DIM * sizeof *normal);

    /* The score is the model's loss per row; MSE makes it a mean squared pixel error. */
    const size_t widths[] = {DIM, 128, 16};
    CHECK(ae_model_create(&model, widths, 3, NULL, 0));
    CHECK(ae_model_set_param(model, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID));
    CHECK(ae_model_set_param(model, AE_PARAM_LOSS, AE_LOSS_MSE));
    CHECK(ae_model_set_param(model, AE_PARAM_EPOCHS, 15));
    CHECK(ae_model_fit(model, normal, n_normal, DIM, NULL));

    /* Threshold: the 99th percentile of the normal training rows' scores (1% contamination).
     * It is kept in the model, and saved with it. */
    double threshold;
    CHECK(ae_model_fit_threshold(model, normal, n_normal, DIM, 0.01, &threshold));

    CHECK(ae_model_detect(model, test.pixels, test.n_rows, DIM, is_anomaly, test_scores));
    double sum[CLASSES] = {0};
    size_t count[CLASSES] = {0}, flagged[CLASSES] = {0};
    for (size_t i = 0; i < test.n_rows; i++) {
        sum[test.labels[i]] += test_scores[i];
        count[test.labels[i]]++;
        flagged[test.labels[i]] += is_anomaly[i];
    }

    printf("trained on %zu %s images; threshold (99th percentile of their scores) %.4f\n\n",
           n_normal, CLASS_NAMES[NORMAL_CLASS], threshold);
    printf("test class      images  mean score  flagged as anomalous\n");
    for (int c = 0; c < CLASSES; c++)
        printf("%-12s%s %6zu  %10.4f  %6.1f%%\n", CLASS_NAMES[c],
               c == NORMAL_CLASS ? " *" : "  ", count[c], sum[c] / (double)count[c],
               100.0 * (double)flagged[c] / (double)count[c]);
    printf("(* the normal class)\n");
    status = 0;
done:
    ae_model_free(model);
    free(normal);
    free(test_scores);
    free(is_anomaly);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
    return status;
}
