/* Endpoint families not implemented yet answer 404, as protocol.md §3 requires for unsupported optional
 * paths. Each moves to its own file when it is implemented. */
#include "http/endpoints.h"

static void not_supported(aw_req *req) { aw_req_reply_error(req, 404, "not supported by this server"); }

void aw_ep_www(aw_req *req) { not_supported(req); }
