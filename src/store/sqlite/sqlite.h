/* SQLite backend internals shared by the per-entity files. */
#ifndef AW_STORE_SQLITE_H
#define AW_STORE_SQLITE_H

#include <sqlite3.h>

#include "store/store.h"
#include "util/log.h"

/* A publisher record with diffs waiting for delivery (the partial index subscriptions_unsent; a query that
 * should use it repeats this term). Only a write that starts or ends the wait touches the index. */
#define AW_SQ_UNSENT "send_due_ms IS NOT NULL"

/* A publisher record's sequence, read from `subscriptions` under the name t: its newest diff's number, or
 * the stored column when that is higher. A change takes the next number by storing its diff alone (no row
 * update: that rewrote the whole record once per subscription per change); the column is a floor, raised
 * before diffs that may include the newest are deleted (diff_clear, retention) and by next_seq. Mirrors
 * (callback = 1) keep their applied sequence in the column itself. */
#define AW_SQ_SEQ(t)                                                                                          \
    "(CASE WHEN " t ".callback = 0 THEN MAX(" t ".sequence, IFNULL((SELECT MAX(dq.seq) FROM diffs dq WHERE"   \
    " dq.actor = " t ".actor AND dq.subid = " t ".subid), 0)) ELSE " t ".sequence END)"

typedef struct aw_sq_stmt_slot {
    const char *sql; /* key: the address of a string literal */
    sqlite3_stmt *stmt;
} aw_sq_stmt_slot;

/* Background WAL checkpoints (checkpoint.c): a thread with its own connection, started at the first wake. */
typedef struct aw_sq_ckpt aw_sq_ckpt;
/* NULL for a database without a file (nothing to checkpoint) or when out of memory. */
aw_sq_ckpt *aw_sq_ckpt_new(const char *path, const aw_logger *log);
/* From the connection's WAL hook: `frames` is the WAL's frame count after a commit. */
void aw_sq_ckpt_note(aw_sq_ckpt *c, int frames);
/* True once the thread runs with its connection open (else the housekeeping checkpoints inline). */
bool aw_sq_ckpt_running(aw_sq_ckpt *c);
/* Checkpoints run so far, and how many of them were RESTART (writers waited). */
void aw_sq_ckpt_stats(aw_sq_ckpt *c, unsigned *runs, unsigned *restarts);
/* Stops and joins the thread, closes its connection. NULL is fine. */
void aw_sq_ckpt_free(aw_sq_ckpt *c);

/* The name of the WAL-gathering VFS shim (walbuf.c), registered on first call; NULL when it could not be
 * (then the default VFS is used). Thread-safe. */
const char *aw_sq_walbuf_vfs(void);

typedef struct aw_sq {
    aw_store store;
    sqlite3 *db;
    const aw_logger *log;
    aw_sq_stmt_slot *slots;
    size_t nslots;
    int in_txn;
    int in_group; /* a group transaction is open: begin/commit/rollback are savepoints */
    unsigned maintain_calls;
    aw_sq_ckpt *ckpt;
    bool nowait;   /* store->nowait: a write begin gives up at once when another connection writes */
    bool in_begin; /* a write begin is waiting for the lock (the busy handler looks at nowait only then) */
} aw_sq;

static inline aw_sq *aw_sq_of(aw_store *s) { return (aw_sq *)s->impl; }

/* The cached prepared statement for `sql` (a string literal: its address is the key), reset and with
 * bindings cleared. NULL on failure (logged). */
sqlite3_stmt *aw_sq_stmt(aw_sq *q, const char *sql);

/* Map an SQLite result code to an aw status (BUSY/LOCKED -> TRANSIENT, CONSTRAINT -> CONFLICT). */
int aw_sq_status(aw_sq *q, int rc, const char *what);

/* Run a statement that returns no rows to completion; returns aw status. Resets the statement. */
int aw_sq_exec_stmt(aw_sq *q, sqlite3_stmt *st, const char *what);
/* Store the publisher record's sequence (AW_SQ_SEQ) in its column before diffs that may include its newest
 * are deleted; actor NULL: every record with a diff older than `before` (an ISO timestamp; retention). */
int aw_sq_raise_seq_floor(aw_sq *q, const char *actor, const char *subid);
int aw_sq_raise_seq_floors_before(aw_sq *q, const char *before);

/* Bind helpers: text (NULL binds NULL), int64. */
void aw_sq_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Copy of column text (NULL for SQL NULL); malloc'd. */
char *aw_sq_col_dup(sqlite3_stmt *st, int i);

/* Per-entity vtables (one file each). */
extern const aw_store_actor_ops aw_sq_actor_ops;
extern const aw_store_prop_ops aw_sq_prop_ops;
extern const aw_store_list_ops aw_sq_list_ops;
extern const aw_store_attr_ops aw_sq_attr_ops;
extern const aw_store_trust_ops aw_sq_trust_ops;
extern const aw_store_sub_ops aw_sq_sub_ops;
extern const aw_store_outbox_ops aw_sq_outbox_ops;
extern const aw_store_pending_ops aw_sq_pending_ops;

int aw_sq_open(const char *path, const aw_logger *log, aw_store **out);

#endif
