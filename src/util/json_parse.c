/* Strict JSON parsing of untrusted input into jansson values (aw_json_parse in json.h).
 *
 * jansson's own parser reads one character at a time through its UTF-8 stream layer: ~190 instructions per
 * byte, a quarter of all the work of a daemon receiving subscription callbacks (bench/subscriptions.sh,
 * callgrind). Here yajl (Debian's libyajl) does the lexing, and its events build the jansson tree directly
 * (41 k → 16 k instructions for a 219-byte callback body). The result is what
 * json_loadb(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) accepts and returns; tests/unit/test_json_parse.c
 * compares the two over a corpus and random mutations of it:
 * - any value at the top, nothing but whitespace after it; whitespace is space, tab, CR and LF only
 *   (yajl also skips \v and \f, which are never valid JSON, so their presence is an error here);
 * - the text must be UTF-8 as jansson checks it (no overlong forms, surrogates or code points past
 *   U+10FFFF); checked once over the whole text, since unescaping then yields UTF-8 too (lone escaped
 *   surrogates are refused by the pre-pass);
 * - duplicate object keys and NUL characters (\u0000) in strings or keys are errors;
 * - a number without '.', 'e' or 'E' is an integer and must fit json_int_t; a real must not overflow.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_parse.h>

#include "util/json.h"
#include "util/str.h"

typedef struct jp {
    json_t **stack; /* open containers */
    size_t n, cap;
    json_t *root;
    char *key; /* the pending key of the innermost object */
    size_t key_cap;
    size_t key_len;
    aw_json_err err; /* set by a callback that stopped the parse */
    const char *why;
} jp;

static int fail(jp *p, aw_json_err err, const char *why)
{
    p->err = err;
    p->why = why;
    return 0; /* yajl: stop */
}

/* Attach a new value to the open container (or make it the root). Takes the reference. */
static int add(jp *p, json_t *v)
{
    if (!v) return fail(p, AW_JSON_NOMEM, "out of memory");
    if (p->n == 0) {
        if (p->root) { /* a second top-level value (the pre-pass and yajl refuse these already) */
            json_decref(v);
            return fail(p, AW_JSON_SYNTAX, "end of file expected");
        }
        p->root = v;
        return 1;
    }
    json_t *parent = p->stack[p->n - 1];
    if (json_is_array(parent)) {
        if (json_array_append_new(parent, v) != 0) return fail(p, AW_JSON_NOMEM, "out of memory");
        return 1;
    }
    if (json_object_getn(parent, p->key, p->key_len)) {
        json_decref(v);
        return fail(p, AW_JSON_SYNTAX, "duplicate object key");
    }
    if (json_object_setn_new_nocheck(parent, p->key, p->key_len, v) != 0)
        return fail(p, AW_JSON_NOMEM, "out of memory");
    return 1;
}

static int push(jp *p, json_t *c)
{
    if (!c) return fail(p, AW_JSON_NOMEM, "out of memory");
    json_incref(c); /* the stack's reference; add() takes the caller's */
    if (!add(p, c)) {
        json_decref(c);
        return 0;
    }
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 16;
        json_t **ns = realloc(p->stack, nc * sizeof *ns);
        if (!ns) {
            json_decref(c);
            return fail(p, AW_JSON_NOMEM, "out of memory");
        }
        p->stack = ns;
        p->cap = nc;
    }
    p->stack[p->n++] = c;
    return 1;
}

static int pop(void *ud)
{
    jp *p = ud;
    json_decref(p->stack[--p->n]);
    return 1;
}

static int on_null(void *ud) { return add(ud, json_null()); }

static int on_bool(void *ud, int b) { return add(ud, json_boolean(b)); }

/* As jansson's lexer: an integer when there is no fraction or exponent (and it must fit), else a real
 * that must not overflow. Parsed in the C locale's notation, whatever the program's locale. */
static int on_number(void *ud, const char *s, size_t len)
{
    jp *p = ud;
    char buf[128];
    char *t = len < sizeof buf ? buf : malloc(len + 1);
    if (!t) return fail(p, AW_JSON_NOMEM, "out of memory");
    memcpy(t, s, len);
    t[len] = '\0';
    int r;
    errno = 0;
    if (!memchr(s, '.', len) && !memchr(s, 'e', len) && !memchr(s, 'E', len)) {
        long long v = strtoll(t, NULL, 10);
        r = errno == ERANGE ? fail(p, AW_JSON_SYNTAX, v < 0 ? "too big negative integer" : "too big integer")
                            : add(p, json_integer((json_int_t)v));
    } else {
        const char *dp = localeconv()->decimal_point;
        if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
            char *dot = strchr(t, '.');
            if (dot) *dot = dp[0];
        }
        double v = strtod(t, NULL);
        r = errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL) ? fail(p, AW_JSON_SYNTAX, "real number overflow")
                                                                  : add(p, json_real(v));
    }
    if (t != buf) free(t);
    return r;
}

static int on_string(void *ud, const unsigned char *s, size_t len)
{
    jp *p = ud;
    if (memchr(s, '\0', len)) return fail(p, AW_JSON_SYNTAX, "\\u0000 is not allowed without JSON_ALLOW_NUL");
    return add(p, json_stringn_nocheck((const char *)s, len));
}

static int on_start_map(void *ud) { return push(ud, json_object()); }

