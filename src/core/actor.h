/* Actor lifecycle beyond a single row: deletion with its cascade (and, with trust, peer notices). */
#ifndef AW_CORE_ACTOR_H
#define AW_CORE_ACTOR_H

#include <actingweb/hooks.h>

#include "http/request.h"

/* Delete req->actor with the full cascade; may complete later (peer notices). Calls done(req, status)
 * exactly once on the loop thread. */
void aw_actor_delete_for_request(aw_req *req, void (*done)(aw_req *req, int status));

/* Delete actor `actor_id` (loop thread, or the only thread when no loop runs): fires actor_deleted
 * (origin), then with `notify` ends every trust through the trust delete path with peer notices (and the
 * devtest twin), else deletes locally and fires trust_deleted (cascade) per trust; then the local cascade
 * and actor_deleted_complete. done(status, ud) exactly once (may be inside this call). */
void aw_actor_delete_start(aw_app *app, const char *actor_id, aw_event_origin origin, bool notify,
                           void (*done)(int status, void *ud), void *ud);

#endif
