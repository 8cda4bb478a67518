#include "include/CZlibShim.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct pw_deflater {
    z_stream stream;
};

struct pw_inflater {
    z_stream stream;
    int window_bits;
    // Set when the peer ended the DEFLATE stream with a final block: the rest of the
    // message is ignored, and the stream must be restarted before the next message.
    int ended;
};

// Z_SYNC_FLUSH ends the output with an empty stored block: its 3 header bits, padding to
// a byte, then LEN = 00 00 and NLEN = ff ff. deflateBound counts a final block instead,
// so the flush may add up to 5 bytes; the rest is margin.
static const size_t sync_flush_overhead = 8;
static const uint8_t sync_flush_tail[4] = {0x00, 0x00, 0xff, 0xff};

pw_deflater *pw_deflater_create(int window_bits, int mem_level, int level) {
    if (window_bits < 8 || window_bits > 15) return NULL;
    // A negative windowBits selects raw deflate, which rejects 8 (see the header).
    if (window_bits == 8) window_bits = 9;
    pw_deflater *deflater = calloc(1, sizeof *deflater);
    if (deflater == NULL) return NULL;
    if (deflateInit2(&deflater->stream, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(deflater);
        return NULL;
    }
    return deflater;
}

int pw_deflater_reset(pw_deflater *deflater) {
    return deflateReset(&deflater->stream) == Z_OK ? 0 : -1;
}

void pw_deflater_free(pw_deflater *deflater) {
    if (deflater == NULL) return;
    deflateEnd(&deflater->stream);
    free(deflater);
}

size_t pw_deflate_bound(pw_deflater *deflater, size_t count) {
    // deflateBound takes a uLong; a size_t larger than that is not a message we send.
    return (size_t)deflateBound(&deflater->stream, (uLong)count) + sync_flush_overhead;
}

pw_zlib_status pw_deflate_message(pw_deflater *deflater, const uint8_t *in, size_t count,
                                  uint8_t *out, size_t capacity, size_t *produced) {
    *produced = 0;
    if (capacity < pw_deflate_bound(deflater, count) || count > UINT32_MAX || capacity > UINT32_MAX) {
        return PW_ZLIB_FAILED;
    }
    if (count == 0) {
        // zlib refuses a second flush with no input in between (Z_BUF_ERROR). An empty
        // stored block's header is a valid empty message: its LEN and NLEN are the
        // stripped tail (RFC 7692 §7.2.3.6), and it leaves the history as it is.
        out[0] = 0x00;
        *produced = 1;
        return PW_ZLIB_OK;
    }
    z_stream *stream = &deflater->stream;
    // zlib does not write through next_in; its type predates const.
    stream->next_in = (Bytef *)in;
    stream->avail_in = (uInt)count;
    stream->next_out = out;
    stream->avail_out = (uInt)capacity;
    int result = deflate(stream, Z_SYNC_FLUSH);
    // With room to spare, the flush completes in one call: all input taken, room left.
    if (result != Z_OK || stream->avail_in != 0 || stream->avail_out == 0) return PW_ZLIB_FAILED;
    size_t written = capacity - stream->avail_out;
    if (written < 4 || memcmp(out + written - 4, sync_flush_tail, 4) != 0) return PW_ZLIB_FAILED;
    *produced = written - 4;
    return PW_ZLIB_OK;
}

pw_inflater *pw_inflater_create(int window_bits) {
    if (window_bits < 8 || window_bits > 15) return NULL;
    pw_inflater *inflater = calloc(1, sizeof *inflater);
    if (inflater == NULL) return NULL;
    if (inflateInit2(&inflater->stream, -window_bits) != Z_OK) {
        free(inflater);
        return NULL;
    }
    inflater->window_bits = window_bits;
    return inflater;
}

int pw_inflater_reset(pw_inflater *inflater) {
    inflater->ended = 0;
    return inflateReset(&inflater->stream) == Z_OK ? 0 : -1;
}

void pw_inflater_free(pw_inflater *inflater) {
    if (inflater == NULL) return;
    inflateEnd(&inflater->stream);
    free(inflater);
}

// Restarts a stream that ended with a final block, keeping what it decoded last as the
// history the peer's next message may refer to (context takeover). Rare: most peers
// flush with Z_SYNC_FLUSH, so the copy is allocated only here.
static int restart_keeping_history(pw_inflater *inflater) {
    size_t window = (size_t)1 << inflater->window_bits;
    Bytef *history = malloc(window);
    if (history == NULL) return -1;
    uInt length = (uInt)window;
    int ok = inflateGetDictionary(&inflater->stream, history, &length) == Z_OK
        && inflateReset(&inflater->stream) == Z_OK
        && (length == 0 || inflateSetDictionary(&inflater->stream, history, length) == Z_OK);
    free(history);
    inflater->ended = 0;
    return ok ? 0 : -1;
}

int pw_inflater_next_message(pw_inflater *inflater, int keep_history) {
    if (inflater->ended && keep_history) return restart_keeping_history(inflater);
    if (inflater->ended || !keep_history) return pw_inflater_reset(inflater);
    return 0;
}

pw_zlib_status pw_inflate(pw_inflater *inflater, const uint8_t *in, size_t count, size_t *consumed,
                          uint8_t *out, size_t capacity, size_t *produced) {
    *consumed = 0;
    *produced = 0;
    if (inflater->ended) {
        *consumed = count;
        return PW_ZLIB_OK;
    }
    // No early return on empty input: output held back by a full buffer still comes out.
    if (capacity == 0) return PW_ZLIB_OUTPUT_FULL;
    z_stream *stream = &inflater->stream;
    // Both counts are clamped to uInt; the caller loops on what was consumed.
    uInt in_count = count > UINT32_MAX ? UINT32_MAX : (uInt)count;
    uInt out_count = capacity > UINT32_MAX ? UINT32_MAX : (uInt)capacity;
    stream->next_in = (Bytef *)in;
    stream->avail_in = in_count;
    stream->next_out = out;
    stream->avail_out = out_count;
    int result = inflate(stream, Z_SYNC_FLUSH);
    *consumed = in_count - stream->avail_in;
    *produced = out_count - stream->avail_out;
    switch (result) {
    case Z_STREAM_END:
        inflater->ended = 1;
        *consumed = count;
        return PW_ZLIB_OK;
    case Z_OK:
    case Z_BUF_ERROR:
        // Z_BUF_ERROR only means no progress was possible: output full, or input used up.
        return stream->avail_out == 0 ? PW_ZLIB_OUTPUT_FULL : PW_ZLIB_OK;
    case Z_DATA_ERROR:
    case Z_NEED_DICT:
        return PW_ZLIB_CORRUPT;
    default:
        return PW_ZLIB_FAILED;
    }
}
