/* Data sets read from NPY, IDX or CSV files: a matrix of float rows, either
 * memory-mapped (little-endian float32 C-order NPY), converted from the mapped file
 * a chunk at a time (other NPY dtypes), or read into memory (IDX, CSV).
 * Every malformed file is reported in one line naming the file, the place and what
 * was expected (dataset_*.c). */
#ifndef AUTOENC_DATASET_H
#define AUTOENC_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef enum cli_format {
    CLI_FORMAT_UNKNOWN = 0,
    CLI_FORMAT_NPY,
    CLI_FORMAT_IDX,
    CLI_FORMAT_CSV
} cli_format;

/* NPY element types the reader converts (dataset_npy.c). */
typedef enum cli_dtype {
    CLI_DTYPE_F4, CLI_DTYPE_F8, CLI_DTYPE_F2,
    CLI_DTYPE_I1, CLI_DTYPE_U1, CLI_DTYPE_I2, CLI_DTYPE_U2,
    CLI_DTYPE_I4, CLI_DTYPE_U4, CLI_DTYPE_I8, CLI_DTYPE_U8, CLI_DTYPE_BOOL
} cli_dtype;

/* Chooses one block of a file's rows (autoenc train --distributed: this process's shard),
 * once the file's row count is known (after --rows): sets [*first, *first + *count), or
 * prints why it cannot and returns an exit status. */
typedef int (*cli_row_block_fn)(const char *path, size_t n_rows, void *user, size_t *first,
                                size_t *count);

typedef struct cli_read_options {
    int header;             /* CSV: -1 detect, 0 none, 1 first row is a header */
    char delimiter;         /* CSV: 0 detect, ' ' for runs of blanks */
    const char *columns;    /* CSV: "1,3-5" (1-based) or header names; NULL for all */
    const char *labels;     /* file of one label per row (IDX, NPY or CSV); NULL: none */
    long class_label;       /* keep only rows of this label; -1: all */
    size_t max_rows;        /* keep the first rows only; 0: all */
    /* Read only one block of rows (NPY and IDX; the IDX reader skips the rest of the file,
     * the NPY map is touched only there); NULL: every row. */
    cli_row_block_fn row_block;
    void *row_block_user;
} cli_read_options;

void cli_read_options_init(cli_read_options *o);

typedef struct cli_dataset {
    char *path;
    cli_format format;
    size_t rows, cols;
    /* Contiguous rows (ld = cols) when available: mapped or owned. */
    float *data;
    int owns_data;
    /* The mapped file (NPY), and how to convert it when data is NULL. */
    unsigned char *map;
    size_t map_size;
    size_t data_offset; /* byte offset of element 0 in the file */
    cli_dtype dtype;
    size_t itemsize;
    int swap_bytes;
    int fortran;        /* column-major 2-D array */
    float value_scale;  /* the factor values were scaled by (1/255 for IDX bytes), else 1 */
    size_t first_row;   /* the file row of row 0 (a block of the file, --distributed), else 0 */
    size_t file_rows;   /* the rows in the file (Fortran order: the stride of a column) */
    size_t *row_index;  /* rows kept by a class selection, into the file's rows; NULL: 0.. */
    size_t *csv_lines;  /* CSV: the line of each row, for messages */
    size_t *csv_columns;/* CSV: the file column (1-based) of each kept column */
    /* Image shape the file implies (IDX, NPY of 3 or 4 dimensions); 0 if none. */
    size_t image_width, image_height, image_channels;
} cli_dataset;

/* Open and read @p path (detecting the format from the content); returns 0 or an exit
 * status after printing the reason. */
int cli_dataset_open(cli_dataset *ds, const char *path, const cli_read_options *o);
void cli_dataset_free(cli_dataset *ds);

/* Rows first .. first+count-1 as floats (ld = cols): a pointer into the data, or
 * @p scratch (count x cols floats) filled by conversion. */
const float *cli_dataset_rows(const cli_dataset *ds, size_t first, size_t count, float *scratch);
/* True if cli_dataset_rows never needs scratch. */
int cli_dataset_is_contiguous(const cli_dataset *ds);
/* Make the whole matrix contiguous in memory (converting once if needed). 0 or a status. */
int cli_dataset_materialize(cli_dataset *ds);
/* Tell the system that rows before @p end are done with (frees mapped pages). */
void cli_dataset_release(const cli_dataset *ds, size_t end);

/* Where element (row, col) of the matrix comes from: "line 4, column 2" or
 * "byte offset 208 (row 3, column 5)". */
void cli_dataset_where(const cli_dataset *ds, size_t row, size_t col, char *buf, size_t size);

/* After a library call on rows first .. first+count-1 failed with @p ae_status,
 * print one line naming the file and the first offending value, and return the exit
 * status. @p unit_range: the model needs values in [0, 1] (BCE without scaling). */
int cli_dataset_report(const cli_dataset *ds, size_t first, size_t count, int code,
                       const char *library_message, int unit_range);
/* The same when the value may be in another file: prints the line and sets *status only
 * when rows first .. first+count-1 hold a value the check refuses; 1 then, else 0. */
int cli_dataset_report_value(const cli_dataset *ds, size_t first, size_t count, int code,
                             int unit_range, int *status);

/* Readers per format (dataset_npy.c, dataset_idx.c, dataset_csv.c): fill ds from the
 * open file descriptor @p fd of @p size bytes. 0 or an exit status. */
int cli_read_npy(cli_dataset *ds, int fd, size_t size);
int cli_read_idx(cli_dataset *ds, int fd, int gzipped, const cli_read_options *o);

/* The block of rows @p o asks for out of @p file_rows: [0, min(file_rows, --rows)) without
 * a row_block. 0 or an exit status. */
int cli_dataset_block(const cli_dataset *ds, const cli_read_options *o, size_t file_rows,
                      size_t *first, size_t *count);
int cli_read_csv(cli_dataset *ds, int fd, size_t size, const cli_read_options *o);

/* A file of one integer label per row: IDX label files, NPY or CSV of one column.
 * Returns 0 or an exit status; *labels is malloc'ed. */
int cli_read_labels(const char *path, long **labels, size_t *count);
/* The labels file next to a standard IDX images file (train-images-idx3-ubyte.gz ->
 * train-labels-idx1-ubyte.gz), or NULL; malloc'ed. */
char *cli_sibling_labels(const char *images_path);

#endif
