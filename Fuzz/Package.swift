// swift-tools-version:6.2
// Fuzz targets for STUNCore, the SignalingMQTT codec and ICEAgent, kept out of the main package so that
// the sanitizer flags and the libFuzzer entry point never reach the normal build. Build and run
// with Fuzz/fuzz-stun.sh and Fuzz/fuzz-mqtt.sh.
import PackageDescription

let package = Package(
    name: "pod-arcade-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "pod-arcade", path: ".."),
    ],
    targets: [
        // The Swift target defines only LLVMFuzzerTestOneInput (no Swift main); build it with
        // -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library.
        .executableTarget(
            name: "FuzzSTUN",
            dependencies: ["FuzzSTUNEntry", .product(name: "STUNCore", package: "pod-arcade")],
            path: "Sources/FuzzSTUN",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // SwiftPM links an executable's `main` to `FuzzSTUN_main`; this C shim defines it and
        // calls libFuzzer's LLVMFuzzerRunDriver (see entry.c).
        .target(name: "FuzzSTUNEntry", path: "Sources/FuzzSTUNEntry"),
        // The MQTT 3.1.1/5.0 packet codec (MQTTPacketDecoder, MQTTPacket.encode), built the same way.
        .executableTarget(
            name: "FuzzMQTT",
            dependencies: ["FuzzMQTTEntry", .product(name: "SignalingMQTT", package: "pod-arcade")],
            path: "Sources/FuzzMQTT",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(name: "FuzzMQTTEntry", path: "Sources/FuzzMQTTEntry"),
        // ICEAgent: candidate lines, the shared-port router, the agent's and the TURN client's
        // receive paths (Fuzz/fuzz-ice.sh).
        .executableTarget(
            name: "FuzzICE",
            dependencies: ["FuzzICEEntry", .product(name: "ICEAgent", package: "pod-arcade")],
            path: "Sources/FuzzICE",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(name: "FuzzICEEntry", path: "Sources/FuzzICEEntry"),
    ]
)
