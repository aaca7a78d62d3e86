#pragma once

#include "st-cli.h"

G_BEGIN_DECLS

/* The script commands of stewardctl, for its command table. */
int st_cli_script_list (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_script_check (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_script_reload (StCtl *ctl, const StCliCommand *command, GStrv *args);

G_END_DECLS
