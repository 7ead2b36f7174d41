/// Why libsrtp2 refused a packet or a session.
///
/// Match on ``code``; ``status`` is libsrtp's `srtp_err_status_t` value for people and logs.
public struct SRTPError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case replayed, tooOld, authenticationFailed, badParameter, tooShort, noRoom
            case cipherFailed, allocationFailed, initializationFailed, other
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The packet index was seen before (srtp_err_status_replay_fail, RFC 3711 §3.3.2).
        public static let replayed = Code(.replayed)
        /// The packet index is older than the replay window (srtp_err_status_replay_old).
        public static let tooOld = Code(.tooOld)
        /// The authentication tag did not verify (srtp_err_status_auth_fail): forged,
        /// corrupted, or protected with other keys.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// libsrtp rejected a parameter or the packet's header (srtp_err_status_bad_param,
        /// parse_err).
        public static let badParameter = Code(.badParameter)
        /// Shorter than an RTP (12 bytes) or RTCP (8 bytes) header, or than header plus tag.
        public static let tooShort = Code(.tooShort)
        /// The buffer has no room after the packet for the authentication tag.
        public static let noRoom = Code(.noRoom)
        /// The cipher failed (srtp_err_status_cipher_fail).
        public static let cipherFailed = Code(.cipherFailed)
        /// libsrtp could not allocate its state (srtp_err_status_alloc_fail).
        public static let allocationFailed = Code(.allocationFailed)
        /// srtp_init() or srtp_create() failed.
        public static let initializationFailed = Code(.initializationFailed)
        /// Any other libsrtp status.
        public static let other = Code(.other)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// libsrtp's status value (0 when the error is ours, e.g. ``Code/noRoom``).
    public let status: Int32

    public init(_ code: Code, status: Int32 = 0) {
        self.code = code
        self.status = status
    }

    /// Maps a libsrtp `srtp_err_status_t` raw value.
    init(status: Int32) {
        let code: Code
        switch status {
        case 9: code = .replayed
        case 10: code = .tooOld
        case 7: code = .authenticationFailed
        case 2, 21: code = .badParameter
        case 8: code = .cipherFailed
        case 3: code = .allocationFailed
        case 5: code = .initializationFailed
        default: code = .other
        }
        self.init(code, status: status)
    }

    public var description: String { "SRTP: \(code) (libsrtp status \(status))" }
}
