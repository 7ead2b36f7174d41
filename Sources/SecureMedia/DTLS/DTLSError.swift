/// Why a DTLS endpoint could not be created or its association failed.
///
/// Match on ``code``; ``detail`` (OpenSSL's reason text, when there is one) is for people.
public struct DTLSError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case certificateGeneration, configuration, handshakeFailed, handshakeTimeout
            case fingerprintMismatch, noSRTPProfile, keyExport, notConnected, messageTooLarge
            case writeFailed, readFailed
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The key pair or the self-signed certificate could not be made.
        public static let certificateGeneration = Code(.certificateGeneration)
        /// OpenSSL refused the context or connection settings (protocol version, cipher list,
        /// certificate, use_srtp profiles, MTU).
        public static let configuration = Code(.configuration)
        /// The handshake ended with an error: a fatal alert from the peer, a protocol violation,
        /// or a certificate the peer rejected.
        public static let handshakeFailed = Code(.handshakeFailed)
        /// No handshake within ``DTLSTimers/handshakeTimeout`` (RFC 6347 §4.2.4.1 gives up
        /// after a bounded number of retransmissions).
        public static let handshakeTimeout = Code(.handshakeTimeout)
        /// The peer's certificate matches none of the SDP `a=fingerprint` values
        /// (RFC 8122 §5, RFC 8827 §6.5): no keys are exported.
        public static let fingerprintMismatch = Code(.fingerprintMismatch)
        /// The peer negotiated no SRTP protection profile we offered (RFC 5764 §4.1.2).
        public static let noSRTPProfile = Code(.noSRTPProfile)
        /// Exporting "EXTRACTOR-dtls_srtp" keying material failed (RFC 5764 §4.2).
        public static let keyExport = Code(.keyExport)
        /// Application data before the handshake finished or after the association ended.
        public static let notConnected = Code(.notConnected)
        /// Application data larger than one record fits in the MTU.
        public static let messageTooLarge = Code(.messageTooLarge)
        /// OpenSSL failed to write a record.
        public static let writeFailed = Code(.writeFailed)
        /// OpenSSL failed on received records after the handshake (a fatal alert or a
        /// protocol error).
        public static let readFailed = Code(.readFailed)

        public var description: String { "\(base)" }
    }

    public let code: Code
    /// OpenSSL's error text or a short explanation; empty when there is nothing to add.
    public let detail: String

    public init(_ code: Code, detail: String = "") {
        self.code = code
        self.detail = detail
    }

    public static let certificateGeneration = DTLSError(.certificateGeneration)
    public static let configuration = DTLSError(.configuration)
    public static let handshakeFailed = DTLSError(.handshakeFailed)
    public static let handshakeTimeout = DTLSError(.handshakeTimeout)
    public static let fingerprintMismatch = DTLSError(.fingerprintMismatch)
    public static let noSRTPProfile = DTLSError(.noSRTPProfile)
    public static let keyExport = DTLSError(.keyExport)
    public static let notConnected = DTLSError(.notConnected)
    public static let messageTooLarge = DTLSError(.messageTooLarge)

    public var description: String {
        detail.isEmpty ? "DTLS: \(code)" : "DTLS: \(code) (\(detail))"
    }
}
