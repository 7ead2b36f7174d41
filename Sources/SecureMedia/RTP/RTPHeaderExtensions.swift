public import NIOCore

/// One RFC 8285 header extension element: a local identifier negotiated by `a=extmap` and its
/// value bytes.
public struct RTPHeaderExtensionElement: Sendable, Hashable {
    /// 1–14 in the one-byte form, 1–255 in the two-byte form.
    public var id: UInt8
    public var data: [UInt8]

    public init(id: UInt8, data: [UInt8]) {
        self.id = id
        self.data = data
    }
}

/// The header extension block of an RTP packet (RFC 3550 §5.3.1), decoded into RFC 8285
/// elements when it uses the one-byte (`0xBEDE`) or two-byte (`0x100` + appbits) form.
public struct RTPHeaderExtensions: Sendable, Hashable {
    /// RFC 8285 §4.2: the "defined by profile" value of the one-byte form.
    public static let oneByteProfile: UInt16 = 0xBEDE
    /// RFC 8285 §4.3: the two-byte form is `0x100` in the top 12 bits plus 4 appbits.
    public static let twoByteProfileMask: UInt16 = 0xFFF0
    public static let twoByteProfile: UInt16 = 0x1000

    /// The 16-bit "defined by profile" field.
    public var profile: UInt16
    /// The decoded elements, in packet order (padding bytes skipped). Empty for other profiles.
    public var elements: [RTPHeaderExtensionElement]
    /// The extension data verbatim when the profile is neither RFC 8285 form.
    public var opaqueData: [UInt8]

    public init(profile: UInt16 = RTPHeaderExtensions.oneByteProfile, elements: [RTPHeaderExtensionElement]) {
        self.profile = profile
        self.elements = elements
        self.opaqueData = []
    }

    public init(profile: UInt16, opaqueData: [UInt8]) {
        self.profile = profile
        self.elements = []
        self.opaqueData = opaqueData
    }

    public var isOneByte: Bool { profile == Self.oneByteProfile }
    public var isTwoByte: Bool { profile & Self.twoByteProfileMask == Self.twoByteProfile }

    /// The value bytes of the first element with `id`, or nil.
    public func element(id: UInt8) -> [UInt8]? {
        elements.first(where: { $0.id == id })?.data
    }

    /// The 24-bit abs-send-time value (6.18 fixed point seconds) carried under `id`.
    public func absSendTime(id: UInt8) -> UInt32? {
        guard let d = element(id: id), d.count == 3 else { return nil }
        return UInt32(d[0]) << 16 | UInt32(d[1]) << 8 | UInt32(d[2])
    }

    /// The transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01
    /// §2) carried under `id`.
    public func transportSequenceNumber(id: UInt8) -> UInt16? {
        guard let d = element(id: id), d.count == 2 else { return nil }
        return UInt16(d[0]) << 8 | UInt16(d[1])
    }

    /// The media identification (RFC 8843 §15) carried under `id`.
    public func mid(id: UInt8) -> String? {
        guard let d = element(id: id) else { return nil }
        return String(validating: d, as: UTF8.self)
    }

    // MARK: decoding

    /// Decodes the extension data (after the 4-byte profile/length word).
    /// - Parameters:
    ///   - profile: the "defined by profile" field.
    ///   - data: exactly the `length × 4` extension bytes.
    ///   - offset: the packet offset of `data`, for errors.
    static func decode(profile: UInt16, data: ByteBuffer, offset: Int) throws(RTPParseError) -> RTPHeaderExtensions {
        let bytes = data.readableBytesView
        let start = bytes.startIndex
        if profile == oneByteProfile {
            // RFC 8285 §4.2: ID (4 bits) and L (4 bits, length - 1); ID 0 is a padding byte,
            // ID 15 stops processing of the whole block.
            var elements: [RTPHeaderExtensionElement] = []
            var i = 0
            while i < bytes.count {
                let b = bytes[start + i]
                let id = b >> 4
                if id == 0 { i += 1; continue }
                if id == 15 { break }
                let length = Int(b & 0x0F) + 1
                guard i + 1 + length <= bytes.count else {
                    throw RTPParseError(.badExtensionElement, field: "extension.element[\(id)].length", offset: offset + i)
                }
                elements.append(RTPHeaderExtensionElement(id: id, data: Array(bytes[(start + i + 1)..<(start + i + 1 + length)])))
                i += 1 + length
            }
            return RTPHeaderExtensions(profile: profile, elements: elements)
        }
        if profile & twoByteProfileMask == twoByteProfile {
            // RFC 8285 §4.3: ID (8 bits), L (8 bits, length, may be 0); ID 0 is a padding byte.
            var elements: [RTPHeaderExtensionElement] = []
            var i = 0
            while i < bytes.count {
                let id = bytes[start + i]
                if id == 0 { i += 1; continue }
                guard i + 2 <= bytes.count else {
                    throw RTPParseError(.badExtensionElement, field: "extension.element[\(id)].length", offset: offset + i)
                }
                let length = Int(bytes[start + i + 1])
                guard i + 2 + length <= bytes.count else {
                    throw RTPParseError(.badExtensionElement, field: "extension.element[\(id)].length", offset: offset + i + 1)
                }
                elements.append(RTPHeaderExtensionElement(id: id, data: Array(bytes[(start + i + 2)..<(start + i + 2 + length)])))
                i += 2 + length
            }
            return RTPHeaderExtensions(profile: profile, elements: elements)
        }
        return RTPHeaderExtensions(profile: profile, opaqueData: Array(bytes))
    }

