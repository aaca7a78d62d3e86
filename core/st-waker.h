#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Wakes a pool of worker threads when PostgreSQL announces work: one
 * listener thread LISTENs on a channel with a connection of its own, and
 * each notification wakes one idle worker, not all of them (a burst of
 * ten notifications wakes up to ten). Workers still look on their own
 * after their timeout, so a lost LISTEN connection, or work that comes due
 * later, only costs latency. */
typedef struct _StWaker StWaker;

/* Start listening on @channel (one of ours: an identifier, never user
 * input) with @conninfo; @name is the connection's application_name. */
StWaker *st_waker_new (const char *conninfo, const char *channel,
                       const char *name, GError **error);
/* Stop the listener; waiting workers return at once. */
void st_waker_free (StWaker *waker);

/* The count of wake-ups so far: take it before looking for work, and pass
 * it to st_waker_wait(), so a wake-up that came while looking is not
 * slept through. */
guint64 st_waker_seq (StWaker *waker);
/* Sleep up to @ms unless woken after @seen or stopped. */
void st_waker_wait (StWaker *waker, guint64 seen, gint64 ms);
/* Wake up to @n idle workers (G_MAXUINT: all). */
void st_waker_wake (StWaker *waker, guint n);
/* Wake every worker for good: st_waker_stopping() is TRUE from now on. */
void st_waker_stop (StWaker *waker);
gboolean st_waker_stopping (StWaker *waker);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StWaker, st_waker_free)

G_END_DECLS
