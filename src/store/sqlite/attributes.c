/* SQLite: attributes (bucket/name -> JSON text, optional timestamp and TTL). */
#include <stdlib.h>
#include <time.h>

#include "store/sqlite/sqlite.h"

static int attr_get(aw_store *s, const char *actor, const char *bucket, const char *name, char **json,
                    char **timestamp)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT data, ts FROM attributes WHERE actor = ?1 AND bucket = ?2"
                                     " AND name = ?3 AND (expires IS NULL OR expires > ?4)");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, bucket);
    aw_sq_bind_text(st, 3, name);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return AW_ENOTFOUND;
    }
    if (rc != SQLITE_ROW) {
        int r = aw_sq_status(q, rc, "attribute get");
        sqlite3_reset(st);
        return r;
    }
    *json = aw_sq_col_dup(st, 0);
    if (timestamp) *timestamp = aw_sq_col_dup(st, 1);
    sqlite3_reset(st);
    return *json ? AW_OK : AW_ENOMEM;
}

static int attr_set(aw_store *s, const char *actor, const char *bucket, const char *name, const char *json,
                    const char *timestamp, int64_t ttl_s)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "INSERT INTO attributes(actor, bucket, name, data, ts, expires)"
                                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(actor, bucket, name)"
                                     " DO UPDATE SET data = excluded.data, ts = excluded.ts,"
                                     " expires = excluded.expires");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, bucket);
    aw_sq_bind_text(st, 3, name);
    aw_sq_bind_text(st, 4, json);
    aw_sq_bind_text(st, 5, timestamp);
    if (ttl_s > 0) sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL) + ttl_s);
    else sqlite3_bind_null(st, 6);
    return aw_sq_exec_stmt(q, st, "attribute set");
}

static int attr_cas(aw_store *s, const char *actor, const char *bucket, const char *name, const char *expected,
                    const char *json, const char *timestamp)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st;
    if (expected) {
        st = aw_sq_stmt(q, "UPDATE attributes SET data = ?4, ts = ?5 WHERE actor = ?1 AND bucket = ?2"
                           " AND name = ?3 AND data = ?6");
    } else {
        /* "absent" includes an expired row (never returned by reads). */
        st = aw_sq_stmt(q, "INSERT INTO attributes(actor, bucket, name, data, ts) VALUES(?1, ?2, ?3, ?4, ?5)"
                           " ON CONFLICT(actor, bucket, name) DO UPDATE SET data = excluded.data, ts = excluded.ts,"
                           " expires = NULL WHERE attributes.expires IS NOT NULL AND attributes.expires <= ?6");
    }
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, bucket);
    aw_sq_bind_text(st, 3, name);
    aw_sq_bind_text(st, 4, json);
    aw_sq_bind_text(st, 5, timestamp);
    if (expected) aw_sq_bind_text(st, 6, expected);
    else sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
    int r = aw_sq_exec_stmt(q, st, "attribute cas");
    if (r == AW_OK && sqlite3_changes(q->db) == 0) return AW_ECONFLICT;
    return r;
}

static int attr_del(aw_store *s, const char *actor, const char *bucket, const char *name)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM attributes WHERE actor = ?1 AND bucket = ?2 AND name = ?3");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, bucket);
    aw_sq_bind_text(st, 3, name);
    int r = aw_sq_exec_stmt(q, st, "attribute delete");
    if (r == AW_OK && sqlite3_changes(q->db) == 0) return AW_ENOTFOUND;
    return r;
}

static int attr_del_bucket(aw_store *s, const char *actor, const char *bucket)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM attributes WHERE actor = ?1 AND bucket = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, bucket);
    return aw_sq_exec_stmt(q, st, "attribute bucket delete");
}

static int attr_del_all(aw_store *s, const char *actor)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM attributes WHERE actor = ?1");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    return aw_sq_exec_stmt(q, st, "attribute delete all");
}

static int attr_each(aw_store *s, const char *actor, const char *bucket, aw_attr_each_fn fn, void *ud)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = bucket ? aw_sq_stmt(q, "SELECT bucket, name, data, ts FROM attributes WHERE actor = ?1"
                                              " AND bucket = ?2 AND (expires IS NULL OR expires > ?3)"
                                              " ORDER BY bucket, name")
                              : aw_sq_stmt(q, "SELECT bucket, name, data, ts FROM attributes WHERE actor = ?1"
                                              " AND (?2 IS NULL) AND (expires IS NULL OR expires > ?3)"
                                              " ORDER BY bucket, name");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, bucket);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
    int rc, r = AW_OK;
    /* Callbacks may call back into the store, so collect nothing across steps: the statement stays
     * valid as long as callbacks use other statements. */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r = fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3), ud);
        if (r != 0) break;
    }
    if (r == AW_OK && rc != SQLITE_DONE) r = aw_sq_status(q, rc, "attribute list");
    sqlite3_reset(st);
    return r;
}

const aw_store_attr_ops aw_sq_attr_ops = {
    .get = attr_get,
    .set = attr_set,
    .cas = attr_cas,
    .del = attr_del,
    .del_bucket = attr_del_bucket,
    .del_all = attr_del_all,
    .each = attr_each,
};
