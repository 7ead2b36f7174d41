public import NIOCore

/// One data-channel message: text or bytes (RFC 8831 §6.6).
public enum DataChannelMessage: Sendable, Hashable {
    case string(String)
    case binary(ByteBuffer)

    /// The payload length in bytes (UTF-8 for strings), which `bufferedAmount` and
    /// `max-message-size` count.
    public var byteCount: Int {
        switch self {
        case .string(let text): text.utf8.count
        case .binary(let bytes): bytes.readableBytes
        }
    }

    /// The PPID and SCTP payload: empty messages become one zero byte with PPID 56 or 57.
    var wireForm: (ppid: UInt32, payload: ByteBuffer) {
        switch self {
        case .string(let text) where text.isEmpty:
            (DataChannelPPID.stringEmpty, ByteBuffer(bytes: [0]))
        case .string(let text):
            (DataChannelPPID.string, ByteBuffer(string: text))
        case .binary(let bytes) where bytes.readableBytes == 0:
            (DataChannelPPID.binaryEmpty, ByteBuffer(bytes: [0]))
        case .binary(let bytes):
            (DataChannelPPID.binary, bytes)
        }
    }

    /// The message an SCTP payload with `ppid` carries; nil for PPIDs that are not whole user
    /// messages (DCEP, unknown, and the deprecated partial PPIDs 52/54, whose pieces the
    /// controller collects until the final 51/53 piece, RFC 8831 §8).
    static func decode(ppid: UInt32, payload: ByteBuffer) -> DataChannelMessage? {
        switch ppid {
        case DataChannelPPID.string:
            .string(String(decoding: payload.readableBytesView, as: UTF8.self))
        case DataChannelPPID.binary:
            .binary(payload)
        case DataChannelPPID.stringEmpty:
            .string("")
        case DataChannelPPID.binaryEmpty:
            .binary(ByteBuffer())
        default:
            nil
        }
    }
}
