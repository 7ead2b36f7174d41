import COpenSSL
import NIOCore

/// The state OpenSSL's callbacks share with a ``DTLSEndpoint``: the datagram being fed in,
/// the records OpenSSL wrote, and the handshake retransmission timer.
///
/// OpenSSL 3.0 has no datagram memory BIO, so the endpoint gives its `SSL` two custom BIOs:
/// the read BIO hands over exactly one datagram per ``DTLSEndpoint/receive(_:now:)`` and then
/// says "retry"; the write BIO receives one record per call. Both reach this object through
/// `BIO_get_data` (retained by each BIO, released in its destroy callback), and the verify
/// callback through `SSL_get_ex_data(ssl, 0)`.
///
/// Time: OpenSSL 3.0 keeps its DTLS timer as a wall-clock `struct timeval` and announces every
/// start and stop to the read BIO with `BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT`, whose argument
/// points at that timer (d1_lib.c `dtls1_start_timer`/`dtls1_stop_timer`). The control
/// callback records the pointer, schedules our own deadline from the `now` of the current
/// call, and moves OpenSSL's deadline to the far future, so OpenSSL never retransmits on its
/// own clock. When our deadline passes, ``DTLSEndpoint/handleTimeout(now:)`` sets OpenSSL's
/// timer into the past and calls `DTLSv1_handle_timeout`, which retransmits the flight with
/// fresh record sequence numbers (RFC 6347 §4.2.4) and restarts the timer through the same
/// callback. The whole schedule therefore follows the caller's `now`.
final class DTLSDatagramIO {
    /// The datagram the read BIO hands out next; valid only during one endpoint call.
    var input: UnsafeRawBufferPointer?
    /// Records OpenSSL wrote during the current call, in order.
    var written: [[UInt8]] = []
    /// The time of the current call.
    var currentTime: NIODeadline = .uptimeNanoseconds(0)

    let timers: DTLSTimers
    /// OpenSSL's own timer (`&ssl->d1->next_timeout`), once OpenSSL has announced it.
    var openSSLTimer: UnsafeMutableRawPointer?
    /// Whether OpenSSL's timer is running (a flight is waiting for the peer's answer).
    var timerRunning = false
    /// The current retransmission timeout; doubles on every retransmission of a flight.
    var retransmitTimeout: TimeAmount
    /// When the current flight is retransmitted next.
    var retransmitDeadline: NIODeadline?

    /// The SDP fingerprints the verify callback checks the peer's certificate against.
    var remoteFingerprints: [DTLSFingerprint]
    /// Set by the verify callback when the peer's certificate matched none of them.
    var fingerprintMismatch = false

    init(timers: DTLSTimers, remoteFingerprints: [DTLSFingerprint]) {
        self.timers = timers
        self.retransmitTimeout = timers.initialRetransmit
        self.remoteFingerprints = remoteFingerprints
    }

    /// OpenSSL's deadline while we own the schedule: far beyond any handshake.
    static let farFutureSeconds: Int64 = 1 << 40

    /// Called from the read BIO's control callback when OpenSSL starts, restarts or stops its
    /// DTLS timer.
    func openSSLTimerChanged(_ timer: UnsafeMutableRawPointer) {
        openSSLTimer = timer
        if pa_timeval_is_set(timer) != 0 {
            if !timerRunning {
                // A new flight (RFC 6347 §4.2.4: the timer restarts at its initial value).
                timerRunning = true
                retransmitTimeout = timers.initialRetransmit
            }
            retransmitDeadline = currentTime + retransmitTimeout
            pa_timeval_set(timer, Self.farFutureSeconds)
        } else {
            timerRunning = false
            retransmitDeadline = nil
            retransmitTimeout = timers.initialRetransmit
        }
    }

    /// Makes OpenSSL see its timer as expired, for `DTLSv1_handle_timeout`.
    func expireOpenSSLTimer() -> Bool {
        guard let openSSLTimer, timerRunning else { return false }
        pa_timeval_set(openSSLTimer, 1)
        return true
    }

    /// Whether `x509` matches one of ``remoteFingerprints`` with a hash OpenSSL knows.
    func certificateMatches(_ x509: OpaquePointer) -> Bool {
        for fingerprint in remoteFingerprints {
            if let digest = DTLSCertificate.digest(of: x509, algorithm: fingerprint.algorithm),
                digest == fingerprint.bytes
            {
                return true
            }
        }
        return false
    }
}

// MARK: - BIO methods (process-wide, created once)

