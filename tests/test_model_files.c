/* Model files on disk (docs/format.md, "Reading" and "Saving to a path"): loading
 * refuses what is not a regular file without blocking and reads the header first;
 * saving replaces a file atomically.
 *
 * Cases that depend on permissions run in a forked child as 'nobody' when the suite runs
 * as root (root ignores permission bits). */
#define _GNU_SOURCE /* setresuid */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autoenc.h"
#include "test_models.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NOBODY 65534

/* ---- models and their bytes ------------------------------------------------------ */

/* Two small models that differ (the target's old content and the new one) and a
 * larger one. */
static ae_model *old_model, *new_model, *large_model;
static unsigned char *old_bytes, *new_bytes;
static size_t old_size, new_size;

static ae_model *seeded_model(const size_t *widths, size_t n_widths, double seed)
{
    ae_model *m = test_create_model(widths, n_widths, NULL, 0);
    test_set_param(m, AE_PARAM_SEED, seed);
    return m;
}

static unsigned char *bytes_of(const ae_model *m, size_t *n)
{
    assert_int_equal(ae_model_save_size(m, AE_SAVE_DEFAULT, n), AE_OK);
    unsigned char *bytes = malloc(*n);
    assert_non_null(bytes);
    size_t written = 0;
    assert_int_equal(ae_model_save_to_memory(m, AE_SAVE_DEFAULT, bytes, *n, &written), AE_OK);
    assert_int_equal(written, *n);
    return bytes;
}

static int group_setup(void **state)
{
    (void)state;
    static const size_t small[] = {6, 4, 2}, large[] = {784, 256, 128};
    old_model = seeded_model(small, ARRAY_LEN(small), 1);
    new_model = seeded_model(small, ARRAY_LEN(small), 2);
    large_model = seeded_model(large, ARRAY_LEN(large), 3);
    old_bytes = bytes_of(old_model, &old_size);
    new_bytes = bytes_of(new_model, &new_size);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ae_model_free(old_model);
    ae_model_free(new_model);
    ae_model_free(large_model);
    free(old_bytes);
    free(new_bytes);
    return 0;
}

/* ---- files and folders ----------------------------------------------------------- */

/* The whole content of path (malloc'ed; NULL if it cannot be read). */
static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    size_t capacity = 4096, size = 0;
    unsigned char *bytes = malloc(capacity);
    assert_non_null(bytes);
    size_t got;
    while ((got = fread(bytes + size, 1, capacity - size, fp)) > 0) {
        size += got;
        if (size == capacity) {
            capacity *= 2;
            bytes = realloc(bytes, capacity);
            assert_non_null(bytes);
        }
    }
    fclose(fp);
    *n = size;
    return bytes;
}

/* Whether path holds exactly the n bytes at expected. */
static int file_holds(const char *path, const unsigned char *expected, size_t n)
{
    size_t size;
    unsigned char *bytes = read_file(path, &size);
    int same = bytes && size == n && memcmp(bytes, expected, n) == 0;
    free(bytes);
    return same;
}

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text)); }

/* Entries of a folder other than . and .., optionally all but `except`. */
static size_t count_entries_except(const char *dir, const char *except)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            !(except && strcmp(e->d_name, except) == 0))
            n++;
    closedir(d);
    return n;
}

static size_t count_entries(const char *dir) { return count_entries_except(dir, NULL); }

/* A fresh folder under /tmp and paths inside it. */
typedef struct temp_dir {
    char dir[40];
    char path[512]; /* dir/model.aemodel */
} temp_dir;

static void make_temp_dir(temp_dir *t)
{
    memcpy(t->dir, "/tmp/ae_files_XXXXXX", sizeof "/tmp/ae_files_XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/model.aemodel", t->dir);
}

/* A path inside t's folder, in a static buffer of its own per slot. */
static const char *in_dir(const temp_dir *t, int slot, const char *name)
{
    static char paths[4][1024];
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", t->dir, name);
    return paths[slot];
}

