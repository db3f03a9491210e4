/* blas_hint.h: which BLAS a program runs on, and whether OpenBLAS runs kernels older than
 * the CPU supports. For the programs around libautoenc (the Fashion-MNIST demo, the autoenc
 * tool), not for the library, which never prints.
 *
 * Why it exists: Debian 12's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not know recent Intel
 * CPUs (Sapphire and Emerald Rapids...) and silently falls back to its Prescott (SSE3)
 * kernels; OPENBLAS_CORETYPE=SkylakeX in the environment made the reference model's
 * training step 2-3x faster on such a CPU. OpenBLAS reads the variable when it is loaded,
 * so a program can only tell its user. docs/cli.md describes the variable.
 *
 * Header-only (static inline functions) so that the examples and the tool, separate
 * targets, share one copy: both add tools/common to their include path. It needs only the
 * C library and the compiler, and links and runs with any CBLAS: OpenBLAS's own functions
 * are weak references, NULL when no OpenBLAS is loaded. The check is for x86 only; it
 * never fires elsewhere. The decision, blas_hint_decide, is a pure function of its
 * arguments so that it can be tested without the CPU it runs on. */
#ifndef AUTOENC_BLAS_HINT_H
#define AUTOENC_BLAS_HINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The CPU features the decision looks at (those of OpenBLAS's Haswell and SkylakeX
 * kernels). */
typedef struct blas_hint_cpu {
    bool avx512f, avx512bw, avx512dq, avx512vl, avx2, fma;
} blas_hint_cpu;

/* What a program knows of its BLAS (blas_hint_query). */
typedef struct blas_hint {
    const char *core;         /* openblas_get_corename(); NULL: not OpenBLAS, or unknown */
    const char *config;       /* openblas_get_config() ("OpenBLAS 0.3.21 DYNAMIC_ARCH ..."), or NULL */
    int threads;              /* openblas_get_num_threads(); 0: unknown */
    const char *coretype_env; /* getenv("OPENBLAS_CORETYPE") */
    const char *suggest;      /* the OPENBLAS_CORETYPE to suggest, or NULL (blas_hint_decide) */
} blas_hint;

#if defined(__GNUC__) && defined(__ELF__)
#define BLAS_HINT_WEAK 1
extern char *openblas_get_corename(void) __attribute__((weak));
extern char *openblas_get_config(void) __attribute__((weak));
extern int openblas_get_num_threads(void) __attribute__((weak));
#endif

/* ASCII case-insensitive equality. */
static inline bool blas_hint_same_name(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return false;
        if (x == '\0')
            return true;
    }
}

/* The instruction set of an OpenBLAS x86 core older than AVX2 ("SSE3" for Prescott), or
 * NULL for any other name (Haswell, Zen, SkylakeX, Cooperlake, later or unknown ones). */
static inline const char *blas_hint_old_core_isa(const char *core)
{
    static const char *const old_cores[][2] = {
        {"Prescott", "SSE3"},     {"Katmai", "SSE"},          {"Coppermine", "SSE"},
        {"Northwood", "SSE2"},    {"Banias", "SSE2"},         {"Atom", "SSSE3"},
        {"Core2", "SSSE3"},       {"Penryn", "SSE4.1"},       {"Dunnington", "SSE4.1"},
        {"Nehalem", "SSE4.2"},    {"Athlon", "SSE"},          {"Opteron", "SSE2"},
        {"Opteron_SSE3", "SSE3"}, {"Barcelona", "SSE4a"},     {"Nano", "SSE3"},
        {"Sandybridge", "AVX"},   {"Bobcat", "SSSE3"},        {"Bulldozer", "AVX"},
        {"Piledriver", "AVX, FMA"}, {"Steamroller", "AVX, FMA"},
    };
    if (core == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof old_cores / sizeof old_cores[0]; i++)
        if (blas_hint_same_name(core, old_cores[i][0]))
            return old_cores[i][1];
    return NULL;
}

/* The decision: the OPENBLAS_CORETYPE to suggest, or NULL when there is nothing to say.
 * @p core is OpenBLAS's core name (NULL: not OpenBLAS), @p coretype_env the value of
 * OPENBLAS_CORETYPE (NULL or empty: not set; any other value is the user's choice, kept),
 * @p cpu the CPU's features. Suggests only when OpenBLAS runs a pre-AVX2 core on a CPU that
 * has AVX2 and FMA: SkylakeX when the CPU has AVX-512 F, BW, DQ and VL, else Haswell. */
