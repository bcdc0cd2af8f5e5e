/* Unit tests for core/props.c: value semantics, nested get/merge/delete, names, bulk plan, list diffs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <actingweb/status.h>

#include "core/props.h"
#include "util/json.h"

static json_t *J(const char *s)
{
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    return v;
}

static void assert_json(json_t *v, const char *expect)
{
    json_t *e = J(expect);
    if (!json_equal(v, e)) {
        char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        fail_msg("got %s, want %s", d ? d : "(null)", expect);
        free(d);
    }
    json_decref(e);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(aw_props_name_check("city"), 0);
    assert_int_equal(aw_props_name_check("public/x"), 400);
    assert_int_equal(aw_props_name_check(""), 400);
    assert_int_equal(aw_props_name_check("a#b"), 400);
    assert_int_equal(aw_props_name_check(".."), 400);
    assert_int_equal(aw_props_name_check("list:notes"), 404);
    char longn[300];
    memset(longn, 'x', 256);
    longn[256] = 0;
    assert_int_equal(aw_props_name_check(longn), 400);
    longn[255] = 0;
    assert_int_equal(aw_props_name_check(longn), 0);
}

static void test_values(void **state)
{
    (void)state;
    json_t *v = NULL;
    bool is_json = false;
    char why[200];
    assert_int_equal(aw_props_parse_body("{\"a\": 1}", 8, true, 64, &v, &is_json, why), AW_OK);
    assert_true(is_json);
    assert_json(v, "{\"a\":1}");
    json_decref(v);
    assert_int_equal(aw_props_parse_body("calm today", 10, false, 64, &v, &is_json, why), AW_OK);
    assert_false(is_json);
    assert_string_equal(json_string_value(v), "calm today");
    json_decref(v);
    /* raw text that looks like JSON stays text without a JSON content type */
    assert_int_equal(aw_props_parse_body("4", 1, false, 64, &v, &is_json, why), AW_OK);
    assert_true(json_is_string(v));
    json_decref(v);
    assert_int_equal(aw_props_parse_body("{", 1, true, 64, &v, &is_json, why), AW_EINVAL);
    assert_null(v);
    assert_int_equal(aw_props_parse_body("{\"a\":1,\"a\":2}", 13, true, 64, &v, &is_json, why), AW_EINVAL);
    assert_int_equal(aw_props_parse_body("\xff\xfe", 2, false, 64, &v, &is_json, why), AW_EINVAL);
    assert_int_equal(aw_props_parse_body("a\0b", 3, false, 64, &v, &is_json, why), AW_EINVAL);
    assert_int_equal(aw_props_parse_body("[[[1]]]", 7, true, 2, &v, &is_json, why), AW_EINVAL);
    v = aw_props_value_json("{\"a\":1}", true);
    assert_json(v, "{\"a\":1}");
    json_decref(v);
    v = aw_props_value_json("calm today", false);
    assert_string_equal(json_string_value(v), "calm today");
    json_decref(v);
    v = aw_props_value_json("30", false);
    assert_int_equal(json_integer_value(v), 30);
    json_decref(v);
}

static void test_path_get_set_del(void **state)
{
    (void)state;
    json_t *root = J("{\"home\": {\"street\": \"S\", \"garden\": 3}, \"n\": 1}");
    const char *p1[] = {"home", "street"};
    assert_string_equal(json_string_value(aw_props_path_get(root, p1, 2)), "S");
    const char *p2[] = {"home", "nope"};
    assert_null(aw_props_path_get(root, p2, 2));
    const char *p3[] = {"n", "x"};
    assert_null(aw_props_path_get(root, p3, 2));
    /* set creates intermediates and replaces non-objects; siblings survive */
    const char *p4[] = {"home", "garden", "size"};
    root = aw_props_path_set(root, p4, 3, json_integer(12));
    assert_json(root, "{\"home\": {\"street\": \"S\", \"garden\": {\"size\": 12}}, \"n\": 1}");
    const char *p5[] = {"home"};
    root = aw_props_path_set(root, p5, 1, J("{\"garden\": {\"trees\": 2}, \"zip\": \"5003\"}"));
    assert_json(root, "{\"home\": {\"street\": \"S\", \"garden\": {\"size\": 12, \"trees\": 2}, \"zip\": \"5003\"},"
                      " \"n\": 1}");
    /* non-object root replaced */
    json_t *r2 = aw_props_path_set(json_string("text"), p1, 2, json_string("x"));
    assert_json(r2, "{\"home\": {\"street\": \"x\"}}");
    json_decref(r2);
    r2 = aw_props_path_set(NULL, p5, 1, json_true());
    assert_json(r2, "{\"home\": true}");
    json_decref(r2);
    /* delete */
    assert_int_equal(aw_props_path_del(root, p1, 2), AW_OK);
    assert_int_equal(aw_props_path_del(root, p1, 2), AW_ENOTFOUND);
    assert_int_equal(aw_props_path_del(root, p3, 2), AW_ENOTFOUND);
    const char *p6[] = {"nope", "x"};
    assert_int_equal(aw_props_path_del(root, p6, 2), AW_ENOTFOUND);
    assert_json(root, "{\"home\": {\"garden\": {\"size\": 12, \"trees\": 2}, \"zip\": \"5003\"}, \"n\": 1}");
    json_decref(root);
    /* wrap */
    const char *pw[] = {"a", "b"};
    json_t *w = aw_props_path_wrap(pw, 2, json_string(""));
    assert_json(w, "{\"a\": {\"b\": \"\"}}");
    json_decref(w);
    /* deep merge */
    json_t *dst = J("{\"a\": {\"x\": 1, \"y\": {\"z\": 1}}, \"b\": [1]}");
    json_t *src = J("{\"a\": {\"y\": {\"w\": 2}, \"x\": null}, \"b\": [2]}");
    assert_int_equal(aw_props_deep_merge(dst, src), AW_OK);
    assert_json(dst, "{\"a\": {\"x\": null, \"y\": {\"z\": 1, \"w\": 2}}, \"b\": [2]}");
    json_decref(dst);
    json_decref(src);
}

