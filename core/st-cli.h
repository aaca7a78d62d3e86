#pragma once

#include <gio/gio.h>
#include <stdio.h>

G_BEGIN_DECLS

/* What every stewardctl command shares: the state of one run, the command
 * table's entries, help and usage errors, option parsing, the D-Bus call
 * with its failures reported for people, and records printed as key: value
 * blocks or JSON. The commands themselves are st-cli-<noun>.c; the pure
 * formatting and parsing helpers they use are st-cli-output.h and
 * st-cli-input.h. */

#define ST_CLI_CUSTOMERS_IFACE "org.steward.Steward1.Customers"
#define ST_CLI_MANAGER_IFACE "org.steward.Steward1.Manager"
#define ST_CLI_ALERTS_IFACE "org.steward.Steward1.Alerts"
#define ST_CLI_SCRIPTS_IFACE "org.steward.Steward1.Scripts"
#define ST_CLI_MESSAGES_IFACE "org.steward.Steward1.Messages"
#define ST_CLI_CAMPAIGNS_IFACE "org.steward.Steward1.Campaigns"
#define ST_CLI_RUN_IFACE "org.steward.Steward1.Run"

enum
{
  ST_CLI_EXIT_OK = 0,
  ST_CLI_EXIT_FAILURE = 1,
  ST_CLI_EXIT_USAGE = 2,
};

typedef struct
{
  gboolean json;
  gboolean system;
  gboolean help;
  GDBusConnection *bus;
  GTimeZone *local;
  GDateTime *now;
} StCtl;

void st_ctl_clear (StCtl *ctl);

typedef struct _StCliCommand StCliCommand;
/* @args: "stewardctl" then the words after the command's; the command
 * parses its options out of it. Returns the exit status. */
typedef int (*StCliCommandFunc) (StCtl *ctl, const StCliCommand *command, GStrv *args);

struct _StCliCommand
{
  const char *noun;
  const char *verb; /* NULL when the noun alone is the command */
  const char *usage;
  const char *summary;
  StCliCommandFunc run;
};

/* ---- help and usage ---- */

/* Help for the whole program, and for the verbs of @noun; @commands is the
 * table, ended by an entry whose noun is NULL. */
void st_cli_print_top_help (FILE *stream, const StCliCommand *commands);
void st_cli_print_noun_help (FILE *stream, const StCliCommand *commands, const char *noun);

/* Reports a usage error of @command (NULL: of the command line as a whole)
 * and returns the usage exit status. */
/* Read --limit's @text (when given) into @limit and the "limit" key of
 * @dict. Returns -1 when fine, else the usage exit status (message printed). */
int st_cli_take_limit (const StCliCommand *command, const char *text,
                       GVariantDict *dict, guint32 *limit);
/* Adds @key to a list's filter when @value is not NULL. */
void st_cli_filter_add (GVariantDict *filter, const char *key,
                        const char *value);
/* Calls a list method (@method of @iface, one a{sv} filter, aa{sv} back)
 * and returns the list for a table; with --json prints it instead and
 * returns NULL with *status 0. NULL with *status set when the call failed
 * (reported). */
GVariant *st_cli_list_call (StCtl *ctl, const char *iface,
                            const char *method, GVariantDict *filter,
                            int *status);
typedef struct _StCliTable StCliTable;
/* Prints a list's table, or @empty when it has no row, and says on stderr
 * when the list may have been cut at @limit. The exit status. */
int st_cli_list_print (StCliTable *table, guint limit, const char *empty);

int st_cli_usage_error (const StCliCommand *command, const char *format, ...)
  G_GNUC_PRINTF (2, 3);

/* ---- command-line parsing ---- */

/* Takes a global flag given before the command words. */
gboolean st_cli_take_global_flag (StCtl *ctl, const char *arg);

/* Parses @args (its first element names the program) against @entries and
 * the global options, leaving the positional arguments in @args[1..], and
 * checks that there are as many as @positional names ("ID|REF STAGE").
 * Returns -1 to go on, else the exit status (help printed, or usage error
 * reported). */
int st_cli_parse_command_line (StCtl *ctl, const StCliCommand *command,
                               const GOptionEntry *entries, GStrv *args,
                               const char *positional);

/* ---- talking to stewardd ---- */

/* Calls @method of @iface; on failure reports it and returns NULL with
 * *status set to the exit status. */
GVariant *st_cli_call (StCtl *ctl, const char *iface, const char *method, GVariant *parameters,
                       const char *reply_type, int *status);
/* The same on another object than /org/steward/Steward1 (a campaign run). */
GVariant *st_cli_call_object (StCtl *ctl, const char *path, const char *iface,
                              const char *method, GVariant *parameters,
                              const char *reply_type, int *status);
/* The same with a timeout of the call's own (ms; -1: D-Bus's 25 s,
 * G_MAXINT: none, for calls the daemon bounds itself). */
GVariant *st_cli_call_object_timeout (StCtl *ctl, const char *path, const char *iface,
                                      const char *method, GVariant *parameters,
                                      const char *reply_type, int timeout_ms,
                                      int *status);
/* Connects ctl->bus when it is not yet; on failure reports it and returns
 * FALSE with *status set. */
gboolean st_cli_connect (StCtl *ctl, int *status);
/* Reports a failed call of @method ("Import.Events") made some other way
 * (asynchronously, with file descriptors) as st_cli_call() does, and
 * returns the exit status. */
int st_cli_report_call_error (StCtl *ctl, GError *error, const char *method);

/* ---- printing replies ---- */

typedef enum
{
  ST_CLI_FIELD_TEXT,
  ST_CLI_FIELD_TIME,     /* local time and how long ago */
  ST_CLI_FIELD_AMOUNT,   /* money: two decimals */
  ST_CLI_FIELD_DURATION, /* seconds as "3h 12m" */
  ST_CLI_FIELD_HEALTH,   /* a score with the record's risk_level: "72 (low risk)" */
  ST_CLI_FIELD_RISK,     /* risk_level: shown with the health score, alone without one */
  ST_CLI_FIELD_FACTORS,  /* a{sv} of numbers, largest first: "recency 30.2, nps 7.5" */
} StCliFieldKind;

/* One field of a record as st_cli_print_record() shows it; tables of them
 * end with an entry whose key is NULL. */
typedef struct
{
  const char *key;
  const char *label;
  StCliFieldKind kind;
} StCliField;

void st_cli_out (const char *text);

/* An ISO-8601 time from the daemon in the local time zone. */
char *st_cli_local_time (StCtl *ctl, const char *iso);

/* The record as a key: value block, @fields in their order, then any field
 * a newer daemon sends under its own name. */
void st_cli_print_record (StCtl *ctl, GVariant *record, const StCliField *fields);

/* @value as indented JSON, and a newline. */
void st_cli_print_json (GVariant *value);

/* The text of @key in @record, or NULL (or @fallback) when it has none. */
char *st_cli_lookup_text (GVariant *record, const char *key);
char *st_cli_lookup_text_or (GVariant *record, const char *key, const char *fallback);

G_END_DECLS
