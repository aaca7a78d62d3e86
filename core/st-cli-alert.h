#pragma once

#include "st-cli.h"

G_BEGIN_DECLS

/* The alert commands of stewardctl, for its command table. */
int st_cli_alert_list (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_alert_ack (StCtl *ctl, const StCliCommand *command, GStrv *args);

G_END_DECLS
