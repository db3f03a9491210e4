/* Checking that every rank holds the same model as rank 0: first what describes it (library
 * version, architecture, each setting), so that the message can name the first difference,
 * then every byte the model saves with its optimizer state. */
#include "mpi_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETTING_IDS 256 /* setting ids are small (autoenc.h pins them below 100) */
#define HEAD_ITEMS 6 /* the parameter count follows from these and the layers */
#define LAYER_ITEMS 3

/* ---- what describes a model: numbers in a fixed order, each with a name ---------------- */

static size_t setting_count(void)
{
    size_t n = 0;
    for (int id = 0; id < SETTING_IDS; id++)
        n += ae_param_name((ae_param)id) != NULL;
    return n;
}

/* Item `index` of what describes m, or the core's status when it cannot be read (a model
 * another thread changes: AE_ERR_BUSY). */
static int item_value(const ae_model *m, size_t index, double *value)
{
    const size_t n_layers = ae_model_layer_count(m);
    *value = 0;
    if (index < HEAD_ITEMS) {
        switch (index) {
        case 0: *value = (double)ae_version_number(); break;
        case 1: *value = (double)n_layers; break;
        case 2: *value = (double)ae_model_encoder_layer_count(m); break;
        case 3: *value = (double)ae_model_architecture(m); break;
        case 4: *value = (double)ae_model_input_dim(m); break;
        default: *value = (double)ae_model_latent_dim(m); break;
        }
        return AE_OK;
    }
    index -= HEAD_ITEMS;
    if (index < LAYER_ITEMS * n_layers) {
        size_t n_out = 0, n_in = 0;
        int activation = 0;
        int status = ae_model_layer_info(m, index / LAYER_ITEMS, &n_out, &n_in, &activation);
        if (status != AE_OK)
            return ae_mpi_fail_from_core(status);
        *value = index % LAYER_ITEMS == 0 ? (double)n_in : index % LAYER_ITEMS == 1 ? (double)n_out
                                                                                    : activation;
        return AE_OK;
    }
    index -= LAYER_ITEMS * n_layers;
    for (int id = 0; id < SETTING_IDS; id++) {
        if (ae_param_name((ae_param)id) && index-- == 0) {
            int status = ae_model_get_param(m, (ae_param)id, value);
            return status == AE_OK ? AE_OK : ae_mpi_fail_from_core(status);
        }
    }
    return AE_OK;
}

static void item_name(const ae_model *m, size_t index, char *name, size_t size)
{
    static const char *const head[HEAD_ITEMS] = {
        "the libautoenc version (AE_VERSION_NUMBER)", "the number of layers",
        "the number of encoder layers", "the architecture flags", "the input width",
        "the latent width"};
    static const char *const layer[LAYER_ITEMS] = {"input width", "output width", "activation"};
    const size_t n_layers = ae_model_layer_count(m);
    if (index < HEAD_ITEMS) {
        snprintf(name, size, "%s", head[index]);
        return;
    }
    index -= HEAD_ITEMS;
    if (index < LAYER_ITEMS * n_layers) {
        snprintf(name, size, "layer %zu's %s", index / LAYER_ITEMS, layer[index % LAYER_ITEMS]);
        return;
    }
    index -= LAYER_ITEMS * n_layers;
    for (int id = 0; id < SETTING_IDS; id++) {
        const char *param = ae_param_name((ae_param)id);
        if (param && index-- == 0) {
            snprintf(name, size, "the setting %s", param);
            return;
        }
    }
    snprintf(name, size, "item %zu", index);
}

static int describe(const ae_model *m, double **items, size_t *n_items)
{
    const size_t n_layers = ae_model_layer_count(m);
    *n_items = HEAD_ITEMS + LAYER_ITEMS * n_layers + setting_count();
    *items = malloc(*n_items * sizeof **items);
    AE_MPI_CHECK(*items != NULL, AE_ERR_OUT_OF_MEMORY,
                 "out of memory describing the model (%zu numbers)", *n_items);
    for (size_t i = 0; i < *n_items; i++) {
        int status = item_value(m, i, &(*items)[i]);
        if (status != AE_OK) {
            free(*items);
            *items = NULL;
            return status;
        }
    }
    return AE_OK;
}

