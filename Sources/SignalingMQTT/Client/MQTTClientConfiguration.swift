public import NIOCore
public import NIOSSL

/// Everything an ``MQTTClient`` needs, with defaults for all but the URL and client id.
public struct MQTTClientConfiguration: Sendable {
    /// Where to connect; see ``MQTTClientURL`` for the accepted forms.
    public var url: MQTTClientURL
    /// The Client Identifier, e.g. `desktop:<id>`. Empty asks the broker to assign one (MQTT 5.0,
    /// or 3.1.1 with ``cleanStart``).
    public var clientID: String
    public var username: String?
    public var password: [UInt8]?
    /// Published by the broker if the connection ends without DISCONNECT.
    public var will: MQTTWill?
    /// Keep Alive (whole seconds on the wire); zero turns it off.
    public var keepAlive: TimeAmount
    /// MQTT 3.1.1 by default: every broker speaks it, and the client uses nothing 5.0 adds.
    public var version: MQTTProtocolVersion
    /// Clean Start / Clean Session on every connection. With the default `true` the client
    /// re-subscribes after each reconnect.
    public var cleanStart: Bool
    /// MQTT 5.0 Session Expiry Interval in seconds; nil sends none.
    public var sessionExpiryInterval: UInt32?
    /// TLS settings for `ssl://`, `mqtts://` and `wss://`; ignored otherwise.
    public var tls: MQTTClientTLSConfiguration
    /// From starting a connection (DNS, TCP, TLS, WebSocket upgrade) to CONNACK.
    public var connectTimeout: TimeAmount
    /// From PINGREQ to PINGRESP; longer means the connection is considered lost.
    public var pingTimeout: TimeAmount
    /// The reconnect schedule (0.5 s doubling to 30 s, 20 % jitter).
    public var reconnect: MQTTReconnectBackoff
    /// QoS 0 messages kept while reconnecting.
    public var offlineQueueLimit: Int
    /// The largest packet accepted from the broker, and the largest WebSocket frame.
    public var maximumPacketSize: Int

    /// - Parameters:
    ///   - url: the broker.
    ///   - clientID: the Client Identifier.
    ///   - username: the User Name, if any.
    ///   - password: the Password as UTF-8, if any (MQTT 3.1.1 requires a user name with it).
    ///   - will: the Will Message, if any.
    ///   - keepAlive: default 60 s.
    ///   - version: default MQTT 3.1.1.
    ///   - tls: default: system trust roots, full verification.
    public init(
        url: MQTTClientURL, clientID: String, username: String? = nil, password: String? = nil, will: MQTTWill? = nil,
        keepAlive: TimeAmount = .seconds(60), version: MQTTProtocolVersion = .v3_1_1,
        tls: MQTTClientTLSConfiguration = MQTTClientTLSConfiguration()
    ) {
        self.url = url
        self.clientID = clientID
        self.username = username
        self.password = password.map { Array($0.utf8) }
        self.will = will
        self.keepAlive = keepAlive
        self.version = version
        self.cleanStart = true
        self.sessionExpiryInterval = nil
        self.tls = tls
        self.connectTimeout = .seconds(10)
        self.pingTimeout = .seconds(10)
        self.reconnect = MQTTReconnectBackoff()
        self.offlineQueueLimit = 1024
        self.maximumPacketSize = 1 << 24
    }

    /// The state machine's share of the settings.
    func stateMachineConfiguration(randomSeed: UInt64) -> MQTTClientStateMachine.Configuration {
        MQTTClientStateMachine.Configuration(
            clientID: clientID, username: username, password: password, will: will, keepAlive: keepAlive,
            version: version, cleanStart: cleanStart, sessionExpiryInterval: sessionExpiryInterval,
            connectTimeout: connectTimeout, pingTimeout: pingTimeout, backoff: reconnect,
            offlineQueueLimit: offlineQueueLimit, maximumPacketSize: maximumPacketSize, randomSeed: randomSeed)
    }
}

/// How the client checks the broker's certificate.
public struct MQTTClientTLSConfiguration: Sendable {
    /// The certificate authorities to trust; `.default` is the system's, `.file(path)` a PEM bundle,
    /// `.certificates([...])` loaded certificates.
    public var trustRoots: NIOSSLTrustRoots
    /// Accept any certificate, for self-signed test servers only: the connection is encrypted
    /// but anyone on the path can impersonate the broker.
    public var insecureSkipVerify: Bool
    /// The name to send in SNI and to match the certificate against; default the URL's host (no
    /// SNI for an IP address, whose certificate must then name that IP).
    public var serverName: String?

    public init(trustRoots: NIOSSLTrustRoots = .default, insecureSkipVerify: Bool = false, serverName: String? = nil) {
        self.trustRoots = trustRoots
        self.insecureSkipVerify = insecureSkipVerify
        self.serverName = serverName
    }

    /// Trusts the certificates in a PEM file (in addition to none of the system's).
    public static func trusting(pemFile path: String) -> Self {
        Self(trustRoots: .file(path))
    }

    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = trustRoots
        if insecureSkipVerify { configuration.certificateVerification = .none }
        return try NIOSSLContext(configuration: configuration)
    }
}
