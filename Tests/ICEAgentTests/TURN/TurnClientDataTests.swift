import ICEAgent
import NIOCore
import STUNCore
import Testing

/// Relaying data: Send/Data indications (RFC 8656 §11) and ChannelData (§12).
struct TurnClientDataTests {
    let server = ScriptedTurnServer()
    let peer = TransportAddress("203.0.113.5:6000")!

    /// A client with an installed permission for `peer`.
    func permittedClient(mode: TurnClient.Mode = .datagram) throws -> TurnClient {
        var client = try allocatedTurnClient(server, mode: mode)
        try client.createPermission(for: peer, now: turnT0)
        client.handleReceive(server.success(try server.request(client.pollTransmit())), now: turnT0)
        #expect(client.drainEvents() == [.permissionCreated(peer.ip)])
        return client
    }

    /// A client with a bound channel 0x4000 to `peer`.
    func boundClient(mode: TurnClient.Mode = .datagram) throws -> TurnClient {
        var client = try permittedClient(mode: mode)
        try client.bindChannel(to: peer, now: turnT0)
        client.handleReceive(server.success(try server.request(client.pollTransmit())), now: turnT0)
        #expect(client.drainEvents() == [.channelBound(peer: peer, channel: 0x4000)])
        return client
    }

    @Test func withAPermissionDataGoesAsASendIndication() throws {
        var client = try permittedClient()
        try client.send(to: peer, bytes: [1, 2, 3], now: turnT0)
        let indication = try server.request(client.pollTransmit())
        #expect(indication.method == .send && indication.messageClass == .indication)
        #expect(indication.first(.xorPeerAddress) == .xorPeerAddress(peer))
        #expect(indication.first(.data) == .data([1, 2, 3]))
        #expect(client.statistics.sendIndicationsSent == 1 && client.statistics.bytesSent == 3)
    }

    @Test func dataWaitsForThePermissionItTriggersThenGoesInOrder() throws {
        var client = try allocatedTurnClient(server)
        try client.send(to: peer, bytes: [1], now: turnT0)
        try client.send(to: peer, bytes: [2], now: turnT0)
        let create = try server.request(client.pollTransmit())
        #expect(create.method == .createPermission)
        #expect(client.pollTransmit() == nil)
        client.handleReceive(server.success(create), now: turnT0)
        #expect(client.drainEvents() == [.permissionCreated(peer.ip)])
        let sent = try client.drainTransmits().map { try StunMessage(decoding: $0).first(.data) }
        #expect(sent == [.data([1]), .data([2])])
    }

    @Test func dataForALapsedPermissionWaitsForItsRenewalThenGoes() throws {
        var client = try permittedClient()
        // No timer ran for 301 s (a suspended host, say): the permission has lapsed.
        let later = turnT0 + .seconds(301)
        try client.send(to: peer, bytes: [4, 2], now: later)
        let renewal = try server.request(client.pollTransmit())
        #expect(renewal.method == .createPermission && client.pollTransmit() == nil)
        client.handleReceive(server.success(renewal), now: later)
        #expect(client.drainEvents().isEmpty)
        let indication = try server.request(client.pollTransmit())
        #expect(indication.method == .send && indication.first(.data) == .data([4, 2]))
    }

    @Test func theQueueBehindAPendingPermissionIsBounded() throws {
        var client = try allocatedTurnClient(server) { $0.maxQueuedPerPeer = 2 }
        for byte in 0..<5 as Range<UInt8> { try client.send(to: peer, bytes: [byte], now: turnT0) }
        #expect(client.statistics.sendsDropped == 3)
    }

    @Test func untilTheChannelIsConfirmedSendIndicationsAreUsedThenChannelData() throws {
        var client = try permittedClient()
        try client.bindChannel(to: peer, now: turnT0)
        let bind = try server.request(client.pollTransmit())
        try client.send(to: peer, bytes: [9], now: turnT0)
        let early = try server.request(client.pollTransmit())
        #expect(early.method == .send)
        client.handleReceive(server.success(bind), now: turnT0)
        _ = client.drainEvents()
        try client.send(to: peer, bytes: [1, 2, 3, 4, 5], now: turnT0)
        let bytes = client.pollTransmit()
        #expect(bytes == [0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5])
        #expect(client.statistics.channelDataSent == 1)
        // Another peer on the same IP has no channel: a Send indication.
        try client.send(to: TransportAddress(ip: peer.ip, port: 1), bytes: [7], now: turnT0)
        let other = try server.request(client.pollTransmit())
        #expect(other.method == .send)
    }

