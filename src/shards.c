/* Shards of one process that serve one storage (aw_app_link_shards): each can hand the others a wake-up.
 *
 * The only use so far is delivery: the shard that registers a change wakes its own delivery worker, and
 * through the link the others', so every loop takes a share of the callbacks at once (without the link
 * the other shards find the work at their next poll, up to a second later, by which time the first one
 * holds all of it). A wake-up is a closure posted to the other app's loop (aw_app_post); one stays
 * pending per app at a time, however many changes come in meanwhile. */
#include <stdlib.h>

#include "app_internal.h"
#include "peer/delivery.h"

struct aw_shard_link {
    pthread_mutex_t mu;
    aw_app **apps; /* NULL where an app was freed */
    size_t n;
    size_t live;   /* apps still linked; the last one out frees the link */
};

int aw_app_link_shards(aw_app *const *apps, size_t n)
{
    if (!apps || n < 2) return AW_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!apps[i] || apps[i]->link) return AW_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (apps[j] == apps[i]) return AW_EINVAL;
        pthread_mutex_lock(&apps[i]->post_mu);
        bool running = apps[i]->attached;
        pthread_mutex_unlock(&apps[i]->post_mu);
        if (running) return AW_EINVAL;
    }
    aw_shard_link *l = calloc(1, sizeof *l);
    if (!l) return AW_ENOMEM;
    l->apps = calloc(n, sizeof *l->apps);
    if (!l->apps || pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l->apps);
        free(l);
        return AW_ENOMEM;
    }
    l->n = l->live = n;
    for (size_t i = 0; i < n; i++) {
        l->apps[i] = apps[i];
        apps[i]->link = l;
    }
    return AW_OK;
}

static void on_delivery_wake(aw_app *app, void *ud)
{
    (void)ud;
    atomic_store(&app->delivery_wake, false);
    aw_delivery_changed_elsewhere(app);
}

void aw_shards_wake_delivery(aw_app *app)
{
    aw_shard_link *l = app->link;
    if (!l) return;
    pthread_mutex_lock(&l->mu); /* holds off aw_shards_unlink, so no app is freed while posting to it */
    for (size_t i = 0; i < l->n; i++) {
        aw_app *o = l->apps[i];
        if (!o || o == app || atomic_exchange(&o->delivery_wake, true)) continue;
        if (aw_app_post(o, on_delivery_wake, NULL) != AW_OK) atomic_store(&o->delivery_wake, false);
    }
    pthread_mutex_unlock(&l->mu);
}

void aw_shards_unlink(aw_app *app)
{
    aw_shard_link *l = app->link;
    if (!l) return;
    app->link = NULL;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n; i++)
        if (l->apps[i] == app) l->apps[i] = NULL;
    bool last = --l->live == 0;
    pthread_mutex_unlock(&l->mu);
    if (!last) return;
    pthread_mutex_destroy(&l->mu);
    free(l->apps);
    free(l);
}
