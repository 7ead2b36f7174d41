/// A failure inside one attribute value, before the message decoder adds the header.
struct AttributeFailure: Error {
    var code: StunDecodingError.Code
    var field: String
    var offset: Int
}

extension StunAttribute {
    /// Decodes one attribute value.
    /// - Parameters:
    ///   - type: the attribute type.
    ///   - value: the value bytes (without padding).
    ///   - transactionID: for the XOR address attributes (RFC 8489 §14.2).
    ///   - offset: where the value starts in the message, for errors.
    static func decode(
        type: StunAttributeType, value: ArraySlice<UInt8>, transactionID: TransactionID, offset: Int
    ) throws(AttributeFailure) -> StunAttribute {
        func fail(_ code: StunDecodingError.Code, _ at: Int = 0) -> AttributeFailure {
            AttributeFailure(code: code, field: "\(type).value", offset: offset + at)
        }
        func requireLength(_ count: Int) throws(AttributeFailure) {
            guard value.count == count else { throw fail(.invalidValue) }
        }
        func text(_ limit: Int) throws(AttributeFailure) -> String {
            guard value.count <= limit else { throw fail(.valueTooLong, limit) }
            guard let string = String(validating: value, as: UTF8.self) else { throw fail(.invalidUTF8) }
            return string
        }
        func u32(_ at: Int) -> UInt32 { value.readUInt32(at: at) }

        switch type {
        case .mappedAddress, .alternateServer, .responseOrigin, .otherAddress:
            guard let address = decodeAddress(value, xor: nil) else { throw fail(.invalidValue) }
            switch type {
            case .mappedAddress: return .mappedAddress(address)
            case .alternateServer: return .alternateServer(address)
            case .responseOrigin: return .responseOrigin(address)
            default: return .otherAddress(address)
            }
        case .xorMappedAddress, .xorPeerAddress, .xorRelayedAddress:
            guard let address = decodeAddress(value, xor: transactionID) else { throw fail(.invalidValue) }
            switch type {
            case .xorMappedAddress: return .xorMappedAddress(address)
            case .xorPeerAddress: return .xorPeerAddress(address)
            default: return .xorRelayedAddress(address)
            }
        case .username: return .username(try text(StunLimits.username))
        case .realm: return .realm(try text(StunLimits.realm))
        case .nonce: return .nonce(try text(StunLimits.nonce))
        case .software: return .software(try text(StunLimits.software))
        case .alternateDomain: return .alternateDomain(try text(StunLimits.alternateDomain))
        case .userhash:
            try requireLength(32)
            return .userhash(Array(value))
        case .messageIntegrity:
            try requireLength(20)
            return .messageIntegrity(Array(value))
        case .messageIntegritySHA256:
            // RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4.
            guard value.count >= 16, value.count <= 32, value.count % 4 == 0 else { throw fail(.invalidValue) }
            return .messageIntegritySHA256(Array(value))
        case .fingerprint:
            try requireLength(4)
            return .fingerprint(u32(0))
        case .errorCode:
            guard value.count >= 4 else { throw fail(.invalidValue) }
            guard let error = decodeErrorCode(value) else { throw fail(.invalidValue, 2) }
            guard value.count - 4 <= StunLimits.reason else { throw fail(.valueTooLong, 4) }
            guard let reason = String(validating: value.dropFirst(4), as: UTF8.self) else { throw fail(.invalidUTF8, 4) }
            return .errorCode(StunErrorCode(code: error, reason: reason))
        case .unknownAttributes:
            guard value.count % 2 == 0 else { throw fail(.invalidValue) }
            return .unknownAttributes(stride(from: 0, to: value.count, by: 2).map { StunAttributeType(value.readUInt16(at: $0)) })
        case .passwordAlgorithms:
            var algorithms: [PasswordAlgorithm] = []
            var cursor = 0
            while cursor < value.count {
                guard let (algorithm, next) = decodePasswordAlgorithm(value, at: cursor) else { throw fail(.invalidValue, cursor) }
                algorithms.append(algorithm)
                cursor = next
            }
            return .passwordAlgorithms(algorithms)
        case .passwordAlgorithm:
            guard let (algorithm, next) = decodePasswordAlgorithm(value, at: 0), next >= value.count else {
                throw fail(.invalidValue)
            }
            return .passwordAlgorithm(algorithm)
        case .priority:
            try requireLength(4)
            return .priority(u32(0))
        case .useCandidate:
            try requireLength(0)
            return .useCandidate
        case .iceControlled, .iceControlling:
            try requireLength(8)
            let tieBreaker = (UInt64(u32(0)) << 32) | UInt64(u32(4))
            return type == .iceControlled ? .iceControlled(tieBreaker: tieBreaker) : .iceControlling(tieBreaker: tieBreaker)
        case .channelNumber:
            try requireLength(4)
            return .channelNumber(value.readUInt16(at: 0))
        case .lifetime:
            try requireLength(4)
            return .lifetime(seconds: u32(0))
        case .data:
            return .data(Array(value))
        case .requestedAddressFamily, .additionalAddressFamily:
            try requireLength(4)
            guard let family = AddressFamily(rawValue: value[value.startIndex]) else { throw fail(.invalidValue) }
            return type == .requestedAddressFamily ? .requestedAddressFamily(family) : .additionalAddressFamily(family)
        case .evenPort:
            try requireLength(1)
            return .evenPort(reserveNextPort: value[value.startIndex] & 0x80 != 0)
        case .requestedTransport:
            try requireLength(4)
            return .requestedTransport(protocolNumber: value[value.startIndex])
        case .dontFragment:
            try requireLength(0)
            return .dontFragment
        case .reservationToken:
            try requireLength(8)
            return .reservationToken(Array(value))
        case .addressErrorCode:
            guard value.count >= 4, let family = AddressFamily(rawValue: value[value.startIndex]) else { throw fail(.invalidValue) }
            guard let error = decodeErrorCode(value) else { throw fail(.invalidValue, 2) }
            guard value.count - 4 <= StunLimits.reason else { throw fail(.valueTooLong, 4) }
            guard let reason = String(validating: value.dropFirst(4), as: UTF8.self) else { throw fail(.invalidUTF8, 4) }
            return .addressErrorCode(family: family, error: StunErrorCode(code: error, reason: reason))
        case .icmp:
            // RFC 8656 §18.13: Reserved (16) | ICMP Type (9) | ICMP Code (7) | Error Data (32).
            try requireLength(8)
            let word = value.readUInt16(at: 2)
            return .icmp(type: word >> 7, code: UInt8(word & 0x7F), errorData: u32(4))
        case .changeRequest:
            try requireLength(4)
            let flags = u32(0)
            return .changeRequest(changeIP: flags & 0x4 != 0, changePort: flags & 0x2 != 0)
        case .responsePort:
            // RFC 5780 §7.5: a 16-bit port followed by two bytes of padding (value length 4);
            // a 2-byte value is accepted too.
            guard value.count == 2 || value.count == 4 else { throw fail(.invalidValue) }
            return .responsePort(value.readUInt16(at: 0))
        case .padding:
            return .padding(length: value.count)
        default:
            return .unknown(type: type, value: Array(value))
        }
    }