static void test_bulk_plan(void **state)
{
    (void)state;
    aw_bulk_op *ops;
    size_t n, nu, nd;
    char why[200];
    json_t *items = J("[{\"index\": 0, \"task\": \"a\"}, {\"index\": 3, \"task\": \"new\"}, {\"index\": 1},"
                      " {\"index\": 2}, {\"index\": 9}, {\"index\": 1}]");
    assert_int_equal(aw_props_bulk_plan(items, 3, &ops, &n, &nu, &nd, why), AW_OK);
    assert_int_equal(nu, 2);
    assert_int_equal(nd, 2);
    assert_int_equal(n, 4);
    assert_int_equal(ops[0].kind, AW_BULK_UPDATE);
    assert_json(ops[0].item, "{\"task\": \"a\"}");
    assert_int_equal(ops[1].kind, AW_BULK_APPEND);
    assert_int_equal(ops[1].index, 3);
    assert_int_equal(ops[2].kind, AW_BULK_DELETE);
    assert_int_equal(ops[2].index, 2);
    assert_int_equal(ops[3].index, 1);
    aw_props_bulk_free(ops, n);
    json_decref(items);
    /* fill an empty list */
    items = J("[{\"index\": 0, \"t\": 1}, {\"index\": 1, \"t\": 2}]");
    assert_int_equal(aw_props_bulk_plan(items, 0, &ops, &n, &nu, &nd, why), AW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ops[1].kind, AW_BULK_APPEND);
    aw_props_bulk_free(ops, n);
    json_decref(items);
    const char *bad[] = {"[{\"index\": 2, \"t\": 1}]", "[{\"t\": 1}]", "[{\"index\": -1}]", "[1]",
                         "[{\"index\": \"0\", \"t\": 1}]", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        items = J(bad[i]);
        ops = (aw_bulk_op *)1;
        assert_int_equal(aw_props_bulk_plan(items, 1, &ops, &n, &nu, &nd, why), AW_EINVAL);
        assert_null(ops);
        json_decref(items);
    }
}

static void test_list_diff_and_index(void **state)
{
    (void)state;
    json_t *item = J("{\"text\": \"Buy coffee\"}");
    json_t *d = aw_props_list_diff("reminders", "append", 4, item, 3);
    assert_json(d, "{\"list\": \"reminders\", \"operation\": \"append\", \"length\": 4,"
                   " \"item\": {\"text\": \"Buy coffee\"}, \"index\": 3}");
    json_decref(d);
    json_decref(item);
    d = aw_props_list_diff("r", "delete_all", 0, NULL, -1);
    assert_json(d, "{\"list\": \"r\", \"operation\": \"delete_all\", \"length\": 0}");
    json_decref(d);
    assert_int_equal(aw_props_parse_index("0"), 0);
    assert_int_equal(aw_props_parse_index("17"), 17);
    assert_int_equal(aw_props_parse_index("-1"), -1);
    assert_int_equal(aw_props_parse_index(""), -1);
    assert_int_equal(aw_props_parse_index("1x"), -1);
    assert_int_equal(aw_props_parse_index("9999999999999999999"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),         cmocka_unit_test(test_values),
        cmocka_unit_test(test_path_get_set_del), cmocka_unit_test(test_bulk_plan),
        cmocka_unit_test(test_list_diff_and_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
