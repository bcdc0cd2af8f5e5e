/* actingweb/peer.h — talking to peer actors over HTTP: raw requests, peer meta, the peer proxy.
 * All functions follow the async contract in actingweb/op.h. */
#ifndef ACTINGWEB_PEER_H
#define ACTINGWEB_PEER_H

#include <actingweb/op.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Idempotency class of a request, which decides retries (sdk-api.md §3.2). */
typedef enum aw_idempotency {
    AW_IDEMP_DEFAULT = 0,  /* by method: GET/PUT/DELETE retried, POST only when it never left */
    AW_IDEMP_SAFE = 1,     /* retry like GET (e.g. approval notice, callbacks with a sequence) */
    AW_IDEMP_NEVER = 2     /* never retry (trust request, subscription creation) */
} aw_idempotency;

/* One outbound HTTP request. All fields are borrowed for the duration of the start call only. */
typedef struct aw_peer_request {
    const char *method;        /* "GET", "POST", "PUT", "DELETE", ... */
    const char *url;           /* absolute http(s) URL */
    const char *bearer;        /* Authorization: Bearer <bearer>; NULL = none. Never logged. */
    const char *basic_user;    /* Authorization: Basic, with basic_pass; NULL = none. Never logged. */
    const char *basic_pass;
    json_t *json;              /* JSON body (sent with Content-Type: application/json); or NULL */
    const char *body;          /* raw body when json is NULL; may be NULL */
    size_t body_len;
    const char *content_type;  /* for a raw body; NULL = text/plain */
    const char *const *headers;/* extra "Name: value" lines, NULL-terminated array, or NULL. An Accept line
                                * replaces the default "Accept: application/json"; "Accept:" sends none */
    aw_idempotency idempotency;
} aw_peer_request;

/* Send one request. The result carries http_status, the body (parsed as JSON when it is JSON) and
 * Location. Every request carries a new X-Request-ID (kept across the retries of one call) and, when
 * opts->parent_request_id is set, X-Parent-Request-ID. Authorization values are never logged.
 * Limits (aw_config.net): connect_ms per connect, attempt_ms per attempt, max_response body cap,
 * max_outbound / per_origin gates with FIFO waits that count against the deadline. Status AW_OK for 2xx; AW_EPEER for another status (kept in the result); AW_ENET,
 * AW_ETIMEDOUT, AW_ECANCELED, AW_EPROTO (body over the cap, or an answer that is not HTTP), AW_EBUSY (Retry-After beyond deadline). */
int aw_peer_request_async(aw_app *app, const aw_peer_request *req, const aw_call_opts *opts,
                          aw_done_cb cb, void *ud, aw_op **op_out);
/* Sync form: *out receives a result reference to aw_result_unref(). Returns its status. */
int aw_peer_request_sync(aw_app *app, const aw_peer_request *req, const aw_call_opts *opts,
                         aw_result **out);

/* GET {url}/meta and check it has non-empty "id" and "type". Payload: the meta document.
 * Errors: AW_EINVAL (bad URL, at start), AW_EPROTO (not JSON, or id/type missing), as above. */
int aw_peer_meta_get_async(aw_app *app, const char *url, const aw_call_opts *opts, aw_done_cb cb,
                           void *ud, aw_op **op_out);
int aw_peer_meta_get(aw_app *app, const char *url, const aw_call_opts *opts, aw_result **out);

/* Validate a peer actor root URL (clarifications.md #3): http/https, no userinfo, no trailing slash,
 * no query or fragment; private/loopback hosts refused only with deny_private_peers.
 * Returns AW_OK or AW_EINVAL. */
int aw_peer_url_validate(aw_app *app, const char *url);

#ifdef __cplusplus
}
#endif
#endif
