/* Layer-wise pre-training, the use: on Fashion-MNIST, a deep model pre-trained layer by layer
 * and then fine-tuned for E epochs reconstructs held-out images at least as well as the same
 * model trained from scratch for the same E epochs. Kept apart from the unit suite because it
 * trains on real data (too slow for valgrind and TSan in CI).
 *
 * Measured (Release, 2 cores, about 4.5 s): test cross-entropy 0.7006 with fresh weights,
 * 0.4026 after pre-training (5 epochs a stage), 0.3076 after 5 epochs of fine-tuning, against
 * 0.3163 from scratch for 5 epochs. With 3 + 3 epochs 0.3199 against 0.3247, with 3 + 10
 * epochs 0.3005 against 0.3029: the head start shrinks as both train longer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "autoenc.h"
#include "test_fashion.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { FM_TRAIN = 3000, FM_TEST = 1000, PRETRAIN_EPOCHS = 5, FINE_TUNE_EPOCHS = 5 };

/* 784-256-64-16, mirrored; ReLU inside, sigmoid output with cross-entropy. */
static ae_model *fashion_model(void)
{
    static const size_t widths[] = {784, 256, 64, 16};
    ae_model *m = test_create_model(widths, ARRAY_LEN(widths), NULL, 0);
    test_set_param(m, AE_PARAM_SEED, 1);
    test_set_activations(m, AE_ACT_RELU, AE_ACT_LINEAR, AE_ACT_SIGMOID);
    test_set_param(m, AE_PARAM_LOSS, AE_LOSS_BCE);
    test_set_epochs_and_batch(m, FINE_TUNE_EPOCHS, 64);
    return m;
}

static double test_loss(const ae_model *m, const fashion_mnist *test)
{
    double loss = NAN;
    assert_int_equal(ae_model_loss(m, test->pixels, test->n_rows, 784, &loss), AE_OK);
    return loss;
}

static void test_pretrained_model_reconstructs_held_out_images_at_least_as_well(void **state)
{
    (void)state;
    fashion_mnist train = {0}, test = {0};
    test_load_fashion(FM_TRAIN, FM_TEST, &train, &test);

    /* From scratch: E epochs of the whole stack. */
    ae_model *scratch = fashion_model();
    assert_int_equal(ae_model_fit(scratch, train.pixels, FM_TRAIN, 784, NULL), AE_OK);
    double scratch_loss = test_loss(scratch, &test);

    /* Pre-trained: a few epochs per stage, then the same E epochs of the whole stack. */
    ae_model *pretrained = fashion_model();
    double fresh_loss = test_loss(pretrained, &test);
    test_set_param(pretrained, AE_PARAM_EPOCHS, PRETRAIN_EPOCHS);
    ae_fit_report reports[3];
    for (size_t k = 0; k < ARRAY_LEN(reports); k++)
        reports[k] = test_new_fit_report();
    assert_int_equal(ae_model_pretrain(pretrained, train.pixels, FM_TRAIN, 784, reports, 3), AE_OK);
    for (size_t k = 0; k < ARRAY_LEN(reports); k++) {
        assert_int_equal(reports[k].epochs_run, PRETRAIN_EPOCHS);
        assert_true(isfinite(reports[k].final_train_loss));
    }
    double after_pretraining = test_loss(pretrained, &test);
    test_set_param(pretrained, AE_PARAM_EPOCHS, FINE_TUNE_EPOCHS);
    assert_int_equal(ae_model_fit(pretrained, train.pixels, FM_TRAIN, 784, NULL), AE_OK);
    double pretrained_loss = test_loss(pretrained, &test);

    printf("      test BCE: fresh weights %.4f, after pre-training (%d epochs a stage) %.4f;\n"
           "      after %d epochs of fine-tuning %.4f, from scratch for %d epochs %.4f\n",
           fresh_loss, PRETRAIN_EPOCHS, after_pretraining, FINE_TUNE_EPOCHS, pretrained_loss,
           FINE_TUNE_EPOCHS, scratch_loss);
    /* Pre-training alone already gives a working stack, far from fresh weights. */
    assert_true(after_pretraining < fresh_loss);
    assert_true(pretrained_loss <= scratch_loss);
    ae_model_free(scratch);
    ae_model_free(pretrained);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pretrained_model_reconstructs_held_out_images_at_least_as_well),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
