#include "st-error.h"

#include <gio/gio.h>

static const GDBusErrorEntry st_error_entries[] = {
  { ST_ERROR_FAILED, "org.steward.Steward1.Error.Failed" },
  { ST_ERROR_NOT_FOUND, "org.steward.Steward1.Error.NotFound" },
  { ST_ERROR_INVALID_ARGUMENT, "org.steward.Steward1.Error.InvalidArgument" },
  { ST_ERROR_ILLEGAL_TRANSITION, "org.steward.Steward1.Error.IllegalTransition" },
  { ST_ERROR_PERMISSION_DENIED, "org.steward.Steward1.Error.PermissionDenied" },
  { ST_ERROR_UNAVAILABLE, "org.steward.Steward1.Error.Unavailable" },
  { ST_ERROR_ALREADY_EXISTS, "org.steward.Steward1.Error.AlreadyExists" },
  { ST_ERROR_SCHEMA_TOO_NEW, "org.steward.Steward1.Error.SchemaTooNew" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (st_error_entries) == ST_ERROR_LAST);

GQuark
st_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("st-error-quark", &quark,
                                      st_error_entries,
                                      G_N_ELEMENTS (st_error_entries));
  return (GQuark) quark;
}

const char *
st_error_dbus_name (StError code)
{
  g_return_val_if_fail (code < ST_ERROR_LAST, NULL);
  return st_error_entries[code].dbus_error_name;
}
