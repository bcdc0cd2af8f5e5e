#include "util/rand.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

int aw_rand_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int aw_rand_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    if (nbytes > sizeof raw) return -1;
    if (aw_rand_bytes(raw, nbytes) != 0) return -1;
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

int aw_new_id(char out[33]) { return aw_rand_hex(out, 16); }

int aw_new_token(char out[41]) { return aw_rand_hex(out, 20); }

unsigned aw_rand_below(unsigned n)
{
    uint32_t v = 0;
    if (n == 0 || aw_rand_bytes(&v, sizeof v) != 0) return 0;
    return (unsigned)(v % n);
}
