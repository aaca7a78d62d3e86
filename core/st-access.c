/* Callers and their roles: the Unix account behind a uid, and the role the
 * access section of the configuration gives it (docs/config.md, "access"). */

#include "st-access.h"

#include <grp.h>
#include <pwd.h>

/* Enough for any sane passwd or group entry; a larger one is retried. */
#define ST_NSS_BUFFER 4096
/* Groups a user may be in: more are ignored (with a warning). */
#define ST_MAX_GROUPS 1024

static char *
group_name (gid_t gid)
{
  struct group grp, *found = NULL;
  g_autofree char *buf = g_malloc (ST_NSS_BUFFER);

  if (getgrgid_r (gid, &grp, buf, ST_NSS_BUFFER, &found) == 0
      && found != NULL)
    return g_strdup (found->gr_name);
  return NULL;
}

static void
add_groups (StCaller *caller, const char *user, gid_t primary)
{
  int n = ST_MAX_GROUPS;
  g_autofree gid_t *gids = g_new (gid_t, n);
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();

  if (getgrouplist (user, primary, gids, &n) < 0)
    {
      g_warning ("user %s is in more than %d groups; only the first are "
                 "matched against access.groups", user, ST_MAX_GROUPS);
      n = ST_MAX_GROUPS;
    }
  for (int i = 0; i < n; i++)
    {
      guint32 gid = gids[i];
      g_autofree char *name = group_name (gids[i]);

      g_array_append_val (caller->gids, gid);
      if (name != NULL)
        g_strv_builder_add (names, name);
    }
  g_strfreev (caller->groups);
  caller->groups = g_strv_builder_end (names);
}

StCaller *
st_caller_new (guint32 uid)
{
  StCaller *caller = st_caller_new_with (uid, NULL, NULL, NULL);
  struct passwd pwd, *found = NULL;
  g_autofree char *buf = g_malloc (ST_NSS_BUFFER);

  if (getpwuid_r (uid, &pwd, buf, ST_NSS_BUFFER, &found) == 0
      && found != NULL)
    {
      caller->user = g_strdup (found->pw_name);
      add_groups (caller, found->pw_name, found->pw_gid);
    }
  return caller;
}

StCaller *
st_caller_new_with (guint32 uid, const char *user, const guint32 *gids,
                    const char *const *groups)
{
  StCaller *caller = g_new0 (StCaller, 1);

  caller->uid = uid;
  caller->user = g_strdup (user);
  caller->gids = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (gsize i = 0; gids != NULL && gids[i] != G_MAXUINT32; i++)
    g_array_append_val (caller->gids, gids[i]);
  caller->groups = g_strdupv ((char **) groups);
  if (caller->groups == NULL)
    caller->groups = g_new0 (char *, 1);
  return caller;
}

StCaller *
st_caller_copy (const StCaller *caller)
{
  StCaller *copy = g_new0 (StCaller, 1);

  copy->uid = caller->uid;
  copy->user = g_strdup (caller->user);
  copy->gids = g_array_copy (caller->gids);
  copy->groups = g_strdupv (caller->groups);
  return copy;
}

void
st_caller_free (StCaller *caller)
{
  if (caller == NULL)
    return;
  g_free (caller->user);
  g_array_unref (caller->gids);
  g_strfreev (caller->groups);
  g_free (caller);
}

char *
st_caller_describe (const StCaller *caller)
{
  if (caller->user != NULL)
    return g_strdup_printf ("user '%s'", caller->user);
  return g_strdup_printf ("uid %u", caller->uid);
}

static gboolean
rule_matches_user (const StAccessRule *rule, const StCaller *caller)
{
  if (rule->numeric)
    return rule->id == caller->uid;
  return g_strcmp0 (rule->name, caller->user) == 0;
}

static gboolean
rule_matches_group (const StAccessRule *rule, const StCaller *caller)
{
  if (!rule->numeric)
    return g_strv_contains ((const char *const *) caller->groups, rule->name);
  for (guint i = 0; i < caller->gids->len; i++)
    if (g_array_index (caller->gids, guint32, i) == rule->id)
      return TRUE;
  return FALSE;
}

/* The highest role of the rules that match, or NULL when none does. */
static const StAccessRule *
best_rule (GPtrArray *rules, const StCaller *caller,
           gboolean (*matches) (const StAccessRule *, const StCaller *))
{
  const StAccessRule *best = NULL;

  for (guint i = 0; i < rules->len; i++)
    {
      const StAccessRule *rule = g_ptr_array_index (rules, i);
      if (matches (rule, caller) && (best == NULL || rule->role > best->role))
        best = rule;
    }
  return best;
}

StRole
st_access_role (const StConfig *config, const StCaller *caller, char **source)
{
  const StAccessRule *rule;
  const char *section = "users";

  if (!config->access)
    {
      if (source != NULL)
        *source = g_strdup ("no access section");
      return ST_ROLE_ADMIN;
    }
  /* A user's own entry wins over its groups': it can lower a role too. */
  rule = best_rule (config->access_users, caller, rule_matches_user);
  if (rule == NULL)
    {
      rule = best_rule (config->access_groups, caller, rule_matches_group);
      section = "groups";
    }
  if (rule == NULL)
    {
      if (source != NULL)
        *source = g_strdup ("access.default");
      return config->access_default;
    }
  if (source != NULL)
    *source = g_strdup_printf ("access.%s '%s'", section, rule->name);
  return rule->role;
}
