import STUNCore

/// Parses hex digits into bytes, ignoring spaces and newlines: `hex("00 01 21 12")`.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    var out: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        out.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return out
}

/// The 20-byte header of a magic-cookie STUN message with the given type, length and id.
func stunHeader(type: UInt16, length: Int, transactionID: TransactionID = .fixture) -> [UInt8] {
    [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(length >> 8), UInt8(length & 0xFF), 0x21, 0x12, 0xA4, 0x42]
        + transactionID.bytes
}

/// A STUN message with a fixed header around a hand-written attribute area.
func stunMessage(type: UInt16 = 0x0001, attributes: [UInt8], transactionID: TransactionID = .fixture) -> [UInt8] {
    stunHeader(type: type, length: attributes.count, transactionID: transactionID) + attributes
}

/// One attribute TLV: type, length, value, then `padding` bytes (by default what makes it a multiple of 4).
func tlv(_ type: UInt16, _ value: [UInt8], padding: Int? = nil, paddingByte: UInt8 = 0) -> [UInt8] {
    let pad = padding ?? (4 - value.count % 4) % 4
    return [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(value.count >> 8), UInt8(value.count & 0xFF)] + value
        + [UInt8](repeating: paddingByte, count: pad)
}

extension TransactionID {
    /// The id of the RFC 5769 §2.1–§2.3 vectors.
    static let fixture = TransactionID(bytes: hex("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"))!
}

extension TransportAddress {
    static let v4Sample = TransportAddress(ip: IPAddress("192.0.2.1")!, port: 32853)
    static let v6Sample = TransportAddress(ip: IPAddress("2001:db8:1234:5678:11:2233:4455:6677")!, port: 32853)
}
