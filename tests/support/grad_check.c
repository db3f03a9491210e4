#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "grad_check.h"

void grad_central_differences(double *params, size_t n, double (*objective)(void *context),
                              void *context, double *fd)
{
    for (size_t i = 0; i < n; i++) {
        double saved = params[i], h = GRAD_FD_STEP * fmax(1.0, fabs(saved));
        params[i] = saved + h;
        double plus = objective(context);
        params[i] = saved - h;
        double minus = objective(context);
        params[i] = saved;
        fd[i] = (plus - minus) / (2 * h);
    }
}

double grad_tensor_scale(const double *fd, size_t start, size_t count)
{
    double scale = 0;
    for (size_t k = 0; k < count; k++)
        scale = fmax(scale, fabs(fd[start + k]));
    return scale;
}

double grad_check_tensor(grad_check *gc, const char *what, const float *grad, const double *fd,
                         size_t start, size_t count)
{
    double scale = grad_tensor_scale(fd, start, count);
    if (!(scale > 1e-7))
        print_error("%s: %s has no gradient (scale %g)\n", gc->label, what, scale);
    assert_true(scale > 1e-7);
    for (size_t k = 0; k < count; k++) {
        size_t i = start + k;
        double err = fabs((double)grad[i] - fd[i]);
        double tol = GRAD_RTOL * fabs(fd[i]) + GRAD_ATOL * scale;
        gc->worst = fmax(gc->worst, err / tol);
        if (!(err <= tol) && gc->failures++ < 8)
            print_error("%s: %s[%zu]: gradient %.9g, finite difference %.9g (tensor scale %.3g)\n",
                        gc->label, what, k, (double)grad[i], fd[i], scale);
    }
    return scale;
}

void grad_check_finish(const grad_check *gc)
{
    if (getenv("AE_TEST_VERBOSE"))
        print_message("%s: worst error/tolerance %.3g\n", gc->label, gc->worst);
    assert_int_equal(gc->failures, 0);
}
