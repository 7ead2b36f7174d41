// libusrsctp (Debian libusrsctp-dev) in AF_CONN mode for data channels (RFC 8261).
// pkg-config's -DINET -DINET6 are dropped by SwiftPM; define them before the header.
//
// The inline helpers below build the socket-API structures that Swift cannot write
// comfortably (flexible array members, unions, nested option structs) and check the lengths of
// what usrsctp hands back. They never keep state.
#ifndef POD_ARCADE_CUSRSCTP_SHIM_H
#define POD_ARCADE_CUSRSCTP_SHIM_H
#ifndef INET
#define INET 1
#endif
#ifndef INET6
#define INET6 1
#endif
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <usrsctp.h>

/// The errno of the calling thread (usrsctp reports socket-API errors through it).
static inline int pa_sctp_errno(void) { return errno; }

/// Sets the options a WebRTC data-channel association needs (RFC 8831 §6.1, §6.2).
/// Returns 0, or the 1-based step that failed (the caller reports which option).
static inline int pa_sctp_configure(struct socket *sock,
                                    uint16_t outbound_streams, uint16_t inbound_streams,
                                    uint32_t rto_initial_ms, uint32_t rto_min_ms, uint32_t rto_max_ms,
                                    uint32_t path_mtu, uint32_t sack_delay_ms,
                                    int send_buffer, int receive_buffer, uint16_t max_retransmissions) {
    int on = 1;
    // 1: non-blocking, so that sends never wait (EWOULDBLOCK becomes back-pressure).
    if (usrsctp_set_non_blocking(sock, 1) != 0) return 1;
    // 2: close() aborts at once (SO_LINGER 0): no SHUTDOWN exchange keeps timers alive after
    // the owner is gone.
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    if (usrsctp_setsockopt(sock, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0) return 2;
    // 3: no Nagle-style bundling delay for small messages (input events).
    if (usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on) != 0) return 3;
    // 4: stream reset requests (RFC 6525) for closing channels (RFC 8831 §6.7).
    struct sctp_assoc_value reset = { .assoc_id = SCTP_ALL_ASSOC, .assoc_value = SCTP_ENABLE_RESET_STREAM_REQ };
    if (usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &reset, sizeof reset) != 0) return 4;
    // 5: receive info (stream id, PPID, flags) with every message.
    if (usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on) != 0) return 5;
    // 6: stream counts offered in INIT (RFC 8831 §6.2 recommends 65535 possible; 1024 is plenty).
    struct sctp_initmsg init;
    memset(&init, 0, sizeof init);
    init.sinit_num_ostreams = outbound_streams;
    init.sinit_max_instreams = inbound_streams;
    if (usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof init) != 0) return 6;
    // 7: retransmission timeouts (RFC 4960 §6.3.1 RTO.Initial, RTO.Min, RTO.Max).
    struct sctp_rtoinfo rto;
    memset(&rto, 0, sizeof rto);
    rto.srto_assoc_id = SCTP_FUTURE_ASSOC;
    rto.srto_initial = rto_initial_ms;
    rto.srto_min = rto_min_ms;
    rto.srto_max = rto_max_ms;
    if (usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_RTOINFO, &rto, sizeof rto) != 0) return 7;
    // 8: a fixed path MTU: the packets travel inside DTLS records (RFC 8261 §5), so path MTU
    // discovery would measure the wrong thing.
    struct sctp_paddrparams params;
    memset(&params, 0, sizeof params);
    params.spp_assoc_id = SCTP_FUTURE_ASSOC;
    params.spp_flags = SPP_PMTUD_DISABLE;
    params.spp_pathmtu = path_mtu;
    // Path.Max.Retrans equal to Association.Max.Retrans (step 13): with one path, a larger
    // association limit would leave the path inactive while the association lives on, and
    // usrsctp sends no data to an inactive path until a heartbeat (30 s) revives it (the note
    // in RFC 4960 §8.2).
    params.spp_pathmaxrxt = max_retransmissions;
    if (usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &params, sizeof params) != 0) return 8;
    // 9: delayed SACK time (RFC 4960 §6.2), every second packet still acknowledged at once.
    struct sctp_sack_info sack;
    memset(&sack, 0, sizeof sack);
    sack.sack_assoc_id = SCTP_FUTURE_ASSOC;
    sack.sack_delay = sack_delay_ms;
    sack.sack_freq = 2;
    if (usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_DELAYED_SACK, &sack, sizeof sack) != 0) return 9;
    // 10, 11: buffer sizes; the send buffer bounds what usrsctp accepts before EWOULDBLOCK.
    if (usrsctp_setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer) != 0) return 10;
    if (usrsctp_setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) != 0) return 11;
    // 12: no partial delivery below half the receive buffer. usrsctp's receive callback hands
    // over a partially delivered message's pieces as they come, and complete later messages of
    // the same stream in between; keeping whole messages whole avoids that interleaving.
    uint32_t pd_point = (uint32_t)receive_buffer;
    if (usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_PARTIAL_DELIVERY_POINT, &pd_point, sizeof pd_point) != 0) return 12;
    // 13: Association.Max.Retrans (RFC 4960 §8.1): consecutive timeouts before the peer is
    // declared unreachable and the association aborts.
    struct sctp_assocparams assoc;
    memset(&assoc, 0, sizeof assoc);
    assoc.sasoc_assoc_id = SCTP_FUTURE_ASSOC;
    assoc.sasoc_asocmaxrxt = max_retransmissions;
    if (usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_ASSOCINFO, &assoc, sizeof assoc) != 0) return 13;
    // 14..: notifications we act on.
    const uint16_t events[] = {
        SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT, SCTP_SEND_FAILED_EVENT,
        SCTP_STREAM_CHANGE_EVENT, SCTP_REMOTE_ERROR, SCTP_PARTIAL_DELIVERY_EVENT,
    };
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        struct sctp_event event;
        memset(&event, 0, sizeof event);
        event.se_assoc_id = SCTP_ALL_ASSOC;
        event.se_type = events[i];
        event.se_on = 1;
        if (usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_EVENT, &event, sizeof event) != 0) return 14 + (int)i;
    }
    return 0;
}

