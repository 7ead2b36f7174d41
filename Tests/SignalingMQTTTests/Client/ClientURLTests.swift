import SignalingMQTT
import Testing

/// `MQTT_HOST` URL parsing (config.md).
@Suite struct ClientURLTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        let text: String
        let transport: MQTTClientURL.Transport
        let tls: Bool
        let host: String
        let port: Int
        let path: String
        var testDescription: String { text }
    }

    static let valid: [Valid] = [
        Valid(text: "tcp://localhost:1883", transport: .tcp, tls: false, host: "localhost", port: 1883, path: ""),
        Valid(text: "tcp://localhost", transport: .tcp, tls: false, host: "localhost", port: 1883, path: ""),
        Valid(text: "mqtt://broker.example.org", transport: .tcp, tls: false, host: "broker.example.org", port: 1883, path: ""),
        Valid(text: "TCP://Broker:1884/", transport: .tcp, tls: false, host: "Broker", port: 1884, path: ""),
        Valid(text: "ssl://broker", transport: .tcp, tls: true, host: "broker", port: 8883, path: ""),
        Valid(text: "mqtts://broker:9883", transport: .tcp, tls: true, host: "broker", port: 9883, path: ""),
        Valid(text: "ws://host:8080/mqtt", transport: .webSocket, tls: false, host: "host", port: 8080, path: "/mqtt"),
        Valid(text: "ws://host", transport: .webSocket, tls: false, host: "host", port: 80, path: "/mqtt"),
        Valid(text: "ws://host/", transport: .webSocket, tls: false, host: "host", port: 80, path: "/"),
        Valid(text: "wss://host:8443/mqtt", transport: .webSocket, tls: true, host: "host", port: 8443, path: "/mqtt"),
        Valid(text: "wss://host", transport: .webSocket, tls: true, host: "host", port: 443, path: "/mqtt"),
        Valid(text: "wss://host/broker/ws?token=abc", transport: .webSocket, tls: true, host: "host", port: 443, path: "/broker/ws?token=abc"),
        Valid(text: "ws://host?x=1", transport: .webSocket, tls: false, host: "host", port: 80, path: "/mqtt?x=1"),
        Valid(text: "ws://host/mqtt#frag", transport: .webSocket, tls: false, host: "host", port: 80, path: "/mqtt"),
        Valid(text: "tcp://[::1]:1883", transport: .tcp, tls: false, host: "::1", port: 1883, path: ""),
        Valid(text: "wss://[2001:db8::1]/mqtt", transport: .webSocket, tls: true, host: "2001:db8::1", port: 443, path: "/mqtt"),
        Valid(text: "tcp://[fe80::1%25eth0]:1", transport: .tcp, tls: false, host: "fe80::1%25eth0", port: 1, path: ""),
        Valid(text: "tcp://192.0.2.7:65535", transport: .tcp, tls: false, host: "192.0.2.7", port: 65535, path: ""),
        Valid(text: "  tcp://localhost:1883\n", transport: .tcp, tls: false, host: "localhost", port: 1883, path: ""),
    ]

    @Test(arguments: valid)
    func everyDocumentedFormParses(_ expected: Valid) throws {
        let url = try MQTTClientURL(parsing: expected.text)
        #expect(url.transport == expected.transport)
        #expect(url.usesTLS == expected.tls)
        #expect(url.host == expected.host)
        #expect(url.port == expected.port)
        #expect(url.path == expected.path)
    }

    @Test(arguments: [
        ("localhost:1883", MQTTClientURLError.Code.missingScheme),
        ("", .missingScheme),
        ("http://host", .unsupportedScheme),
        ("mqtt+ws://host", .unsupportedScheme),
        ("tcp://user:pass@host", .userInfoNotAllowed),
        ("tcp://", .missingHost),
        ("tcp://:1883", .missingHost),
        ("ws:///mqtt", .missingHost),
        ("tcp://::1:1883", .invalidHost),
        ("tcp://[::1", .invalidHost),
        ("tcp://[::1]x", .invalidHost),
        ("tcp://[localhost]", .invalidHost),
        ("tcp://bad host", .invalidHost),
        ("tcp://host:0", .invalidPort),
        ("tcp://host:65536", .invalidPort),
        ("tcp://host:http", .invalidPort),
        ("tcp://host:+80", .invalidPort),
        ("tcp://host:", .invalidPort),
        ("tcp://host/mqtt", .pathNotAllowed),
        ("mqtts://host?x", .pathNotAllowed),
        ("ws://host/a b", .invalidPath),
    ])
    func malformedURLsAreRefusedNamingWhatIsWrong(text: String, code: MQTTClientURLError.Code) {
        do {
            let url = try MQTTClientURL(parsing: text)
            Issue.record("parsed as \(url)")
        } catch {
            #expect(error.code == code)
            #expect(error.url == text)
            #expect(error.description.contains("\"\(text)\""))
        }
    }

    @Test func theCanonicalFormBracketsIPv6AndNamesThePort() throws {
        #expect(try MQTTClientURL(parsing: "ws://[::1]").description == "ws://[::1]:80/mqtt")
        #expect(try MQTTClientURL(parsing: "mqtts://h").description == "ssl://h:8883")
    }

    @Test(arguments: [("localhost", false), ("127.0.0.1", true), ("::1", true), ("10.example", false)])
    func ipLiteralsAreRecognisedForSNI(host: String, isIP: Bool) {
        #expect(MQTTClientURL(transport: .tcp, usesTLS: true, host: host, port: 8883).hostIsIPAddress == isIP)
    }
}
