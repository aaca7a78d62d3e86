#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A channel's rate limit, as one daemon keeps it: messages leave at least
 * 1/rate apart (no burst), whichever delivery thread hands them over.
 *
 * A message that may not go now is given the next free slot, which is
 * kept for it: the outbox holds it until then (a hold, not a failure), and
 * when it comes back it goes without waiting again. So a queue of held
 * messages drains at the rate, each written once, in order. Times are the
 * outbox's clock (microseconds since the epoch), so the delivery test
 * clock drives it too. Thread-safe. */
typedef struct _StRate StRate;

/* @per_second > 0. */
StRate *st_rate_new (double per_second);
void st_rate_free (StRate *rate);

/* May message @id go at @now_usec? TRUE: yes, and its slot is used. FALSE:
 * *@until_usec is the slot kept for it; hold it until then. A slot not
 * claimed within ST_RATE_FORGET_USEC after its time (its message went
 * through another daemon, or is gone) is forgotten. */
gboolean st_rate_admit (StRate *rate, gint64 id, gint64 now_usec,
                        gint64 *until_usec);

#define ST_RATE_FORGET_USEC (G_GINT64_CONSTANT (600) * G_USEC_PER_SEC)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StRate, st_rate_free)

G_END_DECLS
