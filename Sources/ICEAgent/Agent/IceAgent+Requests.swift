public import NIOCore
public import STUNCore

// Receiving: datagram entry points and the responder side of checks (RFC 8445 §7.3).
extension IceAgent {
    /// Handles a datagram that arrived on a base.
    ///
    /// Checks are authenticated with the local password and responses with the remote one
    /// (short-term credentials, RFC 8445 §7.2.2, §7.3); both must carry a valid FINGERPRINT.
    /// Refused messages are counted in ``statistics``.
    /// - Parameters:
    ///   - bytes: one whole datagram (a STUN message; anything else is not for the agent).
    ///   - source: where it came from.
    ///   - base: the socket or relay allocation it arrived on.
    ///   - now: the current time.
    /// - Returns: whether the agent used it, did not recognise it, or refused it.
    @discardableResult
    public mutating func handleReceive(
        _ bytes: [UInt8], from source: TransportAddress, on base: IceBaseID, now: NIODeadline
    ) -> IceReceiveOutcome {
        guard bytes.count >= 20, bytes[0] & 0xC0 == 0, bytes[4] == 0x21, bytes[5] == 0x12, bytes[6] == 0xA4,
            bytes[7] == 0x42
        else { return .notForThisAgent }
        let message: StunMessage
        do {
            message = try StunMessage(decoding: bytes)
        } catch {
            advance(to: now)
            if error.code == .fingerprintMismatch {
                statistics.fingerprintFailures += 1
                return .rejected(.badFingerprint)
            }
            statistics.malformedDrops += 1
            return .rejected(.malformed)
        }
        return handleReceive(message, from: source, on: base, now: now)
    }

    /// Handles a STUN message the caller already decoded (for example a shared-port
    /// demultiplexer that read its USERNAME). The decoder has checked FINGERPRINT when present;
    /// a message without one is refused here.
    @discardableResult
    public mutating func handleReceive(
        _ message: StunMessage, from source: TransportAddress, on base: IceBaseID, now: NIODeadline
    ) -> IceReceiveOutcome {
        advance(to: now)
        guard !closed else { return .rejected(.closed) }
        guard message.method == .binding else { return .notForThisAgent }
        let outcome: IceReceiveOutcome
        switch message.messageClass {
        case .request:
            outcome = handleRequest(message, from: source, on: base, now: now)
        case .successResponse, .errorResponse:
            outcome = handleResponse(message, from: source, on: base, now: now)
        case .indication:
            // Binding indications are keep-alives (RFC 8445 §11); nothing to do.
            outcome = .handled
        }
        drive(now: now)
        return outcome
    }

    /// §7.3.1: authenticate, resolve role conflicts, answer, learn peer-reflexive candidates,
    /// queue a triggered check and note nomination.
    private mutating func handleRequest(
        _ message: StunMessage, from source: TransportAddress, on base: IceBaseID, now: NIODeadline
    ) -> IceReceiveOutcome {
        guard message.hasFingerprint else {
            statistics.fingerprintFailures += 1
            return .rejected(.missingFingerprint)
        }
        guard let username = message.username, message.hasIntegrity else {
            // RFC 8489 §9.1.3: 400 without both USERNAME and MESSAGE-INTEGRITY.
            respondError(.badRequest, to: message, from: source, on: base, key: nil)
            return .rejected(.missingCredentials)
        }
        let localPart = username.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        // §9: until a restart selects a new pair, the old pair's consent checks still use the
        // old credentials; they are answered on that path only.
        let previous: IceCredentials?
        if let current = selection, current.pairID == nil, current.localCredentials.usernameFragment == localPart,
            current.localCredentials != localCredentials, current.pair.remoteAddress == source, current.pair.base == base
        {
            previous = current.localCredentials
        } else {
            previous = nil
        }
        guard localPart == localCredentials.usernameFragment || previous != nil else {
            statistics.unknownUsernameDrops += 1
            if previousUsernameFragments.contains(String(localPart)) {
                // An old ufrag after an ICE restart (§9): refused, not silently ignored.
                respondError(.unauthenticated, to: message, from: source, on: base, key: nil)
                return .rejected(.unknownUsername)
            }
            return .notForThisAgent
        }
        let key = StunKey.shortTerm(password: (previous ?? localCredentials).password)
        guard message.isAuthentic(key: key) else {
            statistics.integrityFailures += 1
            respondError(.unauthenticated, to: message, from: source, on: base, key: nil)
            return .rejected(.badIntegrity)
        }
        statistics.checksReceived += 1
        guard case .priority(let peerPriority)? = message.first(.priority) else {
            statistics.malformedDrops += 1
            respondError(.badRequest, to: message, from: source, on: base, key: key)
            return .rejected(.malformed)
        }
        if previous != nil {
            respondSuccess(to: message, from: source, on: base, key: key)
            return .handled
        }
        if let refused = resolveRoleConflict(message, from: source, on: base, key: key) { return refused }

        respondSuccess(to: message, from: source, on: base, key: key)

        guard let pairIndex = pairForRequest(from: source, on: base, priority: peerPriority, now: now) else {
            return .handled
        }
        // §7.3.1.4: triggered check unless the pair already succeeded or is being checked.
        switch pairs[pairIndex].state {
        case .succeeded, .inProgress:
            break
        case .waiting, .frozen, .failed:
            pairs[pairIndex].state = .waiting
            if !triggered.contains(pairs[pairIndex].id) { triggered.append(pairs[pairIndex].id) }
        }
        // §7.3.1.5: the controlling peer nominates; the pair is selected once our check succeeds.
        if message.first(.useCandidate) != nil && role == .controlled {
            pairs[pairIndex].remoteNominated = true
            if pairs[pairIndex].state == .succeeded {
                pairs[pairIndex].nominated = true
                updateSelection(now: now)
            }
        }
        return .handled
    }

