// COpenSSLShim: the narrow C API through which Pushwave uses OpenSSL's libcrypto (and,
// later, libssl). Swift sees only these functions, so the library underneath could be
// swapped without touching the Swift code. Linked by the WebSocket layer and above; the
// Reactor never imports it.
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

#endif
