/* Punycode (RFC 3492): the ASCII form of an internationalized domain
 * label, without its "xn--" prefix. */

#include "st-punycode.h"

enum
{
  ST_PUNY_BASE = 36,
  ST_PUNY_TMIN = 1,
  ST_PUNY_TMAX = 26,
  ST_PUNY_SKEW = 38,
  ST_PUNY_DAMP = 700,
  ST_PUNY_BIAS = 72,
  ST_PUNY_N = 0x80,
};

static guint32
st_puny_adapt (guint32 delta, guint32 n_points, gboolean first)
{
  guint32 k = 0;

  delta = first ? delta / ST_PUNY_DAMP : delta / 2;
  delta += delta / n_points;
  while (delta > ((ST_PUNY_BASE - ST_PUNY_TMIN) * ST_PUNY_TMAX) / 2)
    {
      delta /= ST_PUNY_BASE - ST_PUNY_TMIN;
      k += ST_PUNY_BASE;
    }
  return k + (ST_PUNY_BASE - ST_PUNY_TMIN + 1) * delta / (delta + ST_PUNY_SKEW);
}

static guint32
st_puny_threshold (guint32 k, guint32 bias)
{
  if (k <= bias)
    return ST_PUNY_TMIN;
  if (k >= bias + ST_PUNY_TMAX)
    return ST_PUNY_TMAX;
  return k - bias;
}

static char
st_puny_digit (guint32 d)
{
  return d < 26 ? 'a' + d : '0' + (d - 26);
}

gboolean
st_punycode_encode (const gunichar *in, gsize n_in, GString *out)
{
  guint32 n = ST_PUNY_N, delta = 0, bias = ST_PUNY_BIAS;
  gsize n_basic = 0, h;

  for (gsize i = 0; i < n_in; i++)
    if (in[i] < 0x80)
      {
        g_string_append_c (out, (char) in[i]);
        n_basic++;
      }
  if (n_basic > 0)
    g_string_append_c (out, '-');

  for (h = n_basic; h < n_in; delta++, n++)
    {
      guint32 m = G_MAXUINT32;

      for (gsize i = 0; i < n_in; i++)
        if (in[i] >= n && in[i] < m)
          m = in[i];
      if ((m - n) > (G_MAXUINT32 - delta) / (h + 1))
        return FALSE;
      delta += (m - n) * (h + 1);
      n = m;

      for (gsize i = 0; i < n_in; i++)
        {
          if (in[i] < n && ++delta == 0)
            return FALSE;
          if (in[i] != n)
            continue;
          for (guint32 q = delta, k = ST_PUNY_BASE;; k += ST_PUNY_BASE)
            {
              guint32 t = st_puny_threshold (k, bias);

              if (q < t)
                {
                  g_string_append_c (out, st_puny_digit (q));
                  break;
                }
              g_string_append_c (out, st_puny_digit (t + (q - t) % (ST_PUNY_BASE - t)));
              q = (q - t) / (ST_PUNY_BASE - t);
            }
          bias = st_puny_adapt (delta, h + 1, h == n_basic);
          delta = 0;
          h++;
        }
    }
  return TRUE;
}

GArray *
st_punycode_decode (const char *in, gsize len)
{
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (gunichar));
  guint32 n = ST_PUNY_N, i = 0, bias = ST_PUNY_BIAS;
  const char *dash = NULL;
  gsize pos = 0;

  for (gsize j = 0; j < len; j++)
    if (in[j] == '-')
      dash = in + j;
  if (dash != NULL)
    {
      /* Host names ignore case: read "XN--BCHER-KVA" as "xn--bcher-kva". */
      for (const char *p = in; p < dash; p++)
        {
          gunichar c = (guchar) g_ascii_tolower (*p);
          g_array_append_val (out, c);
        }
      pos = dash - in + 1;
    }

  while (pos < len)
    {
      guint32 old_i = i, w = 1;

      for (guint32 k = ST_PUNY_BASE;; k += ST_PUNY_BASE)
        {
          char c;
          guint32 digit, t;

          if (pos >= len)
            return NULL;
          c = g_ascii_tolower (in[pos++]);
          if (c >= 'a' && c <= 'z')
            digit = c - 'a';
          else if (c >= '0' && c <= '9')
            digit = c - '0' + 26;
          else
            return NULL;
          if (digit > (G_MAXUINT32 - i) / w)
            return NULL;
          i += digit * w;
          t = st_puny_threshold (k, bias);
          if (digit < t)
            break;
          if (w > G_MAXUINT32 / (ST_PUNY_BASE - t))
            return NULL;
          w *= ST_PUNY_BASE - t;
        }
      bias = st_puny_adapt (i - old_i, out->len + 1, old_i == 0);
      if (i / (out->len + 1) > G_MAXUINT32 - n)
        return NULL;
      n += i / (out->len + 1);
      i %= out->len + 1;
      if (n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF))
        return NULL;
      g_array_insert_val (out, i, n);
      i++;
    }
  return g_steal_pointer (&out);
}
