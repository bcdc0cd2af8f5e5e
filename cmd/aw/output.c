/* aw — output: pretty JSON, aligned key/value lines and tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw.h"

void out_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}

void out_body(const aw_result *res)
{
    json_t *j = aw_result_json(res);
    if (j) {
        out_json(j);
        return;
    }
    size_t len = 0;
    const char *b = aw_result_body(res, &len);
    if (b && len) {
        fwrite(b, 1, len, stdout);
        if (b[len - 1] != '\n') fputc('\n', stdout);
    }
}

char *out_value(json_t *v)
{
    if (json_is_string(v)) return strdup(json_string_value(v));
    if (!v) return strdup("");
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return s ? s : strdup("");
}

/* Replace control characters so one value stays on one table line. */
static void one_line(char *s)
{
    for (; s && *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t') *s = ' ';
}

void out_kv(json_t *obj)
{
    const char *k;
    json_t *v;
    size_t w = 0;
    json_object_foreach(obj, k, v) {
        if (strlen(k) > w) w = strlen(k);
    }
    json_object_foreach(obj, k, v) {
        char *s = out_value(v);
        one_line(s);
        if (s && *s) printf("%s:%*s %s\n", k, (int)(w - strlen(k)), "", s);
        else printf("%s:\n", k);
        free(s);
    }
}

struct out_table {
    size_t ncols, nrows, cap;
    char **cells; /* row-major; row 0 = headers */
};

out_table *table_new(size_t ncols, const char *const *headers)
{
    out_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ncols = ncols;
    table_add(t, headers);
    return t;
}

void table_add(out_table *t, const char *const *cells)
{
    if (!t) return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **n = realloc(t->cells, cap * t->ncols * sizeof *n);
        if (!n) return;
        t->cells = n;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        char *s = strdup(cells[i] ? cells[i] : "");
        one_line(s);
        t->cells[t->nrows * t->ncols + i] = s;
    }
    t->nrows++;
}

void table_print(out_table *t)
{
    if (!t) return;
    size_t *w = calloc(t->ncols, sizeof *w);
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t i = 0; i < t->ncols; i++) {
            const char *s = t->cells[r * t->ncols + i];
            size_t n = s ? strlen(s) : 0;
            if (w && n > w[i]) w[i] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t i = 0; i < t->ncols; i++) {
            const char *s = t->cells[r * t->ncols + i];
            if (!s) s = "";
            if (i + 1 == t->ncols) printf("%s\n", s);
            else printf("%-*s  ", w ? (int)w[i] : 0, s);
        }
    }
    for (size_t k = 0; k < t->nrows * t->ncols; k++) free(t->cells[k]);
    free(t->cells);
    free(w);
    free(t);
}
