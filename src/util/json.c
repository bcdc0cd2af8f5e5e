#include "util/json.h"
#include "util/str.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int aw_json_depth(const json_t *v)
{
    int max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            int d = aw_json_depth(m);
            if (d > max) max = d;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) {
            int d = aw_json_depth(m);
            if (d > max) max = d;
        }
        return max + 1;
    }
    return 0;
}

bool aw_json_is_json(const char *buf, size_t len)
{
    json_error_t err;
    json_t *v = json_loadb(buf, len, JSON_DECODE_ANY, &err);
    if (!v) return false;
    json_decref(v);
    return true;
}

bool aw_json_buf_str(aw_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (!aw_utf8_valid(s, n)) return false;
    static const char hex[] = "0123456789ABCDEF";
    aw_buf_append(b, "\"", 1);
    const char *run = s; /* bytes copied as they are */
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        aw_buf_append(b, run, (size_t)(p - run));
        run = p + 1;
        char e[6] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            memcpy(e + 1, "u00", 3);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            el = 6;
        }
        aw_buf_append(b, e, el);
    }
    aw_buf_append(b, run, strlen(run));
    aw_buf_append(b, "\"", 1);
    return true;
}

char *aw_json_dump(const json_t *v)
{
    /* Scalars are written here, byte for byte as jansson writes them: a subscriber stores every value it
     * receives through this, and json_dumps costs ~3.5 k instructions even for a short string. */
    aw_buf b = AW_BUF_INIT;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v) || !aw_json_buf_str(&b, s)) /* an embedded NUL: jansson's way */
            return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    } else if (json_is_integer(v)) {
        aw_buf_i64(&b, (long long)json_integer_value(v));
    } else if (json_is_boolean(v) || json_is_null(v)) {
        aw_buf_puts(&b, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
    } else {
        return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    if (b.oom) {
        aw_buf_free(&b);
        return NULL;
    }
    return aw_buf_take(&b);
}

const char *aw_json_str(const json_t *obj, const char *key)
{
    json_t *m = json_object_get(obj, key);
    return json_is_string(m) ? json_string_value(m) : NULL;
}

bool aw_json_bool(const json_t *obj, const char *key, bool dflt)
{
    json_t *m = json_object_get(obj, key);
    if (json_is_boolean(m)) return json_is_true(m);
    if (json_is_string(m)) {
        if (!strcasecmp(json_string_value(m), "true")) return true;
        if (!strcasecmp(json_string_value(m), "false")) return false;
    }
    return dflt;
}
