/// A TURN ChannelData message (RFC 8656 §12.4): channel number, length, application data.
public struct ChannelData: Hashable, Sendable {
    /// 0x4000 through 0x4FFF (RFC 8656 §12).
    public static let validChannels: ClosedRange<UInt16> = 0x4000...0x4FFF

    public var channel: UInt16
    public var data: [UInt8]

    public init(channel: UInt16, data: [UInt8]) {
        self.channel = channel
        self.data = data
    }

    /// True when the first byte is in 64–79, the ChannelData range of the RFC 7983 demultiplexer.
    public static func looksLikeChannelData(firstByte: UInt8) -> Bool { (0x40...0x4F).contains(firstByte) }

    /// Encodes the message.
    /// - Parameter padded: pad to a multiple of 4 bytes, as required over TCP and TLS (RFC 8656 §12.5);
    ///   UDP senders may leave it off.
    public func encoded(padded: Bool = false) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(4 + data.count + 3)
        out.appendUInt16(channel)
        out.appendUInt16(UInt16(truncatingIfNeeded: data.count))
        out.append(contentsOf: data)
        if padded { out.append(contentsOf: repeatElement(0, count: (4 - data.count % 4) % 4)) }
        return out
    }

    /// Decodes one ChannelData message from a datagram. Up to 3 bytes of padding after the data
    /// are accepted (RFC 8656 §12.5); anything else beyond the length is an error.
    public init(decoding bytes: [UInt8]) throws(StunDecodingError) {
        guard bytes.count >= 4 else { throw StunDecodingError(.truncatedFrame, field: "channelData.header", offset: bytes.count) }
        let all = bytes[...]
        let channel = all.readUInt16(at: 0)
        guard ChannelData.validChannels.contains(channel) else {
            throw StunDecodingError(.invalidChannelNumber, field: "channelData.channel", offset: 0)
        }
        let length = Int(all.readUInt16(at: 2))
        guard 4 + length <= bytes.count else {
            throw StunDecodingError(.truncatedFrame, field: "channelData.length", offset: 2)
        }
        guard bytes.count - (4 + length) <= 3 else {
            throw StunDecodingError(.lengthMismatch, field: "channelData.length", offset: 2)
        }
        self.init(channel: channel, data: Array(bytes[4..<(4 + length)]))
    }
}
