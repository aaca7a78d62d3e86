#include "st-customers.h"

#include <string.h>

#include "st-error.h"
#include "st-json.h"
#include "st-record.h"
#include "st-triggers.h"
#include "st-validate.h"

#define CUSTOMER_COLUMNS ST_CUSTOMER_COLUMNS

/* Tags travel to SQL as a JSON array: no array-literal quoting to get wrong. */
#define TAGS_FROM_JSON(param) \
  "ARRAY(SELECT jsonb_array_elements_text(COALESCE(" param "::jsonb, '[]')))"

ST_STATEMENT_DEFINE (st_sql_resolve, 2,
  ST_CUSTOMERS_RESOLVE_SQL ("$1", "$2"));

ST_STATEMENT_DEFINE (st_sql_resolve_lock, 2,
  ST_CUSTOMERS_RESOLVE_SQL ("$1", "$2") " FOR UPDATE");

ST_STATEMENT_DEFINE (st_sql_customer_record, 1,
  "SELECT " CUSTOMER_COLUMNS " FROM customers WHERE id = $1");

ST_STATEMENT_DEFINE (st_sql_customer_insert, 11,
  "WITH c AS ("
  "  INSERT INTO customers (ref, name, email, phone, locale, tz, owner, tags,"
  "                         attrs, stage)"
  "  VALUES ($1, $2, $3, $4, $5, $6, $7,"
  "          ARRAY(SELECT DISTINCT t FROM unnest(" TAGS_FROM_JSON ("$8")
  ") AS t ORDER BY t),"
  "          COALESCE($9::jsonb, '{}'), $10)"
  "  RETURNING id, stage)"
  "INSERT INTO stage_history (customer_id, from_stage, to_stage, actor, reason)"
  " SELECT id, NULL, stage, $11, 'created' FROM c RETURNING customer_id, id");

ST_STATEMENT_DEFINE (st_sql_customer_update, 12,
  "UPDATE customers SET"
  "  name = COALESCE($2, name),"
  "  email = CASE WHEN $3::text IS NULL THEN email ELSE NULLIF($3, '') END,"
  "  phone = CASE WHEN $4::text IS NULL THEN phone ELSE NULLIF($4, '') END,"
  "  ref = CASE WHEN $5::text IS NULL THEN ref ELSE NULLIF($5, '') END,"
  "  owner = CASE WHEN $6::text IS NULL THEN owner ELSE NULLIF($6, '') END,"
  "  locale = CASE WHEN $7::text IS NULL THEN locale ELSE NULLIF($7, '') END,"
  "  tz = CASE WHEN $8::text IS NULL THEN tz ELSE NULLIF($8, '') END,"
  "  tags = ARRAY(SELECT DISTINCT t FROM unnest("
  "           CASE WHEN $9::jsonb IS NULL THEN tags"
  "                ELSE " TAGS_FROM_JSON ("$9") " END"
  "           || " TAGS_FROM_JSON ("$10") ") AS t"
  "         WHERE t <> ALL (" TAGS_FROM_JSON ("$11") ") ORDER BY t),"
  "  attrs = CASE WHEN $12::jsonb IS NULL THEN attrs ELSE"
  "    (SELECT COALESCE(jsonb_object_agg(k, v), '{}')"
  "       FROM jsonb_each(attrs || $12::jsonb) AS e(k, v)"
  "      WHERE v <> '\"\"'::jsonb) END,"
  "  updated_at = now()"
  " WHERE id = $1");

ST_STATEMENT_DEFINE (st_sql_customer_stage, 1,
  "SELECT stage FROM customers WHERE id = $1 FOR UPDATE");

ST_STATEMENT_DEFINE (st_sql_customer_set_stage, 5,
  "WITH c AS ("
  "  UPDATE customers SET stage = $2, stage_since = now(), updated_at = now()"
  "   WHERE id = $1 RETURNING id)"
  "INSERT INTO stage_history (customer_id, from_stage, to_stage, actor, reason)"
  " SELECT id, $3, $2, $4, NULLIF($5, '') FROM c RETURNING customer_id, id");

