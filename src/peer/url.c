/* Peer URL checks with libcurl's CURLU parser (never hand-parsed). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "peer/internal.h"

static bool v4_private(uint32_t a /* host order */)
{
    return (a >> 24) == 127 || (a >> 24) == 10 || (a >> 24) == 0 || (a >> 20) == (172u << 4 | 1) ||
           (a >> 16) == (192u << 8 | 168) || (a >> 16) == (169u << 8 | 254) ||
           (a >> 22) == ((100u << 2) | 1) /* 100.64/10 */;
}

bool aw_addr_is_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        return v4_private(ntohl(s->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
            IN6_IS_ADDR_SITELOCAL(a))
            return true;
        if ((a->s6_addr[0] & 0xfe) == 0xfc) return true; /* fc00::/7 */
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            uint32_t v4;
            memcpy(&v4, &a->s6_addr[12], 4);
            return v4_private(ntohl(v4));
        }
    }
    return false;
}

static bool host_is_private(const char *host)
{
    if (!strcasecmp(host, "localhost")) return true;
    size_t n = strlen(host);
    if (n > 10 && !strcasecmp(host + n - 10, ".localhost")) return true;
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, host, &s4.sin_addr) == 1) return aw_addr_is_private((struct sockaddr *)&s4);
    /* CURLU gives IPv6 literals in brackets */
    char tmp[64];
    if (host[0] == '[' && n < sizeof tmp && host[n - 1] == ']') {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = 0;
        char *pct = strchr(tmp, '%');
        if (pct) *pct = 0;
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
        if (inet_pton(AF_INET6, tmp, &s6.sin6_addr) == 1) return aw_addr_is_private((struct sockaddr *)&s6);
    }
    return false; /* names are checked again at connect time (opensocket callback) */
}

/* One CURLU parse: scheme http/https and a host, always; with `actor_root` (app may be NULL) also the
 * actor-root rules of clarifications #3 (no userinfo, query or fragment, no trailing slash, no control
 * characters, private hosts refused when configured). With origin_key, "scheme://host:port" in lower case
 * (malloc'd). `parse` (NULL: `url`) is the URL actually parsed: a request URL below the actor root `url`,
 * which has the same scheme, host and port. With keep, the parsed CURLU of `parse` is handed over on AW_OK
 * (for CURLOPT_CURLU: libcurl then skips its own parse). */
static int url_check(aw_app *app, const char *url, const char *parse, bool actor_root, char **origin_key,
                     CURLU **keep)
{
    if (origin_key) *origin_key = NULL;
    if (keep) *keep = NULL;
    if (!url || !*url) return AW_EINVAL;
    if (actor_root) {
        size_t n = strlen(url);
        /* '?', '#' and '@' are refused outright, so the parse needs no query, fragment or userinfo checks */
        if (url[n - 1] == '/' || strpbrk(url, "?#@") || n > 2048) return AW_EINVAL;
        for (const char *p = url; *p; p++)
            if ((unsigned char)*p <= 0x20 || *p == 0x7f) return AW_EINVAL;
    }
    CURLU *u = curl_url();
    if (!u) return AW_ENOMEM;
    int r = AW_EINVAL;
    char *scheme = NULL, *host = NULL, *port = NULL;
    if (curl_url_set(u, CURLUPART_URL, parse ? parse : url, 0) != CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) goto out;
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) goto out;
    if (actor_root && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) goto out;
    if (actor_root && app && app->cfg.net.deny_private_peers && host_is_private(host)) goto out;
    r = AW_OK;
    if (origin_key) {
        if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
            r = AW_EINVAL;
            goto out;
        }
        /* "scheme://host:port", lower case (runs for every request: no printf) */
        size_t ls = strlen(scheme), lh = strlen(host), lp = strlen(port);
        char *k = malloc(ls + 3 + lh + 1 + lp + 1);
        if (k) {
            char *w = k;
            memcpy(w, scheme, ls), w += ls;
            memcpy(w, "://", 3), w += 3;
            memcpy(w, host, lh), w += lh;
            *w++ = ':';
            memcpy(w, port, lp + 1);
            for (char *c = k; *c; c++)
                if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        }
        *origin_key = k;
        if (!k) r = AW_ENOMEM;
    }
    if (r == AW_OK && keep) {
        *keep = u;
        u = NULL;
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return r;
}

int aw_url_origin(const char *url, char **origin_key, CURLU **cu)
{
    return url_check(NULL, url, NULL, false, origin_key, cu);
}

int aw_peer_url_validate(aw_app *app, const char *url) { return url_check(app, url, NULL, true, NULL, NULL); }

int aw_peer_url_origin_checked(aw_app *app, const char *url, const char *request_url, char **origin_key,
                               CURLU **cu)
{
    return url_check(app, url, request_url, true, origin_key, cu);
}
