/* A variational autoencoder: generate new images and walk between two.
 *
 * ae_model_create_ex(..., AE_ARCH_VARIATIONAL) makes the latent layer give a
 * mean and a log-variance per code unit. Training decodes a code sampled from
 * that Gaussian and adds its KL divergence from the standard normal prior, so
 * that input_dim times the training loss is -ELBO, the negative evidence lower
 * bound per image (for cross-entropy and the default KL weight 1). Because the
 * codes are pushed towards N(0, I), decoding random normal codes gives new
 * images: ae_model_sample(). And because nearby codes decode to similar images,
 * ae_model_interpolate() walks from one image to another through the code space.
 *
 * Here a 784-256-16 VAE learns Fashion-MNIST; the progress callback prints
 * -ELBO per epoch, then the program draws a few samples from the prior and
 * the walk between two test images as text.
 *
 * Usage: variational [--epochs N] [--train-rows N]
 */
#include <autoenc.h>

#include "example_usage.h"
#include "fashion_mnist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                  \
    do {                                                                             \
        if ((call) != AE_OK) {                                                       \
            fprintf(stderr, "variational: %s failed: %s\n", #call, ae_last_error()); \
            goto done;                                                               \
        }                                                                            \
    } while (0)

enum { DIM = 784, CODE = 16, SAMPLES = 4, STEPS = 8, PER_ROW = 4 };

static const char *const CLASS_NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                            "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                            "Bag",         "Ankle boot"};

/* Called at the end of every epoch. With the KL weight 1 and no warm-up the
 * training loss is the negative ELBO divided by the 784 pixels. */
static int on_epoch(const ae_progress *p, void *user_data)
{
    (void)user_data;
    printf("  epoch %2llu/%llu  -ELBO %7.2f nats per image  (%.1f s)\n",
           (unsigned long long)p->epoch, (unsigned long long)p->epochs, p->train_loss * DIM,
           p->seconds);
    fflush(stdout);
    return 0;
}

/* Images side by side as text, 28 characters by 14 lines each (two pixel rows
 * per line, since a character cell is about twice as tall as it is wide). */
static void print_images(const float *images, size_t n_images)
{
    static const char ramp[] = " .:-=+*#%@";
    for (int line = 0; line < 14; line++) {
        for (size_t k = 0; k < n_images; k++) {
            const float *image = images + k * DIM;
            for (int col = 0; col < 28; col++) {
                float v = 0.5f * (image[2 * line * 28 + col] + image[(2 * line + 1) * 28 + col]);
                int level = (int)(v * 9.0f + 0.5f);
                putchar(ramp[level < 0 ? 0 : level > 9 ? 9 : level]);
            }
            fputs(k + 1 < n_images ? "  " : "\n", stdout);
        }
    }
}

static int parse_count(const char *flag, const char *text, unsigned long *value)
{
    char *end = NULL;
    errno = 0;
    unsigned long parsed = text ? strtoul(text, &end, 10) : 0;
    if (!text || *text == '-' || *end != '\0' || parsed == 0 || errno != 0) {
        fprintf(stderr, "variational: %s needs a positive integer\n", flag);
        return -1;
    }
    *value = parsed;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long epochs = 10, train_rows = 20000;
    for (int i = 1; i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = -1;
        if (strcmp(argv[i], "--epochs") == 0)
            rc = parse_count(argv[i], value, &epochs);
        else if (strcmp(argv[i], "--train-rows") == 0)
            rc = parse_count(argv[i], value, &train_rows);
        else
            return example_usage("variational [--epochs N] [--train-rows N]",
                                 example_wants_help(argv[i]));
        if (rc != 0)
            return 2;
    }

    fashion_mnist train = {0}, test = {0};
    ae_model *model = NULL;
    float *samples = NULL, *path = NULL, *mean = NULL, *log_variance = NULL;
    int status = 1;
    char err[512];

    if (fashion_mnist_load(NULL, FASHION_MNIST_TRAIN, train_rows, &train, err, sizeof err) != 0 ||
        fashion_mnist_load(NULL, FASHION_MNIST_TEST, 1000, &test, err, sizeof err) != 0) {
        fprintf(stderr, "variational: %s\n", err);
        goto done;
    }

    /* 784-256-16 with a variational code and its mirror 16-256-784: ReLU
     * inside, the latent layer linear (a variational one must be), sigmoid
     * output with binary cross-entropy, so pixels in [0, 1] are the targets. */
    const size_t widths[] = {DIM, 256, CODE};
    CHECK(ae_model_create_ex(&model, widths, 3, NULL, 0, AE_ARCH_VARIATIONAL));
    CHECK(ae_model_set_param(model, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID));
    CHECK(ae_model_set_param(model, AE_PARAM_LOSS, AE_LOSS_BCE));
    CHECK(ae_model_set_param(model, AE_PARAM_EPOCHS, (double)epochs));
    CHECK(ae_model_set_param(model, AE_PARAM_BATCH_SIZE, 100));
    /* AE_PARAM_KL_WEIGHT (beta, default 1) trades reconstruction against the
     * prior; AE_PARAM_KL_WARMUP_EPOCHS would grow it from 0 over the first
     * epochs. Both stay at their defaults here, which makes the loss -ELBO. */
    CHECK(ae_model_set_progress(model, on_epoch, NULL));

    printf("Training a 784-256-16 VAE on %zu Fashion-MNIST images:\n", train.n_rows);
    ae_fit_report report = {0};
    report.size = sizeof report;
    int rc = ae_model_fit(model, train.pixels, train.n_rows, DIM, &report);
    if (rc != AE_OK) {
        fprintf(stderr, "variational: fit: %s: %s\n", ae_status_str(rc), ae_model_last_error(model));
        goto done;
    }
    printf("Last epoch: ELBO %.2f nats per image, of which KL divergence %.2f\n", report.final_elbo,
           report.final_kl);
    double held_out = 0;
    CHECK(ae_model_loss(model, test.pixels, test.n_rows, DIM, &held_out));
    printf("Held-out reconstruction: %.2f nats per image\n", held_out * DIM);

    /* How certain the encoder is: a test image's code as mean +- deviation. */
    mean = malloc(CODE * sizeof *mean);
    log_variance = malloc(CODE * sizeof *log_variance);
    samples = malloc((size_t)SAMPLES * DIM * sizeof *samples);
    path = malloc((size_t)STEPS * DIM * sizeof *path);
    if (!mean || !log_variance || !samples || !path) {
        fprintf(stderr, "variational: out of memory\n");
        goto done;
    }
    CHECK(ae_model_encode_distribution(model, test.pixels, 1, DIM, mean, CODE, log_variance, CODE));
    printf("\nCode of the first test image (%s), mean +- standard deviation:\n",
           CLASS_NAMES[test.labels[0]]);
    for (int j = 0; j < CODE; j++)
        printf("  %+.2f+-%.2f%s", mean[j], exp(0.5 * log_variance[j]), j % 4 == 3 ? "\n" : "");

    /* New images: codes drawn from N(0, I) with a seed of our choosing, decoded. */
    CHECK(ae_model_sample(model, 7, SAMPLES, samples, DIM));
    printf("\n%d images sampled from the prior:\n", SAMPLES);
    print_images(samples, SAMPLES);

    /* A walk between two test images of different classes: the first row
     * decodes the first image's code, the last the second's, and the rows in
     * between decode the codes on the straight line between them. */
    size_t a = 0, b = 1;
    while (b + 1 < test.n_rows && test.labels[b] == test.labels[a])
        b++;
    CHECK(ae_model_interpolate(model, test.pixels + a * DIM, test.pixels + b * DIM, STEPS, path, DIM));
    printf("\nFrom test image %zu (%s) to test image %zu (%s) in %d steps:\n", a,
           CLASS_NAMES[test.labels[a]], b, CLASS_NAMES[test.labels[b]], STEPS);
    for (int first = 0; first < STEPS; first += PER_ROW) {
        print_images(path + (size_t)first * DIM, PER_ROW);
        putchar('\n');
    }
    status = 0;
done:
    ae_model_free(model);
    free(mean);
    free(log_variance);
    free(samples);
    free(path);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
    return status;
}
