#include "include/COpenSSLShim.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

int pw_hmac_sha256(const void *key, size_t key_count, const void *bytes, size_t count, uint8_t mac[32]) {
    // HMAC() takes the key length as an int; a longer key is a caller's mistake, not
    // something to truncate silently.
    if (key_count > INT_MAX) return -1;
    // A NULL key with length 0 means "reuse the previous key" to the HMAC machinery, so an
    // empty key is given a real (unread) address.
    static const unsigned char empty_key = 0;
    if (key == NULL) key = &empty_key;
    static const unsigned char empty_input = 0;
    if (bytes == NULL) bytes = &empty_input;
    unsigned int length = 0;
    // The one-shot HMAC() is the part of the old interface that OpenSSL 3 keeps
    // undeprecated (the HMAC_CTX functions are deprecated in favour of EVP_MAC).
    if (HMAC(EVP_sha256(), key, (int)key_count, bytes, count, mac, &length) == NULL || length != 32) return -1;
    return 0;
}

int pw_constant_time_equal(const void *a, const void *b, size_t count) {
    return CRYPTO_memcmp(a, b, count) == 0;
}
