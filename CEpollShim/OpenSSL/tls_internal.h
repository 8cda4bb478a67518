// What the TLS files of the shim share; never seen by Swift.
#ifndef PW_TLS_INTERNAL_H
#define PW_TLS_INTERNAL_H

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "include/COpenSSLShim.h"

/// The largest plaintext of one TLS record.
#define PW_TLS_RECORD_PLAINTEXT 16384
/// Room kept for what one record adds around its plaintext (header, IV, tag or MAC, CBC
/// padding), with a wide margin.
#define PW_TLS_RECORD_OVERHEAD 1024

struct pw_tls_io {
    /// The BIO every connection of the loop reads and writes through (one reference each).
    BIO *bio;
    /// Ciphertext read from a socket.
    uint8_t *input;
    size_t input_capacity;
    /// The ciphertext the BIO hands to OpenSSL next: a part of `input` or a connection's stash.
    const uint8_t *window;
    size_t window_count;
    /// Records OpenSSL wrote during the current operation, sent with one call at its end.
    uint8_t *output;
    size_t output_capacity;
    size_t output_count;
    /// Where two plaintext pieces are joined so that a record never ends at their boundary.
    uint8_t scratch[PW_TLS_RECORD_PLAINTEXT];
};

/// Builds the loop's BIO over `io`.
BIO *pw_tls_bio_new(struct pw_tls_io *io);

/// The context new connections start with.
SSL_CTX *pw_tls_context_main(pw_tls_context *context);

/// Writes OpenSSL's queued errors (or `fallback`) into `error`.
void pw_tls_describe_error(const char *what, char *error, size_t error_size);

#endif
