import CSRTP
#if canImport(Glibc)
import Glibc
#endif
public import NIOCore

/// SRTP and SRTCP protection (RFC 3711, RFC 7714) for one peer connection, with libsrtp2.
///
/// One outbound policy (any SSRC we send, local key) and one inbound policy (any SSRC the
/// peer sends, remote key), both with replay protection (RFC 3711 §3.3.2). libsrtp keeps one
/// wildcard-SSRC template per `srtp_t`, so each direction has its own libsrtp session. Packets are
/// transformed in place: protecting needs room after the packet for the tag
/// (``rtpTrailerCapacity``, ``rtcpTrailerCapacity``); the `ByteBuffer` variants make that
/// room when it is missing, which allocates only if the buffer was built too small.
///
/// Threading: a libsrtp session is not thread-safe. Use one session per PeerConnection from
/// its event loop only; `@unchecked Sendable` lets it be created elsewhere and handed over.
public final class SRTPSession: @unchecked Sendable {
    /// Counters for metrics and tests.
    public struct Statistics: Sendable, Hashable {
        public var protectedRTP = 0
        public var protectedRTCP = 0
        public var unprotectedRTP = 0
        public var unprotectedRTCP = 0
        /// Inbound packets rejected as replays or as older than the window.
        public var replayed = 0
        /// Inbound packets whose tag did not verify.
        public var authenticationFailed = 0
        /// Every other rejection, in either direction.
        public var otherFailures = 0

        public init() {}
    }

    /// Room `srtp_protect` may use after an RTP packet (SRTP_MAX_TRAILER_LEN: tag and MKI).
    public static let rtpTrailerCapacity = 144
    /// Room `srtp_protect_rtcp` may use after an RTCP packet (the 4-byte SRTCP index too).
    public static let rtcpTrailerCapacity = 148
    /// RFC 3550 §5.1: the fixed RTP header.
    static let minimumRTPLength = 12
    /// RFC 3550 §6.4.1: an RTCP header with the sender SSRC.
    static let minimumRTCPLength = 8

    public let profile: SRTPProtectionProfile
    /// Unchecked exclusivity: bumped on every packet, and the session is used from one event
    /// loop without re-entrance (the dynamic check would cost more than the increment).
    @exclusivity(unchecked) public private(set) var statistics = Statistics()
    private let outbound: OpaquePointer
    private let inbound: OpaquePointer

    /// - Parameters:
    ///   - keyingMaterial: keys exported by the DTLS handshake.
    ///   - replayWindow: packets of the inbound replay window, 64...32768 (RFC 3711 §3.3.2
    ///     asks for at least 64; browsers reorder more than that at high bitrates).
    ///   - allowRepeatedTransmit: lets the same RTP sequence number be protected again, as a
    ///     NACK answer without RTX does (the payload must be identical).
    /// - Throws: `.badParameter` for a bad window or key length, `.initializationFailed`.
    public init(
        keyingMaterial: SRTPKeyingMaterial,
        replayWindow: Int = 1024,
        allowRepeatedTransmit: Bool = true
    ) throws(SRTPError) {
        guard srtpLibraryStatus == 0 else { throw SRTPError(.initializationFailed, status: srtpLibraryStatus) }
        guard (64...0x8000).contains(replayWindow) else { throw SRTPError(.badParameter) }
        let profile = keyingMaterial.profile
        for keys in [keyingMaterial.local, keyingMaterial.remote] {
            guard keys.key.count == profile.keyLength, keys.salt.count == profile.saltLength else {
                throw SRTPError(.badParameter)
            }
        }
        var createdOutbound: OpaquePointer?
        var status = Self.withPolicy(
            profile: profile, keys: keyingMaterial.local, direction: ssrc_any_outbound,
            window: replayWindow, allowRepeat: allowRepeatedTransmit
        ) { policy in
            srtp_create(&createdOutbound, policy)
        }
        guard status == 0, let outbound = createdOutbound else { throw SRTPError(status: status) }
        var createdInbound: OpaquePointer?
        status = Self.withPolicy(
            profile: profile, keys: keyingMaterial.remote, direction: ssrc_any_inbound,
            window: replayWindow, allowRepeat: allowRepeatedTransmit
        ) { policy in
            srtp_create(&createdInbound, policy)
        }
        guard status == 0, let inbound = createdInbound else {
            srtp_dealloc(outbound)
            throw SRTPError(status: status)
        }
        self.profile = profile
        self.outbound = outbound
        self.inbound = inbound
    }

