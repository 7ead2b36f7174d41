import NIOCore
import STUNCore

/// A lossy, reordering datagram network between plain transport addresses, driven by a seeded
/// generator and simulated time.
struct SimulatedNetwork: Sendable {
    struct Conditions: Sendable {
        /// One-way delay of every datagram.
        var latencyMilliseconds: Int64 = 10
        /// Extra random delay 0…jitter per datagram; datagrams overtake each other when it exceeds their spacing.
        var jitterMilliseconds: Int64 = 0
        /// Probability that a datagram is lost.
        var loss: Double = 0
    }

    struct Datagram: Sendable {
        var deliverAt: NIODeadline
        var sequence: Int
        var source: TransportAddress
        var destination: TransportAddress
        var bytes: [UInt8]
    }

    var conditions: Conditions
    /// While true every datagram is lost (a cut cable).
    var isCut = false
    /// Source → translated source, for a simple endpoint-independent NAT: datagrams from the
    /// private address appear from the public one, and datagrams to the public one are delivered
    /// to the private one.
    var natMappings: [TransportAddress: TransportAddress] = [:]
    /// Destinations nothing reaches (private addresses behind a NAT, seen from outside).
    var unreachable: Set<TransportAddress> = []
    private(set) var inFlight: [Datagram] = []
    private(set) var sent = 0
    private(set) var lost = 0
    private var sequence = 0
    private var random: SimSeededGenerator

    init(conditions: Conditions = .init(), seed: UInt64 = 1) {
        self.conditions = conditions
        self.random = SimSeededGenerator(seed: seed)
    }

    mutating func send(from source: TransportAddress, to destination: TransportAddress, bytes: [UInt8], now: NIODeadline) {
        sent += 1
        let dropped = random.unit() < conditions.loss
        let jitter = conditions.jitterMilliseconds > 0 ? Int64(random.next() % UInt64(conditions.jitterMilliseconds + 1)) : 0
        guard !isCut, !dropped, !unreachable.contains(destination) else {
            lost += 1
            return
        }
        sequence += 1
        let translated = natMappings[source] ?? source
        inFlight.append(Datagram(
            deliverAt: now + .milliseconds(conditions.latencyMilliseconds + jitter), sequence: sequence,
            source: translated, destination: destination, bytes: bytes))
    }

    var nextDelivery: NIODeadline? { inFlight.map(\.deliverAt).min() }

    /// Removes and returns datagrams due by `now`, earliest first; a datagram to a NAT's public
    /// address is rewritten to its private destination.
    mutating func takeDue(now: NIODeadline) -> [Datagram] {
        var due = inFlight.filter { $0.deliverAt <= now }
        inFlight.removeAll { $0.deliverAt <= now }
        due.sort { ($0.deliverAt, $0.sequence) < ($1.deliverAt, $1.sequence) }
        for index in due.indices {
            if let inside = natMappings.first(where: { $0.value == due[index].destination })?.key {
                due[index].destination = inside
            }
        }
        return due
    }
}
