// COpenSSLShim: the narrow C API through which Pushwave uses OpenSSL (libcrypto and libssl).
// Swift sees only these functions and opaque handles, so the library underneath could be
// swapped without touching the Swift code. Linked by the TLS and WebSocket layers and above;
// the Reactor never imports it.
#ifndef COPENSSLSHIM_H
#define COPENSSLSHIM_H

#include <stddef.h>
#include <stdint.h>

/// SHA-1 of `count` bytes into `digest` (20 bytes). Returns 0, or -1 if libcrypto failed.
int pw_sha1(const void *bytes, size_t count, uint8_t digest[20]);

/// HMAC-SHA-256 of `count` bytes under a key of `key_count` bytes into `mac` (32 bytes).
/// Returns 0, or -1 if libcrypto failed or the key is longer than INT_MAX bytes.
int pw_hmac_sha256(const void *key, size_t key_count, const void *bytes, size_t count, uint8_t mac[32]);

/// 1 if the `count` bytes at `a` and `b` are equal, else 0, in a time that depends only on
/// `count` (CRYPTO_memcmp): for comparing MACs without leaking where they differ.
int pw_constant_time_equal(const void *a, const void *b, size_t count);

// MARK: TLS contexts ----------------------------------------------------------------------
//
// A context is the shared, read-only half of TLS: certificates, keys, trust, protocol
// settings. It is safe to use from several threads once built. Functions that can fail take
// an `error` buffer and write a one-line, human-readable reason into it.

typedef struct pw_tls_context pw_tls_context;

/// A server context: TLS 1.2 and 1.3, ALPN http/1.1 (when offered), no renegotiation.
/// Certificates are added with pw_tls_context_add_certificate.
pw_tls_context *pw_tls_server_context_new(char *error, size_t error_size);

/// Adds a certificate chain (PEM, leaf first) and its private key (PEM). The first one is the
/// default; later ones are chosen when the client's SNI name matches their names. Fails on
/// unreadable files, a key that does not match, a certificate not yet valid or expired.
int pw_tls_context_add_certificate(pw_tls_context *context, const char *chain_path, const char *key_path,
                                   char *error, size_t error_size);

/// Asks every client for a certificate signed by a CA in `ca_path` (PEM) and refuses those
/// without one (mTLS).
int pw_tls_context_require_client_certificates(pw_tls_context *context, const char *ca_path,
                                               char *error, size_t error_size);

/// A client context that verifies servers against `ca_path` (PEM), or the system's trust
/// store when it is NULL; `verify` 0 accepts any certificate (for tests and load tools).
pw_tls_context *pw_tls_client_context_new(const char *ca_path, int verify, char *error, size_t error_size);

void pw_tls_context_free(pw_tls_context *context);

// MARK: Per-loop I/O ------------------------------------------------------------------------
//
// One pw_tls_io per event loop holds the buffers every connection of that loop shares: the
// ciphertext read from a socket, and the records written while a connection sends. A
// connection's SSL reads and writes through one BIO over these buffers, so an idle
// connection holds none of them.

typedef struct pw_tls_io pw_tls_io;

pw_tls_io *pw_tls_io_new(size_t input_capacity, size_t output_capacity);
void pw_tls_io_free(pw_tls_io *io);

/// Hands the allocator's free pages back to the system (glibc's malloc_trim). A handshake
/// allocates far more than the connection keeps (its buffers, key shares, certificate
/// messages); after a burst of handshakes that memory is free but still resident, about
/// twice what the established connections hold. Process-wide, and not free: call it after
/// a burst, not per connection.
void pw_release_free_memory(void);

// MARK: Connections -------------------------------------------------------------------------
//
// Results: a byte count, 0 at the end of input (pw_tls_receive), or -errno; -EAGAIN when the
// socket has nothing more to give or take now, -EPROTO when TLS failed.

typedef struct pw_tls pw_tls;

/// A connection over `fd`'s bytes. `server_name` (client side, may be NULL) is sent as SNI
/// when it is a DNS name and is what the certificate is verified against.
pw_tls *pw_tls_new(pw_tls_context *context, pw_tls_io *io, int is_server, const char *server_name);
void pw_tls_free(pw_tls *tls);

/// Drives the handshake: 1 when complete, 0 while it waits for the socket, or -errno.
int pw_tls_handshake(pw_tls *tls, int fd);

/// Reads ciphertext and decrypts into `buffer`: the plaintext count, 0 at the end of input
/// (close_notify or FIN), or -errno. `*more` is set to 1 when input is left (in the socket or
/// in this connection) that did not fit: call again.
long pw_tls_receive(pw_tls *tls, int fd, uint8_t *buffer, size_t capacity, int *more);

/// Encrypts both pieces (as few records as possible) and writes the records with one send:
/// the plaintext bytes taken, or -errno. Records the socket did not take are kept and
/// written first next time.
long pw_tls_send(pw_tls *tls, int fd, const uint8_t *first, size_t first_count,
                 const uint8_t *second, size_t second_count);

/// 1 while records wait for the socket.
int pw_tls_has_buffered_output(const pw_tls *tls);

/// Writes waiting records: 0 once none is left, or -errno.
int pw_tls_flush(pw_tls *tls, int fd);

/// Sends close_notify (best effort).
void pw_tls_shutdown(pw_tls *tls, int fd);

/// The negotiated protocol ("TLSv1.3"), ALPN ("http/1.1" or ""), SNI name (or "").
const char *pw_tls_version(const pw_tls *tls);
void pw_tls_alpn(const pw_tls *tls, char *out, size_t out_size);
const char *pw_tls_server_name(const pw_tls *tls);

/// The verified peer certificate's subject (RFC 2253) into `out`: its length, or -1 if none.
int pw_tls_peer_subject(const pw_tls *tls, char *out, size_t out_size);

/// A failure's reason (the OpenSSL error queue or the verification result), for the log.
void pw_tls_last_error(const pw_tls *tls, char *out, size_t out_size);

#endif
