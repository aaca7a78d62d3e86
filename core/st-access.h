#pragma once

#include <glib.h>

#include "st-config.h"

G_BEGIN_DECLS

/* Who a D-Bus caller is (its Unix user and groups, as the bus vouches for
 * the uid) and which role the access section of the configuration gives
 * them. The D-Bus side (which method needs which role, the customers a
 * manager may reach) is st-service-access.c's. */

typedef struct {
  guint32 uid;
  char *user;    /* the user's name; NULL when the uid has no passwd entry */
  GArray *gids;  /* of guint32: the user's primary group and the others */
  GStrv groups;  /* the names of those groups that have one */
} StCaller;

/* Looks the user and its groups up (getpwuid_r, getgrouplist,
 * getgrgid_r): it may wait on NSS (LDAP…), so call it off the main loop.
 * A uid without a passwd entry is a caller without a name or groups; a
 * lookup that fails (rather than finds nothing) is NULL with
 * ST_ERROR_UNAVAILABLE: matching a caller with fewer groups than it has
 * could miss the rule that lowers its role. */
StCaller *st_caller_new (guint32 uid, GError **error);
/* A caller with exactly these attributes, for tests. */
StCaller *st_caller_new_with (guint32 uid, const char *user,
                              const guint32 *gids, const char *const *groups);
StCaller *st_caller_copy (const StCaller *caller);
void st_caller_free (StCaller *caller);

/* "user 'bob'", or "uid 1234" for a uid without a name. */
char *st_caller_describe (const StCaller *caller);

/* The role of @caller: admin for everyone when @config has no access
 * section; else the highest role of the users rules that name the caller
 * (by name or uid), else the highest of its groups' rules, else the
 * default. @source (may be NULL) says which: "access.users 'bob'",
 * "access.groups 'staff'", "access.default", or "no access section". */
StRole st_access_role (const StConfig *config, const StCaller *caller,
                       char **source);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StCaller, st_caller_free)

G_END_DECLS
