public import NIOCore

/// The Variable Byte Integer of MQTT (MQTT 5.0 §1.5.5; MQTT 3.1.1 §2.2.3): 7 bits per byte, least
/// significant group first, the top bit meaning "more bytes follow", at most 4 bytes.
///
/// It encodes the remaining length of every packet and, in MQTT 5.0, property lengths, property
/// identifiers and Subscription Identifiers.
public enum MQTTVariableByteInteger {
    /// The largest value 4 bytes can hold: 268,435,455.
    public static let maximum = 268_435_455

    /// How many bytes `value` takes (1–4), or nil when it is negative or above ``maximum``.
    public static func encodedLength(of value: Int) -> Int? {
        switch value {
        case 0...127: 1
        case 128...16_383: 2
        case 16_384...2_097_151: 3
        case 2_097_152...maximum: 4
        default: nil
        }
    }

    /// Appends `value` in its shortest form.
    /// - Throws: ``MQTTEncodingError/Code/packetTooLarge`` when `value` is not in 0...``maximum``.
    public static func write(_ value: Int, to buffer: inout ByteBuffer, field: String = "variableByteInteger")
        throws(MQTTEncodingError)
    {
        guard (0...maximum).contains(value) else { throw MQTTEncodingError(.packetTooLarge, field: field) }
        var rest = value
        repeat {
            var byte = UInt8(rest & 0x7F)
            rest >>= 7
            if rest > 0 { byte |= 0x80 }
            buffer.writeInteger(byte)
        } while rest > 0
    }

    /// The result of looking at the bytes of a Variable Byte Integer.
    public enum Peek: Hashable, Sendable {
        /// The value and how many bytes it took.
        case value(Int, length: Int)
        /// The bytes end before the integer does.
        case needMoreBytes
        /// Five bytes or more, or a longer form than needed (MQTT 5.0 §1.5.5).
        case malformed
    }

    /// Reads the integer at `index` without moving any index. A 4th byte with its continuation bit
    /// set is malformed at once, without waiting for a 5th; so is a last byte of 0 after the first
    /// (the value fitted in fewer bytes).
    public static func peek(in buffer: ByteBuffer, at index: Int, upTo end: Int? = nil) -> Peek {
        let end = end ?? buffer.writerIndex
        var value = 0
        var length = 0
        while true {
            guard index + length < end, let byte = buffer.getInteger(at: index + length, as: UInt8.self) else {
                return .needMoreBytes
            }
            value |= Int(byte & 0x7F) << (7 * length)
            length += 1
            if byte & 0x80 == 0 {
                if length > 1 && byte == 0 { return .malformed }
                return .value(value, length: length)
            }
            if length == 4 { return .malformed }
        }
    }
}
