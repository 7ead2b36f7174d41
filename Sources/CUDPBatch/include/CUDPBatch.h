// recvmmsg(2) and sendmmsg(2) for Swift. glibc declares them and struct mmsghdr only under
// _GNU_SOURCE, which must not leak into modules shared with Swift's Glibc (fd_set would
// differ), so this header mirrors struct mmsghdr and CUDPBatch.c does the calls.
#ifndef CUDPBATCH_H
#define CUDPBATCH_H

#include <sys/socket.h>

/// Same layout as glibc's struct mmsghdr (checked with a static assertion in CUDPBatch.c).
struct cudpbatch_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

int cudpbatch_recvmmsg(int fd, struct cudpbatch_mmsghdr *messages, unsigned int count, int flags);
int cudpbatch_sendmmsg(int fd, struct cudpbatch_mmsghdr *messages, unsigned int count, int flags);
int cudpbatch_msg_waitforone(void);
int cudpbatch_msg_trunc(void);

#endif
