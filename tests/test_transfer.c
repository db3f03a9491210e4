/* Pre-training and transfer (the "Pre-training and transfer" group of autoenc.h): copying
 * layers between models, encoder-only models, greedy layer-wise pre-training and warm starts
 * from saved models. The use on real data is in test_pretrain_fashion.c. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoenc.h"
#include "test_data.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A mirrored 12-8-5-3 model: layers 0..2 encode, 3..5 decode. */
enum { DIM = 12, ROWS = 256, LAYERS = 6, ENCODER_LAYERS = 3, LATENT = 3 };
static const size_t DEEP[] = {DIM, 8, 5, LATENT};

static float *alloc_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

/* ROWS x DIM rows of rank 3 (unit variance entries). */
static float *low_rank_data(uint64_t seed)
{
    test_rng rng;
    test_rng_seed(&rng, seed);
    float *x = test_low_rank_matrix(&rng, ROWS, DIM, 3);
    assert_non_null(x);
    return x;
}

static ae_model *deep_model(uint64_t seed)
{
    ae_model *m = test_create_model(DEEP, ARRAY_LEN(DEEP), NULL, 0);
    test_set_param(m, AE_PARAM_SEED, (double)seed);
    test_set_activations(m, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_LINEAR);
    test_set_param(m, AE_PARAM_LEARNING_RATE, 0.01);
    test_set_epochs_and_batch(m, 3, 32);
    return m;
}

/* A deep model trained for a few epochs: weights not the initial draw, Adam state built. */
static ae_model *trained_deep_model(uint64_t seed)
{
    ae_model *m = deep_model(seed);
    float *x = low_rank_data(seed + 100);
    assert_int_equal(ae_model_fit(m, x, ROWS, DIM, NULL), AE_OK);
    free(x);
    return m;
}

static double loss_of(const ae_model *m, const float *x, size_t rows, size_t ld)
{
    double loss = NAN;
    assert_int_equal(ae_model_loss(m, x, rows, ld, &loss), AE_OK);
    return loss;
}

/* Whether layer a_layer of a and b_layer of b hold bitwise equal weights and biases. */
static int same_layer(const ae_model *a, size_t a_layer, const ae_model *b, size_t b_layer)
{
    size_t out_a, in_a, out_b, in_b;
    assert_int_equal(ae_model_layer_info(a, a_layer, &out_a, &in_a, NULL), AE_OK);
    assert_int_equal(ae_model_layer_info(b, b_layer, &out_b, &in_b, NULL), AE_OK);
    if (out_a != out_b || in_a != in_b)
        return 0;
    float *wa = alloc_floats(out_a * in_a), *wb = alloc_floats(out_a * in_a);
    float *ba = alloc_floats(out_a), *bb = alloc_floats(out_a);
    assert_int_equal(ae_model_get_weights(a, a_layer, wa, out_a * in_a), AE_OK);
    assert_int_equal(ae_model_get_weights(b, b_layer, wb, out_a * in_a), AE_OK);
    assert_int_equal(ae_model_get_bias(a, a_layer, ba, out_a), AE_OK);
    assert_int_equal(ae_model_get_bias(b, b_layer, bb, out_a), AE_OK);
    int same = memcmp(wa, wb, out_a * in_a * sizeof *wa) == 0 && memcmp(ba, bb, out_a * sizeof *ba) == 0;
    free(wa);
    free(wb);
    free(ba);
    free(bb);
    return same;
}

/* A model with the architecture and settings of deep_model(seed), the parameters of m and
 * a fresh optimizer (what m would be after a reset of its optimizer state). */
static ae_model *fresh_optimizer_twin(const ae_model *m, uint64_t seed)
{
    ae_model *twin = deep_model(seed);
    float *params = test_params_of(m);
    assert_int_equal(ae_model_set_params(twin, params, ae_model_param_count(m)), AE_OK);
    free(params);
    return twin;
}

/* One train_batch on each: the same loss and bitwise the same weights afterwards. */
static void assert_next_step_is_the_same(ae_model *a, ae_model *b)
{
    float *x = low_rank_data(999);
    double la, lb;
    assert_int_equal(ae_model_train_batch(a, x, 64, DIM, &la), AE_OK);
    assert_int_equal(ae_model_train_batch(b, x, 64, DIM, &lb), AE_OK);
    assert_true(la == lb);
    assert_true(test_same_params(a, b));
    free(x);
}

/* ================================================================================== */
/* Copying layers                                                                      */
/* ================================================================================== */

static void test_copy_layers_copies_weights_and_biases_of_the_given_range(void **state)
{
    (void)state;
    ae_model *src = trained_deep_model(1);
    /* The same encoder with another decoder and other activations. */
    static const size_t decoder[] = {LATENT, 6, DIM};
    ae_model *dst = test_create_model(DEEP, ARRAY_LEN(DEEP), decoder, ARRAY_LEN(decoder));
    test_set_activations(dst, AE_ACT_RELU, AE_ACT_SIGMOID, AE_ACT_LINEAR);
    ae_model *before = test_clone_model(dst);
    assert_int_equal(ae_model_copy_layers(dst, 0, src, 0, ENCODER_LAYERS), AE_OK);
    for (size_t l = 0; l < ENCODER_LAYERS; l++)
        assert_true(same_layer(dst, l, src, l));
    for (size_t l = ENCODER_LAYERS; l < ae_model_layer_count(dst); l++)
        assert_true(same_layer(dst, l, before, l));
    /* Activations stay dst's own. */
    int act;
    assert_int_equal(ae_model_layer_info(dst, 0, NULL, NULL, &act), AE_OK);
    assert_int_equal(act, AE_ACT_RELU);

    /* Ranges at other positions: src layers 1..4 (8->5->3->5->8) are the whole of an
     * 8-5-3 mirrored model. */
    static const size_t inner[] = {8, 5, 3};
    ae_model *small = test_create_model(inner, ARRAY_LEN(inner), NULL, 0);
    assert_int_equal(ae_model_copy_layers(small, 0, src, 1, 4), AE_OK);
    for (size_t l = 0; l < 4; l++)
        assert_true(same_layer(small, l, src, l + 1));
    /* and one layer back into the middle of a third model. */
    ae_model *third = deep_model(2);
    assert_int_equal(ae_model_copy_layers(third, 4, small, 3, 1), AE_OK);
    assert_true(same_layer(third, 4, src, 4));
    ae_model *third_ref = deep_model(2);
    assert_true(same_layer(third, 3, third_ref, 3));
    assert_true(same_layer(third, 5, third_ref, 5));
    ae_model_free(third_ref);
    ae_model_free(third);
    ae_model_free(small);
    ae_model_free(before);
    ae_model_free(dst);
    ae_model_free(src);
}

