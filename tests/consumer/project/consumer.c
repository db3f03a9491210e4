/* An outside program built against an installed libautoenc (tests/consumer): it checks
 * that the header and the library it loads agree on the version, trains a small model
 * for a few epochs on made-up data, and checks that the loss fell and the codes are
 * finite. Prints "autoenc <version>" for the test to compare with the build's version. */
#include <autoenc.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { N_ROWS = 64, N_COLS = 8, N_LATENT = 3 };

static int check(int rc, const char *what)
{
    if (rc != AE_OK) {
        fprintf(stderr, "consumer: %s: %s (%s)\n", what, ae_status_str(rc), ae_last_error());
    }
    return rc;
}

int main(void)
{
    char header_version[32];
    snprintf(header_version, sizeof header_version, "%d.%d.%d",
             AE_VERSION_MAJOR, AE_VERSION_MINOR, AE_VERSION_PATCH);
    printf("autoenc %s\n", ae_version_string());
    if (ae_version_number() != AE_VERSION_NUMBER || strcmp(ae_version_string(), header_version) != 0) {
        fprintf(stderr, "consumer: library %s (%u), header %s (%d)\n", ae_version_string(),
                ae_version_number(), header_version, AE_VERSION_NUMBER);
        return 1;
    }

    static float x[N_ROWS * N_COLS];
    static float codes[N_ROWS * N_LATENT];
    for (size_t i = 0; i < N_ROWS; i++) {
        for (size_t j = 0; j < N_COLS; j++) {
            x[i * N_COLS + j] = (float)(0.5 + 0.4 * sin(0.37 * (double)i + 1.1 * (double)j));
        }
    }

    const size_t widths[] = {N_COLS, 6, N_LATENT};
    ae_model *model = NULL;
    double loss_before = 0.0, loss_after = 0.0;
    int rc = check(ae_model_create(&model, widths, 3, NULL, 0), "create");
    if (rc == AE_OK) rc = check(ae_model_set_param(model, AE_PARAM_SEED, 7), "seed");
    if (rc == AE_OK) rc = check(ae_model_set_param(model, AE_PARAM_EPOCHS, 20), "epochs");
    if (rc == AE_OK) rc = check(ae_model_set_param(model, AE_PARAM_BATCH_SIZE, 16), "batch size");
    if (rc == AE_OK) rc = check(ae_model_set_param(model, AE_PARAM_LEARNING_RATE, 1e-2), "learning rate");
    if (rc == AE_OK) rc = check(ae_model_loss(model, x, N_ROWS, N_COLS, &loss_before), "loss");
    if (rc == AE_OK) rc = check(ae_model_fit(model, x, N_ROWS, N_COLS, NULL), "fit");
    if (rc == AE_OK) rc = check(ae_model_loss(model, x, N_ROWS, N_COLS, &loss_after), "loss");
    if (rc == AE_OK) rc = check(ae_model_encode(model, x, N_ROWS, N_COLS, codes, N_LATENT), "encode");
    ae_model_free(model);
    if (rc != AE_OK) {
        return 1;
    }

    for (size_t k = 0; k < N_ROWS * N_LATENT; k++) {
        if (!isfinite(codes[k])) {
            fprintf(stderr, "consumer: code %zu is not finite\n", k);
            return 1;
        }
    }
    printf("loss %.5f -> %.5f\n", loss_before, loss_after);
    if (!(loss_after < loss_before)) {
        fprintf(stderr, "consumer: training did not lower the loss\n");
        return 1;
    }
    return 0;
}
