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

/* One entry of `channels`: a channel name, the plugin delivering it, and
 * the channel's own delivery policy. */
typedef struct {
  char *name;           /* channel name, or "*" for any channel without its own entry */
  char *plugin;         /* plugin name, [a-z][a-z0-9_-]{0,62} */
  GHashTable *settings; /* the plugin's settings: the entry's other keys,
                         * char* → char* (plugin and the policy keys below
                         * excluded) */
  /* The policy keys, which belong to the daemon; 0 (NULL) where the entry
   * does not say, and `delivery` then applies (st_config_channel_policy). */
  guint max_attempts;      /* 1..1000 */
  guint64 backoff_ms;      /* 100ms..30d */
  guint64 max_backoff_ms;  /* 100ms..30d */
  double rate_limit;       /* messages per second, 1/3600..10000; 0: none */
  char *rate_limit_text;   /* as written ("10/s", "600/m"), for messages */
  gsize line, column;      /* where the entry is in the file (1-based; 0
                            * when not read from one), for messages */
} StChannelConfig;

/* How messages of one channel are delivered: the channel's own keys, else
 * the `delivery` section's. */
typedef struct {
  guint max_attempts;
  guint64 backoff_ms, max_backoff_ms; /* max_backoff_ms >= backoff_ms */
  double rate_limit;                  /* per second; 0: none */
} StDeliveryPolicy;

/* One entry of `caps`: at most @max messages sent to one customer on one
 * channel within any @per_seconds. */
typedef struct {
  char *channel;        /* channel name, or "*" for each channel */
  guint max;            /* 1..1000000 */
  gint64 per_seconds;   /* > 0 */
  char *per;            /* the window as written ("7d"), for messages */
  gboolean suppress;    /* TRUE: suppress the message; FALSE: defer it */
} StCapConfig;

/* campaigns.catch_up: what the scheduler does with the occurrences it
 * missed while no daemon was leading (docs/campaigns.md). */
typedef enum {
  ST_CATCH_UP_LATEST, /* run the latest missed occurrence only */
  ST_CATCH_UP_ALL,    /* run each missed occurrence */
  ST_CATCH_UP_NONE,   /* run none that is late */
} StCatchUp;

/* Access roles (docs/config.md#access), weakest first: each role may do
 * what the ones before it may. ST_ROLE_NONE may call nothing; it is also
 * what a D-Bus method without an access rule requires, so such a method
 * is refused to everyone. */
typedef enum {
  ST_ROLE_NONE,
  ST_ROLE_VIEWER,
  ST_ROLE_MANAGER,
  ST_ROLE_ADMIN,
} StRole;

/* One entry of access.users or access.groups: a name or a numeric id, and
 * the role it gives. */
typedef struct {
  char *name;        /* as written: a name, or the id's digits */
  gboolean numeric;  /* a uid (users) or gid (groups), not a name */
  guint32 id;        /* when numeric */
  StRole role;
} StAccessRule;

