#define _GNU_SOURCE
#include <sys/socket.h>
#include <stddef.h>
#include "CUDPBatch.h"

_Static_assert(sizeof(struct cudpbatch_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
_Static_assert(offsetof(struct cudpbatch_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "mmsghdr layout");

int cudpbatch_recvmmsg(int fd, struct cudpbatch_mmsghdr *messages, unsigned int count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)messages, count, flags, NULL);
}

int cudpbatch_sendmmsg(int fd, struct cudpbatch_mmsghdr *messages, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)messages, count, flags);
}

int cudpbatch_msg_waitforone(void) { return MSG_WAITFORONE; }
int cudpbatch_msg_trunc(void) { return MSG_TRUNC; }
