/* Shared between properties.c and properties_lists.c. Internal. */
#ifndef AW_HTTP_PROPERTIES_INTERNAL_H
#define AW_HTTP_PROPERTIES_INTERNAL_H

#include "http/request.h"

/* The one access decision for /properties (§4.3 gate, §5.3 permissions, §5.2 ACL fallback). target: ""
 * for the collection, "name" or "name/sub/...". op: "read", "write", "delete". Answers 401/403 and
 * returns false on refusal. */
bool aw_props_allowed(aw_req *req, const char *target, const char *op);

/* Register one properties change (inside the open write transaction). */
int aw_props_changed(aw_req *req, const char *subtarget, const char *resource, json_t *blob /* stolen */);

/* Begin a write transaction; on failure the request is answered and false returned. */
bool aw_props_begin(aw_req *req);
/* Commit when r == AW_OK, else roll back; on any failure answer with the status (list = §6.7 503 body). */
bool aw_props_finish(aw_req *req, int r, const char *what, bool list);
/* Answer a storage status; on list paths a transient failure gets §6.7's 503 body. */
void aw_props_reply_status(aw_req *req, int r, const char *what, bool list);

/* List handlers (properties_lists.c). `name` is an existing list (checked by the caller). */
void aw_props_list_get(aw_req *req, const char *name);          /* GET /properties/{list}[?format|index] */
void aw_props_list_put_index(aw_req *req, const char *name);    /* PUT /properties/{list}?index=N */
void aw_props_list_append(aw_req *req, const char *name);       /* POST /properties/{list} */
void aw_props_list_sub(aw_req *req, const char *name);          /* /properties/{list}/{metadata|items|i} */
void aw_props_list_delete(aw_req *req, const char *name);       /* DELETE /properties/{list} */

/* Append the serialised items of a list as a JSON array to b. */
int aw_props_list_array(aw_req *req, const char *name, aw_buf *b, int64_t *total_bytes);

/* Collection POST bulk edit (§6.7.5) inside the open transaction: validates (400 -> *why), applies,
 * registers diffs; *echo gets the summary string. Returns AW_OK, AW_EINVAL or a storage status. */
int aw_props_list_bulk(aw_req *req, const char *name, json_t *items, json_t **echo, char why[200]);

#endif
