/* The trust-type registry with the reference defaults of protocol.md §5.3. */
#include <pthread.h>
#include <string.h>

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

size_t aw_trust_type_count(void) { return N_TYPES; }

const aw_trust_type *aw_trust_type_at(size_t i) { return i < N_TYPES ? &registry[i] : NULL; }

static long find_index(const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < N_TYPES; i++)
        if (!strcmp(registry[i].name, name)) return (long)i;
    return -1;
}

const aw_trust_type *aw_trust_type_find(const char *name)
{
    long i = find_index(name);
    return i < 0 ? NULL : &registry[i];
}

const json_t *aw_trust_type_permissions(const char *name)
{
    long i = find_index(name);
    if (i < 0) return NULL;
    pthread_once(&parsed_once, parse_all);
    return parsed[i];
}
