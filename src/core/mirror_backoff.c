/* Per-mirror backoff of the subscriber's timer (mirror_backoff.h): a chained hash table of the mirrors whose
 * last request failed. */
#include "core/mirror_backoff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"
#include "util/time.h"

#define BASE_MS 1000
#define MAX_MS 60000
#define FORGET_MS 600000
#define BUCKETS 256

typedef struct node {
    char key[132]; /* actor:subid */
    unsigned fails;
    int64_t next_ms; /* the timer leaves the mirror's publisher alone until then (wall-clock ms) */
    struct node *next;
} node;

struct aw_mirror_backoff {
    node *bucket[BUCKETS];
};

aw_mirror_backoff *aw_mirror_backoff_new(void) { return calloc(1, sizeof(aw_mirror_backoff)); }

void aw_mirror_backoff_free(aw_mirror_backoff *b)
{
    if (!b) return;
    for (size_t i = 0; i < BUCKETS; i++) {
        while (b->bucket[i]) {
            node *n = b->bucket[i];
            b->bucket[i] = n->next;
            free(n);
        }
    }
    free(b);
}

/* The link that points at the mirror's node (or the NULL link where it would go). */
static node **slot(const aw_mirror_backoff *b, const char *actor, const char *subid, char key[132])
{
    snprintf(key, 132, "%s:%s", actor, subid);
    node **pp = (node **)&b->bucket[aw_str_hash(key) % BUCKETS];
    while (*pp && strcmp((*pp)->key, key) != 0) pp = &(*pp)->next;
    return pp;
}

void aw_mirror_backoff_note(aw_mirror_backoff *b, const char *actor, const char *subid, bool ok, int64_t now_ms)
{
    if (!b) return;
    char key[132];
    node **pp = slot(b, actor, subid, key);
    if (ok) {
        if (*pp) {
            node *n = *pp;
            *pp = n->next;
            free(n);
        }
        return;
    }
    if (!*pp && (*pp = calloc(1, sizeof **pp))) aw_strlcpy((*pp)->key, key, sizeof (*pp)->key);
    if (!*pp) return;
    if ((*pp)->fails < 64) (*pp)->fails++;
    (*pp)->next_ms = now_ms + aw_backoff_ms((int)(*pp)->fails, BASE_MS, MAX_MS);
}

bool aw_mirror_backoff_due(const aw_mirror_backoff *b, const char *actor, const char *subid, int64_t now_ms)
{
    if (!b) return true;
    char key[132];
    const node *n = *slot(b, actor, subid, key);
    return !n || n->next_ms <= now_ms;
}

unsigned aw_mirror_backoff_fails(const aw_mirror_backoff *b, const char *actor, const char *subid)
{
    if (!b) return 0;
    char key[132];
    const node *n = *slot(b, actor, subid, key);
    return n ? n->fails : 0;
}

void aw_mirror_backoff_sweep(aw_mirror_backoff *b, int64_t now_ms)
{
    if (!b) return;
    for (size_t i = 0; i < BUCKETS; i++) {
        for (node **pp = &b->bucket[i]; *pp;) {
            if ((*pp)->next_ms < now_ms - FORGET_MS) {
                node *n = *pp;
                *pp = n->next;
                free(n);
            } else {
                pp = &(*pp)->next;
            }
        }
    }
}
