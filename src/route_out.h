/*
 * route_out: how a route result is shown, as JSON (the shape fixed in
 * DESIGN.md, documented in docs/mxsend-json.7) and as text for a person.
 */
#ifndef MXSEND_ROUTE_OUT_H
#define MXSEND_ROUTE_OUT_H

#include <jansson.h>
#include <stdio.h>

#include "route.h"

/* A new JSON object for one domain; the caller owns the reference.
 * NULL when out of memory. */
json_t *route_out_json(const struct route_result *res);

/* Writes the human form of one domain to out. */
void route_out_text(FILE *out, const struct route_result *res);

#endif
