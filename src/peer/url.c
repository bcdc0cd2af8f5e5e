/* Peer URL checks with libcurl's CURLU parser (never hand-parsed). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "peer/internal.h"

int aw_url_origin(const char *url, char **origin_key)
{
    *origin_key = NULL;
    CURLU *u = curl_url();
    if (!u) return AW_ENOMEM;
    int r = AW_EINVAL;
    char *scheme = NULL, *host = NULL, *port = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) goto out;
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) goto out;
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) goto out;
    aw_buf b = AW_BUF_INIT;
    aw_buf_printf(&b, "%s://%s:%s", scheme, host, port);
    for (size_t i = 0; b.data && i < b.len; i++)
        if (b.data[i] >= 'A' && b.data[i] <= 'Z') b.data[i] = (char)(b.data[i] - 'A' + 'a');
    *origin_key = aw_buf_take(&b);
    r = *origin_key ? AW_OK : AW_ENOMEM;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return r;
}

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

int aw_peer_url_validate(aw_app *app, const char *url)
{
    if (!url || !*url) return AW_EINVAL;
    size_t n = strlen(url);
    if (url[n - 1] == '/' || strpbrk(url, "?#") || n > 2048) return AW_EINVAL;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) return AW_EINVAL;
    CURLU *u = curl_url();
    if (!u) return AW_ENOMEM;
    int r = AW_EINVAL;
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL, *opts = NULL, *query = NULL, *frag = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) goto out;
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) goto out;
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_OPTIONS, &opts, 0) == CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) goto out;
    if (strchr(url, '@')) goto out; /* userinfo, even an empty one */
    if (app && app->cfg.net.deny_private_peers && host_is_private(host)) goto out;
    r = AW_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_free(opts);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return r;
}
