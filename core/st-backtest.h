#pragma once

#include <glib.h>

#include "st-engine.h"

G_BEGIN_DECLS

/* The backtest: does the health script find the customers who leave? Every
 * customer who bought before a cut-off is scored as they were then (the
 * aggregates recomputed from the events before it, steward.now() the
 * cut-off, steward.events() blind to what came after), and the ranking is
 * compared with who did not buy again within the horizon. Read-only: the
 * script's actions are collected, never applied. See docs/backtest.md. */

typedef struct {
  const char *cutoff;  /* "2011-09-01" (midnight UTC) or ISO-8601 */
  guint horizon_days;  /* 1 to 3650 */
  const char *script;  /* NULL: "health" */
} StBacktestRequest;

/* Parse a cut-off as the request takes it; NULL with
 * ST_ERROR_INVALID_ARGUMENT when it is neither form. */
GDateTime *st_backtest_parse_cutoff (const char *text, GError **error);

/* Run the backtest on @store (outside any transaction: it opens a read-only
 * one) with a Lua state of its own. Returns the report (a new a{sv}, see
 * docs/dbus.md: customers, base_rate, auc, top_decile_precision,
 * top_decile_size, factors, seconds, script...). Fails with
 * ST_ERROR_INVALID_ARGUMENT for a bad cut-off or horizon (in the future,
 * 0), ST_ERROR_NOT_FOUND when the script is not loaded, ST_ERROR_FAILED
 * when it scores nobody. */
GVariant *st_backtest_run (StEngine *engine, StStore *store,
                           const StBacktestRequest *request, GError **error);

/* The figures, for a ranking where a low score means a customer at risk;
 * @churned says who did not buy again. Ties count half. NAN when there
 * is no customer of one kind (AUC) or no customer at all. */
double st_backtest_auc (const double *scores, const gboolean *churned,
                        gsize n);
/* Among the riskiest tenth (rounded up: st_backtest_top_size()), the share
 * who did not buy again; the customers tied on the decile's boundary count
 * in proportion. */
double st_backtest_top_precision (const double *scores,
                                  const gboolean *churned, gsize n);
gsize st_backtest_top_size (gsize n);

G_END_DECLS
