/*
 * tls_client: OpenSSL set-up for SMTP clients and the facts about a TLS
 * session that logs, JSON and the TLS policy need.
 *
 * Verification is always computed (chain against the trust store, and the
 * MX host name with SSL_set1_host) but never aborts the handshake: the
 * policy (tls_policy.c) decides what an unverified peer means, so that
 * opportunistic TLS still encrypts to a self-signed MX while `verify`
 * refuses it.
 */
#ifndef MXSEND_TLS_CLIENT_H
#define MXSEND_TLS_CLIENT_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <time.h>

#define TLS_SAN_MAX 16

/* What a finished handshake looked like. */
struct tls_details {
	char version[16];          /* "TLSv1.3" */
	char cipher[64];           /* "TLS_AES_256_GCM_SHA384" */
	char group[32];            /* key exchange group, "" if unknown */
	int verified;              /* chain and name both valid */
	long verify_code;          /* X509_V_OK or the OpenSSL code */
	char verify_error[128];    /* "" or OpenSSL's text for verify_code */
	int have_cert;             /* the peer sent a certificate */
	char subject[256];         /* one-line RFC 2253 form */
	char issuer[256];
	char san[TLS_SAN_MAX][128];/* DNS names from subjectAltName */
	size_t nsan;
	time_t not_before, not_after;
	int self_signed;           /* issuer == subject and the key signs itself */
	int name_checked;          /* a name to check was set (tls_client_ssl_new) */
	int name_match;            /* the certificate is valid for that name,
	                              whatever else is wrong with it: OpenSSL stops
	                              at the first error, and an expired
	                              certificate says nothing about its name */
};

/* A client context: system trust store plus ca_file (may be NULL),
 * TLS 1.2 and later allowed... (see tls_client.c for why 1.0 stays).
 * NULL with a reason in err on failure. */
SSL_CTX *tls_client_ctx_new(const char *ca_file, char *err, size_t errlen);

/* An SSL object for one connection: SNI = sni (may be NULL, not for IP
 * literals), name check against verify_name (may be NULL: chain only). */
SSL *tls_client_ssl_new(SSL_CTX *ctx, const char *sni, const char *verify_name);

/* A certificate name on one line (RFC 2253) into out, as people and JSON
 * can take it: valid UTF-8, no C0 or C1 controls, cut at len - 1. */
void tls_client_name_text(X509_NAME *name, char *out, size_t len);

/* Reads the facts of a finished handshake. */
void tls_client_details(SSL *ssl, struct tls_details *out);

#define TLS_CHAIN_MAX 8
#define TLS_NAME_MAX 256

/* The certificates the peer sent, leaf first: the subject and issuer of
 * each (RFC 2253 one-line form) into subjects[i] and issuers[i], at most
 * max of them. Returns how many were written. Kept apart from
 * tls_details so that delivery sessions do not carry the chain. */
size_t tls_client_chain(SSL *ssl, char (*subjects)[TLS_NAME_MAX], char (*issuers)[TLS_NAME_MAX],
                        size_t max);

#endif