    /// Appends the value bytes (without header or padding) to `out`.
    func encodeValue(into out: inout [UInt8], transactionID: TransactionID) {
        switch self {
        case .mappedAddress(let address), .alternateServer(let address), .responseOrigin(let address), .otherAddress(let address):
            encodeAddress(address, xor: nil, into: &out)
        case .xorMappedAddress(let address), .xorPeerAddress(let address), .xorRelayedAddress(let address):
            encodeAddress(address, xor: transactionID, into: &out)
        case .username(let text):
            out.append(contentsOf: utf8Prefix(text, maxBytes: StunLimits.username))
        case .realm(let text):
            out.append(contentsOf: utf8Prefix(text, maxBytes: StunLimits.realm))
        case .nonce(let text):
            out.append(contentsOf: utf8Prefix(text, maxBytes: StunLimits.nonce))
        case .software(let text):
            out.append(contentsOf: utf8Prefix(text, maxBytes: StunLimits.software))
        case .alternateDomain(let text):
            out.append(contentsOf: utf8Prefix(text, maxBytes: StunLimits.alternateDomain))
        case .userhash(let bytes), .messageIntegrity(let bytes), .messageIntegritySHA256(let bytes),
             .data(let bytes), .reservationToken(let bytes):
            out.append(contentsOf: bytes)
        case .fingerprint(let value), .priority(let value), .lifetime(let value):
            out.appendUInt32(value)
        case .errorCode(let error):
            encodeErrorCode(error, familyByte: 0, into: &out)
        case .addressErrorCode(let family, let error):
            encodeErrorCode(error, familyByte: family.rawValue, into: &out)
        case .unknownAttributes(let types):
            for type in types { out.appendUInt16(type.rawValue) }
        case .passwordAlgorithms(let algorithms):
            for algorithm in algorithms { encodePasswordAlgorithm(algorithm, into: &out) }
        case .passwordAlgorithm(let algorithm):
            encodePasswordAlgorithm(algorithm, into: &out)
        case .useCandidate, .dontFragment:
            break
        case .iceControlled(let tieBreaker), .iceControlling(let tieBreaker):
            out.appendUInt32(UInt32(truncatingIfNeeded: tieBreaker >> 32))
            out.appendUInt32(UInt32(truncatingIfNeeded: tieBreaker))
        case .channelNumber(let number):
            out.appendUInt16(number)
            out.appendUInt16(0)
        case .requestedAddressFamily(let family), .additionalAddressFamily(let family):
            out.append(contentsOf: [family.rawValue, 0, 0, 0])
        case .evenPort(let reserve):
            out.append(reserve ? 0x80 : 0)
        case .requestedTransport(let number):
            out.append(contentsOf: [number, 0, 0, 0])
        case .icmp(let type, let code, let errorData):
            out.appendUInt16(0)
            out.appendUInt16(((type & 0x1FF) << 7) | UInt16(code & 0x7F))
            out.appendUInt32(errorData)
        case .changeRequest(let changeIP, let changePort):
            out.appendUInt32((changeIP ? 0x4 : 0) | (changePort ? 0x2 : 0))
        case .responsePort(let port):
            out.appendUInt16(port)
            out.appendUInt16(0)
        case .padding(let length):
            out.append(contentsOf: repeatElement(0, count: max(0, length)))
        case .unknown(_, let value):
            out.append(contentsOf: value)
        }
    }
}