static inline const char *blas_hint_decide(const char *core, const char *coretype_env,
                                           blas_hint_cpu cpu)
{
    if (core == NULL || (coretype_env != NULL && coretype_env[0] != '\0') ||
        blas_hint_old_core_isa(core) == NULL)
        return NULL;
    if (cpu.avx512f && cpu.avx512bw && cpu.avx512dq && cpu.avx512vl)
        return "SkylakeX";
    if (cpu.avx2 && cpu.fma)
        return "Haswell";
    return NULL;
}

/* This CPU's features (with the operating system's support for their registers); none
 * outside x86. */
static inline blas_hint_cpu blas_hint_cpu_features(void)
{
    blas_hint_cpu cpu = {false, false, false, false, false, false};
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    cpu.avx512f = __builtin_cpu_supports("avx512f") != 0;
    cpu.avx512bw = __builtin_cpu_supports("avx512bw") != 0;
    cpu.avx512dq = __builtin_cpu_supports("avx512dq") != 0;
    cpu.avx512vl = __builtin_cpu_supports("avx512vl") != 0;
    cpu.avx2 = __builtin_cpu_supports("avx2") != 0;
    cpu.fma = __builtin_cpu_supports("fma") != 0;
#endif
    return cpu;
}

/* What this process runs on, and the suggestion for it. */
static inline blas_hint blas_hint_query(void)
{
    blas_hint h = {NULL, NULL, 0, getenv("OPENBLAS_CORETYPE"), NULL};
#ifdef BLAS_HINT_WEAK
    if (openblas_get_corename != NULL)
        h.core = openblas_get_corename();
    if (openblas_get_config != NULL)
        h.config = openblas_get_config();
    if (openblas_get_num_threads != NULL)
        h.threads = openblas_get_num_threads();
#endif
    h.suggest = blas_hint_decide(h.core, h.coretype_env, blas_hint_cpu_features());
    return h;
}

/* "OpenBLAS 0.3.21" from the configuration string, else "OpenBLAS". */
static inline void blas_hint_name(const blas_hint *h, char *out, size_t size)
{
    const char *config = h->config;
    size_t len = 0;
    if (config != NULL && strncmp(config, "OpenBLAS ", 9) == 0)
        len = 9 + strcspn(config + 9, " ");
    if (len > 9)
        snprintf(out, size, "%.*s", (int)len, config);
    else
        snprintf(out, size, "OpenBLAS");
}

/* One line for the user, without a newline: "OpenBLAS 0.3.21, core Prescott, 2 threads"
 * (", core SkylakeX (OPENBLAS_CORETYPE)" when the variable chose it), or what is known of
 * another BLAS. */
static inline void blas_hint_describe(const blas_hint *h, char *out, size_t size)
{
    if (h->core == NULL) {
        snprintf(out, size, "a CBLAS other than OpenBLAS (no core or thread information)");
        return;
    }
    char name[64];
    blas_hint_name(h, name, sizeof name);
    char threads[32] = "";
    if (h->threads > 0)
        snprintf(threads, sizeof threads, ", %d thread%s", h->threads, h->threads == 1 ? "" : "s");
    snprintf(out, size, "%s, core %s%s%s", name, h->core,
             h->coretype_env != NULL && h->coretype_env[0] != '\0' ? " (OPENBLAS_CORETYPE)" : "",
             threads);
}

/* The note when blas_hint_decide suggested a core, without a prefix or a newline; false
 * (and an empty @p out) when there is nothing to say. */
static inline bool blas_hint_note(const blas_hint *h, char *out, size_t size)
{
    if (size > 0)
        out[0] = '\0';
    if (h->suggest == NULL)
        return false;
    char name[64];
    blas_hint_name(h, name, sizeof name);
    const char *isa = blas_hint_old_core_isa(h->core);
    const bool skylakex = strcmp(h->suggest, "SkylakeX") == 0;
    snprintf(out, size,
             "%s %s %s (%s) kernels; OPENBLAS_CORETYPE=%s %s (export it before starting the "
             "program)",
             name,
             blas_hint_same_name(h->core, "Prescott")
                 ? "does not know this CPU and runs its"
                 : "runs kernels older than this CPU supports, its",
             h->core, isa ? isa : "pre-AVX2", h->suggest,
             skylakex ? "selects its AVX-512 kernels, which train about 2-3x faster on such a CPU"
                      : "selects its AVX2 kernels, which train faster on such a CPU");
    return true;
}

#endif
