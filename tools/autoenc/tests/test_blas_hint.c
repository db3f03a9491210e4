/* tools/common/blas_hint.h, shared by the autoenc tool and the Fashion-MNIST demo: the
 * decision whether OpenBLAS runs kernels older than the CPU supports and which
 * OPENBLAS_CORETYPE to suggest, as a pure function of (core name, OPENBLAS_CORETYPE,
 * CPU features), so that every case runs on any machine; and the texts built from it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "blas_hint.h"

static const blas_hint_cpu avx512 = {true, true, true, true, true, true};
static const blas_hint_cpu avx2_only = {false, false, false, false, true, true};
static const blas_hint_cpu sse_only = {false, false, false, false, false, false};

static void test_prescott_on_avx512_suggests_skylakex(void **state)
{
    (void)state;
    assert_string_equal(blas_hint_decide("Prescott", NULL, avx512), "SkylakeX");
    assert_string_equal(blas_hint_decide("PRESCOTT", NULL, avx512), "SkylakeX");
    assert_string_equal(blas_hint_decide("prescott", NULL, avx512), "SkylakeX");
}

static void test_prescott_on_avx2_suggests_haswell(void **state)
{
    (void)state;
    assert_string_equal(blas_hint_decide("Prescott", NULL, avx2_only), "Haswell");
    /* AVX-512 needs all four of F, BW, DQ and VL (SkylakeX's kernels use them) */
    blas_hint_cpu partial = avx512;
    partial.avx512vl = false;
    assert_string_equal(blas_hint_decide("Prescott", NULL, partial), "Haswell");
    partial = avx512;
    partial.avx512bw = false;
    assert_string_equal(blas_hint_decide("Prescott", NULL, partial), "Haswell");
}

static void test_no_avx2_and_fma_no_note(void **state)
{
    (void)state;
    assert_null(blas_hint_decide("Prescott", NULL, sse_only));
    blas_hint_cpu no_fma = avx2_only;
    no_fma.fma = false;
    assert_null(blas_hint_decide("Prescott", NULL, no_fma));
    blas_hint_cpu no_avx2 = avx2_only;
    no_avx2.avx2 = false;
    assert_null(blas_hint_decide("Sandybridge", NULL, no_avx2));
}

static void test_other_pre_avx2_cores_fire(void **state)
{
    (void)state;
    static const char *const old[] = {"Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
                                      "Sandybridge", "Katmai", "Northwood", "Barcelona",
                                      "Opteron_SSE3", "Bulldozer", "Steamroller"};
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
        assert_string_equal(blas_hint_decide(old[i], NULL, avx512), "SkylakeX");
        assert_string_equal(blas_hint_decide(old[i], NULL, avx2_only), "Haswell");
    }
}

static void test_current_cores_no_note(void **state)
{
    (void)state;
    static const char *const current[] = {"SkylakeX", "skylakex", "Cooperlake", "SapphireRapids",
                                          "Haswell", "Zen", "Excavator", "Unknown", "armv8", ""};
    for (size_t i = 0; i < sizeof current / sizeof current[0]; i++) {
        assert_null(blas_hint_decide(current[i], NULL, avx512));
        assert_null(blas_hint_decide(current[i], NULL, avx2_only));
    }
    /* a prefix of a known name is not that name */
    assert_null(blas_hint_decide("Presc", NULL, avx512));
    assert_null(blas_hint_decide("PrescottX", NULL, avx512));
}

static void test_coretype_set_no_note(void **state)
{
    (void)state;
    /* any value is the user's choice, even the core OpenBLAS would pick anyway */
    assert_null(blas_hint_decide("Prescott", "SkylakeX", avx512));
    assert_null(blas_hint_decide("Prescott", "Prescott", avx512));
    assert_null(blas_hint_decide("Prescott", "Haswell", avx2_only));
    /* an empty value chooses nothing */
    assert_string_equal(blas_hint_decide("Prescott", "", avx512), "SkylakeX");
}