ST_STATEMENT_DEFINE (st_sql_customer_owner, 1,
  "SELECT owner FROM customers WHERE id = $1");

/* The customers of many addresses at once: ids and refs travel as JSON
 * arrays (no array-literal quoting), and the primary key and the ref
 * index answer each = ANY. */
ST_STATEMENT_DEFINE (st_sql_customer_owners, 2,
  "SELECT id, ref, owner FROM customers"
  " WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb)"
  "                            ::bigint))"
  "    OR ref = ANY (ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))");

ST_STATEMENT_DEFINE (st_sql_customer_owner_of_ref, 1,
  "SELECT id FROM customers WHERE ref = $1");

ST_STATEMENT_DEFINE (st_sql_customer_owner_of_email, 1,
  "SELECT id FROM customers WHERE lower(email) = lower($1)");

ST_STATEMENT_DEFINE (st_sql_timeline, 3,
  "SELECT * FROM ("
  "  SELECT 'event' AS type, id, occurred_at AS at, kind, amount, data,"
  "         idem_key AS key, NULL AS \"from\", NULL AS \"to\", NULL AS actor,"
  "         NULL AS reason"
  "    FROM events WHERE customer_id = $1"
  "  UNION ALL"
  "  SELECT 'stage', id, changed_at, NULL, NULL, NULL, NULL, from_stage,"
  "         to_stage, actor, reason"
  "    FROM stage_history WHERE customer_id = $1"
  ") t ORDER BY at DESC, type, id DESC LIMIT $2 OFFSET $3");

/* Find is written with its optional filters folded at plan time, so it runs
 * unprepared: every call gets a plan for its own filter. */
static const char st_sql_find[] =
  "SELECT " CUSTOMER_COLUMNS " FROM customers"
  " WHERE ($1::text IS NULL OR stage = $1)"
  "   AND ($2::text IS NULL OR owner = $2)"
  "   AND ($3::text IS NULL OR tags @> ARRAY[$3::text])"
  " ORDER BY id LIMIT $4 OFFSET $5";

/* Addressing -------------------------------------------------------- */

static gboolean
parse_id (const char *text, gint64 *id)
{
  guint64 value;

  if (text[0] == '\0' || strspn (text, "0123456789") != strlen (text))
    return FALSE;
  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &value, NULL))
    return FALSE;
  *id = (gint64) value;
  return TRUE;
}

gboolean
st_customers_address_parse (const char *address, char **id_text,
                            const char **ref, GError **error)
{
  gint64 number;

  *id_text = NULL;
  *ref = NULL;
  if (address == NULL || address[0] == '\0')
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "customer: give the customer's id or ref");
      return FALSE;
    }
  if (g_str_has_prefix (address, "id:"))
    {
      if (!parse_id (address + 3, &number))
        {
          g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                       "customer: '%s' is not a valid id; write id:N with N "
                       "a positive whole number", address);
          return FALSE;
        }
      *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, number);
    }
  else if (g_str_has_prefix (address, "ref:"))
    *ref = address + 4;
  else
    {
      *ref = address;
      if (parse_id (address, &number))
        *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, number);
    }
  return TRUE;
}

gboolean
st_customers_address_check (const char *address, int matches, GError **error)
{
  if (matches == 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                   "no customer with id or ref '%s'; 'stewardctl customer "
                   "list' shows the customers there are", address);
      return FALSE;
    }
  if (matches > 1)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "customer: '%s' is both the id of one customer and the ref "
                   "of another; write id:%s or ref:%s to say which",
                   address, address, address);
      return FALSE;
    }
  return TRUE;
}

