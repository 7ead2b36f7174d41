import NIOCore
import STUNCore

/// The long-term credential state learned from the server's 401 (RFC 8489 §9.2.3, §9.2.4).
struct TurnCredentials: Sendable {
    var realm: String
    var nonce: String
    var key: StunKey
    /// PASSWORD-ALGORITHMS as the server offered them and the one chosen (RFC 8489 §14.11–§14.12);
    /// nil when the server offered none (plain MD5 key, MESSAGE-INTEGRITY).
    var algorithms: [PasswordAlgorithm]?
    var algorithm: PasswordAlgorithm?
}

/// What an outstanding request is for.
enum TurnRequestPurpose: Hashable, Sendable {
    case allocate
    case refresh
    case deallocate
    case permission(IPAddress)
    case channelBind(TransportAddress)
}

/// One outstanding request: its attributes without authentication, so it can be re-signed with
/// a new nonce (RFC 8489 §9.2.5), and its retransmission state.
struct TurnPendingRequest: Sendable {
    var purpose: TurnRequestPurpose
    var method: StunMethod
    var attributes: [StunAttribute]
    var transaction: StunClientTransaction
    /// True when the request carried MESSAGE-INTEGRITY(-SHA256): its answer must too.
    var authenticated: Bool
    var staleNonceRetries: Int
    /// Responses dropped because their integrity did not verify (UDP only).
    var rejectedResponses = 0
}

struct TurnAllocation: Sendable {
    var relayed: TransportAddress
    var mapped: TransportAddress?
    var lifetime: UInt32
    var expiry: NIODeadline
    var refreshAt: NIODeadline
    var refreshing = false
}

/// A permission for one peer IP (RFC 8656 §9). `expiry` is nil until the server confirms.
struct TurnPermission: Sendable {
    /// The address first used for the IP; CreatePermission carries it in XOR-PEER-ADDRESS.
    var peer: TransportAddress
    var expiry: NIODeadline?
    var refreshAt: NIODeadline?
    var requesting = false
    /// Data waiting for the first installation.
    var queue: [(peer: TransportAddress, bytes: [UInt8])] = []

    init(peer: TransportAddress) { self.peer = peer }
}

/// A channel binding (RFC 8656 §12). `expiry` is nil until the server confirms.
struct TurnChannelBinding: Sendable {
    var number: UInt16
    var expiry: NIODeadline?
    var refreshAt: NIODeadline?
    var requesting = false
}

extension TurnClient {
    // MARK: Sending requests

    /// Starts a transaction for a new request (RFC 8489 §6.2); signs it when credentials are known.
    mutating func startRequest(
        _ purpose: TurnRequestPurpose, method: StunMethod, attributes: [StunAttribute], now: NIODeadline,
        staleNonceRetries: Int = 0, countAsNew: Bool = true
    ) {
        let message = StunMessage(method: method, messageClass: .request, attributes: attributes)
        var bytes: [UInt8]
        var authenticated = false
        if let credentials {
            // RFC 8489 §9.2.4: USERNAME, REALM, NONCE (and the algorithms when offered), then integrity.
            var signed = message
            signed.attributes += [
                .username(configuration.username), .realm(credentials.realm), .nonce(credentials.nonce),
            ]
            if let algorithms = credentials.algorithms, let algorithm = credentials.algorithm {
                signed.attributes += [.passwordAlgorithms(algorithms), .passwordAlgorithm(algorithm)]
                bytes = signed.encoded(messageIntegritySHA256: credentials.key, fingerprint: true)
            } else {
                bytes = signed.encoded(messageIntegrity: credentials.key, fingerprint: true)
            }
            authenticated = true
        } else {
            bytes = message.encoded(fingerprint: true)
        }
        var transactionConfiguration = configuration.transaction
        transactionConfiguration.reliable = configuration.mode == .stream
        var transaction = StunClientTransaction(
            request: bytes, transactionID: message.transactionID, configuration: transactionConfiguration, now: now)
        transaction.handleTimeout(now: now)
        if let first = transaction.pollTransmit() { emit(first) }
        if countAsNew { statistics.requestsStarted += 1 }
        pending[message.transactionID] = TurnPendingRequest(
            purpose: purpose, method: method, attributes: attributes, transaction: transaction,
            authenticated: authenticated, staleNonceRetries: staleNonceRetries)
    }

