import STUNCore

/// Reads the local half of the USERNAME of a STUN Binding request without decoding the message.
///
/// The single-port mux must route every datagram, including floods from strangers, before any
/// session has looked at it, so this walks the attribute TLVs only as far as USERNAME and copies
/// nothing but the fragment. Integrity is *not* checked here: the session's agent does that
/// (RFC 8445 §7.3: the USERNAME of a check is `<receiver ufrag>:<sender ufrag>`).
public enum StunUsernamePeek {
    /// Classifies `bytes` and, for a Binding request, returns the local ufrag as raw bytes.
    public static func localUfrag<Bytes: RandomAccessCollection>(_ bytes: Bytes) -> Result
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let s = bytes.startIndex
        guard let first = bytes.first else { return .malformed }
        // RFC 7983 §7: 0..3 is STUN.
        guard first <= 3 else { return .notStun }
        guard StunMessage.looksLikeStun(bytes) else { return .malformed }
        // Binding request: method 0x001, class request (RFC 8489 §5).
        guard bytes[s] == 0x00, bytes[s + 1] == 0x01 else { return .otherStun }
        let end = s + 20 + (Int(bytes[s + 2]) << 8 | Int(bytes[s + 3]))
        var offset = s + 20
        while offset + 4 <= end {
            let type = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let valueStart = offset + 4
            guard valueStart + length <= end else { return .malformed }
            if type == 0x0006 {  // USERNAME (RFC 8489 §14.3)
                var colon = valueStart
                while colon < valueStart + length, bytes[colon] != UInt8(ascii: ":") { colon += 1 }
                guard colon < valueStart + length, colon > valueStart else { return .malformed }
                return .bindingRequest(Array(bytes[valueStart..<colon]))
            }
            offset = valueStart + (length + 3) & ~3
        }
        return .otherStun
    }

    /// What a datagram looks like to the mux.
    public enum Result: Equatable, Sendable {
        /// A STUN Binding request whose USERNAME starts with this local fragment (raw bytes).
        case bindingRequest([UInt8])
        /// Any other STUN message (responses, indications, requests without USERNAME).
        case otherStun
        /// Not STUN (RFC 7983 §7: first byte outside 0–3), e.g. DTLS or SRTP.
        case notStun
        /// Starts like STUN but its header or attributes are malformed.
        case malformed
    }
}
