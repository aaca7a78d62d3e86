#pragma once

#include <glib.h>

#include "st-store.h"

G_BEGIN_DECLS

/* Events: immutable facts about a customer. Recording one inserts it and
 * updates the customer's aggregates in the same transaction; an idempotency
 * key (unique per customer) makes a retry return the first event and write
 * nothing. */

/* @data: at (s, ISO-8601), amount (d), key (s), data (a{sv}). The reply is
 * the event record with duplicate (b). */
GVariant *st_events_record (StStore *store, const char *customer,
                            const char *kind, GVariant *data, GError **error);

/* Each entry of @events (aa{sv}) holds customer and kind besides the keys of
 * st_events_record. All are recorded in one transaction, or none. */
GVariant *st_events_record_many (StStore *store, GVariant *events,
                                 GError **error);

G_END_DECLS
