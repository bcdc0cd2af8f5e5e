/* SQLite: simple properties (one row per top-level name). */
#include <stdlib.h>

#include "store/sqlite/sqlite.h"

static int prop_get(aw_store *s, const char *actor, const char *name, char **value, bool *is_json)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT value, is_json FROM properties WHERE actor = ?1 AND name = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) {
        *value = aw_sq_col_dup(st, 0);
        if (is_json) *is_json = sqlite3_column_int(st, 1) != 0;
        r = *value ? AW_OK : AW_ENOMEM;
    } else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "property get");
    sqlite3_reset(st);
    return r;
}

static int prop_set(aw_store *s, const char *actor, const char *name, const char *value, bool is_json)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "INSERT INTO properties(actor, name, value, is_json) VALUES(?1, ?2, ?3, ?4)"
                                     " ON CONFLICT(actor, name) DO UPDATE SET value = excluded.value,"
                                     " is_json = excluded.is_json");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    aw_sq_bind_text(st, 3, value);
    sqlite3_bind_int(st, 4, is_json ? 1 : 0);
    return aw_sq_exec_stmt(q, st, "property set");
}

static int prop_del(aw_store *s, const char *actor, const char *name)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM properties WHERE actor = ?1 AND name = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    int r = aw_sq_exec_stmt(q, st, "property delete");
    if (r == AW_OK && sqlite3_changes(q->db) == 0) return AW_ENOTFOUND;
    return r;
}

static int prop_del_all(aw_store *s, const char *actor)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM properties WHERE actor = ?1");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    return aw_sq_exec_stmt(q, st, "property delete all");
}

static int prop_each(aw_store *s, const char *actor, aw_prop_each_fn fn, void *ud)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT name, value, is_json FROM properties WHERE actor = ?1 ORDER BY name");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    int rc, r = AW_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r = fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
               sqlite3_column_int(st, 2) != 0, ud);
        if (r != 0) break;
    }
    if (r == AW_OK && rc != SQLITE_DONE) r = aw_sq_status(q, rc, "property list");
    sqlite3_reset(st);
    return r;
}

const aw_store_prop_ops aw_sq_prop_ops = {
    .get = prop_get,
    .set = prop_set,
    .del = prop_del,
    .del_all = prop_del_all,
    .each = prop_each,
};
