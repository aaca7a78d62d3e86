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

/* Find the customer's id inside the caller's open transaction, locking the
 * row FOR UPDATE when @lock is set. */
gboolean st_customers_resolve (StStore *store, const char *address,
                               gboolean lock, gint64 *id, GError **error);

/* The full record of customer @id (a{sv}), inside the caller's transaction. */
GVariant *st_customers_record (StStore *store, gint64 id, GError **error);

GVariant *st_customers_create (StStore *store, const StConfig *config,
                               GVariant *fields, const char *actor,
                               GError **error);
GVariant *st_customers_get (StStore *store, const char *address,
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
