import COpenSSL
public import NIOCore

/// A sans-IO DTLS 1.2 endpoint (RFC 6347) for DTLS-SRTP (RFC 5764), built on OpenSSL.
///
/// Feed it datagrams with ``receive(_:now:)`` and deadlines with ``handleTimeout(now:)``;
/// every call returns a ``DTLSOutput`` with the datagrams to send, the events, and the next
/// deadline. It opens no socket, reads no clock and starts no task: the retransmission
/// schedule follows the `now` it is given (see ``DTLSTimers``).
///
/// The peer's certificate is accepted only when it matches one of ``remoteFingerprints``
/// (the SDP `a=fingerprint` values); on success the endpoint negotiates an SRTP profile with
/// the use_srtp extension (RFC 5764 §4.1) and reports `.connected` with the exported keys.
///
/// Threading: an endpoint wraps an OpenSSL `SSL` and must be used from one thread or event
/// loop at a time (the PeerConnection's). It is `@unchecked Sendable` so it can be created on
/// one thread and handed to that loop; it does no locking.
public final class DTLSEndpoint: @unchecked Sendable {
    public enum State: Sendable, Hashable {
        /// Created; ``start(now:)`` not yet called.
        case new
        /// Handshaking.
        case connecting
        /// Keys exported; application data flows.
        case connected
        /// close_notify sent or received.
        case closed
        /// The handshake or the connection failed; nothing more is accepted.
        case failed
    }

    /// What the endpoint dropped and did, for metrics and tests.
    public struct Statistics: Sendable, Hashable {
        public var datagramsReceived = 0
        public var datagramsSent = 0
        /// Not DTLS records: bad content type, version, length, or application data at epoch 0.
        public var droppedMalformed = 0
        /// A record header or body cut short.
        public var droppedTruncated = 0
        /// An epoch this association can never have (above 1).
        public var droppedUnexpectedEpoch = 0
        /// Larger than ``DTLSEndpoint/maximumDatagramSize``.
        public var droppedOversized = 0
        /// Arrived after the endpoint closed or failed.
        public var droppedAfterClose = 0
        /// Application-data records OpenSSL discarded: a failed MAC (another connection's keys,
        /// forged bytes) or a replayed sequence number (RFC 6347 §4.1.2.6, §4.1.2.7).
        public var recordsDiscarded = 0
        /// Flights sent again after a timeout (RFC 6347 §4.2.4).
        public var retransmissions = 0

        public init() {}
    }

    /// Datagrams above this size are dropped: far above any path MTU, and below OpenSSL's
    /// read buffer, so nothing is ever cut.
    public static let maximumDatagramSize = 16_384

    public let role: DTLSRole
    /// The largest datagram this endpoint sends.
    public let mtu: Int
    public let timers: DTLSTimers
    public private(set) var state: State = .new
    public private(set) var statistics = Statistics()
    /// Set once `.connected` has been reported.
    public private(set) var keyingMaterial: SRTPKeyingMaterial?

    /// The SDP fingerprints of the peer's certificate; may be set until the peer's
    /// certificate arrives (for example when the answer comes after ``start(now:)``).
    public var remoteFingerprints: [DTLSFingerprint] {
        get { io.remoteFingerprints }
        set { io.remoteFingerprints = newValue }
    }

    private let io: DTLSDatagramIO
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private var handshakeDeadline: NIODeadline?
    private var readBuffer = [UInt8](repeating: 0, count: 16_384)

