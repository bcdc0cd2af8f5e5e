/* gzip / deflate bodies with zlib (protocol.md §9.11 callback compression). */
#ifndef AW_UTIL_ZIP_H
#define AW_UTIL_ZIP_H

#include <stddef.h>

#include "util/str.h"

/* Content-Encoding values this build decodes. */
typedef enum aw_zip_kind {
    AW_ZIP_IDENTITY = 0, /* no header, empty or "identity" */
    AW_ZIP_GZIP = 1,     /* "gzip", "x-gzip" */
    AW_ZIP_DEFLATE = 2,  /* "deflate": zlib-wrapped as RFC 9110 says, raw deflate also accepted */
    AW_ZIP_UNKNOWN = 3
} aw_zip_kind;

/* Classify a Content-Encoding header value (NULL = identity; case and surrounding blanks ignored). A
 * list of several codings counts as unknown. */
aw_zip_kind aw_zip_kind_of(const char *content_encoding);

/* Encode `len` bytes of `in` as `kind` (GZIP, or DEFLATE = zlib-wrapped) into *out (malloc'd, free with
 * free()), *out_len its size. Returns AW_OK, AW_ENOMEM or AW_EINVAL (other kind, or zlib refused). */
int aw_zip_encode(aw_zip_kind kind, const void *in, size_t len, char **out, size_t *out_len);

/* Decode `len` bytes of `in` (kind GZIP or DEFLATE) into `out` (appended), never more than `max` bytes of
 * output. Returns AW_OK; AW_EBUSY when the decoded size would pass `max` (answer 413); AW_EINVAL for a
 * corrupt or truncated stream; AW_ENOMEM. */
int aw_unzip(aw_zip_kind kind, const void *in, size_t len, size_t max, aw_buf *out);

#endif