/* Remove the folder and everything in it (one level deep, plus the given subfolders'
 * contents), as the last step of a test. */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[1024];
        snprintf(child, sizeof child, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(lstat(child, &st), 0);
        if (S_ISDIR(st.st_mode))
            remove_tree(child);
        else
            assert_int_equal(unlink(child), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

/* Whether the file at path loads and saves back as exactly the n bytes at expected. */
static int loads_as(const char *path, const unsigned char *expected, size_t n)
{
    ae_model *m = NULL;
    if (ae_model_load(&m, path) != AE_OK)
        return 0;
    size_t size = 0, written = 0;
    int same = ae_model_save_size(m, AE_SAVE_DEFAULT, &size) == AE_OK && size == n;
    unsigned char *bytes = malloc(n);
    same = same && bytes &&
           ae_model_save_to_memory(m, AE_SAVE_DEFAULT, bytes, n, &written) == AE_OK &&
           memcmp(bytes, expected, n) == 0;
    free(bytes);
    ae_model_free(m);
    return same;
}

static void assert_loads_as_old(const char *path)
{
    assert_true(file_holds(path, old_bytes, old_size));
    assert_true(loads_as(path, old_bytes, old_size));
}

static void assert_loads_as_new(const char *path)
{
    assert_true(file_holds(path, new_bytes, new_size));
    assert_true(loads_as(path, new_bytes, new_size));
}

static void assert_error_mentions(const char *text)
{
    if (!strstr(ae_last_error(), text))
        fail_msg("the message \"%s\" does not mention \"%s\"", ae_last_error(), text);
}

/* ---- running a case in a child ---------------------------------------------------- */

enum {
    AS_NOBODY = 1 /* drop root's privileges (no effect when not root) */
};
#define CHILD_SKIPPED 77

/* In a forked child: take on `options`, then run the case. Exits with its result, or
 * CHILD_SKIPPED when an option cannot be had here. */
static void become(unsigned options)
{
    if ((options & AS_NOBODY) && geteuid() == 0 &&
        (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
         setresuid(NOBODY, NOBODY, NOBODY) != 0))
        _exit(CHILD_SKIPPED);
}

typedef int (*child_case)(const void *arg);

/* Run a case in a child with options; returns its wait status. */
static int run_child(child_case run, const void *arg, unsigned options)
{
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        become(options);
        _exit(run(arg));
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    return status;
}

/* Run a case in a child: true if it passed, false if it was skipped (with a note);
 * fails the test otherwise. */
static int child_passes(child_case run, const void *arg, unsigned options, const char *what)
{
    int status = run_child(run, arg, options);
    if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SKIPPED) {
        print_message("      note: skipped %s (the child could not get its restrictions here)\n",
                      what);
        return 0;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s: the child %s %d", what, WIFEXITED(status) ? "failed at check" : "died of signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 1;
}

/* The folder becomes the saving user's: nobody's when the suite runs as root. */
static void give_to_saver(const char *path)
{
    if (geteuid() == 0)
        assert_int_equal(lchown(path, NOBODY, NOBODY), 0);
}

/* Cases run in children: their argument is a path, their result 0 or the failed check. */
typedef struct save_case {
    const char *path;
    const ae_model *model;
    int expected;         /* status of the save */
    const char *mentions; /* text the message must hold, or NULL */
} save_case;

static int save_case_run(const void *arg)
{
    const save_case *c = arg;
    int status = ae_model_save(c->model, c->path, AE_SAVE_DEFAULT);
    if (status != c->expected) {
        fprintf(stderr, "      save: %s (%s)\n", ae_status_str(status), ae_last_error());
        return 1;
    }
    if (c->mentions && !strstr(ae_last_error(), c->mentions)) {
        fprintf(stderr, "      message: %s\n", ae_last_error());
        return 2;
    }
    return 0;
}

/* ================================================================================== */
/* Round trips and bad paths                                                           */
/* ================================================================================== */

static void test_file_round_trip_writes_exactly_the_memory_bytes(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    assert_int_equal(ae_model_save(new_model, t.path, AE_SAVE_DEFAULT), AE_OK);
    assert_loads_as_new(t.path);
    /* With the optimizer state too. */
    size_t n;
    assert_int_equal(ae_model_save_size(large_model, AE_SAVE_OPTIMIZER_STATE, &n), AE_OK);
    assert_int_equal(ae_model_save(large_model, t.path, AE_SAVE_OPTIMIZER_STATE), AE_OK);
    struct stat st;
    assert_int_equal(stat(t.path, &st), 0);
    assert_int_equal((size_t)st.st_size, n);
    assert_int_equal(count_entries(t.dir), 1);
    remove_tree(t.dir);
}

static void test_load_of_missing_file_or_folder_is_an_io_error(void **state)
{
    (void)state;
    ae_model *m = (ae_model *)(uintptr_t)1;
    assert_int_equal(ae_model_load(&m, "/nonexistent-ae-dir/model.aemodel"), AE_ERR_IO);
    assert_null(m);
    assert_error_mentions("/nonexistent-ae-dir/model.aemodel");
    assert_int_equal(ae_model_load(&m, "/tmp"), AE_ERR_IO);
    assert_error_mentions("is a directory");
    assert_int_equal(ae_model_load(&m, "/tmp/"), AE_ERR_IO);
    assert_error_mentions("is a directory");
    assert_null(m);
}

static void test_load_of_a_fifo_or_device_is_refused_without_blocking(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    assert_int_equal(mkfifo(t.path, 0644), 0);
    /* Opening a FIFO that no one writes to blocks until someone does: without care the
     * load would hang, and the alarm would end the suite. */
    alarm(20);
    ae_model *m = (ae_model *)(uintptr_t)1;
    assert_int_equal(ae_model_load(&m, t.path), AE_ERR_IO);
    assert_null(m);
    assert_error_mentions("is a FIFO, not a regular file");
    /* Through a symbolic link as well. */
    const char *link_path = in_dir(&t, 0, "link");
    assert_int_equal(symlink("model.aemodel", link_path), 0);
    assert_int_equal(ae_model_load(&m, link_path), AE_ERR_IO);
    assert_error_mentions("is a FIFO");
    assert_int_equal(ae_model_load(&m, "/dev/null"), AE_ERR_IO);
    assert_error_mentions("/dev/null is a character device, not a regular file");
    alarm(0);
    remove_tree(t.dir);
}

/* ================================================================================== */
/* Load reads the header first                                                          */
/* ================================================================================== */

/* An allocator that fails allocations above a limit or the Nth one, counts live blocks
 * and remembers the largest request. */
static struct {
    size_t limit, largest;
    long fail_at, count, live;
} hook;

static void *hook_alloc(size_t size, void *user)
{
    (void)user;
    if (size > hook.largest)
        hook.largest = size;
    if (size > hook.limit || (hook.fail_at >= 0 && hook.count++ == hook.fail_at))
        return NULL;
    void *p = malloc(size ? size : 1);
    hook.live += p != NULL;
    return p;
}

static void hook_free(void *ptr, void *user)
{
    (void)user;
    hook.live--;
    free(ptr);
}

static void hook_start(size_t limit, long fail_at)
{
    memset(&hook, 0, sizeof hook);
    hook.limit = limit;
    hook.fail_at = fail_at;
    assert_int_equal(ae_set_allocator(hook_alloc, hook_free, NULL), AE_OK);
}

static void hook_stop(void) { assert_int_equal(ae_set_allocator(NULL, NULL, NULL), AE_OK); }

static void test_load_refuses_a_huge_file_of_zeros_after_reading_only_its_header(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    static const off_t sizes[] = {(off_t)256 << 20, (off_t)2 << 30};
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
        /* Sparse: it takes no room on the disk, but reading it whole would need the memory. */
        int fd = open(t.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, sizes[i]), 0);
        assert_int_equal(close(fd), 0);
        /* Any allocation above 1 MiB fails: a loader that reads the file before looking at
         * it would report out of memory, not a malformed file. */
        hook_start(1u << 20, -1);
        ae_model *m = (ae_model *)(uintptr_t)1;
        int status = ae_model_load(&m, t.path);
        size_t largest = hook.largest;
        long live = hook.live;
        hook_stop();
        if (status != AE_ERR_FORMAT)
            print_error("%s: %s\n", ae_status_str(status), ae_last_error());
        assert_int_equal(status, AE_ERR_FORMAT);
        assert_error_mentions("wrong magic at byte 0");
        assert_null(m);
        assert_true(largest <= 1u << 20);
        assert_int_equal(live, 0);
    }
    remove_tree(t.dir);
}

