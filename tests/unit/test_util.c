/* Unit tests for src/util: strict JSON parsing, UTF-8 validation, constant-time compare, ids, aw_buf. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <actingweb/status.h>

#include "util/json.h"
#include "util/rand.h"
#include "util/str.h"
#include "util/time.h"
#include "util/zip.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static aw_json_err parse(const char *buf, size_t len, int depth, json_t **out)
{
    char why[200] = "";
    aw_json_err e = aw_json_parse(buf, len, depth, out, why);
    if (e != AW_JSON_OK) {
        assert_null(*out);
        assert_true(why[0] != '\0');
    }
    return e;
}

/* ------------------------------------------------------------------ aw_json_parse */
static void json_ok_values(void **st)
{
    (void)st;
    json_t *v = NULL;
    assert_int_equal(parse(S("{\"a\":1,\"b\":[true,null,\"x\"]}"), 0, &v), AW_JSON_OK);
    assert_true(json_is_object(v));
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
    /* Scalars are JSON values too. */
    const char *scalars[] = {"1", "-2.5e3", "true", "false", "null", "\"s\"", "  \"\\u00e9\"  "};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        v = NULL;
        assert_int_equal(parse(scalars[i], strlen(scalars[i]), 0, &v), AW_JSON_OK);
        assert_non_null(v);
        assert_false(json_is_object(v) || json_is_array(v));
        json_decref(v);
    }
    /* Non-ASCII UTF-8 in strings is fine. */
    v = NULL;
    assert_int_equal(parse(S("{\"k\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}"), 0, &v), AW_JSON_OK);
    json_decref(v);
    /* Brackets inside strings do not count towards depth. */
    v = NULL;
    assert_int_equal(parse(S("{\"k\":\"[[[[[[[[[[\\\"{{{{{{\"}"), 2, &v), AW_JSON_OK);
    json_decref(v);
}

static void json_syntax_errors(void **st)
{
    (void)st;
    const char *bad[] = {"", " ", "{", "}", "[1,2", "{\"a\":}", "{'a':1}", "{\"a\":1,}", "[1,]", "nul", "01",
                         "1 2", "{\"a\" 1}", "\"unterminated", "{\"a\":1}x", "NaN", "\"\\x\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *v = NULL;
        assert_int_equal(parse(bad[i], strlen(bad[i]), 0, &v), AW_JSON_SYNTAX);
    }
}

static void json_duplicate_keys(void **st)
{
    (void)st;
    json_t *v = NULL;
    assert_int_equal(parse(S("{\"a\":1,\"a\":2}"), 0, &v), AW_JSON_SYNTAX);
    assert_int_equal(parse(S("{\"x\":{\"b\":1,\"b\":1}}"), 0, &v), AW_JSON_SYNTAX);
    assert_int_equal(parse(S("[{\"k\":1},{\"k\":2,\"k\":3}]"), 0, &v), AW_JSON_SYNTAX);
    /* Same key in different objects is fine. */
    assert_int_equal(parse(S("[{\"k\":1},{\"k\":2}]"), 0, &v), AW_JSON_OK);
    json_decref(v);
}

static void json_invalid_utf8(void **st)
{
    (void)st;
    json_t *v = NULL;
    assert_int_equal(parse(S("{\"a\":\"\xff\"}"), 0, &v), AW_JSON_SYNTAX);
    assert_int_equal(parse(S("{\"a\":\"\xc3\"}"), 0, &v), AW_JSON_SYNTAX);       /* truncated */
    assert_int_equal(parse(S("{\"a\":\"\xc0\xaf\"}"), 0, &v), AW_JSON_SYNTAX);   /* overlong '/' */
    assert_int_equal(parse(S("{\"a\":\"\xed\xa0\x80\"}"), 0, &v), AW_JSON_SYNTAX); /* surrogate */
    assert_int_equal(parse(S("{\"\xfe\":1}"), 0, &v), AW_JSON_SYNTAX);          /* in a key */
    /* An embedded NUL byte in the text is not JSON, and neither is an escaped NUL in a string. */
    assert_int_equal(parse("{\"a\":\"x\0y\"}", 11, 0, &v), AW_JSON_SYNTAX);
    assert_int_equal(parse(S("\"\\u0000\""), 0, &v), AW_JSON_SYNTAX);
}

