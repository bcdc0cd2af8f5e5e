/* actingweb/actor.h — actor handles (sdk-api.md §1.3, §2.1).
 *
 * An aw_actor is a light, reference-counted handle: the app pointer plus the actor's row as it was read
 * when the handle was made. Counts are atomic, so handles may be retained and released on any thread.
 * Every function here is local (storage only) and may be called from any thread, including the loop
 * thread and hooks. When the app runs a loop and the caller is on another thread, the work is handed to
 * the loop and the caller waits for it (storage belongs to the loop thread); once that app has been
 * stopped such calls fail with AW_ESHUTDOWN. An app that never runs a loop (pure SDK use) serves them on
 * the calling thread: use it from one thread at a time. The same rules hold for properties.h and
 * attributes.h. */
#ifndef ACTINGWEB_ACTOR_H
#define ACTINGWEB_ACTOR_H

#include <actingweb/app.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aw_actor aw_actor;

/* Create an actor: a new 32-hex id, the passphrase (NULL or "" = a new 40-hex one), the row, then the
 * `actor_created` lifecycle hooks (origin sdk). `creator` is required (trimmed; lower-cased when it is
 * an e-mail address). `trustee_root` may be NULL. All strings are borrowed. On success *out holds one
 * reference (release with aw_actor_unref). Errors: AW_EINVAL (bad argument), AW_ECONFLICT (unique_creator
 * is on and the creator has an actor already), storage statuses, AW_ENOMEM. */
int aw_actor_create(aw_app *app, const char *creator, const char *passphrase, const char *trustee_root,
                    aw_actor **out);

/* Load an actor by id (borrowed). *out gets one reference. AW_ENOTFOUND only when it really does not
 * exist; a storage failure is a storage status. */
int aw_actor_get(aw_app *app, const char *id, aw_actor **out);

/* Load the first actor of `creator` (borrowed). As aw_actor_get. */
int aw_actor_get_by_creator(aw_app *app, const char *creator, aw_actor **out);

/* Accessors. The strings stay valid while the handle lives; they reflect the row when the handle was
 * made (get a new handle to re-read). trustee_root is NULL when unset. root_url = base_url + "/" + id. */
const char *aw_actor_id(const aw_actor *a);
const char *aw_actor_creator(const aw_actor *a);
const char *aw_actor_passphrase(const aw_actor *a);
const char *aw_actor_root_url(const aw_actor *a);
const char *aw_actor_trustee_root(const aw_actor *a);
/* The app the handle belongs to (borrowed). */
aw_app *aw_actor_app(const aw_actor *a);

/* Take / drop a reference. Thread-safe. aw_actor_ref returns its argument; NULL is a no-op for both. */
aw_actor *aw_actor_ref(aw_actor *a);
void aw_actor_unref(aw_actor *a);

/* Delete the actor: `actor_deleted` hooks (data still readable), then every trust through the trust
 * delete path (each fires `trust_deleted`, origin cascade), then the local cascade (properties, lists,
 * attributes, subscriptions, diffs) and the row, then `actor_deleted_complete`. When the app runs a loop
 * and this is called from another thread, peers get their delete notices (a peer failure never blocks
 * the deletion; it is logged). Called on the loop thread, or without a running loop, only the local
 * cascade runs (notices need the loop; sync network calls on the loop are not allowed). The handle
 * stays usable for its accessors. Errors: AW_ENOTFOUND (already gone), storage statuses. */
int aw_actor_delete(aw_actor *a);

#ifdef __cplusplus
}
#endif
#endif
