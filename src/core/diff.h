/* Shaping a change into the diff one subscription sees (protocol.md §9.6). Pure logic. */
#ifndef AW_CORE_DIFF_H
#define AW_CORE_DIFF_H

#include <jansson.h>

/* Scope strings use "" for "none". Returns a new reference with the diff for a subscription on
 * (s_sub, s_res) of the change (c_sub, c_res, blob), or NULL when the subscription gets nothing. */
json_t *aw_diff_shape(const char *s_sub, const char *s_res, const char *c_sub, const char *c_res, json_t *blob);

#endif
