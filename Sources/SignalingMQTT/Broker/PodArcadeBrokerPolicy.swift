/// The broker policy of Pod Arcade (protocol.md): identities from client ids, the publish and
/// subscribe rules of ``PodArcadeAccessPolicy``, and retained session topics cleared when the
/// client that set them goes away.
public struct PodArcadeBrokerPolicy: MQTTBrokerPolicy {
    public let access: PodArcadeAccessPolicy

    public init(access: PodArcadeAccessPolicy = PodArcadeAccessPolicy()) {
        self.access = access
    }

    public func identity(for connect: MQTTConnect) -> Result<PodArcadeIdentity, MQTTReasonCode> {
        switch access.identity(clientID: connect.clientID, username: connect.username) {
        case .success(let identity): return .success(identity)
        case .failure(let error): return .failure(MQTTReasonCode(rawValue: error.reasonCodeRawValue))
        }
    }

    /// The CONNACK reason code for a refused CONNECT (the broker turns it into a 3.1.1 return
    /// code for 3.1.1 clients).
    ///
    /// Credential errors (0x86 Bad User Name or Password) become 0x87 Not Authorized for MQTT
    /// 3.1.1 clients, so that they get return code 5 rather than 4: the original web client
    /// speaks 3.1.1 and shows its password prompt only for code 5, which the original server
    /// sends for a wrong key (or a refused id token).
    public func refusalCode(for error: PodArcadeAccessError, version: MQTTProtocolVersion) -> MQTTReasonCode {
        if version == .v3_1_1 && error.isBadUserNameOrPassword { return .notAuthorized }
        return MQTTReasonCode(rawValue: error.reasonCodeRawValue)
    }

    public var serverIdentity: PodArcadeIdentity { .server }

    public func mayPublish(_ identity: PodArcadeIdentity, topic: MQTTTopicName) -> Bool {
        access.mayPublish(identity, topic: topic)
    }

    public func maySubscribe(_ identity: PodArcadeIdentity, filter: MQTTTopicFilter) -> Bool {
        access.maySubscribe(identity, filter: filter)
    }

    /// Everything below `desktops/<id>/sessions/<session>/` that a client retained.
    public func clearsRetainedOnDisconnect(_ identity: PodArcadeIdentity, topic: MQTTTopicName) -> Bool {
        switch PodArcadeTopic(topic) {
        case .sessionStatus?, .webrtcOffer?, .webrtcAnswer?, .offerIceCandidate?, .answerIceCandidate?, .sessionStat?:
            return true
        default:
            return false
        }
    }

    public func kind(of identity: PodArcadeIdentity) -> String {
        switch identity {
        case .desktop: "desktop"
        case .user: "user"
        case .server: "server"
        }
    }
}