// MARK: - Value helpers

/// MAPPED-ADDRESS layout, optionally XORed (RFC 8489 §14.1, §14.2).
func decodeAddress(_ value: ArraySlice<UInt8>, xor transactionID: TransactionID?) -> TransportAddress? {
    guard value.count >= 4, let family = AddressFamily(rawValue: value[value.startIndex + 1]) else { return nil }
    var port = value.readUInt16(at: 2)
    if transactionID != nil { port ^= UInt16(stunMagicCookie >> 16) }
    switch family {
    case .ipv4:
        guard value.count == 8 else { return nil }
        var raw = value.readUInt32(at: 4)
        if transactionID != nil { raw ^= stunMagicCookie }
        return TransportAddress(ip: .v4(raw), port: port)
    case .ipv6:
        guard value.count == 20 else { return nil }
        var high = (UInt64(value.readUInt32(at: 4)) << 32) | UInt64(value.readUInt32(at: 8))
        var low = (UInt64(value.readUInt32(at: 12)) << 32) | UInt64(value.readUInt32(at: 16))
        if let id = transactionID {
            high ^= (UInt64(stunMagicCookie) << 32) | (id.high >> 32)
            low ^= (id.high << 32) | UInt64(id.low)
        }
        return TransportAddress(ip: .v6(high, low), port: port)
    }
}

func encodeAddress(_ address: TransportAddress, xor transactionID: TransactionID?, into out: inout [UInt8]) {
    out.append(0)
    out.append(address.ip.family.rawValue)
    out.appendUInt16(transactionID == nil ? address.port : address.port ^ UInt16(stunMagicCookie >> 16))
    switch address.ip {
    case .v4(let raw):
        out.appendUInt32(transactionID == nil ? raw : raw ^ stunMagicCookie)
    case .v6(var high, var low):
        if let id = transactionID {
            high ^= (UInt64(stunMagicCookie) << 32) | (id.high >> 32)
            low ^= (id.high << 32) | UInt64(id.low)
        }
        out.appendUInt32(UInt32(truncatingIfNeeded: high >> 32))
        out.appendUInt32(UInt32(truncatingIfNeeded: high))
        out.appendUInt32(UInt32(truncatingIfNeeded: low >> 32))
        out.appendUInt32(UInt32(truncatingIfNeeded: low))
    }
}

