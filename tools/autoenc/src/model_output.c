/* Model files through the tool's atomic outputs: the library gives the file's bytes
 * (ae_model_save_to_memory), so a model is committed with the command's other outputs and
 * fails with the same statuses (73 cannot create, 74 cannot write) as every output. */
#define _POSIX_C_SOURCE 200809L
#include "output.h"

#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_write_model(cli_atomic *out, const ae_model *model, unsigned flags)
{
    size_t size = 0;
    int arc = ae_model_save_size(model, flags, &size);
    void *bytes = arc == AE_OK ? malloc(size ? size : 1) : NULL;
    if (arc == AE_OK && !bytes)
        arc = AE_ERR_OUT_OF_MEMORY;
    if (arc == AE_OK)
        arc = ae_model_save_to_memory(model, flags, bytes, size, &size);
    if (arc != AE_OK) {
        free(bytes);
        cli_atomic_abort(out);
        return cli_fail(cli_status_from_ae(arc), "cannot save the model: %s", ae_last_error());
    }
    size_t written = fwrite(bytes, 1, size, out->fp);
    int e = errno;
    free(bytes);
    if (written != size) {
        int status = cli_fail(CLI_EX_IOERR, "%s: write error: %s (the file is unchanged)",
                              out->path, strerror(e));
        cli_atomic_abort(out);
        return status;
    }
    return cli_atomic_finish(out);
}
