/* Unit tests for the SQLite list store (src/store/sqlite/lists.c): order keys with gaps, stable item ids,
 * inserts/deletes touching only their own row, exact counts, rebalance, transactions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"
#include "store_fixture.h"

#define A "actor1"

typedef struct collected {
    int64_t ids[64];
    char vals[64][32];
    size_t n;
} collected;

static int collect(int64_t index, int64_t item_id, const char *json, void *ud)
{
    collected *c = ud;
    assert_int_equal(index, (int64_t)c->n);
    c->ids[c->n] = item_id;
    snprintf(c->vals[c->n], sizeof c->vals[0], "%s", json);
    c->n++;
    return 0;
}

static void expect_items(aw_store *s, const char *name, const char *const *vals, size_t n)
{
    collected c = {0};
    assert_int_equal(s->lists->items(s, A, name, 0, -1, collect, &c), AW_OK);
    assert_int_equal(c.n, n);
    for (size_t i = 0; i < n; i++) assert_string_equal(c.vals[i], vals[i]);
    aw_list_meta m = {0};
    assert_int_equal(s->lists->meta(s, A, name, &m), AW_OK);
    assert_int_equal(m.count, (int64_t)n);
    aw_list_meta_free(&m);
}

static int64_t rank_of(fx *f, int64_t id)
{
    sqlite3 *raw = raw_open(f);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(raw, "SELECT rank FROM list_items WHERE item_id = ?1", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t r = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return r;
}

static void test_create_meta(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    assert_int_equal(s->lists->exists(s, A, "notes"), AW_ENOTFOUND);
    assert_int_equal(s->lists->create(s, A, "notes", "To do", NULL), AW_OK);
    assert_int_equal(s->lists->create(s, A, "notes", "x", "y"), AW_ECONFLICT);
    assert_int_equal(s->lists->exists(s, A, "notes"), AW_OK);
    aw_list_meta m = {0};
    assert_int_equal(s->lists->meta(s, A, "notes", &m), AW_OK);
    assert_string_equal(m.description, "To do");
    assert_string_equal(m.explanation, "");
    assert_int_equal(m.count, 0);
    aw_list_meta_free(&m);
    assert_int_equal(s->lists->set_meta(s, A, "notes", NULL, "Free text"), AW_OK);
    assert_int_equal(s->lists->meta(s, A, "notes", &m), AW_OK);
    assert_string_equal(m.description, "To do");
    assert_string_equal(m.explanation, "Free text");
    aw_list_meta_free(&m);
    assert_int_equal(s->lists->set_meta(s, A, "none", "a", NULL), AW_ENOTFOUND);
    assert_int_equal(s->lists->meta(s, A, "none", &m), AW_ENOTFOUND);
    assert_int_equal(s->lists->insert_at(s, A, "none", 0, "1", NULL), AW_ENOTFOUND);
    collected c = {0};
    assert_int_equal(s->lists->items(s, A, "none", 0, -1, collect, &c), AW_ENOTFOUND);
    /* another actor's list of the same name is separate */
    assert_int_equal(s->lists->exists(s, "actor2", "notes"), AW_ENOTFOUND);
}

static void test_insert_order_and_stable_ids(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    assert_int_equal(s->lists->create(s, A, "l", NULL, NULL), AW_OK);
    int64_t ida, idb, idc, idd, ide;
    assert_int_equal(s->lists->insert_at(s, A, "l", 0, "\"a\"", &ida), AW_OK);
    assert_int_equal(s->lists->insert_at(s, A, "l", 1, "\"c\"", &idc), AW_OK);
    assert_int_equal(s->lists->insert_at(s, A, "l", 1, "\"b\"", &idb), AW_OK); /* midpoint */
    assert_int_equal(s->lists->insert_at(s, A, "l", 0, "\"0\"", &idd), AW_OK); /* prepend */
    assert_int_equal(s->lists->insert_at(s, A, "l", 5, "\"x\"", NULL), AW_ENOTFOUND);
    assert_int_equal(s->lists->insert_at(s, A, "l", -1, "\"x\"", NULL), AW_ENOTFOUND);
    const char *v1[] = {"\"0\"", "\"a\"", "\"b\"", "\"c\""};
    expect_items(s, "l", v1, 4);
    /* ranks leave gaps: the midpoint lies strictly between its neighbours */
    int64_t ra = rank_of(f, ida), rb = rank_of(f, idb), rc = rank_of(f, idc), rd = rank_of(f, idd);
    assert_true(rd < ra && ra < rb && rb < rc);
    assert_true(rb - ra > 1000 && rc - rb > 1000);
    /* delete touches only its row: the other ranks and ids are unchanged */
    assert_int_equal(s->lists->delete_at(s, A, "l", 1), AW_OK); /* "a" */
    assert_int_equal(rank_of(f, idb), rb);
    assert_int_equal(rank_of(f, idc), rc);
    assert_int_equal(rank_of(f, idd), rd);
    const char *v2[] = {"\"0\"", "\"b\"", "\"c\""};
    expect_items(s, "l", v2, 3);
    /* ids are never reused */
    assert_int_equal(s->lists->insert_at(s, A, "l", 3, "\"e\"", &ide), AW_OK);
    assert_true(ide > idd && ide != ida);
    assert_int_equal(rank_of(f, idb), rb);
    int64_t id;
    char *json = NULL;
    assert_int_equal(s->lists->get_at(s, A, "l", 1, &id, &json), AW_OK);
    assert_int_equal(id, idb);
    assert_string_equal(json, "\"b\"");
    free(json);
    assert_int_equal(s->lists->get_at(s, A, "l", 4, &id, &json), AW_ENOTFOUND);
    assert_int_equal(s->lists->update_at(s, A, "l", 1, "{\"t\":1}"), AW_OK);
    assert_int_equal(rank_of(f, idb), rb);
    assert_int_equal(s->lists->update_at(s, A, "l", 4, "1"), AW_ENOTFOUND);
    assert_int_equal(s->lists->delete_at(s, A, "l", 4), AW_ENOTFOUND);
    const char *v3[] = {"\"0\"", "{\"t\":1}", "\"c\"", "\"e\""};
    expect_items(s, "l", v3, 4);
    /* partial ranges */
    collected c = {0};
    c.n = 0;
    assert_int_equal(s->lists->items(s, A, "l", 0, 2, collect, &c), AW_OK);
    assert_int_equal(c.n, 2);
}

