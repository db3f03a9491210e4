/* Fashion-MNIST for the suites that prove a use on real data. */
#ifndef AE_TEST_FASHION_H
#define AE_TEST_FASHION_H

#include <stddef.h>

#include "fashion_mnist.h"

/* The first n_train training and n_test test images (0: all of that split), or the test
 * fails saying which Debian package provides the data. */
void test_load_fashion(size_t n_train, size_t n_test, fashion_mnist *train, fashion_mnist *test);

#endif
