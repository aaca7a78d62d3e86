#pragma once

#include "st-cli.h"

G_BEGIN_DECLS

/* stewardctl import customers|events FILE, for its command table. */
int st_cli_import_customers (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_import_events (StCtl *ctl, const StCliCommand *command, GStrv *args);

G_END_DECLS
