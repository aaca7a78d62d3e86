#pragma once

#include "st-cli.h"

G_BEGIN_DECLS

/* The message commands of stewardctl, for its command table. */
int st_cli_message_list (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_message_show (StCtl *ctl, const StCliCommand *command, GStrv *args);
int st_cli_message_retry (StCtl *ctl, const StCliCommand *command, GStrv *args);

G_END_DECLS