/// Binds to the AF_CONN address `addr` (our context id) and `local_port`. 0 or -1 (errno).
static inline int pa_sctp_bind(struct socket *sock, void *addr, uint16_t local_port) {
    struct sockaddr_conn sconn;
    memset(&sconn, 0, sizeof sconn);
    sconn.sconn_family = AF_CONN;
    sconn.sconn_port = htons(local_port);
    sconn.sconn_addr = addr;
    return usrsctp_bind(sock, (struct sockaddr *)&sconn, sizeof sconn);
}

/// Starts the association towards `remote_port` on the same AF_CONN address (the peer is
/// whatever the DTLS transport carries packets to). 0, or -1 with errno (EINPROGRESS is normal
/// on a non-blocking socket).
static inline int pa_sctp_connect(struct socket *sock, void *addr, uint16_t remote_port) {
    struct sockaddr_conn sconn;
    memset(&sconn, 0, sizeof sconn);
    sconn.sconn_family = AF_CONN;
    sconn.sconn_port = htons(remote_port);
    sconn.sconn_addr = addr;
    return usrsctp_connect(sock, (struct sockaddr *)&sconn, sizeof sconn);
}

/// Sends one whole message (no explicit EOR: usrsctp takes it entirely or answers EWOULDBLOCK).
/// `pr_policy` is SCTP_PR_SCTP_NONE, _RTX (value = max retransmissions) or _TTL (value = ms).
/// Returns the bytes taken or -1 (errno).
static inline ssize_t pa_sctp_send(struct socket *sock, const void *data, size_t length,
                                   uint16_t stream_id, uint32_t ppid, int unordered,
                                   uint16_t pr_policy, uint32_t pr_value) {
    struct sctp_sendv_spa spa;
    memset(&spa, 0, sizeof spa);
    spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
    spa.sendv_sndinfo.snd_sid = stream_id;
    spa.sendv_sndinfo.snd_ppid = htonl(ppid);
    spa.sendv_sndinfo.snd_flags = unordered ? SCTP_UNORDERED : 0;
    if (pr_policy != SCTP_PR_SCTP_NONE) {
        spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
        spa.sendv_prinfo.pr_policy = pr_policy;
        spa.sendv_prinfo.pr_value = pr_value;
    }
    return usrsctp_sendv(sock, data, length, NULL, 0, &spa, (socklen_t)sizeof spa, SCTP_SENDV_SPA, 0);
}

/// Asks for an outgoing stream reset (RFC 6525 §5.1.2) of `count` streams. 0 or -1 (errno).
static inline int pa_sctp_reset_outgoing(struct socket *sock, const uint16_t *stream_ids, uint16_t count) {
    size_t size = sizeof(struct sctp_reset_streams) + (size_t)count * sizeof(uint16_t);
    struct sctp_reset_streams *request = (struct sctp_reset_streams *)calloc(1, size);
    if (request == NULL) { errno = ENOMEM; return -1; }
    request->srs_assoc_id = SCTP_ALL_ASSOC;
    request->srs_flags = SCTP_STREAM_RESET_OUTGOING;
    request->srs_number_streams = count;
    memcpy(request->srs_stream_list, stream_ids, (size_t)count * sizeof(uint16_t));
    int result = usrsctp_setsockopt(sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, request, (socklen_t)size);
    int saved = errno;
    free(request);
    errno = saved;
    return result;
}

