/* actingweb/actingweb.h — umbrella header of libactingweb. Include only this one. */
#ifndef ACTINGWEB_ACTINGWEB_H
#define ACTINGWEB_ACTINGWEB_H

#include <actingweb/version.h>
#include <actingweb/status.h>
#include <actingweb/app.h>
#include <actingweb/op.h>
#include <actingweb/peer.h>
#include <actingweb/subscriptions.h>
#include <actingweb/trust.h>
#include <actingweb/actor.h>
#include <actingweb/properties.h>
#include <actingweb/attributes.h>
#include <actingweb/hooks.h>

#endif
