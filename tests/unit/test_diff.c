/* Diff shaping (protocol.md §9.6), including the worked example of the spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/diff.h"

static void expect_diff(const char *ssub, const char *sres, const char *csub, const char *cres, const char *blob,
                        const char *want)
{
    json_t *b = json_loads(blob, JSON_DECODE_ANY, NULL);
    assert_non_null(b);
    json_t *d = aw_diff_shape(ssub, sres, csub, cres, b);
    if (!want) {
        assert_null(d);
    } else {
        assert_non_null(d);
        json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
        assert_non_null(w);
        if (!json_equal(d, w)) {
            char *got = json_dumps(d, JSON_ENCODE_ANY | JSON_SORT_KEYS);
            fail_msg("got %s, want %s", got, want);
        }
        json_decref(w);
    }
    json_decref(d);
    json_decref(b);
}

/* S1 properties, S2 properties/work, S3 properties/work/desk */
static void worked_example(void **state)
{
    const char *post = "{\"home\":{\"street\":\"Strandgaten 1\"},\"mood\":\"calm\","
                       "\"work\":{\"office\":\"B2\",\"desk\":\"14\",\"floor\":\"3\"}}";
    expect_diff("", "", "", "", post, post);
    expect_diff("work", "", "", "", post, "{\"office\":\"B2\",\"desk\":\"14\",\"floor\":\"3\"}");
    expect_diff("work", "desk", "", "", post, "\"14\"");
    /* PUT /properties/work {"office":"C7"} */
    expect_diff("", "", "work", "", "{\"office\":\"C7\"}", "{\"work\":{\"office\":\"C7\"}}");
    expect_diff("work", "", "work", "", "{\"office\":\"C7\"}", "{\"office\":\"C7\"}");
    expect_diff("work", "desk", "work", "", "{\"office\":\"C7\"}", NULL);
    /* PUT /properties/work/desk "22" */
    expect_diff("", "", "work", "desk", "\"22\"", "{\"work\":{\"desk\":\"22\"}}");
    expect_diff("work", "", "work", "desk", "\"22\"", "{\"desk\":\"22\"}");
    expect_diff("work", "desk", "work", "desk", "\"22\"", "\"22\"");
    /* DELETE /properties/work/floor */
    expect_diff("", "", "work", "floor", "\"\"", "{\"work\":{\"floor\":\"\"}}");
    expect_diff("work", "", "work", "floor", "\"\"", "{\"floor\":\"\"}");
    expect_diff("work", "desk", "work", "floor", "\"\"", NULL);
}

static void other_branches(void **state)
{
    expect_diff("home", "", "work", "", "{\"a\":1}", NULL);
    expect_diff("home", "", "", "", "{\"work\":1}", NULL);    /* part absent */
    expect_diff("home", "", "", "", "\"text\"", NULL);        /* broader but not an object */
    expect_diff("", "x", "", "", "{}", NULL);                 /* resource without subtarget */
    expect_diff("mood", "", "mood", "", "\"\"", "\"\"");       /* deletion on the exact path still gives a diff */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(worked_example),
        cmocka_unit_test(other_branches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
