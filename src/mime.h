/*
 * mime: the encoders a message needs to travel as 7-bit text.
 *
 *   - base64 (RFC 2045 6.8) and quoted-printable (RFC 2045 6.7) bodies;
 *   - header text: RFC 2047 encoded-words for non-ASCII display names,
 *     subjects and other unstructured text, folded at white space so lines
 *     stay within 78 characters (RFC 5322 2.1.1, 2.2.3);
 *   - parameters: quoted strings, RFC 2231 extended values and
 *     continuations for non-ASCII and long attachment names;
 *   - facts about a text (8-bit octets, NUL, bare CR/LF, longest line),
 *     CRLF normalisation of a text body and UTF-8 validation;
 *   - a content type from a file name's extension.
 *
 * Pure: no I/O, no clock, no globals but constant tables. Output goes to a
 * struct buf owned by the caller; errors are a reason in err (at most
 * errlen octets) and a -1 return.
 */
#ifndef MXSEND_MIME_H
#define MXSEND_MIME_H

#include <stddef.h>

#include "buf.h"

#define MIME_LINE_MAX 998  /* RFC 5322 2.1.1 MUST, RFC 5321 4.5.3.1.6: octets per line, no CRLF */
#define MIME_FOLD_WIDTH 78 /* RFC 5322 2.1.1 SHOULD: header lines are folded to this */
#define MIME_WORD_MAX 75   /* RFC 2047 2: one encoded-word, delimiters included */
#define MIME_B64_LINE 76   /* RFC 2045 6.8: base64 characters per line */
#define MIME_QP_LINE 76    /* RFC 2045 6.7 rule 5: quoted-printable line, '=' included */

/* What mime_scan found in a stretch of bytes. A line ends at LF (with or
 * without a CR before it) or at the end of the data. */
struct mime_scan {
	int has_8bit;        /* an octet >= 0x80 */
	int has_nul;         /* a NUL octet */
	int has_ctl;         /* a control other than HT, CR, LF (NUL, ESC, DEL, ...) */
	size_t bare_cr;      /* CRs not followed by LF */
	size_t bare_lf;      /* LFs not preceded by CR */
	size_t max_line;     /* octets in the longest line, line end excluded */
	size_t max_line_no;  /* its 1-based line number (0 for empty data) */
	size_t lines;        /* number of lines (a last line without LF counts) */
};

/* Scans len bytes. Never fails. */
void mime_scan(const void *data, size_t len, struct mime_scan *out);

/* Checks that len bytes are well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). Returns 0, or -1 with
 * the offset of the first bad octet in *bad (bad may be NULL). */
int mime_utf8_check(const void *data, size_t len, size_t *bad);

/* Appends the text body data with every line end as CRLF: LF and CRLF
 * become CRLF; a last line without a line end gets one. A bare CR (one
 * not followed by LF) or a NUL is refused with its line number: a bare CR
 * is never guessed into a line end (SEC-04). Returns 0, or -1 with a
 * reason. Empty data appends nothing. */
int mime_text_crlf(struct buf *out, const void *data, size_t len, char *err, size_t errlen);

/* Appends base64 (RFC 4648 alphabet, '=' padding). line_len > 0: lines of
 * at most line_len characters (a multiple of 4), each ending with CRLF,
 * the last one too; 0: one line without CRLF. Returns 0 or -1 (memory). */
int mime_base64(struct buf *out, const void *data, size_t len, size_t line_len);

/* Appends quoted-printable (RFC 2045 6.7). CRLF in the input is a line
 * break and is written as CRLF; every other octet outside 33..126, '=',
 * and a space or tab at the end of a line are written as =XX; soft line
 * breaks keep every line within MIME_QP_LINE characters. Returns 0 or -1
 * (memory). */
int mime_qp(struct buf *out, const void *data, size_t len);

/* Content-Transfer-Encoding values (RFC 2045 6.1). */
enum mime_cte {
	MIME_CTE_7BIT,   /* US-ASCII, lines <= 998 */
	MIME_CTE_QP,     /* text with 8-bit octets or long lines */
	MIME_CTE_BASE64, /* attachments */
	MIME_CTE_LAST
};

/* "7bit", "quoted-printable", "base64"; NULL for MIME_CTE_LAST or worse. */
const char *mime_cte_name(enum mime_cte cte);

