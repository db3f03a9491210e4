/* Command-line helpers of the example programs (not part of the library): --help
 * answers on stdout with exit 0, anything unexpected gets the usage on stderr and exit 2,
 * before any data is read or any model trained. */
#ifndef AE_EXAMPLES_EXAMPLE_USAGE_H
#define AE_EXAMPLES_EXAMPLE_USAGE_H

#include "fashion_mnist.h"

#include <stdio.h>
#include <string.h>

/** 1 if @p arg asks for help (--help or -h). */
static inline int example_wants_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/** Print "usage: @p usage" and where the data is read from, on stdout if @p help, else on
 *  stderr. @return the exit status: 0 for help, 2 for a mistake. */
static inline int example_usage(const char *usage, int help)
{
    fprintf(help ? stdout : stderr,
            "usage: %s\n(the data is read from $FASHION_MNIST_DIR or %s)\n", usage,
            FASHION_MNIST_DEFAULT_DIR);
    return help ? 0 : 2;
}

#endif
