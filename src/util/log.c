#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *level_name(aw_log_level l)
{
    switch (l) {
    case AW_LOG_ERROR: return "error";
    case AW_LOG_WARN: return "warn";
    case AW_LOG_INFO: return "info";
    default: return "debug";
    }
}

void aw_logf(const aw_logger *lg, aw_log_level lvl, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (lg && lg->fn) {
        lg->fn(lvl, msg, lg->ud);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[1200];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s\n", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     level_name(lvl), msg);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    fwrite(line, 1, (size_t)n, stderr);
}

int aw_log_level_parse(const char *s)
{
    if (!s) return -1;
    if (!strcmp(s, "error")) return AW_LOG_ERROR;
    if (!strcmp(s, "warn") || !strcmp(s, "warning")) return AW_LOG_WARN;
    if (!strcmp(s, "info")) return AW_LOG_INFO;
    if (!strcmp(s, "debug")) return AW_LOG_DEBUG;
    return -1;
}
