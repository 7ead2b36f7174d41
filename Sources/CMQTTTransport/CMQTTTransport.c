#define _GNU_SOURCE
#include "CMQTTTransport.h"

#ifdef __linux__

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

int cmqtt_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cmqtt_epoll_control(int epoll_fd, int op, int fd, int want_output) {
    struct epoll_event event = {0};
    event.events = EPOLLIN | (want_output ? EPOLLOUT : 0);
    event.data.fd = fd;
    int code = op == 0 ? EPOLL_CTL_ADD : op == 1 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    return epoll_ctl(epoll_fd, code, fd, &event);
}

int cmqtt_epoll_wait(int epoll_fd, int *fds, uint32_t *flags, int capacity, int timeout_ms) {
    struct epoll_event events[256];
    if (capacity > 256) capacity = 256;
    int count = epoll_wait(epoll_fd, events, capacity, timeout_ms);
    for (int i = 0; i < count; i++) {
        uint32_t e = events[i].events;
        fds[i] = events[i].data.fd;
        flags[i] = ((e & EPOLLIN) ? 1u : 0u) | ((e & EPOLLOUT) ? 2u : 0u) | ((e & (EPOLLERR | EPOLLHUP)) ? 4u : 0u);
    }
    return count;
}

int cmqtt_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

long cmqtt_send(int fd, const void *bytes, unsigned long count) { return (long)send(fd, bytes, count, MSG_NOSIGNAL); }

int cmqtt_shutdown(int fd) { return shutdown(fd, SHUT_RDWR); }

int cmqtt_accept(int listen_fd) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

int cmqtt_process_nice(int *nice) {
    // getpriority can return -1 as a value: errno tells the two apart.
    errno = 0;
    int value = getpriority(PRIO_PROCESS, (id_t)getpid());
    if (value == -1 && errno != 0) return -1;
    *nice = value;
    return 0;
}

int cmqtt_thread_setup(const char *name, int set_nice, int nice) {
    char short_name[16];
    strncpy(short_name, name, sizeof short_name - 1);
    short_name[sizeof short_name - 1] = 0;
    (void)pthread_setname_np(pthread_self(), short_name);
    if (!set_nice) return 0;
    // On Linux the nice value is per thread: PRIO_PROCESS with a thread id sets only this one.
    return setpriority(PRIO_PROCESS, (id_t)gettid(), nice);
}

#endif
