/* One inbound request as the endpoint handlers see it, and the ways to answer it. Internal. */
#ifndef AW_HTTP_REQUEST_H
#define AW_HTTP_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app_internal.h"
#include "core/auth.h"
#include "store/store.h"
#include "util/str.h"

struct MHD_Connection;
struct MHD_Response;
struct MHD_PostProcessor;

#define AW_REQ_MAX_SEGS 16

typedef struct aw_req {
    aw_app *app;
    struct MHD_Connection *conn;
    char *raw_uri;              /* as received, with query */
    char method[16];            /* effective method (after _method override) */
    char orig_method[16];       /* method on the wire */
    char *segs[AW_REQ_MAX_SEGS];/* decoded path segments below base path */
    size_t nseg;
    aw_buf body;
    bool body_too_large;
    bool started;
    bool routed;                /* dispatched to a handler (counts for the shutdown drain) */
    json_t *form;               /* form fields (application/x-www-form-urlencoded), or NULL */
    struct MHD_PostProcessor *pp;
    char request_id[80];
    uint64_t t_start_ns;

    /* actor context, filled by the router for actor paths */
    bool have_actor;
    aw_actor_rec actor;
    char *actor_url;            /* root URL of the actor */
    aw_principal who;           /* authentication result (kind NONE until authenticated) */

    /* response */
    int status;
    struct MHD_Response *resp;
    bool suspended;
    bool held;                  /* the answer comes with this turn's group commit (store/group.h): the
                                 * connection is not suspended, MHD calls the handler again (server.c) */
    bool replied;
    bool offload;               /* the router asks for a storage-executor job (router.c) */
    bool offloaded;             /* that job is queued or running: replies do not resume the connection */
    char *hdr_names[8];
    char *hdr_values[8];
    size_t nhdr;

    void *handler_state;        /* for handlers that answer later */
    void (*handler_free)(void *);
} aw_req;

/* Request accessors. Returned strings are borrowed (valid for the request's life). */
const char *aw_req_header(aw_req *req, const char *name);
/* Query argument (decoded), or NULL. */
const char *aw_req_query(aw_req *req, const char *name);
/* Form field (when the body is a form) or else query argument, or NULL. */
const char *aw_req_param(aw_req *req, const char *name);
/* True when the Content-Type is application/json (parameters ignored). */
bool aw_req_is_json(aw_req *req);
bool aw_req_is_form(aw_req *req);
/* True when a client wants JSON (Content-Type or Accept says application/json). */
bool aw_req_wants_json(aw_req *req);

/* Parse the body as strict JSON (duplicates, bad UTF-8 and depth checked). On failure the request
 * is answered with 400 (or 413) and false returned. *out is a new reference on success. */
bool aw_req_body_json(aw_req *req, json_t **out);

/* Undo a Content-Encoding of the request body (gzip, x-gzip, deflate; identity or none: nothing to do),
 * replacing req->body with the decoded bytes, at most max_body of them. On failure the request is
 * answered — 415 for an unknown encoding, 413 when the decoded body passes max_body, 400 for a corrupt
 * stream — and false returned. */
bool aw_req_decode_body(aw_req *req);

/* Answers. Exactly one reply per request; later calls are ignored (and logged at debug). A reply may
 * come after the handler returned (the connection is suspended meanwhile): call it on the loop thread. */
void aw_req_add_header(aw_req *req, const char *name, const char *value);
void aw_req_reply_json(aw_req *req, int status, json_t *body /* stolen; NULL = no body */);
void aw_req_reply_raw(aw_req *req, int status, const char *content_type, const char *data, size_t len);
void aw_req_reply_empty(aw_req *req, int status);
/* The one error shape: {"error": {"code": status, "message": text}}. */
void aw_req_reply_error(aw_req *req, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Map an aw status to an HTTP error reply (ENOTFOUND 404, EINVAL 400, ECONFLICT 409, EDENIED 403,
 * ESTORAGE_TRANSIENT/ENOMEM/EBUSY 503, ESTORAGE 500, ETIMEDOUT 504, network/peer failures 502). */
void aw_req_reply_status(aw_req *req, int aw_status, const char *what);
/* 302 to an absolute URL. */
void aw_req_redirect(aw_req *req, const char *location);

/* Authenticate the caller against the loaded actor (protocol.md §4) and authorise `acl_path`
 * (e.g. "properties", "trust/<type>/<id>") for the effective method with §5.2's table. `owner_peer`
 * names the peer id in the URL for "owner" rules (NULL when none). On refusal the request is answered
 * (401 / 403) and false returned. `gate_exempt` lets an unapproved peer through (§4.3 exceptions). */
bool aw_req_authorize(aw_req *req, const char *acl_path, const char *owner_peer, bool gate_exempt);
/* Authentication only (devtest): 401 / 403 answered on failure. */
bool aw_req_authenticate(aw_req *req);

/* Load this actor's trust with `peer` into *out (free with aw_trust_rec_free). A missing record, or one
 * whose relationship is not `rel` (NULL = any), is answered 404; a storage failure with its status; then
 * false is returned. */
bool aw_req_trust(aw_req *req, const char *peer, const char *rel, aw_trust_rec *out);

/* Resume a suspended connection so that MHD sends the queued answer (server.c; loop thread). */
void aw_req_resume_if_needed(aw_req *req);

/* Dispatch (router.c). */
void aw_route(aw_req *req);
/* Whether the request joins the server turn's group commit (subscription callbacks: store/group.h). */
bool aw_route_joins_group(const aw_req *req);
/* The actor part of routing (load the actor, then the family's handler). aw_route() runs it inline, or
 * sets req->offload for the server to run it as a storage-executor job. */
void aw_route_actor(aw_req *req);

#endif
