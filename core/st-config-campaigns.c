/* The campaigns section of the configuration: the workers that process
 * campaign batches, the batch size, and the scheduler's period and
 * catch-up policy (docs/campaigns.md). The top-level table in st-config.c
 * calls it. */

#include "st-config-private.h"

static gboolean
st_parse_catch_up (const StParse *p, const StKey *key, const StNode *value,
                   gpointer target, GError **error)
{
  StConfig *config = target;
  const char *text = st_expect_text (p, key, value, error);

  if (text == NULL)
    return FALSE;
  if (g_str_equal (text, "latest"))
    config->campaign_catch_up = ST_CATCH_UP_LATEST;
  else if (g_str_equal (text, "all"))
    config->campaign_catch_up = ST_CATCH_UP_ALL;
  else if (g_str_equal (text, "none"))
    config->campaign_catch_up = ST_CATCH_UP_NONE;
  else
    return st_fail_expects (p, key, value, error);
  return TRUE;
}

static const StKey st_campaign_keys[] = {
  ST_KEY_FIELD ("workers", "a whole number from 1 to 64", ST_KEY_NUMBER,
                StConfig, campaign_workers, 1, 64),
  ST_KEY_FIELD ("batch_size", "a whole number from 1 to 100000",
                ST_KEY_NUMBER, StConfig, campaign_batch_size, 1, 100000),
  { "catch_up", "latest, all or none", st_parse_catch_up },
  ST_KEY_FIELD ("check_interval", "a duration from 100ms to 1h such as 5s",
                ST_KEY_DURATION, StConfig, campaign_check_ms, 100, 3600 * 1000),
};

gboolean
st_parse_campaigns (const StParse *p, const StKey *key, const StNode *value,
                    gpointer target, GError **error)
{
  return st_parse_section (p, value, key->name, st_campaign_keys,
                           G_N_ELEMENTS (st_campaign_keys), target, error);
}
