/* The access section of the configuration: which Unix users and groups
 * have which role (admin, manager, viewer), the role of everyone else, and
 * whether managers only reach the customers they own (docs/config.md,
 * "access"). st-access.c applies it to callers; the top-level table in
 * st-config.c calls st_parse_access. */

#include "st-config-private.h"

#include <string.h>

#define ST_ROLE_WORDS "admin, manager, viewer or none"
/* Linux's own limit for user and group names. */
#define ST_ACCOUNT_NAME_MAX 32

static const char *const st_role_names[] = {
  [ST_ROLE_NONE] = "none",
  [ST_ROLE_VIEWER] = "viewer",
  [ST_ROLE_MANAGER] = "manager",
  [ST_ROLE_ADMIN] = "admin",
};

const char *
st_role_name (StRole role)
{
  g_return_val_if_fail (role < G_N_ELEMENTS (st_role_names), "none");
  return st_role_names[role];
}

gboolean
st_role_from_name (const char *name, StRole *role)
{
  for (gsize i = 0; name != NULL && i < G_N_ELEMENTS (st_role_names); i++)
    if (g_str_equal (st_role_names[i], name))
      {
        *role = (StRole) i;
        return TRUE;
      }
  return FALSE;
}

void
st_access_rule_free (StAccessRule *rule)
{
  if (rule == NULL)
    return;
  g_free (rule->name);
  g_free (rule);
}

/* A portable account name: letters, digits, '_', '.', '-', not starting
 * with '-'. All digits is an id, checked by the caller. */
static gboolean
account_name_valid (const char *name)
{
  gsize len = strlen (name);

  return len >= 1 && len <= ST_ACCOUNT_NAME_MAX && name[0] != '-'
         && strspn (name, "abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
                == len;
}

static gboolean
parse_role (const StParse *p, const StNode *value, const char *what,
            StRole *role, GError **error)
{
  if (value->kind != ST_NODE_SCALAR || st_node_is_null (value)
      || !st_role_from_name (value->text, role))
    return st_fail_found (p, value, error, "the role of %s must be "
                          ST_ROLE_WORDS, what);
  return TRUE;
}

/* One "name: role" entry of users (@kind "user") or groups ("group"). */
static gboolean
parse_rule (const StParse *p, const char *kind, const StNode *name,
            const StNode *value, StAccessRule **out, GError **error)
{
  g_autoptr (StAccessRule) rule = g_new0 (StAccessRule, 1);
  g_autofree char *what = g_strdup_printf ("%s '%s'", kind, name->text);
  guint64 id = 0;

  rule->name = g_strdup (name->text);
  if (strspn (name->text, "0123456789") == strlen (name->text)
      && *name->text != '\0')
    {
      /* (uid_t) -1 means "no one" to the kernel. */
      if (!g_ascii_string_to_unsigned (name->text, 10, 0, G_MAXUINT32 - 1,
                                       &id, NULL))
        return st_fail (p, ST_AT (name), error, "%s id %s is out of range; "
                        "give a number from 0 to %u", kind, name->text,
                        G_MAXUINT32 - 1);
      rule->numeric = TRUE;
      rule->id = (guint32) id;
    }
  else if (!account_name_valid (name->text))
    return st_fail_found (p, name, error, "each key of 'access.%ss' must be "
                          "a %s name (up to %d letters, digits, '_', '.' or "
                          "'-') or a numeric %cid", kind, kind,
                          ST_ACCOUNT_NAME_MAX, kind[0]);
  if (st_node_is_null (value))
    return st_fail (p, ST_AT (name), error, "%s has no role; give "
                    ST_ROLE_WORDS, what);
  if (!parse_role (p, value, what, &rule->role, error))
    return FALSE;
  *out = g_steal_pointer (&rule);
  return TRUE;
}

static gboolean
parse_rules (const StParse *p, const StKey *key, const StNode *value,
             const char *kind, GPtrArray *rules, GError **error)
{
  g_autofree char *where = g_strdup_printf ("in 'access.%s'", key->name);

  if (value->kind != ST_NODE_MAP)
    return st_fail_expects (p, key, value, error);
  if (!st_check_keys (p, value, where, error))
    return FALSE;
  g_ptr_array_set_size (rules, 0);
  for (guint i = 0; i < value->items->len; i += 2)
    {
      StAccessRule *rule = NULL;

      if (!parse_rule (p, kind, ST_ITEM (value, i), ST_ITEM (value, i + 1),
                       &rule, error))
        return FALSE;
      g_ptr_array_add (rules, rule);
    }
  return TRUE;
}

static gboolean
st_parse_access_default (const StParse *p, const StKey *key,
                         const StNode *value, gpointer target, GError **error)
{
  StConfig *config = target;
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (!st_role_from_name (text, &config->access_default))
    return st_fail_expects (p, key, value, error);
  return TRUE;
}

static gboolean
st_parse_access_users (const StParse *p, const StKey *key, const StNode *value,
                       gpointer target, GError **error)
{
  StConfig *config = target;

  return parse_rules (p, key, value, "user", config->access_users, error);
}

static gboolean
st_parse_access_groups (const StParse *p, const StKey *key,
                        const StNode *value, gpointer target, GError **error)
{
  StConfig *config = target;

  return parse_rules (p, key, value, "group", config->access_groups, error);
}

static gboolean
st_parse_manager_scope (const StParse *p, const StKey *key,
                        const StNode *value, gpointer target, GError **error)
{
  StConfig *config = target;
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (g_str_equal (text, "all"))
    config->access_managers_own = FALSE;
  else if (g_str_equal (text, "own"))
    config->access_managers_own = TRUE;
  else
    return st_fail_expects (p, key, value, error);
  return TRUE;
}

static const StKey st_access_keys[] = {
  { "default", ST_ROLE_WORDS, st_parse_access_default },
  { "users", "a mapping from user names (or uids) to roles, such as "
             "{alice: admin, 1001: viewer}", st_parse_access_users },
  { "groups", "a mapping from group names (or gids) to roles, such as "
              "{steward: manager}", st_parse_access_groups },
  { "manager_scope", "all or own", st_parse_manager_scope },
};

gboolean
st_parse_access (const StParse *p, const StKey *key, const StNode *value,
                 gpointer target, GError **error)
{
  StConfig *config = target;

  /* Written at all, even empty, the section takes over from "everyone is
   * admin": what it does not grant is refused. */
  if (!st_parse_section (p, value, key->name, st_access_keys,
                         G_N_ELEMENTS (st_access_keys), target, error))
    return FALSE;
  config->access = TRUE;
  return TRUE;
}