/* A header for the tests below: magic, then major and minor version. */
static void make_header(unsigned char header[16], unsigned major, unsigned minor)
{
    memcpy(header, old_bytes, 16);
    header[8] = (unsigned char)major;
    header[9] = (unsigned char)(major >> 8);
    header[10] = (unsigned char)minor;
    header[11] = (unsigned char)(minor >> 8);
}

static void test_load_from_a_file_reports_header_errors_as_loading_from_memory_does(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    unsigned char good[16], newer[16], zero[16];
    make_header(good, 1, 2);
    make_header(newer, 2, 0);
    make_header(zero, 0, 7);
    static const char text[] = "just some text, not a model";
    struct {
        const unsigned char *bytes;
        size_t n;
        int expected;
    } cases[] = {
        {good, 0, AE_ERR_FORMAT},                   /* empty */
        {good, 5, AE_ERR_FORMAT},                   /* part of the magic */
        {good, 12, AE_ERR_FORMAT},                  /* part of the header */
        {(const unsigned char *)text, sizeof text - 1, AE_ERR_FORMAT},
        {newer, 16, AE_ERR_VERSION},
        {zero, 16, AE_ERR_FORMAT},
        {good, 16, AE_ERR_FORMAT},                  /* no checksum */
        {old_bytes, old_size - 1, AE_ERR_FORMAT},   /* truncated */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        ae_model *m = NULL;
        int from_memory = ae_model_load_from_memory(&m, cases[i].bytes, cases[i].n);
        char memory_message[1024];
        snprintf(memory_message, sizeof memory_message, "%s: %s", t.path, ae_last_error());
        write_file(t.path, cases[i].bytes, cases[i].n);
        int from_file = ae_model_load(&m, t.path);
        assert_int_equal(from_memory, cases[i].expected);
        assert_int_equal(from_file, cases[i].expected);
        assert_string_equal(ae_last_error(), memory_message);
        assert_null(m);
    }
    remove_tree(t.dir);
}

