/* Logging with a per-app sink and level. No global state. */
#ifndef AW_UTIL_LOG_H
#define AW_UTIL_LOG_H

#include <actingweb/app.h>

typedef struct aw_logger {
    aw_log_fn fn; /* NULL = stderr */
    void *ud;
    aw_log_level level;
} aw_logger;

void aw_logf(const aw_logger *lg, aw_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define aw_log_enabled(lg, lvl) ((lg) != NULL && (lvl) <= (lg)->level)
#define AW_LOG(lg, lvl, ...)                                                                       \
    do {                                                                                           \
        if (aw_log_enabled((lg), (lvl))) aw_logf((lg), (lvl), __VA_ARGS__);                        \
    } while (0)
#define AW_ERROR(lg, ...) AW_LOG(lg, AW_LOG_ERROR, __VA_ARGS__)
#define AW_WARN(lg, ...) AW_LOG(lg, AW_LOG_WARN, __VA_ARGS__)
#define AW_INFO(lg, ...) AW_LOG(lg, AW_LOG_INFO, __VA_ARGS__)
#define AW_DEBUG(lg, ...) AW_LOG(lg, AW_LOG_DEBUG, __VA_ARGS__)

/* Parse "error|warn|info|debug"; returns -1 when unknown. */
int aw_log_level_parse(const char *s);

#endif
