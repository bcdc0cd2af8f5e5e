/* aw — command-line client for ActingWeb actors: option parsing, command table, help.
 *
 * Subcommand style (aw <command> [<subcommand>] [options] [args]); options may appear anywhere, "--" ends
 * them (for values starting with "-"). See docs/aw.1. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw.h"

typedef struct command {
    const char *name, *sub;
    int (*fn)(cli *c);
    unsigned flags; /* F_* accepted */
    int min_args, max_args;
    const char *usage, *help;
} command;

static const command commands[] = {
    {"create", NULL, cmd_create, F_TRUSTEE_ROOT | F_CREATOR_BODY, 0, 0,
     "create [--creator C] [--passphrase P] [--trustee-root URL]",
     "Create an actor at the factory URL (--url/AW_URL) and print its id, URL, creator and passphrase.\n"
     "--creator/--passphrase (or AW_CREATOR/AW_PASSPHRASE) are the new actor's; the factory generates\n"
     "a passphrase when none is given."},
    {"delete", NULL, cmd_delete, 0, 0, 0, "delete", "Delete the actor at --url/AW_URL (as its creator)."},
    {"meta", NULL, cmd_meta, 0, 0, 1, "meta [URL]",
     "Show an actor's /meta (URL, or the actor URL from --url/AW_URL). No credentials needed."},
    {"get", NULL, cmd_get, 0, 0, 1, "get [NAME[/SUB...]]",
     "Show all properties as a table, or one property (or a nested member NAME/SUB/...)."},
    {"set", NULL, cmd_set, F_TEXT, 2, 2, "set NAME[/SUB...] VALUE [--text]",
     "Set a property. VALUE is sent as JSON when it parses as JSON (42, true, '{\"a\":1}',\n"
     "'\"x\"' with its quotes), else as text; --text always sends it as text. Use -- before a VALUE that starts with '-'."},
    {"del", NULL, cmd_del, F_ALL, 0, 1, "del NAME[/SUB...] | del --all",
     "Delete one property (or a nested member), or every property with --all."},
    {"trust", "list", cmd_trust_list, F_RELATIONSHIP, 0, 0, "trust list [--relationship R]",
     "List the actor's trust relationships."},
    {"trust", "add", cmd_trust_add, F_RELATIONSHIP | F_DESC, 1, 1,
     "trust add PEER_URL [--relationship R] [--desc D]",
     "Ask the actor at PEER_URL (its root URL) for a trust; prints our new record.\n"
     "Without --relationship the actor's default relationship is used."},
    {"trust", "approve", cmd_trust_approve, F_RELATIONSHIP, 1, 1, "trust approve PEER_ID [--relationship R]",
     "Approve the trust with PEER_ID (the peer is notified)."},
    {"trust", "delete", cmd_trust_delete, F_RELATIONSHIP | F_LOCAL, 1, 1,
     "trust delete PEER_ID [--local] [--relationship R]",
     "Delete the trust with PEER_ID; the peer is told unless --local is given."},
    {"trust", "show", cmd_trust_show, F_RELATIONSHIP, 1, 1, "trust show PEER_ID [--relationship R]",
     "Show the trust record with PEER_ID (secret included)."},
    {"sub", "list", cmd_sub_list, F_TARGET | F_SUBTARGET | F_RESOURCE, 0, 1,
     "sub list [PEER_ID] [--target T] [--subtarget S] [--resource R]",
     "List subscriptions: those the actor holds at peers (ROLE subscriber) and those peers hold here\n"
     "(ROLE publisher); with PEER_ID only those with that peer."},
    {"sub", "add", cmd_sub_add, F_TARGET | F_SUBTARGET | F_RESOURCE | F_GRANULARITY, 1, 1,
     "sub add PEER_ID [--target properties] [--subtarget S] [--resource R] [--granularity high|low|none]",
     "Make the actor subscribe at PEER_ID (a trusted peer); prints the subscription id.\n"
     "Defaults: --target properties, --granularity high."},
    {"sub", "delete", cmd_sub_delete, 0, 2, 2, "sub delete PEER_ID SUBID",
     "Delete a subscription with PEER_ID (the peer is told)."},
    {"sub", "show", cmd_sub_show, 0, 2, 2, "sub show PEER_ID SUBID",
     "Show a subscription and its pending diffs."},
    {"call", "method", cmd_call_method, F_RPC, 1, 2, "call method NAME [JSON] [--rpc]",
     "POST JSON (default {}) to /methods/NAME and print the result. --rpc wraps it as a JSON-RPC 2.0\n"
     "request {\"jsonrpc\":\"2.0\",\"method\":NAME,\"params\":JSON,\"id\":1} and prints its result or error."},
    {"call", "action", cmd_call_action, 0, 1, 2, "call action NAME [JSON]",
     "POST JSON (default {}) to /actions/NAME and print the result."},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const char *global_help =
    "Global options (anywhere on the line):\n"
    "  --url URL            actor URL (factory URL for create)            [AW_URL]\n"
    "  --creator C          creator name for HTTP Basic                   [AW_CREATOR]\n"
    "  --passphrase P       creator passphrase for HTTP Basic             [AW_PASSPHRASE]\n"
    "  --token T            bearer token (wins over Basic)                [AW_TOKEN]\n"
    "  --json               print the server's JSON (pretty) instead of tables\n"
    "  --timeout SECONDS    give up after this long (default 30)\n"
    "  --verbose            show the library's log on stderr\n"
    "  -h, --help           help (aw COMMAND --help for one command)\n"
    "  --version            show the version\n"
    "Flags win over the environment. Exit codes: 0 success, 1 the server refused (4xx/5xx),\n"
    "2 usage error, 3 network error or timeout.\n";

static void usage(FILE *f)
{
    fprintf(f, "usage: aw [options] <command> [<args>]\n\nCommand-line client for ActingWeb actors (libactingweb %s).\n\n"
               "Commands:\n",
            aw_version());
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  aw %s\n", commands[i].usage);
    fprintf(f, "\n%s", global_help);
}

static void command_help(FILE *f, const command *cmd)
{
    fprintf(f, "usage: aw %s\n\n%s\n\n%s", cmd->usage, cmd->help, global_help);
}

/* The family help: every subcommand of `name`. */
static void family_help(FILE *f, const char *name)
{
    fprintf(f, "usage:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name)) fprintf(f, "  aw %s\n", commands[i].usage);
    fprintf(f, "\n%s", global_help);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("aw: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return EX_USAGE;
}

enum {
    O_URL = 256, O_CREATOR, O_PASSPHRASE, O_TOKEN, O_JSON, O_TIMEOUT, O_VERBOSE, O_VERSION,
    O_TRUSTEE_ROOT, O_TEXT, O_ALL, O_RELATIONSHIP, O_DESC, O_LOCAL, O_TARGET, O_SUBTARGET, O_RESOURCE,
    O_GRANULARITY, O_RPC
};

static const struct option long_opts[] = {
    {"url", required_argument, NULL, O_URL},
    {"creator", required_argument, NULL, O_CREATOR},
    {"passphrase", required_argument, NULL, O_PASSPHRASE},
    {"token", required_argument, NULL, O_TOKEN},
    {"json", no_argument, NULL, O_JSON},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"verbose", no_argument, NULL, O_VERBOSE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, O_VERSION},
    {"trustee-root", required_argument, NULL, O_TRUSTEE_ROOT},
    {"text", no_argument, NULL, O_TEXT},
    {"all", no_argument, NULL, O_ALL},
    {"relationship", required_argument, NULL, O_RELATIONSHIP},
    {"desc", required_argument, NULL, O_DESC},
    {"local", no_argument, NULL, O_LOCAL},
    {"target", required_argument, NULL, O_TARGET},
    {"subtarget", required_argument, NULL, O_SUBTARGET},
    {"resource", required_argument, NULL, O_RESOURCE},
    {"granularity", required_argument, NULL, O_GRANULARITY},
    {"rpc", no_argument, NULL, O_RPC},
    {NULL, 0, NULL, 0},
};

static const struct {
    unsigned bit;
    const char *name;
} flag_names[] = {
    {F_TRUSTEE_ROOT, "--trustee-root"}, {F_TEXT, "--text"}, {F_ALL, "--all"},
    {F_RELATIONSHIP, "--relationship"}, {F_DESC, "--desc"}, {F_LOCAL, "--local"},
    {F_TARGET, "--target"}, {F_SUBTARGET, "--subtarget"}, {F_RESOURCE, "--resource"},
    {F_GRANULARITY, "--granularity"}, {F_RPC, "--rpc"},
};

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    cli c;
    memset(&c, 0, sizeof c);
    c.timeout_ms = 30000;
    bool help = false, version = false;
    opterr = 0;
    int o;
    /* "+"-less optstring: GNU getopt permutes, so options may follow the command words. */
    while ((o = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        switch (o) {
        case O_URL: c.f_url = optarg; break;
        case O_CREATOR: c.f_creator = optarg; break;
        case O_PASSPHRASE: c.f_passphrase = optarg; break;
        case O_TOKEN: c.f_token = optarg; break;
        case O_JSON: c.json = true; break;
        case O_VERBOSE: c.verbose = true; break;
        case O_TIMEOUT: {
            char *end = NULL;
            errno = 0;
            double s = strtod(optarg, &end);
            if (errno || end == optarg || *end || !isfinite(s) || s <= 0 || s > 86400)
                return cli_usage_error("--timeout must be a number of seconds in (0, 86400]");
            c.timeout_ms = (unsigned)(s * 1000.0);
            if (c.timeout_ms == 0) c.timeout_ms = 1;
            break;
        }
        case 'h': help = true; break;
        case O_VERSION: version = true; break;
        case O_TRUSTEE_ROOT: c.trustee_root = optarg; c.seen |= F_TRUSTEE_ROOT; break;
        case O_TEXT: c.text = true; c.seen |= F_TEXT; break;
        case O_ALL: c.all = true; c.seen |= F_ALL; break;
        case O_RELATIONSHIP: c.relationship = optarg; c.seen |= F_RELATIONSHIP; break;
        case O_DESC: c.desc = optarg; c.seen |= F_DESC; break;
        case O_LOCAL: c.local = true; c.seen |= F_LOCAL; break;
        case O_TARGET: c.target = optarg; c.seen |= F_TARGET; break;
        case O_SUBTARGET: c.subtarget = optarg; c.seen |= F_SUBTARGET; break;
        case O_RESOURCE: c.resource = optarg; c.seen |= F_RESOURCE; break;
        case O_GRANULARITY: c.granularity = optarg; c.seen |= F_GRANULARITY; break;
        case O_RPC: c.rpc = true; c.seen |= F_RPC; break;
        case ':':
            return cli_usage_error("option %s needs a value (see aw --help)", argv[optind - 1]);
        default:
            return cli_usage_error("unknown option %s (see aw --help)", argv[optind - 1]);
        }
    }
    char **pos = argv + optind;
    int npos = argc - optind;
    if (version) {
        printf("aw %s\n", aw_version());
        return EX_OK;
    }
    if (npos == 0) {
        usage(help ? stdout : stderr);
        return help ? EX_OK : EX_USAGE;
    }
    const command *cmd = NULL;
    bool family = false;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].name, pos[0]) != 0) continue;
        family = commands[i].sub != NULL;
        if (!family) {
            cmd = &commands[i];
            break;
        }
        if (npos > 1 && !strcmp(commands[i].sub, pos[1])) {
            cmd = &commands[i];
            break;
        }
    }
    if (!cmd) {
        if (family) {
            if (help) {
                family_help(stdout, pos[0]);
                return EX_OK;
            }
            family_help(stderr, pos[0]);
            return npos > 1 ? cli_usage_error("unknown subcommand: %s %s", pos[0], pos[1])
                            : cli_usage_error("%s needs a subcommand", pos[0]);
        }
        if (help) {
            usage(stdout);
            return EX_OK;
        }
        return cli_usage_error("unknown command: %s (see aw --help)", pos[0]);
    }
    if (help) {
        command_help(stdout, cmd);
        return EX_OK;
    }
    int words = cmd->sub ? 2 : 1;
    c.args = pos + words;
    c.nargs = npos - words;
    unsigned extra = c.seen & ~cmd->flags;
    if (extra) {
        for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
            if (extra & flag_names[i].bit)
                return cli_usage_error("aw %s%s%s does not take %s (see aw %s --help)", cmd->name,
                                       cmd->sub ? " " : "", cmd->sub ? cmd->sub : "", flag_names[i].name,
                                       cmd->name);
    }
    if (c.nargs < cmd->min_args || c.nargs > cmd->max_args) {
        fprintf(stderr, "usage: aw %s\n", cmd->usage);
        return cli_usage_error("wrong number of arguments for %s%s%s", cmd->name, cmd->sub ? " " : "",
                               cmd->sub ? cmd->sub : "");
    }
    return cmd->fn(&c);
}