static void test_rebalance_when_no_gap(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    assert_int_equal(s->lists->create(s, A, "r", NULL, NULL), AW_OK);
    int64_t first, last;
    assert_int_equal(s->lists->insert_at(s, A, "r", 0, "0", &first), AW_OK);
    assert_int_equal(s->lists->insert_at(s, A, "r", 1, "99", &last), AW_OK);
    /* insert repeatedly at position 1: halves the gap each time until it is exhausted (20 bits) */
    char v[16];
    for (int i = 0; i < 40; i++) {
        snprintf(v, sizeof v, "%d", 40 - i);
        assert_int_equal(s->lists->insert_at(s, A, "r", 1, v, NULL), AW_OK);
    }
    collected c = {0};
    assert_int_equal(s->lists->items(s, A, "r", 0, -1, collect, &c), AW_OK);
    assert_int_equal(c.n, 42);
    assert_string_equal(c.vals[0], "0");
    for (int i = 1; i <= 40; i++) {
        snprintf(v, sizeof v, "%d", i);
        assert_string_equal(c.vals[i], v);
    }
    assert_string_equal(c.vals[41], "99");
    /* ids survive the renumbering */
    assert_int_equal(c.ids[0], first);
    assert_int_equal(c.ids[41], last);
    aw_list_meta m = {0};
    assert_int_equal(s->lists->meta(s, A, "r", &m), AW_OK);
    assert_int_equal(m.count, 42);
    aw_list_meta_free(&m);
}

typedef struct each_names {
    int n;
    char names[4][8];
} each_names;

static int each_cb(const char *name, const aw_list_meta *m, void *ud)
{
    each_names *e = ud;
    assert_non_null(m);
    if (!strcmp(name, "b")) {
        assert_string_equal(m->description, "B");
        assert_int_equal(m->count, 1);
    }
    snprintf(e->names[e->n++], 8, "%s", name);
    return 0;
}

static void test_clear_delete_each_txn(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    assert_int_equal(s->lists->create(s, A, "b", "B", "bb"), AW_OK);
    assert_int_equal(s->lists->create(s, A, "a", NULL, NULL), AW_OK);
    for (int i = 0; i < 3; i++) assert_int_equal(s->lists->insert_at(s, A, "b", i, "1", NULL), AW_OK);
    /* inside a caller's transaction, rolled back: nothing changes */
    assert_int_equal(s->begin(s, true), AW_OK);
    assert_int_equal(s->lists->insert_at(s, A, "b", 0, "2", NULL), AW_OK);
    assert_int_equal(s->lists->delete_at(s, A, "b", 0), AW_OK);
    assert_int_equal(s->lists->delete_at(s, A, "b", 0), AW_OK);
    s->rollback(s);
    const char *v[] = {"1", "1", "1"};
    expect_items(s, "b", v, 3);
    assert_int_equal(s->lists->clear(s, A, "b"), AW_OK);
    expect_items(s, "b", NULL, 0);
    assert_int_equal(s->lists->exists(s, A, "b"), AW_OK);
    assert_int_equal(s->lists->clear(s, A, "zz"), AW_ENOTFOUND);
    assert_int_equal(s->lists->insert_at(s, A, "b", 0, "5", NULL), AW_OK);
    each_names each = {0};
    assert_int_equal(s->lists->each(s, A, each_cb, &each), AW_OK);
    assert_int_equal(each.n, 2);
    assert_string_equal(each.names[0], "a");
    assert_string_equal(each.names[1], "b");
    assert_int_equal(s->lists->del(s, A, "b"), AW_OK);
    assert_int_equal(s->lists->del(s, A, "b"), AW_ENOTFOUND);
    assert_int_equal(s->lists->exists(s, A, "b"), AW_ENOTFOUND);
    sqlite3 *raw = raw_open(f);
    assert_int_equal(raw_int(raw, "SELECT count(*) FROM list_items WHERE name = 'b'", NULL), 0);
    sqlite3_close(raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_meta, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_insert_order_and_stable_ids, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_rebalance_when_no_gap, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_clear_delete_each_txn, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