/* ================================================================================== */
/* Saving: replacing a file                                                             */
/* ================================================================================== */

static void test_save_replaces_an_existing_file_and_leaves_no_temporary(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    write_text(t.path, "old contents");
    assert_int_equal(ae_model_save(new_model, t.path, AE_SAVE_DEFAULT), AE_OK);
    assert_int_equal(count_entries(t.dir), 1);
    assert_loads_as_new(t.path);
    /* Relative paths too (no folder part). */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(t.dir), 0);
    assert_int_equal(ae_model_save(old_model, "model.aemodel", AE_SAVE_DEFAULT), AE_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(count_entries(t.dir), 1);
    assert_loads_as_old(t.path);
    remove_tree(t.dir);
}

static void test_save_into_a_missing_folder_fails_and_creates_nothing(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    assert_int_equal(ae_model_save(new_model, in_dir(&t, 0, "missing/model.aemodel"),
                                   AE_SAVE_DEFAULT),
                     AE_ERR_IO);
    assert_error_mentions("No such file");
    assert_int_equal(count_entries(t.dir), 0);
    remove_tree(t.dir);
}

static void test_save_into_a_read_only_folder_keeps_the_old_file(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    write_file(t.path, old_bytes, old_size);
    give_to_saver(t.dir);
    assert_int_equal(chmod(t.dir, 0555), 0);
    save_case c = {t.path, new_model, AE_ERR_IO, "Permission denied"};
    child_passes(save_case_run, &c, AS_NOBODY, "saving into a read-only folder");
    assert_int_equal(count_entries(t.dir), 1);
    assert_loads_as_old(t.path);
    assert_int_equal(chmod(t.dir, 0700), 0);
    remove_tree(t.dir);
}

static void test_save_fails_cleanly_when_any_allocation_fails(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    write_file(t.path, old_bytes, old_size);
    for (long k = 0;; k++) {
        hook_start(SIZE_MAX, k);
        int status = ae_model_save(new_model, t.path, AE_SAVE_DEFAULT);
        long live = hook.live;
        hook_stop();
        assert_int_equal(live, 0);
        if (status == AE_OK)
            break;
        assert_int_equal(status, AE_ERR_OUT_OF_MEMORY);
        assert_loads_as_old(t.path);
        assert_int_equal(count_entries(t.dir), 1);
        assert_true(k < 20);
    }
    assert_loads_as_new(t.path);
    remove_tree(t.dir);
}

static void test_failed_rename_keeps_the_old_target_and_removes_the_temporary(void **state)
{
    (void)state;
    temp_dir t;
    make_temp_dir(&t);
    /* The target is a non-empty folder: the file is written, the rename fails. */
    assert_int_equal(mkdir(t.path, 0755), 0);
    write_text(in_dir(&t, 0, "model.aemodel/keep"), "still here");
    assert_int_equal(ae_model_save(new_model, t.path, AE_SAVE_DEFAULT), AE_ERR_IO);
    assert_error_mentions("rename");
    assert_int_equal(count_entries(t.dir), 1);
    assert_int_equal(count_entries(t.path), 1);
    remove_tree(t.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_round_trip_writes_exactly_the_memory_bytes),
        cmocka_unit_test(test_load_of_missing_file_or_folder_is_an_io_error),
        cmocka_unit_test(test_load_of_a_fifo_or_device_is_refused_without_blocking),
        cmocka_unit_test(test_load_refuses_a_huge_file_of_zeros_after_reading_only_its_header),
        cmocka_unit_test(test_load_from_a_file_reports_header_errors_as_loading_from_memory_does),
        cmocka_unit_test(test_save_replaces_an_existing_file_and_leaves_no_temporary),
        cmocka_unit_test(test_save_into_a_missing_folder_fails_and_creates_nothing),
        cmocka_unit_test(test_save_into_a_read_only_folder_keeps_the_old_file),
        cmocka_unit_test(test_save_fails_cleanly_when_any_allocation_fails),
        cmocka_unit_test(test_failed_rename_keeps_the_old_target_and_removes_the_temporary),
    };
    return cmocka_run_group_tests_name("model_files", tests, group_setup, group_teardown);
}
