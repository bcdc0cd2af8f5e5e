/* SQLite: list properties. Placeholder: no lists exist yet. */
#include "store/sqlite/sqlite.h"

static int l_create(aw_store *s, const char *a, const char *n, const char *d, const char *e) { return AW_ESTORAGE; }
static int l_exists(aw_store *s, const char *a, const char *n) { return AW_ENOTFOUND; }
static int l_each(aw_store *s, const char *a, aw_list_name_fn fn, void *ud) { return AW_OK; }

const aw_store_list_ops aw_sq_list_ops = {
    .create = l_create,
    .exists = l_exists,
    .each = l_each,
};
