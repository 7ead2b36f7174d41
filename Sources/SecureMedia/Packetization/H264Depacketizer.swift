import NIOCore

/// Why an H.264 RTP payload was rejected (RFC 6184), with the payload offset that failed.
public struct H264DepacketizerError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case emptyPayload, forbiddenBit, unsupportedType, truncatedAggregate, fragmentWithoutStart
            case truncatedFragment, inconsistentFragment
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A payload of zero bytes.
        public static let emptyPayload = Code(.emptyPayload)
        /// The forbidden_zero_bit is set (§5.3).
        public static let forbiddenBit = Code(.forbiddenBit)
        /// Type 0, 30, 31 or an interleaved-mode type (STAP-B, MTAP, FU-B), which
        /// packetization-mode 1 excludes (§6.3).
        public static let unsupportedType = Code(.unsupportedType)
        /// A STAP-A unit size runs past the payload or is zero (§5.7.1).
        public static let truncatedAggregate = Code(.truncatedAggregate)
        /// An FU-A continuation or end arrived with no fragmented unit in progress (§5.8).
        public static let fragmentWithoutStart = Code(.fragmentWithoutStart)
        /// An FU-A payload shorter than its two header bytes plus one, or with S and E both set.
        public static let truncatedFragment = Code(.truncatedFragment)
        /// An FU-A fragment's type differs from the unit in progress.
        public static let inconsistentFragment = Code(.inconsistentFragment)

        public var description: String { "\(base)" }
    }

    public let code: Code
    public let field: String
    /// Offset in the RTP payload.
    public let offset: Int

    public init(_ code: Code, field: String, offset: Int) {
        self.code = code
        self.field = field
        self.offset = offset
    }

    public var description: String { "H.264 payload \(code) in \(field) at offset \(offset)" }
}

/// One reassembled access unit.
public struct H264AccessUnit: Sendable, Hashable {
    /// The 90 kHz RTP timestamp shared by its packets.
    public var timestamp: UInt32
    /// The NAL units in decoding order, without start codes.
    public var nalUnits: [[UInt8]]
    /// Whether the access unit ended with the marker bit (rather than a timestamp change).
    public var sawMarker: Bool

    /// The access unit as an Annex B stream with 4-byte start codes.
    public var annexB: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(nalUnits.reduce(0) { $0 + 4 + $1.count })
        for unit in nalUnits { out += [0, 0, 0, 1] + unit }
        return out
    }

    public var containsIDR: Bool { nalUnits.contains { !$0.isEmpty && H264NALType.of($0[0]) == H264NALType.idrSlice } }
}

/// Rebuilds H.264 access units from RTP packets in sequence order (RFC 6184 single NAL unit,
/// STAP-A and FU-A packets), dropping access units that lost a packet.
///
/// An access unit ends at a packet with the marker bit, or when the timestamp changes. A gap
/// in sequence numbers makes the access unit in progress incomplete: it is dropped and
/// counted rather than handed over with a hole.
public struct H264Depacketizer: Sendable {
    /// Access units dropped because a packet of theirs was lost or malformed.
    public private(set) var droppedAccessUnits = 0
    /// Packets missing by sequence number.
    public private(set) var lostPackets = 0
    /// Payloads rejected with an error.
    public private(set) var malformedPayloads = 0

    private var expectedSequence: UInt16?
    private var timestamp: UInt32?
    private var units: [[UInt8]] = []
    private var fragment: [UInt8]?
    private var damaged = false

    public init() {}

