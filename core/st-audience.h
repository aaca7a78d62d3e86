#pragma once

#include <glib.h>

#include "st-config.h"
#include "st-store.h"

G_BEGIN_DECLS

/* A campaign's audience: the declarative filter of a script's `audience`
 * table (docs/audience.md), checked once when the script loads and turned
 * into one parameterised SQL query on indexed columns, so that the cost of
 * a campaign grows with its audience, not with the customers table. */
typedef struct _StAudience StAudience;

/* @spec is the audience table as a{sv}, as st_lua_to_variant() or
 * st_record_from_json() make it. Unknown keys, wrong types, bad durations,
 * empty ranges and an empty table are ST_ERROR_INVALID_ARGUMENT errors
 * naming the key path ("audience.events.purchase: unknown key 'older'; use
 * older_than, newer_than, never or or_never"). Stage names are checked for
 * their form only; see st_audience_check_stages(). */
StAudience *st_audience_new (GVariant *spec, GError **error);
void st_audience_free (StAudience *audience);

/* Whether every stage the audience names is a stage of @config's
 * lifecycle. */
gboolean st_audience_check_stages (const StAudience *audience,
                                   const StConfig *config, GError **error);

/* A page of the audience, keyset-paged:
 *
 *   SELECT c.id FROM customers c WHERE <conditions>
 *     AND c.id > $1 ORDER BY c.id LIMIT $2
 *
 * $1 is the last id of the previous page (0 for the first), $2 the page
 * size, $3 the reference time ("now" of the occurrence, timestamptz text),
 * which the caller passes; the values of $4, $5… are appended to @params as
 * new strings (make it with g_ptr_array_new_with_free_func (g_free)). The
 * query is meant for PQexecParams-style execution (st_store_exec_sql), which
 * plans it with the values known. */
char *st_audience_sql (const StAudience *audience, GPtrArray *params);

/* The same, among the ids given as one more parameter, appended last to
 * @params by the caller (a bigint[] literal): which of them are in the
 * audience, by primary key. A campaign batch re-checks its own ids this
 * way, at a cost that does not grow with the table or with how sparse the
 * audience is in it. */
char *st_audience_sql_among (const StAudience *audience, GPtrArray *params);

/* SELECT count(*) of the audience: $1 is the reference time and the
 * conditions' values, the same as st_audience_sql() appends and in the same
 * order, are $2, $3… */
char *st_audience_count_sql (const StAudience *audience, GPtrArray *params);

/* A page size at which a sparse audience is read from its own index rather
 * than by walking the table in id order: a page is only ids. */
#define ST_AUDIENCE_PAGE_SIZE 10000

/* Append to @ids_out (gint64) the ids of up to @limit customers of the
 * audience at @now with an id above @after_id, ascending. Fewer than @limit
 * means the last page. Runs in a transaction of its own: call it outside
 * one. */
gboolean st_audience_page (StStore *store, const StAudience *audience,
                           GDateTime *now, gint64 after_id, guint limit,
                           GArray *ids_out, GError **error);

/* How many customers the audience holds at @now, or -1 with an error. Runs
 * in a transaction of its own. */
gint64 st_audience_count (StStore *store, const StAudience *audience,
                          GDateTime *now, GError **error);

/* A one-line summary for people: "stage in (active, at_risk); no purchase
 * for 90d". */
char *st_audience_describe (const StAudience *audience);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StAudience, st_audience_free)

G_END_DECLS