/* Every refused copy: AE_ERR_INVALID_ARGUMENT with a message. */
static void expect_copy_refused(ae_model *dst, size_t dst_layer, const ae_model *src, size_t src_layer,
                                size_t n_layers)
{
    int rc = ae_model_copy_layers(dst, dst_layer, src, src_layer, n_layers);
    if (rc != AE_ERR_INVALID_ARGUMENT)
        print_error("copy_layers(dst %zu, src %zu, n %zu) gave %d\n", dst_layer, src_layer, n_layers, rc);
    assert_int_equal(rc, AE_ERR_INVALID_ARGUMENT);
    assert_true(strlen(ae_last_error()) > 0);
}

static void try_every_bad_copy(ae_model *dst, const ae_model *src)
{
    /* dst: 12->8, 8->5, 5->3, 3->6, 6->12; src: 12->8, 8->5, 5->3, 3->5, 5->8, 8->12. */
    expect_copy_refused(dst, 1, src, 0, 1);              /* 12->8 into 8->5 */
    expect_copy_refused(dst, 4, src, 5, 1);              /* 8->12 into 6->12 */
    expect_copy_refused(dst, 0, src, 0, 4);              /* three layers fit, the fourth not */
    expect_copy_refused(dst, 0, src, 0, 0);              /* nothing to copy */
    expect_copy_refused(dst, 4, src, 4, 2);              /* past the end of dst */
    expect_copy_refused(dst, 5, src, 5, 1);              /* dst layer out of range */
    expect_copy_refused(dst, 4, src, 6, 1);              /* src layer out of range */
    expect_copy_refused(dst, SIZE_MAX, src, 0, 2);       /* offsets that wrap */
    expect_copy_refused(dst, 0, src, SIZE_MAX, 2);
    expect_copy_refused(dst, 1, src, 1, SIZE_MAX);
    expect_copy_refused(dst, 0, dst, 0, 1);              /* dst is src */
    expect_copy_refused(NULL, 0, src, 0, 1);
    expect_copy_refused(dst, 0, NULL, 0, 1);
}

static void test_copy_layers_refuses_bad_copies_and_leaves_dst_unchanged(void **state)
{
    (void)state;
    ae_model *src = trained_deep_model(3);
    /* dst: the same encoder, decoder 3 -> 6 -> 12 (layers 3, 4). */
    static const size_t decoder[] = {LATENT, 6, DIM};
    ae_model *fresh = test_create_model(DEEP, ARRAY_LEN(DEEP), decoder, ARRAY_LEN(decoder));
    ae_model *fresh_ref = test_clone_model(fresh);
    try_every_bad_copy(fresh, src);
    assert_true(test_same_params(fresh, fresh_ref));
    /* Still fresh: a new seed redraws the weights as in an untouched model. */
    test_set_param(fresh, AE_PARAM_SEED, 77);
    test_set_param(fresh_ref, AE_PARAM_SEED, 77);
    assert_true(test_same_params(fresh, fresh_ref));

    /* A trained dst keeps its optimizer state through refused copies. */
    ae_model *trained = test_create_model(DEEP, ARRAY_LEN(DEEP), decoder, ARRAY_LEN(decoder));
    float *x = low_rank_data(4);
    assert_int_equal(ae_model_fit(trained, x, ROWS, DIM, NULL), AE_OK);
    ae_model *trained_ref = test_clone_model(trained);
    try_every_bad_copy(trained, src);
    assert_true(test_same_params(trained, trained_ref));
    assert_next_step_is_the_same(trained, trained_ref);
    free(x);
    ae_model_free(trained);
    ae_model_free(trained_ref);
    ae_model_free(fresh);
    ae_model_free(fresh_ref);
    ae_model_free(src);
}

static void test_copy_layers_resets_the_optimizer_state_of_dst(void **state)
{
    (void)state;
    static const int optimizers[] = {AE_OPT_ADAM, AE_OPT_SGD, AE_OPT_ADAMW};
    for (size_t k = 0; k < ARRAY_LEN(optimizers); k++) {
        ae_model *src = trained_deep_model(5);
        ae_model *dst = deep_model(6);
        test_set_param(dst, AE_PARAM_OPTIMIZER, optimizers[k]);
        test_set_param(dst, AE_PARAM_MOMENTUM, 0.9);
        float *x = low_rank_data(7);
        assert_int_equal(ae_model_fit(dst, x, ROWS, DIM, NULL), AE_OK); /* builds moments */
        assert_int_equal(ae_model_copy_layers(dst, 0, src, 0, 2), AE_OK);
        /* The next step is that of a model with these weights and no moments. */
        ae_model *fresh = fresh_optimizer_twin(dst, 6);
        test_set_param(fresh, AE_PARAM_OPTIMIZER, optimizers[k]);
        test_set_param(fresh, AE_PARAM_MOMENTUM, 0.9);
        assert_true(test_same_params(dst, fresh));
        for (int step = 0; step < 3; step++)
            assert_next_step_is_the_same(dst, fresh);
        free(x);
        ae_model_free(fresh);
        ae_model_free(dst);
        ae_model_free(src);
    }
}

static void test_copy_layers_ends_the_fresh_weights_state_of_dst(void **state)
{
    (void)state;
    ae_model *src = trained_deep_model(8);
    ae_model *dst = deep_model(9);
    assert_int_equal(ae_model_copy_layers(dst, 2, src, 2, 1), AE_OK);
    float *after_copy = test_params_of(dst);
    test_set_param(dst, AE_PARAM_SEED, 10);
    test_set_param(dst, AE_PARAM_HIDDEN_ACTIVATION, AE_ACT_ELU);
    assert_true(test_params_equal_to(dst, after_copy));
    free(after_copy);
    ae_model_free(dst);
    ae_model_free(src);
}