/* Architecture and settings: AE_ERR_STATE on a rank that differs from rank 0. */
static int compare_descriptions(const ae_model *m, MPI_Comm comm, int rank)
{
    double *mine = NULL, *root = NULL;
    size_t n_mine = 0;
    int status = ae_mpi_agree(comm, describe(m, &mine, &n_mine));
    if (status != AE_OK) {
        free(mine); /* described here, but another rank failed */
        return status;
    }
    uint64_t n_root = n_mine;
    status = ae_mpi_bcast_bytes(&n_root, sizeof n_root, 0, comm);
    if (status == AE_OK && rank != 0) {
        root = malloc((size_t)n_root * sizeof *root);
        if (!root)
            status = ae_mpi_fail(AE_ERR_OUT_OF_MEMORY, "out of memory receiving rank 0's model "
                                 "description (%llu numbers)", (unsigned long long)n_root);
    }
    status = ae_mpi_agree(comm, status);
    if (status == AE_OK)
        status = ae_mpi_bcast_bytes(rank == 0 ? mine : root, (size_t)n_root * sizeof(double), 0, comm);
    if (status == AE_OK && rank != 0) {
        /* The counts follow from the version and the layers, which come first: a model of
         * another shape differs before either description ends. */
        size_t n = n_mine < n_root ? n_mine : (size_t)n_root;
        for (size_t i = 0; i < n; i++) {
            if (memcmp(&mine[i], &root[i], sizeof mine[i]) != 0) {
                char name[128];
                item_name(m, i, name, sizeof name);
                status = ae_mpi_fail(AE_ERR_STATE,
                                     "rank %d's model differs from rank 0's: %s is %.17g here and "
                                     "%.17g on rank 0 (make the model alike on every rank, or "
                                     "give them rank 0's with ae_mpi_broadcast_model())",
                                     rank, name, mine[i], root[i]);
                break;
            }
        }
        if (status == AE_OK && n_mine != n_root)
            status = ae_mpi_fail(AE_ERR_STATE, "rank %d's model differs from rank 0's in shape",
                                 rank);
    }
    free(mine);
    free(root);
    return ae_mpi_agree(comm, status);
}

/* ---- every saved byte -------------------------------------------------------------------- */

