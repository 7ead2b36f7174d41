import NIOCore
import Testing

@testable import SecureMedia

@Suite("DTLS endpoint under garbage, stale and hostile datagrams")
struct DTLSGarbageTests {
    let clientCertificate = DTLSTestCertificates.client
    let serverCertificate = DTLSTestCertificates.server

    /// An application-data datagram (epoch 1) from another, already connected association.
    func foreignApplicationData() throws -> ByteBuffer {
        let other = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        other.startBoth()
        other.run()
        let output = try other.client.writeApplicationData(ByteBuffer(bytes: Array("stale".utf8)), now: other.now)
        return try #require(output.datagrams.first)
    }

    static func withEpoch(_ datagram: ByteBuffer, _ epoch: UInt16) -> ByteBuffer {
        var copy = datagram
        copy.setInteger(epoch, at: copy.readerIndex + 3)
        return copy
    }

    @Test("Random bytes, truncated records, impossible epochs and foreign records around every handshake datagram are dropped")
    func handshakeSurvivesGarbage() throws {
        let foreign = try foreignApplicationData()
        var random = SeededGenerator(state: 0x5EED)
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        var injected = (random: 0, truncated: 0, epoch: 0, plaintextData: 0)
        pair.inject = { [unowned pair] direction, index in
            let real = pair.sent[direction]![index]
            // Random bytes whose first byte still says "DTLS" (RFC 7983: 20–63).
            var noise = ByteBuffer()
            noise.writeInteger(UInt8.random(in: 24...63, using: &random))
            for _ in 0..<Int.random(in: 12...200, using: &random) {
                noise.writeInteger(UInt8.random(in: 0...255, using: &random))
            }
            // The real datagram minus its last byte: its last record is cut short.
            let truncated = real.getSlice(at: real.readerIndex, length: real.readableBytes - 1)!
            // The real datagram claiming epoch 7.
            let badEpoch = Self.withEpoch(real, 7)
            // A plaintext application-data record (epoch 0), which OpenSSL would abort on.
            let plaintext = ByteBuffer(bytes: [23, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 9, 0, 3, 1, 2, 3])
            injected.random += 1
            injected.truncated += 1
            injected.epoch += 1
            injected.plaintextData += 1
            return [noise, truncated, badEpoch, plaintext, foreign]
        }
        pair.startBoth()
        pair.run()
        #expect(pair.client.state == .connected)
        #expect(pair.server.state == .connected)
        #expect(pair.clientKeys?.local == pair.serverKeys?.remote)
        let client = pair.client.statistics
        let server = pair.server.statistics
        #expect(client.droppedMalformed + server.droppedMalformed == injected.random + injected.plaintextData)
        #expect(client.droppedTruncated + server.droppedTruncated == injected.truncated)
        #expect(client.droppedUnexpectedEpoch + server.droppedUnexpectedEpoch == injected.epoch)
        #expect(injected.random >= 4)
    }

    @Test("After the handshake, foreign and replayed application data are discarded and counted")
    func connectedDiscardsForeignAndReplayed() throws {
        let foreign = try foreignApplicationData()
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        pair.startBoth()
        pair.run()
        let first = try pair.client.writeApplicationData(ByteBuffer(bytes: [1, 2, 3]), now: pair.now)
        let datagram = try #require(first.datagrams.first)

        let delivered = pair.server.receive(datagram, now: pair.now)
        #expect(delivered.events == [.applicationData(ByteBuffer(bytes: [1, 2, 3]))])

        let replayed = pair.server.receive(datagram, now: pair.now)
        #expect(replayed.events.isEmpty)
        let stale = pair.server.receive(foreign, now: pair.now)
        #expect(stale.events.isEmpty)
        #expect(pair.server.statistics.recordsDiscarded == 2)

        // A bit flipped inside the ciphertext fails the MAC.
        let second = try pair.client.writeApplicationData(ByteBuffer(bytes: [4, 5, 6]), now: pair.now)
        var forged = try #require(second.datagrams.first)
        let last = forged.writerIndex - 1
        forged.setInteger(forged.getInteger(at: last, as: UInt8.self)! ^ 0x01, at: last)
        #expect(pair.server.receive(forged, now: pair.now).events.isEmpty)
        #expect(pair.server.statistics.recordsDiscarded == 3)

        // The association is intact.
        let third = try pair.client.writeApplicationData(ByteBuffer(bytes: [7]), now: pair.now)
        #expect(pair.server.receive(third.datagrams[0], now: pair.now).events == [.applicationData(ByteBuffer(bytes: [7]))])
        #expect(pair.server.state == .connected)
    }

