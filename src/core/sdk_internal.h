/* The SDK's actor handle and the helper that runs local SDK work where storage lives. Internal. */
#ifndef AW_CORE_SDK_INTERNAL_H
#define AW_CORE_SDK_INTERNAL_H

#include <stdatomic.h>

#include <actingweb/actor.h>

#include "app_internal.h"

struct aw_actor {
    atomic_int refs;
    aw_app *app;
    aw_actor_rec rec;
    char *root_url;
};

/* A new handle (1 reference) from a record (copied). NULL on OOM. */
aw_actor *aw_actor_from_rec(aw_app *app, const aw_actor_rec *rec);
/* A new handle for actor_id loaded from storage; NULL when absent or on failure (*status tells). */
aw_actor *aw_actor_load(aw_app *app, const char *actor_id, int *status);

/* One SDK call. start() runs where storage may be used (the loop thread when the app runs a loop, else
 * the calling thread) and must eventually call aw_sdk_complete(call, status) exactly once (possibly
 * later, on the loop). aw_sdk_exec returns that status. `marshalled` tells start() whether the caller
 * waits on another thread (hooks may then answer asynchronously). */
typedef struct aw_sdk_call aw_sdk_call;
struct aw_sdk_call {
    aw_app *app;
    void (*start)(aw_sdk_call *call);
    bool marshalled;
    int status;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};
int aw_sdk_exec(aw_app *app, aw_sdk_call *call, void (*start)(aw_sdk_call *call));
void aw_sdk_complete(aw_sdk_call *call, int status);

#endif