/// Class (3 bits) and number (0–99) in bytes 2–3 (RFC 8489 §14.8).
private func decodeErrorCode(_ value: ArraySlice<UInt8>) -> Int? {
    let errorClass = Int(value[value.startIndex + 2] & 0x07)
    let number = Int(value[value.startIndex + 3])
    guard (3...6).contains(errorClass), number < 100 else { return nil }
    return errorClass * 100 + number
}

private func encodeErrorCode(_ error: StunErrorCode, familyByte: UInt8, into out: inout [UInt8]) {
    let code = min(max(error.code, 300), 699)
    out.append(contentsOf: [familyByte, 0, UInt8(code / 100), UInt8(code % 100)])
    out.append(contentsOf: utf8Prefix(error.reason, maxBytes: StunLimits.reason))
}

/// The UTF-8 of `text`, cut between scalars to at most `maxBytes`, so that an over-long value
/// is still valid UTF-8 and within its attribute's limit.
func utf8Prefix(_ text: String, maxBytes: Int) -> Substring.UTF8View {
    var length = 0
    var end = text.unicodeScalars.startIndex
    for index in text.unicodeScalars.indices {
        let width = UTF8.width(text.unicodeScalars[index])
        guard length + width <= maxBytes else { break }
        length += width
        end = text.unicodeScalars.index(after: index)
    }
    return Substring(text.unicodeScalars[..<end]).utf8
}

/// Algorithm (16) | parameters length (16) | parameters, padded to 4 (RFC 8489 §14.11).
private func decodePasswordAlgorithm(_ value: ArraySlice<UInt8>, at cursor: Int) -> (PasswordAlgorithm, Int)? {
    guard cursor + 4 <= value.count else { return nil }
    let number = value.readUInt16(at: cursor)
    let length = Int(value.readUInt16(at: cursor + 2))
    let start = cursor + 4
    guard start + length <= value.count else { return nil }
    let parameters = Array(value[(value.startIndex + start)..<(value.startIndex + start + length)])
    let next = start + ((length + 3) & ~3)
    return (PasswordAlgorithm(number: number, parameters: parameters), min(next, value.count))
}

private func encodePasswordAlgorithm(_ algorithm: PasswordAlgorithm, into out: inout [UInt8]) {
    out.appendUInt16(algorithm.number)
    out.appendUInt16(UInt16(algorithm.parameters.count))
    out.append(contentsOf: algorithm.parameters)
    out.append(contentsOf: repeatElement(0, count: (4 - algorithm.parameters.count % 4) % 4))
}

extension ArraySlice<UInt8> {
    /// Big-endian read at an offset relative to the slice start; the caller checks bounds.
    @inline(__always)
    func readUInt16(at offset: Int) -> UInt16 {
        let i = startIndex + offset
        return (UInt16(self[i]) << 8) | UInt16(self[i + 1])
    }

    @inline(__always)
    func readUInt32(at offset: Int) -> UInt32 {
        let i = startIndex + offset
        return (UInt32(self[i]) << 24) | (UInt32(self[i + 1]) << 16) | (UInt32(self[i + 2]) << 8) | UInt32(self[i + 3])
    }
}

extension Array<UInt8> {
    @inline(__always)
    mutating func appendUInt16(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    @inline(__always)
    mutating func appendUInt32(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    @inline(__always)
    mutating func appendUInt64(_ value: UInt64) {
        appendUInt32(UInt32(truncatingIfNeeded: value >> 32))
        appendUInt32(UInt32(truncatingIfNeeded: value))
    }

    @inline(__always)
    mutating func setUInt16(_ value: UInt16, at index: Int) {
        self[index] = UInt8(truncatingIfNeeded: value >> 8)
        self[index + 1] = UInt8(truncatingIfNeeded: value)
    }
}