    mutating func requestPermission(for ip: IPAddress, now: NIODeadline) {
        guard let peer = permissions[ip]?.peer else { return }
        permissions[ip]?.requesting = true
        startRequest(.permission(ip), method: .createPermission, attributes: [.xorPeerAddress(peer)], now: now)
    }

    mutating func requestChannelBind(peer: TransportAddress, now: NIODeadline) {
        guard let number = channels[peer]?.number else { return }
        channels[peer]?.requesting = true
        startRequest(
            .channelBind(peer), method: .channelBind, attributes: [.channelNumber(number), .xorPeerAddress(peer)], now: now)
    }

    /// Starts the refreshes that are due (RFC 8656 §8, §9, §12) and notices an expired allocation.
    mutating func runRefreshes(now: NIODeadline) {
        guard state == .allocated, let current = allocation else { return }
        if now >= current.expiry {
            fail(TurnError(.allocationExpired, method: .refresh, detail: "the allocation expired before a refresh succeeded"))
            return
        }
        if !current.refreshing, now >= current.refreshAt {
            allocation?.refreshing = true
            startRequest(.refresh, method: .refresh, attributes: [.lifetime(seconds: configuration.requestedLifetime ?? current.lifetime)], now: now)
        }
        for (ip, permission) in permissions where !permission.requesting {
            if let refreshAt = permission.refreshAt, now >= refreshAt { requestPermission(for: ip, now: now) }
        }
        for (peer, channel) in channels where !channel.requesting {
            if let refreshAt = channel.refreshAt, now >= refreshAt { requestChannelBind(peer: peer, now: now) }
        }
    }

    // MARK: Receiving responses

