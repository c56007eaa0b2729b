/*
 * x509_int.h: what x509.c shares with x509_make.c, and nothing else
 * includes.  x509.c reads and checks material; x509_make.c makes it (keys,
 * CSRs, PKCS#12) and needs the same PEM readers and key check.
 */
#ifndef CERTAGENT_X509_INT_H
#define CERTAGENT_X509_INT_H

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* The reason of the newest error on OpenSSL's queue, for an error text. */
const char *x509_ossl_why(void);
/* A memory BIO's contents as a malloc'd NUL-terminated string. */
int x509_bio_string(BIO *bio, char **out);
/* Every certificate of PEM, in order (the stack may be empty); WHAT names
 * the text in errors. */
int x509_read_certs(const char *pem, const char *what, STACK_OF(X509) **out,
		    char *err, size_t errlen);
/* The first certificate of PEM, and (if REST) the others. */
int x509_read_first(const char *pem, const char *what, X509 **first,
		    STACK_OF(X509) **rest, char *err, size_t errlen);
/* The private key of PEM; an encrypted key is refused, never prompted. */
int x509_read_key(const char *pem, EVP_PKEY **out, char *err, size_t errlen);
/* KEY as unencrypted PKCS#8 PEM, malloc'd. */
int x509_write_key(EVP_PKEY *key, char **out);
/* 0 if KEY belongs to X; with WHOLE its private half is proven too. */
int x509_key_belongs(X509 *x, EVP_PKEY *key, int whole, char *err,
		     size_t errlen);
/* EdDSA signs the message itself: no separate digest. */
int x509_is_ed(const EVP_PKEY *key);

#endif