    @Test func overTCPChannelDataIsPaddedToFourBytes() throws {
        var client = try boundClient(mode: .stream)
        try client.send(to: peer, bytes: [1, 2, 3, 4, 5], now: turnT0)
        #expect(client.pollTransmit() == [0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0])
    }

    @Test func dataIndicationsAreDeliveredOnlyFromPermittedPeers() throws {
        var client = try permittedClient()
        client.handleReceive(server.dataIndication(from: peer, [7, 8]), now: turnT0)
        client.handleReceive(server.dataIndication(from: TransportAddress(ip: peer.ip, port: 1234), [9]), now: turnT0)
        client.handleReceive(server.dataIndication(from: TransportAddress("203.0.113.99:6000")!, [1]), now: turnT0)
        #expect(client.drainEvents() == [
            .data(from: peer, bytes: [7, 8]), .data(from: TransportAddress(ip: peer.ip, port: 1234), bytes: [9]),
        ])
        #expect(client.statistics.unpermittedDropped == 1 && client.statistics.dataIndicationsReceived == 2)
    }

    @Test func dataIndicationsAfterThePermissionExpiredAreDropped() throws {
        var client = try permittedClient()
        client.handleReceive(server.dataIndication(from: peer, [1]), now: turnT0 + .seconds(300))
        #expect(client.drainEvents().isEmpty && client.statistics.unpermittedDropped == 1)
    }

    @Test func aDataIndicationWithoutDataIsMalformed() throws {
        var client = try permittedClient()
        let bad = StunMessage(method: .data, messageClass: .indication, attributes: [.xorPeerAddress(peer)]).encoded()
        client.handleReceive(bad, now: turnT0)
        #expect(client.drainEvents().isEmpty && client.statistics.malformedDropped == 1)
    }

    @Test func channelDataIsDeliveredOnlyOnBoundChannels() throws {
        var client = try boundClient()
        client.handleReceive(ChannelData(channel: 0x4000, data: [5, 6]).encoded(), now: turnT0)
        client.handleReceive(ChannelData(channel: 0x4000, data: [7]).encoded(padded: true), now: turnT0)
        client.handleReceive(ChannelData(channel: 0x4001, data: [1]).encoded(), now: turnT0)
        client.handleReceive([0x40, 0x00, 0x00, 0x09, 1], now: turnT0)
        #expect(client.drainEvents() == [.data(from: peer, bytes: [5, 6]), .data(from: peer, bytes: [7])])
        #expect(client.statistics.unpermittedDropped == 1 && client.statistics.malformedDropped == 1)
        #expect(client.statistics.channelDataReceived == 2 && client.statistics.bytesReceived == 3)
    }

    @Test func streamFramesAreAcceptedDirectly() throws {
        var client = try boundClient(mode: .stream)
        client.handleReceive(frame: .channelData(ChannelData(channel: 0x4000, data: [1])), now: turnT0)
        client.handleReceive(frame: .stun(server.dataIndication(from: peer, [2])), now: turnT0)
        #expect(client.drainEvents() == [.data(from: peer, bytes: [1]), .data(from: peer, bytes: [2])])
    }

    @Test func sendingNeedsAnAllocationAndAPeerOfTheRelayFamily() throws {
        var idle = TurnClient(configuration: server.configuration())
        let idleError = #expect(throws: TurnError.self) { try idle.send(to: peer, bytes: [1], now: turnT0) }
        #expect(idleError?.code == .notAllocated)
        var client = try allocatedTurnClient(server)
        let v6 = TransportAddress("[2001:db8::1]:5000")!
        let familyError = #expect(throws: TurnError.self) { try client.send(to: v6, bytes: [1], now: turnT0) }
        #expect(familyError?.code == .invalidPeer)
        let permissionError = #expect(throws: TurnError.self) { try client.createPermission(for: v6, now: turnT0) }
        #expect(permissionError?.code == .invalidPeer)
        let sizeError = #expect(throws: TurnError.self) {
            try client.send(to: peer, bytes: Array(repeating: 0, count: 65_001), now: turnT0)
        }
        #expect(sizeError?.code == .dataTooLarge)
        #expect(client.statistics.sendsDropped == 2)
    }
}