static char *nested(int levels, char open, char close, const char *inner)
{
    size_t n = strlen(inner);
    char *s = malloc(2 * (size_t)levels + n + 1);
    for (int i = 0; i < levels; i++) s[i] = open;
    memcpy(s + levels, inner, n);
    for (int i = 0; i < levels; i++) s[(size_t)levels + n + (size_t)i] = close;
    s[2 * (size_t)levels + n] = '\0';
    return s;
}

static void json_depth_limit(void **st)
{
    (void)st;
    json_t *v = NULL;
    char *s = nested(5, '[', ']', "1");
    assert_int_equal(parse(s, strlen(s), 5, &v), AW_JSON_OK);
    assert_int_equal(aw_json_depth(v), 5);
    json_decref(v);
    assert_int_equal(parse(s, strlen(s), 4, &v), AW_JSON_DEPTH);
    free(s);
    /* Default limit (<= 0) is 64. */
    s = nested(64, '[', ']', "");
    assert_int_equal(parse(s, strlen(s), 0, &v), AW_JSON_OK);
    json_decref(v);
    free(s);
    s = nested(65, '[', ']', "");
    assert_int_equal(parse(s, strlen(s), 0, &v), AW_JSON_DEPTH);
    assert_int_equal(parse(s, strlen(s), -1, &v), AW_JSON_DEPTH);
    free(s);
    /* Very deep input is refused before building anything (no stack blow-up). */
    s = nested(200000, '[', ']', "");
    assert_int_equal(parse(s, strlen(s), 64, &v), AW_JSON_DEPTH);
    free(s);
    /* Objects count as well. */
    const char *obj = "{\"a\":{\"b\":{\"c\":1}}}";
    assert_int_equal(parse(obj, strlen(obj), 3, &v), AW_JSON_OK);
    assert_int_equal(aw_json_depth(v), 3);
    json_decref(v);
    assert_int_equal(parse(obj, strlen(obj), 2, &v), AW_JSON_DEPTH);
    /* Scalars have depth 0, {} has 1. */
    json_t *sc = json_integer(3);
    assert_int_equal(aw_json_depth(sc), 0);
    json_decref(sc);
    json_t *o = json_object();
    assert_int_equal(aw_json_depth(o), 1);
    json_decref(o);
}

static void json_helpers(void **st)
{
    (void)st;
    json_t *v = NULL;
    assert_int_equal(parse(S("{\"s\":\"x\",\"n\":1,\"t\":true,\"f\":\"false\",\"T\":\"true\"}"), 0, &v), AW_JSON_OK);
    assert_string_equal(aw_json_str(v, "s"), "x");
    assert_null(aw_json_str(v, "n"));
    assert_null(aw_json_str(v, "missing"));
    assert_true(aw_json_bool(v, "t", false));
    assert_true(aw_json_bool(v, "T", false));
    assert_false(aw_json_bool(v, "f", true));
    assert_true(aw_json_bool(v, "missing", true));
    assert_false(aw_json_bool(v, "missing", false));
    char *d = aw_json_dump(v);
    assert_non_null(d);
    assert_null(strchr(d, '\n'));
    free(d);
    json_decref(v);
    json_t *str = json_string("a\"b");
    d = aw_json_dump(str); /* scalars serialise too */
    assert_string_equal(d, "\"a\\\"b\"");
    free(d);
    json_decref(str);
    assert_true(aw_json_is_json(S("[1]")));
    assert_true(aw_json_is_json(S("\"x\"")));
    assert_false(aw_json_is_json(S("hello")));
    assert_false(aw_json_is_json(S("")));
}

/* ------------------------------------------------------------------ aw_utf8_valid */
static void utf8_valid(void **st)
{
    (void)st;
    assert_true(aw_utf8_valid(S("")));
    assert_true(aw_utf8_valid(S("plain ascii")));
    assert_true(aw_utf8_valid(S("\xc3\xa9")));             /* é */
    assert_true(aw_utf8_valid(S("\xe2\x82\xac")));         /* € */
    assert_true(aw_utf8_valid(S("\xf0\x9f\x98\x80")));     /* 😀 */
    assert_true(aw_utf8_valid(S("\xf4\x8f\xbf\xbf")));     /* U+10FFFF */
    assert_true(aw_utf8_valid(S("\xef\xbf\xbf")));         /* U+FFFF */
    assert_true(aw_utf8_valid(S("\xed\x9f\xbf")));         /* U+D7FF, just below the surrogates */
    assert_true(aw_utf8_valid(S("\xee\x80\x80")));         /* U+E000, just above */
    assert_true(aw_utf8_valid("a\0b", 3));                 /* NUL is valid UTF-8 */
    /* Length is respected: a valid prefix of an invalid string. */
    assert_true(aw_utf8_valid("ab\xff", 2));
}

