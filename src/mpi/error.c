/* Messages: the calling thread's slot, read by ae_mpi_last_error(). */
#include "mpi_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char thread_message[AE_MPI_MESSAGE_SIZE];

const char *ae_mpi_last_error(void) { return thread_message; }

char *ae_mpi_message_slot(void) { return thread_message; }

int ae_mpi_fail(int status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(thread_message, sizeof thread_message, format, args);
    va_end(args);
    return status;
}

int ae_mpi_fail_from_core(int status)
{
    return ae_mpi_fail(status, "%s", ae_last_error());
}

void ae_mpi_error_text(int mpi_code, char *text, size_t size)
{
    char words[MPI_MAX_ERROR_STRING + 1] = "";
    int length = 0;
    if (MPI_Error_string(mpi_code, words, &length) != MPI_SUCCESS)
        snprintf(words, sizeof words, "error code %d", mpi_code);
    words[length >= 0 && length <= MPI_MAX_ERROR_STRING ? length : MPI_MAX_ERROR_STRING] = '\0';
    snprintf(text, size, "%s", words);
}