    /// The pair for a received check, learning a peer-reflexive remote candidate when the
    /// source is unknown (§7.3.1.3); nil when no local candidate stands for the base.
    private mutating func pairForRequest(
        from source: TransportAddress, on base: IceBaseID, priority: UInt32, now: NIODeadline
    ) -> Int? {
        guard let local = representative(of: base) else { return nil }
        let remoteID: Int
        if let known = remotes.first(where: { $0.address == source }) {
            remoteID = known.id
        } else {
            guard remotes.count < configuration.maxRemoteCandidates else { return nil }
            remoteID = makeIdentifier()
            let candidate = IceCandidate(
                foundation: "prflx\(remoteID)", component: configuration.component, transport: .udp,
                priority: priority, address: .ip(source.ip), port: source.port, type: .peerReflexive)
            remotes.append(RemoteCandidate(id: remoteID, candidate: candidate, address: source))
            lastProgressAt = now
        }
        if let index = pairs.firstIndex(where: { $0.base == base && $0.remoteID == remoteID }) { return index }
        guard let remote = remote(remoteID), let id = addPair(local: local, remote: remote) else { return nil }
        return pairIndex(id)
    }

    /// §7.3.1.1: both sides claim the same role. Returns the outcome when the request was
    /// refused with 487, nil when processing continues (possibly after switching role).
    private mutating func resolveRoleConflict(
        _ message: StunMessage, from source: TransportAddress, on base: IceBaseID, key: StunKey
    ) -> IceReceiveOutcome? {
        switch (role, message.first(.iceControlling), message.first(.iceControlled)) {
        case (.controlling, .iceControlling(let theirs)?, _):
            statistics.roleConflicts += 1
            if tieBreaker >= theirs {
                respondError(.roleConflict, to: message, from: source, on: base, key: key)
                return .rejected(.roleConflict)
            }
            switchRole(to: .controlled)
        case (.controlled, _, .iceControlled(let theirs)?):
            statistics.roleConflicts += 1
            if tieBreaker >= theirs {
                switchRole(to: .controlling)
            } else {
                respondError(.roleConflict, to: message, from: source, on: base, key: key)
                return .rejected(.roleConflict)
            }
        default:
            break
        }
        return nil
    }

    /// §7.2.5.1: a 487 to our check: switch role if we still hold the role we sent, then
    /// check the pair again.
    mutating func handleRoleConflictResponse(_ transaction: CheckTransaction) {
        statistics.roleConflicts += 1
        if transaction.role == role { switchRole(to: role == .controlling ? .controlled : .controlling) }
        guard let pairID = transaction.pairID, !transaction.isConsent, let index = pairIndex(pairID) else { return }
        if pairs[index].state != .succeeded { pairs[index].state = .waiting }
        if !triggered.contains(pairID) { triggered.append(pairID) }
    }

    mutating func switchRole(to newRole: IceRole) {
        guard newRole != role else { return }
        role = newRole
        for index in pairs.indices { pairs[index].nominating = false }
        recomputePairPriorities()
        emit(.roleChanged(newRole))
    }

    /// §7.3.1.2: the success response carries the source as XOR-MAPPED-ADDRESS.
    private mutating func respondSuccess(
        to request: StunMessage, from source: TransportAddress, on base: IceBaseID, key: StunKey
    ) {
        let response = StunMessage(
            method: .binding, messageClass: .successResponse, transactionID: request.transactionID,
            attributes: [.xorMappedAddress(source)])
        transmitQueue.append(IceTransmit(
            base: base, destination: source, bytes: response.encoded(messageIntegrity: key, fingerprint: true)))
        statistics.responsesSent += 1
    }

    /// An error response; signed when the request was authenticated (RFC 8489 §6.3.4).
    private mutating func respondError(
        _ error: StunErrorCode, to request: StunMessage, from source: TransportAddress, on base: IceBaseID,
        key: StunKey?
    ) {
        let response = StunMessage(
            method: .binding, messageClass: .errorResponse, transactionID: request.transactionID,
            attributes: [.errorCode(error)])
        transmitQueue.append(IceTransmit(
            base: base, destination: source, bytes: response.encoded(messageIntegrity: key, fingerprint: true)))
        statistics.responsesSent += 1
    }
}