gboolean
st_customers_resolve (StStore *store, const char *address, gboolean lock,
                      gint64 *id, GError **error)
{
  g_autofree char *id_text = NULL;
  const char *ref = NULL;
  g_autoptr (PGresult) res = NULL;
  const char *params[2];

  if (!st_customers_address_parse (address, &id_text, &ref, error))
    return FALSE;
  params[0] = id_text;
  params[1] = ref;
  res = st_store_exec (store, lock ? &st_sql_resolve_lock : &st_sql_resolve,
                       params, error);
  if (res == NULL
      || !st_customers_address_check (address, PQntuples (res), error))
    return FALSE;
  *id = g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
  return TRUE;
}

/* The row (by_id: id text → row, by_ref: ref → row) that @address names,
 * or -1 after setting @error. */
static int
match_row (GHashTable *by_id, GHashTable *by_ref, const char *address,
           GError **error)
{
  g_autofree char *id_text = NULL;
  const char *ref = NULL;
  gpointer id_row = NULL, ref_row = NULL;
  gboolean by_id_found, by_ref_found;

  if (!st_customers_address_parse (address, &id_text, &ref, error))
    return -1;
  by_id_found = id_text != NULL
                && g_hash_table_lookup_extended (by_id, id_text, NULL,
                                                 &id_row);
  by_ref_found = ref != NULL
                 && g_hash_table_lookup_extended (by_ref, ref, NULL,
                                                  &ref_row);
  /* The same customer by id and by ref is one match, as in resolve. */
  if (!st_customers_address_check (address,
                      by_id_found && by_ref_found
                          ? (id_row == ref_row ? 1 : 2)
                          : (by_id_found || by_ref_found ? 1 : 0),
                      error))
    return -1;
  return GPOINTER_TO_INT (by_id_found ? id_row : ref_row);
}

gboolean
st_customers_owners (StStore *store, const char *const *addresses, guint n,
                     gint64 *ids, char **owners, GError **error)
{
  g_autoptr (GPtrArray) id_texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) refs = g_ptr_array_new ();
  g_autoptr (GHashTable) by_id = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) by_ref = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (PGresult) res = NULL;
  g_autoptr (GVariant) ids_value = NULL, refs_value = NULL;
  g_autofree char *ids_json = NULL, *refs_json = NULL;

  for (guint i = 0; i < n; i++)
    {
      char *id_text;
      const char *ref;

      if (!st_customers_address_parse (addresses[i], &id_text, &ref, error))
        return FALSE;
      if (id_text != NULL)
        g_ptr_array_add (id_texts, id_text);
      if (ref != NULL)
        g_ptr_array_add (refs, (gpointer) ref);
    }
  ids_value = g_variant_ref_sink (g_variant_new_strv (
      (const char *const *) id_texts->pdata, id_texts->len));
  refs_value = g_variant_ref_sink (g_variant_new_strv (
      (const char *const *) refs->pdata, refs->len));
  ids_json = st_json_variant_to_string (ids_value, FALSE);
  refs_json = st_json_variant_to_string (refs_value, FALSE);
  if (!st_store_begin (store, error))
    return FALSE;
  res = st_store_exec (store, &st_sql_customer_owners,
                       (const char *[]){ ids_json, refs_json }, error);
  st_store_rollback (store);
  if (res == NULL)
    return FALSE;

  for (int row = 0; row < PQntuples (res); row++)
    {
      g_hash_table_insert (by_id, PQgetvalue (res, row, 0),
                           GINT_TO_POINTER (row));
      if (!PQgetisnull (res, row, 1))
        g_hash_table_insert (by_ref, PQgetvalue (res, row, 1),
                             GINT_TO_POINTER (row));
    }
  for (guint i = 0; i < n; i++)
    {
      int row = match_row (by_id, by_ref, addresses[i], error);

      if (row < 0)
        return FALSE;
      ids[i] = g_ascii_strtoll (PQgetvalue (res, row, 0), NULL, 10);
      owners[i] = PQgetisnull (res, row, 2)
                      ? NULL
                      : g_strdup (PQgetvalue (res, row, 2));
    }
  return TRUE;
}

