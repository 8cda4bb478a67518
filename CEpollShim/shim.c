#define _GNU_SOURCE 1
#include "include/CEpollShim.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <malloc.h>
#include <unistd.h>

int pw_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int pw_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event;
    event.events = events;
    event.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &event);
}

int pw_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout_ms) {
    return epoll_wait(epfd, events, maxevents, timeout_ms);
}

int pw_accept(int listen_fd) { return accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

int pw_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int pw_tcp_socket(int family) { return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

static int set_int_option(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof(value));
}

int pw_set_reuseaddr(int fd, int on) { return set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, on); }
int pw_set_reuseport(int fd, int on) { return set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, on); }

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
int pw_set_bind_address_no_port(int fd, int on) { return set_int_option(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, on); }

int pw_set_parent_death_signal(int signal) { return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0, 0, 0); }
size_t pw_allocation_size(void *pointer) { return malloc_usable_size(pointer); }
int pw_set_nodelay(int fd, int on) { return set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, on); }
int pw_set_rcvbuf(int fd, int bytes) { return set_int_option(fd, SOL_SOCKET, SO_RCVBUF, bytes); }
int pw_set_sndbuf(int fd, int bytes) { return set_int_option(fd, SOL_SOCKET, SO_SNDBUF, bytes); }

int pw_set_linger(int fd, int on, int seconds) {
    struct linger value = { .l_onoff = on, .l_linger = seconds };
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, sizeof(value));
}

int pw_socket_error(int fd) {
    int value = 0;
    socklen_t length = sizeof(value);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) != 0) return -1;
    return value;
}

/* The socket reads and sends of the data path go through syscall(2) rather than glibc's
 * read, send and sendmsg: those are thread cancellation points, and switch asynchronous
 * cancellation on and off around every call (about 60 instructions per read and send
 * together, a sixth of an echoed message's user-space cost). No thread here is ever
 * cancelled. syscall(2) sets errno and returns -1 on failure, as the wrappers do. */
ssize_t pw_read(int fd, void *bytes, size_t count) { return syscall(SYS_read, fd, bytes, count); }

ssize_t pw_send(int fd, const void *bytes, size_t count) {
    return syscall(SYS_sendto, fd, bytes, count, MSG_NOSIGNAL, NULL, 0);
}

ssize_t pw_sendv(int fd, const struct iovec *iov, int iovcnt) {
    struct msghdr message = { 0 };
    message.msg_iov = (struct iovec *)iov;
    message.msg_iovlen = (size_t)iovcnt;
    return syscall(SYS_sendmsg, fd, &message, MSG_NOSIGNAL);
}

ssize_t pw_readv(int fd, const struct iovec *iov, int iovcnt) { return readv(fd, iov, iovcnt); }

int pw_errno(void) { return errno; }