    /// Feeds the next packet (in sequence order; reordering is the jitter buffer's business).
    /// - Returns: the access units completed by this packet (at most two: the previous one on
    ///   a timestamp change, and this one on a marker).
    /// - Throws: `H264DepacketizerError` when the payload is malformed; the access unit in
    ///   progress is then dropped.
    public mutating func push(_ packet: RTPPacket) throws(H264DepacketizerError) -> [H264AccessUnit] {
        var completed: [H264AccessUnit] = []
        let seq = packet.header.sequenceNumber
        var gap = false
        if let expected = expectedSequence, seq != expected {
            if RTPSequence.isNewer(seq, than: expected) {
                lostPackets += Int(seq &- expected)
                gap = true
                damaged = true
                fragment = nil
            } else {
                // A late or duplicate packet: its access unit was already handled.
                return []
            }
        }
        expectedSequence = seq &+ 1
        if let current = timestamp, current != packet.header.timestamp {
            if let unit = finish(sawMarker: false) { completed.append(unit) }
        }
        // The lost packets may have been the start of this access unit as well.
        if gap { damaged = true }
        timestamp = packet.header.timestamp
        do {
            try consume(packet.payload)
        } catch {
            malformedPayloads += 1
            damaged = true
            fragment = nil
            if packet.header.marker { _ = finish(sawMarker: true) }
            throw error
        }
        if packet.header.marker, let unit = finish(sawMarker: true) { completed.append(unit) }
        return completed
    }

    private mutating func finish(sawMarker: Bool) -> H264AccessUnit? {
        defer {
            units.removeAll()
            fragment = nil
            damaged = false
            timestamp = nil
        }
        if fragment != nil { damaged = true }
        guard let timestamp, !units.isEmpty || damaged else { return nil }
        if damaged {
            droppedAccessUnits += 1
            return nil
        }
        return H264AccessUnit(timestamp: timestamp, nalUnits: units, sawMarker: sawMarker)
    }

    private mutating func consume(_ payload: ByteBuffer) throws(H264DepacketizerError) {
        let bytes = payload.readableBytesView
        guard let header = bytes.first else { throw H264DepacketizerError(.emptyPayload, field: "payload", offset: 0) }
        guard header & 0x80 == 0 else { throw H264DepacketizerError(.forbiddenBit, field: "nal.F", offset: 0) }
        let start = bytes.startIndex
        switch H264NALType.of(header) {
        case 1...23:
            units.append(Array(bytes))
        case H264NALType.stapA:
            var at = 1
            var found = 0
            while at < bytes.count {
                guard at + 2 <= bytes.count else {
                    throw H264DepacketizerError(.truncatedAggregate, field: "stapA.size", offset: at)
                }
                let size = Int(bytes[start + at]) << 8 | Int(bytes[start + at + 1])
                guard size > 0, at + 2 + size <= bytes.count else {
                    throw H264DepacketizerError(.truncatedAggregate, field: "stapA.size", offset: at)
                }
                units.append(Array(bytes[(start + at + 2)..<(start + at + 2 + size)]))
                at += 2 + size
                found += 1
            }
            guard found > 0 else { throw H264DepacketizerError(.truncatedAggregate, field: "stapA", offset: 1) }
        case H264NALType.fuA:
            guard bytes.count >= 3 else { throw H264DepacketizerError(.truncatedFragment, field: "fuA", offset: 0) }
            let fuHeader = bytes[start + 1]
            let isStart = fuHeader & 0x80 != 0
            let isEnd = fuHeader & 0x40 != 0
            let type = H264NALType.of(fuHeader)
            guard !(isStart && isEnd) else {
                throw H264DepacketizerError(.truncatedFragment, field: "fuA.header", offset: 1)
            }
            if isStart {
                if fragment != nil { damaged = true }
                fragment = [header & 0xE0 | type] + bytes[(start + 2)...]
            } else {
                guard var current = fragment else {
                    // After a loss a continuation without its start is expected, not an error.
                    if damaged { return }
                    throw H264DepacketizerError(.fragmentWithoutStart, field: "fuA.header.S", offset: 1)
                }
                guard H264NALType.of(current[0]) == type else {
                    throw H264DepacketizerError(.inconsistentFragment, field: "fuA.header.type", offset: 1)
                }
                fragment = nil
                current += bytes[(start + 2)...]
                if isEnd { units.append(current) } else { fragment = current }
            }
        default:
            throw H264DepacketizerError(.unsupportedType, field: "nal.type", offset: 0)
        }
    }
}
