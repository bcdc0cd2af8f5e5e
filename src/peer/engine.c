/* Placeholder peer engine (replaced by the libcurl-multi engine). */
#include "peer/engine.h"

int aw_peer_engine_start(aw_app *app) { return AW_OK; }
void aw_peer_engine_shutdown(aw_app *app) {}
size_t aw_peer_engine_active(const aw_app *app) { return 0; }
void aw_peer_engine_free(aw_app *app) {}
