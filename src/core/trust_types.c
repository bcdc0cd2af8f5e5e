/* The trust-type registry with the reference defaults of protocol.md §5.3. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "app_internal.h"
#include "util/json.h"

#include "core/trust_types.h"

static const aw_trust_type registry[] = {
    {"associate", "Associate", "Read public properties",
     "{\"properties\": {\"patterns\": [\"public/*\"], \"operations\": [\"read\"], \"excluded_patterns\": []},"
     " \"methods\": {\"allowed\": [\"get_*\", \"ping\"], \"denied\": [\"delete_*\", \"admin_*\", \"system_*\"]}}"},
    {"viewer", "Viewer", "Read public and shared properties",
     "{\"properties\": {\"patterns\": [\"public/*\", \"shared/*\"], \"operations\": [\"read\"],"
     " \"excluded_patterns\": []},"
     " \"methods\": {\"allowed\": [\"get_*\", \"list_*\", \"export_*\"], \"denied\": [\"delete_*\", \"admin_*\"]}}"},
    {"friend", "Friend", "Shared data, most actions",
     "{\"properties\": {\"patterns\": [\"*\"], \"operations\": [\"read\", \"write\"],"
     " \"excluded_patterns\": [\"private/*\", \"security/*\", \"_internal/*\"]},"
     " \"methods\": {\"allowed\": [\"*\"], \"denied\": [\"delete_*\", \"admin_*\", \"system_*\"]},"
     " \"actions\": {\"allowed\": [\"*\"], \"denied\": [\"delete_*\", \"admin_*\", \"system_*\"]}}"},
    {"partner", "Partner", "Most trusted regular peer",
     "{\"properties\": {\"patterns\": [\"*\"], \"operations\": [\"read\", \"write\"],"
     " \"excluded_patterns\": [\"_internal/*\"]},"
     " \"methods\": {\"allowed\": [\"*\"], \"denied\": [\"admin_*\", \"system_*\"]},"
     " \"actions\": {\"allowed\": [\"*\"], \"denied\": [\"admin_*\", \"system_*\"]}}"},
    {"admin", "Administrator", "Everything",
     "{\"properties\": {\"patterns\": [\"*\"], \"operations\": [\"read\", \"write\", \"delete\"],"
     " \"excluded_patterns\": []},"
     " \"methods\": {\"allowed\": [\"*\"], \"denied\": []},"
     " \"actions\": {\"allowed\": [\"*\"], \"denied\": []}}"},
    {"mcp_client", "MCP client", "Model Context Protocol client",
     "{\"properties\": {\"patterns\": [\"public/*\", \"shared/*\", \"notes/*\", \"profile/*\"],"
     " \"operations\": [\"read\"], \"excluded_patterns\": []},"
     " \"methods\": {\"allowed\": [\"get_*\", \"list_*\", \"search_*\", \"export_*\"], \"denied\": []},"
     " \"actions\": {\"allowed\": [\"search\", \"fetch\", \"export\"], \"denied\": []}}"},
};
#define N_TYPES (sizeof registry / sizeof registry[0])

static json_t *parsed[N_TYPES];
static pthread_once_t parsed_once = PTHREAD_ONCE_INIT;

static void parse_all(void)
{
    for (size_t i = 0; i < N_TYPES; i++) parsed[i] = json_loads(registry[i].base_permissions, 0, NULL);
}

static long find_index(const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < N_TYPES; i++)
        if (!strcmp(registry[i].name, name)) return (long)i;
    return -1;
}

/* The application's types (struct aw_app: app_types, app_perms, n_app_types). */
static const aw_trust_type *app_type(const aw_app *app, const char *name, const json_t **perms)
{
    for (size_t i = 0; app && name && i < app->n_app_types; i++)
        if (!strcmp(app->app_types[i].name, name)) {
            if (perms) *perms = app->app_perms[i];
            return &app->app_types[i];
        }
    return NULL;
}

/* Application types that do not replace a default, in order. */
static size_t extra_count(const aw_app *app)
{
    size_t n = 0;
    for (size_t i = 0; app && i < app->n_app_types; i++)
        if (find_index(app->app_types[i].name) < 0) n++;
    return n;
}

size_t aw_trust_type_count(const aw_app *app) { return N_TYPES + extra_count(app); }

const aw_trust_type *aw_trust_type_at(const aw_app *app, size_t i)
{
    if (i < N_TYPES) {
        const aw_trust_type *t = app_type(app, registry[i].name, NULL);
        return t ? t : &registry[i];
    }
    i -= N_TYPES;
    for (size_t k = 0; app && k < app->n_app_types; k++) {
        if (find_index(app->app_types[k].name) >= 0) continue;
        if (i-- == 0) return &app->app_types[k];
    }
    return NULL;
}

const aw_trust_type *aw_trust_type_find(const aw_app *app, const char *name)
{
    const aw_trust_type *t = app_type(app, name, NULL);
    if (t) return t;
    long i = find_index(name);
    return i < 0 ? NULL : &registry[i];
}

const json_t *aw_trust_type_permissions(const aw_app *app, const char *name)
{
    const json_t *p = NULL;
    if (app_type(app, name, &p)) return p;
    long i = find_index(name);
    if (i < 0) return NULL;
    pthread_once(&parsed_once, parse_all);
    return parsed[i];
}

int aw_trust_types_load(aw_app *app)
{
    size_t n = app->cfg.n_trust_types;
    if (!n) return AW_OK;
    if (!app->cfg.trust_types) return AW_EINVAL;
    app->app_types = calloc(n, sizeof *app->app_types);
    app->app_perms = calloc(n, sizeof *app->app_perms);
    if (!app->app_types || !app->app_perms) return AW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const aw_trust_type_def *d = &app->cfg.trust_types[i];
        if (!d->name || !*d->name) return AW_EINVAL;
        json_t *p = json_loads(d->permissions_json ? d->permissions_json : "{}", JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(p)) {
            json_decref(p);
            return AW_EINVAL;
        }
        aw_trust_type *t = &app->app_types[i];
        t->name = strdup(d->name);
        t->display_name = strdup(d->display_name ? d->display_name : d->name);
        t->description = strdup(d->description ? d->description : "");
        t->base_permissions = aw_json_dump(p);
        app->app_perms[i] = p;
        app->n_app_types = i + 1;
        if (!t->name || !t->display_name || !t->description || !t->base_permissions) return AW_ENOMEM;
    }
    app->cfg.trust_types = NULL; /* borrowed from the caller: not kept */
    return AW_OK;
}

void aw_trust_types_free(aw_app *app)
{
    for (size_t i = 0; i < app->n_app_types; i++) {
        free((char *)app->app_types[i].name);
        free((char *)app->app_types[i].display_name);
        free((char *)app->app_types[i].description);
        free((char *)app->app_types[i].base_permissions);
        json_decref(app->app_perms[i]);
    }
    free(app->app_types);
    free(app->app_perms);
    app->app_types = NULL;
    app->app_perms = NULL;
    app->n_app_types = 0;
}
