// The BIO under every TLS connection of a loop: it reads ciphertext from the loop's input
// window and appends records to the loop's output buffer. No bytes live in the BIO, so a
// connection between operations holds no buffer of its own.
#include "tls_internal.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static BIO_METHOD *loop_bio_method;
static pthread_once_t loop_bio_once = PTHREAD_ONCE_INIT;

static int loop_bio_read(BIO *bio, char *out, int size) {
    struct pw_tls_io *io = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (io->window_count == 0 || size <= 0) {
        // "Nothing now", not end of input: the socket's end is handled by the caller.
        BIO_set_retry_read(bio);
        return -1;
    }
    size_t count = io->window_count < (size_t)size ? io->window_count : (size_t)size;
    memcpy(out, io->window, count);
    io->window += count;
    io->window_count -= count;
    return (int)count;
}

static int loop_bio_write(BIO *bio, const char *bytes, int size) {
    struct pw_tls_io *io = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (size < 0) return -1;
    // The callers keep room for what they encrypt; running out means a record larger than
    // planned, which OpenSSL retries after the output has been sent.
    if (io->output_capacity - io->output_count < (size_t)size) {
        BIO_set_retry_write(bio);
        return -1;
    }
    memcpy(io->output + io->output_count, bytes, (size_t)size);
    io->output_count += (size_t)size;
    return size;
}

static long loop_bio_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)bio;
    (void)number;
    (void)pointer;
    // Flushing is the caller's one send at the end of an operation.
    return command == BIO_CTRL_FLUSH ? 1 : 0;
}

static int loop_bio_create(BIO *bio) {
    BIO_set_init(bio, 1);
    return 1;
}

static void make_loop_bio_method(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pushwave loop");
    if (method == NULL) return;
    BIO_meth_set_write(method, loop_bio_write);
    BIO_meth_set_read(method, loop_bio_read);
    BIO_meth_set_ctrl(method, loop_bio_ctrl);
    BIO_meth_set_create(method, loop_bio_create);
    loop_bio_method = method;
}

BIO *pw_tls_bio_new(struct pw_tls_io *io) {
    pthread_once(&loop_bio_once, make_loop_bio_method);
    if (loop_bio_method == NULL) return NULL;
    BIO *bio = BIO_new(loop_bio_method);
    if (bio != NULL) BIO_set_data(bio, io);
    return bio;
}

pw_tls_io *pw_tls_io_new(size_t input_capacity, size_t output_capacity) {
    struct pw_tls_io *io = calloc(1, sizeof *io);
    if (io == NULL) return NULL;
    io->input = malloc(input_capacity);
    io->output = malloc(output_capacity);
    io->bio = pw_tls_bio_new(io);
    if (io->input == NULL || io->output == NULL || io->bio == NULL) {
        pw_tls_io_free(io);
        return NULL;
    }
    io->input_capacity = input_capacity;
    io->output_capacity = output_capacity;
    return io;
}

void pw_tls_io_free(pw_tls_io *io) {
    if (io == NULL) return;
    // Connections hold references of their own: the BIO outlives this only if they do, and
    // their owners keep the loop's resources alive until then.
    BIO_free(io->bio);
    free(io->input);
    free(io->output);
    free(io);
}

void pw_release_free_memory(void) {
    malloc_trim(0);
}
