/* The main demo: train the reference autoencoder on Fashion-MNIST and show how
 * well it reconstructs the test set.
 *
 *   784-512-256-64-256-512-784, ReLU in every hidden layer and the latent layer,
 *   sigmoid output, binary cross-entropy, Adam, 10% of the training rows held
 *   out for validation and early stopping.
 *
 * Usage: train_fashion_mnist [--epochs N] [--batch N] [--seed N] [--data DIR]
 *                            [--train-rows N] [--test-rows N]
 */
#include <autoenc.h>

#include "fashion_mnist.h"

#include "blas_hint.h" /* tools/common: the BLAS line and the OPENBLAS_CORETYPE note */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_EPOCHS 20
#define DEFAULT_BATCH 128
#define VALIDATION_FRACTION 0.1
#define PATIENCE 3
#define N_SHOWN 4

static const char *const CLASS_NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                            "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                            "Bag",         "Ankle boot"};

typedef struct options {
    unsigned long epochs, batch, seed, train_rows, test_rows;
    const char *data_dir;
} options;

/* What the progress callback needs to turn epoch ends into throughput. */
typedef struct progress_state {
    size_t train_rows;   /* rows trained on per epoch (validation rows excluded) */
    int tty;             /* stdout is a terminal: also draw a per-batch line */
    double last_epoch_s; /* fit time at the previous epoch end */
    double last_draw_s;  /* fit time of the last per-batch line */
} progress_state;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int on_progress(const ae_progress *p, void *user_data)
{
    progress_state *state = user_data;
    if (!p->epoch_end) {
        /* Lightweight: redraw at most ten times a second, only on a terminal. */
        if (state->tty && p->seconds - state->last_draw_s >= 0.1) {
            state->last_draw_s = p->seconds;
            printf("\r  epoch %3llu  batch %5llu/%llu  loss %.4f", (unsigned long long)p->epoch,
                   (unsigned long long)p->batch, (unsigned long long)p->batches, p->train_loss);
            fflush(stdout);
        }
        return 0;
    }
    double epoch_s = p->seconds - state->last_epoch_s;
    state->last_epoch_s = p->seconds;
    printf("%sepoch %3llu/%llu  train %.5f  val %.5f  %6.1f s  %7.0f samples/s\n",
           state->tty ? "\r\033[K" : "", (unsigned long long)p->epoch,
           (unsigned long long)p->epochs, p->train_loss, p->val_loss, p->seconds,
           epoch_s > 0 ? (double)state->train_rows / epoch_s : 0.0);
    fflush(stdout);
    return 0;
}

static int parse_count(const char *flag, const char *text, unsigned long min_value,
                       unsigned long *value)
{
    char *end = NULL;
    errno = 0;
    unsigned long parsed = text != NULL ? strtoul(text, &end, 10) : 0;
    if (text == NULL || *text == '\0' || *text == '-' || *end != '\0' || errno != 0 ||
        parsed < min_value) {
        fprintf(stderr, "train_fashion_mnist: %s needs an integer >= %lu\n", flag, min_value);
        return -1;
    }
    *value = parsed;
    return 0;
}

static int parse_options(int argc, char **argv, options *opt)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            printf("usage: train_fashion_mnist [--epochs N] [--batch N] [--seed N] [--data DIR]\n"
                   "                           [--train-rows N] [--test-rows N]\n"
                   "  --epochs N      most epochs; early stopping may end sooner [%d]\n"
                   "  --batch N       rows per optimizer step [%d]\n"
                   "  --seed N        seed of the weights, split and shuffling [0]\n"
                   "  --data DIR      Fashion-MNIST folder [$FASHION_MNIST_DIR or %s]\n"
                   "  --train-rows N  use only the first N training images [all 60000]\n"
                   "  --test-rows N   use only the first N test images [all 10000]\n",
                   DEFAULT_EPOCHS, DEFAULT_BATCH, FASHION_MNIST_DEFAULT_DIR);
            exit(0);
        } else if (strcmp(arg, "--epochs") == 0) {
            rc = parse_count(arg, val, 1, &opt->epochs);
        } else if (strcmp(arg, "--batch") == 0) {
            rc = parse_count(arg, val, 1, &opt->batch);
        } else if (strcmp(arg, "--seed") == 0) {
            rc = parse_count(arg, val, 0, &opt->seed);
        } else if (strcmp(arg, "--train-rows") == 0) {
            rc = parse_count(arg, val, 20, &opt->train_rows);
        } else if (strcmp(arg, "--test-rows") == 0) {
            rc = parse_count(arg, val, 1, &opt->test_rows);
        } else if (strcmp(arg, "--data") == 0 && val != NULL) {
            opt->data_dir = val;
        } else {
            fprintf(stderr, "train_fashion_mnist: unknown option '%s' (try --help)\n", arg);
            return -1;
        }
        if (rc != 0)
            return -1;
        i++;
    }
    return 0;
}

