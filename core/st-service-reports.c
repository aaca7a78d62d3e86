/* The Reports interface: Backtest, Funnel, Health and Nps. */

#include "st-service-private.h"

#include "st-backtest.h"
#include "st-error.h"
#include "st-record.h"
#include "st-reports.h"

GVariant *
st_service_report_backtest (StCall *call, GVariant *params, GError **error)
{
  static const char *const known[] = { "script", NULL };
  g_autoptr (GVariant) options = NULL;
  g_autoptr (GVariant) report = NULL;
  StBacktestRequest request = { 0 };
  double seconds = 0;
  StStore *store;

  g_variant_get (params, "(&su@a{sv})", &request.cutoff,
                 &request.horizon_days, &options);
  if (!st_record_check_keys (options, known, "options", error)
      || !st_record_get_string (options, "script", &request.script, error))
    return NULL;
  store = st_call_store (call, error);
  if (store == NULL)
    return NULL;
  report = st_backtest_run (call->service->engine, store, &request, error);
  if (report == NULL)
    return NULL;
  g_variant_lookup (report, "seconds", "d", &seconds);
  g_message ("backtest of %s at %s over %u days: done in %.1f s",
             request.script ? request.script : "health", request.cutoff,
             request.horizon_days, seconds);
  return g_variant_new ("(@a{sv})", report);
}

/* Funnel, Health and Nps: the options in, the report out. */
static GVariant *
reply_report (StCall *call, GVariant *params, StReportFunc report,
              GError **error)
{
  g_autoptr (GVariant) options = g_variant_get_child_value (params, 0);
  g_autoptr (GVariant) reply = NULL;
  StStore *store = st_call_store (call, error);

  if (store == NULL)
    return NULL;
  reply = report (store, st_engine_get_config (call->service->engine),
                  options, error);
  return reply == NULL ? NULL : g_variant_new ("(@a{sv})", reply);
}

GVariant *
st_service_report_funnel (StCall *call, GVariant *params, GError **error)
{
  return reply_report (call, params, st_report_funnel, error);
}

GVariant *
st_service_report_health (StCall *call, GVariant *params, GError **error)
{
  return reply_report (call, params, st_report_health, error);
}

GVariant *
st_service_report_nps (StCall *call, GVariant *params, GError **error)
{
  return reply_report (call, params, st_report_nps, error);
}
