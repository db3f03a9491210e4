/* Checking a float gradient against double-precision central differences, tensor by
 * tensor, with the tolerances every gradient suite shares. */
#ifndef AE_GRAD_CHECK_H
#define AE_GRAD_CHECK_H

#include <stddef.h>

/* Central-difference step in double, relative to max(1, |parameter|). Truncation error
 * ~ h^2 |L'''| / 6 ~ 1e-13 and rounding error ~ 1e-16 |L| / h ~ 1e-10: the difference
 * quotient is exact to far below anything a float gradient can resolve. */
#define GRAD_FD_STEP 1e-6

/* Gradient tolerance: |g - fd| <= GRAD_RTOL |fd| + GRAD_ATOL * scale, where scale is the
 * largest |fd| within the same tensor (one layer's W or one layer's b). The library works
 * in float (unit roundoff 6e-8): each gradient entry of these small test nets is a short
 * sum of products whose float rounding error is a few tens of ulps of the largest terms,
 * i.e. ~1e-6 of the tensor's scale, and the float forward pass perturbs the point by a
 * similar relative amount. The bounds sit 10-100x above that, while any real mistake (a
 * wrong derivative, slope or alpha, a missing factor, a transposed index, a bias summed
 * over the wrong axis, a wrong 1/N) moves some entry by a large fraction of its tensor's
 * scale. Scaling per tensor (not by the global maximum) keeps the check sharp for deep
 * layers whose gradients are orders of magnitude smaller. */
#define GRAD_RTOL 1e-3
#define GRAD_ATOL 1e-4

/* The library's loss is accumulated in double from a float forward pass: its relative
 * error is that of the float activations, ~1e-6 for these small nets. */
#define GRAD_LOSS_RTOL 1e-5

/* fd[i] = (f(p + h e_i) - f(p - h e_i)) / 2h for every i < n, h = GRAD_FD_STEP *
 * max(1, |p_i|), moving params in place and restoring each entry. */
void grad_central_differences(double *params, size_t n, double (*objective)(void *context),
                              void *context, double *fd);

typedef struct grad_check {
    const char *label; /* names the configuration in messages */
    size_t failures;
    double worst;      /* the largest error / tolerance seen */
} grad_check;

/* The largest |fd| over [start, start + count). */
double grad_tensor_scale(const double *fd, size_t start, size_t count);

/* Compares grad with fd over one tensor [start, start + count), which must carry gradient
 * (scale above 1e-7) for the check to prove anything; `what` names it in messages
 * ("layer 2 weights"). Returns the tensor's scale. */
double grad_check_tensor(grad_check *gc, const char *what, const float *grad, const double *fd,
                         size_t start, size_t count);

/* Fails the test if any entry was out of tolerance; with AE_TEST_VERBOSE set, prints the
 * worst error/tolerance. */
void grad_check_finish(const grad_check *gc);

#endif
