/* Time helpers. */
#ifndef AW_UTIL_TIME_H
#define AW_UTIL_TIME_H

#include <stdint.h>

/* Current UTC time as YYYY-MM-DDTHH:MM:SS.ffffffZ (sdk-api.md §2.9 item 11). buf[32]. */
void aw_time_iso(char buf[32]);
/* Current UTC time as "YYYY-MM-DD HH:MM:SS" (devtest attribute timestamps, protocol.md §11). buf[20]. */
void aw_time_plain(char buf[20]);
/* Wall-clock milliseconds since the epoch. */
int64_t aw_time_ms(void);
/* Monotonic milliseconds. */
uint64_t aw_mono_ms(void);
/* Monotonic nanoseconds. */
uint64_t aw_mono_ns(void);
/* ms with ±20 % jitter (from the CSPRNG), so that many retries scheduled at once spread out. */
int64_t aw_jittered_ms(int64_t ms);
/* The wait before retry number `attempts` (>= 1) of something that failed: base_ms doubled per attempt after
 * the first, at most cap_ms, jittered (aw_jittered_ms). */
int64_t aw_backoff_ms(int attempts, int64_t base_ms, int64_t cap_ms);

#endif
