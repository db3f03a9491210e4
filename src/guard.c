/* Misuse detection, as SQLite detects misuse: every call on a model announces itself in its
 * guard. Const calls share the model as readers; a call that changes it needs it alone as
 * the writer. A call that finds the model held the other way returns AE_ERR_BUSY at once, so
 * a program that breaks the threading rules gets an error instead of a heap use-after-free
 * or mixed weights.
 *
 * Readers count in shards, as a big-reader lock does: each thread counts in its own shard,
 * on its own cache line, so threads serving one model at once do not pass one line back and
 * forth on every call. Uncontended, a const call costs one atomic operation on its thread's
 * line on entry and one on exit, plus a read of the writer's word, a line only writers
 * write; a call that changes the model pays for reading every shard. */
#include "internal.h"

/* A token unique to the calling thread: the address of a thread-local object. */
static _Thread_local char thread_token;
static uintptr_t this_thread(void) { return (uintptr_t)&thread_token; }

size_t ae_thread_index(void)
{
    static _Atomic size_t dealt;
    static _Thread_local size_t index_plus_one;
    if (!index_plus_one)
        index_plus_one = atomic_fetch_add_explicit(&dealt, 1, memory_order_relaxed) + 1;
    return index_plus_one - 1;
}

/* The shard this thread counts in: threads started one after another count on different
 * lines. */
static size_t this_shard(void) { return ae_thread_index() % AE_GUARD_SHARDS; }

/* The model's guard fields are the one thing const calls change, only through atomics. */
static ae_guard *guard_of(const ae_model *m) { return (ae_guard *)&m->guard; }

/* A reader counts itself, then looks for a writer; a writer claims its word, then looks for
 * readers. All four are seq_cst, so of a reader and a writer that overlap at least one sees
 * the other (as in Dekker's algorithm) and they never both get in; both may see each other
 * and both fail, which only calls that overlap, against the rules, ever see. */

int ae_enter_reader(const ae_model *m)
{
    ae_guard *g = guard_of(m);
    _Atomic uint32_t *readers = &g->shards[this_shard()].readers;
    atomic_fetch_add_explicit(readers, 1, memory_order_seq_cst);
    uintptr_t writer = atomic_load_explicit(&g->writer_thread, memory_order_seq_cst);
    /* The writer's own thread may read from inside the call, i.e. from its progress callback,
     * which sees the model between steps. */
    if (writer == 0 || writer == this_thread())
        return AE_OK;
    atomic_fetch_sub_explicit(readers, 1, memory_order_release);
    return ae_fail(NULL, AE_ERR_BUSY,
                   "the model is being changed by a call in another thread (training, a setter, "
                   "a fit); const calls may not overlap it");
}

void ae_leave_reader(const ae_model *m)
{
    atomic_fetch_sub_explicit(&guard_of(m)->shards[this_shard()].readers, 1, memory_order_release);
}

int ae_enter_writer(ae_model *m)
{
    ae_guard *g = guard_of(m);
    uintptr_t writer = 0;
    if (!atomic_compare_exchange_strong_explicit(&g->writer_thread, &writer, this_thread(),
                                                 memory_order_seq_cst, memory_order_relaxed)) {
        if (writer == this_thread())
            return ae_fail(NULL, AE_ERR_BUSY,
                           "this thread is already inside a call that changes the model: a "
                           "progress callback may call only const functions on it");
        return ae_fail(NULL, AE_ERR_BUSY,
                       "the model is being changed by a call in another thread; calls that "
                       "change a model need it to themselves");
    }
    uint32_t readers = 0;
    for (size_t s = 0; s < AE_GUARD_SHARDS; s++)
        readers += atomic_load_explicit(&g->shards[s].readers, memory_order_seq_cst);
    if (readers == 0)
        return AE_OK;
    atomic_store_explicit(&g->writer_thread, 0, memory_order_release);
    return ae_fail(NULL, AE_ERR_BUSY,
                   "the model is in use by %u const call%s in other threads (encode, score, save, "
                   "...); calls that change a model need it to themselves",
                   (unsigned)readers, readers == 1 ? "" : "s");
}

int ae_leave_writer(ae_model *m, int status)
{
    /* Every failure of a call that changes the model is recorded on it, whichever helper
     * recorded it in the thread's slot. */
    ae_fail_on_model(m, status);
    /* One word holds the writer's thread and says the model is held: clearing it releases. */
    atomic_store_explicit(&guard_of(m)->writer_thread, 0, memory_order_release);
    return status;
}
