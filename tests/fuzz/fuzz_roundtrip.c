/* libFuzzer target: the bytes are a recipe for a small model (architecture variant, widths,
 * activations, loss, optimizer, regularisers, scaling, seed, a few training steps, save
 * flags). The model is saved to memory and loaded back; the copy must give the same bytes,
 * the same codes, and, with the optimizer state, the same weights after one more training
 * step. Its exported encoder must round-trip the same way. Any difference traps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autoenc.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct recipe {
    const uint8_t *data;
    size_t size, pos;
} recipe;

/* The next byte of the recipe, 0 once it is used up. */
static unsigned next(recipe *r) { return r->pos < r->size ? r->data[r->pos++] : 0; }

static int same_params(const ae_model *a, const ae_model *b)
{
    size_t n = ae_model_param_count(a);
    if (n != ae_model_param_count(b))
        return 0;
    float *pa = fuzz_malloc(n * sizeof *pa), *pb = fuzz_malloc(n * sizeof *pb);
    if (ae_model_get_params(a, pa, n) != AE_OK || ae_model_get_params(b, pb, n) != AE_OK)
        __builtin_trap();
    int same = memcmp(pa, pb, n * sizeof *pa) == 0;
    free(pa);
    free(pb);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    recipe r = {data, size, 0};
    static const unsigned architectures[] = {AE_ARCH_PLAIN, AE_ARCH_TIED_WEIGHTS, AE_ARCH_VARIATIONAL};
    const unsigned architecture = architectures[next(&r) % 3];
    size_t enc[5], dec[5];
    size_t n_enc = 2 + next(&r) % 3, n_dec = 0;
    for (size_t i = 0; i < n_enc; i++)
        enc[i] = 1 + next(&r) % 8;
    if ((next(&r) & 1) && architecture != AE_ARCH_TIED_WEIGHTS) { /* a decoder of its own */
        n_dec = 2 + next(&r) % 3;
        for (size_t i = 0; i < n_dec; i++)
            dec[i] = 1 + next(&r) % 8;
        dec[0] = enc[n_enc - 1];
        dec[n_dec - 1] = enc[0];
    }
    ae_model *m = NULL;
    if (ae_model_create_ex(&m, enc, n_enc, n_dec ? dec : NULL, n_dec, architecture) != AE_OK)
        __builtin_trap();
    int output = (int)(next(&r) % 7);
    ae_model_set_param(m, AE_PARAM_THREADS, 1);
    ae_model_set_param(m, AE_PARAM_SEED, next(&r) | next(&r) << 8);
    ae_model_set_param(m, AE_PARAM_HIDDEN_ACTIVATION, next(&r) % 7);
    ae_model_set_param(m, AE_PARAM_LATENT_ACTIVATION, next(&r) % 7);
    ae_model_set_param(m, AE_PARAM_OUTPUT_ACTIVATION, output);
    if (output == AE_ACT_SIGMOID && (next(&r) & 1))
        ae_model_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    ae_model_set_param(m, AE_PARAM_OPTIMIZER, next(&r) % 3);
    ae_model_set_param(m, AE_PARAM_MOMENTUM, (next(&r) % 10) / 10.0);
    ae_model_set_param(m, AE_PARAM_NESTEROV, next(&r) & 1);
    ae_model_set_param(m, AE_PARAM_WEIGHT_DECAY, (next(&r) % 4) / 100.0);
    ae_model_set_param(m, AE_PARAM_LEARNING_RATE, (1 + next(&r) % 100) / 1000.0);
    ae_model_set_param(m, AE_PARAM_CLIP_NORM, (next(&r) % 3) * 0.5);
    /* Regularisers and scaling; settings that conflict with others (a variational model's
     * penalties, standardised BCE targets) are refused when set, and a conflict with a
     * setting left at its default makes training calls fail: both are allowed. */
    ae_model_set_param(m, AE_PARAM_DROPOUT_INPUT, (next(&r) % 3) * 0.25);
    ae_model_set_param(m, AE_PARAM_DROPOUT_HIDDEN, (next(&r) % 3) * 0.25);
    ae_model_set_param(m, AE_PARAM_ACTIVITY_L1, (next(&r) % 3) * 0.05);
    ae_model_set_param(m, AE_PARAM_CONTRACTIVE_WEIGHT, (next(&r) % 3) * 0.05);
    ae_model_set_param(m, AE_PARAM_KL_WEIGHT, (next(&r) % 3) * 0.5);
    ae_model_set_param(m, AE_PARAM_SCALING, next(&r) % 3);
    double scaling = AE_SCALING_NONE; /* what the model took */
    if (ae_model_get_param(m, AE_PARAM_SCALING, &scaling) != AE_OK)
        __builtin_trap();

    size_t in = ae_model_input_dim(m), rows = 1 + next(&r) % 4;
    float *x = fuzz_malloc(rows * in * sizeof *x);
    for (size_t i = 0; i < rows * in; i++)
        x[i] = (float)next(&r) / 255.0f;
    if (scaling != AE_SCALING_NONE && ae_model_fit_scaling(m, x, rows, in) != AE_OK)
        __builtin_trap();
    unsigned steps = next(&r) % 4;
    for (unsigned s = 0; s < steps; s++)
        ae_model_train_batch(m, x, rows, in, NULL); /* may diverge: still a valid model */
    unsigned flags = next(&r) & 1 ? AE_SAVE_OPTIMIZER_STATE : AE_SAVE_DEFAULT;

    ae_model *copy = fuzz_reload_checking_bytes(m, flags);
    if (!same_params(m, copy))
        __builtin_trap();
    fuzz_check_same_codes(m, copy, x, rows);
    if (flags == AE_SAVE_OPTIMIZER_STATE) {
        int sa = ae_model_train_batch(m, x, rows, in, NULL);
        int sb = ae_model_train_batch(copy, x, rows, in, NULL);
        if (sa != sb || !same_params(m, copy))
            __builtin_trap();
    }
    ae_model *encoder = NULL;
    if (ae_model_export_encoder(m, &encoder) != AE_OK)
        __builtin_trap();
    fuzz_check_same_codes(m, encoder, x, rows);
    ae_model *encoder_copy = fuzz_reload_checking_bytes(encoder, AE_SAVE_DEFAULT);
    fuzz_check_same_codes(encoder, encoder_copy, x, rows);
    ae_model_free(encoder_copy);
    ae_model_free(encoder);
    free(x);
    ae_model_free(copy);
    ae_model_free(m);
    return 0;
}
