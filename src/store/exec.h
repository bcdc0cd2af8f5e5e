/* The storage executor: how storage work may complete later on the loop.
 *
 * A store handle belongs to one thread. With the executor off (SQLite default: its calls are short and
 * measured cheap, bench/http.sh), code on the loop uses the app's handle inline. With it on
 * (cfg.store_threads > 0, or a backend that declares itself `blocking`), storage-bound work runs on
 * libuv's thread pool, each job with a handle of its own taken from a pool of at most `threads`
 * handles, and its completion runs later on the loop thread. Internal.
 */
#ifndef AW_STORE_EXEC_H
#define AW_STORE_EXEC_H

#include <stdbool.h>

#include "store/store.h"

struct aw_app;
typedef struct aw_store_exec aw_store_exec;

/* work(s, ud) runs on a worker thread with handle `s` (owned by the pool; do not close); done(ud,
 * status) then runs on the loop thread: AW_OK, AW_ESTORAGE or AW_ESTORAGE_TRANSIENT when no handle
 * could be opened (work did not run), AW_ECANCELED when the job was cancelled at shutdown (work did not run). */
typedef void (*aw_store_work_fn)(aw_store *s, void *ud);
typedef void (*aw_store_done_fn)(void *ud, int status);

/* Create the executor of `app` with at most `threads` handles (>= 1). Loop thread, after attach.
 * Errors: AW_ENOMEM. */
int aw_store_exec_new(struct aw_app *app, unsigned threads, aw_store_exec **out);

/* Close the pooled handles and free. Every job must be done (the loop ran to completion). */
void aw_store_exec_free(aw_store_exec *x);

/* Queue a job (loop thread). AW_OK, or AW_ENOMEM / AW_ESHUTDOWN (nothing queued, done not called). */
int aw_store_exec_submit(aw_store_exec *x, aw_store_work_fn work, aw_store_done_fn done, void *ud);

/* The handle the calling worker thread holds for its current job, or NULL (not in a job). */
aw_store *aw_store_exec_current(aw_store_exec *x);

/* Jobs queued or running. Loop thread. */
unsigned aw_store_exec_pending(const aw_store_exec *x);

#endif
