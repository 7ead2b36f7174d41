import NIOCore
import Testing

@testable import SecureMedia

@Suite("SRTP and SRTCP with keys from the DTLS handshake")
struct SRTPSessionTests {
    /// Keys for both sides from a real in-memory handshake with `profile` forced by the server.
    static func handshakeKeys(_ profile: SRTPProtectionProfile) throws -> (client: SRTPKeyingMaterial, server: SRTPKeyingMaterial) {
        let pair = try DTLSTestPair(
            clientCertificate: DTLSTestCertificates.client, serverCertificate: DTLSTestCertificates.server,
            serverProfiles: [profile]
        )
        pair.startBoth()
        pair.run()
        return (try #require(pair.clientKeys), try #require(pair.serverKeys))
    }

    static func rtpPacket(sequence: UInt16, ssrc: UInt32 = 0x1234_5678, payload: [UInt8] = Array(0..<100)) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(12 + payload.count + SRTPSession.rtpTrailerCapacity)
        buffer.writeInteger(UInt8(0x80))
        buffer.writeInteger(UInt8(96))
        buffer.writeInteger(sequence)
        buffer.writeInteger(UInt32(sequence) * 3000)
        buffer.writeInteger(ssrc)
        buffer.writeBytes(payload)
        return buffer
    }

