#pragma once

/* Private to the processing of one campaign batch: st-campaign-batch.c
 * claims it, reads its customers and commits; st-campaign-target.c runs
 * the script for each customer and gathers what the batch writes (the
 * messages and run_targets rows, set-based) and its summary. */

#include <glib.h>

#include "st-campaign-work.h"
#include "st-engine.h"
#include "st-script-run.h"

G_BEGIN_DECLS

/* One column of a multi-row write: a PostgreSQL array literal. */
typedef struct {
  GString *text;
} StPgArray;

enum {
  ST_MSG_CUSTOMER, ST_MSG_KEY, ST_MSG_CHANNEL, ST_MSG_SCRIPT, ST_MSG_TEMPLATE,
  ST_MSG_LOCALE, ST_MSG_RECIPIENT, ST_MSG_SUBJECT, ST_MSG_BODY, ST_MSG_DATA,
  ST_MSG_DELAY, ST_MSG_HTML, ST_MSG_COLUMNS
};

enum { ST_TARGET_ID, ST_TARGET_STATE, ST_TARGET_ERROR, ST_TARGET_COLUMNS };

typedef struct {
  StEngine *engine;
  StStore *store;
  StLua *lua;
  const gint *stopping;
  StCampaignScript campaign;

  /* The claimed batch and its run. */
  char *run_text, *batch_text;
  gint64 first_id;
  GArray *ids;         /* gint64, ascending */
  gboolean dry_run;
  char *zone;          /* local-time runs; else NULL */
  int attempts;
  char *last_error;
  GVariant *event;     /* what the script gets as `event` */
  StLuaRow event_row;  /* the same, as Lua gets it (texts below) */
  GStrv event_names, event_values;
  int *event_kinds;
  StTemplateCache *templates; /* read once for all its customers */

  /* What it writes: messages and targets as columns, the counts. */
  StPgArray messages[ST_MSG_COLUMNS];
  guint n_messages;
  StPgArray targets[ST_TARGET_COLUMNS];
  guint n_targets;
  gint64 sent, acted, skipped, failed;

  /* Its part of the run's summary. */
  GHashTable *actions;   /* action name → count */
  GHashTable *channels;  /* channel → count of sends */
  GPtrArray *samples;    /* JsonNode*, a few actions as they were asked */
  GPtrArray *errors;     /* JsonNode*, a few failures */

  GPtrArray *alerts;     /* a{sv}, announced after the commit */
} StBatch;

void st_batch_init (StBatch *batch, StEngine *engine, StStore *store,
                    StLua *lua);
void st_batch_clear (StBatch *batch);

/* Run the script for @customer (a{sv}, customer @id) and keep what it
 * decided: applied
 * in the transaction (under a savepoint) or gathered for the bulk write;
 * in a dry run only counted. A script that fails makes a failed target,
 * not an error: FALSE only when the transaction itself is lost. */
gboolean st_batch_run_target (StBatch *batch, gint64 id,
                              const StLuaRow *customer, GError **error);
/* A target with nothing run: it left the audience, or the batch failed. */
void st_batch_add_target (StBatch *batch, gint64 customer_id,
                          const char *state, const char *error);

/* Write the gathered messages and targets, one statement each. */
gboolean st_batch_write (StBatch *batch, GError **error);

/* The batch's part of the summary as JSON: actions and channels counted,
 * samples, errors. */
char *st_batch_summary_json (StBatch *batch);

G_END_DECLS