const StStatement *
st_customers_record_statement (void)
{
  return &st_sql_customer_record;
}

GVariant *
st_customers_record_from_result (PGresult *res, gint64 id, GError **error)
{
  if (PQntuples (res) == 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                   "no customer with id %" G_GINT64_FORMAT, id);
      return NULL;
    }
  return g_variant_ref_sink (st_record_from_row (res, 0));
}

GVariant *
st_customers_record (StStore *store, gint64 id, GError **error)
{
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  const char *params[] = { id_text };
  g_autoptr (PGresult) res = st_store_exec (store, &st_sql_customer_record,
                                            params, error);

  return res == NULL ? NULL : st_customers_record_from_result (res, id, error);
}

/* Fields -------------------------------------------------------------- */

typedef enum {
  FIELD_EMAIL,
  FIELD_PHONE,
  FIELD_REF,
  FIELD_OWNER,
  FIELD_LOCALE,
  FIELD_TZ,
  N_OPTIONAL_FIELDS
} OptionalField;

typedef gboolean (*Validator) (const char *value, GError **error);

static const struct {
  const char *key;
  Validator validate;
} optional_fields[N_OPTIONAL_FIELDS] = {
  [FIELD_EMAIL] = { "email", st_validate_email },
  [FIELD_PHONE] = { "phone", st_validate_phone },
  [FIELD_REF] = { "ref", st_validate_ref },
  [FIELD_OWNER] = { "owner", st_validate_owner },
  [FIELD_LOCALE] = { "locale", st_validate_locale },
  [FIELD_TZ] = { "tz", st_validate_tz },
};

/* Customer fields read from an a{sv}, trimmed and validated. NULL means
 * "not given"; "" means "clear" (on update). */
typedef struct {
  char *name;
  char *optional[N_OPTIONAL_FIELDS];
  char *tags_json;
  char *add_tags_json;
  char *remove_tags_json;
  char *attrs_json;
  char *stage;
} Fields;

static void
fields_clear (Fields *f)
{
  g_free (f->name);
  for (guint i = 0; i < N_OPTIONAL_FIELDS; i++)
    g_free (f->optional[i]);
  g_free (f->tags_json);
  g_free (f->add_tags_json);
  g_free (f->remove_tags_json);
  g_free (f->attrs_json);
  g_free (f->stage);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fields, fields_clear)

static gboolean
read_trimmed (GVariant *dict, const char *key, char **out, GError **error)
{
  const char *value = NULL;

  if (!st_record_get_string (dict, key, &value, error))
    return FALSE;
  if (value != NULL)
    *out = g_strstrip (g_strdup (value));
  return TRUE;
}

static gboolean
read_tags (GVariant *dict, const char *key, char **json, GError **error)
{
  g_auto (GStrv) tags = NULL;
  g_autoptr (GVariant) list = NULL;

  if (!st_record_get_strv (dict, key, &tags, error))
    return FALSE;
  if (tags == NULL)
    return TRUE;
  for (guint i = 0; tags[i] != NULL; i++)
    if (!st_validate_tag (tags[i], error))
      return FALSE;
  /* st_record_to_json() does not take the floating reference. */
  list = g_variant_ref_sink (
      g_variant_new_strv ((const char *const *) tags, -1));
  *json = st_record_to_json (list);
  return TRUE;
}

