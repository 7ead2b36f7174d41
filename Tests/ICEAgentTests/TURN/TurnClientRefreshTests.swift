import ICEAgent
import NIOCore
import STUNCore
import Testing

/// Refresh of allocations (RFC 8656 §8), permissions (§9) and channels (§12), stale nonces and close.
struct TurnClientRefreshTests {
    let server = ScriptedTurnServer()
    let peer = TransportAddress("203.0.113.5:6000")!

    @Test func theAllocationIsRefreshed60SecondsBeforeItExpires() throws {
        var client = try allocatedTurnClient(server, lifetime: 600)
        #expect(client.nextTimeout() == turnT0 + .seconds(540))
        client.handleTimeout(now: turnT0 + .seconds(539))
        #expect(client.pollTransmit() == nil)
        client.handleTimeout(now: turnT0 + .seconds(540))
        let refresh = try server.request(client.pollTransmit())
        #expect(refresh.method == .refresh && refresh.first(.lifetime) == .lifetime(seconds: 600))
        #expect(refresh.isAuthentic(key: server.key) && refresh.nonce == "nonce-1")
        client.handleReceive(server.success(refresh, [.lifetime(seconds: 600)]), now: turnT0 + .seconds(541))
        #expect(client.drainEvents() == [.refreshed(lifetime: 600)])
        #expect(client.nextTimeout() == turnT0 + .seconds(1081))
        #expect(client.statistics.allocationRefreshes == 1)
    }

    @Test func aShortLifetimeIsRefreshedAtHalfTime() throws {
        var client = try allocatedTurnClient(server, lifetime: 4)
        #expect(client.nextTimeout() == turnT0 + .seconds(2))
        client.handleTimeout(now: turnT0 + .seconds(2))
        let refresh = try server.request(client.pollTransmit())
        #expect(refresh.first(.lifetime) == .lifetime(seconds: 4))
        client.handleReceive(server.success(refresh, [.lifetime(seconds: 4)]), now: turnT0 + .seconds(2))
        #expect(client.nextTimeout() == turnT0 + .seconds(4))
    }

    @Test func aStaleNonceIsRetriedWithTheNewNonceInANewTransaction() throws {
        var client = try allocatedTurnClient(server)
        client.handleTimeout(now: turnT0 + .seconds(540))
        let refresh = try server.request(client.pollTransmit())
        client.handleReceive(server.staleNonce(refresh, newNonce: "nonce-2"), now: turnT0 + .seconds(540))
        #expect(client.drainEvents().isEmpty)
        let retry = try server.request(client.pollTransmit())
        #expect(retry.method == .refresh && retry.transactionID != refresh.transactionID)
        #expect(retry.nonce == "nonce-2" && retry.isAuthentic(key: server.key))
        client.handleReceive(server.success(retry, [.lifetime(seconds: 600)]), now: turnT0 + .seconds(540))
        #expect(client.drainEvents() == [.refreshed(lifetime: 600)])
        #expect(client.statistics.staleNonceRetries == 1)
        // Later requests use the new nonce too.
        try client.createPermission(for: peer, now: turnT0 + .seconds(541))
        #expect(try server.request(client.pollTransmit()).nonce == "nonce-2")
    }

    @Test func aStaleNonceWithANewRealmChangesTheKey() throws {
        var client = try allocatedTurnClient(server)
        client.handleTimeout(now: turnT0 + .seconds(540))
        let refresh = try server.request(client.pollTransmit())
        var moved = server
        moved.realm = "other.test"
        client.handleReceive(moved.staleNonce(refresh, newNonce: "nonce-9"), now: turnT0 + .seconds(540))
        let retry = try server.request(client.pollTransmit())
        #expect(retry.realm == "other.test" && retry.nonce == "nonce-9")
        #expect(retry.isAuthentic(key: moved.key) && !retry.isAuthentic(key: server.key))
        client.handleReceive(moved.success(retry, [.lifetime(seconds: 600)]), now: turnT0 + .seconds(540))
        #expect(client.drainEvents() == [.refreshed(lifetime: 600)])
    }

    @Test func endlessStaleNoncesFailTheRequest() throws {
        var client = try allocatedTurnClient(server)
        client.handleTimeout(now: turnT0 + .seconds(540))
        for attempt in 0...3 {
            let refresh = try server.request(client.pollTransmit())
            client.handleReceive(server.staleNonce(refresh, newNonce: "n\(attempt)"), now: turnT0 + .seconds(540))
        }
        guard case .failed(let error)? = client.pollEvent() else { Issue.record("expected failure"); return }
        #expect(error.code == .staleNonceLoop && error.method == .refresh)
        #expect(client.statistics.staleNonceRetries == 3)
    }

