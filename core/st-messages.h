#pragma once

#include <glib.h>

#include "st-store.h"

G_BEGIN_DECLS

/* The outbox as people see it: its messages listed and shown, and a
 * message put back to be delivered again. Records never carry a channel's
 * settings (messages hold none: a plugin's secrets stay in the plugin).
 *
 * A message record (a{sv}): id, customer_id (x), channel, key, state
 * (pending, retry, sent, dead, suppressed), attempts (i), script,
 * template, locale, recipient, subject, due_at, held_reason, last_error,
 * created_at, sent_at; st_messages_get adds body, html and data (a{sv}).
 * Absent values (SQL NULL) are left out. */

/* filter: customer_id (x), state (s), channel (s), owner (s: of the
 * customer), limit (u, default 100,
 * 1 to 10000), offset (u). Newest first. Own transaction. */
GVariant *st_messages_list (StStore *store, GVariant *filter, GError **error);

/* Message @id's customer and its owner (NULL: none); NOT_FOUND when
 * there is no such message. Own transaction. */
gboolean st_messages_owner (StStore *store, gint64 id, gint64 *customer_id,
                            char **owner, GError **error);

/* ST_ERROR_NOT_FOUND when there is no message @id. Own transaction. */
GVariant *st_messages_get (StStore *store, gint64 id, GError **error);

/* Put message @id back in the outbox to be delivered now: state pending,
 * due now, attempts back to 0 (a fresh round of the channel's
 * max_attempts), held_reason cleared, last_error kept until the next
 * attempt; the delivery workers are woken. Allowed from dead, retry,
 * pending (held or not yet due) and suppressed; a sent message is refused
 * with ST_ERROR_ILLEGAL_TRANSITION (it would reach the customer twice), as
 * is one a worker is delivering at this moment. When no message of the
 * customer is dead any more, the customer's open delivery_failed alert is
 * acknowledged by @actor. The reply is the record as st_messages_get gives
 * it, plus previous_state (s) and, when an alert was acknowledged,
 * acknowledged_alert (x). Own transaction. */
GVariant *st_messages_retry (StStore *store, gint64 id, const char *actor,
                             GError **error);

G_END_DECLS