    /// - Parameters:
    ///   - role: client (SDP `setup:active`) or server (`setup:passive`).
    ///   - certificate: this endpoint's certificate, usually ``DTLSCertificate/shared()``.
    ///   - remoteFingerprints: the peer's `a=fingerprint` values.
    ///   - mtu: the largest datagram to send (records included).
    ///   - srtpProfiles: offered (client) or accepted (server) in order of preference.
    ///   - timers: retransmission and give-up times.
    /// - Throws: `DTLSError.configuration` when OpenSSL refuses a setting.
    public init(
        role: DTLSRole,
        certificate: DTLSCertificate,
        remoteFingerprints: [DTLSFingerprint],
        mtu: Int = 1200,
        srtpProfiles: [SRTPProtectionProfile] = [.aeadAES128GCM, .aes128CMHMACSHA1_80],
        timers: DTLSTimers = DTLSTimers()
    ) throws(DTLSError) {
        ERR_clear_error()
        guard (256...Self.maximumDatagramSize).contains(mtu) else {
            throw DTLSError(.configuration, detail: "MTU \(mtu) outside 256...\(Self.maximumDatagramSize)")
        }
        guard !srtpProfiles.isEmpty else { throw DTLSError(.configuration, detail: "no SRTP profile") }
        guard let methods = DTLSBIOMethods.shared else {
            throw DTLSError(.configuration, detail: "BIO_meth_new: \(OpenSSLErrors.drain())")
        }
        guard let context = SSL_CTX_new(DTLS_method()) else {
            throw DTLSError(.configuration, detail: "SSL_CTX_new: \(OpenSSLErrors.drain())")
        }
        func fail(_ step: String) -> DTLSError {
            DTLSError(.configuration, detail: "\(step): \(OpenSSLErrors.drain())")
        }
        pa_SSL_CTX_set_webrtc_options(context)
        // ECDHE with AEAD first; the RSA suites let a peer with an RSA certificate be a server.
        let ciphers =
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
            + "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"
            + "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA"
        guard pa_SSL_CTX_set_dtls12_only(context) == 1,
            SSL_CTX_set_cipher_list(context, ciphers) == 1,
            SSL_CTX_use_certificate(context, certificate.x509) == 1,
            SSL_CTX_use_PrivateKey(context, certificate.privateKey) == 1,
            SSL_CTX_check_private_key(context) == 1,
            // RFC 5764 §4.1: note this call returns 0 on success.
            SSL_CTX_set_tlsext_use_srtp(context, srtpProfiles.map(\.openSSLName).joined(separator: ":")) == 0
        else {
            let error = fail("context")
            SSL_CTX_free(context)
            throw error
        }
        // Both sides send certificates (RFC 8827 §6.5); the callback compares fingerprints.
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, dtlsVerifyCallback)

