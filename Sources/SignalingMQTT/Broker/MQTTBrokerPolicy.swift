/// What the broker asks its embedder: who a client is, and what it may do.
///
/// Authentication (checking credentials) is asynchronous and happens outside the sans-IO
/// broker: it emits ``MQTTBrokerOutput/authenticate(_:_:)`` and waits for
/// ``MQTTBroker/completeAuthentication(_:accepted:now:)``.
public protocol MQTTBrokerPolicy: Sendable {
    associatedtype Identity: Hashable & Sendable

    /// Classifies a CONNECT before its credentials are checked.
    /// - Returns: the identity, or the CONNACK reason code to refuse with
    ///   (e.g. clientIdentifierNotValid).
    func identity(for connect: MQTTConnect) -> Result<Identity, MQTTReasonCode>

    /// The identity used for messages the server publishes in process.
    var serverIdentity: Identity { get }

    func mayPublish(_ identity: Identity, topic: MQTTTopicName) -> Bool
    func maySubscribe(_ identity: Identity, filter: MQTTTopicFilter) -> Bool

    /// Retained topics published by a connection that must be cleared when it goes away
    /// (protocol.md: retained session topics).
    func clearsRetainedOnDisconnect(_ identity: Identity, topic: MQTTTopicName) -> Bool

    /// A label for statistics, e.g. "desktop" or "user".
    func kind(of identity: Identity) -> String
}

/// A policy that lets everyone do everything: a plain MQTT broker.
public struct OpenBrokerPolicy: MQTTBrokerPolicy {
    public init() {}
    public func identity(for connect: MQTTConnect) -> Result<String, MQTTReasonCode> { .success(connect.clientID) }
    public var serverIdentity: String { "$server" }
    public func mayPublish(_ identity: String, topic: MQTTTopicName) -> Bool { true }
    public func maySubscribe(_ identity: String, filter: MQTTTopicFilter) -> Bool { true }
    public func clearsRetainedOnDisconnect(_ identity: String, topic: MQTTTopicName) -> Bool { false }
    public func kind(of identity: String) -> String { "client" }
}

/// Reason codes double as errors where a result either succeeds or fails with one.
extension MQTTReasonCode: Error {}
