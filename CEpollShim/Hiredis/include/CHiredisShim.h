// CHiredisShim: the narrow C API through which Pushwave uses hiredis (Debian libhiredis-dev)
// for RESP only: its I/O-free reader, fed whatever bytes the reactor read, and its command
// formatter. hiredis never touches a socket here; the Redis target's connection does the I/O
// on the reactor. Swift sees opaque handles and these functions, never a redisReply.
#ifndef CHIREDISSHIM_H
#define CHIREDISSHIM_H

#include <stddef.h>
#include <stdint.h>

/// The kinds of RESP2 reply (the values of hiredis's REDIS_REPLY_*, checked in the .c file).
typedef enum {
    PW_RESP_STRING = 1,
    PW_RESP_ARRAY = 2,
    PW_RESP_INTEGER = 3,
    PW_RESP_NIL = 4,
    PW_RESP_STATUS = 5,
    PW_RESP_ERROR = 6,
} pw_resp_type;

typedef struct pw_resp_reader pw_resp_reader;
typedef struct pw_resp_reply pw_resp_reply;

/// The most elements an array reply may announce; a larger one is a protocol error.
#define PW_RESP_MAX_ELEMENTS (1 << 20)

/// A reader with no input yet; NULL when out of memory.
pw_resp_reader *pw_resp_reader_create(void);
void pw_resp_reader_free(pw_resp_reader *reader);

/// Appends bytes to the reader's input. 0 on success, -1 when the reader has failed before
/// (a protocol error is final) or is out of memory.
int pw_resp_reader_feed(pw_resp_reader *reader, const void *bytes, size_t count);

/// Takes the next complete reply: 1 and `*reply` set (free it with pw_resp_reply_free), 0
/// when more input is needed, -1 on a protocol error (see pw_resp_reader_error).
int pw_resp_reader_next(pw_resp_reader *reader, pw_resp_reply **reply);

/// What went wrong, once pw_resp_reader_next returned -1 (owned by the reader).
const char *pw_resp_reader_error(const pw_resp_reader *reader);

void pw_resp_reply_free(pw_resp_reply *reply);
int pw_resp_reply_type(const pw_resp_reply *reply);
long long pw_resp_reply_integer(const pw_resp_reply *reply);
/// The bytes of a string, status or error reply (NULL and 0 for other kinds).
const char *pw_resp_reply_string(const pw_resp_reply *reply, size_t *length);
/// The number of elements of an array reply (0 for other kinds).
size_t pw_resp_reply_count(const pw_resp_reply *reply);
/// An element of an array reply, owned by it; NULL past the end.
const pw_resp_reply *pw_resp_reply_element(const pw_resp_reply *reply, size_t index);

/// Formats a command as a RESP array of bulk strings into `*command` (free it with
/// pw_resp_command_free). Returns its length, or -1 when out of memory.
long long pw_resp_format_command(char **command, int argc, const char *const *argv, const size_t *lengths);
void pw_resp_command_free(char *command);

#endif
