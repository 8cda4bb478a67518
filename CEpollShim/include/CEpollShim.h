// CEpollShim: the parts of Linux's C API that `import Glibc` does not expose to Swift.
//
// Only thin wrappers live here. Each returns what the system call returns (-1 and errno on
// failure); the Swift side decides what an error means.
#ifndef CEPOLLSHIM_H
#define CEPOLLSHIM_H

// No _GNU_SOURCE here: Swift's Glibc module is built without it, and a header that changes
// the definitions of shared structs would no longer match it. The GNU-only calls (accept4)
// are made in shim.c, which defines it.
#include <stdint.h>
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/uio.h>

// Event bits, re-exported as plain constants: the enum in <sys/epoll.h> imports with an
// awkward type, and EPOLLET has the top bit set.
static const uint32_t pw_EPOLLIN = EPOLLIN;
static const uint32_t pw_EPOLLOUT = EPOLLOUT;
static const uint32_t pw_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t pw_EPOLLHUP = EPOLLHUP;
static const uint32_t pw_EPOLLERR = EPOLLERR;
static const uint32_t pw_EPOLLET = EPOLLET;

/// epoll_create1(EPOLL_CLOEXEC).
int pw_epoll_create(void);

/// epoll_ctl with the event mask and the 64-bit user word packed by the caller.
int pw_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);

/// epoll_wait into an array of `struct epoll_event` allocated by the caller.
int pw_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout_ms);

// `struct epoll_event` is packed on x86_64 (12 bytes). Swift imports it correctly, but a
// pointer to its `data` field would be misaligned, so these read the fields by value.
static inline uint32_t pw_event_mask(const struct epoll_event *events, int index) {
    return events[index].events;
}
static inline uint64_t pw_event_data(const struct epoll_event *events, int index) {
    return events[index].data.u64;
}

static const int pw_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
static const int pw_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
static const int pw_EPOLL_CTL_DEL = EPOLL_CTL_DEL;

/// accept4(SOCK_NONBLOCK | SOCK_CLOEXEC); the peer's address is not asked for.
int pw_accept(int listen_fd);

/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC).
int pw_eventfd(void);

/// A non-blocking, close-on-exec TCP socket for IPv4 (family AF_INET) or IPv6 (AF_INET6).
int pw_tcp_socket(int family);

/// setsockopt(SOL_SOCKET, SO_REUSEADDR / SO_REUSEPORT) and (IPPROTO_TCP, TCP_NODELAY).
int pw_set_reuseaddr(int fd, int on);
int pw_set_reuseport(int fd, int on);
/// IP_BIND_ADDRESS_NO_PORT: a socket bound to a source address before connect gets its port
/// at connect, from the (address, destination) pairs still free, instead of a port of its
/// own at bind. Without it the kernel searches for a port unused by every destination at
/// each bind, which slows to a crawl after a few thousand connections per source address.
int pw_set_bind_address_no_port(int fd, int on);

/// Asks the kernel to send `signal` to this process when its parent exits (prctl
/// PR_SET_PDEATHSIG; prctl is variadic, which Swift cannot call). 0, or -1 with errno.
int pw_set_parent_death_signal(int signal);
/// Bytes the allocator gave the block at `pointer` (glibc's malloc_usable_size): what an
/// object really costs, for the tests that keep a connection's footprint small.
size_t pw_allocation_size(void *pointer);
int pw_set_nodelay(int fd, int on);
/// SO_LINGER with the given timeout; `seconds` = 0 makes close() send a reset.
int pw_set_linger(int fd, int on, int seconds);
/// SO_RCVBUF / SO_SNDBUF.
int pw_set_rcvbuf(int fd, int bytes);
int pw_set_sndbuf(int fd, int bytes);
/// getsockopt(SO_ERROR): the pending error of a non-blocking connect, or -1.
int pw_socket_error(int fd);

/// read(2) of a socket, without glibc's cancellation-point bookkeeping.
ssize_t pw_read(int fd, void *bytes, size_t count);
/// send(MSG_NOSIGNAL): a write that never raises SIGPIPE.
ssize_t pw_send(int fd, const void *bytes, size_t count);
/// sendmsg(MSG_NOSIGNAL) over an iovec array: writev that never raises SIGPIPE.
ssize_t pw_sendv(int fd, const struct iovec *iov, int iovcnt);
/// readv.
ssize_t pw_readv(int fd, const struct iovec *iov, int iovcnt);

/// The calling thread's errno (Swift's `errno` works too; this keeps call sites uniform).
int pw_errno(void);

#endif