static gboolean
read_fields (GVariant *dict, gboolean updating, Fields *f, GError **error)
{
  static const char *const create_keys[] = {
    "name", "email", "phone", "ref", "owner", "locale", "tz", "tags",
    "attrs", "stage", NULL
  };
  static const char *const update_keys[] = {
    "name", "email", "phone", "ref", "owner", "locale", "tz", "tags",
    "add_tags", "remove_tags", "attrs", NULL
  };
  GVariant *attrs = NULL;
  g_autoptr (GVariant) stage = g_variant_lookup_value (dict, "stage", NULL);

  if (updating && stage != NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "stage: use SetStage ('stewardctl customer stage') to move "
                   "a customer, so the move is checked and recorded");
      return FALSE;
    }
  if (!st_record_check_keys (dict, updating ? update_keys : create_keys,
                             "customer", error))
    return FALSE;

  if (!read_trimmed (dict, "name", &f->name, error))
    return FALSE;
  if (f->name != NULL || !updating)
    if (!st_validate_name (f->name ? f->name : "", error))
      return FALSE;

  for (guint i = 0; i < N_OPTIONAL_FIELDS; i++)
    {
      char **value = &f->optional[i];
      if (!read_trimmed (dict, optional_fields[i].key, value, error))
        return FALSE;
      if (*value == NULL)
        continue;
      if ((*value)[0] == '\0')
        {
          if (!updating)
            g_clear_pointer (value, g_free);
          continue;
        }
      if (!optional_fields[i].validate (*value, error))
        return FALSE;
    }

  if (!read_tags (dict, "tags", &f->tags_json, error)
      || !read_tags (dict, "add_tags", &f->add_tags_json, error)
      || !read_tags (dict, "remove_tags", &f->remove_tags_json, error))
    return FALSE;

  if (!st_record_get_dict (dict, "attrs", &attrs, error))
    return FALSE;
  if (attrs != NULL)
    {
      f->attrs_json = st_record_to_json (attrs);
      g_variant_unref (attrs);
    }
  return read_trimmed (dict, "stage", &f->stage, error);
}

/* A unique violation, told in the customer's words. */
static void
explain_conflict (StStore *store, const Fields *f, GError **error)
{
  const char *constraint = st_store_last_constraint (store);
  const StStatement *stmt;
  const char *field, *value;
  g_autoptr (PGresult) res = NULL;
  const char *owner = "another customer";
  g_autofree char *owner_text = NULL;

  st_store_rollback (store);
  if (g_strcmp0 (constraint, "customers_ref_key") == 0)
    stmt = &st_sql_customer_owner_of_ref, field = "ref",
    value = f->optional[FIELD_REF];
  else if (g_strcmp0 (constraint, "customers_email_key") == 0)
    stmt = &st_sql_customer_owner_of_email, field = "email",
    value = f->optional[FIELD_EMAIL];
  else
    return;

  res = st_store_exec (store, stmt, &value, NULL);
  if (res != NULL && PQntuples (res) > 0)
    owner = owner_text = g_strdup_printf ("customer %s",
                                          PQgetvalue (res, 0, 0));
  g_clear_error (error);
  g_set_error (error, ST_ERROR, ST_ERROR_ALREADY_EXISTS,
               "%s: '%s' is already used by %s%s; use another %s or edit "
               "that customer", field, value, owner,
               g_str_equal (field, "email") ? " (e-mail addresses are unique "
                                              "whatever their case)" : "",
               field);
}

/* Entering a stage is a trigger ("stage:<name>") for the scripts. */
static gboolean
fire_stage_entry (StStore *store, PGresult *history, const char *stage,
                  GError **error)
{
  g_autofree char *trigger = g_strconcat ("stage:", stage, NULL);

  return st_triggers_fire (st_store_get_triggers (store), store,
                           g_ascii_strtoll (PQgetvalue (history, 0, 0), NULL,
                                            10),
                           trigger, "stage",
                           g_ascii_strtoll (PQgetvalue (history, 0, 1), NULL,
                                            10),
                           error);
}

static GVariant *
commit_record (StStore *store, gint64 id, GError **error)
{
  g_autoptr (GVariant) record = st_customers_record (store, id, error);

  if (record == NULL || !st_store_commit (store, error))
    {
      st_store_rollback (store);
      return NULL;
    }
  return g_steal_pointer (&record);
}

