#pragma once

#include "st-cli.h"

G_BEGIN_DECLS

/* The campaign commands of stewardctl, for its command table. */
int st_cli_campaign_list (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_campaign_run (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_campaign_runs (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_campaign_show (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_campaign_cancel (StCtl *ctl, const StCliCommand *command,
                            GStrv *args);

G_END_DECLS