    /// Initialises libsrtp (and loads NSS's modules, see `srtpLibraryStatus`) now rather than
    /// when the first session's DTLS connects. Hosts call it at start-up; later calls are free.
    /// - Returns: false if libsrtp could not be initialised (sessions will then fail to start).
    @discardableResult
    public static func prepareLibrary() -> Bool { srtpLibraryStatus == 0 }

    deinit {
        srtp_dealloc(outbound)
        srtp_dealloc(inbound)
    }

    private static func withPolicy(
        profile: SRTPProtectionProfile,
        keys: SRTPKeyingMaterial.Keys,
        direction: srtp_ssrc_type_t,
        window: Int,
        allowRepeat: Bool,
        _ body: (UnsafePointer<srtp_policy_t>) -> srtp_err_status_t
    ) -> Int32 {
        var policy = srtp_policy_t()
        switch profile {
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        case .aes128CMHMACSHA1_80:
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        }
        policy.ssrc.type = direction
        policy.window_size = UInt(window)
        policy.allow_repeat_tx = allowRepeat ? 1 : 0
        var master = keys.concatenated  // libsrtp copies the key during create/add
        return master.withUnsafeMutableBufferPointer { key in
            policy.key = key.baseAddress
            return Int32(bitPattern: body(&policy).rawValue)
        }
    }

    // MARK: - Raw buffers