static void test_copy_layers_does_not_copy_the_scaling(void **state)
{
    (void)state;
    float *x = low_rank_data(11);
    ae_model *src = deep_model(12);
    test_set_param(src, AE_PARAM_SCALING, AE_SCALING_STANDARDIZE);
    assert_int_equal(ae_model_fit(src, x, ROWS, DIM, NULL), AE_OK);
    float offset[DIM], scale[DIM];
    ae_model *plain = deep_model(13), *unfitted = deep_model(14);
    test_set_param(unfitted, AE_PARAM_SCALING, AE_SCALING_MINMAX);
    assert_int_equal(ae_model_copy_layers(plain, 0, src, 0, LAYERS), AE_OK);
    assert_int_equal(ae_model_copy_layers(unfitted, 0, src, 0, LAYERS), AE_OK);
    double kind;
    assert_int_equal(ae_model_get_param(plain, AE_PARAM_SCALING, &kind), AE_OK);
    assert_true(kind == AE_SCALING_NONE);
    assert_int_equal(ae_model_get_scaling(plain, offset, scale, DIM), AE_ERR_STATE);
    assert_int_equal(ae_model_get_scaling(unfitted, offset, scale, DIM), AE_ERR_STATE);
    /* ae_model_set_scaling is the way to carry it over. */
    assert_int_equal(ae_model_get_scaling(src, offset, scale, DIM), AE_OK);
    assert_int_equal(ae_model_set_scaling(unfitted, offset, scale, DIM), AE_OK);
    float z[ROWS * LATENT], z_src[ROWS * LATENT];
    assert_int_equal(ae_model_encode(src, x, ROWS, DIM, z_src, LATENT), AE_OK);
    assert_int_equal(ae_model_encode(unfitted, x, ROWS, DIM, z, LATENT), AE_OK);
    assert_memory_equal(z, z_src, sizeof z);
    free(x);
    ae_model_free(src);
    ae_model_free(plain);
    ae_model_free(unfitted);
}

/* ================================================================================== */
/* Encoder-only models                                                                  */
/* ================================================================================== */

static ae_model *export_of(const ae_model *m)
{
    ae_model *encoder = NULL;
    int rc = ae_model_export_encoder(m, &encoder);
    if (rc != AE_OK)
        print_error("export_encoder: %s\n", ae_last_error());
    assert_int_equal(rc, AE_OK);
    assert_non_null(encoder);
    return encoder;
}

static void assert_encodes_identically(const ae_model *a, const ae_model *b)
{
    enum { MANY = 1100, LD = DIM + 3 };
    test_rng rng;
    test_rng_seed(&rng, 15);
    float *x = test_random_matrix(&rng, MANY, DIM, LD, -2.0f, 2.0f);
    assert_non_null(x);
    float *za = alloc_floats(MANY * LATENT), *zb = alloc_floats(MANY * LATENT);
    assert_int_equal(ae_model_encode(a, x, MANY, LD, za, LATENT), AE_OK);
    assert_int_equal(ae_model_encode(b, x, MANY, LD, zb, LATENT), AE_OK);
    assert_memory_equal(za, zb, MANY * LATENT * sizeof *za);
    /* A single row takes the matrix-vector path. */
    assert_int_equal(ae_model_encode(a, x + 7 * LD, 1, LD, za, LATENT), AE_OK);
    assert_int_equal(ae_model_encode(b, x + 7 * LD, 1, LD, zb, LATENT), AE_OK);
    assert_memory_equal(za, zb, LATENT * sizeof *za);
    free(x);
    free(za);
    free(zb);
}

static void test_exported_encoder_has_the_encoder_layers_weights_and_settings(void **state)
{
    (void)state;
    ae_model *m = trained_deep_model(16);
    test_set_param(m, AE_PARAM_LATENT_ACTIVATION, AE_ACT_SIGMOID);
    test_set_param(m, AE_PARAM_WEIGHT_DECAY, 0.125);
    ae_model *encoder = export_of(m);
    assert_int_equal(ae_model_layer_count(encoder), ENCODER_LAYERS);
    assert_int_equal(ae_model_encoder_layer_count(encoder), ENCODER_LAYERS);
    assert_int_equal(ae_model_input_dim(encoder), DIM);
    assert_int_equal(ae_model_latent_dim(encoder), LATENT);
    size_t n_params = 0;
    for (size_t l = 0; l < ENCODER_LAYERS; l++) {
        size_t out_m, in_m, out_e, in_e;
        int act_m, act_e;
        assert_int_equal(ae_model_layer_info(m, l, &out_m, &in_m, &act_m), AE_OK);
        assert_int_equal(ae_model_layer_info(encoder, l, &out_e, &in_e, &act_e), AE_OK);
        assert_int_equal(out_e, out_m);
        assert_int_equal(in_e, in_m);
        assert_int_equal(act_e, act_m);
        assert_true(same_layer(encoder, l, m, l));
        n_params += out_m * in_m + out_m;
    }
    assert_int_equal(ae_model_layer_info(encoder, ENCODER_LAYERS, NULL, NULL, NULL),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_param_count(encoder), n_params);
    for (int id = 0; id < 256; id++) {
        if (!ae_param_name((ae_param)id))
            continue;
        double vm, ve;
        assert_int_equal(ae_model_get_param(m, (ae_param)id, &vm), AE_OK);
        assert_int_equal(ae_model_get_param(encoder, (ae_param)id, &ve), AE_OK);
        assert_memory_equal(&vm, &ve, sizeof vm);
    }
    assert_encodes_identically(m, encoder);
    ae_model_free(encoder);
    ae_model_free(m);
}

