// TLS contexts: certificates, trust and protocol settings, shared by every connection.
#include "include/COpenSSLShim.h"
#include "tls_internal.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pw_tls_context {
    /// The default context: the first certificate, and the settings every handshake starts with.
    SSL_CTX *main;
    /// One context per further certificate, picked by SNI (SSL_set_SSL_CTX).
    SSL_CTX **alternates;
    int alternate_count;
    int has_certificate;
    /// The mTLS trust file, applied to every context (also those added after it).
    char *client_ca_path;
};

static const unsigned char http11[] = "http/1.1";

void pw_tls_describe_error(const char *what, char *error, size_t error_size) {
    if (error == NULL || error_size == 0) return;
    unsigned long code = ERR_peek_last_error();
    char reason[256] = "unknown error";
    if (code != 0) ERR_error_string_n(code, reason, sizeof reason);
    snprintf(error, error_size, "%s: %s", what, reason);
    ERR_clear_error();
}

/// Selects http/1.1 when the client offers it and otherwise answers without ALPN: a client
/// offering only other protocols still gets a connection (and its own error, if any).
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *out_count,
                       const unsigned char *offered, unsigned int offered_count, void *arg) {
    (void)ssl;
    (void)arg;
    for (unsigned int index = 0; index < offered_count;) {
        unsigned int length = offered[index];
        if (index + 1 + length > offered_count) break;
        if (length == sizeof http11 - 1 && memcmp(offered + index + 1, http11, length) == 0) {
            *out = offered + index + 1;
            *out_count = (unsigned char)length;
            return SSL_TLSEXT_ERR_OK;
        }
        index += 1 + length;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/// Switches to the context whose certificate names the requested host; the default stays
/// for unknown names and for clients without SNI.
static int select_certificate(SSL *ssl, int *alert, void *arg) {
    (void)alert;
    struct pw_tls_context *context = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == NULL) return SSL_TLSEXT_ERR_OK;
    for (int index = 0; index < context->alternate_count; index++) {
        X509 *leaf = SSL_CTX_get0_certificate(context->alternates[index]);
        if (leaf != NULL && X509_check_host(leaf, name, 0, 0, NULL) == 1) {
            SSL_set_SSL_CTX(ssl, context->alternates[index]);
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

static int apply_client_ca(SSL_CTX *ctx, const char *path, char *error, size_t error_size) {
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(path);
    if (names == NULL || SSL_CTX_load_verify_locations(ctx, path, NULL) != 1) {
        if (names != NULL) sk_X509_NAME_pop_free(names, X509_NAME_free);
        pw_tls_describe_error("cannot load the client CA file", error, error_size);
        return -1;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return 0;
}

static SSL_CTX *new_server_ctx(void) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    // Renegotiation costs the server a handshake on the peer's whim and buys nothing here.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    // Idle connections give back OpenSSL's record buffers (~34 KiB each otherwise).
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    // No server-side session store (memory per past client); resumption uses tickets.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    static const unsigned char session_context[] = "pushwave";
    SSL_CTX_set_session_id_context(ctx, session_context, sizeof session_context - 1);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    return ctx;
}

pw_tls_context *pw_tls_server_context_new(char *error, size_t error_size) {
    struct pw_tls_context *context = calloc(1, sizeof *context);
    if (context == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    context->main = new_server_ctx();
    if (context->main == NULL) {
        pw_tls_describe_error("cannot create a TLS context", error, error_size);
        free(context);
        return NULL;
    }
    SSL_CTX_set_tlsext_servername_callback(context->main, select_certificate);
    SSL_CTX_set_tlsext_servername_arg(context->main, context);
    return context;
}

/// Fails with a readable message when `path` cannot be opened (OpenSSL's would be cryptic).
static int check_readable(const char *what, const char *path, char *error, size_t error_size) {
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        snprintf(error, error_size, "cannot read the %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    fclose(file);
    return 0;
}

static int check_validity(SSL_CTX *ctx, const char *path, char *error, size_t error_size) {
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    if (leaf == NULL) {
        snprintf(error, error_size, "no certificate in %s", path);
        return -1;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
        snprintf(error, error_size, "the certificate in %s has expired", path);
        return -1;
    }
    if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
        snprintf(error, error_size, "the certificate in %s is not valid yet", path);
        return -1;
    }
    return 0;
}

static int load_certificate(SSL_CTX *ctx, const char *chain_path, const char *key_path, char *error, size_t error_size) {
    if (check_readable("certificate", chain_path, error, error_size) != 0) return -1;
    if (check_readable("key", key_path, error, error_size) != 0) return -1;
    if (SSL_CTX_use_certificate_chain_file(ctx, chain_path) != 1) {
        pw_tls_describe_error("cannot load the certificate chain", error, error_size);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
        pw_tls_describe_error("cannot load the private key", error, error_size);
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(error, error_size, "the key in %s does not match the certificate in %s", key_path, chain_path);
        return -1;
    }
    return check_validity(ctx, chain_path, error, error_size);
}

int pw_tls_context_add_certificate(pw_tls_context *context, const char *chain_path, const char *key_path,
                                   char *error, size_t error_size) {
    if (!context->has_certificate) {
        if (load_certificate(context->main, chain_path, key_path, error, error_size) != 0) return -1;
        context->has_certificate = 1;
        return 0;
    }
    SSL_CTX *ctx = new_server_ctx();
    SSL_CTX **grown = realloc(context->alternates, sizeof *grown * (size_t)(context->alternate_count + 1));
    if (ctx == NULL || grown == NULL) {
        SSL_CTX_free(ctx);
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    context->alternates = grown;
    if (load_certificate(ctx, chain_path, key_path, error, error_size) != 0 ||
        (context->client_ca_path != NULL && apply_client_ca(ctx, context->client_ca_path, error, error_size) != 0)) {
        SSL_CTX_free(ctx);
        return -1;
    }
    context->alternates[context->alternate_count++] = ctx;
    return 0;
}

int pw_tls_context_require_client_certificates(pw_tls_context *context, const char *ca_path,
                                               char *error, size_t error_size) {
    if (check_readable("client CA file", ca_path, error, error_size) != 0) return -1;
    if (apply_client_ca(context->main, ca_path, error, error_size) != 0) return -1;
    for (int index = 0; index < context->alternate_count; index++) {
        if (apply_client_ca(context->alternates[index], ca_path, error, error_size) != 0) return -1;
    }
    free(context->client_ca_path);
    context->client_ca_path = strdup(ca_path);
    return 0;
}

pw_tls_context *pw_tls_client_context_new(const char *ca_path, int verify, char *error, size_t error_size) {
    struct pw_tls_context *context = calloc(1, sizeof *context);
    if (context == NULL || (context->main = SSL_CTX_new(TLS_client_method())) == NULL) {
        pw_tls_describe_error("cannot create a TLS context", error, error_size);
        free(context);
        return NULL;
    }
    SSL_CTX *ctx = context->main;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    if (verify) {
        if (ca_path != NULL && check_readable("CA file", ca_path, error, error_size) != 0) {
            pw_tls_context_free(context);
            return NULL;
        }
        int loaded = ca_path != NULL ? SSL_CTX_load_verify_locations(ctx, ca_path, NULL) : SSL_CTX_set_default_verify_paths(ctx);
        if (loaded != 1) {
            pw_tls_describe_error("cannot load the trusted certificates", error, error_size);
            pw_tls_context_free(context);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return context;
}

void pw_tls_context_free(pw_tls_context *context) {
    if (context == NULL) return;
    // Connections hold references to the SSL_CTXs they use, but the SNI callback reads this
    // struct: its owner frees it only once no connection made from it is left.
    SSL_CTX_free(context->main);
    for (int index = 0; index < context->alternate_count; index++) SSL_CTX_free(context->alternates[index]);
    free(context->alternates);
    free(context->client_ca_path);
    free(context);
}

SSL_CTX *pw_tls_context_main(pw_tls_context *context) { return context->main; }
