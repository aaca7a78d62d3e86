#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One error domain for the whole engine. Each code is registered as the
 * D-Bus error org.steward.Steward1.Error.<Name>, so a client sees the same
 * name the code uses. */
#define ST_ERROR (st_error_quark ())

typedef enum {
  ST_ERROR_FAILED,             /* Failed */
  ST_ERROR_NOT_FOUND,          /* NotFound */
  ST_ERROR_INVALID_ARGUMENT,   /* InvalidArgument */
  ST_ERROR_ILLEGAL_TRANSITION, /* IllegalTransition */
  ST_ERROR_PERMISSION_DENIED,  /* PermissionDenied */
  ST_ERROR_UNAVAILABLE,        /* Unavailable */
  ST_ERROR_ALREADY_EXISTS,     /* AlreadyExists */
  ST_ERROR_SCHEMA_TOO_NEW,     /* SchemaTooNew */
  ST_ERROR_LAST
} StError;

GQuark st_error_quark (void);

/* The D-Bus name of @code, e.g. "org.steward.Steward1.Error.NotFound". */
const char *st_error_dbus_name (StError code);

G_END_DECLS
