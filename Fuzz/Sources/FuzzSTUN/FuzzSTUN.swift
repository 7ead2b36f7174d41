// libFuzzer target for the STUNCore decoders (RFC 8489, RFC 8656 ChannelData and stream framing).
//
// Every property below is checked with `check` (a `precondition` whose message survives -O), so
// a violation is a crash that libFuzzer reports and saves with its input. Properties:
//
//  1. `StunMessage(decoding:requireMagicCookie:)` never crashes, for both flag values; whatever
//     decodes with the cookie required also decodes without it, to the same message.
//  2. A decoded message, with its integrity and FINGERPRINT attributes left out, encodes to bytes that decode to the same
//     message, and encoding is canonical (encode ∘ decode ∘ encode = encode).
//     The same message re-encoded with FINGERPRINT, MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256
//     computed by the encoder decodes, carries those attributes and is authentic for the key.
//  3. `isAuthentic(key:)`, `unknownComprehensionRequired`, `duplicateAttributeTypes` and the
//     accessors do not crash and agree with the attribute list.
//  4. `ChannelData(decoding:)` round-trips, padded and unpadded.
//  5. `StunStreamFramer` over the input as a stream always makes progress, cuts only frames that
//     look like STUN / valid ChannelData, and cuts the same frames when the stream arrives in
//     two pieces.
//  6. `BindingResponder.handle(_:from:)` answers only requests, and every answer decodes as a
//     response with the request's transaction id.
//
// The encoder never copies MESSAGE-INTEGRITY(-SHA256) or FINGERPRINT values from a decoded
// message; it computes them from its arguments, so re-encoding a decoded message always
// yields bytes that decode (check 2).
//
// FUZZ_STUN_VERBOSE=1 prints what each input decoded to (for triage: run the binary on files).

import NIOCore
import STUNCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private let fixedKey = StunKey(bytes: Array("VOkJxbRl1RmTxUk/WvJxBt".utf8))
private let otherKey = StunKey(bytes: Array("not the key".utf8))
private let sourceV4 = TransportAddress(ip: .v4(0xC000_0201), port: 32853)
private let sourceV6 = TransportAddress(ip: .v6(0x2001_0DB8_1234_5678, 0x0011_2233_4455_6677), port: 32853)
private let verbose: Bool = {
    guard let value = getenv("FUZZ_STUN_VERBOSE") else { return false }
    return String(cString: value) == "1"
}()

