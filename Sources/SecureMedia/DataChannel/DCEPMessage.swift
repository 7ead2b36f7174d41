public import NIOCore

/// DATA_CHANNEL_OPEN (RFC 8832 §5.1).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// |  Message Type |  Channel Type |            Priority           |
/// |                    Reliability Parameter                      |
/// |         Label Length          |       Protocol Length         |
/// |                             Label                             |
/// |                            Protocol                           |
/// ```
public struct DCEPOpenMessage: Sendable, Hashable {
    public var reliability: DataChannelReliability
    /// RFC 8832 §5.1 priority (RFC 8831 §6.4: 128 below normal, 256 normal, 512 high, 1024 extra high).
    public var priority: UInt16
    public var label: String
    public var `protocol`: String

    public init(reliability: DataChannelReliability = .reliable, priority: UInt16 = 256, label: String, protocol: String = "") {
        self.reliability = reliability
        self.priority = priority
        self.label = label
        self.protocol = `protocol`
    }

    /// The message type byte.
    public static let messageType: UInt8 = 0x03
    /// Bytes before the label.
    public static let fixedLength = 12

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(Self.messageType)
        buffer.writeInteger(reliability.channelType)
        buffer.writeInteger(priority)
        buffer.writeInteger(reliability.reliabilityParameter)
        buffer.writeInteger(UInt16(clamping: label.utf8.count))
        buffer.writeInteger(UInt16(clamping: self.protocol.utf8.count))
        buffer.writeString(label)
        buffer.writeString(self.protocol)
    }

    /// Decodes a whole DATA_CHANNEL_OPEN. Lengths are checked against the bytes present, never
    /// trusted: a label or protocol length that runs past the end, or bytes left over after
    /// them, is an error.
    public static func decode(from buffer: ByteBuffer) throws(DCEPDecodingError) -> DCEPOpenMessage {
        let bytes = Array(buffer.readableBytesView)
        guard let first = bytes.first else { throw DCEPDecodingError(.empty, field: "messageType", offset: 0) }
        guard first == messageType else {
            throw DCEPDecodingError(.unknownMessageType, field: "messageType", offset: 0)
        }
        guard bytes.count >= fixedLength else {
            throw DCEPDecodingError(.truncated, field: "header", offset: bytes.count)
        }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
        let parameter = UInt32(u16(4)) << 16 | UInt32(u16(6))
        guard let reliability = DataChannelReliability(channelType: bytes[1], reliabilityParameter: parameter) else {
            throw DCEPDecodingError(.unknownChannelType, field: "channelType", offset: 1)
        }
        let labelLength = Int(u16(8))
        let protocolLength = Int(u16(10))
        guard bytes.count - fixedLength >= labelLength else {
            throw DCEPDecodingError(.truncated, field: "labelLength", offset: 8)
        }
        guard bytes.count - fixedLength - labelLength >= protocolLength else {
            throw DCEPDecodingError(.truncated, field: "protocolLength", offset: 10)
        }
        guard bytes.count == fixedLength + labelLength + protocolLength else {
            throw DCEPDecodingError(.lengthMismatch, field: "protocol", offset: fixedLength + labelLength + protocolLength)
        }
        guard let label = String(validating: bytes[fixedLength..<fixedLength + labelLength], as: UTF8.self) else {
            throw DCEPDecodingError(.invalidUTF8, field: "label", offset: fixedLength)
        }
        let protocolStart = fixedLength + labelLength
        guard let proto = String(validating: bytes[protocolStart..<protocolStart + protocolLength], as: UTF8.self) else {
            throw DCEPDecodingError(.invalidUTF8, field: "protocol", offset: protocolStart)
        }
        return DCEPOpenMessage(reliability: reliability, priority: u16(2), label: label, protocol: proto)
    }
}

/// A DCEP message (RFC 8832 §5), carried with PPID 50 on the channel's stream.
public enum DCEPMessage: Sendable, Hashable {
    case open(DCEPOpenMessage)
    /// DATA_CHANNEL_ACK (RFC 8832 §5.2): the single byte 0x02.
    case ack

    public static let ackMessageType: UInt8 = 0x02

    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .open(let open): open.encode(into: &buffer)
        case .ack: buffer.writeInteger(Self.ackMessageType)
        }
    }

    public var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return buffer
    }

    /// Decodes one DCEP message (the whole SCTP user message).
    public static func decode(from buffer: ByteBuffer) throws(DCEPDecodingError) -> DCEPMessage {
        guard let first = buffer.readableBytesView.first else {
            throw DCEPDecodingError(.empty, field: "messageType", offset: 0)
        }
        switch first {
        case DCEPOpenMessage.messageType:
            return .open(try DCEPOpenMessage.decode(from: buffer))
        case ackMessageType:
            // RFC 8832 §5.2 defines exactly one byte.
            guard buffer.readableBytes == 1 else {
                throw DCEPDecodingError(.lengthMismatch, field: "ack", offset: 1)
            }
            return .ack
        default:
            throw DCEPDecodingError(.unknownMessageType, field: "messageType", offset: 0)
        }
    }
}
