import NIOCore
import Testing

@testable import SecureMedia

@Suite("DTLS endpoint handshake, keys and timers")
struct DTLSEndpointTests {
    let clientCertificate = DTLSTestCertificates.client
    let serverCertificate = DTLSTestCertificates.server

    @Test("A client and a server connect in memory and export mirrored SRTP keys")
    func handshakeExportsMirroredKeys() throws {
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        pair.startBoth()
        pair.run()
        #expect(pair.client.state == .connected)
        #expect(pair.server.state == .connected)
        let clientKeys = try #require(pair.clientKeys)
        let serverKeys = try #require(pair.serverKeys)
        #expect(clientKeys.profile == .aeadAES128GCM)
        #expect(clientKeys.local == serverKeys.remote)
        #expect(clientKeys.remote == serverKeys.local)
        #expect(clientKeys.local != clientKeys.remote)
        #expect(clientKeys.local.key.count == 16)
        #expect(clientKeys.local.salt.count == 12)
        #expect(pair.client.keyingMaterial == clientKeys)
        #expect(pair.client.statistics.retransmissions == 0)
        #expect(pair.now == pair.start, "no timer had to fire")
        #expect(pair.client.nextTimeout == nil)
        #expect(pair.server.nextTimeout == nil)
    }

    @Test("The server's profile list decides the SRTP profile", arguments: SRTPProtectionProfile.allCases)
    func serverProfileIsNegotiated(profile: SRTPProtectionProfile) throws {
        let pair = try DTLSTestPair(
            clientCertificate: clientCertificate, serverCertificate: serverCertificate, serverProfiles: [profile]
        )
        pair.startBoth()
        pair.run()
        let clientKeys = try #require(pair.clientKeys)
        let serverKeys = try #require(pair.serverKeys)
        #expect(clientKeys.profile == profile)
        #expect(serverKeys.profile == profile)
        #expect(clientKeys.local.salt.count == profile.saltLength)
        #expect(clientKeys.local == serverKeys.remote)
    }

