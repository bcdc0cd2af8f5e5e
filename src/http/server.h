/* Inbound HTTP: libmicrohttpd in external-epoll mode driven by the app's libuv loop. Internal. */
#ifndef AW_HTTP_SERVER_H
#define AW_HTTP_SERVER_H

#include "app_internal.h"

/* Start listening on cfg.listen_host:listen_port (loop thread). AW_OK, AW_EINVAL (bad address),
 * AW_EBUSY (cannot bind). */
int aw_server_start(aw_app *app);

/* Stop accepting; call drained(app) once no request is in flight (at once when none / no server). */
void aw_server_quiesce(aw_app *app, void (*drained)(aw_app *app));

/* Stop the daemon and close the uv handles (counted in app->closing_handles). */
void aw_server_close(aw_app *app);

void aw_server_free(aw_app *app);

uint16_t aw_server_port(const aw_app *app);

#endif
