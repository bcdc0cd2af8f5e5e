/* actingweb/version.h — product version of libactingweb (not the protocol version). */
#ifndef ACTINGWEB_VERSION_H
#define ACTINGWEB_VERSION_H

#define AW_VERSION_MAJOR 0
#define AW_VERSION_MINOR 1
#define AW_VERSION_PATCH 0
#define AW_VERSION_STRING "0.1.0"
#define AW_VERSION_HEX ((AW_VERSION_MAJOR << 16) | (AW_VERSION_MINOR << 8) | AW_VERSION_PATCH)
#define AW_AT_LEAST_VERSION(x, y, z) (AW_VERSION_HEX >= (((x) << 16) | ((y) << 8) | (z)))

/* The ActingWeb protocol version served at /meta/actingweb/version (what deployed peers accept). */
#define AW_PROTOCOL_VERSION "1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* Run-time product version string, e.g. "0.1.0". Static; thread-safe. */
const char *aw_version(void);

/* Run-time product version as AW_VERSION_HEX. Thread-safe. */
unsigned aw_version_hex(void);

#ifdef __cplusplus
}
#endif
#endif