/// `precondition`, except that the message is printed in release builds too (-O drops the
/// messages of `precondition`, not those of `fatalError`).
@inline(__always)
private func check(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

private func failure(_ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError(message(), file: file, line: line)
}

private func log(_ text: @autoclosure () -> String) {
    if verbose { print("FuzzSTUN: " + text()) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    fuzzMessage(bytes)
    fuzzChannelData(bytes)
    fuzzFramer(bytes)
    fuzzResponder(bytes)
    return 0
}

// MARK: - StunMessage

private func fuzzMessage(_ bytes: [UInt8]) {
    _ = StunMessage.looksLikeStun(bytes)
    var strict: StunMessage?
    do {
        strict = try StunMessage(decoding: bytes, requireMagicCookie: true)
    } catch {
        _ = error.description
    }
    let lenient: StunMessage
    do {
        lenient = try StunMessage(decoding: bytes, requireMagicCookie: false)
    } catch {
        _ = error.description
        log("message: \(error)")
        check(strict == nil, "decodes with the cookie required but not without: \(error)")
        return
    }
    if let strict {
        check(strict == lenient, "requireMagicCookie changed the decoded message")
        check(strict.hasMagicCookie, "decoded with the cookie required but hasMagicCookie is false")
        check(StunMessage.looksLikeStun(bytes), "decodes but looksLikeStun is false")
    } else {
        check(!lenient.hasMagicCookie, "has the cookie but failed with requireMagicCookie")
    }
    // The ByteBuffer entry point must agree with the array one.
    let viaBuffer = try? StunMessage(decoding: ByteBuffer(bytes: bytes), requireMagicCookie: false)
    check(viaBuffer == lenient, "ByteBuffer and [UInt8] decoding disagree")
    log("message: \(lenient) cookie=\(lenient.hasMagicCookie) ignored=\(lenient.ignoredAttributeCount)")
    checkMessage(lenient, raw: bytes)
}

private func checkMessage(_ message: StunMessage, raw: [UInt8]) {
    // Queries.
    _ = message.description
    _ = message.type
    _ = message.xorMappedAddress?.description
    _ = message.mappedAddress?.description
    _ = message.username
    _ = message.realm
    _ = message.nonce
    _ = message.software
    _ = message.errorCode?.description
    _ = message.hasFingerprint
    let types = message.attributes.map(\.type)
    for type in message.unknownComprehensionRequired {
        check(type.isComprehensionRequired && types.contains(type), "bad unknownComprehensionRequired \(type)")
    }
    let duplicates = message.duplicateAttributeTypes
    check(Set(duplicates).count == duplicates.count, "duplicateAttributeTypes repeats a type")
    for type in duplicates {
        check(types.filter { $0 == type }.count >= 2, "bad duplicateAttributeTypes \(type)")
    }
    // The decoder keeps nothing after FINGERPRINT, and after MESSAGE-INTEGRITY only
    // MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (RFC 8489 §14.5–§14.7).
    if let index = types.firstIndex(of: .fingerprint) {
        check(index == types.count - 1, "attribute kept after FINGERPRINT")
    }
    if let index = types.firstIndex(of: .messageIntegrity) {
        check(
            types[(index + 1)...].allSatisfy { $0 == .messageIntegritySHA256 || $0 == .fingerprint },
            "attribute kept after MESSAGE-INTEGRITY")
    }
    if let index = types.firstIndex(of: .messageIntegritySHA256) {
        check(types[(index + 1)...].allSatisfy { $0 == .fingerprint }, "attribute kept after MESSAGE-INTEGRITY-SHA256")
    }

    // Integrity with a key that almost certainly does not match; must not crash.
    let authentic = message.isAuthentic(key: fixedKey)
    if authentic { check(message.hasIntegrity, "authentic without an integrity attribute") }

    // Round trip without the integrity and fingerprint attributes: the encoder never copies
    // them from `attributes`, it computes them from its arguments.
    var plain = message
    plain.attributes.removeAll { [.fingerprint, .messageIntegrity, .messageIntegritySHA256].contains($0.type) }
    let encoded = plain.encoded()
    check(encoded.count >= 20 && encoded.count % 4 == 0, "encoded length \(encoded.count)")
    let again: StunMessage
    do {
        again = try StunMessage(decoding: encoded, requireMagicCookie: plain.hasMagicCookie)
    } catch {
        failure("re-encoded message does not decode: \(error)\n  in:  \(hex(raw))\n  out: \(hex(encoded))")
    }
    check(again == plain, "round trip changed the message\n  in:  \(hex(raw))\n  out: \(hex(encoded))")
    check(again.encoded() == encoded, "encoding is not canonical\n  in:  \(hex(raw))")
    check(!again.hasIntegrity, "integrity appeared from nowhere")

    // Re-encode with the encoder computing integrity and fingerprint; needs the message to be
    // free of those attributes, and to stay under the 16-bit length.
    var bare = plain
    bare.attributes.removeAll { $0.type == .messageIntegrity || $0.type == .messageIntegritySHA256 }
    let sealed = bare.encoded(messageIntegrity: fixedKey, messageIntegritySHA256: fixedKey, fingerprint: true)
    guard sealed.count - 20 <= 0xFFFF else { return }
    let opened: StunMessage
    do {
        opened = try StunMessage(decoding: sealed, requireMagicCookie: bare.hasMagicCookie)
    } catch {
        failure("sealed message does not decode: \(error)\n  in:  \(hex(raw))\n  out: \(hex(sealed))")
    }
    let n = bare.attributes.count
    check(opened.attributes.count == n + 3, "sealed message has \(opened.attributes.count) attributes, not \(n + 3)")
    check(Array(opened.attributes[0..<n]) == bare.attributes, "sealed message changed the attributes")
    check(opened.attributes[n].type == .messageIntegrity, "no MESSAGE-INTEGRITY")
    check(opened.attributes[n + 1].type == .messageIntegritySHA256, "no MESSAGE-INTEGRITY-SHA256")
    check(opened.attributes[n + 2].type == .fingerprint, "no FINGERPRINT")
    check(opened.isAuthentic(key: fixedKey), "sealed message is not authentic\n  in:  \(hex(raw))")
    check(!opened.isAuthentic(key: otherKey), "sealed message is authentic for the wrong key")
}

// MARK: - ChannelData

private func fuzzChannelData(_ bytes: [UInt8]) {
    let message: ChannelData
    do {
        message = try ChannelData(decoding: bytes)
    } catch {
        _ = error.description
        log("channelData: \(error)")
        return
    }
    log("channelData: channel 0x\(String(message.channel, radix: 16)) \(message.data.count) bytes")
    check(ChannelData.validChannels.contains(message.channel), "channel out of range")
    check(ChannelData.looksLikeChannelData(firstByte: bytes[0]), "decoded but first byte is not ChannelData")
    for padded in [false, true] {
        let encoded = message.encoded(padded: padded)
        if padded { check(encoded.count % 4 == 0, "padded ChannelData not a multiple of 4") }
        do {
            let again = try ChannelData(decoding: encoded)
            check(again == message, "ChannelData round trip changed the message")
        } catch {
            failure("re-encoded ChannelData does not decode: \(error) in: \(hex(bytes))")
        }
    }
}

// MARK: - StunStreamFramer

private func fuzzFramer(_ bytes: [UInt8]) {
    let whole = frames(of: [bytes])
    // The same stream in two pieces, split where the input says (the byte after the first
    // frame header is as good a choice as any), must give the same frames.
    if bytes.count >= 2 {
        let split = Int(bytes[bytes.count - 1]) % bytes.count
        let pieces = [Array(bytes[..<split]), Array(bytes[split...])]
        let twoPieces = frames(of: pieces)
        check(
            twoPieces.frames == whole.frames && twoPieces.failed == whole.failed,
            "framer result depends on how the stream was split at \(split)")
    }
    log("framer: \(whole.frames.count) frame(s)\(whole.failed ? ", then an error" : "")")
    for frame in whole.frames {
        switch frame {
        case .stun(let message):
            check(StunMessage.looksLikeStun(message), "framer cut a STUN frame that does not look like STUN")
            if let decoded = try? StunMessage(decoding: message) {
                _ = decoded.description
            }
        case .channelData(let channelData):
            check(
                ChannelData.looksLikeChannelData(firstByte: UInt8(channelData.channel >> 8)),
                "framer cut ChannelData outside 0x4000-0x4FFF")
            _ = channelData.encoded(padded: true)
        }
    }
}

/// Feeds the pieces to a framer as they would arrive, then signals EOF.
private func frames(of pieces: [[UInt8]]) -> (frames: [StunStreamFrame], failed: Bool) {
    var framer = StunStreamFramer()
    var buffer = ByteBuffer()
    var out: [StunStreamFrame] = []
    do {
        for piece in pieces {
            buffer.writeBytes(piece)
            while true {
                let before = buffer.readableBytes
                guard let frame = try framer.decode(buffer: &buffer) else { break }
                check(buffer.readableBytes < before, "framer returned a frame without consuming bytes")
                out.append(frame)
            }
        }
        while true {
            let before = buffer.readableBytes
            guard let frame = try framer.decodeLast(buffer: &buffer, seenEOF: true) else { break }
            check(buffer.readableBytes < before, "framer returned a frame without consuming bytes")
            out.append(frame)
        }
        check(buffer.readableBytes == 0, "decodeLast(seenEOF: true) left bytes without throwing")
        return (out, false)
    } catch {
        return (out, true)
    }
}

// MARK: - BindingResponder

private func fuzzResponder(_ bytes: [UInt8]) {
    let source = (bytes.last ?? 0) & 1 == 0 ? sourceV4 : sourceV6
    let configurations = [
        BindingResponder.Configuration(),
        BindingResponder.Configuration(software: nil, fingerprint: false, answerRFC3489: false),
    ]
    for configuration in configurations {
        var responder = BindingResponder(configuration: configuration)
        let outcome = responder.handle(bytes, from: source)
        if case .drop(let reason) = outcome { log("responder(answerRFC3489: \(configuration.answerRFC3489)): drop, \(reason)") }
        guard case .respond(let response) = outcome else { continue }
        let decoded: StunMessage
        do {
            decoded = try StunMessage(decoding: response, requireMagicCookie: false)
        } catch {
            failure("BindingResponder answer does not decode: \(error)\n  in:  \(hex(bytes))\n  out: \(hex(response))")
        }
        log("responder(answerRFC3489: \(configuration.answerRFC3489)): \(decoded) \(decoded.errorCode?.description ?? "")")
        check(decoded.messageClass.isResponse, "BindingResponder answered with a \(decoded.messageClass)")
        check(bytes.count >= 20, "answered fewer than 20 bytes")
        check(
            Array(response[4..<20]) == Array(bytes[4..<20]),
            "answer does not echo the transaction id\n  in:  \(hex(bytes))\n  out: \(hex(response))")
        if decoded.messageClass == .successResponse {
            check(
                decoded.xorMappedAddress == source || decoded.mappedAddress == source,
                "success response without the source address")
        }
        _ = responder.statistics
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
