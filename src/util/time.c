#include "util/time.h"

#include "util/rand.h"

#include <stdio.h>
#include <time.h>

void aw_time_iso(char buf[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
    snprintf(buf, 32, "%.31s", tmp);
}

void aw_time_plain(char buf[20])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    snprintf(buf, 20, "%.19s", tmp);
}

int64_t aw_time_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t aw_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t aw_mono_ms(void) { return aw_mono_ns() / 1000000ull; }

int64_t aw_jittered_ms(int64_t ms)
{
    return ms - ms / 5 + (int64_t)aw_rand_below((unsigned)(ms * 2 / 5 + 1));
}

int64_t aw_backoff_ms(int attempts, int64_t base_ms, int64_t cap_ms)
{
    int64_t b = base_ms;
    for (int i = 1; i < attempts && b < cap_ms; i++) b *= 2;
    return aw_jittered_ms(b > cap_ms ? cap_ms : b);
}
