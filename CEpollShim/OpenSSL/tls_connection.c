// One TLS connection: the handshake, receive and send over the loop's shared buffers.
//
// Every operation runs with the loop's input window and output buffer to itself (the loop is
// single-threaded) and leaves both empty: ciphertext OpenSSL did not consume is stashed in
// the connection (rare: only when the caller's plaintext buffer filled up), records the
// socket did not take wait in the connection's pending buffer. Both are freed once empty.
#include "include/COpenSSLShim.h"
#include "tls_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pw_tls {
    SSL *ssl;
    struct pw_tls_io *io;
    /// Records the socket has not taken yet.
    uint8_t *pending;
    size_t pending_offset;
    size_t pending_count;
    /// Ciphertext read but not yet given to OpenSSL.
    uint8_t *stash;
    size_t stash_count;
    /// The peer's close_notify or FIN came in; reported once the plaintext before it is out.
    int end_of_input;
    /// A socket error seen after plaintext that was still delivered; reported next.
    int deferred_error;
};

static int is_ip_address(const char *name) {
    unsigned char address[16];
    return inet_pton(AF_INET, name, address) == 1 || inet_pton(AF_INET6, name, address) == 1;
}

static int set_server_name(SSL *ssl, const char *name) {
    if (is_ip_address(name)) {
        // SNI carries DNS names only; an address is checked against the certificate's IPs.
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1 ? 0 : -1;
    }
    if (SSL_set_tlsext_host_name(ssl, name) != 1) return -1;
    return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
}

pw_tls *pw_tls_new(pw_tls_context *context, pw_tls_io *io, int is_server, const char *server_name) {
    struct pw_tls *tls = calloc(1, sizeof *tls);
    if (tls == NULL) return NULL;
    tls->io = io;
    tls->ssl = SSL_new(pw_tls_context_main(context));
    if (tls->ssl == NULL) {
        free(tls);
        return NULL;
    }
    // The loop's BIO, shared: one reference per connection (SSL_set_bio takes one for both).
    BIO_up_ref(io->bio);
    SSL_set_bio(tls->ssl, io->bio, io->bio);
    if (is_server) {
        SSL_set_accept_state(tls->ssl);
    } else {
        SSL_set_connect_state(tls->ssl);
        if (server_name != NULL && set_server_name(tls->ssl, server_name) != 0) {
            pw_tls_free(tls);
            return NULL;
        }
    }
    return tls;
}

void pw_tls_free(pw_tls *tls) {
    if (tls == NULL) return;
    SSL_free(tls->ssl);
    free(tls->pending);
    free(tls->stash);
    free(tls);
}

// MARK: Output