    /// Matches a response to its request, checks its integrity and acts on it (RFC 8489 §6.3.3,
    /// §6.3.4, §9.2.5).
    mutating func handleResponse(_ response: StunMessage, now: NIODeadline) {
        guard var request = pending[response.transactionID] else {
            statistics.unmatchedDropped += 1
            return
        }
        let code = response.messageClass == .errorResponse ? response.errorCode?.code : nil
        // RFC 8489 §9.2.5: 401 and 438 come without integrity (the server cannot know the key is
        // right). Any other answer to a signed request should carry a MESSAGE-INTEGRITY(-SHA256)
        // that verifies; if not, it is dropped over UDP (the request stays outstanding) and fails
        // the transaction over TCP/TLS. One exception: an error response with no integrity at
        // all is taken as the failure it reports. coturn 4.6.1 sends 437 to an Allocate that way,
        // and waiting 39.5 s for a timeout instead would protect against nothing that an
        // attacker on the path (the only one who sees the transaction id) cannot do by dropping
        // packets. A success must always verify; so must an error that carries integrity.
        let unsignedError = response.messageClass == .errorResponse && !response.hasIntegrity
        if request.authenticated, code != 401, code != 438, !unsignedError {
            let authentic = credentials.map { response.isAuthentic(key: $0.key) } ?? false
            if !authentic {
                if configuration.mode == .datagram {
                    statistics.unauthenticatedDropped += 1
                    request.rejectedResponses += 1
                    pending[response.transactionID] = request
                } else {
                    pending[response.transactionID] = nil
                    requestFailed(request, TurnError(
                        .unauthenticatedResponse, method: request.method,
                        detail: "the \(response.messageClass) did not pass the integrity check"), now: now)
                }
                return
            }
        }
        request.transaction.handleResponse(response)
        pending[response.transactionID] = nil

        if response.messageClass == .successResponse {
            requestSucceeded(request, response, now: now)
            return
        }
        guard let errorCode = response.errorCode else {
            requestFailed(request, TurnError(
                .malformedResponse, method: request.method, detail: "error response without ERROR-CODE"), now: now)
            return
        }
        switch errorCode.code {
        case 401 where !request.authenticated:
            // RFC 8489 §9.2.3: the first request goes without credentials; the 401 names the realm and nonce.
            guard let realm = response.realm, let nonce = response.nonce else {
                requestFailed(request, TurnError(
                    .unauthenticated, method: request.method, errorCode: errorCode,
                    detail: "401 without REALM and NONCE"), now: now)
                return
            }
            guard learnCredentials(realm: realm, nonce: nonce, offered: response) else {
                requestFailed(request, TurnError(
                    .unauthenticated, method: request.method, errorCode: errorCode,
                    detail: "the server offers no password algorithm this client supports"), now: now)
                return
            }
            retry(request, now: now, staleNonceRetries: request.staleNonceRetries)
        case 438:
            // RFC 8489 §9.2.5: a stale nonce; repeat with the new one (a new transaction).
            guard let nonce = response.nonce, request.staleNonceRetries < configuration.maxStaleNonceRetries else {
                requestFailed(request, TurnError(
                    .staleNonceLoop, method: request.method, errorCode: errorCode,
                    detail: "438 Stale Nonce \(request.staleNonceRetries + 1) times in a row"), now: now)
                return
            }
            credentials?.nonce = nonce
            if let realm = response.realm, var current = credentials, realm != current.realm {
                // The key hashes the realm (RFC 8489 §9.2.2): a new realm needs a new key.
                current.realm = realm
                current.key = StunKey.longTerm(
                    username: configuration.username, realm: realm, password: configuration.password,
                    algorithm: current.algorithm ?? .md5)
                credentials = current
            }
            statistics.staleNonceRetries += 1
            retry(request, now: now, staleNonceRetries: request.staleNonceRetries + 1)
        default:
            // RFC 8489 §9.2.5: a NONCE in any other response replaces the current one.
            if let nonce = response.nonce, code != 401 { credentials?.nonce = nonce }
            requestFailed(request, TurnError.response(errorCode, method: request.method), now: now)
        }
    }

    /// Takes REALM, NONCE and PASSWORD-ALGORITHMS from a 401 and derives the key (RFC 8489 §9.2.2).
    /// - Returns: false when the server offers password algorithms and none is MD5 or SHA-256.
    mutating func learnCredentials(realm: String, nonce: String, offered response: StunMessage) -> Bool {
        var algorithms: [PasswordAlgorithm]?
        var chosen: PasswordAlgorithm?
        if case .passwordAlgorithms(let offered)? = response.first(.passwordAlgorithms) {
            // RFC 8489 §9.2.4: use the first algorithm in the server's list that the client supports.
            guard let first = offered.first(where: { $0.number == PasswordAlgorithm.md5.number || $0.number == PasswordAlgorithm.sha256.number })
            else { return false }
            algorithms = offered
            chosen = first
        }
        let key = StunKey.longTerm(
            username: configuration.username, realm: realm, password: configuration.password, algorithm: chosen ?? .md5)
        credentials = TurnCredentials(realm: realm, nonce: nonce, key: key, algorithms: algorithms, algorithm: chosen)
        return true
    }

    mutating func retry(_ request: TurnPendingRequest, now: NIODeadline, staleNonceRetries: Int) {
        startRequest(
            request.purpose, method: request.method, attributes: request.attributes, now: now,
            staleNonceRetries: staleNonceRetries, countAsNew: false)
    }

