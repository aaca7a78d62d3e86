#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *address; /* local@domain, ASCII (email_address_valid) */
  char *display; /* the display name, UTF-8, or NULL */
} EmailMailbox;

/* What one mail is made of. Strings are UTF-8; the addresses ASCII. */
typedef struct {
  const EmailMailbox *from;
  const EmailMailbox *reply_to; /* may be NULL */
  const EmailMailbox *to;
  const char *subject;    /* may be NULL: no Subject: header */
  const char *message_id; /* "<…@…>" */
  const char *boundary;   /* unique to the mail: its MIME boundary */
  const char *text;       /* the text/plain body */
  const char *html;       /* may be NULL: text/plain only */
} EmailMessage;

/* Whether @address is one the plugin accepts: ASCII, one '@', nothing
 * that would need quoting. */
gboolean email_address_valid (const char *address);

/* The whole mail, headers and body, ready for SMTP DATA (Date: is now). */
char *email_message_build (const EmailMessage *message);

G_END_DECLS
