public import NIOCore

/// A bounded ring of the plaintext RTP packets a sender has sent, indexed by sequence number,
/// so that NACKed packets can be sent again (RFC 4585 §6.2.1, RFC 4588).
///
/// Storage is one contiguous block allocated once (`capacity` slots of `maxPacketSize`
/// bytes): storing a packet is a copy into its slot, no allocation. Slot = sequence number
/// modulo the capacity (a power of two, so the mapping survives the 16-bit wrap), so a lookup
/// is O(1) and a packet is evicted when a sequence number `capacity` later is stored, or once
/// it is older than `maxAge`.
public struct RTPSendHistory: Sendable {
    public let capacity: Int
    public let maxPacketSize: Int
    /// Packets older than this are treated as gone: resending them would arrive too late to
    /// be played, and the receiver will ask for a keyframe instead.
    public let maxAge: TimeAmount

    /// Packets not stored because they exceed `maxPacketSize`.
    public private(set) var oversizedPackets = 0

    /// What is known about the packet in one slot (kept in one array, so that storing a packet
    /// checks and writes one array besides the bytes).
    private struct Slot: Sendable {
        var length = 0
        var sequenceNumber: UInt16 = 0
        var sentAt = NIODeadline.uptimeNanoseconds(0)
        var lastResentAt: NIODeadline?
    }

    private let mask: Int
    private var storage: [UInt8]
    private var slots: [Slot]

    /// - Parameters:
    ///   - capacity: slots, rounded up to a power of two (1 ... 32768).
    ///   - maxPacketSize: the largest packet kept (the sender's MTU).
    ///   - maxAge: how long a packet stays available.
    public init(capacity: Int = 1024, maxPacketSize: Int = 1500, maxAge: TimeAmount = .seconds(1)) {
        precondition(capacity >= 1 && capacity <= 32768 && maxPacketSize > 0)
        var slots = 1
        while slots < capacity { slots <<= 1 }
        self.capacity = slots
        self.mask = slots - 1
        self.maxPacketSize = maxPacketSize
        self.maxAge = maxAge
        storage = [UInt8](repeating: 0, count: slots * maxPacketSize)
        self.slots = [Slot](repeating: Slot(), count: slots)
    }

    /// Copies a sent packet into the slot of its sequence number, evicting what was there.
    public mutating func store(_ packet: UnsafeRawBufferPointer, sequenceNumber: UInt16, now: NIODeadline) {
        let slot = Int(sequenceNumber) & mask
        guard packet.count <= maxPacketSize else {
            oversizedPackets += 1
            slots[slot].length = 0
            return
        }
        let base = slot * maxPacketSize
        storage.withUnsafeMutableBytes { dest in
            UnsafeMutableRawBufferPointer(rebasing: dest[base..<(base + packet.count)]).copyMemory(from: packet)
        }
        slots[slot] = Slot(length: packet.count, sequenceNumber: sequenceNumber, sentAt: now, lastResentAt: nil)
    }

    /// Copies a sent packet from the readable bytes of `packet`.
    public mutating func store(_ packet: ByteBuffer, sequenceNumber: UInt16, now: NIODeadline) {
        packet.withUnsafeReadableBytes { store($0, sequenceNumber: sequenceNumber, now: now) }
    }

    /// The slot holding `sequenceNumber` if it is still there and younger than `maxAge`.
    func slot(of sequenceNumber: UInt16, now: NIODeadline) -> Int? {
        let slot = Int(sequenceNumber) & mask
        let info = slots[slot]
        guard info.length > 0, info.sequenceNumber == sequenceNumber, now - info.sentAt <= maxAge else {
            return nil
        }
        return slot
    }

    /// Whether `sequenceNumber` can still be resent.
    public func contains(_ sequenceNumber: UInt16, now: NIODeadline) -> Bool {
        slot(of: sequenceNumber, now: now) != nil
    }

    /// Calls `body` with the stored bytes of `sequenceNumber`, or returns nil if evicted.
    public func withPacket<R>(_ sequenceNumber: UInt16, now: NIODeadline, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard let slot = slot(of: sequenceNumber, now: now) else { return nil }
        return withSlot(slot, body)
    }

    func withSlot<R>(_ slot: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let base = slot * maxPacketSize
        let length = slots[slot].length
        return storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[base..<(base + length)])) }
    }

    func lastResent(_ slot: Int) -> NIODeadline? { slots[slot].lastResentAt }

    mutating func markResent(_ slot: Int, now: NIODeadline) { slots[slot].lastResentAt = now }
}