    /// Protects the RTP packet in `buffer[0..<length]` in place; `length` grows by the tag.
    /// `buffer.count` must be at least `length +` ``rtpTrailerCapacity``.
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: inout Int) throws(SRTPError) {
        try transform(outbound, buffer, length: &length, minimum: Self.minimumRTPLength, room: Self.rtpTrailerCapacity) {
            session, packet, count in srtp_protect(session, packet, count)
        }
        statistics.protectedRTP += 1
    }

    /// Verifies and decrypts the SRTP packet in `buffer[0..<length]` in place; `length`
    /// shrinks to the RTP packet.
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: inout Int) throws(SRTPError) {
        try transform(inbound, buffer, length: &length, minimum: Self.minimumRTPLength, room: 0) {
            session, packet, count in srtp_unprotect(session, packet, count)
        }
        statistics.unprotectedRTP += 1
    }

    /// Protects the RTCP compound packet in `buffer[0..<length]` in place.
    /// `buffer.count` must be at least `length +` ``rtcpTrailerCapacity``.
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: inout Int) throws(SRTPError) {
        try transform(outbound, buffer, length: &length, minimum: Self.minimumRTCPLength, room: Self.rtcpTrailerCapacity) {
            session, packet, count in srtp_protect_rtcp(session, packet, count)
        }
        statistics.protectedRTCP += 1
    }

    /// Verifies and decrypts the SRTCP packet in `buffer[0..<length]` in place.
    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: inout Int) throws(SRTPError) {
        try transform(inbound, buffer, length: &length, minimum: Self.minimumRTCPLength, room: 0) {
            session, packet, count in srtp_unprotect_rtcp(session, packet, count)
        }
        statistics.unprotectedRTCP += 1
    }

    @inline(__always)
    private func transform(
        _ session: OpaquePointer,
        _ buffer: UnsafeMutableRawBufferPointer,
        length: inout Int,
        minimum: Int,
        room: Int,
        _ call: (OpaquePointer, UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> srtp_err_status_t
    ) throws(SRTPError) {
        guard length >= minimum, length <= buffer.count, let base = buffer.baseAddress else {
            statistics.otherFailures += 1
            throw SRTPError(.tooShort)
        }
        guard buffer.count - length >= room, length <= Int(Int32.max) - room else {
            statistics.otherFailures += 1
            throw SRTPError(.noRoom)
        }
        var count = Int32(length)
        let status = Int32(bitPattern: call(session, base, &count).rawValue)
        guard status == 0 else {
            let error = SRTPError(status: status)
            switch error.code {
            case .replayed, .tooOld: statistics.replayed += 1
            case .authenticationFailed: statistics.authenticationFailed += 1
            default: statistics.otherFailures += 1
            }
            throw error
        }
        length = Int(count)
    }

    // MARK: - ByteBuffer

    /// Protects the readable bytes of `packet` (one RTP packet) in place, making room for the
    /// tag first when the buffer lacks it.
    public func protectRTP(_ packet: inout ByteBuffer) throws(SRTPError) {
        try transformInPlace(&packet, room: Self.rtpTrailerCapacity) { (buffer, length) throws(SRTPError) in
            try protectRTP(buffer, length: &length)
        }
    }

    /// Unprotects the readable bytes of `packet` (one SRTP packet) in place.
    public func unprotectRTP(_ packet: inout ByteBuffer) throws(SRTPError) {
        try transformInPlace(&packet, room: 0) { (buffer, length) throws(SRTPError) in
            try unprotectRTP(buffer, length: &length)
        }
    }

    /// Protects the readable bytes of `packet` (one RTCP compound packet) in place.
    public func protectRTCP(_ packet: inout ByteBuffer) throws(SRTPError) {
        try transformInPlace(&packet, room: Self.rtcpTrailerCapacity) { (buffer, length) throws(SRTPError) in
            try protectRTCP(buffer, length: &length)
        }
    }

    /// Unprotects the readable bytes of `packet` (one SRTCP packet) in place.
    public func unprotectRTCP(_ packet: inout ByteBuffer) throws(SRTPError) {
        try transformInPlace(&packet, room: 0) { (buffer, length) throws(SRTPError) in
            try unprotectRTCP(buffer, length: &length)
        }
    }

    @inline(__always)
    private func transformInPlace(
        _ packet: inout ByteBuffer,
        room: Int,
        _ body: (UnsafeMutableRawBufferPointer, inout Int) throws(SRTPError) -> Void
    ) throws(SRTPError) {
        if packet.writableBytes < room {
            packet.reserveCapacity(minimumWritableBytes: room)
        }
        let start = packet.readerIndex
        var length = packet.readableBytes
        // The storage keeps the reader index (copy-on-write copies without rebasing), so the
        // packet sits at `start` with at least `room` bytes after it.
        try packet.withVeryUnsafeMutableBytes { (storage) throws(SRTPError) in
            let region = UnsafeMutableRawBufferPointer(rebasing: storage[start..<min(storage.count, start + length + room)])
            try body(region, &length)
        }
        packet.moveWriterIndex(to: start + length)
    }
}

/// srtp_init() runs once per process, on first use (global initialisers are atomic).
///
/// Debian builds libsrtp against NSS, whose backend opens an NSS context for every cipher it
/// allocates (also the short-lived ones of the key derivation), and NSS loads its softoken
/// module for each context and unloads it when the context closes: each session's
/// `srtp_create` opened and relocated softokn3, freebl and sqlite about fourteen times, some
/// 50 ms on the event loop between DTLS connecting and media flowing. Loading them once here
/// with RTLD_NODELETE keeps them mapped, so NSS's later loads only count references; NSS still
/// initialises its softoken once per context (about a millisecond each), which we cannot avoid
/// from outside libsrtp. (Keeping one libsrtp session alive for the process does not help.)
private let srtpLibraryStatus: Int32 = {
    for library in ["libsqlite3.so.0", "libfreeblpriv3.so", "libsoftokn3.so"] {
        _ = dlopen(library, RTLD_NOW | RTLD_NODELETE)
    }
    return Int32(bitPattern: srtp_init().rawValue)
}()