/* The decoder aw_utf8_valid was before it checked eight ASCII bytes at a time: the reference below. */
static bool ref_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 0;
        if (!n) return false;
        uint32_t cp = c & (n == 1 ? 0x1F : n == 2 ? 0x0F : 0x07);
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

/* Random texts of ASCII runs and multibyte pieces (valid, cut, or mangled) at every offset against an
 * 8-byte word: the word-at-a-time path answers as the reference does. */
static void utf8_matches_reference(void **st)
{
    (void)st;
    static const char *const pieces[] = {"a", "abcdefgh", "0123456789abcdef", "\xc3\xa9", "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80", "\xc3", "\xe2\x82", "\x80", "\xff", "\xed\xa0\x80",
                                         "\xf4\x90\x80\x80", "\xc0\xaf", "\0"};
    const size_t np = sizeof pieces / sizeof *pieces;
    unsigned seed = 12345;
    size_t valid = 0;
    for (int t = 0; t < 20000; t++) {
        unsigned char buf[64];
        size_t n = 0;
        seed = seed * 1103515245u + 12345u;
        int parts = 1 + (int)((seed >> 16) % 8);
        for (int p = 0; p < parts; p++) {
            seed = seed * 1103515245u + 12345u;
            size_t k = (seed >> 16) % np;
            size_t pl = k == np - 1 ? 1 : strlen(pieces[k]); /* the last piece is one NUL byte */
            if (n + pl > sizeof buf) break;
            memcpy(buf + n, pieces[k], pl);
            n += pl;
        }
        bool want = ref_utf8_valid(buf, n);
        valid += want;
        assert_int_equal(aw_utf8_valid((const char *)buf, n), want);
    }
    assert_true(valid > 1000 && valid < 19000); /* both answers were exercised */
    /* Every piece at every offset of ASCII padding, so that it meets each byte of a word. */
    for (size_t k = 0; k + 1 < np; k++) {
        for (size_t pre = 0; pre < 20; pre++) {
            for (size_t post = 0; post < 12; post++) {
                unsigned char buf[64];
                size_t pl = strlen(pieces[k]);
                memset(buf, 'x', pre);
                memcpy(buf + pre, pieces[k], pl);
                memset(buf + pre + pl, 'y', post);
                size_t n = pre + pl + post;
                assert_int_equal(aw_utf8_valid((const char *)buf, n), ref_utf8_valid(buf, n));
            }
        }
    }
}

static void utf8_invalid(void **st)
{
    (void)st;
    assert_false(aw_utf8_valid(S("\x80")));                /* lone continuation */
    assert_false(aw_utf8_valid(S("\xbf")));
    assert_false(aw_utf8_valid(S("\xff")));
    assert_false(aw_utf8_valid(S("\xfe")));
    assert_false(aw_utf8_valid(S("\xf8\x88\x80\x80\x80"))); /* 5-byte form */
    assert_false(aw_utf8_valid(S("\xc3")));                /* truncated */
    assert_false(aw_utf8_valid(S("\xe2\x82")));
    assert_false(aw_utf8_valid(S("\xf0\x9f\x98")));
    assert_false(aw_utf8_valid("\xc3\xa9", 1));            /* truncated by length */
    assert_false(aw_utf8_valid(S("\xc3\x41")));            /* bad continuation */
    /* Overlong encodings. */
    assert_false(aw_utf8_valid(S("\xc0\x80")));
    assert_false(aw_utf8_valid(S("\xc1\xbf")));
    assert_false(aw_utf8_valid(S("\xc0\xaf")));
    assert_false(aw_utf8_valid(S("\xe0\x80\xaf")));
    assert_false(aw_utf8_valid(S("\xe0\x9f\xbf")));
    assert_false(aw_utf8_valid(S("\xf0\x80\x80\xaf")));
    assert_false(aw_utf8_valid(S("\xf0\x8f\xbf\xbf")));
    /* Surrogates. */
    assert_false(aw_utf8_valid(S("\xed\xa0\x80")));        /* U+D800 */
    assert_false(aw_utf8_valid(S("\xed\xbf\xbf")));        /* U+DFFF */
    assert_false(aw_utf8_valid(S("\xed\xa0\xbd\xed\xb8\x80"))); /* CESU pair */
    /* Beyond U+10FFFF. */
    assert_false(aw_utf8_valid(S("\xf4\x90\x80\x80")));
    assert_false(aw_utf8_valid(S("\xf5\x80\x80\x80")));
    assert_false(aw_utf8_valid(S("ok\xc3\xa9 then \xff")));
}

