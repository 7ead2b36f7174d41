// libsrtp2 (Debian libsrtp2-dev) for SRTP/SRTCP in SecureMedia.
#ifndef POD_ARCADE_CSRTP_SHIM_H
#define POD_ARCADE_CSRTP_SHIM_H
#include <srtp2/srtp.h>
#endif
