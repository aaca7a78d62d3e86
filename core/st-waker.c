/* The LISTEN thread and the condition variable that turn PostgreSQL
 * notifications into wake-ups of idle worker threads. */

#include "st-waker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <glib-unix.h>
#include <libpq-fe.h>

#include "st-error.h"

/* Without a LISTEN connection, try to get one again this often. */
#define RECONNECT_MS 1000

struct _StWaker {
  char *conninfo;
  char *channel;
  char *name;
  GThread *listener;
  int stop_pipe[2];

  GMutex lock; /* guards what follows */
  GCond wake;
  guint64 seq;
  guint idle;  /* workers waiting on @wake */
  gboolean stopping;
};

guint64
st_waker_seq (StWaker *waker)
{
  guint64 seq;

  g_mutex_lock (&waker->lock);
  seq = waker->seq;
  g_mutex_unlock (&waker->lock);
  return seq;
}

gboolean
st_waker_stopping (StWaker *waker)
{
  gboolean stopping;

  g_mutex_lock (&waker->lock);
  stopping = waker->stopping;
  g_mutex_unlock (&waker->lock);
  return stopping;
}

void
st_waker_wake (StWaker *waker, guint n)
{
  g_mutex_lock (&waker->lock);
  waker->seq++;
  if (n >= waker->idle)
    g_cond_broadcast (&waker->wake);
  else
    for (guint i = 0; i < n; i++)
      g_cond_signal (&waker->wake);
  g_mutex_unlock (&waker->lock);
}

void
st_waker_wait (StWaker *waker, guint64 seen, gint64 ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  g_mutex_lock (&waker->lock);
  if (!waker->stopping && waker->seq == seen)
    {
      /* One wait: a wake-up meant for another worker may end it too; this
       * one then finds nothing and sleeps again. */
      waker->idle++;
      g_cond_wait_until (&waker->wake, &waker->lock, end);
      waker->idle--;
    }
  g_mutex_unlock (&waker->lock);
}

void
st_waker_stop (StWaker *waker)
{
  g_mutex_lock (&waker->lock);
  waker->stopping = TRUE;
  g_cond_broadcast (&waker->wake);
  g_mutex_unlock (&waker->lock);
  if (write (waker->stop_pipe[1], "x", 1) < 0)
    g_debug ("%s: cannot wake the listener: %s", waker->name,
             g_strerror (errno));
}

static PGconn *
listen_connect (StWaker *waker)
{
  const char *keys[] = { "dbname", "connect_timeout", "application_name",
                         "keepalives_idle", NULL };
  const char *values[] = { waker->conninfo, "5", waker->name, "30", NULL };
  gboolean expand = waker->conninfo != NULL && waker->conninfo[0] != '\0';
  PGconn *conn = PQconnectdbParams (expand ? keys : keys + 1,
                                    expand ? values : values + 1, expand);
  g_autofree char *sql = g_strdup_printf ("LISTEN \"%s\"", waker->channel);
  PGresult *res;

  if (PQstatus (conn) == CONNECTION_OK)
    {
      res = PQexec (conn, sql);
      if (PQresultStatus (res) == PGRES_COMMAND_OK)
        {
          PQclear (res);
          return conn;
        }
      PQclear (res);
    }
  PQfinish (conn);
  return NULL;
}

/* How many notifications arrived; -1 when the connection broke. */
static int
drain (StWaker *waker, PGconn *conn)
{
  PGnotify *notify;
  int n = 0;

  if (!PQconsumeInput (conn) || PQstatus (conn) != CONNECTION_OK)
    {
      g_debug ("%s: the LISTEN connection was lost: %s", waker->name,
               PQerrorMessage (conn));
      return -1;
    }
  while ((notify = PQnotifies (conn)) != NULL)
    {
      n++;
      PQfreemem (notify);
    }
  return n;
}

static gpointer
listener_main (gpointer data)
{
  StWaker *waker = data;
  PGconn *conn = NULL;

  while (!st_waker_stopping (waker))
    {
      struct pollfd fds[2] = { { .fd = waker->stop_pipe[0], .events = POLLIN },
                               { .fd = -1, .events = POLLIN } };
      int n;

      if (conn == NULL && (conn = listen_connect (waker)) != NULL)
        st_waker_wake (waker, G_MAXUINT); /* what was announced while away */
      if (conn != NULL)
        fds[1].fd = PQsocket (conn);
      if (poll (fds, 2, conn != NULL ? 10000 : RECONNECT_MS) < 0
          && errno != EINTR)
        g_usleep (G_USEC_PER_SEC / 10);
      if (fds[0].revents != 0 || conn == NULL || fds[1].revents == 0)
        continue;
      n = drain (waker, conn);
      if (n < 0)
        g_clear_pointer (&conn, PQfinish);
      else if (n > 0)
        st_waker_wake (waker, (guint) n);
    }
  g_clear_pointer (&conn, PQfinish);
  return NULL;
}

StWaker *
st_waker_new (const char *conninfo, const char *channel, const char *name,
              GError **error)
{
  StWaker *waker = g_new0 (StWaker, 1);
  g_autoptr (GError) local = NULL;

  g_mutex_init (&waker->lock);
  g_cond_init (&waker->wake);
  waker->conninfo = g_strdup (conninfo);
  waker->channel = g_strdup (channel);
  waker->name = g_strdup (name);
  waker->stop_pipe[0] = waker->stop_pipe[1] = -1;
  if (!g_unix_open_pipe (waker->stop_pipe, FD_CLOEXEC, &local))
    {
      g_set_error (error, ST_ERROR, ST_ERROR_FAILED,
                   "cannot start the %s listener: %s", name, local->message);
      st_waker_free (waker);
      return NULL;
    }
  waker->listener = g_thread_new (name, listener_main, waker);
  return waker;
}

void
st_waker_free (StWaker *waker)
{
  if (waker == NULL)
    return;
  if (waker->listener != NULL)
    {
      st_waker_stop (waker);
      g_thread_join (waker->listener);
    }
  for (guint i = 0; i < 2; i++)
    if (waker->stop_pipe[i] >= 0)
      close (waker->stop_pipe[i]);
  g_mutex_clear (&waker->lock);
  g_cond_clear (&waker->wake);
  g_free (waker->conninfo);
  g_free (waker->channel);
  g_free (waker->name);
  g_free (waker);
}