/* ------------------------------------------------------------------ aw_ct_streq and friends */
static void ct_streq(void **st)
{
    (void)st;
    assert_true(aw_ct_streq("", ""));
    assert_true(aw_ct_streq("secret", "secret"));
    assert_false(aw_ct_streq("secret", "secreT"));
    assert_false(aw_ct_streq("secret", "secret2"));
    assert_false(aw_ct_streq("secret2", "secret"));
    assert_false(aw_ct_streq("", "x"));
    assert_false(aw_ct_streq("x", ""));
    assert_false(aw_ct_streq(NULL, "x"));
    assert_false(aw_ct_streq("x", NULL));
    assert_false(aw_ct_streq(NULL, NULL));
    /* Prefix with a differing length is not equal, even though the common part matches. */
    assert_false(aw_ct_streq("abc", "abcd"));
}

static void misc_str(void **st)
{
    (void)st;
    assert_true(aw_is_hex_id("0123456789abcdef0123456789abcdef"));
    assert_false(aw_is_hex_id("0123456789ABCDEF0123456789abcdef"));
    assert_false(aw_is_hex_id("0123456789abcdef0123456789abcde"));
    assert_false(aw_is_hex_id("0123456789abcdef0123456789abcdef0"));
    assert_false(aw_is_hex_id("0123456789abcdef0123456789abcdeg"));
    assert_false(aw_is_hex_id(""));
    assert_false(aw_is_hex_id(NULL));
    assert_true(aw_istarts("Bearer xyz", "bearer "));
    assert_true(aw_istarts("BASIC x", "Basic"));
    assert_false(aw_istarts("Bas", "Basic"));
    assert_null(aw_strdup(NULL));
    char *d = aw_strdup("x");
    assert_string_equal(d, "x");
    free(d);
}

