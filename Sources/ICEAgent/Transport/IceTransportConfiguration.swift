public import NIOCore
public import STUNCore

/// How an ``IceTransport`` gathers and checks: the agent's settings, the ICE servers, which
/// host addresses to use and whether sessions share one port.
public struct IceTransportConfiguration: Sendable {
    /// Role, pacing, timeouts of the sans-IO agent.
    public var agent: IceAgent.Configuration
    /// STUN servers give server-reflexive candidates; TURN servers relayed ones (and, through
    /// their XOR-MAPPED-ADDRESS, server-reflexive ones too).
    public var iceServers: [IceServer]
    /// Which interface addresses become host candidates; `WEBRTC_IPS` (NAT 1:1).
    public var hostAddresses: HostAddressSelection
    /// The interface addresses to consider; nil asks the system (getifaddrs). Tests and network
    /// namespaces may pin them.
    public var interfaceAddresses: [IPAddress]?
    /// Offer only relayed candidates (like `iceTransportPolicy: "relay"`).
    public var relayOnly: Bool
    /// Retransmission schedule for server-reflexive queries.
    public var gatheringTransaction: StunClientTransaction.Configuration
    /// Certificate checks for `turns:` servers; tests with self-signed certificates turn
    /// verification off.
    public var verifyTURNCertificates: Bool
    /// How long to wait for a TURN allocation before gathering is declared complete without it.
    public var relayGatheringTimeout: TimeAmount

    public init(
        agent: IceAgent.Configuration, iceServers: [IceServer] = [], hostAddresses: HostAddressSelection = .init(),
        interfaceAddresses: [IPAddress]? = nil, relayOnly: Bool = false,
        gatheringTransaction: StunClientTransaction.Configuration = .init(
            initialRTO: .milliseconds(250), maxTransmissions: 4, lastWaitMultiplier: 5),
        verifyTURNCertificates: Bool = true, relayGatheringTimeout: TimeAmount = .seconds(5)
    ) {
        self.agent = agent
        self.iceServers = iceServers
        self.hostAddresses = hostAddresses
        self.interfaceAddresses = interfaceAddresses
        self.relayOnly = relayOnly
        self.gatheringTransaction = gatheringTransaction
        self.verifyTURNCertificates = verifyTURNCertificates
        self.relayGatheringTimeout = relayGatheringTimeout
    }
}

/// What an ``IceTransport`` reports, in order, on its ``IceTransport/events`` stream.
public enum IceTransportEvent: Sendable, Hashable {
    /// A local candidate to trickle to the peer (RFC 8838 §4).
    case localCandidate(IceCandidate)
    /// Every gathering query ended: signal end-of-candidates.
    case gatheringComplete
    /// A STUN or TURN server could not be used; gathering goes on without it.
    case serverFailed(server: String, reason: String)
    /// `RTCIceConnectionState` changed.
    case connectionStateChanged(IceConnectionState)
    /// The pair application data now uses (nil: none).
    case selectedPairChanged(IceCandidatePair?)
}