static const char *section_meaning(const unsigned char *tag)
{
    static const char *const known[][2] = {
        {"ARCH", "the architecture"},          {"SETT", "the settings"},
        {"PARM", "the weights and biases"},    {"RNG ", "the generator state"},
        {"OPTM", "the optimizer state"},       {"THRS", "the anomaly threshold"},
        {"SCAL", "the fitted scaling"},        {"ENCO", "the encoder-only mark"},
        {"TIED", "the tied-weights mark"},     {"VARL", "the variational mark"}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (memcmp(tag, known[i][0], 4) == 0)
            return known[i][1];
    return "a section this library does not name";
}

/* Which part of a saved model (docs/format.md: a 16-byte header, then sections of a 16-byte
 * frame, tag first, and a payload, then a checksum) holds byte `at`. */
static void name_part(const unsigned char *bytes, size_t size, size_t at, char *name, size_t n)
{
    size_t pos = 16;
    if (at >= 12 && at < pos) {
        snprintf(name, n, "the number of parts (a part such as the scaling, the threshold or the "
                          "optimizer state exists on one rank only)");
        return;
    }
    if (at < pos) {
        snprintf(name, n, "the file header (the format version)");
        return;
    }
    while (pos + 16 <= size) {
        uint64_t length = 0;
        for (int i = 7; i >= 0; i--)
            length = length << 8 | bytes[pos + 8 + (size_t)i];
        if (at < pos + 16) {
            snprintf(name, n, "the list of parts (a part such as the scaling, the threshold or "
                              "the optimizer state exists on one rank only)");
            return;
        }
        if (length > size - pos - 16)
            break;
        if (at < pos + 16 + length) {
            snprintf(name, n, "%s", section_meaning(bytes + pos));
            return;
        }
        pos += 16 + (size_t)length;
    }
    snprintf(name, n, "the checksum");
}

static int save_all(const ae_model *m, unsigned char **bytes, size_t *size)
{
    *bytes = NULL;
    int status = ae_model_save_size(m, AE_SAVE_OPTIMIZER_STATE, size);
    if (status != AE_OK)
        return ae_mpi_fail_from_core(status);
    *bytes = malloc(*size ? *size : 1);
    AE_MPI_CHECK(*bytes != NULL, AE_ERR_OUT_OF_MEMORY,
                 "out of memory saving the model to compare it (%zu bytes)", *size);
    status = ae_model_save_to_memory(m, AE_SAVE_OPTIMIZER_STATE, *bytes, *size, size);
    if (status != AE_OK) {
        free(*bytes);
        *bytes = NULL;
        return ae_mpi_fail_from_core(status);
    }
    return AE_OK;
}

static int compare_bytes(const ae_model *m, MPI_Comm comm, int rank)
{
    unsigned char *mine = NULL, *piece = NULL;
    size_t n_mine = 0;
    int status = ae_mpi_agree(comm, save_all(m, &mine, &n_mine));
    if (status != AE_OK) {
        free(mine); /* saved here, but another rank failed */
        return status;
    }
    uint64_t n_root = n_mine;
    status = ae_mpi_bcast_bytes(&n_root, sizeof n_root, 0, comm);
    const size_t piece_size = (size_t)1 << 20;
    if (status == AE_OK && rank != 0) {
        piece = malloc(piece_size);
        if (!piece)
            status = ae_mpi_fail(AE_ERR_OUT_OF_MEMORY, "out of memory comparing the models");
    }
    status = ae_mpi_agree(comm, status);
    /* Rank 0's bytes go out a piece at a time; the others compare them with their own. */
    size_t first_difference = SIZE_MAX;
    for (uint64_t at = 0; status == AE_OK && at < n_root; at += piece_size) {
        size_t n = n_root - at < piece_size ? (size_t)(n_root - at) : piece_size;
        unsigned char *buffer = rank == 0 ? mine + at : piece;
        status = ae_mpi_bcast_bytes(buffer, n, 0, comm);
        if (status != AE_OK || rank == 0 || first_difference != SIZE_MAX || at >= n_mine)
            continue;
        size_t common = n_mine - at < n ? n_mine - at : n;
        for (size_t i = 0; i < common; i++) {
            if (buffer[i] != mine[at + i]) {
                first_difference = (size_t)at + i;
                break;
            }
        }
    }
    if (status == AE_OK && first_difference == SIZE_MAX && n_mine != n_root)
        first_difference = n_mine < n_root ? n_mine : (size_t)n_root;
    if (status == AE_OK && first_difference != SIZE_MAX) {
        char part[160];
        name_part(mine, n_mine, first_difference, part, sizeof part);
        status = ae_mpi_fail(AE_ERR_STATE,
                             "rank %d's model differs from rank 0's in %s (its saved bytes differ "
                             "from byte %zu on); give every rank rank 0's model with "
                             "ae_mpi_broadcast_model()",
                             rank, part, first_difference);
    }
    free(mine);
    free(piece);
    return ae_mpi_agree(comm, status);
}

int ae_mpi_compare_models(ae_model *model, MPI_Comm comm)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    AE_MPI_FORWARD(compare_descriptions(model, comm, rank));
    return compare_bytes(model, comm, rank);
}
