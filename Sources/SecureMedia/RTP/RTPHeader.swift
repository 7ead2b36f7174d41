public import NIOCore

/// The RTP fixed header, CSRC list and header extension (RFC 3550 §5.1, §5.3.1).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// |V=2|P|X|  CC   |M|     PT      |       sequence number         |
/// |                           timestamp                           |
/// |           synchronization source (SSRC) identifier            |
/// |            contributing source (CSRC) identifiers             |
/// ```
public struct RTPHeader: Sendable, Hashable {
    /// RFC 3550 §5.1: the only version in use.
    public static let version: UInt8 = 2
    /// Size of the fixed part.
    public static let fixedSize = 12

    public var marker: Bool
    /// 0–127.
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    /// At most 15.
    public var csrcs: [UInt32]
    public var extensions: RTPHeaderExtensions?

    public init(
        marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32,
        csrcs: [UInt32] = [], extensions: RTPHeaderExtensions? = nil
    ) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
        self.extensions = extensions
    }

    /// Writes the header (without padding, whose P bit the caller sets if it pads).
    public func encode(into buffer: inout ByteBuffer) {
        precondition(csrcs.count <= 15 && payloadType <= 127)
        buffer.writeInteger(Self.version << 6 | (extensions == nil ? 0 : 0x10) | UInt8(csrcs.count))
        buffer.writeInteger((marker ? 0x80 : 0) | payloadType)
        buffer.writeInteger(sequenceNumber)
        buffer.writeInteger(timestamp)
        buffer.writeInteger(ssrc)
        for csrc in csrcs { buffer.writeInteger(csrc) }
        extensions?.encode(into: &buffer)
    }

    /// The length of the header (fixed part, CSRCs and extension block) of the packet at the
    /// reader index of `packet`, checked against its readable bytes, without decoding the
    /// extension elements.
    public static func length(of packet: ByteBuffer) throws(RTPParseError) -> Int {
        let base = packet.readerIndex
        guard packet.readableBytes >= fixedSize, let first = packet.getInteger(at: base, as: UInt8.self) else {
            throw RTPParseError(.truncatedHeader, field: "header", offset: 0)
        }
        guard first >> 6 == version else { throw RTPParseError(.badVersion, field: "version", offset: 0) }
        var length = fixedSize + 4 * Int(first & 0x0F)
        guard packet.readableBytes >= length else {
            throw RTPParseError(.truncatedCSRCList, field: "csrc", offset: fixedSize)
        }
        if first & 0x10 != 0 {
            guard let words = packet.getInteger(at: base + length + 2, as: UInt16.self),
                packet.readableBytes >= length + 4
            else {
                throw RTPParseError(.truncatedExtension, field: "extension.header", offset: length)
            }
            guard packet.readableBytes >= length + 4 + 4 * Int(words) else {
                throw RTPParseError(.truncatedExtension, field: "extension.length", offset: length + 2)
            }
            length += 4 + 4 * Int(words)
        }
        return length
    }
}

/// A decoded RTP packet: its header and a view of its payload (no copy).
public struct RTPPacket: Sendable, Hashable {
    public var header: RTPHeader
    /// The payload without padding: a slice of the decoded buffer.
    public var payload: ByteBuffer
    /// Number of padding bytes (including the count byte) that followed the payload; 0 if the
    /// P bit was clear.
    public var paddingLength: Int

    public init(header: RTPHeader, payload: ByteBuffer, paddingLength: Int = 0) {
        precondition(paddingLength <= 255)
        self.header = header
        self.payload = payload
        self.paddingLength = paddingLength
    }

    /// Decodes the packet in the readable bytes of `buffer` (one datagram). Never trusts a
    /// length: CSRC count, extension length and padding count are all checked.
    public static func decode(from buffer: ByteBuffer) throws(RTPParseError) -> RTPPacket {
        let headerLength = try RTPHeader.length(of: buffer)
        let base = buffer.readerIndex
        let first = buffer.getInteger(at: base, as: UInt8.self)!
        let second = buffer.getInteger(at: base + 1, as: UInt8.self)!
        var csrcs: [UInt32] = []
        let csrcCount = Int(first & 0x0F)
        if csrcCount > 0 {
            csrcs.reserveCapacity(csrcCount)
            for i in 0..<csrcCount {
                csrcs.append(buffer.getInteger(at: base + 12 + 4 * i, as: UInt32.self)!)
            }
        }
        var extensions: RTPHeaderExtensions?
        if first & 0x10 != 0 {
            let at = RTPHeader.fixedSize + 4 * csrcCount
            let profile = buffer.getInteger(at: base + at, as: UInt16.self)!
            let data = buffer.getSlice(at: base + at + 4, length: headerLength - at - 4)!
            extensions = try RTPHeaderExtensions.decode(profile: profile, data: data, offset: at + 4)
        }
        var payloadLength = buffer.readableBytes - headerLength
        var paddingLength = 0
        if first & 0x20 != 0 {
            // RFC 3550 §5.1: the last octet counts the padding octets, itself included.
            guard payloadLength > 0, let count = buffer.getInteger(at: base + buffer.readableBytes - 1, as: UInt8.self),
                count > 0, Int(count) <= payloadLength
            else {
                throw RTPParseError(.badPadding, field: "padding.count", offset: buffer.readableBytes - 1)
            }
            paddingLength = Int(count)
            payloadLength -= paddingLength
        }
        let header = RTPHeader(
            marker: second & 0x80 != 0, payloadType: second & 0x7F,
            sequenceNumber: buffer.getInteger(at: base + 2, as: UInt16.self)!,
            timestamp: buffer.getInteger(at: base + 4, as: UInt32.self)!,
            ssrc: buffer.getInteger(at: base + 8, as: UInt32.self)!,
            csrcs: csrcs, extensions: extensions)
        return RTPPacket(
            header: header, payload: buffer.getSlice(at: base + headerLength, length: payloadLength)!,
            paddingLength: paddingLength)
    }

    /// Writes header, payload and padding (zero bytes ending with the count, RFC 3550 §5.1).
    public func encode(into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        header.encode(into: &buffer)
        buffer.writeImmutableBuffer(payload)
        if paddingLength > 0 {
            buffer.setInteger(buffer.getInteger(at: start, as: UInt8.self)! | 0x20, at: start)
            buffer.writeRepeatingByte(0, count: paddingLength - 1)
            buffer.writeInteger(UInt8(paddingLength))
        }
    }
}

/// RFC 3550 §A.1 serial number arithmetic on 16-bit sequence numbers.
public enum RTPSequence {
    /// Whether `a` comes after `b`, modulo 2^16 (half the space ahead counts as newer).
    @inline(__always)
    public static func isNewer(_ a: UInt16, than b: UInt16) -> Bool {
        a != b && a &- b < 0x8000
    }
}
