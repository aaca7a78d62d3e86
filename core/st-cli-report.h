#pragma once

#include "st-cli.h"

G_BEGIN_DECLS

#define ST_CLI_REPORTS_IFACE "org.steward.Steward1.Reports"

/* The report commands of stewardctl, for its command table. */
int st_cli_report_backtest (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_report_funnel (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_report_health (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_report_nps (StCtl *ctl, const StCliCommand *command, GStrv *args);

G_END_DECLS
