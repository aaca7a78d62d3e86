#pragma once

#include "st-cli.h"

G_BEGIN_DECLS

/* The customer commands of stewardctl, for its command table. */
int st_cli_customer_add (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_customer_show (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_customer_list (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_customer_edit (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_customer_stage (StCtl *ctl, const StCliCommand *command, GStrv *args);

G_END_DECLS
