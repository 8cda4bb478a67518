#include "CHiredisShim.h"

#include <hiredis/hiredis.h>
#include <pthread.h>

// The Swift side switches over pw_resp_type: keep it equal to hiredis's numbering.
_Static_assert(PW_RESP_STRING == REDIS_REPLY_STRING, "reply kinds");
_Static_assert(PW_RESP_ARRAY == REDIS_REPLY_ARRAY, "reply kinds");
_Static_assert(PW_RESP_INTEGER == REDIS_REPLY_INTEGER, "reply kinds");
_Static_assert(PW_RESP_NIL == REDIS_REPLY_NIL, "reply kinds");
_Static_assert(PW_RESP_STATUS == REDIS_REPLY_STATUS, "reply kinds");
_Static_assert(PW_RESP_ERROR == REDIS_REPLY_ERROR, "reply kinds");

// hiredis allocates an array's element table as soon as it reads `*N`, before any element
// arrives: eight bytes times N, which a corrupt or hostile stream can make gigabytes. Arrays
// beyond the limit fail instead (hiredis reports "Out of memory"), through hiredis's own
// object functions wrapped once.
static redisReplyObjectFunctions bounded_functions;
static void *(*unbounded_create_array)(const redisReadTask *, int);
static pthread_once_t bounded_once = PTHREAD_ONCE_INIT;

static void *bounded_create_array(const redisReadTask *task, int elements) {
    if (elements > PW_RESP_MAX_ELEMENTS) return NULL;
    return unbounded_create_array(task, elements);
}

static void make_bounded_functions(void) {
    redisReader *probe = redisReaderCreate();
    if (probe == NULL) return;
    bounded_functions = *probe->fn;
    unbounded_create_array = bounded_functions.createArray;
    bounded_functions.createArray = bounded_create_array;
    redisReaderFree(probe);
}

// The opaque types are hiredis's own, cast at this boundary only.
pw_resp_reader *pw_resp_reader_create(void) {
    pthread_once(&bounded_once, make_bounded_functions);
    redisReader *reader = redisReaderCreate();
    if (reader && unbounded_create_array) reader->fn = &bounded_functions;
    return (pw_resp_reader *)reader;
}

void pw_resp_reader_free(pw_resp_reader *reader) {
    if (reader) redisReaderFree((redisReader *)reader);
}

int pw_resp_reader_feed(pw_resp_reader *reader, const void *bytes, size_t count) {
    redisReader *r = (redisReader *)reader;
    // hiredis feeds nothing into a failed reader but still answers OK: say it failed.
    if (r->err) return -1;
    if (count == 0) return 0;
    return redisReaderFeed(r, (const char *)bytes, count) == REDIS_OK ? 0 : -1;
}

int pw_resp_reader_next(pw_resp_reader *reader, pw_resp_reply **reply) {
    void *taken = NULL;
    *reply = NULL;
    if (redisReaderGetReply((redisReader *)reader, &taken) != REDIS_OK) return -1;
    if (taken == NULL) return 0;
    *reply = (pw_resp_reply *)taken;
    return 1;
}

const char *pw_resp_reader_error(const pw_resp_reader *reader) {
    const redisReader *r = (const redisReader *)reader;
    return r->err ? r->errstr : "";
}

void pw_resp_reply_free(pw_resp_reply *reply) {
    if (reply) freeReplyObject(reply);
}

int pw_resp_reply_type(const pw_resp_reply *reply) {
    return ((const redisReply *)reply)->type;
}

long long pw_resp_reply_integer(const pw_resp_reply *reply) {
    return ((const redisReply *)reply)->integer;
}

const char *pw_resp_reply_string(const pw_resp_reply *reply, size_t *length) {
    const redisReply *r = (const redisReply *)reply;
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        *length = r->len;
        return r->str;
    default:
        *length = 0;
        return NULL;
    }
}

size_t pw_resp_reply_count(const pw_resp_reply *reply) {
    const redisReply *r = (const redisReply *)reply;
    return r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
}

const pw_resp_reply *pw_resp_reply_element(const pw_resp_reply *reply, size_t index) {
    const redisReply *r = (const redisReply *)reply;
    if (r->type != REDIS_REPLY_ARRAY || index >= r->elements) return NULL;
    return (const pw_resp_reply *)r->element[index];
}

long long pw_resp_format_command(char **command, int argc, const char *const *argv, const size_t *lengths) {
    // hiredis only reads argv; its prototype merely lacks the inner const.
    return redisFormatCommandArgv(command, argc, (const char **)argv, lengths);
}

void pw_resp_command_free(char *command) {
    if (command) redisFreeCommand(command);
}
