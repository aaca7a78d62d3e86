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

/* Parse @path; relative `scripts` folders are resolved against the folder
 * holding @path. On a bad file, @error (ST_ERROR_INVALID_ARGUMENT) has a
 * message starting with "PATH:LINE:COLUMN: "; when @path cannot be read, the
 * message is "PATH: cannot read the configuration file: <OS reason>; ..."
 * and the code ST_ERROR_NOT_FOUND, ST_ERROR_PERMISSION_DENIED or
 * ST_ERROR_FAILED. */
StConfig *st_config_load (const char *path, GError **error);

/* The same from a string (@len -1: NUL-terminated); @name is used in
 * messages in place of a path, and `scripts` folders are kept as written. */
StConfig *st_config_load_from_data (const char *data, gssize len,
                                    const char *name, GError **error);

void st_config_free (StConfig *config);

/* TRUE when @name is a valid stage name: [a-z][a-z0-9_]{0,62}. */
gboolean st_config_stage_name_valid (const char *name);

/* Lookups on the lifecycle. */
const StStage *st_config_find_stage (const StConfig *config, const char *name);
const char *st_config_initial_stage (const StConfig *config);
gboolean st_config_transition_allowed (const StConfig *config,
                                       const char *from, const char *to);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StConfig, st_config_free)

G_END_DECLS
