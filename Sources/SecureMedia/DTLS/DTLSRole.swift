/// Which side of the DTLS handshake an endpoint plays.
///
/// RFC 5763 §5 / RFC 8842 §5: the SDP `a=setup:active` side is the DTLS client and
/// `a=setup:passive` the server; Pod Arcade answers browser offers with `active`.
public enum DTLSRole: Sendable, Hashable {
    /// Sends the ClientHello (SDP `setup:active`).
    case client
    /// Waits for the ClientHello (SDP `setup:passive`).
    case server
}
