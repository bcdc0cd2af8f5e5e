/* Endpoint families: one file each, named after the first path segment below the actor root. */
#ifndef AW_HTTP_ENDPOINTS_H
#define AW_HTTP_ENDPOINTS_H

#include "http/request.h"

void aw_ep_factory(aw_req *req);       /* factory.c:       GET/POST {factory}        */
void aw_ep_root(aw_req *req);          /* root.c:          GET/DELETE {root}         */
void aw_ep_meta(aw_req *req);          /* meta.c:          /meta/...                 */
void aw_ep_properties(aw_req *req);    /* properties.c:    /properties/...           */
void aw_ep_trust(aw_req *req);         /* trust.c:         /trust/...                */
void aw_ep_trust_permissions(aw_req *req); /* trust_permissions.c: /trust/{rel}/{peer}/permissions */
void aw_ep_permissions(aw_req *req);   /* permissions.c:   /permissions/{peer}       */
void aw_ep_subscriptions(aw_req *req); /* subscriptions.c: /subscriptions/...        */
void aw_ep_callbacks(aw_req *req);     /* callbacks.c:     /callbacks/...            */
void aw_ep_devtest(aw_req *req);       /* devtest.c:       /devtest/...              */
void aw_ep_methods(aw_req *req);       /* methods.c:       /methods/...              */
void aw_ep_actions(aw_req *req);       /* actions.c:       /actions/...              */
void aw_ep_resources(aw_req *req);     /* resources.c:     /resources/...            */
void aw_ep_www(aw_req *req);           /* www.c:           /www/...                  */
void aw_ep_devtest_proxy(aw_req *req); /* devtest_proxy.c: /devtest/proxy/...        */

/* The option tags this build implements, comma-separated and sorted (meta.c). */
const char *aw_supported_tags(const aw_app *app);

#endif
