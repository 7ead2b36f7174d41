// OpenSSL 3 (Debian libssl-dev) for DTLS 1.2 in SecureMedia.
// Deprecated APIs stay out of reach; macros Swift cannot import get inline wrappers below.
#ifndef POD_ARCADE_COPENSSL_SHIM_H
#define POD_ARCADE_COPENSSL_SHIM_H
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/bio.h>
#include <openssl/rand.h>
#include <openssl/ec.h>
#endif