static void test_exported_encoder_refuses_calls_that_need_a_decoder(void **state)
{
    (void)state;
    ae_model *m = trained_deep_model(17);
    ae_model *encoder = export_of(m);
    assert_int_equal(ae_model_set_threshold(encoder, 1.0), AE_OK); /* for detect */
    float *before = test_params_of(encoder);
    float *x = low_rank_data(18);
    size_t n = ae_model_param_count(encoder);
    float *g = alloc_floats(n), *y = alloc_floats(ROWS * DIM), *s = alloc_floats(ROWS);
    float *z = alloc_floats(ROWS * LATENT);
    uint8_t *labels = malloc(ROWS);
    assert_non_null(labels);
    double loss, threshold;
    ae_fit_report report = test_new_fit_report();
    assert_int_equal(ae_model_encode(encoder, x, ROWS, DIM, z, LATENT), AE_OK);
    assert_int_equal(ae_model_fit(encoder, x, ROWS, DIM, &report), AE_ERR_STATE);
    assert_true(strlen(ae_model_last_error(encoder)) > 0);
    assert_int_equal(ae_model_fit_validated(encoder, x, ROWS, DIM, x, 10, DIM, NULL), AE_ERR_STATE);
    assert_int_equal(ae_model_train_batch(encoder, x, ROWS, DIM, &loss), AE_ERR_STATE);
    assert_int_equal(ae_model_gradient(encoder, x, ROWS, DIM, g, n, &loss), AE_ERR_STATE);
    assert_int_equal(ae_model_pretrain(encoder, x, ROWS, DIM, NULL, 0), AE_ERR_STATE);
    assert_int_equal(ae_model_decode(encoder, z, ROWS, LATENT, y, DIM), AE_ERR_STATE);
    assert_true(strlen(ae_last_error()) > 0);
    assert_int_equal(ae_model_reconstruct(encoder, x, ROWS, DIM, y, DIM), AE_ERR_STATE);
    assert_int_equal(ae_model_score(encoder, x, ROWS, DIM, s), AE_ERR_STATE);
    assert_int_equal(ae_model_loss(encoder, x, ROWS, DIM, &loss), AE_ERR_STATE);
    assert_int_equal(ae_model_feature_errors(encoder, x, ROWS, DIM, y, DIM), AE_ERR_STATE);
    assert_int_equal(ae_model_fit_threshold(encoder, x, ROWS, DIM, 0.1, &threshold), AE_ERR_STATE);
    assert_int_equal(ae_model_detect(encoder, x, ROWS, DIM, labels, NULL), AE_ERR_STATE);
    assert_true(test_params_equal_to(encoder, before));
    free(before);
    free(x);
    free(g);
    free(y);
    free(s);
    free(z);
    free(labels);
    ae_model_free(encoder);
    ae_model_free(m);
}

static void test_exported_encoder_has_no_threshold_and_leaves_the_source_alone(void **state)
{
    (void)state;
    ae_model *m = trained_deep_model(19);
    assert_int_equal(ae_model_set_threshold(m, 0.75), AE_OK);
    ae_model *before = test_clone_model(m);
    ae_model *encoder = export_of(m);
    double threshold;
    assert_int_equal(ae_model_get_threshold(encoder, &threshold), AE_ERR_STATE);
    assert_int_equal(ae_model_get_threshold(m, &threshold), AE_OK);
    assert_true(threshold == 0.75);
    assert_true(test_same_params(m, before));
    assert_int_equal(ae_model_layer_count(m), LAYERS);
    assert_next_step_is_the_same(m, before); /* optimizer state untouched too */
    ae_model_free(encoder);
    ae_model_free(before);
    ae_model_free(m);
}

static void test_exported_encoder_survives_clone_and_save_and_load(void **state)
{
    (void)state;
    ae_model *m = trained_deep_model(20);
    ae_model *encoder = export_of(m);
    ae_model *copy = test_clone_model(encoder);
    assert_int_equal(ae_model_layer_count(copy), ENCODER_LAYERS);
    assert_encodes_identically(m, copy);
    for (unsigned flags = 0; flags <= AE_SAVE_OPTIMIZER_STATE; flags++) {
        size_t size = 0, written = 0;
        assert_int_equal(ae_model_save_size(encoder, flags, &size), AE_OK);
        unsigned char *buf = malloc(size);
        assert_non_null(buf);
        assert_int_equal(ae_model_save_to_memory(encoder, flags, buf, size, &written), AE_OK);
        assert_int_equal(written, size);
        ae_model *loaded = NULL;
        assert_int_equal(ae_model_load_from_memory(&loaded, buf, written), AE_OK);
        assert_int_equal(ae_model_layer_count(loaded), ENCODER_LAYERS);
        assert_int_equal(ae_model_encoder_layer_count(loaded), ENCODER_LAYERS);
        assert_true(test_same_params(loaded, encoder));
        assert_encodes_identically(m, loaded);
        float z[LATENT] = {0}, y[DIM];
        assert_int_equal(ae_model_decode(loaded, z, 1, LATENT, y, DIM), AE_ERR_STATE);
        ae_model_free(loaded);
        free(buf);
    }
    char dir[] = "/tmp/ae_transfer_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/encoder.aemodel", dir);
    assert_int_equal(ae_model_save(encoder, path, AE_SAVE_DEFAULT), AE_OK);
    ae_model *loaded = NULL;
    assert_int_equal(ae_model_load(&loaded, path), AE_OK);
    assert_int_equal(ae_model_layer_count(loaded), ENCODER_LAYERS);
    assert_encodes_identically(m, loaded);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    ae_model_free(loaded);
    ae_model_free(copy);
    ae_model_free(encoder);
    ae_model_free(m);
}

static void test_exported_encoder_layers_copy_into_a_bigger_model(void **state)
{
    (void)state;
    ae_model *m = trained_deep_model(21);
    ae_model *encoder = export_of(m);
    /* The same encoder under a deeper decoder. */
    static const size_t decoder[] = {LATENT, 5, 8, 10, DIM};
    ae_model *bigger = test_create_model(DEEP, ARRAY_LEN(DEEP), decoder, ARRAY_LEN(decoder));
    test_set_activations(bigger, AE_ACT_TANH, AE_ACT_LINEAR, AE_ACT_LINEAR);
    assert_int_equal(ae_model_copy_layers(bigger, 0, encoder, 0, ENCODER_LAYERS), AE_OK);
    assert_encodes_identically(m, bigger);
    /* The decoder-side copies are refused: the encoder-only model has no layer 3. */
    expect_copy_refused(bigger, 3, encoder, 3, 1);
    /* and it trains from there. */
    float *x = low_rank_data(22);
    double before = loss_of(bigger, x, ROWS, DIM);
    assert_int_equal(ae_model_fit(bigger, x, ROWS, DIM, NULL), AE_OK);
    assert_true(loss_of(bigger, x, ROWS, DIM) < before);
    free(x);
    ae_model_free(bigger);
    ae_model_free(encoder);
    ae_model_free(m);
}

