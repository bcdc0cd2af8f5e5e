/* SQLite: list properties.
 *
 * lists(actor, name, description, explanation, count) holds one row per list; count is kept exact in the
 * same transaction as every item change. list_items has one row per item with a stable item_id
 * (AUTOINCREMENT: never reused) and an integer order key `rank`. New ranks leave gaps (AW_LIST_GAP) so an
 * insert takes the midpoint of its neighbours and a delete removes one row: no other row is rewritten. Only
 * when two neighbours have no gap left is the list renumbered (rare). Index = position in rank order. */
#include <stdint.h>
#include <stdlib.h>

#include "store/sqlite/sqlite.h"

#define AW_LIST_GAP ((int64_t)1 << 20)

/* Own a write transaction unless the caller already holds one (then the caller's rollback covers us). */
static int tx_begin(aw_sq *q, bool *own)
{
    *own = !q->in_txn;
    return *own ? q->store.begin(&q->store, true) : AW_OK;
}

static int tx_end(aw_sq *q, bool own, int r)
{
    if (!own) return r;
    if (r == AW_OK) return q->store.commit(&q->store);
    q->store.rollback(&q->store);
    return r;
}

static int l_create(aw_store *s, const char *actor, const char *name, const char *desc, const char *expl)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "INSERT INTO lists(actor, name, description, explanation, count)"
                                     " VALUES(?1, ?2, coalesce(?3, ''), coalesce(?4, ''), 0)");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    aw_sq_bind_text(st, 3, desc);
    aw_sq_bind_text(st, 4, expl);
    return aw_sq_exec_stmt(q, st, "list create");
}

/* count of the list, AW_ENOTFOUND when there is no list. */
static int list_count(aw_sq *q, const char *actor, const char *name, int64_t *count)
{
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT count FROM lists WHERE actor = ?1 AND name = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) {
        if (count) *count = sqlite3_column_int64(st, 0);
        r = AW_OK;
    } else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "list count");
    sqlite3_reset(st);
    return r;
}

static int l_exists(aw_store *s, const char *actor, const char *name)
{
    return list_count(aw_sq_of(s), actor, name, NULL);
}

static int l_meta(aw_store *s, const char *actor, const char *name, aw_list_meta *out)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st =
        aw_sq_stmt(q, "SELECT description, explanation, count FROM lists WHERE actor = ?1 AND name = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) {
        out->description = aw_sq_col_dup(st, 0);
        out->explanation = aw_sq_col_dup(st, 1);
        out->count = sqlite3_column_int64(st, 2);
        r = out->description && out->explanation ? AW_OK : AW_ENOMEM;
        if (r != AW_OK) aw_list_meta_free(out);
    } else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "list meta");
    sqlite3_reset(st);
    return r;
}

static int l_set_meta(aw_store *s, const char *actor, const char *name, const char *desc, const char *expl)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE lists SET description = coalesce(?3, description),"
                                     " explanation = coalesce(?4, explanation) WHERE actor = ?1 AND name = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    aw_sq_bind_text(st, 3, desc);
    aw_sq_bind_text(st, 4, expl);
    int r = aw_sq_exec_stmt(q, st, "list set meta");
    if (r == AW_OK && sqlite3_changes(q->db) == 0) return AW_ENOTFOUND;
    return r;
}

static int del_items(aw_sq *q, const char *actor, const char *name)
{
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM list_items WHERE actor = ?1 AND name = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    return aw_sq_exec_stmt(q, st, "list items delete");
}

static int set_count(aw_sq *q, const char *actor, const char *name, int64_t delta, bool absolute)
{
    sqlite3_stmt *st = absolute ? aw_sq_stmt(q, "UPDATE lists SET count = ?3 WHERE actor = ?1 AND name = ?2")
                                : aw_sq_stmt(q, "UPDATE lists SET count = count + ?3 WHERE actor = ?1 AND name = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, delta);
    return aw_sq_exec_stmt(q, st, "list count update");
}

static int l_del(aw_store *s, const char *actor, const char *name)
{
    aw_sq *q = aw_sq_of(s);
    bool own;
    int r = tx_begin(q, &own);
    if (r != AW_OK) return r;
    r = del_items(q, actor, name);
    if (r == AW_OK) {
        sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM lists WHERE actor = ?1 AND name = ?2");
        if (!st) r = AW_ESTORAGE;
        else {
            aw_sq_bind_text(st, 1, actor);
            aw_sq_bind_text(st, 2, name);
            r = aw_sq_exec_stmt(q, st, "list delete");
            if (r == AW_OK && sqlite3_changes(q->db) == 0) r = AW_ENOTFOUND;
        }
    }
    return tx_end(q, own, r);
}

static int l_items(aw_store *s, const char *actor, const char *name, int64_t start, int64_t limit,
                   aw_list_item_fn fn, void *ud)
{
    aw_sq *q = aw_sq_of(s);
    int r = list_count(q, actor, name, NULL);
    if (r != AW_OK) return r;
    if (start < 0) start = 0;
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT item_id, value FROM list_items WHERE actor = ?1 AND name = ?2"
                                     " ORDER BY rank LIMIT ?3 OFFSET ?4");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, limit < 0 ? -1 : limit);
    sqlite3_bind_int64(st, 4, start);
    int rc;
    int64_t idx = start;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r = fn(idx++, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1), ud);
        if (r != 0) break;
    }
    if (r == AW_OK && rc != SQLITE_DONE) r = aw_sq_status(q, rc, "list items");
    sqlite3_reset(st);
    return r;
}

