// swift-tools-version:6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "pod-arcade",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "STUNCore", targets: ["STUNCore"]),
        .library(name: "ServerHost", targets: ["ServerHost"]),
        .library(name: "SignalingMQTT", targets: ["SignalingMQTT"]),
        .library(name: "ICEAgent", targets: ["ICEAgent"]),
        .library(name: "SecureMedia", targets: ["SecureMedia"]),
        .library(name: "DesktopHost", targets: ["DesktopHost"]),
        .executable(name: "pod-arcade-server", targets: ["pod-arcade-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // STUN/TURN wire types and sans-IO engines (RFC 8489, 8656, 5780, 8445 attributes).
        .target(
            name: "STUNCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // epoll/eventfd/accept4/send shims for the MQTT broker's TCP transport (Linux).
        .target(name: "CMQTTTransport"),
        // MQTT 3.1.1/5.0 codec, sans-IO broker and client, Pod Arcade topic rules.
        .target(
            name: "SignalingMQTT",
            dependencies: [
                "CMQTTTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // ICE (RFC 8445) sans-IO agent, candidates and SDP grammar (RFC 8839), TURN client
        // (RFC 8656), gathering, single-port UDP mux and the thin SwiftNIO transports.
        .target(
            name: "ICEAgent",
            dependencies: [
                "STUNCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // System libraries (Debian packages; module maps and inline shims in Sources/C*).
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CUsrsctp", pkgConfig: "usrsctp", providers: [.apt(["libusrsctp-dev"])]),
        // WebRTC media: SDP/JSEP (RFC 8866, 8829), DTLS-SRTP (OpenSSL, libsrtp2), RTP/RTCP,
        // H.264 and Opus packetizers, NACK/RTX, SCTP data channels (usrsctp), PeerConnection.
        .target(
            name: "SecureMedia",
            dependencies: [
                "ICEAgent", "STUNCore", "COpenSSL", "CSRTP", "CUsrsctp",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Desktop composition: media sources and encoders (H.264 access units, Opus via
        // libopus), sessions, input sinks.
        .target(
            name: "DesktopHost",
            dependencies: [
                "SecureMedia", "ICEAgent", "STUNCore", "COpus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // recvmmsg/sendmmsg declarations for the STUN server's batched UDP path (Linux).
        .target(name: "CUDPBatch"),
        // Server composition: configuration, STUN listener, MQTT broker service, HTTP(S) with the
        // WebSocket /mqtt endpoint, TLS material, OpenID Connect, metrics; serves WebClient/.
        .target(
            name: "ServerHost",
            dependencies: [
                "STUNCore", "CUDPBatch", "SignalingMQTT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("WebClient")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "pod-arcade-server",
            dependencies: ["ServerHost"],
            swiftSettings: strict
        ),
        // A command-line ICE agent (JSON-lines signaling on stdin/stdout) that the interop,
        // network-namespace and benchmark scripts pair with aioice or with itself.
        .executableTarget(
            name: "ice-peer",
            dependencies: [
                "ICEAgent", "STUNCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Single-port benchmarks (make bench-ice): sessions on one UDPMux, demultiplexing cost.
        .executableTarget(
            name: "ice-bench",
            dependencies: [
                "ICEAgent", "STUNCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/ice-bench",
            swiftSettings: strict
        ),
        // A command-line WebRTC answerer (JSON-lines signaling) streaming a clip and a tone: the
        // media interop tests pair it with aiortc and headless Chromium.
        .executableTarget(
            name: "webrtc-peer",
            dependencies: [
                "SecureMedia", "DesktopHost", "ICEAgent", "STUNCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // The MQTT broker core's cost per PUBLISH without sockets (Docs/benchmarks.md).
        .executableTarget(
            name: "mqtt-core-bench",
            dependencies: ["SignalingMQTT", .product(name: "NIOCore", package: "swift-nio")],
            path: "Benchmarks/mqtt-core-bench",
            swiftSettings: strict
        ),
        // Send-path benchmark (make bench-media): ours against a bare libsrtp protect loop.
        .executableTarget(
            name: "media-bench",
            dependencies: [
                "SecureMedia", "DesktopHost", "CSRTP",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/media-bench",
            swiftSettings: strict
        ),
        .testTarget(
            name: "STUNCoreTests",
            dependencies: ["STUNCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ICEAgentTests",
            dependencies: [
                "ICEAgent", "STUNCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SecureMediaTests",
            dependencies: [
                "SecureMedia", "ICEAgent", "STUNCore", "COpenSSL", "CSRTP", "CUsrsctp",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DesktopHostTests",
            dependencies: ["DesktopHost", "COpus"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SignalingMQTTTests",
            dependencies: ["SignalingMQTT", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ServerHostTests",
            dependencies: [
                "ServerHost", "STUNCore", "SignalingMQTT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
    ]
)
