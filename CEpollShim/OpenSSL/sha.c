#include "include/COpenSSLShim.h"

#include <openssl/evp.h>

int pw_sha1(const void *bytes, size_t count, uint8_t digest[20]) {
    unsigned int length = 0;
    // EVP_Digest is the one-shot form of the EVP interface (the SHA1() shortcut is
    // deprecated in OpenSSL 3).
    if (EVP_Digest(bytes, count, digest, &length, EVP_sha1(), NULL) != 1 || length != 20) return -1;
    return 0;
}