    // MARK: encoding

    /// Whether every element fits the one-byte form (ids 1–14, 1–16 value bytes).
    public var fitsOneByteForm: Bool {
        elements.allSatisfy { (1...14).contains($0.id) && (1...16).contains($0.data.count) }
    }

    /// Writes the profile/length word and the data, padded with zero bytes to 32 bits.
    /// Elements that cannot be written in the chosen form are a programming error and trap.
    public func encode(into buffer: inout ByteBuffer) {
        if isOneByte || isTwoByte {
            var block = RTPExtensionBlockWriter(twoByte: isTwoByte, into: &buffer)
            for element in elements {
                block.append(id: element.id, into: &buffer) { $0.writeBytes(element.data) }
            }
            block.finish(into: &buffer)
        } else {
            precondition(opaqueData.count % 4 == 0, "opaque RTP header extension data must be whole 32-bit words")
            buffer.writeInteger(profile)
            buffer.writeInteger(UInt16(opaqueData.count / 4))
            buffer.writeBytes(opaqueData)
        }
    }
}

/// Writes an RFC 8285 header extension block straight into the packet buffer: `init` writes the
/// profile word with a placeholder length, `append` writes elements, `finish` pads to 32 bits
/// and fills in the length. No intermediate storage.
public struct RTPExtensionBlockWriter {
    private let start: Int
    private let twoByte: Bool

    /// - Parameter twoByte: the RFC 8285 §4.3 form (ids up to 255, values up to 255 bytes)
    ///   instead of the §4.2 one-byte form (ids 1–14, values 1–16 bytes).
    public init(twoByte: Bool, into buffer: inout ByteBuffer) {
        self.twoByte = twoByte
        self.start = buffer.writerIndex
        buffer.writeInteger(twoByte ? RTPHeaderExtensions.twoByteProfile : RTPHeaderExtensions.oneByteProfile)
        buffer.writeInteger(UInt16(0))
    }

    /// Appends one element whose value `write` produces; the length is measured, not trusted.
    public mutating func append(id: UInt8, into buffer: inout ByteBuffer, _ write: (inout ByteBuffer) -> Void) {
        let headerIndex = buffer.writerIndex
        if twoByte {
            precondition(id >= 1, "RFC 8285 §4.3: id 0 is padding")
            buffer.writeInteger(id)
            buffer.writeInteger(UInt8(0))
        } else {
            precondition((1...14).contains(id), "RFC 8285 §4.2: one-byte ids are 1-14")
            buffer.writeInteger(UInt8(0))
        }
        let valueStart = buffer.writerIndex
        write(&buffer)
        let length = buffer.writerIndex - valueStart
        if twoByte {
            precondition(length <= 255, "RFC 8285 §4.3: values are at most 255 bytes")
            buffer.setInteger(UInt8(length), at: headerIndex + 1)
        } else {
            precondition((1...16).contains(length), "RFC 8285 §4.2: one-byte values are 1-16 bytes")
            buffer.setInteger(id << 4 | UInt8(length - 1), at: headerIndex)
        }
    }

    /// Pads the block with zero bytes to a 32-bit boundary and writes its length in words.
    public func finish(into buffer: inout ByteBuffer) {
        let dataLength = buffer.writerIndex - start - 4
        let padding = (4 - dataLength % 4) % 4
        buffer.writeRepeatingByte(0, count: padding)
        buffer.setInteger(UInt16((dataLength + padding) / 4), at: start + 2)
    }
}

/// The abs-send-time header extension value
/// (http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time): the send time in seconds as
/// 6.18 fixed point, 24 bits, wrapping every 64 s.
public enum RTPAbsSendTime {
    /// The 24-bit value for a monotonic time in nanoseconds.
    public static func value(nanoseconds: UInt64) -> UInt32 {
        let seconds = nanoseconds / 1_000_000_000
        let fraction = nanoseconds % 1_000_000_000
        return UInt32(truncatingIfNeeded: (seconds & 0x3F) << 18 | (fraction << 18) / 1_000_000_000)
    }

    /// The 24-bit value for `now`.
    public static func value(_ now: NIODeadline) -> UInt32 {
        value(nanoseconds: now.uptimeNanoseconds)
    }

    /// Writes the three value bytes.
    public static func write(_ value: UInt32, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(truncatingIfNeeded: value >> 16))
        buffer.writeInteger(UInt16(truncatingIfNeeded: value))
    }
}