static void test_export_encoder_refuses_bad_arguments(void **state)
{
    (void)state;
    ae_model *m = deep_model(23);
    ae_model *out = (ae_model *)(uintptr_t)1;
    assert_int_equal(ae_model_export_encoder(NULL, &out), AE_ERR_INVALID_ARGUMENT);
    assert_null(out);
    assert_int_equal(ae_model_export_encoder(m, NULL), AE_ERR_INVALID_ARGUMENT);
    ae_model_free(m);
}

/* ================================================================================== */
/* Layer-wise pre-training                                                              */
/* ================================================================================== */

static void test_pretrain_refuses_bad_arguments_and_leaves_the_model_unchanged(void **state)
{
    (void)state;
    ae_model *m = trained_deep_model(24);
    ae_model *before = test_clone_model(m);
    float *x = low_rank_data(25);
    ae_fit_report reports[ENCODER_LAYERS + 1];
    for (size_t k = 0; k < ARRAY_LEN(reports); k++)
        reports[k] = test_new_fit_report();
    assert_int_equal(ae_model_pretrain(NULL, x, ROWS, DIM, NULL, 0), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_pretrain(m, NULL, ROWS, DIM, NULL, 0), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_pretrain(m, x, 0, DIM, NULL, 0), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM - 1, NULL, 0), AE_ERR_INVALID_ARGUMENT);
    /* reports: NULL with 0, else exactly one per encoder layer. */
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, NULL, ENCODER_LAYERS), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, reports, 0), AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, reports, ENCODER_LAYERS - 1),
                     AE_ERR_INVALID_ARGUMENT);
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, reports, ENCODER_LAYERS + 1),
                     AE_ERR_INVALID_ARGUMENT);
    assert_true(strlen(ae_model_last_error(m)) > 0);
    /* Bad data is found before any stage runs. */
    x[100 * DIM + 9] = NAN;
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, reports, ENCODER_LAYERS),
                     AE_ERR_NON_FINITE_INPUT);
    assert_non_null(strstr(ae_last_error(), "row 100, column 9"));
    assert_true(test_same_params(m, before));
    assert_next_step_is_the_same(m, before); /* the optimizer state too */
    free(x);
    ae_model_free(before);
    ae_model_free(m);
}

static void test_pretrain_refuses_a_decoder_that_does_not_mirror_the_encoder(void **state)
{
    (void)state;
    float *x = low_rank_data(26);
    static const size_t deeper[] = {LATENT, 5, 8, 10, DIM}, other[] = {LATENT, 6, 8, DIM};
    static const size_t *decoders[] = {deeper, other};
    static const size_t lengths[] = {ARRAY_LEN(deeper), ARRAY_LEN(other)};
    for (size_t k = 0; k < 2; k++) {
        ae_model *m = test_create_model(DEEP, ARRAY_LEN(DEEP), decoders[k], lengths[k]);
        float *before = test_params_of(m);
        assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, NULL, 0), AE_ERR_STATE);
        assert_true(strlen(ae_model_last_error(m)) > 0);
        assert_true(test_params_equal_to(m, before));
        free(before);
        ae_model_free(m);
    }
    /* A decoder given explicitly with the mirrored widths does mirror the encoder. */
    static const size_t mirrored[] = {LATENT, 5, 8, DIM};
    ae_model *m = test_create_model(DEEP, ARRAY_LEN(DEEP), mirrored, ARRAY_LEN(mirrored));
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, NULL, 0), AE_OK);
    ae_model_free(m);
    free(x);
}

static void test_pretrain_fills_one_report_per_stage(void **state)
{
    (void)state;
    ae_model *m = deep_model(27);
    test_set_param(m, AE_PARAM_VALIDATION_FRACTION, 0.25);
    float *x = low_rank_data(28);
    ae_fit_report reports[ENCODER_LAYERS];
    for (size_t k = 0; k < ENCODER_LAYERS; k++)
        reports[k] = test_new_fit_report();
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, reports, ENCODER_LAYERS), AE_OK);
    /* 3 epochs of 192 training rows in batches of 32: 6 steps an epoch. */
    for (size_t k = 0; k < ENCODER_LAYERS; k++) {
        print_message("      stage %zu: train loss %.4g, validation loss %.4g\n", k,
                      reports[k].final_train_loss, reports[k].final_val_loss);
        assert_int_equal(reports[k].size, sizeof reports[k]);
        assert_int_equal(reports[k].epochs_run, 3);
        assert_int_equal(reports[k].steps_run, 18);
        assert_int_equal(reports[k].stop_reason, AE_STOP_COMPLETED);
        assert_true(reports[k].best_epoch >= 1 && reports[k].best_epoch <= 3);
        assert_true(isfinite(reports[k].final_train_loss) && reports[k].final_train_loss > 0.0);
        assert_true(isfinite(reports[k].final_val_loss) && reports[k].final_val_loss > 0.0);
        assert_true(reports[k].best_loss <= reports[k].final_val_loss);
        assert_true(reports[k].seconds >= 0.0);
    }
    /* A report of an older, shorter layout gets only its own fields. */
    ae_fit_report short_reports[ENCODER_LAYERS];
    memset(short_reports, 0xA5, sizeof short_reports);
    for (size_t k = 0; k < ENCODER_LAYERS; k++)
        short_reports[k].size = offsetof(ae_fit_report, best_loss);
    ae_model *again = deep_model(27);
    assert_int_equal(ae_model_pretrain(again, x, ROWS, DIM, short_reports, ENCODER_LAYERS), AE_OK);
    ae_fit_report untouched;
    memset(&untouched, 0xA5, sizeof untouched);
    for (size_t k = 0; k < ENCODER_LAYERS; k++) {
        assert_int_equal(short_reports[k].epochs_run, 3);
        assert_memory_equal((char *)&short_reports[k] + offsetof(ae_fit_report, best_loss),
                            (char *)&untouched + offsetof(ae_fit_report, best_loss),
                            sizeof untouched - offsetof(ae_fit_report, best_loss));
    }
    ae_model_free(again);
    free(x);
    ae_model_free(m);
}

