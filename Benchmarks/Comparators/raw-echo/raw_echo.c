/*
 * raw_echo - the "ceiling" comparator for Benchmarks/compare.
 *
 * A single-threaded, level-triggered epoll TCP echo server that does the least
 * possible work per byte:
 *
 *   1. On a new connection it collects the HTTP upgrade request up to the
 *      blank line (CRLFCRLF), computes Sec-WebSocket-Accept from the request's
 *      Sec-WebSocket-Key (SHA-1 and base64 are implemented below), and answers
 *      "101 Switching Protocols". The request path is not checked.
 *   2. From then on every byte read is written back VERBATIM: no frame
 *      parsing, no unmasking, no UTF-8 checks, no ping/close handling. The
 *      client's frames are masked, so what comes back are masked frames. A
 *      strict WebSocket client rejects those; the load generator has to be
 *      told to accept them (pushwave-load --raw-echo).
 *
 * What it costs per message is therefore the cost of moving those bytes
 * through loopback TCP with one epoll loop and no protocol work at all.
 *
 * Output that the socket does not take at once is kept per connection; while
 * any is pending the connection is not read (so memory stays bounded) and
 * waits for EPOLLOUT instead.
 *
 * Build: cc -O2 -o raw_echo raw_echo.c          Usage: raw_echo PORT
 * Listens on 127.0.0.1 only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUFFER_SIZE 65536
#define MAX_REQUEST_SIZE 8192
#define MAX_EVENTS 512

/* ---------------------------------------------------------------------------
 * SHA-1 (FIPS 180-4, section 6.1), enough for one short message at a time.
 */
typedef struct {
    uint32_t h[5];
    uint8_t block[64];
    size_t used;     /* bytes in block */
    uint64_t length; /* total message length in bytes */
} sha1_ctx;

static uint32_t rotl32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_compress(uint32_t h[5], const uint8_t b[64]) {
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)b[4 * t] << 24 | (uint32_t)b[4 * t + 1] << 16 | (uint32_t)b[4 * t + 2] << 8 |
               (uint32_t)b[4 * t + 3];
    for (int t = 16; t < 80; t++) w[t] = rotl32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (bb & c) | (~bb & d); /* Ch */
            k = 0x5a827999;
        } else if (t < 40) {
            f = bb ^ c ^ d; /* Parity */
            k = 0x6ed9eba1;
        } else if (t < 60) {
            f = (bb & c) | (bb & d) | (c & d); /* Maj */
            k = 0x8f1bbcdc;
        } else {
            f = bb ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t tmp = rotl32(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rotl32(bb, 30);
        bb = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void sha1_init(sha1_ctx *s) {
    static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    memcpy(s->h, iv, sizeof iv);
    s->used = 0;
    s->length = 0;
}

static void sha1_update(sha1_ctx *s, const void *data, size_t n) {
    const uint8_t *p = data;
    s->length += n;
    while (n > 0) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used == 64) {
            sha1_compress(s->h, s->block);
            s->used = 0;
        }
    }
}

static void sha1_final(sha1_ctx *s, uint8_t digest[20]) {
    uint64_t bits = s->length * 8;
    uint8_t pad = 0x80;
    sha1_update(s, &pad, 1);
    pad = 0;
    while (s->used != 56) sha1_update(s, &pad, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_update(s, len, 8);
    for (int i = 0; i < 5; i++) {
        digest[4 * i] = (uint8_t)(s->h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)s->h[i];
    }
}

/* Standard base64 (RFC 4648, with padding). out needs 4*ceil(n/3)+1 bytes. */
static void base64_encode(const uint8_t *in, size_t n, char *out) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = alphabet[(v >> 6) & 63];
        *out++ = alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

/* Sec-WebSocket-Accept = base64(SHA-1(key ++ RFC 6455 GUID)); out: 29 bytes. */
static void websocket_accept(const char *key, size_t key_len, char out[29]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    sha1_ctx s;
    uint8_t digest[20];
    sha1_init(&s);
    sha1_update(&s, key, key_len);
    sha1_update(&s, guid, sizeof guid - 1);
    sha1_final(&s, digest);
    base64_encode(digest, sizeof digest, out);
}

/* ---------------------------------------------------------------------------
 * Connections
 */
typedef struct {
    int fd;
    int upgraded;
    char *request; /* the upgrade request so far (until upgraded) */
    size_t request_len, request_cap;
    char *out; /* output the socket has not taken yet */
    size_t out_off, out_len, out_cap;
} connection;

static int epfd;

static void set_interest(connection *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(epfd, op, c->fd, &ev);
}

static void destroy(connection *c) {
    close(c->fd); /* also removes it from the epoll set */
    free(c->request);
    free(c->out);
    free(c);
}

/* Keep bytes for later; returns -1 on allocation failure. */
static int keep(connection *c, const char *p, size_t n) {
    if (c->out_off > 0 && c->out_len > 0 && c->out_off + c->out_len + n > c->out_cap) {
        memmove(c->out, c->out + c->out_off, c->out_len);
        c->out_off = 0;
    } else if (c->out_len == 0) {
        c->out_off = 0;
    }
    if (c->out_off + c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_off + c->out_len + n) cap *= 2;
        char *grown = realloc(c->out, cap);
        if (!grown) return -1;
        c->out = grown;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_off + c->out_len, p, n);
    c->out_len += n;
    return 0;
}

