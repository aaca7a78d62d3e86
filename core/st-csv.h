#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A streaming CSV reader (RFC 4180 and what spreadsheets write): fields
 * separated by one delimiter byte; a field in double quotes may hold the
 * delimiter, line breaks and doubled quotes (""); records end with LF, CRLF
 * or a lone CR; a UTF-8 byte-order mark at the very start is dropped; empty
 * lines are skipped. Input that starts with a UTF-16 byte-order mark (LE or
 * BE), or is in an encoding named with st_csv_set_encoding(), is converted
 * to UTF-8 first. Bytes are fed in pieces of any size, so a file is read
 * once, in blocks, never whole. Nothing here reads files or allocates per
 * field. */
typedef struct _StCsv StCsv;

/* One record. @fields live until the callback returns, which may change
 * them in place (trim them). @line is the physical line (1-based, the
 * header is line 1) where the record starts; line breaks inside quotes
 * count. @problem, when not NULL, says why the record is malformed (text
 * after a closing quote, a quote still open at the end of the input,
 * invalid UTF-8); @fields are then unreliable. Return FALSE to stop
 * reading. */
typedef gboolean (*StCsvRecordFunc) (char **fields, guint n_fields,
                                     guint64 line, const char *problem,
                                     gpointer user_data);

/* The longest record: a longer one (a quote never closed, a file that is
 * no CSV) stops the reading with an error, since where the next record
 * starts cannot be known. */
#define ST_CSV_MAX_RECORD (1024 * 1024)

StCsv *st_csv_new (char delimiter, StCsvRecordFunc func, gpointer user_data);
void st_csv_free (StCsv *csv);

/* Parse @len more bytes, calling the record function for each record they
 * complete. FALSE when the function asked to stop (@error untouched), a
 * record outgrew ST_CSV_MAX_RECORD (ST_ERROR_INVALID_ARGUMENT naming the
 * line it started on) or converted input has bytes that are not of its
 * encoding (ST_ERROR_INVALID_ARGUMENT naming the line). */
gboolean st_csv_feed (StCsv *csv, const char *data, gsize len,
                      GError **error);

/* Read input in @encoding (an iconv name: "WINDOWS-1252", "latin1"; NULL
 * or "UTF-8" for UTF-8), converting it to UTF-8; a byte-order mark at the
 * start still wins. Before the first st_csv_feed(). FALSE with
 * ST_ERROR_INVALID_ARGUMENT for an encoding the system does not know. */
gboolean st_csv_set_encoding (StCsv *csv, const char *encoding,
                              GError **error);

/* Read the records after the current one with @delimiter: for a first
 * line that names the delimiter (Excel's "sep=;"). */
void st_csv_set_delimiter (StCsv *csv, char delimiter);

/* The input has ended: report the last record if it had no line break. */
gboolean st_csv_finish (StCsv *csv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StCsv, st_csv_free)

G_END_DECLS
