import Foundation
import Hummingbird
import HummingbirdTesting
import NIOSSL
import Prometheus
import SignalingMQTT
import Testing
import X509

@testable import ServerHost

@Suite struct WebRootTests {
    let root = WebRoot(files: [
        "index.html": .init(contents: Array("<html>".utf8), contentType: "text/html; charset=utf-8"),
        "app.js": .init(contents: Array("1".utf8), contentType: "text/javascript; charset=utf-8"),
        "css/site.css": .init(contents: Array("a{}".utf8), contentType: "text/css; charset=utf-8"),
        "docs/index.html": .init(contents: Array("<p>".utf8), contentType: "text/html; charset=utf-8"),
    ])

    @Test(arguments: [
        ("/", "index.html"), ("/index.html", "index.html"), ("/app.js", "app.js"), ("/app.js?v=3", "app.js"),
        ("/css/site.css", "css/site.css"), ("/css//site.css", "css/site.css"), ("/docs", "docs/index.html"),
        ("/docs/", "docs/index.html"), ("/%61pp.js", "app.js"),
    ])
    func existingFilesAreServed(target: String, file: String) {
        #expect(root.resolve(target: target) == .file(file))
    }

    @Test(arguments: ["/desktops/pa-desktop", "/session/abc/", "/settings?x=1#y"])
    func unknownPathsWithoutAnExtensionFallBackToTheIndex(target: String) {
        #expect(root.resolve(target: target) == .file("index.html"))
    }

    @Test(arguments: ["/missing.js", "/css/missing.css", "/favicon.ico"])
    func unknownFilesAreNotFound(target: String) {
        #expect(root.resolve(target: target) == .notFound)
    }

    @Test(arguments: [
        ("/../etc/passwd", WebRoot.RefusalReason.traversal), ("/css/../../etc/passwd", .traversal),
        ("/%2e%2e/etc/passwd", .traversal), ("/%2E%2E/%2E%2E/etc/passwd", .traversal), ("/.%2e/x", .traversal),
        ("/./index.html", .traversal), ("/..", .traversal),
        ("/..%2fetc%2fpasswd", .forbiddenCharacter), ("/..%5cwindows", .forbiddenCharacter), ("/a%00.js", .forbiddenCharacter),
        ("/a\\..\\b", .forbiddenCharacter),
        ("http://example.org/index.html", .notOriginForm), ("*", .notOriginForm), ("index.html", .notOriginForm),
        ("//etc/passwd", .absolutePath), ("//index.html", .absolutePath), ("/%zz", .badEncoding), ("/%2", .badEncoding), ("/%ff%fe", .badEncoding),
    ])
    func targetsThatTryToLeaveTheRootAreRefused(target: String, reason: WebRoot.RefusalReason) {
        #expect(root.resolve(target: target) == .refused(reason))
    }

    @Test(arguments: [
        ("index.html", "text/html; charset=utf-8"), ("a/b.js", "text/javascript; charset=utf-8"), ("x.CSS", "text/css; charset=utf-8"),
        ("m.json", "application/json"), ("i.svg", "image/svg+xml"), ("p.png", "image/png"), ("noext", "application/octet-stream"),
        ("f.woff2", "font/woff2"), ("w.wasm", "application/wasm"),
    ])
    func contentTypesFollowTheExtension(path: String, type: String) {
        #expect(WebRoot.contentType(forPath: path) == type)
    }

    @Test func aFolderIsReadWithRelativeNamesAndSymlinksOutOfItAreSkipped() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("webroot-\(UUID().uuidString)")
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString).txt")
        defer {
            try? FileManager.default.removeItem(at: folder)
            try? FileManager.default.removeItem(at: outside)
        }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("js"), withIntermediateDirectories: true)
        try Data("<html>".utf8).write(to: folder.appendingPathComponent("index.html"))
        try Data("x".utf8).write(to: folder.appendingPathComponent("js/app.js"))
        try Data("secret".utf8).write(to: outside)
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("leak.txt"), withDestinationURL: outside)
        let loaded = try WebRoot(directory: folder)
        #expect(Set(loaded.files.keys) == ["index.html", "js/app.js"])
        #expect(loaded.files["js/app.js"]?.contentType == "text/javascript; charset=utf-8")
        #expect(loaded.resolve(target: "/leak.txt") == .notFound)
    }

    @Test func thePlaceholderWebClientIsInTheResourceBundle() throws {
        let url = try #require(Bundle.module.url(forResource: "WebClient", withExtension: nil))
        let loaded = try WebRoot(directory: url)
        #expect(loaded.files["index.html"] != nil)
    }
}

@Suite struct ClientConfigDocumentTests {
    private func document(_ env: [String: String]) throws -> String {
        let configuration = try ServerConfiguration.resolve(flags: [:], environment: env, fileExists: { _ in true })
        return String(decoding: ClientConfigDocument(configuration: configuration).json(), as: UTF8.self)
    }

