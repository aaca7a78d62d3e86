#pragma once

#include "st-cli.h"

G_BEGIN_DECLS

/* The schedule commands of stewardctl, for its command table. */
int st_cli_schedule_next (StCtl *ctl, const StCliCommand *command, GStrv *args);

G_END_DECLS
