import NIOCore
import Synchronization

/// A piece of a user message as usrsctp hands it over (a whole message when `endOfRecord`).
struct SCTPInboundPiece: Sendable {
    var streamID: UInt16
    /// Stream sequence number (message id): the same for every piece of one message.
    var ssn: UInt16
    var ppid: UInt32
    var unordered: Bool
    var endOfRecord: Bool
    var bytes: ByteBuffer
}

/// A notification (RFC 6458 §6.1) flattened by `pa_sctp_parse_notification`.
struct SCTPNotification: Sendable {
    var type: UInt16
    var flags: UInt16
    var error: UInt16
    var outboundStreams: UInt16
    var inboundStreams: UInt16
    var stream: UInt16
    var streams: [UInt16]
}

/// What usrsctp's callbacks leave for the association's owner.
enum SCTPDelivery: Sendable {
    case data(SCTPInboundPiece)
    case notification(SCTPNotification)
    case unparsableNotification
    case sendSpace
}

/// The only state usrsctp's callbacks touch: queues behind their own lock, plus the owner's
/// wake-up. The association drains it after each of its own calls; callbacks fired from
/// another thread (another association's timer walk) wake the owner instead.
final class SCTPAssociationInbox: Sendable {
    private struct State {
        var transmits: [ByteBuffer] = []
        var deliveries: [SCTPDelivery] = []
        /// Calls of the owner in progress: it drains afterwards, so no wake-up is needed.
        var ownerCalls = 0
        var wakeupPending = false
        var wakeup: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func setWakeup(_ wakeup: (@Sendable () -> Void)?) {
        state.withLock { $0.wakeup = wakeup }
    }

    func pushTransmit(_ packet: ByteBuffer) {
        let wake = state.withLock { state -> (@Sendable () -> Void)? in
            state.transmits.append(packet)
            return Self.takeWakeup(&state)
        }
        wake?()
    }

    func push(_ delivery: SCTPDelivery) {
        let wake = state.withLock { state -> (@Sendable () -> Void)? in
            state.deliveries.append(delivery)
            return Self.takeWakeup(&state)
        }
        wake?()
    }

    private static func takeWakeup(_ state: inout State) -> (@Sendable () -> Void)? {
        guard state.ownerCalls == 0, !state.wakeupPending, let wakeup = state.wakeup else { return nil }
        state.wakeupPending = true
        return wakeup
    }

    /// Runs `body` as an owner call: callbacks during it do not wake the owner.
    func ownerCall<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        state.withLock { $0.ownerCalls += 1 }
        defer { state.withLock { $0.ownerCalls -= 1 } }
        return try body()
    }

    func takeTransmits() -> [ByteBuffer] {
        state.withLock { state in
            state.wakeupPending = false
            let transmits = state.transmits
            state.transmits = []
            return transmits
        }
    }

    func takeDeliveries() -> [SCTPDelivery] {
        state.withLock { state in
            state.wakeupPending = false
            let deliveries = state.deliveries
            state.deliveries = []
            return deliveries
        }
    }
}