    @Test func withoutAuthenticationTheMethodIsNone() throws {
        #expect(try document([:]) == #"{"auth_method":"none","oidc_client_id":null,"oidc_server":null}"#)
    }

    @Test func aClientKeyMakesTheMethodPSKAndIsNeverShown() throws {
        let json = try document(["AUTH_REQUIRED": "true", "DESKTOP_PSK": "desk-secret", "CLIENT_PSK": "client-secret"])
        #expect(json == #"{"auth_method":"psk","oidc_client_id":null,"oidc_server":null}"#)
        #expect(!json.contains("secret"))
    }

    @Test func anIssuerWithoutAClientKeyMakesTheMethodOIDC() throws {
        let json = try document([
            "AUTH_REQUIRED": "true", "DESKTOP_PSK": "desk-secret", "OIDC_SERVER": "https://auth.example.org/realms/pod",
            "OIDC_CLIENT_ID": "pod-arcade",
        ])
        #expect(json == #"{"auth_method":"oidc","oidc_client_id":"pod-arcade","oidc_server":"https://auth.example.org/realms/pod"}"#)
    }

    @Test func aClientKeyWinsOverAnIssuer() throws {
        let json = try document([
            "AUTH_REQUIRED": "true", "DESKTOP_PSK": "d", "CLIENT_PSK": "c", "OIDC_SERVER": "https://auth.example.org",
            "OIDC_CLIENT_ID": "pod-arcade",
        ])
        #expect(json.hasPrefix(#"{"auth_method":"psk""#))
    }

    @Test func withoutAuthRequiredAnIssuerIsNotAdvertised() throws {
        let json = try document(["OIDC_SERVER": "https://auth.example.org", "OIDC_CLIENT_ID": "pod-arcade"])
        #expect(json.hasPrefix(#"{"auth_method":"none""#))
    }
}

@Suite struct TLSConfigurationTests {
    private func failure(_ env: [String: String]) -> ConfigurationError? {
        do {
            _ = try ServerConfiguration.resolve(flags: [:], environment: env, fileExists: { $0.hasPrefix("/exists") })
            return nil
        } catch {
            return error
        }
    }

    @Test func theTLSPortMayNotBeTheHTTPPort() {
        #expect(failure(["SERVE_TLS": "true", "HTTP_PORT": "9000", "TLS_PORT": "9000"])?.variable == "TLS_PORT")
        #expect(failure(["SERVE_TLS": "false", "HTTP_PORT": "9000", "TLS_PORT": "9000"]) == nil)
    }

    @Test func anIssuerNeedsAClientID() {
        #expect(failure(["OIDC_SERVER": "https://auth.example.org"])?.variable == "OIDC_CLIENT_ID")
        #expect(failure(["OIDC_SERVER": "ftp://auth.example.org", "OIDC_CLIENT_ID": "x"])?.variable == "OIDC_SERVER")
    }

    @Test func aGeneratedCertificateIsSelfSignedP256ForLoopback() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let (material, certificatePEM, keyPEM) = try TLSMaterial.generateSelfSigned(now: now)
        #expect(material.generated)
        let certificate = try Certificate(pemEncoded: certificatePEM)
        #expect(certificate.issuer == certificate.subject)
        #expect(certificate.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(certificate.notValidBefore <= now && certificate.notValidAfter > now.addingTimeInterval(300 * 86400))
        #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        let names = try #require(try certificate.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("localhost")))
        #expect(keyPEM.contains("PRIVATE KEY"))
        #expect(material.fingerprint.split(separator: ":").count == 32)
        // The material builds a working NIOSSL server context.
        _ = try NIOSSLContext(configuration: material.serverConfiguration)
    }

    @Test func pemFilesAreLoadedAndAMismatchedKeyNamesTLSKey() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (first, certificatePEM, keyPEM) = try TLSMaterial.generateSelfSigned(now: Date())
        let (_, _, otherKeyPEM) = try TLSMaterial.generateSelfSigned(now: Date())
        let cert = folder.appendingPathComponent("cert.pem"), key = folder.appendingPathComponent("key.pem")
        let other = folder.appendingPathComponent("other.pem"), garbage = folder.appendingPathComponent("garbage.pem")
        try Data(certificatePEM.utf8).write(to: cert)
        try Data(keyPEM.utf8).write(to: key)
        try Data(otherKeyPEM.utf8).write(to: other)
        try Data("not a pem".utf8).write(to: garbage)
        let loaded = try TLSMaterial.load(certificatePath: cert.path, keyPath: key.path)
        #expect(loaded.fingerprint == first.fingerprint)
        #expect(!loaded.generated)
        #expect(throws: ConfigurationError.self) { try TLSMaterial.load(certificatePath: cert.path, keyPath: other.path) }
        for (certPath, keyPath, variable) in [
            (cert.path, other.path, "TLS_KEY"), (garbage.path, key.path, "TLS_CERT"), (cert.path, garbage.path, "TLS_KEY"),
            (folder.appendingPathComponent("absent.pem").path, key.path, "TLS_CERT"),
        ] {
            do {
                _ = try TLSMaterial.load(certificatePath: certPath, keyPath: keyPath)
                Issue.record("\(certPath) with \(keyPath) was accepted")
            } catch {
                #expect(error.variable == variable)
            }
        }
    }
}