/* Send p[0..n) after anything already pending; keep what the socket does not
 * take. Returns -1 if the connection failed. */
static int send_bytes(connection *c, const char *p, size_t n) {
    if (c->out_len > 0) return keep(c, p, n);
    while (n > 0) {
        ssize_t w = write(c->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return n > 0 ? keep(c, p, n) : 0;
}

/* Flush pending output; returns -1 on failure. */
static int flush_pending(connection *c) {
    while (c->out_len > 0) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -1;
        }
        c->out_off += (size_t)w;
        c->out_len -= (size_t)w;
    }
    c->out_off = 0;
    return 0;
}

/* Finds the value of header `name` in the request head; returns its length. */
static size_t header_value(const char *head, size_t len, const char *name, const char **value) {
    size_t name_len = strlen(name);
    const char *end = head + len;
    const char *line = memchr(head, '\n', len); /* skip the request line */
    while (line && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) break;
        if ((size_t)(eol - line) > name_len && line[name_len] == ':' && strncasecmp(line, name, name_len) == 0) {
            const char *v = line + name_len + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            *value = v;
            return (size_t)(ve - v);
        }
        line = eol;
    }
    return 0;
}

/* Handshake bytes arrived; returns -1 to drop the connection. */
static int on_request_bytes(connection *c, const char *p, size_t n) {
    size_t room = MAX_REQUEST_SIZE - c->request_len;
    size_t take = n < room ? n : room;
    if (c->request_len + take > c->request_cap) {
        size_t cap = c->request_cap ? c->request_cap : 512;
        while (cap < c->request_len + take) cap *= 2;
        char *grown = realloc(c->request, cap);
        if (!grown) return -1;
        c->request = grown;
        c->request_cap = cap;
    }
    memcpy(c->request + c->request_len, p, take);
    size_t scan_from = c->request_len > 3 ? c->request_len - 3 : 0;
    c->request_len += take;
    char *blank = memmem(c->request + scan_from, c->request_len - scan_from, "\r\n\r\n", 4);
    if (!blank) {
        if (c->request_len == MAX_REQUEST_SIZE) {
            static const char too_large[] = "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n";
            send_bytes(c, too_large, sizeof too_large - 1);
            return -1;
        }
        return 0;
    }
    size_t head_len = (size_t)(blank - c->request) + 4;
    const char *key;
    size_t key_len = header_value(c->request, head_len, "Sec-WebSocket-Key", &key);
    if (key_len == 0 || key_len > 64) {
        static const char bad[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        send_bytes(c, bad, sizeof bad - 1);
        return -1;
    }
    char accept[29], response[160];
    websocket_accept(key, key_len, accept);
    int rn = snprintf(response, sizeof response,
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n\r\n",
                      accept);
    if (send_bytes(c, response, (size_t)rn) < 0) return -1;
    c->upgraded = 1;
    c->request_cap = 0;
    /* Bytes after the blank line are already WebSocket traffic: echo them. */
    size_t rest_in_request = c->request_len - head_len;
    int rc = rest_in_request ? send_bytes(c, c->request + head_len, rest_in_request) : 0;
    if (rc == 0 && take < n) rc = send_bytes(c, p + take, n - take);
    free(c->request);
    c->request = NULL;
    return rc;
}

static void on_readable(connection *c, char *buf) {
    for (;;) {
        ssize_t r = read(c->fd, buf, READ_BUFFER_SIZE);
        if (r == 0) {
            destroy(c);
            return;
        }
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            destroy(c);
            return;
        }
        int rc = c->upgraded ? send_bytes(c, buf, (size_t)r) : on_request_bytes(c, buf, (size_t)r);
        if (rc < 0) {
            destroy(c);
            return;
        }
        if (c->out_len > 0) { /* backpressure: stop reading until the output drains */
            set_interest(c, EPOLLOUT, EPOLL_CTL_MOD);
            return;
        }
        if ((size_t)r < READ_BUFFER_SIZE) return; /* drained; level-triggered epoll reports more */
    }
}

static void on_writable(connection *c) {
    if (flush_pending(c) < 0) {
        destroy(c);
        return;
    }
    if (c->out_len == 0) set_interest(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
}

int main(int argc, char **argv) {
    if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), one = 1;
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        perror("socket");
        return 1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) {
        perror("bind/listen");
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL marks the listener */
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
    printf("raw_echo listening on 127.0.0.1:%d\n", port);
    fflush(stdout);

    static char buf[READ_BUFFER_SIZE];
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            connection *c = events[i].data.ptr;
            if (c == NULL) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break; /* EAGAIN, or out of fds: retried on the next wakeup */
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    connection *nc = calloc(1, sizeof *nc);
                    if (!nc) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    set_interest(nc, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
                }
                continue;
            }
            uint32_t ev = events[i].events;
            if (ev & EPOLLOUT)
                on_writable(c);
            else if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                on_readable(c, buf);
        }
    }
}
