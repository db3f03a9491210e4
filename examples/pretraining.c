/* Greedy layer-wise pre-training, fine-tuning and a saved encoder.
 *
 * ae_model_pretrain() trains a deep mirrored model one layer pair at a time:
 * stage k is a shallow autoencoder made of encoder layer k and its mirror in
 * the decoder, trained on the codes of the layers below. ae_model_fit() then
 * fine-tunes the whole stack. Here a 784-256-64-16 model is pre-trained on
 * Fashion-MNIST, fine-tuned, and compared with the same model trained from
 * scratch for as many epochs. Then its encoder alone is exported, saved to a
 * file (argument 1, default pretrained_encoder.aemodel), loaded back and used
 * to encode a few test images: the codes are those of the full model. */
#include <autoenc.h>

#include "example_usage.h"
#include "fashion_mnist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(call)                                                                 \
    do {                                                                            \
        if ((call) != AE_OK) {                                                      \
            fprintf(stderr, "pretraining: %s failed: %s\n", #call, ae_last_error()); \
            goto done;                                                              \
        }                                                                           \
    } while (0)

enum { DIM = 784, CODE = 16, STAGES = 3, PRETRAIN_EPOCHS = 5, FINE_TUNE_EPOCHS = 5, SHOWN = 4 };

/* 784-256-64-16 and its mirror; ReLU inside, sigmoid output with cross-entropy. */
static int create_model(ae_model **out)
{
    const size_t widths[] = {DIM, 256, 64, CODE};
    int status = ae_model_create(out, widths, 4, NULL, 0);
    if (status == AE_OK)
        status = ae_model_set_param(*out, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID);
    if (status == AE_OK)
        status = ae_model_set_param(*out, AE_PARAM_LOSS, AE_LOSS_BCE);
    if (status == AE_OK)
        status = ae_model_set_param(*out, AE_PARAM_EPOCHS, FINE_TUNE_EPOCHS);
    return status;
}

int main(int argc, char **argv)
{
    /* One optional argument, the file to write; an option is never taken for a file name. */
    if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
        return example_usage("pretraining [ENCODER_FILE]  (where the encoder is written "
                             "[pretrained_encoder.aemodel])",
                             argc == 2 && example_wants_help(argv[1]));
    }
    const char *path = argc > 1 ? argv[1] : "pretrained_encoder.aemodel";
    /* The file is written after minutes of training: find out now if its folder can take it. */
    {
        char folder[4096];
        const char *slash = strrchr(path, '/');
        size_t length = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
        if (length >= sizeof folder) {
            fprintf(stderr, "pretraining: %s: path too long\n", path);
            return 2;
        }
        memcpy(folder, slash == NULL ? "." : path, length);
        folder[length] = '\0';
        struct stat folder_st;
        errno = 0;
        if (stat(folder, &folder_st) != 0 || !S_ISDIR(folder_st.st_mode) ||
            access(folder, W_OK | X_OK) != 0) {
            fprintf(stderr, "pretraining: cannot write %s: %s: %s\n", path, folder,
                    errno == 0 ? "not a folder" : strerror(errno));
            return 2;
        }
    }
    fashion_mnist train = {0}, test = {0};
    ae_model *model = NULL, *scratch = NULL, *encoder = NULL, *loaded = NULL;
    float codes_model[SHOWN * CODE], codes_loaded[SHOWN * CODE];
    int status = 1;
    char err[512];

    if (fashion_mnist_load(NULL, FASHION_MNIST_TRAIN, 5000, &train, err, sizeof err) != 0 ||
        fashion_mnist_load(NULL, FASHION_MNIST_TEST, 1000, &test, err, sizeof err) != 0) {
        fprintf(stderr, "pretraining: %s\n", err);
        goto done;
    }
    printf("%zu training images, %zu test images\n", train.n_rows, test.n_rows);

    /* Pre-training: each stage runs AE_PARAM_EPOCHS epochs with the model's
     * other settings; one report per stage. */
    CHECK(create_model(&model));
    double loss = 0;
    CHECK(ae_model_loss(model, test.pixels, test.n_rows, DIM, &loss));
    printf("test loss with fresh weights:            %.4f\n", loss);
    CHECK(ae_model_set_param(model, AE_PARAM_EPOCHS, PRETRAIN_EPOCHS));
    ae_fit_report reports[STAGES];
    memset(reports, 0, sizeof reports);
    for (size_t k = 0; k < STAGES; k++)
        reports[k].size = sizeof reports[k];
    CHECK(ae_model_pretrain(model, train.pixels, train.n_rows, DIM, reports, STAGES));
    for (size_t k = 0; k < STAGES; k++) {
        size_t n_out = 0, n_in = 0;
        CHECK(ae_model_layer_info(model, k, &n_out, &n_in, NULL));
        printf("  stage %zu: layers %zu and %zu (%zu -> %zu -> %zu), %s loss %.4f, %.1f s\n", k, k,
               ae_model_layer_count(model) - 1 - k, n_in, n_out, n_in,
               k == 0 ? "cross-entropy" : "squared", reports[k].final_train_loss,
               reports[k].seconds);
    }
    CHECK(ae_model_loss(model, test.pixels, test.n_rows, DIM, &loss));
    printf("test loss after pre-training:            %.4f\n", loss);

    /* Fine-tuning the whole stack, against training from scratch as long. */
    CHECK(ae_model_set_param(model, AE_PARAM_EPOCHS, FINE_TUNE_EPOCHS));
    CHECK(ae_model_fit(model, train.pixels, train.n_rows, DIM, NULL));
    CHECK(ae_model_loss(model, test.pixels, test.n_rows, DIM, &loss));
    printf("test loss after %d epochs of fine-tuning: %.4f\n", FINE_TUNE_EPOCHS, loss);
    CHECK(create_model(&scratch));
    CHECK(ae_model_fit(scratch, train.pixels, train.n_rows, DIM, NULL));
    double scratch_loss = 0;
    CHECK(ae_model_loss(scratch, test.pixels, test.n_rows, DIM, &scratch_loss));
    printf("test loss after %d epochs from scratch:   %.4f\n", FINE_TUNE_EPOCHS, scratch_loss);

    /* The encoder alone: its layers, weights, settings and scaling. It
     * encodes, saves and loads, but cannot decode or train. */
    CHECK(ae_model_export_encoder(model, &encoder));
    CHECK(ae_model_save(encoder, path, AE_SAVE_DEFAULT));
    struct stat st;
    if (stat(path, &st) == 0)
        printf("encoder (%zu layers, %zu parameters) saved to %s: %lld bytes\n",
               ae_model_layer_count(encoder), ae_model_param_count(encoder), path,
               (long long)st.st_size);
    CHECK(ae_model_load(&loaded, path));
    CHECK(ae_model_encode(model, test.pixels, SHOWN, DIM, codes_model, CODE));
    CHECK(ae_model_encode(loaded, test.pixels, SHOWN, DIM, codes_loaded, CODE));
    for (size_t i = 0; i < SHOWN; i++) {
        printf("  test image %zu (class %u):", i, (unsigned)test.labels[i]);
        for (size_t j = 0; j < 8; j++)
            printf(" %6.2f", (double)codes_loaded[i * CODE + j]);
        printf(" ...\n");
    }
    int same = memcmp(codes_model, codes_loaded, sizeof codes_model) == 0;
    printf("codes of the loaded encoder and of the full model: %s\n", same ? "identical" : "DIFFERENT");
    status = same ? 0 : 1;
done:
    ae_model_free(model);
    ae_model_free(scratch);
    ae_model_free(encoder);
    ae_model_free(loaded);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
    return status;
}
