/* Status strings and the two places a failure is recorded: the calling thread's slot
 * and the model's own message. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char thread_message[AE_MESSAGE_SIZE];

const char *ae_status_str(int status)
{
    switch (status) {
    case AE_OK: return "success";
    case AE_ERR_INVALID_ARGUMENT: return "invalid argument";
    case AE_ERR_OUT_OF_MEMORY: return "out of memory";
    case AE_ERR_SIZE_OVERFLOW: return "size overflow";
    case AE_ERR_NON_FINITE_INPUT: return "non-finite input";
    case AE_ERR_INPUT_RANGE: return "input out of range";
    case AE_ERR_STATE: return "invalid state";
    case AE_ERR_CANCELLED: return "cancelled";
    case AE_ERR_DIVERGED: return "training diverged";
    case AE_ERR_IO: return "input/output error";
    case AE_ERR_FORMAT: return "malformed model data";
    case AE_ERR_CHECKSUM: return "checksum mismatch";
    case AE_ERR_VERSION: return "unsupported format version";
    case AE_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case AE_ERR_NON_FINITE_RESULT: return "non-finite result";
    case AE_ERR_BUSY: return "model busy";
    case AE_ERR_PEER: return "another participant failed";
    default: return "unknown status";
    }
}

const char *ae_last_error(void) { return thread_message; }

/* Copies of models' messages handed out by ae_model_last_error() in this thread, used in
 * turn so that a few can be printed together. */
#define MODEL_MESSAGE_COPIES 4
static _Thread_local char model_message_copies[MODEL_MESSAGE_COPIES][AE_MESSAGE_SIZE];
static _Thread_local unsigned next_model_message_copy;

const char *ae_model_last_error(const ae_model *model)
{
    if (!model)
        return "model is NULL";
    /* A failing call that changes the model writes its message while it holds the model as
     * the writer: the message is read as a reader, into a copy of this thread's, so that
     * neither the read nor the caller's later use of the string races with that write. A
     * refused entry leaves this thread's own last error as it was. */
    char saved[AE_MESSAGE_SIZE];
    memcpy(saved, thread_message, sizeof saved);
    if (ae_enter_reader(model) != AE_OK) {
        memcpy(thread_message, saved, sizeof saved);
        return "the model is being changed by a call in another thread: its last error can be "
               "read when that call has returned";
    }
    char *copy = model_message_copies[next_model_message_copy++ % MODEL_MESSAGE_COPIES];
    memcpy(copy, model->message, AE_MESSAGE_SIZE);
    ae_leave_reader(model);
    return copy;
}

int ae_fail_on_model(ae_model *model, int status)
{
    if (status != AE_OK && model)
        memcpy(model->message, thread_message, sizeof model->message);
    return status;
}

int ae_fail(ae_model *model, int status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(thread_message, sizeof thread_message, format, args);
    va_end(args);
    if (model)
        memcpy(model->message, thread_message, sizeof model->message);
    return status;
}
