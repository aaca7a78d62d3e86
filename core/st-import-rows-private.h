#pragma once

/* Private to the import's row handling: st-import-rows.c (options and
 * header) and st-import-convert.c (one record to COPY text). */

#include "st-import-rows.h"
#include "st-import-values.h"

G_BEGIN_DECLS

enum { F_REF, F_NAME, F_EMAIL, F_PHONE, F_LOCALE, F_TZ, F_OWNER, F_TAGS };
enum { F_CUSTOMER, F_KIND, F_AT, F_AMOUNT, F_KEY };
#define N_FIELDS 8

/* The fields of each kind of import, in the order of the enums. */
extern const char *const st_import_customer_fields[];
extern const char *const st_import_event_fields[];

typedef struct {
  char *kind;
  char *column;
  char *pattern; /* without the '*' */
  gboolean prefix;
  int index;     /* the column's index, once the header is read */
} StImportKindRule;

typedef struct {
  int column;
  char *key; /* after "attr." or "data." */
} StImportExtra;

struct _StImportRows {
  StImportKind kind;
  GHashTable *map; /* column → field, from the options */
  StImportTimeFormat *time_format;
  char decimal;
  char delimiter;
  char *encoding; /* NULL: UTF-8 */
  char *default_kind;
  GPtrArray *rules; /* StImportKindRule* */
  gboolean create_customers;
  gboolean raw_refs;
  guint chunk;
  gint64 latest_usec;

  guint n_columns;
  int columns[N_FIELDS]; /* field → column index, -1 for none */
  GArray *extras;        /* StImportExtra */
  GPtrArray *ignored;

  GHashTable *kinds;  /* events: kinds staged */
  GHashTable *refs;   /* customers: ref → first line */
  GHashTable *emails; /* customers: lower-case e-mail → first line */
  GString *value;     /* scratch: an amount */
  GString *at_text;   /* scratch: a time */
  GString *json;
  GString *ref_scratch;
};

/* An event kind as RecordEvent takes it: [a-z][a-z0-9_.-]{0,63}. */
gboolean st_import_valid_kind (const char *kind);

G_END_DECLS