/// A notification flattened for Swift. `streams` points into the notification buffer.
typedef struct {
    uint16_t type;          // SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT, ...
    uint16_t flags;         // sac_state for ASSOC_CHANGE, strreset_flags for STREAM_RESET
    uint16_t error;         // sac_error, ssfe_error (low 16 bits), sre_error
    uint16_t outbound_streams;
    uint16_t inbound_streams;
    uint16_t stream;        // ssfe_info.snd_sid for SEND_FAILED_EVENT
    uint16_t stream_count;  // number of entries in `streams` (STREAM_RESET_EVENT)
    const uint16_t *streams;
} pa_sctp_notification;

/// Reads a notification usrsctp delivered with MSG_NOTIFICATION, checking every length against
/// `length`. Returns 0, or -1 when the buffer is shorter than its header claims.
static inline int pa_sctp_parse_notification(const void *data, size_t length, pa_sctp_notification *out) {
    memset(out, 0, sizeof *out);
    if (data == NULL || length < sizeof(struct sctp_tlv)) return -1;
    const union sctp_notification *note = (const union sctp_notification *)data;
    if (note->sn_header.sn_length > length) return -1;
    out->type = note->sn_header.sn_type;
    switch (note->sn_header.sn_type) {
    case SCTP_ASSOC_CHANGE:
        if (length < sizeof(struct sctp_assoc_change)) return -1;
        out->flags = note->sn_assoc_change.sac_state;
        out->error = note->sn_assoc_change.sac_error;
        out->outbound_streams = note->sn_assoc_change.sac_outbound_streams;
        out->inbound_streams = note->sn_assoc_change.sac_inbound_streams;
        return 0;
    case SCTP_STREAM_RESET_EVENT: {
        if (length < sizeof(struct sctp_stream_reset_event)) return -1;
        const struct sctp_stream_reset_event *reset = &note->sn_strreset_event;
        uint32_t total = reset->strreset_length;
        if (total > length || total < sizeof(struct sctp_stream_reset_event)) return -1;
        out->flags = reset->strreset_flags;
        out->stream_count = (uint16_t)((total - sizeof(struct sctp_stream_reset_event)) / sizeof(uint16_t));
        out->streams = reset->strreset_stream_list;
        return 0;
    }
    case SCTP_SEND_FAILED_EVENT:
        if (length < sizeof(struct sctp_send_failed_event)) return -1;
        out->error = (uint16_t)note->sn_send_failed_event.ssfe_error;
        out->stream = note->sn_send_failed_event.ssfe_info.snd_sid;
        return 0;
    case SCTP_STREAM_CHANGE_EVENT:
        if (length < sizeof(struct sctp_stream_change_event)) return -1;
        out->outbound_streams = note->sn_strchange_event.strchange_outstrms;
        out->inbound_streams = note->sn_strchange_event.strchange_instrms;
        return 0;
    case SCTP_REMOTE_ERROR:
        if (length < sizeof(struct sctp_remote_error)) return -1;
        out->error = note->sn_remote_error.sre_error;
        return 0;
    case SCTP_PARTIAL_DELIVERY_EVENT:
        if (length < sizeof(struct sctp_pdapi_event)) return -1;
        out->flags = (uint16_t)note->sn_pdapi_event.pdapi_indication;
        out->stream = (uint16_t)note->sn_pdapi_event.pdapi_stream;
        return 0;
    default:
        return 0;
    }
}

/// What SCTP_STATUS (RFC 6458 §8.2.1) reports about the association and its primary path.
typedef struct {
    int32_t state;          // sstat_state (SCTP_ESTABLISHED, ...)
    uint32_t peer_rwnd;     // sstat_rwnd: the peer's advertised receive window
    uint16_t unacked;       // sstat_unackdata: chunks sent and not yet acknowledged
    uint16_t pending;       // sstat_penddata: received chunks not yet delivered (reassembly, order)
    uint32_t cwnd;          // spinfo_cwnd of the primary path
    uint32_t srtt;          // spinfo_srtt (ms)
    uint32_t rto;           // spinfo_rto (ms)
    int32_t path_state;     // spinfo_state (SCTP_ACTIVE, SCTP_INACTIVE, ...)
} pa_sctp_status;

/// Reads SCTP_STATUS. 0 or -1 (errno).
static inline int pa_sctp_get_status(struct socket *sock, pa_sctp_status *out) {
    memset(out, 0, sizeof *out);
    struct sctp_status status;
    memset(&status, 0, sizeof status);
    socklen_t length = (socklen_t)sizeof status;
    if (usrsctp_getsockopt(sock, IPPROTO_SCTP, SCTP_STATUS, &status, &length) != 0) return -1;
    out->state = status.sstat_state;
    out->peer_rwnd = status.sstat_rwnd;
    out->unacked = status.sstat_unackdata;
    out->pending = status.sstat_penddata;
    out->cwnd = status.sstat_primary.spinfo_cwnd;
    out->srtt = status.sstat_primary.spinfo_srtt;
    out->rto = status.sstat_primary.spinfo_rto;
    out->path_state = status.sstat_primary.spinfo_state;
    return 0;
}

#endif
