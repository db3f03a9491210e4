/* The autoenc tool: exit statuses, diagnostics and the subcommands' entry points.
 *
 * The tool is a client of the public header only (autoenc.h); nothing here may
 * include the library's private headers. */
#ifndef AUTOENC_CLI_H
#define AUTOENC_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Exit statuses. 64-74 follow sysexits.h (73: an output cannot be created, found before
 * the work; 74: a read or any write failed part way, models' included); 80-83 are the
 * tool's own for models and training; 128+N is the shell's convention for a process
 * stopped by signal N (130 for SIGINT, signals.c). Documented in 'autoenc --help' and the
 * man page (EXIT STATUS), which are generated from the same table (help.c). */
enum cli_exit {
    CLI_OK = 0,
    CLI_EX_USAGE = 64,       /* the command line is wrong */
    CLI_EX_DATAERR = 65,     /* an input data file is malformed or does not fit the model */
    CLI_EX_NOINPUT = 66,     /* an input file does not exist, cannot be read, or is not a file */
    CLI_EX_SOFTWARE = 70,    /* an internal error (a bug: please report it) */
    CLI_EX_OSERR = 71,       /* out of memory, or another system failure */
    CLI_EX_CANTCREAT = 73,   /* an output file cannot be created */
    CLI_EX_IOERR = 74,       /* reading or writing failed part way */
    CLI_EX_MODEL = 80,       /* a model file does not load (damaged, not a model, too new) */
    CLI_EX_MODEL_STATE = 81, /* the model cannot do what was asked (no threshold, not variational...) */
    CLI_EX_TRAINING = 82,    /* training diverged */
    CLI_EX_PEER = 83,        /* --distributed: another process of the job failed (it says why) */
    CLI_EX_INTERRUPTED = 130 /* stopped by Ctrl-C (SIGINT); another signal N: 128 + N */
};

/* Diagnostics: one line on stderr, "autoenc: " + message. Returns @p status so
 * that callers can write `return cli_fail(CLI_EX_DATAERR, ...)`. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int cli_fail(int status, const char *fmt, ...);

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void cli_note(const char *fmt, ...);

/* The exit status for a library status (e.g. AE_ERR_FORMAT -> CLI_EX_MODEL). */
int cli_status_from_ae(int code);

/* What diagnostics start with ("autoenc: "; a --distributed rank names itself). @p text
 * must outlive its use; NULL restores the default. */
void cli_set_prefix(const char *text);

/* Quiet mode silences notes (errors are always printed). */
void cli_set_quiet(int quiet);
int cli_is_quiet(void);

/* Flush standard output: 0, or CLI_EX_IOERR after saying why (a full disk, a closed pipe). */
int cli_flush_stdout(void);

/* Memory that fails loudly: NULL only when the size overflows or memory is out;
 * callers report CLI_EX_OSERR. */
void *cli_malloc_array(size_t count, size_t size);

/* Subcommands: argc/argv start at the subcommand's name. */
int cmd_train(int argc, char **argv);
int cmd_threshold(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_reconstruct(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_interpolate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_help(int argc, char **argv);

#endif