@Suite struct MetricsExporterTests {
    @Test func brokerTotalsAdvanceCountersByTheDifferenceAndClientsAreGauges() {
        let registry = PrometheusCollectorRegistry()
        let exporter = MetricsExporter(registry: registry, runtime: nil)
        var statistics = MQTTBrokerStatistics()
        statistics.messagesReceived = 5
        statistics.authenticationFailures = 2
        statistics.malformedPackets = 1
        exporter.apply(statistics: statistics, clients: ["desktop": 1, "user": 3], sessions: 4)
        statistics.messagesReceived = 7
        exporter.apply(statistics: statistics, clients: ["desktop": 2], sessions: 2)
        let text = registry.emitToString()
        #expect(text.contains(#"pod_arcade_mqtt_messages_total{direction="received"} 7"#))
        #expect(text.contains("pod_arcade_mqtt_auth_failures_total 2"))
        #expect(text.contains(#"pod_arcade_malformed_input_total{source="mqtt"} 1"#))
        #expect(text.contains(#"pod_arcade_mqtt_clients{kind="desktop"} 2"#))
        #expect(text.contains(#"pod_arcade_mqtt_clients{kind="user"} 0"#))
        #expect(text.contains("pod_arcade_desktops_online 2"))
        #expect(text.contains("pod_arcade_mqtt_sessions 2"))
    }

    @Test func sessionsAreCountedByTheirRetainedStatus() {
        let registry = PrometheusCollectorRegistry()
        let exporter = MetricsExporter(registry: registry, runtime: nil)
        exporter.apply(sessionStatuses: ["connected", "connecting", "connected", "bogus"])
        let text = registry.emitToString()
        #expect(text.contains(#"pod_arcade_sessions{status="connected"} 2"#))
        #expect(text.contains(#"pod_arcade_sessions{status="connecting"} 1"#))
        #expect(text.contains(#"pod_arcade_sessions{status="failed"} 0"#))
        #expect(!text.contains("bogus"))
    }

    @Test(arguments: [
        (["mqtt"], true), (["mqttv3.1, mqtt"], true), (["MQTT"], true), (["chat", " mqtt "], true), (["mqttv3.1"], false),
        ([], false), (["chat,superchat"], false),
    ])
    func theMQTTSubprotocolIsFoundInTheOfferedList(values: [String], offered: Bool) {
        #expect(MQTTWebSocketTransport.offersMQTT(values) == offered)
    }
}

@Suite struct HTTPResponderTests {
    private func application() throws -> Application<PodArcadeHTTPResponder> {
        let root = WebRoot(files: [
            "index.html": .init(contents: Array("<html>pod</html>".utf8), contentType: "text/html; charset=utf-8"),
            "app.js": .init(contents: Array("go()".utf8), contentType: "text/javascript; charset=utf-8"),
        ])
        let configuration = try ServerConfiguration.resolve(flags: [:], environment: [:])
        let responder = PodArcadeHTTPResponder(
            webRoot: root, clientConfig: ClientConfigDocument(configuration: configuration),
            metrics: MetricsExporter(registry: PrometheusCollectorRegistry(), runtime: nil))
        return Application(responder: responder)
    }

    @Test func routesAnswerWithTheirContentTypes() async throws {
        try await self.application().test(.router) { client in
            try await client.execute(uri: "/config.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(String(buffer: response.body).contains(#""auth_method":"none""#))
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                #expect(String(buffer: response.body).contains("pod_arcade_mqtt_sessions"))
            }
            try await client.execute(uri: "/app.js", method: .get) { response in
                #expect(response.headers[.contentType] == "text/javascript; charset=utf-8")
                #expect(String(buffer: response.body) == "go()")
            }
            try await client.execute(uri: "/desktops/one", method: .get) { response in
                #expect(String(buffer: response.body) == "<html>pod</html>")
            }
        }
    }

    @Test func refusedRequestsGetClientErrors() async throws {
        try await self.application().test(.router) { client in
            for uri in ["/%2e%2e/etc/passwd", "/../etc/passwd"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .badRequest, "\(uri)")
                }
            }
            try await client.execute(uri: "/nothing.js", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/mqtt", method: .get) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/", method: .post) { response in
                #expect(response.status == .methodNotAllowed)
            }
        }
    }
}
