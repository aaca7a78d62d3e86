#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The daemon's configuration: one YAML file. Every key is known; an unknown
 * key or a bad value is an error naming file:line:column. */

typedef enum {
  ST_BUS_SESSION,
  ST_BUS_SYSTEM,
} StBusType;

typedef struct {
  char *name;          /* stage name, [a-z][a-z0-9_]* */
  GStrv next;          /* stages it may move to (NULL-terminated, may be empty) */
} StStage;

typedef struct {
  char *path;          /* the file it was read from, or NULL for defaults */
  char *database;      /* libpq conninfo; NULL: STEWARD_DATABASE or the PG* variables */
  StBusType bus;
  guint workers;       /* D-Bus worker threads, each with its own connection; 1..256 */
  GStrv scripts;       /* script folders (issue 3 reads them) */
  GPtrArray *stages;   /* of StStage*, in file order; the first is the initial stage */
} StConfig;

/* Defaults: no database (environment), session bus, 4 workers, no script
 * folders, and the default lifecycle of DESIGN.md:
 * lead → onboarding → active ⇄ at_risk → churned → active. */
StConfig *st_config_new_default (void);

/* Parse @path. On error, @error's message starts with "PATH:LINE:COLUMN: ". */
StConfig *st_config_load (const char *path, GError **error);

/* The same from a string; @name is used in messages in place of a path. */
StConfig *st_config_load_from_data (const char *data, gssize len,
                                    const char *name, GError **error);

void st_config_free (StConfig *config);

/* Lookups on the lifecycle. */
const StStage *st_config_find_stage (const StConfig *config, const char *name);
const char *st_config_initial_stage (const StConfig *config);
gboolean st_config_transition_allowed (const StConfig *config,
                                       const char *from, const char *to);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StConfig, st_config_free)

G_END_DECLS
