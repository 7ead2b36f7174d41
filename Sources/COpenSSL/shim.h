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
#include <sys/time.h>

/// Restricts a context to DTLS 1.2 only (RFC 6347). Returns 1 on success.
static inline int pa_SSL_CTX_set_dtls12_only(SSL_CTX *ctx) {
    if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1) return 0;
    return (int)SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
}

/// Options for WebRTC DTLS: the MTU comes from SSL_set_mtu, never from a socket
/// (SSL_OP_NO_QUERY_MTU); no session tickets (no resumption between peer connections); no
/// renegotiation (RFC 8827 §6.5 needs none, and it would bring a third epoch).
static inline void pa_SSL_CTX_set_webrtc_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
}

/// The largest datagram OpenSSL may write (records included). Returns the MTU, 0 if refused.
static inline long pa_SSL_set_mtu(SSL *ssl, long mtu) { return SSL_set_mtu(ssl, mtu); }

/// DTLSv1_handle_timeout: retransmits the buffered flight when the timer has expired.
static inline long pa_DTLSv1_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }

/// BIO_set_retry_read / BIO_clear_retry_flags for the custom datagram BIOs.
static inline void pa_BIO_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
static inline void pa_BIO_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }

/// MBSTRING_ASC for X509_NAME_add_entry_by_txt.
static inline int pa_MBSTRING_ASC(void) { return MBSTRING_ASC; }

/// The BIO_ctrl command OpenSSL's DTLS timer uses to announce its next deadline to the read
/// BIO (d1_lib.c dtls1_start_timer / dtls1_stop_timer); parg points at the SSL's own timer.
static inline int pa_BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT(void) { return BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT; }

/// Reads and writes the struct timeval behind that pointer.
static inline int pa_timeval_is_set(const void *tv) {
    const struct timeval *t = (const struct timeval *)tv;
    return t->tv_sec != 0 || t->tv_usec != 0;
}
static inline void pa_timeval_set(void *tv, long long seconds) {
    struct timeval *t = (struct timeval *)tv;
    t->tv_sec = (time_t)seconds;
    t->tv_usec = 0;
}
#endif
