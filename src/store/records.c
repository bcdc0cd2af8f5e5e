/* Free functions for records handed out by any backend. */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

void aw_actor_rec_free(aw_actor_rec *r)
{
    if (!r) return;
    free(r->creator);
    free(r->passphrase);
    free(r->trustee_root);
    r->creator = r->passphrase = r->trustee_root = NULL;
}

void aw_list_meta_free(aw_list_meta *m)
{
    if (!m) return;
    free(m->description);
    free(m->explanation);
    m->description = m->explanation = NULL;
}

void aw_trust_rec_free(aw_trust_rec *r)
{
    if (!r) return;
    free(r->actor);
    free(r->peerid);
    free(r->baseuri);
    free(r->type);
    free(r->relationship);
    free(r->secret);
    free(r->desc);
    free(r->verification_token);
    free(r->peer_supported);
    free(r->created_at);
    memset(r, 0, sizeof *r);
}

void aw_sub_rec_free(aw_sub_rec *r)
{
    if (!r) return;
    free(r->actor);
    free(r->subid);
    free(r->peerid);
    free(r->target);
    free(r->subtarget);
    free(r->resource);
    free(r->granularity);
    free(r->created_at);
    free(r->accept_encoding);
    memset(r, 0, sizeof *r);
}

void aw_outbox_job_free(aw_outbox_job *j)
{
    if (!j) return;
    free(j->actor);
    free(j->subid);
    free(j->peerid);
    free(j->kind);
    free(j->payload);
    memset(j, 0, sizeof *j);
}
