public import STUNCore

/// One ICE candidate (RFC 8445 §5.1), as gathered locally or received from the peer.
///
/// Parse the SDP form with ``init(sdp:)`` and write it with ``sdpValue`` / ``sdpAttribute``
/// (RFC 8839 §5.1). Extension attributes the grammar allows (Chromium's `generation`, `ufrag`,
/// `network-id`, `network-cost`) are kept in order so a candidate round-trips unchanged.
public struct IceCandidate: Hashable, Sendable, CustomStringConvertible {
    /// 1–32 ice-chars; equal for candidates of the same type, base, server and transport (§5.1.1.3).
    public var foundation: String
    /// 1–256; WebRTC with rtcp-mux uses only component 1 (RTP).
    public var component: UInt16
    public var transport: IceTransportProtocol
    /// §5.1.2.1: `2^24 · type preference + 2^8 · local preference + (256 − component)`.
    public var priority: UInt32
    public var address: IceCandidateAddress
    public var port: UInt16
    public var type: IceCandidateType
    /// `raddr`: the base of a reflexive candidate or the mapped address of a relayed one (§5.1.1).
    public var relatedAddress: IceCandidateAddress?
    /// `rport`.
    public var relatedPort: UInt16?
    /// `tcptype` (RFC 6544 §4.5), for TCP candidates.
    public var tcpType: IceTcpType?
    /// Other `name value` extension pairs, in the order received.
    public var extensions: [Extension]

    /// An extension attribute of the candidate line (RFC 8839 §5.1 `cand-extension`).
    public struct Extension: Hashable, Sendable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(
        foundation: String, component: UInt16 = 1, transport: IceTransportProtocol = .udp, priority: UInt32,
        address: IceCandidateAddress, port: UInt16, type: IceCandidateType,
        relatedAddress: IceCandidateAddress? = nil, relatedPort: UInt16? = nil, tcpType: IceTcpType? = nil,
        extensions: [Extension] = []
    ) {
        self.foundation = foundation
        self.component = component
        self.transport = transport
        self.priority = priority
        self.address = address
        self.port = port
        self.type = type
        self.relatedAddress = relatedAddress
        self.relatedPort = relatedPort
        self.tcpType = tcpType
        self.extensions = extensions
    }

    /// A candidate with its foundation and priority computed by the RFC formulas.
    ///
    /// - Parameters:
    ///   - address: the candidate's transport address.
    ///   - type: host, srflx, prflx or relay.
    ///   - base: the base's IP address (the candidate's own address for host candidates), used
    ///     for the foundation (§5.1.1.3).
    ///   - server: the STUN or TURN server's IP address for srflx and relay candidates.
    ///   - localPreference: see ``localPreference(for:interfaceIndex:)``.
    ///   - related: `raddr`/`rport`.
    public init(
        address: TransportAddress, type: IceCandidateType, component: UInt16 = 1,
        transport: IceTransportProtocol = .udp, base: IPAddress? = nil, server: IPAddress? = nil,
        localPreference: UInt16? = nil, related: TransportAddress? = nil, tcpType: IceTcpType? = nil
    ) {
        let preference = localPreference ?? IceCandidate.localPreference(for: address.ip)
        self.init(
            foundation: IceCandidate.foundation(
                type: type, baseAddress: base ?? address.ip, serverAddress: server, transport: transport),
            component: component, transport: transport,
            priority: IceCandidate.priority(type: type, localPreference: preference, component: component),
            address: .ip(address.ip), port: address.port, type: type,
            relatedAddress: related.map { .ip($0.ip) }, relatedPort: related?.port, tcpType: tcpType)
    }

    /// The transport address, or nil while the address is an unresolved hostname.
    public var transportAddress: TransportAddress? {
        address.ip.map { TransportAddress(ip: $0, port: port) }
    }

    /// The `ufrag` extension (Chromium's trickled candidates carry it), if present.
    public var usernameFragment: String? { extensions.first { $0.name == "ufrag" }?.value }

    /// The local preference packed into ``priority`` (bits 8–23).
    public var localPreference: UInt16 { UInt16(truncatingIfNeeded: priority >> 8) }

    public var description: String { sdpValue }

    // MARK: RFC formulas

    /// Candidate priority (RFC 8445 §5.1.2.1):
    /// `2^24 · type preference + 2^8 · local preference + 2^0 · (256 − component ID)`.
    public static func priority(type: IceCandidateType, localPreference: UInt16, component: UInt16) -> UInt32 {
        priority(typePreference: type.typePreference, localPreference: localPreference, component: component)
    }

    /// The same formula with an explicit type preference (0–126).
    public static func priority(typePreference: UInt32, localPreference: UInt16, component: UInt16) -> UInt32 {
        let componentPart = UInt32(256 - min(max(Int(component), 1), 256))
        return (min(typePreference, 126) << 24) | (UInt32(localPreference) << 8) | componentPart
    }

    /// A local preference (RFC 8445 §5.1.2.1, RFC 8421 §4): IPv6 above IPv4, link-local and
    /// IPv4-mapped addresses lowest within their family; `interfaceIndex` lowers the value so
    /// that each interface gets a distinct preference.
    public static func localPreference(for ip: IPAddress, interfaceIndex: Int = 0) -> UInt16 {
        let top: Int
        if ip.unmappedIPv4 != nil || ip.isLinkLocal {
            top = 16_383
        } else if ip.family == .ipv6 {
            top = 65_535
        } else {
            top = 32_767
        }
        return UInt16(max(top - min(max(interfaceIndex, 0), 1024) * 64, 0))
    }

    /// A foundation (RFC 8445 §5.1.1.3): the same for candidates that share type, base IP
    /// address, server IP address and transport, and different otherwise. The CRC-32 of those
    /// four, in decimal, as Chromium does.
    public static func foundation(
        type: IceCandidateType, baseAddress: IPAddress, serverAddress: IPAddress?, transport: IceTransportProtocol
    ) -> String {
        var crc = CRC32()
        crc.update(Array(type.rawValue.utf8))
        crc.update(baseAddress.bytes)
        crc.update(serverAddress?.bytes ?? [])
        crc.update(Array(transport.rawValue.utf8))
        return String(crc.value)
    }

    /// Candidate-pair priority (RFC 8445 §6.1.2.3):
    /// `2^32 · MIN(G, D) + 2 · MAX(G, D) + (G > D ? 1 : 0)`, G the controlling agent's
    /// candidate priority and D the controlled agent's.
    public static func pairPriority(controlling g: UInt32, controlled d: UInt32) -> UInt64 {
        (UInt64(min(g, d)) << 32) + 2 * UInt64(max(g, d)) + (g > d ? 1 : 0)
    }
}
