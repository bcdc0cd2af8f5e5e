/* Running application hooks for an HTTP request: context from the request, the reply from the outcome.
 * Shared by methods.c, actions.c, resources.c, callbacks.c and the property call points. Internal. */
#ifndef AW_HTTP_HOOKREQ_H
#define AW_HTTP_HOOKREQ_H

#include "core/hooks.h"
#include "http/request.h"

/* A context for `req` (actor, caller, request id, method, query snapshot) with the path segments
 * segs[first..] and `value` (stolen; may be NULL). NULL on OOM (value released). */
aw_hook_ctx *aw_hookreq_ctx(aw_req *req, aw_hook_kind kind, const char *name, size_t first, json_t *value);

/* Answer req from a chain outcome (see aw_hooks_done_fn): >= 400 and 504 as errors (the reply JSON as
 * the body when given), AW_HOOKS_WOULDBLOCK as 500, a status 100..399 as given, 0 / AW_HOOKS_UNHANDLED with
 * `success` (the caller maps UNHANDLED itself when it means "no handler"). 204 sends no body. */
void aw_hookreq_reply(aw_req *req, int status, json_t *value, int success);

/* The request body as JSON: NULL value for an empty body; 400 answered (false) when it does not parse. */
bool aw_hookreq_body(aw_req *req, json_t **out);

/* /callbacks/{name}/...: run the callback hooks (no hook or no reply: 403). */
void aw_hookreq_callback(aw_req *req, const char *name);

/* §5.3 then §5.2 for /methods and /actions: creator yes, trustee no, a peer by its type's `category`
 * rules for `name` ("" = the collection), falling back to the ACL. */
bool aw_hookreq_may(aw_req *req, const char *category, const char *name);
/* The gate /methods and /actions share: anonymous callers get 403 (Ref, not 401), then authentication;
 * GET on the collection answers the registered metadata the caller may use; an item the caller may not
 * use gets 403. Returns the item's name (segs[2]) when the handler goes on, NULL when answered. */
const char *aw_hookreq_rpc_gate(aw_req *req, aw_hook_kind kind, const char *category);

#endif

/* Property hooks for a REST request on /properties/{name}[/...]: true when a hook matches op. */
bool aw_hookreq_prop_match(aw_req *req, const char *name, unsigned op);
/* Run them on `value` (stolen; may be NULL), then cont(req, status, value, ud) with the chain outcome
 * (value borrowed). cont may run before this returns, or later on the loop. */
typedef void (*aw_hookreq_prop_cont)(aw_req *req, int status, json_t *value, void *ud);
void aw_hookreq_prop_run(aw_req *req, unsigned op, const char *name, json_t *value, aw_hookreq_prop_cont cont,
                         void *ud);
/* Run the `op` hooks of `name` synchronously on *value (replaced when transformed; a hook that goes
 * pending counts as a failure, 500). Returns 0, or the status to answer (a rejection, hide, 500). */
int aw_hookreq_prop_sync(aw_req *req, unsigned op, const char *name, json_t **value);
/* Collection reads and writes: run the `op` property hooks of every entry of `obj` (with matching hooks),
 * one entry after the other, each possibly answering later. Transformed values replace the entries; for
 * AW_HOOK_PROP_GET a hidden or refused entry is removed; for writes the first refusal stops and done gets
 * its status. done(req, 0 or status, ud) runs once, possibly before this returns. */
typedef void (*aw_hookreq_each_done)(aw_req *req, int status, void *ud);
void aw_hookreq_prop_each(aw_req *req, unsigned op, json_t *obj, aw_hookreq_each_done done, void *ud);
