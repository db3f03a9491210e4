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

const char *ae_model_last_error(const ae_model *model)
{
    return model ? model->message : "model is NULL";
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
