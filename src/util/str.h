/* Small string helpers: a growable buffer, constant-time compare, checks. */
#ifndef AW_UTIL_STR_H
#define AW_UTIL_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct aw_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    bool oom;   /* an allocation failed; contents are truncated */
} aw_buf;

#define AW_BUF_INIT {NULL, 0, 0, false}

void aw_buf_append(aw_buf *b, const void *data, size_t len);
void aw_buf_puts(aw_buf *b, const char *s);
void aw_buf_printf(aw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append v in decimal (what aw_buf_printf("%lld") does, without the format machinery). */
void aw_buf_i64(aw_buf *b, long long v);
/* Append `s` HTML-escaped. */
void aw_buf_html(aw_buf *b, const char *s);
/* Take ownership of the buffer's string (free with free()); the buffer is reset. Never NULL unless OOM. */
char *aw_buf_take(aw_buf *b);
void aw_buf_free(aw_buf *b);

/* Copy the string src (NULL = "") into dst of size n (> 0): at most n - 1 bytes, always NUL-terminated,
 * cut short when longer. What snprintf(dst, n, "%s", src) does, at a twentieth of the cost. */
void aw_strlcpy(char *dst, const char *src, size_t n);
/* FNV-1a of the NUL-terminated s (hash tables keyed by strings). */
size_t aw_str_hash(const char *s);
/* A malloc'd copy of the n bytes at s without leading and trailing white space; NULL on OOM. */
char *aw_trim_dup(const char *s, size_t n);

/* strdup that accepts NULL (returns NULL). */
char *aw_strdup(const char *s);

/* Constant-time equality of two NUL-terminated secrets (time depends only on the lengths). */
bool aw_ct_streq(const char *a, const char *b);

/* True when s is valid UTF-8 of length len. */
bool aw_utf8_valid(const char *s, size_t len);

/* True when s is exactly 32 lowercase hex characters. */
bool aw_is_hex_id(const char *s);

/* Case-insensitive prefix test. */
bool aw_istarts(const char *s, const char *prefix);

/* True when the comma-separated list `list` (spaces around items ignored; NULL = empty) holds `item` as a
 * whole item, e.g. an option tag in a peer's aw_supported. */
bool aw_list_has(const char *list, const char *item);

#endif
