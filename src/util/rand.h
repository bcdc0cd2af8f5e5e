/* Secrets and ids from the kernel CSPRNG (getrandom). */
#ifndef AW_UTIL_RAND_H
#define AW_UTIL_RAND_H

#include <stddef.h>

/* Fill `buf` with `n` random bytes. Returns 0 or -1 (no entropy available). */
int aw_rand_bytes(void *buf, size_t n);

/* Write 2*nbytes lowercase hex characters plus NUL into out (size >= 2*nbytes+1). Returns 0 / -1. */
int aw_rand_hex(char *out, size_t nbytes);

/* New actor/subscription id: 32 lowercase hex characters (128 random bits). out[33]. */
int aw_new_id(char out[33]);

/* New secret/passphrase/token: 40 lowercase hex characters (160 random bits). out[41]. */
int aw_new_token(char out[41]);

/* A random integer in [0, n). */
unsigned aw_rand_below(unsigned n);

#endif