static void test_pretrain_is_deterministic(void **state)
{
    (void)state;
    float *x = low_rank_data(29);
    ae_model *a = deep_model(30), *b = deep_model(30);
    test_set_param(a, AE_PARAM_VALIDATION_FRACTION, 0.2);
    test_set_param(b, AE_PARAM_VALIDATION_FRACTION, 0.2);
    ae_fit_report ra[ENCODER_LAYERS], rb[ENCODER_LAYERS];
    for (size_t k = 0; k < ENCODER_LAYERS; k++)
        ra[k] = rb[k] = test_new_fit_report();
    assert_int_equal(ae_model_pretrain(a, x, ROWS, DIM, ra, ENCODER_LAYERS), AE_OK);
    assert_int_equal(ae_model_pretrain(b, x, ROWS, DIM, rb, ENCODER_LAYERS), AE_OK);
    assert_true(test_same_params(a, b));
    for (size_t k = 0; k < ENCODER_LAYERS; k++) {
        assert_true(ra[k].final_train_loss == rb[k].final_train_loss);
        assert_true(ra[k].final_val_loss == rb[k].final_val_loss);
    }
    /* And the fine-tuning after it. */
    assert_int_equal(ae_model_fit(a, x, ROWS, DIM, NULL), AE_OK);
    assert_int_equal(ae_model_fit(b, x, ROWS, DIM, NULL), AE_OK);
    assert_true(test_same_params(a, b));
    /* Another seed gives other weights. */
    ae_model *c = deep_model(31);
    test_set_param(c, AE_PARAM_VALIDATION_FRACTION, 0.2);
    assert_int_equal(ae_model_pretrain(c, x, ROWS, DIM, NULL, 0), AE_OK);
    assert_false(test_same_params(a, c));
    free(x);
    ae_model_free(a);
    ae_model_free(b);
    ae_model_free(c);
}

/* The loss of the shallow autoencoder made of layers `encoder_layer` and `decoder_layer` of
 * m (activations: hidden for the code, `output_activation` for the output) on x. */
static double shallow_loss(const ae_model *m, size_t encoder_layer, size_t decoder_layer,
                           int output_activation, const float *x, size_t rows)
{
    size_t n_out, n_in;
    assert_int_equal(ae_model_layer_info(m, encoder_layer, &n_out, &n_in, NULL), AE_OK);
    const size_t widths[] = {n_in, n_out};
    ae_model *shallow = test_create_model(widths, 2, NULL, 0);
    test_set_activations(shallow, AE_ACT_TANH, AE_ACT_TANH, output_activation);
    assert_int_equal(ae_model_copy_layers(shallow, 0, m, encoder_layer, 1), AE_OK);
    assert_int_equal(ae_model_copy_layers(shallow, 1, m, decoder_layer, 1), AE_OK);
    double loss = loss_of(shallow, x, rows, n_in);
    ae_model_free(shallow);
    return loss;
}

/* The codes of layer 0 (tanh) of m for x: the input of stage 1. */
static float *first_layer_codes(const ae_model *m, const float *x, size_t rows)
{
    size_t n_out, n_in;
    assert_int_equal(ae_model_layer_info(m, 0, &n_out, &n_in, NULL), AE_OK);
    const size_t widths[] = {n_in, n_out};
    ae_model *first = test_create_model(widths, 2, NULL, 0);
    test_set_activations(first, AE_ACT_TANH, AE_ACT_TANH, AE_ACT_LINEAR);
    assert_int_equal(ae_model_copy_layers(first, 0, m, 0, 1), AE_OK);
    float *codes = alloc_floats(rows * n_out);
    assert_int_equal(ae_model_encode(first, x, rows, n_in, codes, n_out), AE_OK);
    ae_model_free(first);
    return codes;
}

static void test_each_stage_trains_a_layer_and_its_mirror_on_the_codes_below(void **state)
{
    (void)state;
    float *x = low_rank_data(32);
    ae_model *fresh = deep_model(33), *m = deep_model(33);
    test_set_param(m, AE_PARAM_EPOCHS, 20);
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, NULL, 0), AE_OK);
    /* Stage 0: layer 0 and its mirror, layer 5 (linear output), reconstruct x. */
    double stage0_fresh = shallow_loss(fresh, 0, 5, AE_ACT_LINEAR, x, ROWS);
    double stage0 = shallow_loss(m, 0, 5, AE_ACT_LINEAR, x, ROWS);
    /* Stage 1: layer 1 and layer 4 (tanh: a hidden layer of the decoder) reconstruct the
     * codes layer 0 gives. */
    float *h = first_layer_codes(m, x, ROWS);
    double stage1_fresh = shallow_loss(fresh, 1, 4, AE_ACT_TANH, h, ROWS);
    double stage1 = shallow_loss(m, 1, 4, AE_ACT_TANH, h, ROWS);
    print_message("      stage 0 loss %.4g (fresh weights %.4g), stage 1 loss %.4g (fresh %.4g)\n",
                  stage0, stage0_fresh, stage1, stage1_fresh);
    assert_true(stage0 < 0.25 * stage0_fresh);
    assert_true(stage1 < 0.25 * stage1_fresh);
    free(h);
    free(x);
    ae_model_free(fresh);
    ae_model_free(m);
}

static void test_pretraining_lowers_the_loss_of_fresh_weights(void **state)
{
    (void)state;
    float *x = low_rank_data(34);
    ae_model *m = deep_model(35);
    test_set_param(m, AE_PARAM_EPOCHS, 20);
    double fresh = loss_of(m, x, ROWS, DIM);
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, NULL, 0), AE_OK);
    double pretrained = loss_of(m, x, ROWS, DIM);
    print_message("      loss of the whole stack: fresh weights %.4g, pre-trained %.4g\n", fresh,
                  pretrained);
    assert_true(pretrained < 0.5 * fresh);
    free(x);
    ae_model_free(m);
}