    @Test("Every datagram fits the MTU, also when handshake messages must be fragmented", arguments: [1200, 300])
    func datagramsFitTheMTU(mtu: Int) throws {
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate, mtu: mtu)
        pair.startBoth()
        pair.run()
        #expect(pair.client.state == .connected)
        #expect(pair.server.state == .connected)
        let all = pair.sent[.toServer]! + pair.sent[.toClient]!
        #expect(!all.isEmpty)
        #expect(all.allSatisfy { $0.readableBytes <= mtu })
        #expect(all.allSatisfy { MediaPacketKind.classify($0.readableBytesView) == .dtls })
    }

    @Test("A client seeing the wrong server certificate fails with fingerprintMismatch and exports nothing")
    func clientRejectsWrongFingerprint() throws {
        let stranger = try DTLSCertificate.generate()
        let pair = try DTLSTestPair(
            clientCertificate: clientCertificate, serverCertificate: serverCertificate,
            clientExpects: [stranger.fingerprint]
        )
        pair.startBoth()
        pair.run()
        #expect(pair.client.state == .failed)
        #expect(DTLSTestPair.failure(in: pair.clientEvents)?.code == .fingerprintMismatch)
        #expect(pair.clientKeys == nil)
        #expect(pair.client.keyingMaterial == nil)
        #expect(pair.serverKeys == nil, "the client aborted before its Finished")
        #expect(pair.server.state == .failed, "the server got the client's alert")
    }

    @Test("A server seeing the wrong client certificate fails with fingerprintMismatch")
    func serverRejectsWrongFingerprint() throws {
        let stranger = try DTLSCertificate.generate()
        let pair = try DTLSTestPair(
            clientCertificate: clientCertificate, serverCertificate: serverCertificate,
            serverExpects: [stranger.fingerprint]
        )
        pair.startBoth()
        pair.run()
        #expect(pair.server.state == .failed)
        #expect(DTLSTestPair.failure(in: pair.serverEvents)?.code == .fingerprintMismatch)
        #expect(pair.serverKeys == nil)
        #expect(pair.clientKeys == nil)
    }

    @Test("A fingerprint given with another hash OpenSSL knows is accepted")
    func sha1FingerprintIsAccepted() throws {
        let sha1 = try #require(DTLSCertificate.digest(of: serverCertificate.x509, algorithm: "sha-1"))
        let pair = try DTLSTestPair(
            clientCertificate: clientCertificate, serverCertificate: serverCertificate,
            clientExpects: [DTLSFingerprint(algorithm: "sha-1", bytes: sha1)]
        )
        pair.startBoth()
        pair.run()
        #expect(pair.client.state == .connected)
    }

    @Test("No fingerprint at all fails the handshake")
    func emptyFingerprintsFail() throws {
        let pair = try DTLSTestPair(
            clientCertificate: clientCertificate, serverCertificate: serverCertificate, clientExpects: []
        )
        pair.startBoth()
        pair.run()
        #expect(DTLSTestPair.failure(in: pair.clientEvents)?.code == .fingerprintMismatch)
    }

    @Test("A lost ClientHello is sent again at the deadline the client returned")
    func lostClientHelloIsRetransmitted() throws {
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        pair.drop = { direction, index in direction == .toServer && index == 0 }
        pair.startBoth()
        #expect(pair.clientDeadline == pair.start + .seconds(1))
        pair.run()
        #expect(pair.client.state == .connected)
        #expect(pair.server.state == .connected)
        #expect(pair.client.statistics.retransmissions == 1)
        #expect(pair.clientTimeouts == [pair.start + .seconds(1)])
        #expect(pair.clientKeys?.local == pair.serverKeys?.remote)
        // The retransmission is a new record (RFC 6347 §4.2.4: fresh sequence numbers).
        let sent = pair.sent[.toServer]!
        #expect(sent.count >= 2)
        #expect(sent[0] != sent[1])
    }

    @Test("Lost flights in both directions are recovered with doubling timeouts")
    func lostFlightsBothWays() throws {
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        // The ClientHello twice, then the server's first flight once.
        pair.drop = { direction, index in
            (direction == .toServer && index < 2) || (direction == .toClient && index == 0)
        }
        pair.startBoth()
        pair.run()
        #expect(pair.client.state == .connected)
        #expect(pair.server.state == .connected)
        #expect(pair.clientTimeouts.first == pair.start + .seconds(1))
        #expect(pair.clientTimeouts.dropFirst().first == pair.start + .seconds(3), "1 s, then 2 s")
        #expect(pair.client.statistics.retransmissions + pair.server.statistics.retransmissions >= 3)
    }

    @Test("A lost final server flight is recovered by the client's retransmitted Finished")
    func lostFinalFlight() throws {
        let reference = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        reference.startBoth()
        reference.run()
        let finalFlightIndex = reference.sent[.toClient]!.count - 1
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        pair.drop = { direction, index in direction == .toClient && index == finalFlightIndex }
        pair.startBoth()
        pair.run()
        #expect(pair.server.state == .connected)
        #expect(pair.client.state == .connected)
        #expect(pair.client.statistics.retransmissions == 1)
        #expect(pair.clientKeys?.local == pair.serverKeys?.remote)
    }

    @Test("With every datagram lost the client gives up after the handshake timeout")
    func handshakeTimeout() throws {
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        pair.drop = { _, _ in true }
        pair.startBoth()
        pair.run()
        #expect(pair.client.state == .failed)
        #expect(DTLSTestPair.failure(in: pair.clientEvents)?.code == .handshakeTimeout)
        #expect(pair.server.state == .failed)
        #expect(DTLSTestPair.failure(in: pair.serverEvents)?.code == .handshakeTimeout)
        let offsets = pair.clientTimeouts.map { ($0 - pair.start).nanoseconds / 1_000_000_000 }
        #expect(offsets == [1, 3, 7, 15, 30], "RFC 6347 §4.2.4.1 doubling, then give up at 30 s")
        #expect(pair.client.statistics.retransmissions == 4)
        #expect(pair.client.nextTimeout == nil)
    }

    @Test("Configured timers change the schedule")
    func configuredTimers() throws {
        let timers = DTLSTimers(
            initialRetransmit: .milliseconds(100), maximumRetransmit: .milliseconds(400), handshakeTimeout: .seconds(2)
        )
        let pair = try DTLSTestPair(
            clientCertificate: clientCertificate, serverCertificate: serverCertificate, timers: timers
        )
        pair.drop = { _, _ in true }
        pair.startBoth()
        pair.run()
        let offsets = pair.clientTimeouts.map { ($0 - pair.start).nanoseconds / 1_000_000 }
        #expect(offsets == [100, 300, 700, 1100, 1500, 1900, 2000])
    }

    @Test("Application data flows both ways after the handshake, one record per write")
    func applicationDataBothWays() throws {
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        pair.startBoth()
        pair.run()
        let hello = Array("hello from the client".utf8)
        pair.absorb(try pair.client.writeApplicationData(ByteBuffer(bytes: hello), now: pair.now), from: .toServer)
        let big = [UInt8](repeating: 0xA5, count: pair.server.maximumApplicationDataSize)
        #expect(big.count > 1000 && big.count < 1200)
        pair.absorb(try pair.server.writeApplicationData(ByteBuffer(bytes: big), now: pair.now), from: .toClient)
        pair.run { $0.inFlight.isEmpty }
        #expect(DTLSTestPair.applicationData(in: pair.serverEvents) == [hello])
        #expect(DTLSTestPair.applicationData(in: pair.clientEvents) == [big])
        #expect(pair.sent[.toClient]!.last!.readableBytes <= 1200)
    }

    @Test("Writing before the handshake or above the record limit is refused")
    func writeErrors() throws {
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        #expect(throws: DTLSError.notConnected) {
            try pair.client.writeApplicationData(ByteBuffer(bytes: [1, 2, 3]), now: pair.now)
        }
        pair.startBoth()
        pair.run()
        let tooBig = ByteBuffer(repeating: 0, count: pair.client.maximumApplicationDataSize + 1)
        let error = #expect(throws: DTLSError.self) {
            try pair.client.writeApplicationData(tooBig, now: pair.now)
        }
        #expect(error?.code == .messageTooLarge)
    }

    @Test("close() sends close_notify, which the peer reports as closed")
    func closeNotify() throws {
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        pair.startBoth()
        pair.run()
        pair.absorb(pair.client.close(now: pair.now), from: .toServer)
        #expect(pair.client.state == .closed)
        pair.run { $0.inFlight.isEmpty }
        #expect(pair.serverEvents.last == .closed)
        #expect(pair.server.state == .closed)
        // Later datagrams are dropped and counted, and writing is refused.
        let late = pair.server.receive(pair.sent[.toServer]!.first!, now: pair.now)
        #expect(late.events.isEmpty && late.datagrams.isEmpty)
        #expect(pair.server.statistics.droppedAfterClose == 1)
        #expect(throws: DTLSError.notConnected) {
            try pair.server.writeApplicationData(ByteBuffer(bytes: [1]), now: pair.now)
        }
    }

    @Test("A server that receives before start() starts on the ClientHello")
    func serverStartsOnReceive() throws {
        let pair = try DTLSTestPair(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        pair.absorb(pair.client.start(now: pair.now), from: .toServer)
        #expect(pair.server.state == .new)
        pair.run()
        #expect(pair.server.state == .connected)
        #expect(pair.client.state == .connected)
    }

    @Test("An MTU outside 256...16384 is refused")
    func badMTU() {
        let error = #expect(throws: DTLSError.self) {
            try DTLSEndpoint(role: .client, certificate: clientCertificate, remoteFingerprints: [], mtu: 100)
        }
        #expect(error?.code == .configuration)
    }
}
