internal import CUsrsctp

/// What usrsctp reports about an association (SCTP_STATUS, RFC 6458 §8.2.1): the numbers that
/// explain a stall — the peer's window, what is in flight, the primary path's state.
public struct SCTPTransportStatus: Sendable, Equatable {
    /// usrsctp's association state (`SCTP_ESTABLISHED` is 0x0008 in usrsctp's numbering).
    public var state: Int32
    /// The receive window the peer advertised in its last SACK (RFC 4960 §6.2), bytes.
    public var peerReceiveWindow: UInt32
    /// DATA chunks sent and not yet acknowledged.
    public var unacknowledgedChunks: UInt16
    /// Received DATA chunks not yet delivered to us (waiting for reassembly or for an earlier
    /// message of their ordered stream). Messages we queued and usrsctp has not sent are not
    /// counted anywhere in SCTP_STATUS.
    public var inboundPendingChunks: UInt16
    /// Congestion window of the primary path (RFC 4960 §7.2), bytes.
    public var congestionWindow: UInt32
    /// Smoothed round-trip time of the primary path (RFC 4960 §6.3.1), milliseconds.
    public var smoothedRTTMilliseconds: UInt32
    /// Current retransmission timeout of the primary path, milliseconds.
    public var retransmissionTimeoutMilliseconds: UInt32
    /// Whether the primary path is considered reachable (RFC 4960 §8.2).
    public var pathActive: Bool
}

extension SCTPAssociation {
    /// SCTP_STATUS of the association, or nil before it exists or after it closed.
    public var transportStatus: SCTPTransportStatus? {
        withSocket { socket -> SCTPTransportStatus? in
            var status = pa_sctp_status()
            guard pa_sctp_get_status(socket, &status) == 0 else { return nil }
            return SCTPTransportStatus(
                state: status.state, peerReceiveWindow: status.peer_rwnd,
                unacknowledgedChunks: status.unacked, inboundPendingChunks: status.pending,
                congestionWindow: status.cwnd, smoothedRTTMilliseconds: status.srtt,
                retransmissionTimeoutMilliseconds: status.rto,
                pathActive: status.path_state == Int32(SCTP_ACTIVE))
        }
    }
}
