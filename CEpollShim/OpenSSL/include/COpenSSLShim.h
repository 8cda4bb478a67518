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

#endif