/* One 28x28 image as 14 text rows of 28 characters (two pixel rows per line,
 * since a character cell is about twice as tall as it is wide). */
static void ascii_line(const float *image, int line, char out[29])
{
    static const char ramp[] = " .:-=+*#%@";
    for (int col = 0; col < 28; col++) {
        float v = 0.5f * (image[(2 * line) * 28 + col] + image[(2 * line + 1) * 28 + col]);
        int level = (int)(v * 9.0f + 0.5f);
        out[col] = ramp[level < 0 ? 0 : level > 9 ? 9 : level];
    }
    out[28] = '\0';
}

static void show_reconstructions(const fashion_mnist *test, const float *recon)
{
    /* The first test image of each of a few different classes. */
    static const int classes[N_SHOWN] = {9, 2, 1, 8};
    size_t shown[N_SHOWN];
    int n_shown = 0;
    for (int c = 0; c < N_SHOWN; c++)
        for (size_t i = 0; i < test->n_rows; i++)
            if (test->labels[i] == classes[c]) {
                shown[n_shown++] = i;
                break;
            }
    printf("\nTest images (left) and their reconstructions (right):\n");
    for (int first = 0; first < n_shown; first += 2) {
        int pair_count = n_shown - first < 2 ? n_shown - first : 2;
        printf("\n");
        for (int k = 0; k < pair_count; k++)
            printf("%-57.57s%s", CLASS_NAMES[test->labels[shown[first + k]]],
                   k + 1 < pair_count ? "    " : "\n");
        for (int line = 0; line < 14; line++) {
            for (int k = 0; k < pair_count; k++) {
                char a[29], b[29];
                size_t row = shown[first + k];
                ascii_line(test->pixels + row * 784, line, a);
                ascii_line(recon + row * 784, line, b);
                printf("%s|%s%s", a, b, k + 1 < pair_count ? "    " : "\n");
            }
        }
    }
}

