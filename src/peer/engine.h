/* The peer engine: libcurl multi driven by the app's libuv loop. Internal. */
#ifndef AW_PEER_ENGINE_H
#define AW_PEER_ENGINE_H

#include "app_internal.h"

/* Create the engine on app->loop (loop thread). Returns AW_OK / AW_ENOMEM. */
int aw_peer_engine_start(aw_app *app);

/* Begin shutdown: refuse new starts (AW_ESHUTDOWN), complete every running op with AW_ESHUTDOWN (on
 * the loop), close the engine's uv handles. For each handle it closes it increments
 * app->closing_handles before uv_close and calls aw_app_handle_closed(app) in the close callback. */
void aw_peer_engine_shutdown(aw_app *app);

/* Number of operations still running (shutdown waits for 0). */
size_t aw_peer_engine_active(const aw_app *app);

/* Housekeeping (loop thread): frees recycled easy handles beyond a few once none was used for 10 s. */
void aw_peer_engine_trim(aw_app *app);

/* Free the engine's memory after its handles are closed. NULL engine is a no-op. */
void aw_peer_engine_free(aw_app *app);

#endif