    /// A receiver report with no report blocks (RFC 3550 §6.4.2) followed by a PLI (RFC 4585 §6.3.1).
    static func rtcpPacket(ssrc: UInt32 = 0x0BAD_CAFE) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeBytes([0x80, 201, 0, 1])
        buffer.writeInteger(ssrc)
        buffer.writeBytes([0x81, 206, 0, 2])
        buffer.writeInteger(ssrc)
        buffer.writeInteger(UInt32(0x1234_5678))
        return buffer
    }

    @Test("RTP protected by the client is unprotected by the server and back", arguments: SRTPProtectionProfile.allCases)
    func rtpRoundTrip(profile: SRTPProtectionProfile) throws {
        let keys = try Self.handshakeKeys(profile)
        let client = try SRTPSession(keyingMaterial: keys.client)
        let server = try SRTPSession(keyingMaterial: keys.server)
        for sequence: UInt16 in [1, 2, 3, 500] {
            let plain = Self.rtpPacket(sequence: sequence)
            var packet = plain
            try client.protectRTP(&packet)
            #expect(packet.readableBytes == plain.readableBytes + profile.rtpTagLength)
            #expect(packet.getBytes(at: 12, length: 100) != plain.getBytes(at: 12, length: 100), "payload encrypted")
            #expect(packet.getBytes(at: 0, length: 12) == plain.getBytes(at: 0, length: 12), "header in clear")
            try server.unprotectRTP(&packet)
            #expect(packet == plain)
        }
        var reply = Self.rtpPacket(sequence: 9, ssrc: 0xFEED)
        try server.protectRTP(&reply)
        try client.unprotectRTP(&reply)
        #expect(reply == Self.rtpPacket(sequence: 9, ssrc: 0xFEED))
        #expect(client.statistics.protectedRTP == 4)
        #expect(server.statistics.unprotectedRTP == 4)
    }

    @Test("RTCP protected by one side is unprotected by the other", arguments: SRTPProtectionProfile.allCases)
    func rtcpRoundTrip(profile: SRTPProtectionProfile) throws {
        let keys = try Self.handshakeKeys(profile)
        let client = try SRTPSession(keyingMaterial: keys.client)
        let server = try SRTPSession(keyingMaterial: keys.server)
        let plain = Self.rtcpPacket()
        var packet = plain
        try server.protectRTCP(&packet)
        #expect(packet.readableBytes > plain.readableBytes + 4, "SRTCP index and tag")
        try client.unprotectRTCP(&packet)
        #expect(packet == plain)
        #expect(client.statistics.unprotectedRTCP == 1)
    }

    @Test("A replayed SRTP or SRTCP packet is rejected and counted")
    func replayRejected() throws {
        let keys = try Self.handshakeKeys(.aeadAES128GCM)
        let client = try SRTPSession(keyingMaterial: keys.client)
        let server = try SRTPSession(keyingMaterial: keys.server)
        var packet = Self.rtpPacket(sequence: 77)
        try client.protectRTP(&packet)
        var first = packet
        try server.unprotectRTP(&first)
        var again = packet
        #expect(throws: SRTPError(.replayed, status: 9)) { try server.unprotectRTP(&again) }

        var control = Self.rtcpPacket()
        try client.protectRTCP(&control)
        var firstControl = control
        try server.unprotectRTCP(&firstControl)
        var againControl = control
        let error = #expect(throws: SRTPError.self) { try server.unprotectRTCP(&againControl) }
        #expect(error?.code == .replayed)
        #expect(server.statistics.replayed == 2)
    }

    @Test("A packet far behind the replay window is rejected as too old")
    func tooOld() throws {
        let keys = try Self.handshakeKeys(.aes128CMHMACSHA1_80)
        let client = try SRTPSession(keyingMaterial: keys.client)
        let server = try SRTPSession(keyingMaterial: keys.server, replayWindow: 64)
        var old = Self.rtpPacket(sequence: 10)
        try client.protectRTP(&old)
        var recent = Self.rtpPacket(sequence: 1000)
        try client.protectRTP(&recent)
        try server.unprotectRTP(&recent)
        let error = #expect(throws: SRTPError.self) { try server.unprotectRTP(&old) }
        #expect(error?.code == .tooOld)
        #expect(server.statistics.replayed == 1)
    }

    @Test("A bit flipped anywhere in a protected packet fails authentication", arguments: [0, 12, 50, 111])
    func forgedRejected(offset: Int) throws {
        let keys = try Self.handshakeKeys(.aeadAES128GCM)
        let client = try SRTPSession(keyingMaterial: keys.client)
        let server = try SRTPSession(keyingMaterial: keys.server)
        var packet = Self.rtpPacket(sequence: 5)
        try client.protectRTP(&packet)
        let byte = packet.getInteger(at: offset, as: UInt8.self)!
        packet.setInteger(byte ^ 0x10, at: offset)
        let error = #expect(throws: SRTPError.self) { try server.unprotectRTP(&packet) }
        #expect(error?.code == .authenticationFailed || error?.code == .badParameter)
        #expect(server.statistics.unprotectedRTP == 0)
    }

    @Test("Keys from another association fail authentication and are counted")
    func wrongKeys() throws {
        let first = try Self.handshakeKeys(.aeadAES128GCM)
        let second = try Self.handshakeKeys(.aeadAES128GCM)
        let sender = try SRTPSession(keyingMaterial: first.client)
        let stranger = try SRTPSession(keyingMaterial: second.server)
        var packet = Self.rtpPacket(sequence: 1)
        try sender.protectRTP(&packet)
        #expect(throws: SRTPError(.authenticationFailed, status: 7)) { try stranger.unprotectRTP(&packet) }
        #expect(stranger.statistics.authenticationFailed == 1)
    }

    @Test("Short packets and buffers without room for the tag are refused before libsrtp")
    func shortAndNoRoom() throws {
        let keys = try Self.handshakeKeys(.aeadAES128GCM)
        let session = try SRTPSession(keyingMaterial: keys.client)
        var short = ByteBuffer(bytes: [0x80, 96, 0, 1, 0])
        #expect(throws: SRTPError(.tooShort)) { try session.protectRTP(&short) }
        #expect(throws: SRTPError(.tooShort)) { try session.unprotectRTCP(&short) }

        var storage = [UInt8](repeating: 0, count: 40)
        storage[0] = 0x80
        storage[1] = 96
        storage.withUnsafeMutableBytes { raw in
            var length = 20
            #expect(throws: SRTPError(.noRoom)) { try session.protectRTP(raw, length: &length) }
            #expect(length == 20)
        }
        #expect(session.statistics.otherFailures == 3)
    }

    @Test("The raw-buffer protect grows the length by the tag in place")
    func rawBufferProtect() throws {
        let keys = try Self.handshakeKeys(.aes128CMHMACSHA1_80)
        let sender = try SRTPSession(keyingMaterial: keys.client)
        let receiver = try SRTPSession(keyingMaterial: keys.server)
        let plain = Array(Self.rtpPacket(sequence: 42).readableBytesView)
        var storage = plain + [UInt8](repeating: 0, count: SRTPSession.rtpTrailerCapacity)
        var length = plain.count
        try storage.withUnsafeMutableBytes { raw in
            try sender.protectRTP(raw, length: &length)
            #expect(length == plain.count + 10)
            try receiver.unprotectRTP(raw, length: &length)
        }
        #expect(length == plain.count)
        #expect(Array(storage[0..<length]) == plain)
    }

    @Test("A ByteBuffer with no spare capacity gets room for the tag")
    func byteBufferWithoutRoom() throws {
        let keys = try Self.handshakeKeys(.aeadAES128GCM)
        let sender = try SRTPSession(keyingMaterial: keys.client)
        let receiver = try SRTPSession(keyingMaterial: keys.server)
        let bytes = Array(Self.rtpPacket(sequence: 3).readableBytesView)
        var packet = ByteBuffer(bytes: bytes)
        var shared = packet  // a second reference forces copy-on-write inside protect
        try sender.protectRTP(&packet)
        #expect(shared == ByteBuffer(bytes: bytes), "the other reference is untouched")
        try receiver.unprotectRTP(&packet)
        #expect(Array(packet.readableBytesView) == bytes)
        // A packet that starts after a prefix (reader index > 0) keeps its place.
        var prefixed = ByteBuffer(bytes: [9, 9, 9] + bytes)
        prefixed.moveReaderIndex(forwardBy: 3)
        shared = prefixed
        var second = Self.rtpPacket(sequence: 4)
        try sender.protectRTP(&second)
        try receiver.unprotectRTP(&second)
        #expect(second == Self.rtpPacket(sequence: 4))
        try sender.protectRTP(&prefixed)
        #expect(prefixed.readerIndex == 3)
    }

    @Test("Repeating a sequence number is allowed for NACK answers unless turned off")
    func repeatedTransmit() throws {
        let keys = try Self.handshakeKeys(.aeadAES128GCM)
        let lenient = try SRTPSession(keyingMaterial: keys.client)
        var first = Self.rtpPacket(sequence: 100)
        var again = Self.rtpPacket(sequence: 100)
        try lenient.protectRTP(&first)
        try lenient.protectRTP(&again)
        #expect(first == again, "same keys, index and payload give the same bytes")

        let strict = try SRTPSession(keyingMaterial: keys.client, allowRepeatedTransmit: false)
        var one = Self.rtpPacket(sequence: 100)
        var two = Self.rtpPacket(sequence: 100)
        try strict.protectRTP(&one)
        let error = #expect(throws: SRTPError.self) { try strict.protectRTP(&two) }
        #expect(error?.code == .replayed)
    }

    @Test("A replay window outside 64...32768 or keys of the wrong length are refused")
    func badParameters() throws {
        let keys = try Self.handshakeKeys(.aeadAES128GCM)
        #expect(throws: SRTPError(.badParameter)) { try SRTPSession(keyingMaterial: keys.client, replayWindow: 10) }
        var broken = keys.client
        broken.local.salt.removeLast()
        #expect(throws: SRTPError(.badParameter)) { try SRTPSession(keyingMaterial: broken) }
    }

    @Test("Keying material splits per RFC 5764 §4.2 and mirrors between roles")
    func keyingMaterialSplit() throws {
        let profile = SRTPProtectionProfile.aes128CMHMACSHA1_80
        let exported = (0..<60).map { UInt8($0) }
        let client = try #require(SRTPKeyingMaterial(profile: profile, exported: exported, isClient: true))
        let server = try #require(SRTPKeyingMaterial(profile: profile, exported: exported, isClient: false))
        #expect(client.local.key == Array(0..<16))
        #expect(client.remote.key == Array(16..<32))
        #expect(client.local.salt == Array(32..<46))
        #expect(client.remote.salt == Array(46..<60))
        #expect(server.local == client.remote)
        #expect(server.remote == client.local)
        #expect(SRTPKeyingMaterial(profile: .aeadAES128GCM, exported: exported, isClient: true) == nil)
        #expect(!client.description.contains("0, 1, 2"), "keys stay out of descriptions")
    }
}
