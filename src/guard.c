/* Misuse detection, as SQLite detects misuse: every call on a model announces itself in one
 * atomic word. Const calls share the model as readers; a call that changes it needs it
 * alone as the writer. A call that finds the model held the other way returns AE_ERR_BUSY
 * at once, so a program that breaks the threading rules gets an error instead of a heap
 * use-after-free or mixed weights. Uncontended, this costs one atomic operation on entry
 * and one on exit. */
#include "internal.h"

/* The word holds the number of readers, and this bit while a writer holds the model. */
#define WRITER_BIT (UINT32_C(1) << 31)

/* A token unique to the calling thread: the address of a thread-local object. */
static _Thread_local char thread_token;
static uintptr_t this_thread(void) { return (uintptr_t)&thread_token; }

/* The model's guard fields are the one thing const calls change, only through atomics. */
static ae_guard *guard_of(const ae_model *m) { return (ae_guard *)&m->guard; }

int ae_enter_reader(const ae_model *m)
{
    ae_guard *g = guard_of(m);
    uint32_t before = atomic_fetch_add_explicit(&g->users, 1, memory_order_acquire);
    if (!(before & WRITER_BIT))
        return AE_OK;
    /* The writer's own thread may read from inside the call, i.e. from its progress callback,
     * which sees the model between steps. */
    if (atomic_load_explicit(&g->writer_thread, memory_order_relaxed) == this_thread())
        return AE_OK;
    atomic_fetch_sub_explicit(&g->users, 1, memory_order_release);
    return ae_fail(NULL, AE_ERR_BUSY,
                   "the model is being changed by a call in another thread (training, a setter, "
                   "a fit); const calls may not overlap it");
}

void ae_leave_reader(const ae_model *m)
{
    atomic_fetch_sub_explicit(&guard_of(m)->users, 1, memory_order_release);
}

int ae_enter_writer(ae_model *m)
{
    ae_guard *g = guard_of(m);
    uint32_t expected = 0;
    if (atomic_compare_exchange_strong_explicit(&g->users, &expected, WRITER_BIT,
                                                memory_order_acquire, memory_order_relaxed)) {
        atomic_store_explicit(&g->writer_thread, this_thread(), memory_order_relaxed);
        return AE_OK;
    }
    if ((expected & WRITER_BIT) &&
        atomic_load_explicit(&g->writer_thread, memory_order_relaxed) == this_thread())
        return ae_fail(NULL, AE_ERR_BUSY,
                       "this thread is already inside a call that changes the model: a progress "
                       "callback may call only const functions on it");
    if (expected & WRITER_BIT)
        return ae_fail(NULL, AE_ERR_BUSY,
                       "the model is being changed by a call in another thread; calls that change "
                       "a model need it to themselves");
    return ae_fail(NULL, AE_ERR_BUSY,
                   "the model is in use by %u const call%s in other threads (encode, score, save, "
                   "...); calls that change a model need it to themselves",
                   (unsigned)expected, expected == 1 ? "" : "s");
}

int ae_leave_writer(ae_model *m, int status)
{
    ae_guard *g = guard_of(m);
    /* Every failure of a call that changes the model is recorded on it, whichever helper
     * recorded it in the thread's slot. */
    ae_fail_on_model(m, status);
    atomic_store_explicit(&g->writer_thread, 0, memory_order_relaxed);
    atomic_fetch_sub_explicit(&g->users, WRITER_BIT, memory_order_release);
    return status;
}