struct DTLSBIOMethods: @unchecked Sendable {
    // BIO_METHODs are immutable once configured and only read by OpenSSL afterwards.
    let input: OpaquePointer
    let output: OpaquePointer

    static let shared: DTLSBIOMethods? = make()

    private static func make() -> DTLSBIOMethods? {
        guard let input = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pod-arcade-dtls-in"),
            let output = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pod-arcade-dtls-out")
        else { return nil }
        for method in [input, output] {
            BIO_meth_set_create(method, dtlsBIOCreate)
            BIO_meth_set_destroy(method, dtlsBIODestroy)
        }
        BIO_meth_set_read(input, dtlsBIORead)
        BIO_meth_set_ctrl(input, dtlsBIOInputControl)
        BIO_meth_set_write(output, dtlsBIOWrite)
        BIO_meth_set_ctrl(output, dtlsBIOOutputControl)
        return DTLSBIOMethods(input: input, output: output)
    }
}

private func datagramIO(of bio: OpaquePointer?) -> DTLSDatagramIO? {
    guard let bio, let data = BIO_get_data(bio) else { return nil }
    return Unmanaged<DTLSDatagramIO>.fromOpaque(data).takeUnretainedValue()
}

private func dtlsBIOCreate(_ bio: OpaquePointer?) -> Int32 {
    BIO_set_init(bio, 1)
    return 1
}

private func dtlsBIODestroy(_ bio: OpaquePointer?) -> Int32 {
    guard let bio else { return 0 }
    if let data = BIO_get_data(bio) {
        Unmanaged<DTLSDatagramIO>.fromOpaque(data).release()
        BIO_set_data(bio, nil)
    }
    return 1
}

private func dtlsBIORead(_ bio: OpaquePointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ length: Int32) -> Int32 {
    pa_BIO_clear_retry_flags(bio)
    guard let io = datagramIO(of: bio), let buffer, length > 0, let input = io.input else {
        pa_BIO_set_retry_read(bio)
        return -1
    }
    io.input = nil
    // Callers drop datagrams above DTLSEndpoint.maximumDatagramSize, below OpenSSL's buffer.
    let count = min(input.count, Int(length))
    if count > 0, let base = input.baseAddress {
        UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: count)
    }
    return Int32(count)
}

private func dtlsBIOWrite(_ bio: OpaquePointer?, _ bytes: UnsafePointer<CChar>?, _ length: Int32) -> Int32 {
    pa_BIO_clear_retry_flags(bio)
    guard let io = datagramIO(of: bio), let bytes, length >= 0 else { return -1 }
    io.written.append(Array(UnsafeRawBufferPointer(start: bytes, count: Int(length))))
    return length
}

private func dtlsBIOInputControl(
    _ bio: OpaquePointer?, _ command: Int32, _ number: Int, _ argument: UnsafeMutableRawPointer?
) -> Int {
    switch command {
    case pa_BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT():
        if let argument, let io = datagramIO(of: bio) { io.openSSLTimerChanged(argument) }
        return 1
    case BIO_CTRL_FLUSH:
        return 1
    default:
        return 0
    }
}

private func dtlsBIOOutputControl(
    _ bio: OpaquePointer?, _ command: Int32, _ number: Int, _ argument: UnsafeMutableRawPointer?
) -> Int {
    // Flush succeeds (every write already left as a record); everything else — pending bytes,
    // MTU queries (SSL_OP_NO_QUERY_MTU is set), MTU overhead — is zero.
    command == BIO_CTRL_FLUSH ? 1 : 0
}

/// Accepts any certificate chain but checks the leaf against the SDP fingerprints, so a peer
/// with the wrong certificate fails the handshake with a bad_certificate alert before keys
/// exist (RFC 8122 §5; the endpoint checks again after the handshake).
func dtlsVerifyCallback(_ preverified: Int32, _ store: OpaquePointer?) -> Int32 {
    guard let store else { return 0 }
    guard X509_STORE_CTX_get_error_depth(store) == 0 else { return 1 }
    guard let sslPointer = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
        let data = SSL_get_ex_data(OpaquePointer(sslPointer), 0),
        let certificate = X509_STORE_CTX_get_current_cert(store)
    else { return 0 }
    let io = Unmanaged<DTLSDatagramIO>.fromOpaque(data).takeUnretainedValue()
    if io.certificateMatches(certificate) { return 1 }
    io.fingerprintMismatch = true
    return 0
}
