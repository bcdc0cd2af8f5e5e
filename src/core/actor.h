/* Actor lifecycle beyond a single row: deletion with its cascade (and, with trust, peer notices). */
#ifndef AW_CORE_ACTOR_H
#define AW_CORE_ACTOR_H

#include "http/request.h"

/* Delete req->actor with the full cascade; may complete later (peer notices). Calls done(req, status)
 * exactly once on the loop thread. */
void aw_actor_delete_for_request(aw_req *req, void (*done)(aw_req *req, int status));

#endif
