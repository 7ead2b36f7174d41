/// A check of the DTLS record headers in a datagram before it reaches OpenSSL.
///
/// RFC 6347 §4.1: a datagram carries one or more records, each a 13-byte header
/// (type, version, epoch, 48-bit sequence number, length) and `length` bytes. A datagram that
/// fails here could not have come from a DTLS 1.2 peer of this association, so the endpoint
/// drops and counts it instead of handing OpenSSL bytes it would have to reject (OpenSSL even
/// aborts a handshake on a plaintext application-data record).
struct DTLSRecordScanner {
    enum Failure: Error, Hashable {
        /// A header or a record body runs past the end of the datagram.
        case truncated(offset: Int)
        /// The content type is not change_cipher_spec (20), alert (21), handshake (22) or
        /// application_data (23), or the version is not DTLS (0xFEFF, 0xFEFD), or the length
        /// exceeds 2^14 + 2048 (RFC 6347 §4.1, RFC 5246 §6.2.3).
        case malformed(field: String, offset: Int)
        /// An epoch other than 0 (handshake) or 1 (the one key change of a DTLS 1.2
        /// connection without renegotiation, which we refuse).
        case unexpectedEpoch(offset: Int)
    }

    struct Summary: Hashable {
        var records = 0
        var applicationDataRecords = 0
    }

    static let headerLength = 13
    static let maximumRecordLength = 16_384 + 2_048

    static func scan(_ datagram: UnsafeRawBufferPointer) -> Result<Summary, Failure> {
        var summary = Summary()
        var offset = 0
        guard !datagram.isEmpty else { return .failure(.truncated(offset: 0)) }
        while offset < datagram.count {
            guard datagram.count - offset >= headerLength else { return .failure(.truncated(offset: offset)) }
            let type = datagram[offset]
            guard (20...23).contains(type) else { return .failure(.malformed(field: "type", offset: offset)) }
            let major = datagram[offset + 1]
            let minor = datagram[offset + 2]
            guard major == 0xFE, minor == 0xFF || minor == 0xFD else {
                return .failure(.malformed(field: "version", offset: offset + 1))
            }
            let epoch = UInt16(datagram[offset + 3]) << 8 | UInt16(datagram[offset + 4])
            guard epoch <= 1 else { return .failure(.unexpectedEpoch(offset: offset + 3)) }
            if type == 23 {
                // Application data exists only under keys (RFC 6347 §4.1: epoch 0 is the null cipher).
                guard epoch == 1 else { return .failure(.malformed(field: "epoch", offset: offset + 3)) }
                summary.applicationDataRecords += 1
            }
            let length = Int(datagram[offset + 11]) << 8 | Int(datagram[offset + 12])
            guard length <= maximumRecordLength else {
                return .failure(.malformed(field: "length", offset: offset + 11))
            }
            guard datagram.count - offset - headerLength >= length else {
                return .failure(.truncated(offset: offset + headerLength))
            }
            offset += headerLength + length
            summary.records += 1
        }
        return .success(summary)
    }
}
