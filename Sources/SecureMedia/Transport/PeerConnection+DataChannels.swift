import NIOCore
import NIOConcurrencyHelpers

/// A channel both sides create with the same id and no DCEP open (RFC 8832 §6, W3C
/// `negotiated: true`).
public struct NegotiatedDataChannel: Sendable, Hashable {
    public var label: String
    public var `protocol`: String
    public var id: UInt16
    public var reliability: DataChannelReliability

    public init(label: String, protocol: String = "", id: UInt16, reliability: DataChannelReliability = .reliable) {
        self.label = label
        self.protocol = `protocol`
        self.id = id
        self.reliability = reliability
    }

    /// Pod Arcade's input channel (`../shared/spec/protocol.md`): id 0, ordered, reliable.
    public static let podArcadeInput = NegotiatedDataChannel(label: "input", protocol: "pod-arcade-input-v1", id: 0)
}

/// Why a data channel could not be created on a ``PeerConnection``.
public enum PeerConnectionDataChannelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// There is no negotiated session yet, or its offer had no application m-line.
    case noApplicationSection
    case channel(DataChannelError)

    public var description: String {
        switch self {
        case .noApplicationSection: "the session has no negotiated data-channel (application) section"
        case .channel(let error): "\(error)"
        }
    }
}

extension DataChannel: Hashable {
    public static func == (lhs: DataChannel, rhs: DataChannel) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

extension PeerConnection {
    /// The session's data channels (SCTP over DTLS, RFC 8261), once an offer with an
    /// application m-line was answered; nil before or without one.
    public var dataChannelController: DataChannelController? { controllerBox.withLockedValue { $0 } }

    /// The open or connecting channel with this label, the negotiated ones included.
    public func dataChannel(label: String) -> DataChannel? {
        dataChannelController?.channels.first { $0.label == label }
    }

    /// Creates a channel (W3C `createDataChannel`): in-band with DCEP when `negotiatedID` is
    /// nil, else pre-negotiated. Allowed once the offer is answered; it opens when SCTP is up.
    public func createDataChannel(
        label: String, protocol: String = "", reliability: DataChannelReliability = .reliable,
        negotiatedID: UInt16? = nil
    ) throws(PeerConnectionDataChannelError) -> DataChannel {
        guard let controller = dataChannelController else { throw .noApplicationSection }
        let channel: DataChannel
        do {
            channel = try controller.createDataChannel(
                label: label, protocol: `protocol`, reliability: reliability, negotiatedID: negotiatedID)
        } catch {
            throw .channel(error)
        }
        // usrsctp may have queued a DCEP open; the drain runs on the loop.
        eventLoop.execute { self.sctp?.kick() }
        return channel
    }

    // MARK: - Event-loop internals

    /// Makes the SCTP association and the configured negotiated channels for a session whose
    /// offer had an application m-line (RFC 8841). The SCTP role follows the DTLS role, which
    /// fixes the parity of in-band stream ids (RFC 8832 §6).
    func makeDataChannels(session: SDPNegotiatedSession, local: SDPLocalParameters) throws {
        guard let application = session.application else { return }
        var sctpConfiguration = SCTPAssociationConfiguration()
        sctpConfiguration.localPort = local.sctpPort
        sctpConfiguration.remotePort = application.remoteSCTPPort
        sctpConfiguration.localMaxMessageSize = Int(local.maxMessageSize)
        // RFC 8841 §6.1: 0 means the peer takes any size; usrsctp then chunks without limit.
        sctpConfiguration.remoteMaxMessageSize = Int(application.remoteMaxMessageSize)
        // One SCTP packet is one DTLS record (RFC 8261 §5) inside our datagram: leave room for
        // the record header and the largest cipher overhead (CBC IV, MAC and padding).
        sctpConfiguration.pathMTU = UInt32(max(512, configuration.mtu - 80))
        let role: SCTPAssociation.Role = session.localDTLSRole == .client ? .client : .server
        let controller = try DataChannelController(role: role, configuration: sctpConfiguration)
        controller.setPeerChannelMessageHandler(configuration.peerChannelMessageHandler)
        for negotiated in configuration.negotiatedDataChannels {
            _ = try controller.createDataChannel(
                label: negotiated.label, protocol: negotiated.protocol, reliability: negotiated.reliability,
                negotiatedID: negotiated.id)
        }
        sctp = DataChannelTransport(
            controller: controller, eventLoop: eventLoop,
            output: { [weak self] packet in self?.sendSCTP(packet) },
            onEvent: { [weak self] event in self?.handleDataChannelEvent(event) })
        controllerBox.withLockedValue { $0 = controller }
    }

    /// DTLS is connected: SCTP starts (RFC 8261 §6; both sides send INIT, usrsctp resolves
    /// the collision per RFC 9260 §5.2.4).
    func startDataChannels() {
        guard let sctp else { return }
        do {
            try sctp.start()
        } catch {
            continuation.yield(.failed("SCTP could not start: \(error)"))
        }
    }

    func receiveSCTP(_ packet: ByteBuffer) {
        guard let sctp else { return }
        if dropsForSimulatedLoss() { return }
        sctp.receive(packet)
    }

    func sendSCTP(_ packet: ByteBuffer) {
        guard let core else { return }
        if dropsForSimulatedLoss() { return }
        handle(core.sendApplicationData(packet, now: .now()))
    }

    private func dropsForSimulatedLoss() -> Bool {
        let loss = configuration.simulatedDataChannelLoss
        guard loss > 0, Double.random(in: 0..<1, using: &random) < loss else { return false }
        simulatedDataChannelDrops += 1
        return true
    }

    func handleDataChannelEvent(_ event: DataChannelControllerEvent) {
        switch event {
        case .associationEstablished: continuation.yield(.dataChannelsConnected)
        case .channelOpened(let channel): continuation.yield(.dataChannelOpened(channel))
        case .associationClosed(let reason): continuation.yield(.dataChannelsClosed(reason))
        case .channelClosed, .dropped: break  // on the channel's own events, and counted
        }
    }
}