/* A sigmoid model (sparsity needs sigmoid codes) pre-trained with one penalty set. */
static ae_model *pretrained_with(ae_param penalty, double weight, double sparsity_layer)
{
    ae_model *m = deep_model(44);
    test_set_activations(m, AE_ACT_SIGMOID, AE_ACT_SIGMOID, AE_ACT_LINEAR);
    if (weight > 0.0)
        test_set_param(m, penalty, weight);
    test_set_param(m, AE_PARAM_SPARSITY_LAYER, sparsity_layer);
    float *x = low_rank_data(45);
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, NULL, 0), AE_OK);
    free(x);
    return m;
}

/* Which stages the penalty changed: stage k owns layers k and LAYERS - 1 - k. Stages before
 * the first changed one see the same codes and the same generator stream, so their layers
 * are bitwise those of the plain run. */
static void assert_first_changed_stage(const ae_model *plain, const ae_model *m, size_t first)
{
    for (size_t k = 0; k < ENCODER_LAYERS; k++) {
        int same = same_layer(plain, k, m, k) && same_layer(plain, LAYERS - 1 - k, m, LAYERS - 1 - k);
        if (same != (k < first))
            fail_msg("stage %zu is %s the plain run's", k, same ? "the same as" : "different from");
    }
}

static void test_pretrain_applies_each_penalty_in_its_documented_stage(void **state)
{
    (void)state;
    ae_model *plain = pretrained_with(AE_PARAM_ACTIVITY_L1, 0.0, -1);
    /* Activity and contractive penalties: the last stage only. */
    ae_model *activity = pretrained_with(AE_PARAM_ACTIVITY_L1, 0.5, -1);
    assert_first_changed_stage(plain, activity, 2);
    ae_model *contractive = pretrained_with(AE_PARAM_CONTRACTIVE_WEIGHT, 0.5, -1);
    assert_first_changed_stage(plain, contractive, 2);
    /* Sparsity: the stage whose code layer is the watched one (-1: the latent layer). */
    static const double layers[] = {0, 1, -1};
    static const size_t stages[] = {0, 1, 2};
    for (size_t i = 0; i < ARRAY_LEN(layers); i++) {
        ae_model *sparse = pretrained_with(AE_PARAM_SPARSITY_WEIGHT, 0.5, layers[i]);
        assert_first_changed_stage(plain, sparse, stages[i]);
        ae_model_free(sparse);
    }
    ae_model_free(contractive);
    ae_model_free(activity);
    ae_model_free(plain);
}

static void test_pretrain_uses_the_model_loss_in_stage_0_and_squared_error_later(void **state)
{
    (void)state;
    /* Cross-entropy on images in [0, 1]; the ReLU codes of the later stages' inputs exceed
     * 1, which cross-entropy would refuse. */
    test_rng rng;
    test_rng_seed(&rng, 46);
    float *x = test_random_matrix(&rng, ROWS, DIM, DIM, 0.0f, 1.0f);
    assert_non_null(x);
    ae_model *m = deep_model(47);
    test_set_activations(m, AE_ACT_RELU, AE_ACT_RELU, AE_ACT_SIGMOID);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, NULL, 0), AE_OK);
    float *h = alloc_floats(ROWS * 8);
    {
        const size_t widths[] = {DIM, 8};
        ae_model *first = test_create_model(widths, 2, NULL, 0);
        test_set_activations(first, AE_ACT_RELU, AE_ACT_RELU, AE_ACT_LINEAR);
        assert_int_equal(ae_model_copy_layers(first, 0, m, 0, 1), AE_OK);
        assert_int_equal(ae_model_encode(first, x, ROWS, DIM, h, 8), AE_OK);
        ae_model_free(first);
    }
    float largest = 0.0f;
    for (size_t i = 0; i < ROWS * 8; i++)
        largest = h[i] > largest ? h[i] : largest;
    assert_true(largest > 1.0f);
    /* Stage 0 does use cross-entropy: targets outside [0, 1] are refused. */
    x[3 * DIM + 2] = 1.5f;
    float *before = test_params_of(m);
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, NULL, 0), AE_ERR_INPUT_RANGE);
    assert_non_null(strstr(ae_last_error(), "row 3, column 2"));
    assert_true(test_params_equal_to(m, before));
    free(before);
    free(h);
    free(x);
    ae_model_free(m);
}

static void test_pretrain_resets_the_optimizer_state(void **state)
{
    (void)state;
    ae_model *m = trained_deep_model(36);
    float *x = low_rank_data(37);
    assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, NULL, 0), AE_OK);
    ae_model *fresh = fresh_optimizer_twin(m, 36);
    for (int step = 0; step < 3; step++)
        assert_next_step_is_the_same(m, fresh);
    free(x);
    ae_model_free(fresh);
    ae_model_free(m);
}

typedef struct canceller {
    int calls;     /* epoch-end calls seen */
    int cancel_at; /* return non-zero at this call (1-based) */
} canceller;

static int cancel_on_call(const ae_progress *progress, void *user_data)
{
    canceller *c = user_data;
    if (!progress->epoch_end)
        return 0;
    return ++c->calls == c->cancel_at;
}

static void test_failing_stage_leaves_the_weights_and_generator_as_before_the_call(void **state)
{
    (void)state;
    float *x = low_rank_data(38);
    /* 3 epochs a stage: call 2 is in stage 0, call 5 in stage 1, call 9 the very last. */
    static const int cancel_at[] = {2, 5, 9};
    static const size_t failing_stage[] = {0, 1, 2};
    for (size_t k = 0; k < ARRAY_LEN(cancel_at); k++) {
        ae_model *m = trained_deep_model(39);
        float *before = test_params_of(m);
        ae_model *untouched = test_clone_model(m);
        canceller c = {0, cancel_at[k]};
        assert_int_equal(ae_model_set_progress(m, cancel_on_call, &c), AE_OK);
        ae_fit_report reports[ENCODER_LAYERS];
        for (size_t s = 0; s < ENCODER_LAYERS; s++)
            reports[s] = test_new_fit_report();
        assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, reports, ENCODER_LAYERS),
                         AE_ERR_CANCELLED);
        assert_int_equal(c.calls, cancel_at[k]);
        assert_true(test_params_equal_to(m, before));
        for (size_t s = 0; s < failing_stage[k]; s++)
            assert_int_equal(reports[s].stop_reason, AE_STOP_COMPLETED);
        assert_int_equal(reports[failing_stage[k]].stop_reason, AE_STOP_CANCELLED);
        /* The generator is restored too: pre-training now runs exactly as in a model that
         * never saw the failed call. */
        assert_int_equal(ae_model_set_progress(m, NULL, NULL), AE_OK);
        assert_int_equal(ae_model_pretrain(m, x, ROWS, DIM, NULL, 0), AE_OK);
        assert_int_equal(ae_model_pretrain(untouched, x, ROWS, DIM, NULL, 0), AE_OK);
        assert_false(test_params_equal_to(m, before));
        assert_true(test_same_params(m, untouched));
        ae_model_free(untouched);
        free(before);
        ae_model_free(m);
    }
    free(x);
}

