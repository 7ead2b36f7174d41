public import NIOCore

/// Builds RTX retransmission packets (RFC 4588 §4): the original packet's header with the
/// RTX payload type, SSRC and sequence number, and a payload that starts with the original
/// sequence number (OSN) followed by the original payload.
public enum RTXPacket {
    /// Writes the RTX packet for the plaintext RTP packet `original` into `buffer`.
    ///
    /// The marker bit, timestamp, CSRCs and header extensions are kept (RFC 4588 §4: "the
    /// same as the original"); padding of the original is not carried over.
    /// - Throws: `RTPParseError` if `original` is not a valid RTP packet.
    public static func write(
        original: UnsafeRawBufferPointer, payloadType: UInt8, ssrc: UInt32, sequenceNumber: UInt16,
        into buffer: inout ByteBuffer
    ) throws(RTPParseError) {
        let headerLength = try headerLength(of: original)
        var payloadEnd = original.count
        if original[0] & 0x20 != 0 {
            let padding = Int(original[original.count - 1])
            guard padding > 0, padding <= original.count - headerLength else {
                throw RTPParseError(.badPadding, field: "padding.count", offset: original.count - 1)
            }
            payloadEnd -= padding
        }
        let start = buffer.writerIndex
        buffer.writeBytes(UnsafeRawBufferPointer(rebasing: original[0..<headerLength]))
        buffer.setInteger(original[0] & ~0x20, at: start)
        buffer.setInteger(original[1] & 0x80 | payloadType, at: start + 1)
        buffer.setInteger(sequenceNumber, at: start + 2)
        buffer.setInteger(ssrc, at: start + 8)
        // OSN: the original sequence number, network order.
        buffer.writeInteger(original[2])
        buffer.writeInteger(original[3])
        buffer.writeBytes(UnsafeRawBufferPointer(rebasing: original[headerLength..<payloadEnd]))
    }

    /// Splits an RTX packet back into the original sequence number and payload
    /// (for receivers and tests).
    /// - Throws: `RTPParseError.Code.emptyPayload` if the payload is shorter than the OSN.
    public static func original(of rtx: RTPPacket) throws(RTPParseError) -> (sequenceNumber: UInt16, payload: ByteBuffer) {
        guard let osn = rtx.payload.getInteger(at: rtx.payload.readerIndex, as: UInt16.self) else {
            throw RTPParseError(.emptyPayload, field: "rtx.osn", offset: 0)
        }
        return (osn, rtx.payload.getSlice(at: rtx.payload.readerIndex + 2, length: rtx.payload.readableBytes - 2)!)
    }

    /// RFC 3550 §5.1/§5.3.1 header length of raw packet bytes, bounds-checked.
    static func headerLength(of packet: UnsafeRawBufferPointer) throws(RTPParseError) -> Int {
        guard packet.count >= RTPHeader.fixedSize else {
            throw RTPParseError(.truncatedHeader, field: "header", offset: 0)
        }
        guard packet[0] >> 6 == 2 else { throw RTPParseError(.badVersion, field: "version", offset: 0) }
        var length = RTPHeader.fixedSize + 4 * Int(packet[0] & 0x0F)
        guard packet.count >= length else { throw RTPParseError(.truncatedCSRCList, field: "csrc", offset: 12) }
        if packet[0] & 0x10 != 0 {
            guard packet.count >= length + 4 else {
                throw RTPParseError(.truncatedExtension, field: "extension.header", offset: length)
            }
            let words = Int(packet[length + 2]) << 8 | Int(packet[length + 3])
            guard packet.count >= length + 4 + 4 * words else {
                throw RTPParseError(.truncatedExtension, field: "extension.length", offset: length + 2)
            }
            length += 4 + 4 * words
        }
        return length
    }
}