    @Test func aRefreshThatIsNeverAnsweredLosesTheAllocation() throws {
        var client = try allocatedTurnClient(server)
        var now = turnT0
        while let next = client.nextTimeout(), client.state == .allocated {
            now = next
            client.handleTimeout(now: now)
            _ = client.drainTransmits()
        }
        guard case .failed(let error)? = client.drainEvents().last else { Issue.record("expected failure"); return }
        #expect(error.code == .timedOut && error.method == .refresh)
        #expect(now == turnT0 + .milliseconds(540_000 + 39_500))
    }

    @Test func aRefreshAnsweredWith437LosesTheAllocation() throws {
        var client = try allocatedTurnClient(server)
        client.handleTimeout(now: turnT0 + .seconds(540))
        let refresh = try server.request(client.pollTransmit())
        client.handleReceive(server.error(refresh, code: 437), now: turnT0 + .seconds(540))
        guard case .failed(let error)? = client.pollEvent() else { Issue.record("expected failure"); return }
        #expect(error.code == .allocationMismatch)
    }

    @Test func theAllocationExpiresWhenTheRefreshOutlastsIt() throws {
        // 4 s lifetime, refresh at 2 s, but the transaction would run 39.5 s: expiry at 4 s wins.
        var client = try allocatedTurnClient(server, lifetime: 4)
        var now = turnT0
        while let next = client.nextTimeout(), client.state == .allocated {
            now = next
            client.handleTimeout(now: now)
            _ = client.drainTransmits()
        }
        guard case .failed(let error)? = client.drainEvents().last else { Issue.record("expected failure"); return }
        #expect(error.code == .allocationExpired)
        #expect(now == turnT0 + .seconds(4))
    }

    @Test func permissionsAreRefreshedOneMinuteBeforeTheir300Seconds() throws {
        var client = try allocatedTurnClient(server, lifetime: 3600)
        try client.createPermission(for: peer, now: turnT0)
        let create = try server.request(client.pollTransmit())
        #expect(create.method == .createPermission && create.first(.xorPeerAddress) == .xorPeerAddress(peer))
        #expect(create.isAuthentic(key: server.key))
        client.handleReceive(server.success(create), now: turnT0)
        #expect(client.drainEvents() == [.permissionCreated(peer.ip)])
        #expect(client.hasPermission(for: peer.ip, now: turnT0 + .seconds(299)))
        // A second call for the same IP (another port) sends nothing.
        try client.createPermission(for: TransportAddress(ip: peer.ip, port: 9), now: turnT0)
        #expect(client.pollTransmit() == nil)
        #expect(client.nextTimeout() == turnT0 + .seconds(240))
        client.handleTimeout(now: turnT0 + .seconds(240))
        let refresh = try server.request(client.pollTransmit())
        #expect(refresh.method == .createPermission && refresh.first(.xorPeerAddress) == .xorPeerAddress(peer))
        client.handleReceive(server.success(refresh), now: turnT0 + .seconds(240))
        #expect(client.drainEvents().isEmpty)
        #expect(client.statistics.permissionRefreshes == 1)
        #expect(client.hasPermission(for: peer.ip, now: turnT0 + .seconds(539)))
        #expect(client.nextTimeout() == turnT0 + .seconds(480))
    }

    @Test func aRefusedPermissionIsReportedAndItsQueuedDataDropped() throws {
        var client = try allocatedTurnClient(server)
        try client.send(to: peer, bytes: [1, 2, 3], now: turnT0)
        try client.send(to: peer, bytes: [4], now: turnT0)
        let create = try server.request(client.pollTransmit())
        #expect(client.pollTransmit() == nil)
        client.handleReceive(server.error(create, code: 403), now: turnT0)
        let events = client.drainEvents()
        guard case .permissionFailed(let ip, let error)? = events.first else { Issue.record("got \(events)"); return }
        #expect(ip == peer.ip && error.code == .errorResponse && error.errorCode?.code == 403)
        #expect(client.statistics.sendsDropped == 2)
        #expect(client.state == .allocated)
    }

