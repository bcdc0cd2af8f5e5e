/* aw_json_parse (yajl lexing, jansson values) against jansson's own strict parser, the reference:
 * json_loadb(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES). Over a corpus of valid and invalid texts and over
 * random mutations of them, both must accept the same texts and, when they do, return equal values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/json.h"

#define DEPTH 1000 /* below jansson's own limit (2048), so that only syntax decides */

static const char *const corpus[] = {
    /* valid */
    "{}", "[]", "0", "-0", "1", "-1", "1.5", "-1.5e3", "1E2", "1e-2", "0.0", "123456789012", "9223372036854775807",
    "-9223372036854775808", "1e308", "1e-400", "true", "false", "null", "\"\"", "\"a\"", " [ 1 , 2 ] ", "\t{\r\n}\n",
    "{\"a\":1,\"b\":[true,null,\"x\"],\"c\":{\"d\":-2.25}}", "[[[[[]]]]]", "[{\"k\":1},{\"k\":2}]",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u00e9\\u20ac\"", "\"\\ud83d\\ude00\"", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
    "{\"\xc3\xa9\":\"\\u0041\"}", "[1,\"two\",3.0,{\"four\":[5]}]",
    "{\"id\":\"4f3a9d0c2b7e4e1f9a6b5c8d7e0f1a2b\",\"subscriptionid\":\"0a1b2c3d\",\"target\":\"properties\","
    "\"sequence\":17,\"granularity\":\"high\",\"timestamp\":\"2026-11-25 23:40:29.123456\",\"data\":{\"b\":\"v\"}}",
    /* invalid */
    "", " ", "{", "}", "[1,2", "{\"a\":}", "{'a':1}", "{\"a\":1,}", "[1,]", "nul", "01", "-01", "1 2", "{\"a\" 1}",
    "\"unterminated", "{\"a\":1}x", "NaN", "Infinity", "\"\\x\"", "1.", ".5", "1e", "-", "+1", "0x10", "[1 2]",
    "{\"a\":1 \"b\":2}", "{\"a\":1,\"a\":2}", "{\"x\":{\"b\":1,\"b\":1}}", "\"\\u0000\"", "{\"a\\u0000\":1}",
    "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800x\"", "\"\\ud800\\u0041\"", "\"\\u12\"", "\"\\uzzzz\"", "9223372036854775808",
    "-9223372036854775809", "1e400", "-1e400", "\"\xff\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
    "\"\xf4\x90\x80\x80\"", "[1]\xff", "\"a\tb\"", "\"a\nb\"", "\"\x01\"", "\f1", "1\v", "[\f]", "/* c */ 1", "[1]//",
    "\xef\xbb\xbf{}", "{\"a\":tru}", "[nulll]", "{\"a\":[}", "{,}", "[,]", "{\"a\"}", "{:1}", "{1:1}",
};
#define N_CORPUS (sizeof corpus / sizeof corpus[0])

/* 1 when both accept and agree, 0 when both refuse; fails the test on any disagreement. */
static int compare(const char *buf, size_t len)
{
    json_error_t err;
    json_t *ref = json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    json_t *got = NULL;
    char why[200] = "";
    aw_json_err r = aw_json_parse(buf, len, DEPTH, &got, why);
    if ((ref != NULL) != (r == AW_JSON_OK) || (ref && !json_equal(ref, got))) {
        char *a = ref ? json_dumps(ref, JSON_ENCODE_ANY) : NULL, *b = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
        fprintf(stderr, "disagree on %zu bytes: ", len);
        for (size_t i = 0; i < len; i++) fprintf(stderr, buf[i] >= 0x20 && buf[i] < 0x7f ? "%c" : "\\x%02x", (unsigned char)buf[i]);
        fprintf(stderr, "\n  jansson: %s (%s)\n  aw_json_parse: %s (%s)\n", a ? a : "error", ref ? "" : err.text,
                b ? b : "error", why);
        free(a);
        free(b);
        fail();
    }
    if (r != AW_JSON_OK) assert_null(got);
    else assert_true(why[0] == '\0');
    json_decref(ref);
    json_decref(got);
    return ref != NULL;
}

static void corpus_agrees(void **st)
{
    (void)st;
    int ok = 0;
    for (size_t i = 0; i < N_CORPUS; i++) ok += compare(corpus[i], strlen(corpus[i]));
    assert_true(ok > 20); /* both halves of the corpus are exercised */
    /* Raw NUL bytes (not expressible in the corpus's C strings). */
    assert_int_equal(compare("[1,\0]", 5), 0);
    assert_int_equal(compare("\"a\0b\"", 5), 0);
}

/* Deterministic pseudo-random mutations: flip, insert, delete or duplicate bytes, biased towards JSON's
 * own punctuation so that many mutants stay close to valid. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

static void mutations_agree(void **st)
{
    (void)st;
    static const char alphabet[] = "{}[]\":,.-+eE0123456789 \\u\tnulltruefalse\x80\xc3\xa9\xff\x01";
    char buf[512];
    int accepted = 0, total = 0;
    /* AW_FUZZ_ROUNDS / AW_FUZZ_SEED run longer or other series by hand. */
    long rounds = getenv("AW_FUZZ_ROUNDS") ? atol(getenv("AW_FUZZ_ROUNDS")) : 40000;
    if (getenv("AW_FUZZ_SEED")) rng = strtoull(getenv("AW_FUZZ_SEED"), NULL, 0) | 1;
    for (long round = 0; round < rounds; round++) {
        const char *base = corpus[next() % N_CORPUS];
        size_t len = strlen(base);
        if (len > sizeof buf - 8) len = sizeof buf - 8;
        memcpy(buf, base, len);
        int edits = 1 + (int)(next() % 3);
        for (int e = 0; e < edits; e++) {
            size_t pos = len ? next() % (len + 1) : 0;
            char c = alphabet[next() % (sizeof alphabet - 1)];
            switch (next() % 4) {
            case 0: if (pos < len) buf[pos] = c; break;
            case 1:
                if (len < sizeof buf - 1) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = c;
                    len++;
                }
                break;
            case 2:
                if (pos < len) {
                    memmove(buf + pos, buf + pos + 1, len - pos - 1);
                    len--;
                }
                break;
            default:
                if (pos < len && len < sizeof buf - 1) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    len++;
                }
            }
        }
        accepted += compare(buf, len);
        total++;
    }
    assert_true(accepted > total / 50); /* some mutants stay valid */
}

static void depth_limit_first(void **st)
{
    (void)st;
    json_t *v = NULL;
    char why[200];
    assert_int_equal(aw_json_parse("[[[1]]]", 7, 2, &v, why), AW_JSON_DEPTH);
    assert_int_equal(aw_json_parse("[[[1]]]", 7, 3, &v, why), AW_JSON_OK);
    json_decref(v);
    /* Deep and invalid: the depth is reported, as before parsing anything. */
    assert_int_equal(aw_json_parse("[[[\f", 4, 2, &v, why), AW_JSON_DEPTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(corpus_agrees),
        cmocka_unit_test(mutations_agree),
        cmocka_unit_test(depth_limit_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
