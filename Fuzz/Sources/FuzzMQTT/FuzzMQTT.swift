// libFuzzer target for the SignalingMQTT packet codec (MQTT 3.1.1 and 5.0).
//
// The input is a byte stream as one direction of a TCP connection would carry it. Every property
// below is checked with `check` (a `precondition` whose message survives -O), so a violation is a
// crash that libFuzzer reports and saves with its input. Properties:
//
//  1. `MQTTPacketDecoder` over the stream never crashes, with the version unknown (server side:
//     the first CONNECT sets it), MQTT 3.1.1 and MQTT 5.0, each with the spec maximum packet size
//     and with a small one (64 bytes). Every decoded packet consumed at least one byte and at most
//     the maximum; after CONNECT an unknown version is the CONNECT's. Every error's offset lies
//     within the bytes that were left.
//  2. Every decoded packet encodes (with the CONNECT's own version, else the decoder's), and the
//     bytes decode, as one whole packet, to an equal packet; encoding that again gives the same
//     bytes (encode ∘ decode ∘ encode = encode).
//  3. The result does not depend on how the stream is cut: the same input in two pieces, and in
//     pieces of 1–7 bytes, gives the same packets and the same error code.
//  4. With the small maximum the packets are a prefix of those with the spec maximum, and the
//     run ends with packetTooLarge exactly when the spec-maximum run decodes a bigger packet there.
//  5. `MQTTPacket(decoding:version:)` on the whole input agrees with the stream decoder.
//  6. A broker fed the input as the stream of a connected publisher (3.1.1 and 5.0, after one
//     plain PUBLISH that records a forward route, whole and cut in two) never crashes, and gives
//     its three subscribers byte for byte what a broker without forward routes gives them, closes
//     the same connections and counts the same (`MQTTBrokerConfiguration.forwardsRepeatedMessages`).
//
// FUZZ_MQTT_VERBOSE=1 prints what each input decoded to (for triage: run the binary on files).

import NIOCore
import SignalingMQTT

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

private let verbose: Bool = {
    guard let value = getenv("FUZZ_MQTT_VERBOSE") else { return false }
    return String(cString: value) == "1"
}()
private let smallMaximum = 64
private let versions: [MQTTProtocolVersion?] = [nil, .v3_1_1, .v5]