GVariant *
st_customers_create (StStore *store, const StConfig *config, GVariant *fields,
                     const char *actor, GError **error)
{
  g_auto (Fields) f = { 0 };
  g_autoptr (PGresult) res = NULL;
  const char *stage;
  const char *params[11];
  g_autoptr (GError) local_error = NULL;

  if (!read_fields (fields, FALSE, &f, error))
    return NULL;
  stage = f.stage != NULL && f.stage[0] != '\0'
              ? f.stage : st_config_initial_stage (config);
  if (st_config_find_stage (config, stage) == NULL)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "stage: '%s' is not a stage of this lifecycle; see the "
                   "stages: section of the configuration", stage);
      return NULL;
    }

  params[0] = f.optional[FIELD_REF];
  params[1] = f.name;
  params[2] = f.optional[FIELD_EMAIL];
  params[3] = f.optional[FIELD_PHONE];
  params[4] = f.optional[FIELD_LOCALE];
  params[5] = f.optional[FIELD_TZ];
  params[6] = f.optional[FIELD_OWNER];
  params[7] = f.tags_json;
  params[8] = f.attrs_json;
  params[9] = stage;
  params[10] = actor;

  if (!st_store_begin (store, error))
    return NULL;
  res = st_store_exec (store, &st_sql_customer_insert, params, &local_error);
  if (res == NULL)
    {
      if (g_error_matches (local_error, ST_ERROR, ST_ERROR_ALREADY_EXISTS))
        explain_conflict (store, &f, &local_error);
      st_store_rollback (store);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (!fire_stage_entry (store, res, stage, error))
    {
      st_store_rollback (store);
      return NULL;
    }
  return commit_record (store, g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL,
                                                10),
                        error);
}

GVariant *
st_customers_get (StStore *store, const char *address, GError **error)
{
  gint64 id;
  g_autoptr (GVariant) record = NULL;

  if (!st_store_begin (store, error))
    return NULL;
  if (st_customers_resolve (store, address, FALSE, &id, error))
    record = st_customers_record (store, id, error);
  st_store_rollback (store);
  return g_steal_pointer (&record);
}

gboolean
st_customers_owner (StStore *store, const char *address, gint64 *id,
                    char **owner, GError **error)
{
  g_autoptr (PGresult) res = NULL;
  g_autofree char *id_text = NULL;

  if (!st_store_begin (store, error))
    return FALSE;
  if (st_customers_resolve (store, address, FALSE, id, error))
    {
      id_text = g_strdup_printf ("%" G_GINT64_FORMAT, *id);
      res = st_store_exec (store, &st_sql_customer_owner,
                           (const char *[]){ id_text }, error);
    }
  st_store_rollback (store);
  if (res == NULL)
    return FALSE;
  *owner = PQntuples (res) == 1 && !PQgetisnull (res, 0, 0)
               ? g_strdup (PQgetvalue (res, 0, 0))
               : NULL;
  return TRUE;
}

