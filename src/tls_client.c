/*
 * tls_client: OpenSSL 3.0 client contexts and session facts. See
 * tls_client.h.
 *
 * SSL_VERIFY_NONE keeps the handshake going whatever the certificate, and
 * OpenSSL still records the verdict (SSL_get_verify_result), including the
 * host name check of SSL_set1_host. SSL_OP_IGNORE_UNEXPECTED_EOF: many MTAs
 * close right after 221 without close_notify (OSSL-07).
 */
#include "config.h"

#include "tls_client.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

SSL_CTX *tls_client_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	/* Opportunistic TLS to MX hosts: any encryption beats plaintext
	 * (RFC 7435), so old protocol versions are not refused here; Debian's
	 * security level 2 still refuses weak keys and SHA-1 signatures. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error(); /* no system store: ca_file may still do */
	if (ca_file != NULL && ca_file[0] != '\0' &&
	    SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		char why[200];

		ERR_error_string_n(ERR_get_error(), why, sizeof(why));
		ERR_clear_error();
		snprintf(err, errlen, "cannot load CA file %s: %s", ca_file, why);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL *tls_client_ssl_new(SSL_CTX *ctx, const char *sni, const char *verify_name)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	if (sni != NULL && sni[0] != '\0')
		SSL_set_tlsext_host_name(ssl, sni);
	if (verify_name != NULL && verify_name[0] != '\0') {
		/* MX names are checked as DNS names; no partial wildcards. */
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		SSL_set1_host(ssl, verify_name);
	}
	return ssl;
}

static time_t asn1_to_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

void tls_client_name_text(X509_NAME *name, char *out, size_t len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n;

	out[0] = '\0';
	if (bio == NULL)
		return;
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	n = BIO_read(bio, out, (int)len - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
	/* The RFC 2253 form escapes C0 controls and DEL (\7F) but leaves
	 * UTF-8 as is: C1 controls (U+0080..U+009F) from a hostile
	 * certificate would reach a terminal through `mxsend probe`; so
	 * would a character cut in half at the end of out. */
	for (size_t i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] == 0xc2 && ((unsigned char)out[i + 1] & 0xe0) == 0x80)
			out[i] = out[i + 1] = '?';
	utf8_sanitize(out);
}

void tls_client_details(SSL *ssl, struct tls_details *out)
{
	X509 *cert;
	const SSL_CIPHER *c;
	GENERAL_NAMES *sans;

	memset(out, 0, sizeof(*out));
	snprintf(out->version, sizeof(out->version), "%s", SSL_get_version(ssl));
	c = SSL_get_current_cipher(ssl);
	snprintf(out->cipher, sizeof(out->cipher), "%s", c ? SSL_CIPHER_get_name(c) : "");
	{
		int nid = SSL_get_negotiated_group(ssl);
		const char *g = nid > 0 ? OBJ_nid2sn(nid & ~TLSEXT_nid_unknown) : NULL;

		snprintf(out->group, sizeof(out->group), "%s", g ? g : "");
	}
	out->verify_code = SSL_get_verify_result(ssl);
	cert = SSL_get1_peer_certificate(ssl);
	out->have_cert = cert != NULL;
	if (cert == NULL && out->verify_code == X509_V_OK)
		out->verify_code = X509_V_ERR_UNSPECIFIED; /* anonymous: nothing verified */
	out->verified = out->have_cert && out->verify_code == X509_V_OK;
	if (!out->verified)
		snprintf(out->verify_error, sizeof(out->verify_error), "%s",
		         out->have_cert ? X509_verify_cert_error_string(out->verify_code)
		                        : "no certificate");
	if (cert == NULL)
		return;
	tls_client_name_text(X509_get_subject_name(cert), out->subject, sizeof(out->subject));
	tls_client_name_text(X509_get_issuer_name(cert), out->issuer, sizeof(out->issuer));
	out->not_before = asn1_to_time(X509_get0_notBefore(cert));
	out->not_after = asn1_to_time(X509_get0_notAfter(cert));
	out->self_signed = X509_check_issued(cert, cert) == X509_V_OK;
	{
		/* The name SSL_set1_host gave, checked on its own (OpenSSL
		 * reports only the first verification error). */
		const char *host = X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0);

		out->name_checked = host != NULL;
		out->name_match = host != NULL &&
			X509_check_host(cert, host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
	}
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans) && out->nsan < TLS_SAN_MAX; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

		if (gn->type == GEN_DNS) {
			const unsigned char *d = ASN1_STRING_get0_data(gn->d.dNSName);
			int l = ASN1_STRING_length(gn->d.dNSName);
			char *o = out->san[out->nsan];
			size_t k = 0;

			/* Certificate data is outside input: keep printable ASCII. */
			for (int j = 0; j < l && k + 1 < sizeof(out->san[0]); j++)
				o[k++] = (d[j] > 0x20 && d[j] < 0x7f) ? (char)d[j] : '?';
			o[k] = '\0';
			out->nsan++;
		}
	}
	GENERAL_NAMES_free(sans);
	X509_free(cert);
}

size_t tls_client_chain(SSL *ssl, char (*subjects)[TLS_NAME_MAX], char (*issuers)[TLS_NAME_MAX],
                        size_t max)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl); /* not owned */
	size_t n = 0;

	for (int i = 0; chain != NULL && i < sk_X509_num(chain) && n < max; i++, n++) {
		X509 *c = sk_X509_value(chain, i);

		tls_client_name_text(X509_get_subject_name(c), subjects[n], TLS_NAME_MAX);
		tls_client_name_text(X509_get_issuer_name(c), issuers[n], TLS_NAME_MAX);
	}
	return n;
}
