// epoll(7), eventfd(2) and accept4(2) for the MQTT broker's TCP transport (Linux). Swift's
// Glibc module does not export <sys/epoll.h>, and struct epoll_event is packed on x86-64, so
// the calls go through these small functions with plain arrays.
#ifndef CMQTTTRANSPORT_H
#define CMQTTTRANSPORT_H

#include <stdint.h>

/// epoll_create1(EPOLL_CLOEXEC).
int cmqtt_epoll_create(void);
/// Adds (op 0), modifies (op 1) or removes (op 2) `fd`, watched for input and, when
/// `want_output` is non-zero, for output. Returns 0 or -1 with errno.
int cmqtt_epoll_control(int epoll_fd, int op, int fd, int want_output);
/// Waits up to `timeout_ms` (-1: forever) for at most `capacity` events; fills `fds` and
/// `flags` (bit 0: readable, bit 1: writable, bit 2: error or hang-up). Returns the count or
/// -1 with errno.
int cmqtt_epoll_wait(int epoll_fd, int *fds, uint32_t *flags, int capacity, int timeout_ms);
/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC).
int cmqtt_eventfd(void);
/// send(fd, bytes, count, MSG_NOSIGNAL): a peer that reset the connection gives EPIPE, not
/// SIGPIPE (which would end the process).
long cmqtt_send(int fd, const void *bytes, unsigned long count);
/// shutdown(fd, SHUT_RDWR).
int cmqtt_shutdown(int fd);
/// accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), then TCP_NODELAY on the new socket.
int cmqtt_accept(int listen_fd);
/// The nice value of the process's main thread (getpriority(PRIO_PROCESS, getpid())), in
/// `*nice`. Returns 0, or -1 with errno.
int cmqtt_process_nice(int *nice);
/// Names the calling thread (at most 15 bytes are kept) and, when `set_nice` is non-zero, sets
/// its nice value (setpriority(PRIO_PROCESS, gettid(), nice)). Returns 0, or -1 with errno if
/// the nice value could not be set (the name is set regardless).
int cmqtt_thread_setup(const char *name, int set_nice, int nice);

#endif