GVariant *
st_customers_update (StStore *store, const char *address, GVariant *fields,
                     GError **error)
{
  g_auto (Fields) f = { 0 };
  g_autoptr (PGresult) res = NULL;
  g_autofree char *id_text = NULL;
  gint64 id;
  const char *params[12];
  g_autoptr (GError) local_error = NULL;

  if (!read_fields (fields, TRUE, &f, error))
    return NULL;
  if (!st_store_begin (store, error))
    return NULL;
  if (!st_customers_resolve (store, address, TRUE, &id, error))
    {
      st_store_rollback (store);
      return NULL;
    }
  id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  params[0] = id_text;
  params[1] = f.name;
  params[2] = f.optional[FIELD_EMAIL];
  params[3] = f.optional[FIELD_PHONE];
  params[4] = f.optional[FIELD_REF];
  params[5] = f.optional[FIELD_OWNER];
  params[6] = f.optional[FIELD_LOCALE];
  params[7] = f.optional[FIELD_TZ];
  params[8] = f.tags_json;
  params[9] = f.add_tags_json;
  params[10] = f.remove_tags_json;
  params[11] = f.attrs_json;
  res = st_store_exec (store, &st_sql_customer_update, params, &local_error);
  if (res == NULL)
    {
      if (g_error_matches (local_error, ST_ERROR, ST_ERROR_ALREADY_EXISTS))
        explain_conflict (store, &f, &local_error);
      st_store_rollback (store);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return commit_record (store, id, error);
}

static gboolean
check_stage_name (const StConfig *config, const char *stage, GError **error)
{
  g_autoptr (GString) names = NULL;

  if (st_config_find_stage (config, stage) != NULL)
    return TRUE;
  names = g_string_new (NULL);
  for (guint i = 0; i < config->stages->len; i++)
    {
      const StStage *s = g_ptr_array_index (config->stages, i);
      g_string_append_printf (names, "%s%s", i ? ", " : "", s->name);
    }
  g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
               "stage: '%s' is not a stage; the stages are: %s", stage,
               names->str);
  return FALSE;
}

GVariant *
st_customers_find (StStore *store, const StConfig *config, GVariant *filter,
                   GError **error)
{
  static const char *const keys[] = { "stage", "owner", "tag", "limit",
                                      "offset", NULL };
  const char *stage = NULL, *owner = NULL, *tag = NULL;
  guint limit = 100, offset = 0;
  g_autofree char *limit_text = NULL, *offset_text = NULL;
  g_autoptr (PGresult) res = NULL;
  const char *params[5];

  if (!st_record_check_keys (filter, keys, "filter", error)
      || !st_record_get_string (filter, "stage", &stage, error)
      || !st_record_get_string (filter, "owner", &owner, error)
      || !st_record_get_string (filter, "tag", &tag, error)
      || !st_record_get_uint (filter, "limit", &limit, error)
      || !st_record_get_uint (filter, "offset", &offset, error))
    return NULL;
  if (stage != NULL && !check_stage_name (config, stage, error))
    return NULL;
  if (limit == 0 || limit > 10000)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "limit: %u is out of range; give 1 to 10000 and page with "
                   "offset", limit);
      return NULL;
    }
  limit_text = g_strdup_printf ("%u", limit);
  offset_text = g_strdup_printf ("%u", offset);
  params[0] = stage;
  params[1] = owner;
  params[2] = tag;
  params[3] = limit_text;
  params[4] = offset_text;
  if (!st_store_begin (store, error))
    return NULL;
  res = st_store_exec_sql (store, st_sql_find, 5, params, error);
  st_store_rollback (store);
  return res == NULL ? NULL : g_variant_ref_sink (
                                  st_record_list_from_result (res));
}

static gboolean
check_transition (const StConfig *config, gint64 id, const char *from,
                  const char *to, GError **error)
{
  const StStage *stage = st_config_find_stage (config, from);
  g_autofree char *allowed = NULL;

  if (st_config_transition_allowed (config, from, to))
    return TRUE;
  if (g_strcmp0 (from, to) == 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_ILLEGAL_TRANSITION,
                   "customer %" G_GINT64_FORMAT " is already in stage %s", id,
                   to);
      return FALSE;
    }
  allowed = stage != NULL && stage->next != NULL && stage->next[0] != NULL
                ? g_strjoinv (", ", stage->next) : g_strdup ("none");
  g_set_error (error, ST_ERROR, ST_ERROR_ILLEGAL_TRANSITION,
               "customer %" G_GINT64_FORMAT " cannot move from %s to %s; "
               "allowed next stages from %s: %s", id, from, to, from,
               allowed);
  return FALSE;
}