    @Test func channelsAreBoundFrom0x4000AndRefreshedOneMinuteBeforeTheir600Seconds() throws {
        var client = try allocatedTurnClient(server, lifetime: 3600)
        let number = try client.bindChannel(to: peer, now: turnT0)
        #expect(number == 0x4000)
        #expect(try client.bindChannel(to: peer, now: turnT0) == 0x4000)
        let other = TransportAddress("203.0.113.6:7000")!
        #expect(try client.bindChannel(to: other, now: turnT0) == 0x4001)
        let bind = try server.request(client.pollTransmit())
        let otherBind = try server.request(client.pollTransmit())
        #expect(bind.method == .channelBind && bind.first(.channelNumber) == .channelNumber(0x4000))
        #expect(bind.first(.xorPeerAddress) == .xorPeerAddress(peer) && bind.isAuthentic(key: server.key))
        #expect(otherBind.first(.channelNumber) == .channelNumber(0x4001))
        client.handleReceive(server.success(bind), now: turnT0)
        // The binding installs the permission for the peer's IP as well (RFC 8656 §12.2).
        #expect(client.drainEvents() == [.channelBound(peer: peer, channel: 0x4000), .permissionCreated(peer.ip)])
        client.handleReceive(server.error(otherBind, code: 508), now: turnT0)
        #expect(client.drainEvents().count == 1)
        #expect(client.boundChannel(to: peer, now: turnT0) == 0x4000)
        #expect(client.hasPermission(for: peer.ip, now: turnT0))
        // The permission is due first (240 s, 480 s), then the channel (540 s).
        for second in [240, 480] as [Int64] {
            #expect(client.nextTimeout() == turnT0 + .seconds(second))
            client.handleTimeout(now: turnT0 + .seconds(second))
            let permissionRefresh = try server.request(client.pollTransmit())
            #expect(permissionRefresh.method == .createPermission)
            client.handleReceive(server.success(permissionRefresh), now: turnT0 + .seconds(second))
        }
        client.handleTimeout(now: turnT0 + .seconds(539))
        #expect(client.pollTransmit() == nil)
        client.handleTimeout(now: turnT0 + .seconds(540))
        let rebind = try server.request(client.pollTransmit())
        #expect(rebind.method == .channelBind && rebind.first(.channelNumber) == .channelNumber(0x4000))
        client.handleReceive(server.success(rebind), now: turnT0 + .seconds(540))
        #expect(client.statistics.channelRefreshes == 1)
        #expect(client.boundChannel(to: peer, now: turnT0 + .seconds(1139)) == 0x4000)
    }

    @Test func aRefusedChannelBindIsReportedAndFreesItsNumber() throws {
        var client = try allocatedTurnClient(server)
        try client.bindChannel(to: peer, now: turnT0)
        let bind = try server.request(client.pollTransmit())
        client.handleReceive(server.error(bind, code: 400), now: turnT0)
        let events = client.drainEvents()
        guard case .channelBindFailed(let failedPeer, let error)? = events.first else { Issue.record("got \(events)"); return }
        #expect(failedPeer == peer && error.errorCode?.code == 400)
        #expect(client.boundChannel(to: peer, now: turnT0) == nil)
    }

    @Test func closeDeletesTheAllocationWithLifetimeZero() throws {
        var client = try allocatedTurnClient(server)
        try client.createPermission(for: peer, now: turnT0)
        _ = client.drainTransmits()
        client.close(now: turnT0 + .seconds(1))
        let refresh = try server.request(client.pollTransmit())
        #expect(refresh.method == .refresh && refresh.first(.lifetime) == .lifetime(seconds: 0))
        #expect(refresh.isAuthentic(key: server.key))
        #expect(client.pollTransmit() == nil)
        #expect(client.state == .closing)
        client.handleReceive(server.success(refresh, [.lifetime(seconds: 0)]), now: turnT0 + .seconds(1))
        #expect(client.drainEvents() == [.closed])
        #expect(client.state == .closed && client.nextTimeout() == nil)
        let error = #expect(throws: TurnError.self) { try client.send(to: peer, bytes: [1], now: turnT0 + .seconds(2)) }
        #expect(error?.code == .notAllocated)
    }

    @Test func closeAnsweredWith437OrNeverAnsweredStillCloses() throws {
        var client = try allocatedTurnClient(server)
        client.close(now: turnT0)
        let refresh = try server.request(client.pollTransmit())
        client.handleReceive(server.error(refresh, code: 437), now: turnT0)
        #expect(client.drainEvents() == [.closed])

        var silent = try allocatedTurnClient(server)
        silent.close(now: turnT0)
        var now = turnT0
        while let next = silent.nextTimeout() {
            now = next
            silent.handleTimeout(now: now)
        }
        #expect(silent.drainEvents() == [.closed])
        #expect(now == turnT0 + .milliseconds(39_500))
    }

    @Test func closeBeforeTheAllocationExistsClosesAtOnce() throws {
        var client = TurnClient(configuration: server.configuration())
        client.allocate(now: turnT0)
        _ = client.drainTransmits()
        client.close(now: turnT0)
        #expect(client.drainEvents() == [.closed])
        #expect(client.pollTransmit() == nil && client.nextTimeout() == nil)
    }

    @Test func overTCPTheEndOfTheConnectionLosesTheAllocation() throws {
        var client = try allocatedTurnClient(server, mode: .stream)
        client.handleConnectionClosed(now: turnT0)
        guard case .failed(let error)? = client.pollEvent() else { Issue.record("expected failure"); return }
        #expect(error.code == .connectionClosed)
    }
}
