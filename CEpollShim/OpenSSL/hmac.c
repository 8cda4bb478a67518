#include "include/COpenSSLShim.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <pthread.h>
#include <string.h>

// SHA-256, fetched from the default provider once. HMAC() looks both the MAC and the digest
// up by name on every call, which cost several times the hashing itself (a token check per
// handshake).
static EVP_MD *sha256_digest;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void) {
    sha256_digest = EVP_MD_fetch(NULL, "SHA256", NULL);
}

// HMAC (RFC 2104) over the fetched digest: H((K ^ opad) || H((K ^ ipad) || message)), with
// the key hashed first when it is longer than the 64-byte block.
static int hmac_sha256_fetched(const EVP_MD *md, const unsigned char *key, size_t key_count, const unsigned char *bytes,
                               size_t count, uint8_t mac[32]) {
    unsigned char block[64] = {0};
    unsigned char pad[64];
    unsigned char inner[32];
    unsigned int length = 0;
    int ok = 1;
    if (key_count > sizeof block) {
        ok = EVP_Digest(key, key_count, block, &length, md, NULL) && length == 32;
    } else if (key_count > 0) {
        memcpy(block, key, key_count);
    }
    EVP_MD_CTX *context = ok ? EVP_MD_CTX_new() : NULL;
    if (context == NULL) ok = 0;
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = block[i] ^ 0x36;
    ok = ok && EVP_DigestInit_ex2(context, md, NULL) && EVP_DigestUpdate(context, pad, sizeof pad)
        && EVP_DigestUpdate(context, bytes, count) && EVP_DigestFinal_ex(context, inner, &length) && length == 32;
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = block[i] ^ 0x5c;
    ok = ok && EVP_DigestInit_ex2(context, md, NULL) && EVP_DigestUpdate(context, pad, sizeof pad)
        && EVP_DigestUpdate(context, inner, sizeof inner) && EVP_DigestFinal_ex(context, mac, &length) && length == 32;
    EVP_MD_CTX_free(context);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    return ok ? 0 : -1;
}

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
    pthread_once(&sha256_once, fetch_sha256);
    if (sha256_digest != NULL) return hmac_sha256_fetched(sha256_digest, key, key_count, bytes, count, mac);
    unsigned int length = 0;
    // Without a fetched digest, the one-shot HMAC(): the part of the old interface that
    // OpenSSL 3 keeps undeprecated (the HMAC_CTX functions are deprecated for EVP_MAC).
    if (HMAC(EVP_sha256(), key, (int)key_count, bytes, count, mac, &length) == NULL || length != 32) return -1;
    return 0;
}

int pw_constant_time_equal(const void *a, const void *b, size_t count) {
    return CRYPTO_memcmp(a, b, count) == 0;
}