gboolean
st_customers_move (StStore *store, const StConfig *config, gint64 id,
                   const char *stage, const char *reason, const char *actor,
                   GError **error)
{
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autofree char *from = NULL;
  g_autoptr (PGresult) current = NULL, res = NULL;

  if (!check_stage_name (config, stage, error))
    return FALSE;
  if (reason != NULL && strlen (reason) > 1000)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "reason: at most 1000 characters");
      return FALSE;
    }
  current = st_store_exec (store, &st_sql_customer_stage,
                           (const char *[]){ id_text }, error);
  if (current == NULL)
    return FALSE;
  if (PQntuples (current) == 0)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                   "no customer with id %" G_GINT64_FORMAT, id);
      return FALSE;
    }
  from = g_strdup (PQgetvalue (current, 0, 0));
  if (!check_transition (config, id, from, stage, error))
    return FALSE;
  res = st_store_exec (store, &st_sql_customer_set_stage,
                       (const char *[]){ id_text, stage, from, actor,
                                         reason ? reason : "" },
                       error);
  return res != NULL && fire_stage_entry (store, res, stage, error);
}

GVariant *
st_customers_set_stage (StStore *store, const StConfig *config,
                        const char *address, const char *stage,
                        const char *reason, const char *actor, GError **error)
{
  gint64 id;

  /* Checked before the lookup so a bad stage name reads as such. */
  if (!check_stage_name (config, stage, error))
    return NULL;
  if (!st_store_begin (store, error))
    return NULL;
  if (!st_customers_resolve (store, address, TRUE, &id, error)
      || !st_customers_move (store, config, id, stage, reason, actor, error))
    {
      st_store_rollback (store);
      return NULL;
    }
  return commit_record (store, id, error);
}

ST_STATEMENT_DEFINE (st_sql_customer_tag, 3,
  "UPDATE customers SET updated_at = now(), tags = ARRAY("
  "  SELECT DISTINCT t FROM unnest(tags || ARRAY[$2]) AS t"
  "   WHERE $3 OR t <> $2 ORDER BY t)"
  " WHERE id = $1");

gboolean
st_customers_tag (StStore *store, gint64 id, const char *tag, gboolean add,
                  GError **error)
{
  g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
  g_autoptr (PGresult) res = NULL;

  if (!st_validate_tag (tag, error))
    return FALSE;
  res = st_store_exec (store, &st_sql_customer_tag,
                       (const char *[]){ id_text, tag, add ? "t" : "f" },
                       error);
  if (res == NULL)
    return FALSE;
  if (g_str_equal (PQcmdTuples (res), "0"))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_NOT_FOUND,
                   "no customer with id %" G_GINT64_FORMAT, id);
      return FALSE;
    }
  return TRUE;
}

GVariant *
st_customers_timeline (StStore *store, const char *address, GVariant *options,
                       GError **error)
{
  static const char *const keys[] = { "limit", "offset", NULL };
  guint limit = 50, offset = 0;
  gint64 id;
  g_autofree char *id_text = NULL, *limit_text = NULL, *offset_text = NULL;
  g_autoptr (PGresult) res = NULL;

  if (!st_record_check_keys (options, keys, "options", error)
      || !st_record_get_uint (options, "limit", &limit, error)
      || !st_record_get_uint (options, "offset", &offset, error))
    return NULL;
  if (limit == 0 || limit > 1000)
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "limit: %u is out of range; give 1 to 1000 and page with "
                   "offset", limit);
      return NULL;
    }
  if (!st_store_begin (store, error))
    return NULL;
  if (st_customers_resolve (store, address, FALSE, &id, error))
    {
      id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
      limit_text = g_strdup_printf ("%u", limit);
      offset_text = g_strdup_printf ("%u", offset);
      res = st_store_exec (store, &st_sql_timeline,
                           (const char *[]){ id_text, limit_text,
                                             offset_text },
                           error);
    }
  st_store_rollback (store);
  return res == NULL ? NULL : g_variant_ref_sink (
                                  st_record_list_from_result (res));
}