static int on_key(void *ud, const unsigned char *k, size_t len)
{
    jp *p = ud;
    if (memchr(k, '\0', len)) return fail(p, AW_JSON_SYNTAX, "NUL byte in object key not supported");
    if (len + 1 > p->key_cap) {
        size_t nc = len + 1 < 64 ? 64 : len + 1;
        char *nk = realloc(p->key, nc);
        if (!nk) return fail(p, AW_JSON_NOMEM, "out of memory");
        p->key = nk;
        p->key_cap = nc;
    }
    memcpy(p->key, k, len);
    p->key[len] = '\0';
    p->key_len = len;
    return 1;
}

static int on_start_array(void *ud) { return push(ud, json_array()); }

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = pop,
    .yajl_start_array = on_start_array,
    .yajl_end_array = pop,
};

/* The code unit of the \\uXXXX escape at buf[i] (the backslash), or -1 when there is none. */
static long escape_at(const char *buf, size_t len, size_t i)
{
    if (i + 6 > len || buf[i] != '\\' || buf[i + 1] != 'u') return -1;
    long v = 0;
    for (size_t k = i + 2; k < i + 6; k++) {
        char c = buf[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Before parsing, in one pass over the raw text:
 * - the nesting depth, so that a hostile body never builds a deep tree (brackets in strings skipped);
 * - \v and \f, which yajl would take for whitespace;
 * - escaped UTF-16 surrogates that do not form a pair (yajl turns them into '?'; jansson refuses them);
 * - anything but whitespace after the top-level value. yajl checks that too, but takes a token left
 *   unfinished at the end (`1"x`, `{}"}`) for "more input may come" and accepts. Where the value ends
 *   is plain to see: at the bracket that closes the first one, at the closing quote of a string, or
 *   before the first character that cannot continue a number or a literal. */
static aw_json_err prescan(const char *buf, size_t len, int max_depth)
{
    int depth = 0;
    bool in_str = false, bad = false;
    size_t start = 0;
    while (start < len && is_ws(buf[start])) start++;
    char first = start < len ? buf[start] : '\0';
    bool scalar = first != '{' && first != '[' && first != '"';
    size_t end = start < len ? SIZE_MAX : len; /* where the top-level value ends; SIZE_MAX: not yet seen */
    for (size_t i = start; i < len; i++) {
        char c = buf[i];
        if (c == '\v' || c == '\f') bad = true; /* raw, they are invalid anywhere */
        if (in_str) {
            if (c == '\\') {
                long u = escape_at(buf, len, i);
                if (u >= 0xD800 && u <= 0xDBFF) {
                    long lo = escape_at(buf, len, i + 6);
                    if (lo < 0xDC00 || lo > 0xDFFF) bad = true;
                    else i += 6; /* the pair's second escape is not a lone one */
                } else if (u >= 0xDC00 && u <= 0xDFFF) {
                    bad = true;
                }
                i++;
            } else if (c == '"') {
                in_str = false;
                if (depth == 0 && end == SIZE_MAX && first == '"') end = i + 1;
            }
            continue;
        }
        if (scalar && end == SIZE_MAX && (is_ws(c) || (c && strchr("\"{}[],:", c)))) end = i;
        if (c == '"') in_str = true;
        else if (c == '{' || c == '[') {
            if (++depth > max_depth) return AW_JSON_DEPTH;
        } else if (c == '}' || c == ']') {
            if (--depth == 0 && end == SIZE_MAX && !scalar) end = i + 1;
        }
    }
    if (scalar && end == SIZE_MAX) end = len;
    if (end != SIZE_MAX)
        for (size_t i = end; i < len && !bad; i++) bad = !is_ws(buf[i]);
    return bad ? AW_JSON_SYNTAX : AW_JSON_OK;
}

aw_json_err aw_json_parse(const char *buf, size_t len, int max_depth, json_t **out, char why[200])
{
    *out = NULL;
    if (max_depth <= 0) max_depth = 64;
    aw_json_err pre = prescan(buf, len, max_depth);
    if (pre == AW_JSON_DEPTH) {
        if (why) snprintf(why, 200, "JSON nested deeper than %d levels", max_depth);
        return AW_JSON_DEPTH;
    }
    if (pre != AW_JSON_OK || !aw_utf8_valid(buf, len)) {
        if (why) snprintf(why, 200, "invalid JSON: %s", pre != AW_JSON_OK ? "invalid token" : "invalid UTF-8");
        return AW_JSON_SYNTAX;
    }
    jp p = {0};
    yajl_handle h = yajl_alloc(&callbacks, NULL, &p);
    if (!h) {
        if (why) snprintf(why, 200, "out of memory");
        return AW_JSON_NOMEM;
    }
    yajl_config(h, yajl_dont_validate_strings, 1); /* the whole text was checked above, as jansson does */
    yajl_status st = yajl_parse(h, (const unsigned char *)buf, len);
    if (st == yajl_status_ok) st = yajl_complete_parse(h);
    aw_json_err r = AW_JSON_OK;
    if (st != yajl_status_ok || !p.root) {
        r = p.err ? p.err : AW_JSON_SYNTAX;
        if (why) {
            if (p.why) {
                snprintf(why, 200, r == AW_JSON_NOMEM ? "%s" : "invalid JSON: %s", p.why);
            } else {
                unsigned char *m = yajl_get_error(h, 0, (const unsigned char *)buf, len);
                const char *msg = m ? (const char *)m : "syntax error";
                size_t ml = strlen(msg);
                while (ml && (msg[ml - 1] == '\n' || msg[ml - 1] == ' ')) ml--;
                snprintf(why, 200, "invalid JSON: %.*s", (int)ml, msg);
                if (m) yajl_free_error(h, m);
            }
        }
    }
    while (p.n) pop(&p);
    free(p.stack);
    free(p.key);
    yajl_free(h);
    if (r == AW_JSON_OK) *out = p.root;
    else json_decref(p.root);
    return r;
}