/* The encoding a text part needs: 7bit when every octet is below 0x80,
 * there is no control other than HT, CR, LF, no bare CR or LF and no line
 * longer than 998 octets; quoted-printable otherwise. Composed messages
 * then never need 8BITMIME (DLV-26, EXT-03) nor carry a long line
 * (DLV-25). */
enum mime_cte mime_cte_for_text(const void *data, size_t len);

/* The media type for a file name, from its extension (case-insensitive):
 * a static string, "application/octet-stream" when unknown. */
const char *mime_type_from_name(const char *filename);

/* 0 when type is a plausible "type/subtype" (RFC 2045 5.1 tokens, no
 * parameters), -1 with a reason otherwise. */
int mime_check_type(const char *type, char *err, size_t errlen);

/*
 * Header folding. A struct mime_fold appends a header field's value to a
 * buf, token by token, and starts a new line (CRLF, then the white space
 * that preceded the token) whenever the token would pass column
 * MIME_FOLD_WIDTH. Unfolding (removing each CRLF) gives back the value.
 * A line that still passes MIME_LINE_MAX (a token too long to fold) is an
 * error.
 */
struct mime_fold {
	struct buf *out; /* where the value goes; owned by the caller */
	size_t col;      /* characters on the current line so far */
};

/* Starts folding into out; col is what the line already holds (the field
 * name and the colon: strlen("Subject:")). */
void mime_fold_init(struct mime_fold *f, struct buf *out, size_t col);

/* Appends white space ws (wslen octets, may be 0) and the token word. A
 * token with no white space before it is never moved to a new line.
 * Returns 0, or -1 with a reason (memory, line over 998). */
int mime_fold_put(struct mime_fold *f, const char *ws, size_t wslen, const char *word,
                  size_t wlen, char *err, size_t errlen);

/* Flags for mime_fold_text. */
enum mime_text_flag {
	/* The text is literal (a Subject typed by a user): words that look
	 * like encoded-words ("=?") and ASCII words too long to fold
	 * (> 76 characters) are encoded too, so the reader sees exactly
	 * the text. Without it ASCII is kept as given, which lets a caller
	 * pass structured values or words encoded already. */
	MIME_TEXT_LITERAL = 1 << 0,
};

/* Appends unstructured text (RFC 5322 3.2.5), UTF-8, with leading and
 * trailing white space removed. Runs of words that need it (non-ASCII,
 * and with MIME_TEXT_LITERAL the cases above) become RFC 2047
 * encoded-words: charset UTF-8, Q or B, whichever is shorter (Q on a
 * tie), each at most 75 characters, never splitting a UTF-8 sequence,
 * separated by spaces where the line may fold. Other words and the white
 * space between them are kept. A control character other than HT (CR,
 * LF, NUL, ...) or malformed UTF-8 is refused with its offset (SEC-05).
 * Returns 0, or -1 with a reason. */
int mime_fold_text(struct mime_fold *f, const char *text, size_t len, unsigned flags,
                   char *err, size_t errlen);

/* Appends a display name (an RFC 5322 3.2.5 phrase), UTF-8: as atoms when
 * it is plain ASCII words, as a quoted-string when it holds specials, as
 * encoded-words (RFC 2047 5(3), restricted Q alphabet) when it holds
 * non-ASCII or "=?". Same refusals and returns as mime_fold_text. */
int mime_fold_phrase(struct mime_fold *f, const char *text, size_t len, char *err,
                     size_t errlen);

/* How a parameter with non-ASCII text is written. */
enum mime_param_style {
	MIME_PARAM_2231, /* attr*=UTF-8''%E4%BD%A0 (RFC 2231 4), the standard */
	MIME_PARAM_2047, /* attr="=?UTF-8?B?5L2g?=": not standard (RFC 2047 5
	                    forbids encoded-words in quoted strings) but what
	                    clients without RFC 2231 read, e.g. for name= */
};

/* Appends "; attr=value" (RFC 2045 5.1) with value (len octets, UTF-8)
 * as a token, or else a quoted-string, when it is printable ASCII; in
 * style otherwise. A
 * parameter too long for one line is split into RFC 2231 3
 * continuations (attr*0=, attr*1=, ...; attr*0*= when extended) in style
 * MIME_PARAM_2231, into several encoded-words in MIME_PARAM_2047. Same
 * refusals and returns as mime_fold_text. */
int mime_fold_param(struct mime_fold *f, const char *attr, const char *value, size_t len,
                    enum mime_param_style style, char *err, size_t errlen);

#endif
