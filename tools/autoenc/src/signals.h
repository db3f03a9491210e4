/* Terminating signals: every one the tool can catch removes the temporary outputs and
 * ends the process with status 128 + the signal's number, naming the signal. SIGINT
 * (Ctrl-C) and SIGTERM inside a graceful section (training, streaming rows) only set a
 * flag the first time, so that the work stops at the next batch or block and says so; a
 * second one ends the process at once. */
#ifndef AUTOENC_SIGNALS_H
#define AUTOENC_SIGNALS_H

/* Installed once at start (signals the tool was started with ignored stay ignored). */
void cli_signals_install(void);
void cli_signals_graceful(int on);
/* Whether a graceful stop was asked. */
int cli_interrupted(void);
/* For the stop: 128 + the signal's number (130 when none was received here, e.g. a
 * --distributed peer's Ctrl-C), and "interrupted (SIGINT)"-style words for messages. */
int cli_interrupt_status(void);
const char *cli_interrupt_what(void);

#endif