static int l_get_at(aw_store *s, const char *actor, const char *name, int64_t index, int64_t *item_id,
                    char **json)
{
    aw_sq *q = aw_sq_of(s);
    if (index < 0) return AW_ENOTFOUND;
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT item_id, value FROM list_items WHERE actor = ?1 AND name = ?2"
                                     " ORDER BY rank LIMIT 1 OFFSET ?3");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, index);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) {
        if (item_id) *item_id = sqlite3_column_int64(st, 0);
        r = AW_OK;
        if (json) {
            *json = aw_sq_col_dup(st, 1);
            if (!*json) r = AW_ENOMEM;
        }
    } else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "list get");
    sqlite3_reset(st);
    return r;
}

/* Rank at a position (AW_ENOTFOUND past the end). */
static int rank_at(aw_sq *q, const char *actor, const char *name, int64_t index, int64_t *rank)
{
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT rank FROM list_items WHERE actor = ?1 AND name = ?2"
                                     " ORDER BY rank LIMIT 1 OFFSET ?3");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, index);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) {
        *rank = sqlite3_column_int64(st, 0);
        r = AW_OK;
    } else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "list rank");
    sqlite3_reset(st);
    return r;
}

/* Renumber every item to (i + 1) * GAP keeping item ids: the rows are re-inserted, since an in-place
 * UPDATE could collide on the unique (actor, name, rank) index half way. Called inside a transaction. */
static int rebalance(aw_sq *q, const char *actor, const char *name)
{
    typedef struct {
        int64_t id;
        char *value;
    } row;
    row *rows = NULL;
    size_t n = 0, cap = 0;
    int r = AW_OK, rc;
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT item_id, value FROM list_items WHERE actor = ?1 AND name = ?2"
                                     " ORDER BY rank");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            row *nr = realloc(rows, nc * sizeof *rows);
            if (!nr) {
                r = AW_ENOMEM;
                break;
            }
            rows = nr;
            cap = nc;
        }
        rows[n].id = sqlite3_column_int64(st, 0);
        rows[n].value = aw_sq_col_dup(st, 1);
        if (!rows[n].value) {
            r = AW_ENOMEM;
            break;
        }
        n++;
    }
    if (r == AW_OK && rc != SQLITE_DONE) r = aw_sq_status(q, rc, "list rebalance read");
    sqlite3_reset(st);
    if (r == AW_OK) r = del_items(q, actor, name);
    for (size_t i = 0; r == AW_OK && i < n; i++) {
        sqlite3_stmt *ins = aw_sq_stmt(q, "INSERT INTO list_items(item_id, actor, name, rank, value)"
                                          " VALUES(?1, ?2, ?3, ?4, ?5)");
        if (!ins) {
            r = AW_ESTORAGE;
            break;
        }
        sqlite3_bind_int64(ins, 1, rows[i].id);
        aw_sq_bind_text(ins, 2, actor);
        aw_sq_bind_text(ins, 3, name);
        sqlite3_bind_int64(ins, 4, (int64_t)(i + 1) * AW_LIST_GAP);
        aw_sq_bind_text(ins, 5, rows[i].value);
        r = aw_sq_exec_stmt(q, ins, "list rebalance write");
    }
    for (size_t i = 0; i < n; i++) free(rows[i].value);
    free(rows);
    return r;
}

/* The rank for a new item before position `index` (0 <= index <= count); false when there is no gap. */
static int pick_rank(aw_sq *q, const char *actor, const char *name, int64_t index, int64_t count, int64_t *rank,
                     bool *found)
{
    int64_t lo = 0, hi = 0;
    bool has_lo = index > 0, has_hi = index < count;
    int r;
    *found = false;
    if (has_lo && (r = rank_at(q, actor, name, index - 1, &lo)) != AW_OK) return r == AW_ENOTFOUND ? AW_ESTORAGE : r;
    if (has_hi && (r = rank_at(q, actor, name, index, &hi)) != AW_OK) return r == AW_ENOTFOUND ? AW_ESTORAGE : r;
    if (!has_lo && !has_hi) {
        *rank = AW_LIST_GAP;
        *found = true;
    } else if (!has_hi) {
        if (lo <= INT64_MAX - AW_LIST_GAP) {
            *rank = lo + AW_LIST_GAP;
            *found = true;
        }
    } else if (!has_lo) {
        if (hi >= INT64_MIN + AW_LIST_GAP) {
            *rank = hi - AW_LIST_GAP;
            *found = true;
        }
    } else if ((uint64_t)hi - (uint64_t)lo >= 2) {
        *rank = lo + (int64_t)(((uint64_t)hi - (uint64_t)lo) / 2);
        *found = true;
    }
    return AW_OK;
}

