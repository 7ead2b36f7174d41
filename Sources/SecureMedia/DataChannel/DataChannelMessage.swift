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

    /// The message an SCTP payload with `ppid` carries; nil for PPIDs that are not user data
    /// (DCEP, unknown). The deprecated partial PPIDs 52 and 54 are taken as whole messages:
    /// usrsctp has already reassembled what the sender split (RFC 8831 §8).
    static func decode(ppid: UInt32, payload: ByteBuffer) -> DataChannelMessage? {
        switch ppid {
        case DataChannelPPID.string, DataChannelPPID.stringPartial:
            .string(String(decoding: payload.readableBytesView, as: UTF8.self))
        case DataChannelPPID.binary, DataChannelPPID.binaryPartial:
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
