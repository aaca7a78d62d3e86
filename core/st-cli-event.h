#pragma once

#include "st-cli.h"

G_BEGIN_DECLS

/* stewardctl event add and timeline, for its command table. */
int st_cli_event_add (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_timeline (StCtl *ctl, const StCliCommand *command, GStrv *args);

G_END_DECLS