static int l_insert_at(aw_store *s, const char *actor, const char *name, int64_t index, const char *json,
                       int64_t *new_id)
{
    aw_sq *q = aw_sq_of(s);
    bool own;
    int r = tx_begin(q, &own);
    if (r != AW_OK) return r;
    int64_t count = 0, rank = 0;
    bool found = false;
    r = list_count(q, actor, name, &count);
    if (r == AW_OK && (index < 0 || index > count)) r = AW_ENOTFOUND;
    if (r == AW_OK) r = pick_rank(q, actor, name, index, count, &rank, &found);
    if (r == AW_OK && !found) {
        r = rebalance(q, actor, name);
        if (r == AW_OK) r = pick_rank(q, actor, name, index, count, &rank, &found);
        if (r == AW_OK && !found) r = AW_ESTORAGE;
    }
    if (r == AW_OK) {
        sqlite3_stmt *st = aw_sq_stmt(q, "INSERT INTO list_items(actor, name, rank, value) VALUES(?1, ?2, ?3, ?4)");
        if (!st) r = AW_ESTORAGE;
        else {
            aw_sq_bind_text(st, 1, actor);
            aw_sq_bind_text(st, 2, name);
            sqlite3_bind_int64(st, 3, rank);
            aw_sq_bind_text(st, 4, json);
            r = aw_sq_exec_stmt(q, st, "list insert");
            if (r == AW_OK && new_id) *new_id = sqlite3_last_insert_rowid(q->db);
        }
    }
    if (r == AW_OK) r = set_count(q, actor, name, 1, false);
    return tx_end(q, own, r);
}

static int l_update_at(aw_store *s, const char *actor, const char *name, int64_t index, const char *json)
{
    aw_sq *q = aw_sq_of(s);
    if (index < 0) return AW_ENOTFOUND;
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE list_items SET value = ?4 WHERE item_id = (SELECT item_id FROM"
                                     " list_items WHERE actor = ?1 AND name = ?2 ORDER BY rank LIMIT 1 OFFSET ?3)");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, index);
    aw_sq_bind_text(st, 4, json);
    int r = aw_sq_exec_stmt(q, st, "list update");
    if (r == AW_OK && sqlite3_changes(q->db) == 0) return AW_ENOTFOUND;
    return r;
}

static int l_delete_at(aw_store *s, const char *actor, const char *name, int64_t index)
{
    aw_sq *q = aw_sq_of(s);
    if (index < 0) return AW_ENOTFOUND;
    bool own;
    int r = tx_begin(q, &own);
    if (r != AW_OK) return r;
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM list_items WHERE item_id = (SELECT item_id FROM list_items"
                                     " WHERE actor = ?1 AND name = ?2 ORDER BY rank LIMIT 1 OFFSET ?3)");
    if (!st) r = AW_ESTORAGE;
    else {
        aw_sq_bind_text(st, 1, actor);
        aw_sq_bind_text(st, 2, name);
        sqlite3_bind_int64(st, 3, index);
        r = aw_sq_exec_stmt(q, st, "list delete item");
        if (r == AW_OK && sqlite3_changes(q->db) == 0) r = AW_ENOTFOUND;
    }
    if (r == AW_OK) r = set_count(q, actor, name, -1, false);
    return tx_end(q, own, r);
}

static int l_clear(aw_store *s, const char *actor, const char *name)
{
    aw_sq *q = aw_sq_of(s);
    bool own;
    int r = tx_begin(q, &own);
    if (r != AW_OK) return r;
    r = list_count(q, actor, name, NULL);
    if (r == AW_OK) r = del_items(q, actor, name);
    if (r == AW_OK) r = set_count(q, actor, name, 0, true);
    return tx_end(q, own, r);
}

static int l_each(aw_store *s, const char *actor, aw_list_name_fn fn, void *ud)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT name, description, explanation, count FROM lists WHERE actor = ?1"
                                     " ORDER BY name");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    int rc, r = AW_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        aw_list_meta m = {(char *)sqlite3_column_text(st, 1), (char *)sqlite3_column_text(st, 2),
                          sqlite3_column_int64(st, 3)};
        r = fn((const char *)sqlite3_column_text(st, 0), &m, ud);
        if (r != 0) break;
    }
    if (r == AW_OK && rc != SQLITE_DONE) r = aw_sq_status(q, rc, "list each");
    sqlite3_reset(st);
    return r;
}

const aw_store_list_ops aw_sq_list_ops = {
    .create = l_create,
    .exists = l_exists,
    .meta = l_meta,
    .set_meta = l_set_meta,
    .del = l_del,
    .items = l_items,
    .get_at = l_get_at,
    .insert_at = l_insert_at,
    .update_at = l_update_at,
    .delete_at = l_delete_at,
    .clear = l_clear,
    .each = l_each,
};
