internal import CUsrsctp
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process-wide usrsctp instance: one initialisation, one timer clock, and the table from
/// AF_CONN addresses to the associations that own them.
///
/// Choice of mode (the note issue 6 asks for): usrsctp is initialised with
/// `usrsctp_init_nothreads`, so it starts no timer thread and no raw-socket receive threads.
/// Its timers advance only when someone calls ``advanceClock(to:)`` (which calls
/// `usrsctp_handle_timers` with the milliseconds elapsed since the previous call), so tests can
/// drive retransmissions with simulated time and production code ticks it from the owner's
/// event loop. usrsctp's timer wheel is global: the clock here is one monotonic value for the
/// whole process (a call with an earlier deadline than the last one does nothing), and calls to
/// `usrsctp_handle_timers` are serialised, because usrsctp's callout walk keeps a single
/// "next timer" cursor and is not written for two concurrent walkers.
///
/// Callbacks: usrsctp calls `sctpConnOutput` (a packet to send) and `sctpReceive` (a message
/// or notification) synchronously from whichever thread is inside usrsctp: the caller of
/// `usrsctp_conninput`, `usrsctp_sendv`, `usrsctp_close` or `usrsctp_handle_timers` — which,
/// with many associations, may be another association's owner. So the callbacks never call
/// back into usrsctp and never touch an association's state: they look the owner up by the id
/// carried in the AF_CONN address (a number, not a pointer, so a late callback after close
/// finds nothing instead of a freed object), append to its ``SCTPAssociationInbox`` under that
/// inbox's own lock, and wake the owner if the owner is not inside a call right now.
enum SCTPStack {
    private struct Registry {
        var initialized = false
        var nextID: UInt = 0x5C7_0000
        var inboxes: [UInt: SCTPAssociationInbox] = [:]
    }

    private struct Clock {
        var last: NIODeadline?
        var remainderNanoseconds: Int64 = 0
    }

    private static let registry = Mutex(Registry())
    private static let clock = Mutex(Clock())
    private static let timerWalk = Mutex(())

    /// Initialises usrsctp once and registers `inbox` under a fresh id; returns the id, whose
    /// bit pattern is the AF_CONN address given to usrsctp.
    static func register(_ inbox: SCTPAssociationInbox) -> UInt {
        registry.withLock { registry in
            if !registry.initialized {
                registry.initialized = true
                usrsctp_init_nothreads(0, sctpConnOutput, nil)
                // No ECN over DTLS (nothing below sets the bits); no ASCONF (one path only,
                // RFC 8831 §6.1 leaves multihoming out); PR-SCTP and RE-CONFIG are required
                // (RFC 8831 §6.1, §6.7) and on by default in usrsctp.
                usrsctp_sysctl_set_sctp_ecn_enable(0)
                usrsctp_sysctl_set_sctp_asconf_enable(0)
                usrsctp_sysctl_set_sctp_auth_enable(0)
                usrsctp_sysctl_set_sctp_pr_enable(1)
                usrsctp_sysctl_set_sctp_reconfig_enable(1)
                // The default of 512 chunks queued per association would refuse a burst of
                // small input events long before the send buffer fills.
                usrsctp_sysctl_set_sctp_max_chunks_on_queue(8192)
            }
            registry.nextID += 1
            let id = registry.nextID
            registry.inboxes[id] = inbox
            return id
        }
    }

    static func unregister(_ id: UInt) {
        _ = registry.withLock { $0.inboxes.removeValue(forKey: id) }
    }

    static func inbox(for address: UnsafeMutableRawPointer?) -> SCTPAssociationInbox? {
        guard let address else { return nil }
        let id = UInt(bitPattern: address)
        return registry.withLock { $0.inboxes[id] }
    }

    static func address(of id: UInt) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: id)!
    }

    /// Advances usrsctp's timers to `now` (monotonic across the process; earlier deadlines are
    /// ignored). Timers that expire fire synchronously here, possibly for other associations.
    static func advanceClock(to now: NIODeadline) {
        let milliseconds: Int64 = clock.withLock { clock in
            guard let last = clock.last else {
                clock.last = now
                return 0
            }
            guard now > last else { return 0 }
            clock.last = now
            let total = clock.remainderNanoseconds + (now - last).nanoseconds
            clock.remainderNanoseconds = total % 1_000_000
            return total / 1_000_000
        }
        guard milliseconds > 0 else { return }
        timerWalk.withLock { _ in
            usrsctp_handle_timers(UInt32(clamping: milliseconds))
        }
    }
}

/// usrsctp's output callback: one SCTP packet for the DTLS transport (RFC 8261 §5).
/// Runs inside usrsctp; only queues.
private func sctpConnOutput(
    _ address: UnsafeMutableRawPointer?, _ buffer: UnsafeMutableRawPointer?, _ length: Int,
    _ tos: UInt8, _ setDF: UInt8
) -> Int32 {
    guard let buffer, length > 0, let inbox = SCTPStack.inbox(for: address) else { return 0 }
    inbox.pushTransmit(ByteBuffer(bytes: UnsafeRawBufferPointer(start: buffer, count: length)))
    return 0
}

/// usrsctp's receive callback (per socket): a message, part of one, or a notification. We own
/// `data` and free it. Runs inside usrsctp; only queues.
func sctpReceive(
    _ socket: OpaquePointer?, _ address: sctp_sockstore, _ data: UnsafeMutableRawPointer?,
    _ length: Int, _ info: sctp_rcvinfo, _ flags: Int32, _ ulpInfo: UnsafeMutableRawPointer?
) -> Int32 {
    defer { free(data) }
    guard let inbox = SCTPStack.inbox(for: ulpInfo) else { return 1 }
    if flags & Int32(MSG_NOTIFICATION) != 0 {
        var note = pa_sctp_notification()
        guard let data, pa_sctp_parse_notification(data, length, &note) == 0 else {
            inbox.push(.unparsableNotification)
            return 1
        }
        var streams: [UInt16] = []
        if let list = note.streams, note.stream_count > 0 {
            streams = Array(UnsafeBufferPointer(start: list, count: Int(note.stream_count)))
        }
        inbox.push(.notification(SCTPNotification(
            type: note.type, flags: note.flags, error: note.error,
            outboundStreams: note.outbound_streams, inboundStreams: note.inbound_streams,
            stream: note.stream, streams: streams)))
        return 1
    }
    let bytes: ByteBuffer
    if let data, length > 0 {
        bytes = ByteBuffer(bytes: UnsafeRawBufferPointer(start: data, count: length))
    } else {
        bytes = ByteBuffer()
    }
    inbox.push(.data(SCTPInboundPiece(
        streamID: info.rcv_sid, ssn: info.rcv_ssn, ppid: UInt32(bigEndian: info.rcv_ppid),
        unordered: Int32(info.rcv_flags) & Int32(SCTP_UNORDERED) != 0,
        endOfRecord: flags & Int32(MSG_EOR) != 0, bytes: bytes)))
    return 1
}

/// usrsctp's send-space callback: the send buffer has at least the threshold free again.
func sctpSendSpace(_ socket: OpaquePointer?, _ free: UInt32, _ ulpInfo: UnsafeMutableRawPointer?) -> Int32 {
    SCTPStack.inbox(for: ulpInfo)?.push(.sendSpace)
    return 0
}