static void test_null_corename_no_note(void **state)
{
    (void)state;
    assert_null(blas_hint_decide(NULL, NULL, avx512));
    assert_null(blas_hint_decide(NULL, NULL, avx2_only));
    assert_null(blas_hint_decide(NULL, "SkylakeX", avx512));
}

static void test_note_text(void **state)
{
    (void)state;
    char text[512];
    blas_hint h = {"Prescott", "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64",
                   2, NULL, "SkylakeX"};
    assert_true(blas_hint_note(&h, text, sizeof text));
    assert_non_null(strstr(text, "OpenBLAS 0.3.21 does not know this CPU and runs its Prescott "
                                 "(SSE3) kernels; OPENBLAS_CORETYPE=SkylakeX "));
    assert_non_null(strstr(text, "2-3x faster"));
    assert_non_null(strstr(text, "(export it before starting the program)"));

    h.core = "Sandybridge";
    h.suggest = "Haswell";
    assert_true(blas_hint_note(&h, text, sizeof text));
    assert_non_null(strstr(text, "runs kernels older than this CPU supports, its Sandybridge "
                                 "(AVX) kernels; OPENBLAS_CORETYPE=Haswell "));
    assert_null(strstr(text, "2-3x"));

    /* nothing to say: false and an empty text */
    h.suggest = NULL;
    assert_false(blas_hint_note(&h, text, sizeof text));
    assert_string_equal(text, "");

    /* a short buffer is cut, never overrun (its size known only at run time, as the
     * compiler would otherwise warn of the cut it sees coming) */
    char small[16];
    volatile size_t small_size = sizeof small;
    memset(small, 'x', sizeof small);
    h.suggest = "SkylakeX";
    assert_true(blas_hint_note(&h, small, small_size));
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_describe(void **state)
{
    (void)state;
    char text[256];
    blas_hint h = {"Prescott", "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH", 2, NULL, NULL};
    blas_hint_describe(&h, text, sizeof text);
    assert_string_equal(text, "OpenBLAS 0.3.21, core Prescott, 2 threads");
    h.core = "SkylakeX";
    h.coretype_env = "SkylakeX";
    h.threads = 1;
    blas_hint_describe(&h, text, sizeof text);
    assert_string_equal(text, "OpenBLAS 0.3.21, core SkylakeX (OPENBLAS_CORETYPE), 1 thread");
    h.config = NULL; /* an OpenBLAS without openblas_get_config, and no thread count */
    h.threads = 0;
    h.coretype_env = "";
    blas_hint_describe(&h, text, sizeof text);
    assert_string_equal(text, "OpenBLAS, core SkylakeX");
    h.core = NULL; /* another CBLAS */
    blas_hint_describe(&h, text, sizeof text);
    assert_non_null(strstr(text, "other than OpenBLAS"));
}

/* The real query agrees with the decision on what it found (this test links no BLAS, so
 * OpenBLAS's weak functions are NULL here unless something else loaded it). */
static void test_query_is_the_decision(void **state)
{
    (void)state;
    blas_hint h = blas_hint_query();
    const char *expected = blas_hint_decide(h.core, h.coretype_env, blas_hint_cpu_features());
    if (expected == NULL)
        assert_null(h.suggest);
    else
        assert_string_equal(h.suggest, expected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prescott_on_avx512_suggests_skylakex),
        cmocka_unit_test(test_prescott_on_avx2_suggests_haswell),
        cmocka_unit_test(test_no_avx2_and_fma_no_note),
        cmocka_unit_test(test_other_pre_avx2_cores_fire),
        cmocka_unit_test(test_current_cores_no_note),
        cmocka_unit_test(test_coretype_set_no_note),
        cmocka_unit_test(test_null_corename_no_note),
        cmocka_unit_test(test_note_text),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_query_is_the_decision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
