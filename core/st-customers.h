#pragma once

#include <glib.h>

#include "st-config.h"
#include "st-store.h"

G_BEGIN_DECLS

/* Customers and their lifecycle. Each call is one transaction: it either
 * writes everything it decided or nothing. Customers are addressed by a
 * string: the numeric id, the ref, or explicitly "id:N" / "ref:R". A bare
 * number that is both one customer's id and another's ref is refused as
 * ambiguous rather than guessed. */

/* The columns of a customer's record, for queries that read records in
 * bulk (campaign batches); st_record_from_row() makes the record. */
#define ST_CUSTOMER_COLUMNS                                                  \
  "id, ref, name, email, phone, locale, tz, owner, to_json(tags) AS tags, "  \
  "attrs, stage, stage_since, created_at, updated_at, first_purchase_at, "   \
  "last_purchase_at, purchase_count, revenue, last_contact_at, "             \
  "last_event_at, event_count, open_tickets, last_nps, health_score, "      \
  "health_factors, risk_level, health_updated_at"

/* Find the customer's id inside the caller's open transaction, locking the
 * row FOR UPDATE when @lock is set. */
gboolean st_customers_resolve (StStore *store, const char *address,
                               gboolean lock, gint64 *id, GError **error);

/* The same in three parts, for a write path that resolves the customer
 * inside its own statement (st-events.c) and so saves a round trip: the id
 * and ref an address names (either may be NULL; *id_text is freed with
 * g_free()), the query that finds at most two rows for them, given the
 * SQL of the two values, and the verdict on how many it found (0: not
 * found, 2: the id of one customer and the ref of another). */
gboolean st_customers_address_parse (const char *address, char **id_text,
                                     const char **ref, GError **error);
#define ST_CUSTOMERS_RESOLVE_SQL(id, ref) \
  "SELECT id FROM customers WHERE id = " id "::bigint OR ref = " ref \
  " LIMIT 2"
gboolean st_customers_address_check (const char *address, int matches,
                                     GError **error);

/* The full record of customer @id (a{sv}), inside the caller's transaction. */
GVariant *st_customers_record (StStore *store, gint64 id, GError **error);
/* The same in two halves, for callers that send the statement along with
 * others in one round trip (st_store_exec_many): its one parameter is the
 * id as text, and its result makes the record (NOT_FOUND when empty). */
const StStatement *st_customers_record_statement (void);
GVariant *st_customers_record_from_result (PGresult *res, gint64 id,
                                           GError **error);

GVariant *st_customers_create (StStore *store, const StConfig *config,
                               GVariant *fields, const char *actor,
                               GError **error);
GVariant *st_customers_get (StStore *store, const char *address,
                            GError **error);
/* The id and owner (NULL when it has none) of the customer at @address.
 * Own transaction. */
gboolean st_customers_owner (StStore *store, const char *address, gint64 *id,
                             char **owner, GError **error);
/* The same for @n addresses at once, in one statement: @ids and @owners
 * (n each, the caller's; an owner is NULL when the customer has none)
 * follow @addresses. The errors of st_customers_resolve, for the first
 * address that names no customer or two. Own transaction. */
gboolean st_customers_owners (StStore *store, const char *const *addresses,
                              guint n, gint64 *ids, char **owners,
                              GError **error);
GVariant *st_customers_update (StStore *store, const char *address,
                               GVariant *fields, GError **error);
GVariant *st_customers_find (StStore *store, const StConfig *config,
                             GVariant *filter, GError **error);
GVariant *st_customers_set_stage (StStore *store, const StConfig *config,
                                  const char *address, const char *stage,
                                  const char *reason, const char *actor,
                                  GError **error);
/* Inside the caller's transaction: move customer @id to @stage if the
 * lifecycle allows it, record the history row and fire "stage:<stage>". */
gboolean st_customers_move (StStore *store, const StConfig *config, gint64 id,
                            const char *stage, const char *reason,
                            const char *actor, GError **error);

/* Inside the caller's transaction: add or remove one tag. */
gboolean st_customers_tag (StStore *store, gint64 id, const char *tag,
                           gboolean add, GError **error);

GVariant *st_customers_timeline (StStore *store, const char *address,
                                 GVariant *options, GError **error);

G_END_DECLS