/* ------------------------------------------------------------------ ids and secrets */
static bool all_lower_hex(const char *s, size_t n)
{
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static void rand_formats(void **st)
{
    (void)st;
    char id[33], id2[33], tok[41], hex[129];
    assert_int_equal(aw_new_id(id), 0);
    assert_true(all_lower_hex(id, 32));
    assert_true(aw_is_hex_id(id));
    assert_int_equal(aw_new_id(id2), 0);
    assert_string_not_equal(id, id2);
    assert_int_equal(aw_new_token(tok), 0);
    assert_true(all_lower_hex(tok, 40));
    assert_int_equal(aw_rand_hex(hex, 64), 0);
    assert_true(all_lower_hex(hex, 128));
    assert_int_equal(aw_rand_hex(hex, 0), 0);
    assert_string_equal(hex, "");
    char big[300];
    assert_int_equal(aw_rand_hex(big, 65), -1); /* beyond the internal limit: refused, not overflowed */
    /* Every nibble value shows up over many draws (no stuck bits). */
    unsigned seen = 0;
    for (int i = 0; i < 64; i++) {
        assert_int_equal(aw_new_token(tok), 0);
        for (int k = 0; k < 40; k++) seen |= 1u << (tok[k] <= '9' ? tok[k] - '0' : tok[k] - 'a' + 10);
    }
    assert_int_equal(seen, 0xffffu);
    for (int i = 0; i < 1000; i++) assert_true(aw_rand_below(7) < 7);
    assert_int_equal(aw_rand_below(0), 0);
    assert_int_equal(aw_rand_below(1), 0);
}

static void time_formats(void **st)
{
    (void)st;
    char iso[32], plain[20];
    aw_time_iso(iso);
    assert_int_equal(strlen(iso), 27); /* YYYY-MM-DDTHH:MM:SS.ffffffZ */
    assert_int_equal(iso[10], 'T');
    assert_int_equal(iso[19], '.');
    assert_int_equal(iso[26], 'Z');
    aw_time_plain(plain);
    assert_int_equal(strlen(plain), 19);
    assert_int_equal(plain[10], ' ');
    assert_true(aw_time_ms() > 1600000000000LL);
    uint64_t a = aw_mono_ns(), b = aw_mono_ns();
    assert_true(b >= a);
}

/* ------------------------------------------------------------------ aw_buf */
static void buf_basics(void **st)
{
    (void)st;
    aw_buf b = AW_BUF_INIT;
    char *t = aw_buf_take(&b); /* empty buffer gives "" not NULL */
    assert_non_null(t);
    assert_string_equal(t, "");
    free(t);
    aw_buf_puts(&b, "abc");
    aw_buf_append(&b, "def", 2);
    aw_buf_append(&b, NULL, 0);
    aw_buf_printf(&b, "-%d-%s", 42, "x");
    assert_int_equal(b.len, strlen("abcde-42-x"));
    assert_string_equal(b.data, "abcde-42-x");
    /* A printf longer than the internal scratch buffer. */
    char longs[1000];
    memset(longs, 'z', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    aw_buf_printf(&b, "[%s]", longs);
    assert_int_equal(b.len, 10 + 1001);
    assert_int_equal(b.data[b.len - 1], ']');
    assert_int_equal(b.data[b.len], '\0');
    /* Growth over many appends. */
    for (int i = 0; i < 10000; i++) aw_buf_append(&b, "0123456789", 10);
    assert_int_equal(b.len, 10 + 1001 + 100000);
    assert_false(b.oom);
    assert_true(b.cap > b.len);
    t = aw_buf_take(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(strlen(t), 10 + 1001 + 100000);
    free(t);
    aw_buf_html(&b, "<a href=\"x\">&'</a>");
    assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    /* aw_buf_i64 writes what printf("%lld") does */
    const long long ints[] = {0, 7, -7, 10, 1234567890123LL, -1000, LLONG_MAX, LLONG_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        aw_buf x = AW_BUF_INIT, y = AW_BUF_INIT;
        aw_buf_puts(&x, ":");
        aw_buf_i64(&x, ints[i]);
        aw_buf_printf(&y, ":%lld", ints[i]);
        assert_string_equal(x.data, y.data);
        aw_buf_free(&x);
        aw_buf_free(&y);
    }
    aw_buf_html(&b, NULL);
    aw_buf_free(&b);
    assert_null(b.data);
    aw_buf_free(&b); /* twice is fine */
}

/* gzip/deflate round trips, the output bound (a "zip bomb" stops at the limit), bad streams, coding names. */
/* aw_json_buf_str writes what jansson writes for a json_string, byte for byte. */
static void json_buf_str_matches_jansson(void **state)
{
    (void)state;
    const char *samples[] = {"", "plain", "a\"b\\c/d", "tab\tnl\ncr\rbs\bff\f", "\x01\x1f\x7f end",
                             "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "2026-11-25T20:00:00.123456Z"};
    char all[128];
    for (int i = 1; i < 128; i++) all[i - 1] = (char)i;
    all[127] = 0;
    for (size_t i = 0; i <= sizeof samples / sizeof *samples; i++) {
        const char *s = i < sizeof samples / sizeof *samples ? samples[i] : all;
        json_t *j = json_string(s);
        assert_non_null(j);
        char *want = json_dumps(j, JSON_ENCODE_ANY);
        aw_buf b = AW_BUF_INIT;
        assert_true(aw_json_buf_str(&b, s));
        aw_buf_append(&b, "", 1);
        assert_string_equal(b.data, want);
        free(want);
        json_decref(j);
        aw_buf_free(&b);
    }
    aw_buf b = AW_BUF_INIT;
    assert_false(aw_json_buf_str(&b, "bad \xc3\x28 utf-8")); /* refused, as json_string() refuses it */
    assert_int_equal(b.len, 0);
    aw_buf_free(&b);
    /* aw_json_dump writes scalars itself: the same text as json_dumps(JSON_COMPACT | JSON_ENCODE_ANY) */
    json_t *vals[] = {json_string("value-0"), json_string("q\"\\\n\x01 caf\xc3\xa9"), json_stringn("a\0b", 3),
                      json_string(""), json_integer(0), json_integer(-42), json_integer(LLONG_MAX),
                      json_integer(LLONG_MIN), json_true(), json_false(), json_null(), json_real(1.5),
                      json_pack("{s:[i,s]}", "k", 1, "x")};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        assert_non_null(vals[i]);
        char *want = json_dumps(vals[i], JSON_COMPACT | JSON_ENCODE_ANY), *got = aw_json_dump(vals[i]);
        assert_non_null(got);
        assert_string_equal(got, want);
        assert_int_equal(strlen(got), strlen(want));
        free(want);
        free(got);
        json_decref(vals[i]);
    }
    assert_null(aw_json_dump(NULL));
}

static void zip_roundtrip_and_limits(void **state)
{
    (void)state;
    assert_int_equal(aw_zip_kind_of(NULL), AW_ZIP_IDENTITY);
    assert_int_equal(aw_zip_kind_of(" identity "), AW_ZIP_IDENTITY);
    assert_int_equal(aw_zip_kind_of("GZIP"), AW_ZIP_GZIP);
    assert_int_equal(aw_zip_kind_of("x-gzip"), AW_ZIP_GZIP);
    assert_int_equal(aw_zip_kind_of("deflate"), AW_ZIP_DEFLATE);
    assert_int_equal(aw_zip_kind_of("br"), AW_ZIP_UNKNOWN);
    assert_int_equal(aw_zip_kind_of("gzip, br"), AW_ZIP_UNKNOWN);
    size_t n = 200000;
    char *in = malloc(n);
    assert_non_null(in);
    for (size_t i = 0; i < n; i++) in[i] = (char)('a' + (i * 7 + i / 13) % 26);
    for (int k = AW_ZIP_GZIP; k <= AW_ZIP_DEFLATE; k++) {
        char *z = NULL;
        size_t zl = 0;
        assert_int_equal(aw_zip_encode((aw_zip_kind)k, in, n, &z, &zl), AW_OK);
        assert_true(zl < n);
        aw_buf out = AW_BUF_INIT;
        assert_int_equal(aw_unzip((aw_zip_kind)k, z, zl, n, &out), AW_OK);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.data, in, n);
        aw_buf_free(&out);
        assert_int_equal(aw_unzip((aw_zip_kind)k, z, zl, n - 1, &out), AW_EBUSY); /* one byte over the limit */
        aw_buf_free(&out);
        assert_int_equal(aw_unzip((aw_zip_kind)k, z, zl / 2, n, &out), AW_EINVAL); /* truncated */
        aw_buf_free(&out);
        free(z);
    }
    assert_int_equal(aw_zip_encode(AW_ZIP_UNKNOWN, in, n, &(char *){NULL}, &(size_t){0}), AW_EINVAL);
    aw_buf out = AW_BUF_INIT;
    assert_int_equal(aw_unzip(AW_ZIP_GZIP, "not gzip at all", 15, 100, &out), AW_EINVAL);
    aw_buf_free(&out);
    free(in);
}

static void strlcpy_cuts(void **st)
{
    char b[4];
    aw_strlcpy(b, "abc", sizeof b);
    assert_string_equal(b, "abc");
    aw_strlcpy(b, "abcdef", sizeof b);
    assert_string_equal(b, "abc");
    aw_strlcpy(b, NULL, sizeof b);
    assert_string_equal(b, "");
    b[0] = 'x';
    aw_strlcpy(b, "abc", 1);
    assert_string_equal(b, "");
}

/* Exponential backoff: base doubled per attempt after the first, capped, ±20 % jitter. */
static void backoff_schedule(void **st)
{
    (void)st;
    const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (int a = 1; a <= 8; a++) {
        for (int i = 0; i < 200; i++) {
            int64_t d = aw_backoff_ms(a, 1000, 60000);
            assert_true(d >= want[a - 1] - want[a - 1] / 5);
            assert_true(d <= want[a - 1] + want[a - 1] / 5);
        }
    }
    for (int i = 0; i < 50; i++) assert_true(aw_backoff_ms(INT_MAX, 1000, 300000) <= 360000); /* no overflow */
    for (int i = 0; i < 50; i++) {
        int64_t j = aw_jittered_ms(500);
        assert_true(j >= 400 && j <= 600);
    }
    assert_int_equal(aw_jittered_ms(0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_ok_values), cmocka_unit_test(json_syntax_errors),
        cmocka_unit_test(json_duplicate_keys), cmocka_unit_test(json_invalid_utf8),
        cmocka_unit_test(json_depth_limit), cmocka_unit_test(json_helpers),
        cmocka_unit_test(utf8_valid), cmocka_unit_test(utf8_invalid), cmocka_unit_test(utf8_matches_reference),
        cmocka_unit_test(ct_streq), cmocka_unit_test(misc_str), cmocka_unit_test(strlcpy_cuts),
        cmocka_unit_test(rand_formats), cmocka_unit_test(time_formats),
        cmocka_unit_test(buf_basics), cmocka_unit_test(zip_roundtrip_and_limits),
        cmocka_unit_test(json_buf_str_matches_jansson), cmocka_unit_test(backoff_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
