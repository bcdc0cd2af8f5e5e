/* gzip / deflate bodies with zlib. Decoding works in fixed chunks and stops as soon as the output would
 * pass its limit, so a small "zip bomb" costs at most `max` bytes of memory. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include <actingweb/status.h>

#include "util/zip.h"

aw_zip_kind aw_zip_kind_of(const char *ce)
{
    if (!ce) return AW_ZIP_IDENTITY;
    while (*ce == ' ' || *ce == '\t') ce++;
    size_t n = strlen(ce);
    while (n && (ce[n - 1] == ' ' || ce[n - 1] == '\t')) n--;
    if (n == 0 || (n == 8 && !strncasecmp(ce, "identity", 8))) return AW_ZIP_IDENTITY;
    if ((n == 4 && !strncasecmp(ce, "gzip", 4)) || (n == 6 && !strncasecmp(ce, "x-gzip", 6))) return AW_ZIP_GZIP;
    if (n == 7 && !strncasecmp(ce, "deflate", 7)) return AW_ZIP_DEFLATE;
    return AW_ZIP_UNKNOWN;
}

int aw_zip_encode(aw_zip_kind kind, const void *in, size_t len, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if ((kind != AW_ZIP_GZIP && kind != AW_ZIP_DEFLATE) || len > 0xffffffffu) return AW_EINVAL;
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
    int bits = kind == AW_ZIP_GZIP ? 15 + 16 : 15;
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return AW_EINVAL;
    uLong bound = deflateBound(&z, (uLong)len);
    char *buf = malloc(bound);
    if (!buf) {
        deflateEnd(&z);
        return AW_ENOMEM;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return AW_EINVAL;
    }
    *out = buf;
    *out_len = n;
    return AW_OK;
}

static int inflate_with(int window_bits, const void *in, size_t len, size_t max, aw_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, window_bits) != Z_OK) return AW_ENOMEM;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    unsigned char chunk[16384];
    size_t start = out->len;
    int r = AW_OK;
    for (;;) {
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        int rc = inflate(&z, Z_NO_FLUSH);
        size_t got = sizeof chunk - z.avail_out;
        if (got) {
            if (out->len - start + got > max) {
                r = AW_EBUSY;
                break;
            }
            aw_buf_append(out, chunk, got);
            if (out->oom) {
                r = AW_ENOMEM;
                break;
            }
        }
        if (rc == Z_STREAM_END) break;
        if (rc == Z_MEM_ERROR) {
            r = AW_ENOMEM;
            break;
        }
        if (rc != Z_OK && !(rc == Z_BUF_ERROR && got)) {
            r = AW_EINVAL; /* corrupt, or truncated (no progress possible) */
            break;
        }
    }
    if (r == AW_OK && z.avail_in != 0) r = AW_EINVAL; /* trailing garbage */
    inflateEnd(&z);
    return r;
}

int aw_unzip(aw_zip_kind kind, const void *in, size_t len, size_t max, aw_buf *out)
{
    if (kind == AW_ZIP_GZIP) return inflate_with(15 + 16, in, len, max, out);
    if (kind != AW_ZIP_DEFLATE) return AW_EINVAL;
    size_t start = out->len;
    int r = inflate_with(15, in, len, max, out); /* zlib-wrapped, as the HTTP spec defines "deflate" */
    if (r == AW_EINVAL) {
        out->len = start; /* some senders use raw deflate */
        if (out->data) out->data[start] = '\0';
        r = inflate_with(-15, in, len, max, out);
    }
    return r;
}