typedef struct {
  char *path;          /* the file it was read from, or NULL for defaults */
  char *database;      /* libpq conninfo; NULL: STEWARD_DATABASE or the PG* variables */
  StBusType bus;
  guint workers;       /* D-Bus worker threads, each with its own connection; 1..256 */
  GStrv scripts;       /* script folders (issue 3 reads them) */
  GPtrArray *stages;   /* of StStage*, in file order; the first is the initial stage */

  /* lua: limits per script call */
  guint64 lua_instructions; /* VM instructions; default 10000000 */
  guint lua_timeout_ms;     /* wall clock; default 2000 */
  gsize lua_memory;         /* bytes per Lua state; default 32 MiB */

  guint care_workers;       /* threads running scripts, 1..64; default 2 */
  /* Events older than this (occurred_at before now - recent, when they
   * are recorded) queue no care jobs: imported history is not thanked.
   * 1 minute to 36500 days; default 7 days. */
  guint64 care_recent_ms;

  /* delivery: the outbox workers */
  guint delivery_workers;           /* 1..64; default 2 */
  guint delivery_max_attempts;      /* 1..1000; default 8 */
  guint64 delivery_backoff_ms;      /* first retry delay; default 30 s */
  guint64 delivery_max_backoff_ms;  /* >= backoff; default 6 h */

  char *plugin_dir;    /* NULL: $STEWARD_PLUGIN_DIR, else the compiled-in folder */
  GPtrArray *channels; /* of StChannelConfig*, in file order; empty by default */

  /* quiet_hours, in each customer's own zone: [start, end) in minutes after
   * local midnight; start > end spans midnight. */
  gboolean quiet_hours;
  guint quiet_start;   /* 0..1439 */
  guint quiet_end;     /* 0..1439, != quiet_start */
  GStrv quiet_channels; /* the channels it holds; NULL: all */

  char *default_tz;    /* zone of customers without one; default "UTC" */
  GPtrArray *caps;     /* of StCapConfig*, in file order; empty by default */

  /* campaigns: scheduled runs */
  guint campaign_workers;     /* threads processing batches, 1..64; default 2 */
  guint campaign_batch_size;  /* customers per batch, 1..100000; default 1000 */
  StCatchUp campaign_catch_up; /* default ST_CATCH_UP_LATEST */
  guint campaign_check_ms;    /* the scheduler's period, 100ms..1h; default 5 s */

  /* access: who may call which D-Bus method (st-access.c). Without an
   * access section in the file, access is FALSE and every caller on the
   * bus is admin, as before roles existed. */
  gboolean access;
  StRole access_default;      /* callers no rule names; default none */
  GPtrArray *access_users;    /* of StAccessRule*, in file order */
  GPtrArray *access_groups;   /* of StAccessRule*, in file order */
  gboolean access_managers_own; /* manager_scope: own */
} StConfig;

/* Defaults: no database (environment), session bus, 4 workers, no script
 * folders, and the default lifecycle of DESIGN.md:
 * lead → onboarding → active ⇄ at_risk → churned → active; Lua limits
 * 10M instructions, 2 s, 32 MiB; 2 care workers and a recent window of 7
 * days; 2 delivery workers, 8 attempts, backoff 30 s up to 6 h; the
 * default plugin folder; no channels,
 * no quiet hours, default_tz UTC, no caps; 2 campaign workers, batches of
 * 1000, catch-up latest, a schedule check every 5 s; no access section
 * (every caller is admin). */
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

/* The channel entry for @name: its own entry, else the "*" entry, else
 * NULL (no channel of that name is configured). */
const StChannelConfig *st_config_find_channel (const StConfig *config,
                                               const char *name);

/* Prefix @error's message with "PATH:LINE:COLUMN: " of @channel's entry in
 * @config's file, as errors in the file itself are; nothing when @config
 * was not read from a file. For what a channel's plugin refuses. */
void st_config_prefix_channel_error (const StConfig *config,
                                     const StChannelConfig *channel,
                                     GError **error);

/* The policy of @channel (NULL: the `delivery` section's alone). A channel
 * that writes only one of backoff and max_backoff gets the other from
 * `delivery`, stretched to fit: max_backoff is at least the backoff. */
void st_config_channel_policy (const StConfig *config,
                               const StChannelConfig *channel,
                               StDeliveryPolicy *policy);

/* Durations as the file writes them: @ms in the largest unit that divides
 * it exactly ("7d", "90s", "1500ms"; "0s" for 0). */
char *st_config_format_duration (guint64 ms);

/* "admin", "manager", "viewer" or "none". */
const char *st_role_name (StRole role);
/* The role named @name, as st_role_name writes it; FALSE for another word. */
gboolean st_role_from_name (const char *name, StRole *role);

void st_access_rule_free (StAccessRule *rule);
void st_channel_config_free (StChannelConfig *channel);
void st_cap_config_free (StCapConfig *cap);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StConfig, st_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StChannelConfig, st_channel_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StCapConfig, st_cap_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StAccessRule, st_access_rule_free)

G_END_DECLS