/* ================================================================================== */
/* Warm starts                                                                          */
/* ================================================================================== */

/* Save m to a fresh temporary file with flags and load it back. */
static ae_model *through_a_file(const ae_model *m, unsigned flags)
{
    char dir[] = "/tmp/ae_transfer_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.aemodel", dir);
    assert_int_equal(ae_model_save(m, path, flags), AE_OK);
    ae_model *loaded = NULL;
    assert_int_equal(ae_model_load(&loaded, path), AE_OK);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    return loaded;
}

static void test_fit_of_a_model_loaded_with_optimizer_state_continues_exactly(void **state)
{
    (void)state;
    float *x = low_rank_data(40);
    ae_model *m = deep_model(41);
    test_set_param(m, AE_PARAM_SCALING, AE_SCALING_STANDARDIZE);
    ae_fit_report first = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, x, ROWS, DIM, &first), AE_OK);
    double at_save = loss_of(m, x, ROWS, DIM);
    ae_model *loaded = through_a_file(m, AE_SAVE_OPTIMIZER_STATE);
    assert_true(loss_of(loaded, x, ROWS, DIM) == at_save);
    ae_fit_report rm = test_new_fit_report(), rl = test_new_fit_report();
    assert_int_equal(ae_model_fit(m, x, ROWS, DIM, &rm), AE_OK);
    assert_int_equal(ae_model_fit(loaded, x, ROWS, DIM, &rl), AE_OK);
    /* The same run as continuing in memory, bit for bit. */
    assert_true(test_same_params(m, loaded));
    assert_true(rm.final_train_loss == rl.final_train_loss);
    /* and the loss keeps falling. */
    double after = loss_of(loaded, x, ROWS, DIM);
    print_message("      loss at save %.4g, after 3 more epochs %.4g\n", at_save, after);
    assert_true(after < at_save);
    assert_true(rl.final_train_loss < first.final_train_loss);
    free(x);
    ae_model_free(loaded);
    ae_model_free(m);
}

static void test_fit_of_a_model_loaded_without_optimizer_state_continues_from_its_weights(void **state)
{
    (void)state;
    float *x = low_rank_data(42);
    ae_model *m = deep_model(43);
    assert_int_equal(ae_model_fit(m, x, ROWS, DIM, NULL), AE_OK);
    double at_save = loss_of(m, x, ROWS, DIM);
    ae_model *loaded = through_a_file(m, AE_SAVE_DEFAULT);
    assert_true(test_same_params(m, loaded));
    assert_int_equal(ae_model_fit(loaded, x, ROWS, DIM, NULL), AE_OK);
    double after = loss_of(loaded, x, ROWS, DIM);
    /* Far below where fresh weights start: it went on from the saved weights. */
    ae_model *fresh = deep_model(43);
    double fresh_loss = loss_of(fresh, x, ROWS, DIM);
    print_message("      loss: fresh %.4g, at save %.4g, after 3 more epochs %.4g\n", fresh_loss,
                  at_save, after);
    assert_true(after < at_save);
    free(x);
    ae_model_free(fresh);
    ae_model_free(loaded);
    ae_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_layers_copies_weights_and_biases_of_the_given_range),
        cmocka_unit_test(test_copy_layers_refuses_bad_copies_and_leaves_dst_unchanged),
        cmocka_unit_test(test_copy_layers_resets_the_optimizer_state_of_dst),
        cmocka_unit_test(test_copy_layers_ends_the_fresh_weights_state_of_dst),
        cmocka_unit_test(test_copy_layers_does_not_copy_the_scaling),
        cmocka_unit_test(test_exported_encoder_has_the_encoder_layers_weights_and_settings),
        cmocka_unit_test(test_exported_encoder_refuses_calls_that_need_a_decoder),
        cmocka_unit_test(test_exported_encoder_has_no_threshold_and_leaves_the_source_alone),
        cmocka_unit_test(test_exported_encoder_survives_clone_and_save_and_load),
        cmocka_unit_test(test_exported_encoder_layers_copy_into_a_bigger_model),
        cmocka_unit_test(test_export_encoder_refuses_bad_arguments),
        cmocka_unit_test(test_pretrain_refuses_bad_arguments_and_leaves_the_model_unchanged),
        cmocka_unit_test(test_pretrain_refuses_a_decoder_that_does_not_mirror_the_encoder),
        cmocka_unit_test(test_pretrain_fills_one_report_per_stage),
        cmocka_unit_test(test_pretrain_is_deterministic),
        cmocka_unit_test(test_each_stage_trains_a_layer_and_its_mirror_on_the_codes_below),
        cmocka_unit_test(test_pretraining_lowers_the_loss_of_fresh_weights),
        cmocka_unit_test(test_pretrain_applies_each_penalty_in_its_documented_stage),
        cmocka_unit_test(test_pretrain_uses_the_model_loss_in_stage_0_and_squared_error_later),
        cmocka_unit_test(test_pretrain_resets_the_optimizer_state),
        cmocka_unit_test(test_failing_stage_leaves_the_weights_and_generator_as_before_the_call),
        cmocka_unit_test(test_fit_of_a_model_loaded_with_optimizer_state_continues_exactly),
        cmocka_unit_test(test_fit_of_a_model_loaded_without_optimizer_state_continues_from_its_weights),
    };
    return cmocka_run_group_tests_name("transfer", tests, NULL, NULL);
}