    @Test("Oversized, empty and non-DTLS datagrams are dropped and counted without touching OpenSSL")
    func oversizedAndEmpty() throws {
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        pair.startBoth()
        let huge = ByteBuffer(repeating: 22, count: DTLSEndpoint.maximumDatagramSize + 1)
        #expect(pair.server.receive(huge, now: pair.now).events.isEmpty)
        #expect(pair.server.receive(ByteBuffer(), now: pair.now).events.isEmpty)
        #expect(pair.server.receive(ByteBuffer(bytes: [0, 1, 0, 0]), now: pair.now).events.isEmpty)
        #expect(pair.server.statistics.droppedOversized == 1)
        #expect(pair.server.statistics.droppedTruncated == 2, "empty, and 4 bytes are a truncated header")
        #expect(pair.server.statistics.droppedMalformed == 0)
        pair.run()
        #expect(pair.client.state == .connected)
        #expect(pair.server.state == .connected)
    }

    @Test("Every truncation of a real handshake datagram is dropped, never crashes", arguments: [0, 1])
    func everyTruncation(direction: Int) throws {
        let reference = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        reference.startBoth()
        reference.run()
        let flights = reference.sent[direction == 0 ? .toServer : .toClient]!
        let target = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        target.startBoth()
        let endpoint = direction == 0 ? target.server : target.client
        var fed = 0
        for datagram in flights {
            for length in 0..<datagram.readableBytes {
                let cut = datagram.getSlice(at: datagram.readerIndex, length: length)!
                _ = endpoint.receive(cut, now: target.now)
                fed += 1
            }
        }
        let statistics = endpoint.statistics
        #expect(statistics.datagramsReceived == fed)
        #expect(endpoint.state != .connected)
        // Cuts inside a record are dropped as truncated; cuts at record boundaries are whole
        // records that OpenSSL may take (and then reject the handshake), never a crash.
        #expect(statistics.droppedTruncated > 0)
        #expect(statistics.droppedTruncated + statistics.droppedAfterClose + statistics.droppedMalformed < fed)
    }
}

@Suite("DTLS record header scan")
struct DTLSRecordScannerTests {
    func scan(_ bytes: [UInt8]) -> Result<DTLSRecordScanner.Summary, DTLSRecordScanner.Failure> {
        bytes.withUnsafeBytes { DTLSRecordScanner.scan($0) }
    }

    static func record(type: UInt8, version: UInt16 = 0xFEFD, epoch: UInt16, body: [UInt8]) -> [UInt8] {
        [type, UInt8(version >> 8), UInt8(version & 0xFF), UInt8(epoch >> 8), UInt8(epoch & 0xFF), 0, 0, 0, 0, 0, 1]
            + [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    @Test("Two records in one datagram are both counted")
    func twoRecords() {
        let bytes = Self.record(type: 22, epoch: 0, body: [1, 2, 3]) + Self.record(type: 23, epoch: 1, body: [9])
        #expect(scan(bytes) == .success(.init(records: 2, applicationDataRecords: 1)))
    }

    @Test(
        "Bad headers are named by field and offset",
        arguments: [
            (record(type: 24, epoch: 0, body: []), DTLSRecordScanner.Failure.malformed(field: "type", offset: 0)),
            (record(type: 22, version: 0x0303, epoch: 0, body: []), .malformed(field: "version", offset: 1)),
            (record(type: 22, epoch: 2, body: []), .unexpectedEpoch(offset: 3)),
            (record(type: 23, epoch: 0, body: [1]), .malformed(field: "epoch", offset: 3)),
            (Array(record(type: 22, epoch: 0, body: [1, 2]).dropLast()), .truncated(offset: 13)),
            (Array(record(type: 22, epoch: 0, body: []).prefix(12)), .truncated(offset: 0)),
            ([], .truncated(offset: 0)),
        ]
    )
    func badHeaders(bytes: [UInt8], failure: DTLSRecordScanner.Failure) {
        #expect(scan(bytes) == .failure(failure))
    }

    @Test("A record longer than 2^14 + 2048 is malformed")
    func overlong() {
        var bytes = Self.record(type: 23, epoch: 1, body: [])
        bytes[11] = 0x48
        bytes[12] = 0x01
        #expect(scan(bytes) == .failure(.malformed(field: "length", offset: 11)))
    }
}