int main(int argc, char **argv)
{
    options opt = {DEFAULT_EPOCHS, DEFAULT_BATCH, 0, 0, 0, NULL};
    if (parse_options(argc, argv, &opt) != 0)
        return 2;
    const double start_s = now_seconds();

    fashion_mnist train = {0}, test = {0};
    ae_model *model = NULL;
    float *recon = NULL, *mean_image = NULL;
    int status = 1;
    char err[512];

    if (fashion_mnist_load(opt.data_dir, FASHION_MNIST_TRAIN, opt.train_rows, &train, err,
                           sizeof err) != 0 ||
        fashion_mnist_load(opt.data_dir, FASHION_MNIST_TEST, opt.test_rows, &test, err,
                           sizeof err) != 0) {
        fprintf(stderr, "train_fashion_mnist: %s\n", err);
        goto done;
    }

    const size_t widths[] = {784, 512, 256, 64};
    if (ae_model_create(&model, widths, 4, NULL, 0) != AE_OK) {
        fprintf(stderr, "train_fashion_mnist: %s\n", ae_last_error());
        goto done;
    }
    const struct {
        ae_param param;
        double value;
    } settings[] = {
        {AE_PARAM_SEED, (double)opt.seed},
        {AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_RELU},
        {AE_PARAM_LATENT_ACTIVATION, AE_ACT_RELU},
        {AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID},
        {AE_PARAM_LOSS, AE_LOSS_BCE},
        {AE_PARAM_OPTIMIZER, AE_OPT_ADAM},
        {AE_PARAM_LEARNING_RATE, 1e-3},
        {AE_PARAM_EPOCHS, (double)opt.epochs},
        {AE_PARAM_BATCH_SIZE, (double)opt.batch},
        {AE_PARAM_VALIDATION_FRACTION, VALIDATION_FRACTION},
        {AE_PARAM_PATIENCE, PATIENCE},
        {AE_PARAM_MIN_DELTA, 1e-4},
        {AE_PARAM_RESTORE_BEST, 1},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (ae_model_set_param(model, settings[i].param, settings[i].value) != AE_OK) {
            fprintf(stderr, "train_fashion_mnist: %s\n", ae_model_last_error(model));
            goto done;
        }
    }

    progress_state state = {0};
    /* fit holds out round(fraction * rows) rows for validation */
    state.train_rows = train.n_rows - (size_t)llround(VALIDATION_FRACTION * (double)train.n_rows);
    state.tty = isatty(STDOUT_FILENO);
    ae_model_set_param(model, AE_PARAM_PROGRESS_EVERY_BATCH, state.tty);
    ae_model_set_progress(model, on_progress, &state);

    printf("libautoenc %s: Fashion-MNIST autoencoder 784-512-256-64-256-512-784\n"
           "%zu parameters, ReLU inside, sigmoid output, BCE loss, Adam (lr 1e-3)\n"
           "training on %zu images (%.0f%% held out for validation), batch %lu, "
           "at most %lu epochs, early stopping after %d without improvement\n",
           ae_version_string(), ae_model_param_count(model), train.n_rows,
           100.0 * VALIDATION_FRACTION, opt.batch, opt.epochs, PATIENCE);
    /* The BLAS does the heavy lifting: which one, and whether it runs kernels older than
     * this CPU supports (Debian 12's OpenBLAS on recent Intel CPUs). */
    const blas_hint blas = blas_hint_query();
    char blas_text[512];
    blas_hint_describe(&blas, blas_text, sizeof blas_text);
    printf("BLAS: %s\n", blas_text);
    if (blas_hint_note(&blas, blas_text, sizeof blas_text))
        printf("note: %s\n", blas_text);
    printf("\n");
    fflush(stdout);

    ae_fit_report report = {0};
    report.size = sizeof report; /* lets the struct grow in later versions */
    int rc = ae_model_fit(model, train.pixels, train.n_rows, 784, &report);
    if (rc != AE_OK) {
        fprintf(stderr, "train_fashion_mnist: training failed: %s (%s)\n", ae_status_str(rc),
                ae_model_last_error(model));
        goto done;
    }
    printf("%s after %llu epochs (best: epoch %llu, val loss %.5f%s), %.1f s\n",
           report.stop_reason == AE_STOP_EARLY ? "stopped early" : "finished",
           (unsigned long long)report.epochs_run, (unsigned long long)report.best_epoch,
           report.best_loss, report.restored_best ? ", weights restored" : "", report.seconds);

    /* Test-set quality: the model's MSE and BCE, against always predicting the
     * mean training image. */
    const size_t n_test = test.n_rows;
    recon = malloc(n_test * 784 * sizeof *recon);
    mean_image = calloc(784, sizeof *mean_image);
    if (recon == NULL || mean_image == NULL) {
        fprintf(stderr, "train_fashion_mnist: out of memory\n");
        goto done;
    }
    double test_bce = 0;
    if (ae_model_reconstruct(model, test.pixels, n_test, 784, recon, 784) != AE_OK ||
        ae_model_loss(model, test.pixels, n_test, 784, &test_bce) != AE_OK) {
        fprintf(stderr, "train_fashion_mnist: %s\n", ae_last_error());
        goto done;
    }
    for (size_t i = 0; i < train.n_rows; i++)
        for (size_t j = 0; j < 784; j++)
            mean_image[j] += train.pixels[i * 784 + j] / (float)train.n_rows;
    double mse = 0, mean_mse = 0, mean_bce = 0;
    for (size_t i = 0; i < n_test; i++) {
        for (size_t j = 0; j < 784; j++) {
            double x = test.pixels[i * 784 + j];
            double p = fmin(fmax(mean_image[j], 1e-7), 1 - 1e-7);
            mse += (recon[i * 784 + j] - x) * (recon[i * 784 + j] - x);
            mean_mse += (p - x) * (p - x);
            mean_bce -= x * log(p) + (1 - x) * log(1 - p);
        }
    }
    const double n_values = (double)n_test * 784.0;
    printf("\nTest set (%zu images)          MSE       BCE\n"
           "  autoencoder                %.5f   %.5f\n"
           "  mean training image        %.5f   %.5f\n"
           "Training speed: %.0f samples/s; whole demo: %.1f s\n",
           n_test, mse / n_values, test_bce, mean_mse / n_values, mean_bce / n_values,
           report.samples_per_second, now_seconds() - start_s);

    show_reconstructions(&test, recon);
    status = 0;
done:
    ae_model_free(model);
    free(recon);
    free(mean_image);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
    return status;
}
