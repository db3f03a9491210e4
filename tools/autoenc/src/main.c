/* autoenc: the command-line tool of libautoenc. Dispatches git-style subcommands. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "common.h"
#include "output.h"
#include "signals.h"

#include <autoenc.h>

#include "blas_hint.h" /* tools/common */

#include <stdio.h>
#include <string.h>

static const struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
} subcommands[] = {
    {"train", cmd_train},     {"encode", cmd_encode},
    {"decode", cmd_decode},   {"reconstruct", cmd_reconstruct},
    {"score", cmd_score},     {"detect", cmd_detect},
    {"threshold", cmd_threshold}, {"eval", cmd_eval},
    {"sample", cmd_sample},   {"interpolate", cmd_interpolate},
    {"info", cmd_info},       {"help", cmd_help},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_print_help(NULL);
        return CLI_EX_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return cli_print_help(NULL);
    if (strcmp(name, "--version") == 0) {
        printf("autoenc %s (libautoenc %s)\n", AUTOENC_TOOL_VERSION, ae_version_string());
        const blas_hint blas = blas_hint_query();
        char text[256];
        blas_hint_describe(&blas, text, sizeof text);
        printf("BLAS: %s\n", text);
        return cli_flush_stdout();
    }
    unsigned loaded = ae_version_number();
    if (loaded / 10000 != AE_VERSION_MAJOR || loaded < AE_VERSION_NUMBER - AE_VERSION_PATCH)
        return cli_fail(CLI_EX_SOFTWARE, "built for libautoenc %d.%d, but %s is loaded",
                        AE_VERSION_MAJOR, AE_VERSION_MINOR, ae_version_string());
    cli_signals_install();
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(name, subcommands[i].name) == 0) {
            int rc = subcommands[i].run(argc - 1, argv + 1);
            cli_outputs_discard(); /* what a failed command did not commit */
            return rc;
        }
    return cli_fail(CLI_EX_USAGE, "'%s' is not a command (see 'autoenc help')", name);
}
