#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_fashion.h"

void test_load_fashion(size_t n_train, size_t n_test, fashion_mnist *train, fashion_mnist *test)
{
    char err[256];
    if (fashion_mnist_load(NULL, FASHION_MNIST_TRAIN, n_train, train, err, sizeof err) != 0 ||
        fashion_mnist_load(NULL, FASHION_MNIST_TEST, n_test, test, err, sizeof err) != 0)
        fail_msg("Fashion-MNIST is needed (Debian package dataset-fashion-mnist): %s", err);
}
