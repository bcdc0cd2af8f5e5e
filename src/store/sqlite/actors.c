/* SQLite: actors. */
#include <string.h>

#include "store/sqlite/sqlite.h"
#include "util/time.h"
#include "util/str.h"

static int actor_create(aw_store *s, const aw_actor_rec *r)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "INSERT INTO actors(id, creator, passphrase, trustee_root, created_at)"
                                     " VALUES(?1, ?2, ?3, ?4, ?5)");
    if (!st) return AW_ESTORAGE;
    char now[32];
    aw_time_iso(now);
    aw_sq_bind_text(st, 1, r->id);
    aw_sq_bind_text(st, 2, r->creator);
    aw_sq_bind_text(st, 3, r->passphrase);
    aw_sq_bind_text(st, 4, r->trustee_root);
    aw_sq_bind_text(st, 5, now);
    return aw_sq_exec_stmt(q, st, "actor create");
}

static int read_actor(aw_sq *q, sqlite3_stmt *st, aw_actor_rec *out, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return AW_ENOTFOUND;
    }
    if (rc != SQLITE_ROW) {
        int r = aw_sq_status(q, rc, what);
        sqlite3_reset(st);
        return r;
    }
    memset(out, 0, sizeof *out);
    const char *id = (const char *)sqlite3_column_text(st, 0);
    aw_strlcpy(out->id, id ? id : "", sizeof out->id);
    out->creator = aw_sq_col_dup(st, 1);
    out->passphrase = aw_sq_col_dup(st, 2);
    out->trustee_root = aw_sq_col_dup(st, 3);
    sqlite3_reset(st);
    if (!out->creator || !out->passphrase) {
        aw_actor_rec_free(out);
        return AW_ENOMEM;
    }
    return AW_OK;
}

static int actor_get(aw_store *s, const char *id, aw_actor_rec *out)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT id, creator, passphrase, trustee_root FROM actors WHERE id = ?1");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, id);
    return read_actor(q, st, out, "actor get");
}

static int actor_get_by_creator(aw_store *s, const char *creator, aw_actor_rec *out)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT id, creator, passphrase, trustee_root FROM actors"
                                     " WHERE creator = ?1 ORDER BY created_at LIMIT 1");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, creator);
    return read_actor(q, st, out, "actor get by creator");
}

static int actor_update(aw_store *s, const char *id, const char *creator, const char *trustee_root)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE actors SET creator = COALESCE(?2, creator),"
                                     " trustee_root = CASE WHEN ?3 IS NULL THEN trustee_root"
                                     " WHEN ?3 = '' THEN NULL ELSE ?3 END WHERE id = ?1");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, id);
    aw_sq_bind_text(st, 2, creator);
    aw_sq_bind_text(st, 3, trustee_root);
    int r = aw_sq_exec_stmt(q, st, "actor update");
    if (r == AW_OK && sqlite3_changes(q->db) == 0) return AW_ENOTFOUND;
    return r;
}

/* Every table that holds rows of an actor. Kept in one place so that a new entity cannot be forgotten
 * by the cascade (tests check storage for orphans). */
static const char *const cascade_sql[] = {
    "DELETE FROM properties WHERE actor = ?1",
    "DELETE FROM list_items WHERE actor = ?1",
    "DELETE FROM lists WHERE actor = ?1",
    "DELETE FROM attributes WHERE actor = ?1",
    "DELETE FROM trust_perms WHERE actor = ?1",
    "DELETE FROM trusts WHERE actor = ?1",
    "DELETE FROM subscriptions WHERE actor = ?1",
    "DELETE FROM diffs WHERE actor = ?1",
    "DELETE FROM outbox WHERE actor = ?1 AND kind <> 'notice'", /* notices outlive the actor */
    "DELETE FROM pending_callbacks WHERE actor = ?1",
    "DELETE FROM suspensions WHERE actor = ?1",
    "DELETE FROM peer_pauses WHERE actor = ?1",
};

static int actor_delete(aw_store *s, const char *id)
{
    aw_sq *q = aw_sq_of(s);
    int own_txn = !q->in_txn;
    int r = own_txn ? s->begin(s, true) : AW_OK;
    if (r != AW_OK) return r;
    for (size_t i = 0; i < sizeof cascade_sql / sizeof cascade_sql[0] && r == AW_OK; i++) {
        sqlite3_stmt *st = aw_sq_stmt(q, cascade_sql[i]);
        if (!st) {
            r = AW_ESTORAGE;
            break;
        }
        aw_sq_bind_text(st, 1, id);
        r = aw_sq_exec_stmt(q, st, "actor delete cascade");
    }
    if (r == AW_OK) {
        sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM actors WHERE id = ?1");
        if (!st) r = AW_ESTORAGE;
        else {
            aw_sq_bind_text(st, 1, id);
            r = aw_sq_exec_stmt(q, st, "actor delete");
            if (r == AW_OK && sqlite3_changes(q->db) == 0) r = AW_ENOTFOUND;
        }
    }
    if (!own_txn) return r;
    if (r != AW_OK) {
        s->rollback(s);
        return r;
    }
    return s->commit(s);
}

const aw_store_actor_ops aw_sq_actor_ops = {
    .create = actor_create,
    .get = actor_get,
    .get_by_creator = actor_get_by_creator,
    .update = actor_update,
    .delete = actor_delete,
};
