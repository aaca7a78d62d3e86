/* Callers and their roles: the Unix account behind a uid, and the role the
 * access section of the configuration gives it (docs/config.md, "access"). */

#include "st-access.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>

#include "st-error.h"

/* The first buffer for a passwd or group entry; doubled while NSS answers
 * ERANGE (a group with many members), up to the cap. */
#define ST_NSS_BUFFER 4096
#define ST_NSS_BUFFER_MAX (1024 * 1024)
/* Groups a user may be in: Linux's NGROUPS_MAX. */
#define ST_MAX_GROUPS 65536

/* "No such entry", as getpwuid_r and getgrgid_r may say it: a NULL result
 * with 0, ENOENT or ESRCH. Anything else (EIO, ENOMEM, an LDAP server
 * that does not answer…) is a failure, not an answer. */
static gboolean
nss_not_found (int status)
{
  return status == 0 || status == ENOENT || status == ESRCH;
}

/* The name of group @gid into *@name (NULL when the group has none).
 * FALSE, UNAVAILABLE, when it could not be read: a caller must then be
 * refused rather than matched with fewer groups, or a "none" rule on
 * that group would not apply. */
static gboolean
group_name (gid_t gid, char **name, GError **error)
{
  gsize size = ST_NSS_BUFFER;
  int status;

  for (;;)
    {
      struct group grp, *found = NULL;
      g_autofree char *buf = g_malloc (size);

      status = getgrgid_r (gid, &grp, buf, size, &found);
      if (status == 0 && found != NULL)
        {
          *name = g_strdup (found->gr_name);
          return TRUE;
        }
      if (status != ERANGE || size >= ST_NSS_BUFFER_MAX)
        break;
      size *= 2;
    }
  if (nss_not_found (status))
    {
      *name = NULL;
      return TRUE;
    }
  g_set_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE,
               "could not read group %u: %s; try again", (guint) gid,
               g_strerror (status));
  return FALSE;
}

/* The user's passwd entry into @pwd, its strings in *@buf. FALSE with
 * *@found NULL and no error: there is no such user. */
static gboolean
user_entry (uid_t uid, struct passwd *pwd, char **buf, struct passwd **found,
            GError **error)
{
  gsize size = ST_NSS_BUFFER;
  int status;

  for (;;)
    {
      *buf = g_malloc (size);
      *found = NULL;
      status = getpwuid_r (uid, pwd, *buf, size, found);
      if (status == 0 && *found != NULL)
        return TRUE;
      g_clear_pointer (buf, g_free);
      if (status != ERANGE || size >= ST_NSS_BUFFER_MAX)
        break;
      size *= 2;
    }
  if (nss_not_found (status))
    return FALSE;
  g_set_error (error, ST_ERROR, ST_ERROR_UNAVAILABLE,
               "could not read user %u: %s; try again", (guint) uid,
               g_strerror (status));
  return FALSE;
}

static gboolean
add_groups (StCaller *caller, const char *user, gid_t primary,
            GError **error)
{
  int n = 64;
  g_autofree gid_t *gids = NULL;
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();

  /* getgrouplist says how many there are when the array is too small. */
  for (;;)
    {
      int size = n;

      g_free (gids);
      gids = g_new (gid_t, size);
      if (getgrouplist (user, primary, gids, &n) >= 0)
        break;
      if (n <= size)
        n = size * 2;
      if (n > ST_MAX_GROUPS)
        {
          g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                       "user %s is in more than %d groups, so its role "
                       "cannot be decided from all of them", user,
                       ST_MAX_GROUPS);
          return FALSE;
        }
    }
  for (int i = 0; i < n; i++)
    {
      guint32 gid = gids[i];
      g_autofree char *name = NULL;

      if (!group_name (gids[i], &name, error))
        return FALSE;
      g_array_append_val (caller->gids, gid);
      if (name != NULL)
        g_strv_builder_add (names, name);
    }
  g_strfreev (caller->groups);
  caller->groups = g_strv_builder_end (names);
  return TRUE;
}

StCaller *
st_caller_new (guint32 uid, GError **error)
{
  g_autoptr (StCaller) caller = st_caller_new_with (uid, NULL, NULL, NULL);
  g_autofree char *buf = NULL;
  g_autoptr (GError) local = NULL;
  struct passwd pwd, *found = NULL;

  if (!user_entry (uid, &pwd, &buf, &found, &local))
    {
      /* A uid without an entry is a caller without a name or groups. */
      if (local == NULL)
        return g_steal_pointer (&caller);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  caller->user = g_strdup (found->pw_name);
  if (!add_groups (caller, found->pw_name, found->pw_gid, error))
    return NULL;
  return g_steal_pointer (&caller);
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
