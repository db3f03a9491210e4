/* Writes the golden model files of format 1.0 and prints the results the test suite
 * expects from them (tests/data/golden-v1.0-expected.h). Run once, when the format
 * version was created; the files are then kept forever, never regenerated:
 *   cc -std=c11 -Iinclude tests/data/make_golden.c -Lbuild/src -lautoenc -o make_golden
 *   LD_LIBRARY_PATH=build/src ./make_golden tests/data > tests/data/golden-v1.0-expected.h
 */
#include <stdio.h>
#include <stdlib.h>

#include "autoenc.h"

#define ROWS 4
#define INPUT_DIM 8

static void check(int status)
{
    if (status != AE_OK) {
        fprintf(stderr, "make_golden: %s: %s\n", ae_status_str(status), ae_last_error());
        exit(1);
    }
}

/* The same formula as golden_input() in tests/test_format.c. */
static void input(float *x, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            x[i * cols + j] = (float)((i * 7 + j * 3) % 11) / 10.0f;
}

static void print_floats(const char *name, const float *v, size_t n)
{
    printf("static const float %s[%zu] = {", name, n);
    for (size_t i = 0; i < n; i++)
        printf("%s%a", i == 0 ? "\n    " : i % 4 ? ", " : ",\n    ", (double)v[i]);
    printf("};\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_golden OUTPUT_DIR > golden-v1.0-expected.h\n");
        return 2;
    }
    char path[4096];
    float x[12 * INPUT_DIM];
    input(x, 12, INPUT_DIM);
    printf("/* Written by tests/data/make_golden.c with the golden files; do not edit. */\n");
    printf("#define GOLDEN_ROWS %d\n#define GOLDEN_INPUT_DIM %d\n", ROWS, INPUT_DIM);

    /* 1. mirrored 8-5-3-5-8, tanh / linear / sigmoid, BCE, trained with Adam */
    {
        size_t widths[] = {INPUT_DIM, 5, 3};
        ae_model *m;
        check(ae_model_create(&m, widths, 3, NULL, 0));
        check(ae_model_set_param(m, AE_PARAM_SEED, 7));
        check(ae_model_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_TANH));
        check(ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, AE_ACT_SIGMOID));
        check(ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE));
        check(ae_model_set_param(m, AE_PARAM_EPOCHS, 5));
        check(ae_model_set_param(m, AE_PARAM_BATCH_SIZE, 4));
        check(ae_model_set_param(m, AE_PARAM_LEARNING_RATE, 0.01));
        check(ae_model_fit(m, x, 12, INPUT_DIM, NULL));
        snprintf(path, sizeof path, "%s/golden-v1.0-mirrored.aemodel", argv[1]);
        check(ae_model_save(m, path, AE_SAVE_DEFAULT));
        float params[16], z[ROWS * 3], y[ROWS * INPUT_DIM];
        float *all = malloc(ae_model_param_count(m) * sizeof *all);
        check(ae_model_get_params(m, all, ae_model_param_count(m)));
        for (int i = 0; i < 16; i++)
            params[i] = all[i];
        free(all);
        check(ae_model_encode(m, x, ROWS, INPUT_DIM, z, 3));
        check(ae_model_reconstruct(m, x, ROWS, INPUT_DIM, y, INPUT_DIM));
        printf("#define GOLDEN_MIRRORED_LATENT 3\n");
        print_floats("golden_mirrored_first_params", params, 16);
        print_floats("golden_mirrored_codes", z, ROWS * 3);
        print_floats("golden_mirrored_outputs", y, ROWS * INPUT_DIM);
        ae_model_free(m);
    }

    /* 2. encoder 8-6-3, decoder 3-8, ELU hidden, AdamW with decay, saved with its state */
    {
        size_t enc[] = {INPUT_DIM, 6, 3}, dec[] = {3, INPUT_DIM};
        ae_model *m;
        check(ae_model_create(&m, enc, 3, dec, 2));
        check(ae_model_set_param(m, AE_PARAM_SEED, 11));
        check(ae_model_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_ELU));
        check(ae_model_set_param(m, AE_PARAM_OPTIMIZER, AE_OPT_ADAMW));
        check(ae_model_set_param(m, AE_PARAM_WEIGHT_DECAY, 0.05));
        check(ae_model_set_param(m, AE_PARAM_LEARNING_RATE, 0.02));
        check(ae_model_set_param(m, AE_PARAM_EPOCHS, 3));
        check(ae_model_set_param(m, AE_PARAM_BATCH_SIZE, 5));
        check(ae_model_fit(m, x, 12, INPUT_DIM, NULL));
        snprintf(path, sizeof path, "%s/golden-v1.0-optimizer.aemodel", argv[1]);
        check(ae_model_save(m, path, AE_SAVE_OPTIMIZER_STATE));
        float z[ROWS * 3];
        double loss;
        check(ae_model_encode(m, x, ROWS, INPUT_DIM, z, 3));
        printf("#define GOLDEN_OPTIMIZER_LATENT 3\n");
        print_floats("golden_optimizer_codes_before", z, ROWS * 3);
        check(ae_model_train_batch(m, x, ROWS, INPUT_DIM, &loss));
        printf("static const double golden_optimizer_loss_before_step = %a;\n", loss);
        check(ae_model_encode(m, x, ROWS, INPUT_DIM, z, 3));
        print_floats("golden_optimizer_codes_after_step", z, ROWS * 3);
        ae_model_free(m);
    }
    return 0;
}