    mutating func requestSucceeded(_ request: TurnPendingRequest, _ response: StunMessage, now: NIODeadline) {
        switch request.purpose {
        case .allocate:
            guard state == .allocating else { return }
            guard case .xorRelayedAddress(let relayed)? = response.first(.xorRelayedAddress) else {
                fail(TurnError(.malformedResponse, method: .allocate, detail: "Allocate success without XOR-RELAYED-ADDRESS"))
                return
            }
            // RFC 8656 §7.3: LIFETIME is mandatory in the success response; 600 s (§7.2) if a server omits it.
            var lifetime: UInt32 = 600
            if case .lifetime(let seconds)? = response.first(.lifetime) { lifetime = seconds }
            let duration = TimeAmount.seconds(Int64(lifetime))
            allocation = TurnAllocation(
                relayed: relayed, mapped: response.xorMappedAddress, lifetime: lifetime, expiry: now + duration,
                refreshAt: configuration.refreshTime(from: now, lifetime: duration))
            state = .allocated
            events.push(.allocated(relayed: relayed, mapped: response.xorMappedAddress, lifetime: lifetime))
        case .refresh:
            guard state == .allocated, allocation != nil else { return }
            var lifetime = allocation!.lifetime
            if case .lifetime(let seconds)? = response.first(.lifetime) { lifetime = seconds }
            let duration = TimeAmount.seconds(Int64(lifetime))
            allocation!.lifetime = lifetime
            allocation!.expiry = now + duration
            allocation!.refreshAt = configuration.refreshTime(from: now, lifetime: duration)
            allocation!.refreshing = false
            statistics.allocationRefreshes += 1
            events.push(.refreshed(lifetime: lifetime))
        case .deallocate:
            finishClose()
        case .permission(let ip):
            guard permissions[ip] != nil else { return }
            let first = permissions[ip]!.expiry == nil
            installPermission(ip, now: now)
            permissions[ip]!.requesting = false
            if first {
                events.push(.permissionCreated(ip))
            } else {
                statistics.permissionRefreshes += 1
            }
            // Data queued while the permission was missing (first time) or had lapsed.
            flushQueue(for: ip, now: now)
        case .channelBind(let peer):
            guard let channel = channels[peer] else { return }
            let first = channel.expiry == nil
            channels[peer]!.expiry = now + configuration.channelLifetime
            channels[peer]!.refreshAt = configuration.refreshTime(from: now, lifetime: configuration.channelLifetime)
            channels[peer]!.requesting = false
            // RFC 8656 §12.2: a ChannelBind also installs or refreshes the permission for the peer's IP.
            if permissions[peer.ip] == nil { permissions[peer.ip] = TurnPermission(peer: peer) }
            let newPermission = permissions[peer.ip]!.expiry == nil
            installPermission(peer.ip, now: now)
            if first {
                events.push(.channelBound(peer: peer, channel: channel.number))
            } else {
                statistics.channelRefreshes += 1
            }
            if newPermission { events.push(.permissionCreated(peer.ip)) }
            flushQueue(for: peer.ip, now: now)
        }
    }

    private mutating func installPermission(_ ip: IPAddress, now: NIODeadline) {
        permissions[ip]?.expiry = now + configuration.permissionLifetime
        permissions[ip]?.refreshAt = configuration.refreshTime(from: now, lifetime: configuration.permissionLifetime)
    }

    mutating func requestFailed(_ request: TurnPendingRequest, _ error: TurnError, now: NIODeadline) {
        switch request.purpose {
        case .allocate:
            fail(error)
        case .refresh:
            // RFC 8656 §8: without a successful Refresh the allocation will expire; count it as lost now.
            fail(error)
        case .deallocate:
            // The allocation is gone either way (RFC 8656 §8: a 437 here means it already was).
            finishClose()
        case .permission(let ip):
            if error.code == .allocationMismatch { return fail(error) }
            if let permission = permissions.removeValue(forKey: ip) { statistics.sendsDropped += permission.queue.count }
            events.push(.permissionFailed(ip, error))
        case .channelBind(let peer):
            if error.code == .allocationMismatch { return fail(error) }
            if let channel = channels.removeValue(forKey: peer) { channelPeers[channel.number] = nil }
            events.push(.channelBindFailed(peer: peer, error))
        }
    }

    private mutating func finishClose() {
        guard state == .closing else { return }
        cancelAll()
        state = .closed
        events.push(.closed)
    }
}
