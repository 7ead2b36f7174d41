// libusrsctp (Debian libusrsctp-dev) in AF_CONN mode for data channels (RFC 8261).
// pkg-config's -DINET -DINET6 are dropped by SwiftPM; define them before the header.
#ifndef POD_ARCADE_CUSRSCTP_SHIM_H
#define POD_ARCADE_CUSRSCTP_SHIM_H
#ifndef INET
#define INET 1
#endif
#ifndef INET6
#define INET6 1
#endif
#include <usrsctp.h>
#endif
