#pragma once

/* Private to the campaign commands of stewardctl: st-cli-campaign.c (list,
 * runs, show, and how a run is printed) and st-cli-campaign-wait.c (run,
 * and following it to its end). */

#include "st-cli.h"

G_BEGIN_DECLS

/* The run object's properties (CamelCase) as a record (snake_case keys,
 * as Runs gives them), empty strings left out, with its @path. */
GVariant *st_cli_run_record (GVariant *properties, const char *path);

/* The run at @path as such a record, or NULL (reported, *status set). */
GVariant *st_cli_fetch_run (StCtl *ctl, const char *path, int *status);

/* A run record's counter @key (0 when it has none); its state is
 * st_campaign_run_state(). */
gint64 st_cli_run_count (GVariant *record, const char *key);

/* A run for people: its fields, then its summary (actions, messages by
 * channel, samples, errors) when it has one. */
void st_cli_print_run (StCtl *ctl, GVariant *record);

G_END_DECLS
