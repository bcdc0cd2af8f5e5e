/* aw — command-line client for ActingWeb actors: shared declarations of the cmd/aw/ files.
 *
 * HTTP goes through libactingweb: an aw_app with in-memory SQLite storage and no listening server runs
 * its loop on a background thread (http.c); commands call aw_peer_request_sync / aw_peer_meta_get from
 * the main thread. Exit codes (clarifications.md #5): 0 success, 1 the server refused (4xx/5xx),
 * 2 usage error, 3 network error or timeout. */
#ifndef AW_CLI_H
#define AW_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <actingweb/actingweb.h>
#include <jansson.h>

enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_NET = 3 };

/* Flags a command may accept (bit per option; global options are always allowed). */
enum {
    F_TRUSTEE_ROOT = 1u << 0,
    F_TEXT = 1u << 1,
    F_ALL = 1u << 2,
    F_RELATIONSHIP = 1u << 3,
    F_DESC = 1u << 4,
    F_LOCAL = 1u << 5,
    F_TARGET = 1u << 6,
    F_SUBTARGET = 1u << 7,
    F_RESOURCE = 1u << 8,
    F_GRANULARITY = 1u << 9,
    F_RPC = 1u << 10,
    F_CREATOR_BODY = 1u << 11, /* create: --creator/--passphrase are the new actor's, not credentials */
};

typedef struct cli {
    /* global options (flags; NULL/unset = not given) */
    const char *f_url, *f_creator, *f_passphrase, *f_token;
    bool json, verbose;
    unsigned timeout_ms;
    /* command options */
    const char *trustee_root, *relationship, *desc, *target, *subtarget, *resource, *granularity;
    bool text, all, local, rpc;
    unsigned seen; /* F_* bits given on the command line */
    /* positionals after the command words */
    int nargs;
    char **args;
    /* runtime (http.c) */
    struct cli_rt *rt;
} cli;

/* ---- http.c ---- */
/* Start the library (app + loop thread). Returns EX_OK or EX_NET (printed). */
int cli_start(cli *c);
void cli_stop(cli *c);
/* The actor (or factory) URL from --url / AW_URL, or NULL (after printing a usage error). */
const char *cli_base_url(cli *c);
/* base + "/" + each segment percent-encoded, through libcurl's URL API. NULL after printing an error
 * (exit EX_USAGE) when `base` is not an absolute http(s) URL. Free with free(). */
char *cli_url(const char *base, const char *const *segs, size_t nsegs);
/* Append "name=value" (encoded) to the query of `url` (takes ownership, returns the new URL or NULL). */
char *cli_url_query(char *url, const char *name, const char *value);
/* The actor root: the URL without trailing slash, query or fragment (for aw_peer_meta_get). */
char *cli_root_url(const char *base);

typedef enum { AUTH_NONE = 0, AUTH_CRED = 1 } cli_auth;
/* One request. JSON body (`json`, borrowed) or text body (`text`), or none. On success *out holds the
 * result (aw_result_unref it) and EX_OK is returned; otherwise the error is printed on stderr and the
 * exit code returned (*out NULL). */
int cli_http(cli *c, const char *method, const char *url, json_t *json, const char *text, cli_auth auth,
             aw_result **out);
/* GET {root}/meta through aw_peer_meta_get. Same contract. */
int cli_meta(cli *c, const char *root, aw_result **out);
/* Map a library status (and result) to an exit code, printing the message. */
int cli_fail(const char *what, int status, const aw_result *res);

/* ---- output.c ---- */
void out_json(json_t *j);                       /* pretty JSON + newline on stdout */
void out_body(const aw_result *res);            /* the server's JSON pretty, else the raw body */
char *out_value(json_t *v);                     /* strings raw, others compact JSON; free() */
void out_kv(json_t *obj);                       /* aligned "key: value" lines */

typedef struct out_table out_table;
out_table *table_new(size_t ncols, const char *const *headers);
void table_add(out_table *t, const char *const *cells); /* copied */
void table_print(out_table *t);                          /* prints and frees */

/* ---- commands ---- */
int cmd_create(cli *c);
int cmd_delete(cli *c);
int cmd_meta(cli *c);
int cmd_get(cli *c);
int cmd_set(cli *c);
int cmd_del(cli *c);
int cmd_trust_list(cli *c);
int cmd_trust_add(cli *c);
int cmd_trust_approve(cli *c);
int cmd_trust_delete(cli *c);
int cmd_trust_show(cli *c);
int cmd_sub_list(cli *c);
int cmd_sub_add(cli *c);
int cmd_sub_delete(cli *c);
int cmd_sub_show(cli *c);
int cmd_call_method(cli *c);
int cmd_call_action(cli *c);

/* usage error for the current command: prints "aw: msg" and a hint; returns EX_USAGE */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
