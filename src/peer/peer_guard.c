/* Per-peer guards of subscription delivery: the circuit breaker and 503 pauses (peer_guard.h). */
#include <stdlib.h>

#include <jansson.h>

#include "peer/peer_guard.h"
#include "store/store.h"
#include "util/json.h"
#include "util/log.h"
#include "util/time.h"

#define BREAKER_BUCKET "_circuit_breaker_state"
#define BREAKER_FAILURES 5
#define BREAKER_COOLDOWN_MS 60000
#define BREAKER_MAX_MS 900000

void aw_guard_init(aw_peer_guard *g, aw_app *app)
{
    aw_store *s = aw_app_store(app);
    g->app = app;
    /* Without stored state, sends skip the breaker reads until this process records a failure. */
    g->breaker_known = s->outbox->breakers_exist(s) != AW_ENOTFOUND;
    g->pauses_known = s->outbox->pauses_exist(s) != AW_ENOTFOUND;
}

void aw_guard_refresh_pauses(aw_peer_guard *g)
{
    aw_store *s = aw_app_store(g->app);
    g->pauses_known = s->outbox->pauses_exist(s) != AW_ENOTFOUND;
}

/* ------------------------------------------------------------------ circuit breaker */

bool aw_guard_breaker_open(aw_peer_guard *g, const char *actor, const char *peerid, int64_t *until)
{
    if (!g->breaker_known) return false;
    char *json = NULL;
    aw_store *s = aw_app_store(g->app);
    if (s->attrs->get(s, actor, BREAKER_BUCKET, peerid, &json, NULL) != AW_OK) return false;
    json_t *v = json_loads(json, 0, NULL);
    free(json);
    json_int_t open_until = json_integer_value(json_object_get(v, "open_until_ms"));
    json_decref(v);
    *until = open_until;
    return open_until > aw_time_ms();
}

void aw_guard_breaker_record(aw_peer_guard *g, const char *actor, const char *peerid, bool ok)
{
    if (ok && !g->breaker_known) return; /* nothing stored to clear */
    aw_store *s = aw_app_store(g->app);
    char *json = NULL;
    json_t *v = NULL;
    if (s->attrs->get(s, actor, BREAKER_BUCKET, peerid, &json, NULL) == AW_OK) {
        v = json_loads(json, 0, NULL);
        free(json);
    }
    if (ok) {
        if (v) s->attrs->del(s, actor, BREAKER_BUCKET, peerid);
        json_decref(v);
        return;
    }
    g->breaker_known = true;
    if (!v) v = json_object();
    json_int_t failures = json_integer_value(json_object_get(v, "failures")) + 1;
    json_int_t cooldown = json_integer_value(json_object_get(v, "cooldown_ms"));
    json_object_set_new(v, "failures", json_integer(failures));
    if (failures >= BREAKER_FAILURES) {
        cooldown = cooldown ? cooldown * 2 : BREAKER_COOLDOWN_MS;
        if (cooldown > BREAKER_MAX_MS) cooldown = BREAKER_MAX_MS;
        json_object_set_new(v, "cooldown_ms", json_integer(cooldown));
        json_object_set_new(v, "open_until_ms", json_integer(aw_time_ms() + cooldown));
        json_object_set_new(v, "failures", json_integer(BREAKER_FAILURES - 1)); /* half-open: one trial */
        AW_WARN(&g->app->log, "delivery: circuit to peer %s open for %lld ms", peerid, (long long)cooldown);
    }
    char *txt = aw_json_dump(v);
    if (txt) s->attrs->set(s, actor, BREAKER_BUCKET, peerid, txt, NULL, 0);
    free(txt);
    json_decref(v);
}

/* ------------------------------------------------------------------ 503 pauses */

int64_t aw_guard_pause_peer(aw_peer_guard *g, const char *actor, const char *peerid, uint32_t retry_after_ms)
{
    aw_store *s = aw_app_store(g->app);
    int64_t now = aw_time_ms(), until = 0, prev = 0;
    int64_t backoff = AW_DELIVERY_BACKOFF_BASE_MS;
    /* A 503 long after the last pause ended starts again from the base. */
    if (s->outbox->pause_get(s, actor, peerid, &until, &prev) == AW_OK && prev > 0 &&
        now - until < AW_DELIVERY_BACKOFF_CAP_MS)
        backoff = prev * 2 > AW_DELIVERY_BACKOFF_CAP_MS ? AW_DELIVERY_BACKOFF_CAP_MS : prev * 2;
    int64_t pause = retry_after_ms ? (int64_t)retry_after_ms : aw_jittered_ms(backoff);
    int r = s->outbox->pause_set(s, actor, peerid, now + pause, backoff);
    if (r != AW_OK)
        AW_WARN(&g->app->log, "delivery: could not store the pause of peer %s: %s", peerid, aw_strerror(r));
    g->pauses_known = true;
    AW_INFO(&g->app->log, "delivery: peer %s answered 503; its callbacks pause for %lld ms", peerid, (long long)pause);
    return pause;
}

bool aw_guard_peer_paused(aw_peer_guard *g, const char *actor, const char *peerid, int64_t *until)
{
    if (!g->pauses_known) return false;
    aw_store *s = aw_app_store(g->app);
    int64_t backoff = 0;
    return s->outbox->pause_get(s, actor, peerid, until, &backoff) == AW_OK && *until > aw_time_ms();
}

void aw_guard_pause_end(aw_peer_guard *g, const char *actor, const char *peerid)
{
    if (!g->pauses_known) return;
    aw_store *s = aw_app_store(g->app);
    s->outbox->pause_clear(s, actor, peerid); /* no row: nothing to clear */
}
