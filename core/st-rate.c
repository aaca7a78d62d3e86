/* A rate limit as a schedule of slots (the generic cell rate algorithm
 * with no burst): next_usec is the first free slot; each message takes
 * max(now, next_usec) and moves it on by one interval. A message that
 * would have to wait keeps its slot in @kept, so that coming back at that
 * time it is not sent to the back of the queue again. */

#include "st-rate.h"

/* How often kept slots are swept for forgotten ones. */
#define ST_RATE_SWEEP_USEC (G_GINT64_CONSTANT (10) * G_USEC_PER_SEC)

struct _StRate {
  GMutex lock;
  gint64 interval_usec;
  gint64 next_usec;  /* the first slot nobody holds */
  gint64 swept_usec; /* when @kept was last swept */
  GHashTable *kept;  /* message id (gint64*) → its slot (gint64*) */
};

StRate *
st_rate_new (double per_second)
{
  StRate *rate;

  g_return_val_if_fail (per_second > 0, NULL);

  rate = g_new0 (StRate, 1);
  g_mutex_init (&rate->lock);
  rate->interval_usec = MAX ((gint64) (G_USEC_PER_SEC / per_second + 0.5), 1);
  rate->kept = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                      g_free);
  return rate;
}

void
st_rate_free (StRate *rate)
{
  if (rate == NULL)
    return;
  g_hash_table_unref (rate->kept);
  g_mutex_clear (&rate->lock);
  g_free (rate);
}

static gboolean
forgotten (gpointer key, gpointer value, gpointer user_data)
{
  (void) key;
  return *(gint64 *) value < *(gint64 *) user_data;
}

static void
sweep (StRate *rate, gint64 now_usec)
{
  gint64 horizon = now_usec - ST_RATE_FORGET_USEC;

  if (now_usec - rate->swept_usec < ST_RATE_SWEEP_USEC
      && now_usec >= rate->swept_usec)
    return;
  rate->swept_usec = now_usec;
  g_hash_table_foreach_remove (rate->kept, forgotten, &horizon);
}

gboolean
st_rate_admit (StRate *rate, gint64 id, gint64 now_usec, gint64 *until_usec)
{
  gint64 *kept, slot;
  gboolean go;

  g_return_val_if_fail (rate != NULL && until_usec != NULL, TRUE);

  g_mutex_lock (&rate->lock);
  sweep (rate, now_usec);
  kept = g_hash_table_lookup (rate->kept, &id);
  if (kept != NULL)
    {
      /* Back at its slot (or later): it goes. Early (a retry asked for
       * it): it keeps waiting for its slot. */
      slot = *kept;
      go = now_usec >= slot;
      if (go)
        g_hash_table_remove (rate->kept, &id);
    }
  else
    {
      slot = MAX (now_usec, rate->next_usec);
      rate->next_usec = slot + rate->interval_usec;
      go = slot <= now_usec;
      if (!go)
        g_hash_table_insert (rate->kept, g_memdup2 (&id, sizeof id),
                             g_memdup2 (&slot, sizeof slot));
    }
  g_mutex_unlock (&rate->lock);
  *until_usec = go ? now_usec : slot;
  return go;
}