/// `precondition`, except that the message is printed in release builds too.
@inline(__always)
private func check(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

private func log(_ text: @autoclosure () -> String) {
    if verbose { print("FuzzMQTT: " + text()) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for version in versions {
        let whole = run([bytes], version: version, maximum: MQTTPacketDecoder.specMaximumPacketSize)
        log(
            "\(version?.description ?? "no version"): \(whole.packets.count) packet(s), then \(whole.error.map { "\($0)" } ?? "EOF")"
        )
        for (packet, packetVersion) in zip(whole.packets, whole.versions) {
            checkRoundTrip(packet, version: packetVersion, raw: bytes)
        }
        checkSplits(bytes, version: version, whole: whole)
        checkSmallMaximum(bytes, version: version, whole: whole)
        checkOneShot(bytes, version: version, whole: whole)
    }
    for version in [MQTTProtocolVersion.v3_1_1, .v5] {
        checkForwardRoute(bytes, version: version)
    }
    return 0
}

/// Property 6: the forward route changes nothing a subscriber sees.
private func checkForwardRoute(_ bytes: [UInt8], version: MQTTProtocolVersion) {
    for cut in [nil, bytes.count / 2] {
        let with = BrokerRun(bytes, version: version, forwards: true, cut: cut)
        let without = BrokerRun(bytes, version: version, forwards: false, cut: cut)
        for index in 0..<3 {
            check(
                with.delivered[index] == without.delivered[index],
                "\(version), cut \(cut.map(String.init) ?? "none"): subscriber \(index) got \(with.delivered[index].count) bytes with forward routes, \(without.delivered[index].count) without")
        }
        check(with.closed == without.closed, "\(version): closed \(with.closed) with forward routes, \(without.closed) without")
        check(
            with.statistics == without.statistics,
            "\(version): statistics \(with.statistics) with forward routes, \(without.statistics) without")
    }
}

/// One broker: subscribers 1 and 2 (the publisher's version, on `#` and `+/+`), subscriber 3
/// (the other version, on `a/#`), then the publisher (connection 4) sends a PUBLISH to `a/b` and
/// the input.
private struct BrokerRun {
    var delivered: [[UInt8]] = [[], [], []]
    var closed: Set<UInt64> = []
    var statistics = MQTTBrokerStatistics()

    init(_ input: [UInt8], version: MQTTProtocolVersion, forwards: Bool, cut: Int?) {
        var broker = MQTTBroker(
            configuration: MQTTBrokerConfiguration(maximumPacketSize: 4096, forwardsRepeatedMessages: forwards),
            policy: OpenBrokerPolicy())
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let other: MQTTProtocolVersion = version == .v5 ? .v3_1_1 : .v5
        let setup: [(version: MQTTProtocolVersion, filter: String?)] = [(version, "#"), (version, "+/+"), (other, "a/#"), (version, nil)]
        for (index, client) in setup.enumerated() {
            let id = MQTTConnectionID(UInt64(index + 1))
            broker.connectionOpened(id, now: now)
            var packets: [MQTTPacket] = [
                .connect(MQTTConnect(version: client.version, cleanStart: true, keepAlive: 0, clientID: "c\(index)"))
            ]
            if let filter = client.filter {
                let options = MQTTSubscriptionOptions(qos: .atMostOnce, noLocal: false, retainAsPublished: false, retainHandling: 0)
                packets.append(.subscribe(MQTTSubscribe(packetID: 1, subscriptions: [MQTTSubscription(filter: filter, options: options)])))
            } else {
                packets.append(.publish(MQTTPublish(
                    topic: "a/b", payload: ByteBuffer(string: "first"), qos: .atMostOnce, retain: false, dup: false, packetID: nil,
                    properties: MQTTProperties())))
            }
            for packet in packets {
                var buffer = ByteBuffer()
                try! packet.encode(into: &buffer, version: client.version)
                broker.receive(id, &buffer, now: now)
                drain(&broker, now: now)
            }
        }
        let publisher = MQTTConnectionID(4)
        let pieces = cut.map { [Array(input[..<$0]), Array(input[$0...])] } ?? [input]
        for piece in pieces {
            var buffer = ByteBuffer(bytes: piece)
            broker.receive(publisher, &buffer, now: now)
            drain(&broker, now: now)
        }
        statistics = broker.statistics
    }

    mutating func drain(_ broker: inout MQTTBroker<OpenBrokerPolicy>, now: NIODeadline) {
        while let output = broker.pollOutput() {
            switch output {
            case .send(let id, let buffer):
                let index = Int(id.rawValue) - 1
                // The subscribers' bytes after their CONNACK and SUBACK (the same in both runs).
                if index < 3 { delivered[index] += buffer.readableBytesView }
            case .close(let id):
                closed.insert(id.rawValue)
                broker.connectionClosed(id, now: now)
            case .authenticate(let id, _):
                broker.completeAuthentication(id, accepted: .success(()), now: now)
            case .event:
                break
            }
        }
    }
}

/// What a decoder made of a stream: the packets, the version each was decoded with, how many bytes
/// each took, and the error that ended it (nil: clean EOF).
private struct Run {
    var packets: [MQTTPacket] = []
    var versions: [MQTTProtocolVersion] = []
    var sizes: [Int] = []
    var error: MQTTDecodingError?
}

private func run(_ pieces: [[UInt8]], version: MQTTProtocolVersion?, maximum: Int) -> Run {
    var decoder = MQTTPacketDecoder(version: version, maximumPacketSize: maximum)
    var buffer = ByteBuffer()
    var result = Run()
    func drain(last: Bool) throws(MQTTDecodingError) {
        while true {
            let before = buffer.readableBytes
            let versionBefore = decoder.version
            let next =
                last ? try decoder.decodeLast(buffer: &buffer, seenEOF: true) : try decoder.decode(buffer: &buffer)
            guard let packet = next else { return }
            let consumed = before - buffer.readableBytes
            check(consumed > 0, "a packet without consuming bytes")
            check(consumed <= maximum, "a \(consumed)-byte packet over the \(maximum)-byte maximum")
            var packetVersion: MQTTProtocolVersion
            if case .connect(let connect) = packet {
                packetVersion = connect.version
                check(decoder.version == (versionBefore ?? connect.version), "CONNECT set the wrong version")
            } else {
                guard let known = versionBefore else { fatalError("a \(packet.kind) without a version") }
                packetVersion = known
                check(decoder.version == known, "a \(packet.kind) changed the version")
            }
            result.packets.append(packet)
            result.versions.append(packetVersion)
            result.sizes.append(consumed)
        }
    }
    do throws(MQTTDecodingError) {
        for piece in pieces {
            buffer.writeBytes(piece)
            try drain(last: false)
        }
        try drain(last: true)
        check(buffer.readableBytes == 0, "decodeLast(seenEOF: true) left bytes without throwing")
    } catch {
        check(
            error.offset >= 0 && error.offset <= max(buffer.readableBytes, 1),
            "error offset \(error.offset) outside \(buffer.readableBytes) bytes: \(error)")
        check(!error.field.isEmpty, "an error without a field")
        _ = error.description
        _ = error.reasonCode
        result.error = error
    }
    return result
}

private func checkRoundTrip(_ packet: MQTTPacket, version: MQTTProtocolVersion, raw: [UInt8]) {
    let encoded: ByteBuffer
    do {
        encoded = try packet.encoded(version: version)
    } catch {
        fatalError("a decoded packet does not encode: \(error)\n  packet: \(packet)\n  in: \(hex(raw))")
    }
    let again: MQTTPacket
    do {
        again = try MQTTPacket(decoding: encoded, version: version)
    } catch {
        fatalError(
            "a re-encoded packet does not decode: \(error)\n  out: \(hex(Array(encoded.readableBytesView)))\n  in: \(hex(raw))"
        )
    }
    check(again == packet, "the round trip changed the packet\n  \(packet)\n  \(again)\n  in: \(hex(raw))")
    let reencoded = try? again.encoded(version: version)
    check(reencoded == encoded, "encoding is not canonical\n  in: \(hex(raw))")
}

private func checkSplits(_ bytes: [UInt8], version: MQTTProtocolVersion?, whole: Run) {
    guard bytes.count >= 2 else { return }
    let split = Int(bytes[bytes.count - 1]) % bytes.count
    let two = run(
        [Array(bytes[..<split]), Array(bytes[split...])], version: version,
        maximum: MQTTPacketDecoder.specMaximumPacketSize)
    check(
        two.packets == whole.packets && two.error?.code == whole.error?.code,
        "the result depends on a split at \(split)")
    var pieces: [[UInt8]] = []
    var index = 0
    var step = Int(bytes[0] % 7) + 1
    while index < bytes.count {
        pieces.append(Array(bytes[index..<min(bytes.count, index + step)]))
        index += step
        step = step % 7 + 1
    }
    let small = run(pieces, version: version, maximum: MQTTPacketDecoder.specMaximumPacketSize)
    check(
        small.packets == whole.packets && small.error?.code == whole.error?.code, "the result depends on small pieces")
}

private func checkSmallMaximum(_ bytes: [UInt8], version: MQTTProtocolVersion?, whole: Run) {
    // Plain locals: swift-frontend 6.3.1 crashed in CopyPropagation (-O, ASan) on a version of this
    // function that used optional chains inside the `check` autoclosures.
    let limited = run([bytes], version: version, maximum: smallMaximum)
    let count = limited.packets.count
    let limitedCode: MQTTDecodingError.Code? = limited.error?.code
    let wholeCode: MQTTDecodingError.Code? = whole.error?.code
    var prefixMatches = count <= whole.packets.count
    if prefixMatches {
        for index in 0..<count where whole.packets[index] != limited.packets[index] { prefixMatches = false }
    }
    check(prefixMatches, "a small maximum changed the packets")
    if count < whole.packets.count {
        let size = whole.sizes[count]
        let tooLarge = limitedCode == .packetTooLarge
        check(tooLarge && size > smallMaximum, "the small maximum stopped at a packet of \(size) bytes")
    } else if limitedCode == .packetTooLarge {
        let failed = wholeCode != nil
        check(failed, "packetTooLarge under the small maximum where the spec maximum reached EOF cleanly")
    } else {
        let same = limitedCode == wholeCode
        check(same, "a small maximum changed the error")
    }
}

private func checkOneShot(_ bytes: [UInt8], version: MQTTProtocolVersion?, whole: Run) {
    let single = try? MQTTPacket(decoding: ByteBuffer(bytes: bytes), version: version)
    if let single {
        check(whole.packets == [single] && whole.error == nil, "one-shot decoding disagrees with the stream decoder")
    } else {
        check(
            !(whole.packets.count == 1 && whole.error == nil),
            "the stream decoder found exactly one packet, one-shot did not")
    }
}

private func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var out = ""
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0xF)])
    }
    return out
}
