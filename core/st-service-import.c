/* The Import interface: Customers and Events take a file descriptor the
 * caller opened (so the daemon reads what the caller may read, and never
 * opens a path itself) and an optional second one for the rejects. The
 * import runs in the worker thread that took the call, on that call's
 * connection; the other workers go on answering. Progress goes to the
 * caller alone. */

#include "st-service-private.h"

#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "st-error.h"
#include "st-import.h"

#define ST_IMPORT_IFACE "org.steward.Steward1.Import"

/* A duplicate of the descriptor at @handle of the call's list, or -1. */
static int
take_fd (StCall *call, gint32 handle, const char *what, GError **error)
{
  GDBusMessage *message = g_dbus_method_invocation_get_message (
      call->invocation);
  GUnixFDList *list = g_dbus_message_get_unix_fd_list (message);
  int fd;

  if (list == NULL || handle < 0 || handle >= g_unix_fd_list_get_length (list))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_INVALID_ARGUMENT,
                   "%s: the call carries no file descriptor at index %d; "
                   "pass an open file (D-Bus type h)", what, handle);
      return -1;
    }
  fd = g_unix_fd_list_get (list, handle, error);
  if (fd < 0)
    g_prefix_error (error, "%s: ", what);
  return fd;
}

static void
emit_progress (guint64 bytes_read, guint64 bytes_total, guint64 rows,
               gpointer user_data)
{
  StCall *call = user_data;

  g_dbus_connection_emit_signal (
      g_dbus_method_invocation_get_connection (call->invocation),
      g_dbus_method_invocation_get_sender (call->invocation), ST_OBJECT_PATH,
      ST_IMPORT_IFACE, "Progress",
      g_variant_new ("(ttt)", bytes_read, bytes_total, rows), NULL);
}

static GVariant *
import_with (StCall *call, StImportRequest *request, GError **error)
{
  StStore *store = st_call_store (call, error);
  g_autofree char *actor = NULL;

  if (store == NULL)
    return NULL;
  actor = st_call_actor (call);
  request->actor = actor;
  return st_import_run (store, st_engine_get_config (call->service->engine),
                        request, error);
}

static GVariant *
run_import (StCall *call, GVariant *params, StImportKind kind,
            GError **error)
{
  gint32 file_handle, rejects_handle;
  g_autoptr (GVariant) options = NULL;
  g_autoptr (GVariant) summary = NULL;
  StImportRequest request = { kind, -1, -1, NULL, NULL, emit_progress, call };
  gboolean has_rejects;

  g_variant_get (params, "(h@a{sv})", &file_handle, &options);
  request.options = options;
  has_rejects = g_variant_lookup (options, "rejects", "h", &rejects_handle);
  request.fd = take_fd (call, file_handle, "file", error);
  if (request.fd >= 0 && has_rejects)
    request.rejects_fd = take_fd (call, rejects_handle, "rejects", error);
  if (request.fd >= 0 && (!has_rejects || request.rejects_fd >= 0))
    summary = import_with (call, &request, error);
  if (request.fd >= 0)
    close (request.fd);
  if (request.rejects_fd >= 0)
    close (request.rejects_fd);
  return summary != NULL ? g_variant_new ("(@a{sv})", summary) : NULL;
}

GVariant *
st_service_import_customers (StCall *call, GVariant *params, GError **error)
{
  return run_import (call, params, ST_IMPORT_CUSTOMERS, error);
}

GVariant *
st_service_import_events (StCall *call, GVariant *params, GError **error)
{
  return run_import (call, params, ST_IMPORT_EVENTS, error);
}
