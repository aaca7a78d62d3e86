#pragma once

#include <glib.h>

#include "st-store.h"

G_BEGIN_DECLS

/* Alerts: what an account manager must look at. One open alert per
 * (customer, kind): raising it again updates it (message, data, count,
 * last_raised_at) instead of piling up. Customer 0 is "no customer"
 * (system alerts such as a broken script). */

/* Raise inside the caller's transaction. @severity: info, warning or
 * critical; @data_json may be NULL; @source: "script:<name>" or "core".
 * Returns the alert record (a{sv}). */
GVariant *st_alerts_raise (StStore *store, gint64 customer_id,
                           const char *kind, const char *severity,
                           const char *message, const char *data_json,
                           const char *source, GError **error);

/* filter: open (b), customer_id (x), kind (s), owner (s: of the
 * customer), limit (u, default 100),
 * offset (u). Newest first. Own transaction. */
GVariant *st_alerts_list (StStore *store, GVariant *filter, GError **error);

/* Inside the caller's transaction: acknowledge @customer_id's open
 * delivery_failed alert when none of the customer's messages is dead any
 * more (a retry of the last dead one has put it back in the outbox). *id
 * is the alert acknowledged, 0 when none was. */
gboolean st_alerts_resolve_delivery (StStore *store, gint64 customer_id,
                                     const char *actor, const char *note,
                                     gint64 *id, GError **error);

/* Alert @id's customer (0: a system alert, about no customer) and its
 * owner (NULL: none, or a system alert); NOT_FOUND when there is no such
 * alert. Own transaction. */
gboolean st_alerts_owner (StStore *store, gint64 id, gint64 *customer_id,
                          char **owner, GError **error);

/* Acknowledge alert @id with a note; NOT_FOUND when there is none,
 * INVALID_ARGUMENT when it was acknowledged already. Own transaction. */
GVariant *st_alerts_acknowledge (StStore *store, gint64 id, const char *note,
                                 const char *actor, GError **error);

G_END_DECLS
