/* Diagnostics and the mapping from library statuses to exit statuses. */
#include "cli.h"

#include <autoenc.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int quiet_mode;
static const char *prefix = "autoenc: ";

void cli_set_prefix(const char *text) { prefix = text ? text : "autoenc: "; }

void cli_set_quiet(int quiet) { quiet_mode = quiet; }
int cli_is_quiet(void) { return quiet_mode; }

/* One write per line, so that the lines of the processes of a --distributed job, sharing
 * one terminal, do not mix. */
static void print_line(const char *fmt, va_list args)
{
    char line[2048];
    int head = snprintf(line, sizeof line, "%s", prefix);
    if (head < 0 || (size_t)head >= sizeof line)
        head = 0;
    int body = vsnprintf(line + head, sizeof line - (size_t)head - 1, fmt, args);
    size_t n = (size_t)head + (body < 0 ? 0 : (size_t)body);
    if (n > sizeof line - 2)
        n = sizeof line - 2; /* a longer message is cut */
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}

int cli_fail(int status, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    print_line(fmt, args);
    va_end(args);
    return status;
}

void cli_note(const char *fmt, ...)
{
    if (quiet_mode)
        return;
    va_list args;
    va_start(args, fmt);
    print_line(fmt, args);
    va_end(args);
}

int cli_status_from_ae(int code)
{
    switch (code) {
    case AE_OK:
        return CLI_OK;
    case AE_ERR_NON_FINITE_INPUT:
    case AE_ERR_INPUT_RANGE:
    case AE_ERR_NON_FINITE_RESULT:
        return CLI_EX_DATAERR;
    case AE_ERR_OUT_OF_MEMORY:
    case AE_ERR_SIZE_OVERFLOW:
        return CLI_EX_OSERR;
    case AE_ERR_IO:
        return CLI_EX_IOERR;
    case AE_ERR_FORMAT:
    case AE_ERR_CHECKSUM:
    case AE_ERR_VERSION:
        return CLI_EX_MODEL;
    case AE_ERR_STATE:
        return CLI_EX_MODEL_STATE;
    case AE_ERR_CANCELLED:
        return CLI_EX_INTERRUPTED;
    case AE_ERR_DIVERGED:
        return CLI_EX_TRAINING;
    case AE_ERR_INVALID_ARGUMENT:
        return CLI_EX_USAGE;
    case AE_ERR_PEER:
        return CLI_EX_PEER;
    default:
        return CLI_EX_SOFTWARE;
    }
}

int cli_flush_stdout(void)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 0;
    return cli_fail(CLI_EX_IOERR, "standard output: write error: %s", strerror(errno));
}

void *cli_malloc_array(size_t count, size_t size)
{
    if (size != 0 && count > (size_t)-1 / size)
        return NULL;
    size_t bytes = count * size;
    return malloc(bytes > 0 ? bytes : 1);
}
