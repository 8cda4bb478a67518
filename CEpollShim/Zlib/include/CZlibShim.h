// CZlibShim: the narrow C API through which Pushwave uses zlib (Debian zlib1g-dev) for
// permessage-deflate (RFC 7692): raw DEFLATE only (no zlib header or trailer), one
// message at a time. Swift sees opaque handles and these functions, never a z_stream.
// Linked by the WebSocket layer; the Reactor never imports it.
//
// Window sizes. zlib's deflate cannot use a 256-byte window (windowBits 8): for raw
// deflate, deflateInit2(-8) returns Z_STREAM_ERROR (zlib.h, deflateInit2; since 1.2.9),
// so pw_deflater_create maps 8 to 9. That is still within an 8-bit promise: zlib's
// deflate never emits a distance above MAX_DIST = window size - MIN_LOOKAHEAD (262),
// which is 250 bytes for a 512-byte window (deflate.h, longest_match's `limit`), less
// than 256. zlib's inflate does accept raw windowBits 8 (inflateInit2(-8)).
#ifndef CZLIBSHIM_H
#define CZLIBSHIM_H

#include <stddef.h>
#include <stdint.h>

/// What a shim call did.
typedef enum {
    /// Done: all input consumed; for inflate, the output buffer was not filled.
    PW_ZLIB_OK = 0,
    /// Inflate filled the output buffer; call again with more room (and the unconsumed input).
    PW_ZLIB_OUTPUT_FULL = 1,
    /// The compressed data is invalid (or uses a larger window than allowed).
    PW_ZLIB_CORRUPT = 2,
    /// Out of memory, an invalid parameter, or an output buffer smaller than the bound.
    PW_ZLIB_FAILED = 3,
} pw_zlib_status;

typedef struct pw_deflater pw_deflater;
typedef struct pw_inflater pw_inflater;

/// A raw deflater: window_bits 8–15 (8 runs as 9, see above), mem_level 1–9, level 0–9
/// (or -1 for zlib's default, 6). NULL on invalid parameters or out of memory.
pw_deflater *pw_deflater_create(int window_bits, int mem_level, int level);
/// Forgets the history (for no_context_takeover), keeping the memory. 0, or -1.
int pw_deflater_reset(pw_deflater *deflater);
void pw_deflater_free(pw_deflater *deflater);

/// The output room pw_deflate_message needs for `count` input bytes, whatever the bytes.
size_t pw_deflate_bound(pw_deflater *deflater, size_t count);

/// Compresses one whole message and flushes it with Z_SYNC_FLUSH, writing the result
/// without its trailing 00 00 ff ff (RFC 7692 §7.2.1) to `out`, whose `capacity` must be
/// at least pw_deflate_bound(count). Sets `*produced`. On PW_ZLIB_FAILED the history is
/// unusable: reset the deflater before the next message.
pw_zlib_status pw_deflate_message(pw_deflater *deflater, const uint8_t *in, size_t count,
                                  uint8_t *out, size_t capacity, size_t *produced);

/// A raw inflater for windows of up to 2^window_bits bytes, 8–15. NULL on an invalid
/// parameter or out of memory. zlib allocates the window itself on first output.
pw_inflater *pw_inflater_create(int window_bits);
/// Forgets the history and any error, keeping the memory. 0, or -1.
int pw_inflater_reset(pw_inflater *inflater);
void pw_inflater_free(pw_inflater *inflater);

/// Inflates from `in` into `out` until the input is consumed or `out` is full. Sets
/// `*consumed` and `*produced`. A final block (BFINAL, RFC 7692 §7.2.3.3) ends the
/// stream: the bytes after it are consumed and ignored until pw_inflater_next_message,
/// and the history is kept for the next message when `keep_history` was passed there.
pw_zlib_status pw_inflate(pw_inflater *inflater, const uint8_t *in, size_t count, size_t *consumed,
                          uint8_t *out, size_t capacity, size_t *produced);

/// Starts a new message: resets the history unless `keep_history`, and restarts a stream
/// that ended with a final block in the last message. 0, or -1.
int pw_inflater_next_message(pw_inflater *inflater, int keep_history);

#endif
