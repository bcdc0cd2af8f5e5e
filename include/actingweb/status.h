/* actingweb/status.h — status codes returned by every fallible libactingweb call. */
#ifndef ACTINGWEB_STATUS_H
#define ACTINGWEB_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* X-macro: name, value, text. AW_OK is 0; every error is negative. */
#define AW_STATUS_MAP(XX)                                                                    \
    XX(OK, 0, "success")                                                                     \
    XX(ENOTFOUND, -1, "not found")                                                           \
    XX(ECONFLICT, -2, "conflict")                                                            \
    XX(EINVAL, -3, "invalid argument")                                                       \
    XX(EDENIED, -4, "permission denied")                                                     \
    XX(ENOTRUST, -5, "no usable trust with that peer")                                       \
    XX(ENET, -6, "network failure (DNS, connect or TLS)")                                    \
    XX(ETIMEDOUT, -7, "operation timed out")                                                 \
    XX(ECANCELED, -8, "operation canceled")                                                  \
    XX(EPEER, -9, "peer answered with an error status")                                      \
    XX(EPROTO, -10, "peer sent a malformed or oversized response")                           \
    XX(EBUSY, -11, "limit reached or back-pressure")                                         \
    XX(ESTORAGE_TRANSIENT, -12, "temporary storage failure")                                 \
    XX(ESTORAGE, -13, "storage failure")                                                     \
    XX(ESHUTDOWN, -14, "application is shutting down")                                       \
    XX(EWOULDBLOCK, -15, "synchronous network call on the loop thread")                      \
    XX(EALREADY, -16, "operation already completed")                                         \
    XX(ENOMEM, -17, "out of memory")

typedef enum aw_status {
#define AW__STATUS_ENUM(name, value, text) AW_##name = value,
    AW_STATUS_MAP(AW__STATUS_ENUM)
#undef AW__STATUS_ENUM
} aw_status;

/* Human-readable text for a status. Never NULL; the string is static. Thread-safe. */
const char *aw_strerror(int status);

/* The symbolic name of a status ("AW_ENOTFOUND"). Never NULL; static. Thread-safe. */
const char *aw_err_name(int status);

#ifdef __cplusplus
}
#endif
#endif
