/* Actor deletion. Local cascade now; trust peers are notified once trust lands (protocol.md §2.3). */
#include "core/actor.h"

void aw_actor_delete_for_request(aw_req *req, void (*done)(aw_req *req, int status))
{
    aw_store *s = req->app->store;
    int r = s->actors->delete(s, req->actor.id);
    done(req, r);
}
