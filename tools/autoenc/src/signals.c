/* Terminating signals (see signals.h). The handler does only async-signal-safe things:
 * unlink, write and _exit. */
#define _POSIX_C_SOURCE 200809L
#include "signals.h"

#include "cli.h"
#include "output.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static const struct caught_signal {
    int signo;
    const char *name, *what; /* what = "<words> (<name>)" for messages */
} caught[] = {
    {SIGINT, "SIGINT", "interrupted (SIGINT)"},     {SIGTERM, "SIGTERM", "terminated (SIGTERM)"},
    {SIGHUP, "SIGHUP", "hung up (SIGHUP)"},         {SIGQUIT, "SIGQUIT", "quit (SIGQUIT)"},
    {SIGPIPE, "SIGPIPE", "broken pipe (SIGPIPE)"},  {SIGALRM, "SIGALRM", "alarm (SIGALRM)"},
    {SIGUSR1, "SIGUSR1", "stopped by SIGUSR1"},     {SIGUSR2, "SIGUSR2", "stopped by SIGUSR2"},
    {SIGXCPU, "SIGXCPU", "CPU time limit (SIGXCPU)"},
    {SIGXFSZ, "SIGXFSZ", "file size limit (SIGXFSZ)"},
    {SIGVTALRM, "SIGVTALRM", "virtual alarm (SIGVTALRM)"},
};
enum { N_CAUGHT = sizeof caught / sizeof caught[0] };

static volatile sig_atomic_t stop_count;
static volatile sig_atomic_t stop_index = -1; /* into caught[]: the first stopping signal */
static volatile sig_atomic_t graceful;

static void say(const char *a, const char *b, const char *c)
{
    ssize_t ignored = write(2, a, strlen(a));
    ignored = write(2, b, strlen(b));
    ignored = write(2, c, strlen(c));
    (void)ignored;
}

static void on_signal(int sig)
{
    int index = 0;
    while (index < N_CAUGHT - 1 && caught[index].signo != sig)
        index++;
    stop_count++;
    if (stop_index < 0)
        stop_index = index;
    const int soft = sig == SIGINT || sig == SIGTERM;
    if (graceful && soft && stop_count == 1) {
        say("\nautoenc: ", caught[index].what,
            sig == SIGINT ? ": stopping at the next batch (Ctrl-C again to quit at once)\n"
                          : ": stopping at the next batch (send it again to quit at once)\n");
        return;
    }
    cli_atomic_abort_all_from_signal();
    if (sig != SIGPIPE) /* the reader went away: nothing to tell */
        say("\nautoenc: ", caught[index].what, "\n");
    _exit(128 + sig);
}

void cli_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < N_CAUGHT; i++)
        sigaddset(&sa.sa_mask, caught[i].signo); /* one handler at a time */
    for (int i = 0; i < N_CAUGHT; i++) {
        struct sigaction old;
        if (sigaction(caught[i].signo, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue; /* nohup and the like: stays ignored */
        sigaction(caught[i].signo, &sa, NULL);
    }
}

void cli_signals_graceful(int on) { graceful = on; }
int cli_interrupted(void) { return stop_count > 0; }

int cli_interrupt_status(void)
{
    return stop_index >= 0 ? 128 + caught[stop_index].signo : CLI_EX_INTERRUPTED;
}

const char *cli_interrupt_what(void)
{
    return stop_index >= 0 ? caught[stop_index].what : "interrupted";
}