        guard let ssl = SSL_new(context) else {
            let error = fail("SSL_new")
            SSL_CTX_free(context)
            throw error
        }
        let io = DTLSDatagramIO(timers: timers, remoteFingerprints: remoteFingerprints)
        guard let input = BIO_new(methods.input), let output = BIO_new(methods.output) else {
            let error = fail("BIO_new")
            SSL_free(ssl)
            SSL_CTX_free(context)
            throw error
        }
        BIO_set_data(input, Unmanaged.passRetained(io).toOpaque())
        BIO_set_data(output, Unmanaged.passRetained(io).toOpaque())
        SSL_set_bio(ssl, input, output)  // the SSL owns both BIOs now
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(io).toOpaque())
        guard pa_SSL_set_mtu(ssl, mtu) > 0 else {
            let error = fail("SSL_set_mtu")
            SSL_free(ssl)
            SSL_CTX_free(context)
            throw error
        }
        switch role {
        case .client: SSL_set_connect_state(ssl)
        case .server: SSL_set_accept_state(ssl)
        }
        self.role = role
        self.mtu = mtu
        self.timers = timers
        self.io = io
        self.context = context
        self.ssl = ssl
    }

    deinit {
        SSL_free(ssl)  // frees the BIOs, which release their references to `io`
        SSL_CTX_free(context)
    }

    /// The next deadline for ``handleTimeout(now:)``: the flight retransmission while
    /// handshaking, or the handshake give-up time; nil otherwise.
    public var nextTimeout: NIODeadline? {
        guard state == .connecting else { return nil }
        switch (io.retransmitDeadline, handshakeDeadline) {
        case let (retransmit?, giveUp?): return min(retransmit, giveUp)
        case let (retransmit, giveUp): return retransmit ?? giveUp
        }
    }

    /// The largest application-data message one record can carry within the MTU.
    public var maximumApplicationDataSize: Int {
        state == .connected ? Int(DTLS_get_data_mtu(ssl)) : 0
    }

    /// Starts the handshake: a client sends its ClientHello, a server waits for one.
    public func start(now: NIODeadline) -> DTLSOutput {
        perform(now: now) { events in
            beginHandshake(now: now, events: &events)
        }
    }

    /// Feeds one received datagram (first byte 20–63 per RFC 7983).
    public func receive(_ datagram: ByteBuffer, now: NIODeadline) -> DTLSOutput {
        datagram.withUnsafeReadableBytes { receive($0, now: now) }
    }

    /// Feeds one received datagram from raw bytes.
    public func receive(_ datagram: UnsafeRawBufferPointer, now: NIODeadline) -> DTLSOutput {
        perform(now: now) { events in
            statistics.datagramsReceived += 1
            switch state {
            case .closed, .failed:
                statistics.droppedAfterClose += 1
                return
            case .new:
                beginHandshake(now: now, events: &events)
            case .connecting, .connected:
                break
            }
            guard datagram.count <= Self.maximumDatagramSize else {
                statistics.droppedOversized += 1
                return
            }
            let summary: DTLSRecordScanner.Summary
            switch DTLSRecordScanner.scan(datagram) {
            case .success(let scanned): summary = scanned
            case .failure(.truncated):
                statistics.droppedTruncated += 1
                return
            case .failure(.malformed):
                statistics.droppedMalformed += 1
                return
            case .failure(.unexpectedEpoch):
                statistics.droppedUnexpectedEpoch += 1
                return
            }
            io.input = datagram
            defer { io.input = nil }
            if state == .connecting {
                continueHandshake(events: &events)
            }
            if state == .connected {
                let delivered = readApplicationData(events: &events)
                statistics.recordsDiscarded += max(0, summary.applicationDataRecords - delivered)
            }
        }
    }

    /// Call at (or after) ``nextTimeout``: retransmits the current flight (RFC 6347 §4.2.4.1,
    /// the timeout doubling up to ``DTLSTimers/maximumRetransmit``) or gives up with
    /// `.failed(.handshakeTimeout)`.
    public func handleTimeout(now: NIODeadline) -> DTLSOutput {
        perform(now: now) { events in
            guard state == .connecting else { return }
            if let handshakeDeadline, now >= handshakeDeadline {
                fail(.handshakeTimeout, events: &events)
                return
            }
            guard let deadline = io.retransmitDeadline, now >= deadline else { return }
            let doubled = io.retransmitTimeout + io.retransmitTimeout
            io.retransmitTimeout = min(doubled, timers.maximumRetransmit)
            guard io.expireOpenSSLTimer() else {
                io.retransmitDeadline = nil  // OpenSSL has nothing in flight
                return
            }
            let result = pa_DTLSv1_handle_timeout(ssl)
            if result > 0 {
                statistics.retransmissions += 1
            } else if result < 0 {
                fail(.handshakeFailed, detail: OpenSSLErrors.drain(), events: &events)
            } else if let deadline = io.retransmitDeadline, deadline <= now {
                // OpenSSL did not restart its timer: never call back at a deadline in the past.
                io.retransmitDeadline = now + io.retransmitTimeout
            }
        }
    }

    /// Sends `bytes` as one application-data record.
    /// - Throws: `.notConnected` before the handshake finished or after close/failure;
    ///   `.messageTooLarge` above ``maximumApplicationDataSize``; `.writeFailed`.
    public func writeApplicationData(_ bytes: UnsafeRawBufferPointer, now: NIODeadline) throws(DTLSError) -> DTLSOutput {
        guard state == .connected else { throw .notConnected }
        guard bytes.count <= maximumApplicationDataSize else {
            throw DTLSError(.messageTooLarge, detail: "\(bytes.count) > \(maximumApplicationDataSize)")
        }
        var failure: DTLSError?
        let output = perform(now: now) { events in
            let written = SSL_write(ssl, bytes.baseAddress, Int32(bytes.count))
            if written <= 0 && !bytes.isEmpty {
                let error = DTLSError(.writeFailed, detail: OpenSSLErrors.drain())
                failure = error
                fail(error, events: &events)
            }
        }
        if let failure { throw failure }
        return output
    }

    /// Sends `bytes` as one application-data record.
    public func writeApplicationData(_ bytes: ByteBuffer, now: NIODeadline) throws(DTLSError) -> DTLSOutput {
        try bytes.withUnsafeReadableBytes { (raw) throws(DTLSError) -> DTLSOutput in
            try writeApplicationData(raw, now: now)
        }
    }

    /// Sends close_notify (RFC 5246 §7.2.1) and stops; later datagrams are dropped.
    public func close(now: NIODeadline) -> DTLSOutput {
        perform(now: now) { _ in
            switch state {
            case .connecting, .connected:
                SSL_shutdown(ssl)
                state = .closed
            case .new:
                state = .closed
            case .closed, .failed:
                break
            }
        }
    }

    // MARK: - Internals

    /// Runs `body` with OpenSSL's error queue clear before and after, and collects the records
    /// OpenSSL wrote into datagrams of at most ``mtu`` bytes (RFC 6347 §4.1.1 lets several
    /// records share a datagram; OpenSSL writes each on its own).
    private func perform(now: NIODeadline, _ body: (inout [DTLSEvent]) -> Void) -> DTLSOutput {
        ERR_clear_error()
        io.currentTime = now
        io.written.removeAll(keepingCapacity: true)
        var events: [DTLSEvent] = []
        body(&events)
        ERR_clear_error()
        var datagrams: [ByteBuffer] = []
        var current: ByteBuffer?
        for record in io.written {
            if var pending = current, pending.readableBytes + record.count <= mtu {
                pending.writeBytes(record)
                current = pending
                continue
            }
            if let pending = current { datagrams.append(pending) }
            current = ByteBuffer(bytes: record)
        }
        if let pending = current { datagrams.append(pending) }
        io.written.removeAll(keepingCapacity: true)
        statistics.datagramsSent += datagrams.count
        return DTLSOutput(datagrams: datagrams, events: events, nextTimeout: nextTimeout)
    }

    private func beginHandshake(now: NIODeadline, events: inout [DTLSEvent]) {
        guard state == .new else { return }
        state = .connecting
        handshakeDeadline = now + timers.handshakeTimeout
        if role == .client {
            continueHandshake(events: &events)
        }
    }

    private func continueHandshake(events: inout [DTLSEvent]) {
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            finishHandshake(events: &events)
            return
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return
        default:
            if io.fingerprintMismatch {
                fail(.fingerprintMismatch, detail: OpenSSLErrors.drain(), events: &events)
            } else {
                fail(.handshakeFailed, detail: OpenSSLErrors.drain(), events: &events)
            }
        }
    }

    /// RFC 8122 §5 fingerprint check (again, after the verify callback), RFC 5764 §4.1.2
    /// profile, §4.2 key export.
    private func finishHandshake(events: inout [DTLSEvent]) {
        guard let peer = SSL_get1_peer_certificate(ssl) else {
            fail(.fingerprintMismatch, detail: "no peer certificate", events: &events)
            return
        }
        let matches = io.certificateMatches(peer)
        X509_free(peer)
        guard matches else {
            fail(.fingerprintMismatch, events: &events)
            return
        }
        guard let selected = SSL_get_selected_srtp_profile(ssl),
            let profile = SRTPProtectionProfile(id: UInt16(truncatingIfNeeded: selected.pointee.id))
        else {
            fail(.noSRTPProfile, events: &events)
            return
        }
        let label = "EXTRACTOR-dtls_srtp"
        var exported = [UInt8](repeating: 0, count: 2 * (profile.keyLength + profile.saltLength))
        let status = SSL_export_keying_material(ssl, &exported, exported.count, label, label.utf8.count, nil, 0, 0)
        guard status == 1,
            let material = SRTPKeyingMaterial(profile: profile, exported: exported, isClient: role == .client)
        else {
            fail(.keyExport, detail: OpenSSLErrors.drain(), events: &events)
            return
        }
        state = .connected
        keyingMaterial = material
        io.retransmitDeadline = nil
        events.append(.connected(material))
    }

    /// Reads every application-data record OpenSSL can decrypt from the current datagram.
    /// Returns how many it delivered.
    private func readApplicationData(events: inout [DTLSEvent]) -> Int {
        var delivered = 0
        while state == .connected {
            let count = readBuffer.withUnsafeMutableBytes { buffer in
                SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
            }
            if count > 0 {
                events.append(.applicationData(ByteBuffer(bytes: readBuffer[0..<Int(count)])))
                delivered += 1
                continue
            }
            switch SSL_get_error(ssl, count) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return delivered
            case SSL_ERROR_ZERO_RETURN:
                // close_notify from the peer.
                state = .closed
                events.append(.closed)
            default:
                fail(.readFailed, detail: OpenSSLErrors.drain(), events: &events)
            }
        }
        return delivered
    }

    private func fail(_ code: DTLSError.Code, detail: String = "", events: inout [DTLSEvent]) {
        fail(DTLSError(code, detail: detail), events: &events)
    }

    private func fail(_ error: DTLSError, events: inout [DTLSEvent]) {
        state = .failed
        io.retransmitDeadline = nil
        events.append(.failed(error))
    }
}