/// Sends what the socket will take of the pending records; frees the buffer once empty.
static int flush_pending(struct pw_tls *tls, int fd) {
    while (tls->pending_count > 0) {
        ssize_t written = send(fd, tls->pending + tls->pending_offset, tls->pending_count, MSG_NOSIGNAL);
        if (written < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        tls->pending_offset += (size_t)written;
        tls->pending_count -= (size_t)written;
    }
    free(tls->pending);
    tls->pending = NULL;
    tls->pending_offset = 0;
    return 0;
}

static int keep_pending(struct pw_tls *tls, const uint8_t *bytes, size_t count) {
    if (tls->pending_offset > 0) {
        memmove(tls->pending, tls->pending + tls->pending_offset, tls->pending_count);
        tls->pending_offset = 0;
    }
    uint8_t *grown = realloc(tls->pending, tls->pending_count + count);
    if (grown == NULL) return -ENOMEM;
    memcpy(grown + tls->pending_count, bytes, count);
    tls->pending = grown;
    tls->pending_count += count;
    return 0;
}

/// Sends the records of this operation with one call (after any pending ones); what the
/// socket does not take is kept.
static int send_output(struct pw_tls *tls, int fd) {
    struct pw_tls_io *io = tls->io;
    size_t count = io->output_count;
    io->output_count = 0;
    if (count == 0) return 0;
    size_t sent = 0;
    if (tls->pending_count == 0) {
        ssize_t written;
        do {
            written = send(fd, io->output, count, MSG_NOSIGNAL);
        } while (written < 0 && errno == EINTR);
        if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
        sent = written > 0 ? (size_t)written : 0;
    }
    return sent < count ? keep_pending(tls, io->output + sent, count - sent) : 0;
}

// MARK: Input

/// Keeps the ciphertext OpenSSL did not consume, so that the loop's window is free for the
/// next connection.
static int stash_window(struct pw_tls *tls) {
    struct pw_tls_io *io = tls->io;
    if (io->window_count == 0) return 0;
    uint8_t *copy = malloc(io->window_count);
    if (copy == NULL) return -ENOMEM;
    memcpy(copy, io->window, io->window_count);
    tls->stash = copy;
    tls->stash_count = io->window_count;
    io->window_count = 0;
    return 0;
}

/// Reads ciphertext from the socket into the loop's window: its count, 0 at the end of
/// input, or -errno.
static ssize_t read_ciphertext(struct pw_tls_io *io, int fd, size_t limit) {
    size_t wanted = limit < io->input_capacity ? limit : io->input_capacity;
    ssize_t count;
    do {
        count = read(fd, io->input, wanted);
    } while (count < 0 && errno == EINTR);
    if (count < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    io->window = io->input;
    io->window_count = (size_t)count;
    return count;
}

int pw_tls_handshake(pw_tls *tls, int fd) {
    if (tls->pending_count > 0) {
        int flushed = flush_pending(tls, fd);
        if (flushed < 0 && flushed != -EAGAIN) return flushed;
    }
    for (;;) {
        ERR_clear_error();
        int result = SSL_do_handshake(tls->ssl);
        int sent = send_output(tls, fd);
        if (sent < 0) return sent;
        if (result == 1) return stash_window(tls) == 0 ? 1 : -ENOMEM;
        if (SSL_get_error(tls->ssl, result) != SSL_ERROR_WANT_READ) {
            // What the failed handshake left unread must not reach the next connection.
            tls->io->window_count = 0;
            return -EPROTO;
        }
        ssize_t count = read_ciphertext(tls->io, fd, tls->io->input_capacity);
        if (count == 0) return -ECONNRESET;
        if (count < 0) return count == -EAGAIN ? 0 : (int)count;
    }
}

/// Decrypts the window into `buffer` until it is full or OpenSSL needs more ciphertext:
/// 0, 1 when the peer's close_notify came, or -EPROTO.
static int decrypt_window(struct pw_tls *tls, uint8_t *buffer, size_t capacity, size_t *produced) {
    while (*produced < capacity) {
        size_t room = capacity - *produced;
        ERR_clear_error();
        int count = SSL_read(tls->ssl, buffer + *produced, room > INT32_MAX ? INT32_MAX : (int)room);
        if (count > 0) {
            *produced += (size_t)count;
            continue;
        }
        switch (SSL_get_error(tls->ssl, count)) {
        case SSL_ERROR_WANT_READ: return 0;
        case SSL_ERROR_ZERO_RETURN: return 1;
        default: return -EPROTO;
        }
    }
    return 0;
}

/// Hands the stash to OpenSSL first; it is freed once consumed (or re-stashed).
static uint8_t *take_stash(struct pw_tls *tls) {
    uint8_t *stash = tls->stash;
    if (stash == NULL) return NULL;
    tls->io->window = stash;
    tls->io->window_count = tls->stash_count;
    tls->stash = NULL;
    tls->stash_count = 0;
    return stash;
}

long pw_tls_receive(pw_tls *tls, int fd, uint8_t *buffer, size_t capacity, int *more) {
    struct pw_tls_io *io = tls->io;
    *more = 0;
    if (tls->end_of_input) return 0;
    if (tls->deferred_error) return -tls->deferred_error;
    if (tls->pending_count > 0) {
        int flushed = flush_pending(tls, fd);
        if (flushed < 0 && flushed != -EAGAIN) return flushed;
    }
    uint8_t *old_stash = take_stash(tls);
    size_t produced = 0;
    int drained = 0;
    int status = 0;
    for (;;) {
        status = decrypt_window(tls, buffer, capacity, &produced);
        if (status != 0 || produced == capacity || drained) break;
        // Read no more ciphertext than surely fits once decrypted, with the one record
        // OpenSSL may already hold in part.
        size_t room = capacity - produced;
        if (room <= PW_TLS_RECORD_PLAINTEXT + PW_TLS_RECORD_OVERHEAD) break;
        size_t limit = room - PW_TLS_RECORD_PLAINTEXT - PW_TLS_RECORD_OVERHEAD;
        ssize_t count = read_ciphertext(io, fd, limit);
        if (count == 0) {
            tls->end_of_input = 1;
            break;
        }
        if (count < 0) {
            drained = 1;
            if (count != -EAGAIN) tls->deferred_error = (int)-count;
            break;
        }
        // A read shorter than asked for means the socket is drained (edge-triggered: the
        // next bytes come with a new event).
        if ((size_t)count < (limit < io->input_capacity ? limit : io->input_capacity)) drained = 1;
    }
    int stashed = status == 0 ? stash_window(tls) : 0;
    io->window_count = 0;
    free(old_stash);
    int sent = send_output(tls, fd);
    if (status < 0 || stashed < 0) return status < 0 ? status : stashed;
    if (status == 1) tls->end_of_input = 1;
    if (sent < 0 && tls->deferred_error == 0) tls->deferred_error = -sent;
    // Input is left when this stopped for room, not because the socket was drained.
    *more = tls->stash != NULL || SSL_pending(tls->ssl) > 0 || !drained || tls->end_of_input || tls->deferred_error;
    // Drained: OpenSSL's record buffers go back until the next read needs them (a no-op when
    // SSL_MODE_RELEASE_BUFFERS already did it, or when a partial record is held).
    if (*more == 0) SSL_free_buffers(tls->ssl);
    if (produced > 0) return (long)produced;
    if (tls->end_of_input) return 0;
    if (tls->deferred_error) return -tls->deferred_error;
    return -EAGAIN;
}

// MARK: Sending

/// The next `count` plaintext bytes at `offset` of the two pieces as one run: in place when
/// they lie in one piece, else joined in the loop's scratch buffer.
static const uint8_t *contiguous(struct pw_tls_io *io, const uint8_t *first, size_t first_count,
                                 const uint8_t *second, size_t offset, size_t count) {
    if (offset + count <= first_count) return first + offset;
    if (offset >= first_count) return second + (offset - first_count);
    size_t head = first_count - offset;
    memcpy(io->scratch, first + offset, head);
    memcpy(io->scratch + head, second, count - head);
    return io->scratch;
}

long pw_tls_send(pw_tls *tls, int fd, const uint8_t *first, size_t first_count,
                 const uint8_t *second, size_t second_count) {
    struct pw_tls_io *io = tls->io;
    if (tls->pending_count > 0) {
        int flushed = flush_pending(tls, fd);
        if (flushed < 0) return flushed;
    }
    size_t total = first_count + second_count;
    size_t taken = 0;
    while (taken < total) {
        // Whole records, so that a write of any size makes the fewest of them.
        size_t count = total - taken < PW_TLS_RECORD_PLAINTEXT ? total - taken : PW_TLS_RECORD_PLAINTEXT;
        if (io->output_capacity - io->output_count < count + PW_TLS_RECORD_OVERHEAD) {
            int sent = send_output(tls, fd);
            if (sent < 0) return taken > 0 ? (long)taken : sent;
            // The socket is full: what is taken so far waits in the pending records.
            if (tls->pending_count > 0) break;
        }
        const uint8_t *run = contiguous(io, first, first_count, second, taken, count);
        ERR_clear_error();
        if (SSL_write(tls->ssl, run, (int)count) != (int)count) {
            io->output_count = 0;
            return -EPROTO;
        }
        taken += count;
    }
    int sent = send_output(tls, fd);
    if (sent < 0 && taken == 0) return sent;
    return (long)taken;
}

int pw_tls_has_buffered_output(const pw_tls *tls) {
    return tls->pending_count > 0;
}

int pw_tls_flush(pw_tls *tls, int fd) {
    return flush_pending(tls, fd);
}

void pw_tls_shutdown(pw_tls *tls, int fd) {
    if (!SSL_is_init_finished(tls->ssl)) return;
    ERR_clear_error();
    SSL_shutdown(tls->ssl);
    // Best effort: behind records still pending, or dropped if the socket is full.
    if (tls->pending_count == 0) {
        (void)send(fd, tls->io->output, tls->io->output_count, MSG_NOSIGNAL);
    }
    tls->io->output_count = 0;
    ERR_clear_error();
}

// MARK: What was negotiated

const char *pw_tls_version(const pw_tls *tls) {
    return SSL_get_version(tls->ssl);
}

void pw_tls_alpn(const pw_tls *tls, char *out, size_t out_size) {
    const unsigned char *protocol = NULL;
    unsigned int length = 0;
    SSL_get0_alpn_selected(tls->ssl, &protocol, &length);
    if (out_size == 0) return;
    size_t count = length < out_size - 1 ? length : out_size - 1;
    if (count > 0) memcpy(out, protocol, count);
    out[count] = 0;
}

const char *pw_tls_server_name(const pw_tls *tls) {
    const char *name = SSL_get_servername(tls->ssl, TLSEXT_NAMETYPE_host_name);
    return name != NULL ? name : "";
}

int pw_tls_peer_subject(const pw_tls *tls, char *out, size_t out_size) {
    X509 *peer = SSL_get0_peer_certificate(tls->ssl);
    if (peer == NULL || out_size == 0) return -1;
    BIO *text = BIO_new(BIO_s_mem());
    if (text == NULL) return -1;
    X509_NAME_print_ex(text, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
    int count = BIO_read(text, out, (int)(out_size - 1));
    BIO_free(text);
    if (count < 0) count = 0;
    out[count] = 0;
    return count;
}

void pw_tls_last_error(const pw_tls *tls, char *out, size_t out_size) {
    long verification = SSL_get_verify_result(tls->ssl);
    if (verification != X509_V_OK) {
        snprintf(out, out_size, "certificate verification failed: %s", X509_verify_cert_error_string(verification));
        ERR_clear_error();
        return;
    }
    pw_tls_describe_error("TLS failed", out, out_size);
}
