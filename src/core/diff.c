/* protocol.md §9.6: same level -> the blob; change deeper -> wrapped; change broader -> the part cut
 * out (absent part or non-object -> nothing); different branch -> nothing. */
#include <stdbool.h>
#include <string.h>

#include "core/diff.h"

static int empty(const char *s) { return s == NULL || *s == '\0'; }

json_t *aw_diff_shape(const char *s_sub, const char *s_res, const char *c_sub, const char *c_res, json_t *blob)
{
    if (!blob) return NULL;
    bool ssub = !empty(s_sub), sres = !empty(s_res), csub = !empty(c_sub), cres = !empty(c_res);
    if (sres && !ssub) return NULL; /* a resource needs a subtarget */
    if (!ssub) {
        if (!csub) return json_incref(blob);                 /* same level: whole target */
        json_t *inner = cres ? json_pack("{s:O}", c_res, blob) : json_incref(blob);
        json_t *out = json_pack("{s:o}", c_sub, inner);
        return out;                                           /* deeper: wrap */
    }
    if (!csub) {                                              /* broader: cut out s_sub[/s_res] */
        json_t *part = json_is_object(blob) ? json_object_get(blob, s_sub) : NULL;
        if (!part) return NULL;
        if (!sres) return json_incref(part);
        json_t *leaf = json_is_object(part) ? json_object_get(part, s_res) : NULL;
        return leaf ? json_incref(leaf) : NULL;
    }
    if (strcmp(s_sub, c_sub) != 0) return NULL;              /* different subtarget */
    if (!sres) {
        if (!cres) return json_incref(blob);                  /* same level */
        return json_pack("{s:O}", c_res, blob);               /* deeper */
    }
    if (!cres) {                                              /* broader: cut out s_res */
        json_t *leaf = json_is_object(blob) ? json_object_get(blob, s_res) : NULL;
        return leaf ? json_incref(leaf) : NULL;
    }
    return strcmp(s_res, c_res) == 0 ? json_incref(blob) : NULL;
}
