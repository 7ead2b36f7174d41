import NIOCore
import STUNCore

// Sending connectivity checks and processing their responses (RFC 8445 §6.1.4, §7.2).
extension IceAgent {
    /// Ordinary checks run until a nominated pair is selected (or, after a restart, until a new one is).
    var ordinaryChecksAllowed: Bool { selection?.pairID == nil || selection?.nominated == false }

    /// True when a paced check could go now (credentials known and a pair to check).
    var hasCheckToSend: Bool {
        guard !closed, remoteCredentials != nil else { return false }
        if !triggered.isEmpty { return true }
        return ordinaryChecksAllowed && pairs.contains { $0.state == .waiting || $0.state == .frozen }
    }

    /// Sends one check if Ta has passed since the last: the head of the triggered queue, else
    /// the highest-priority Waiting pair, else the highest-priority Frozen pair is unfrozen
    /// (RFC 8445 §6.1.4.2).
    mutating func sendPacedCheck(now: NIODeadline) {
        guard hasCheckToSend, now >= nextCheckAt, let pairID = nextPairToCheck() else { return }
        startCheck(pairID: pairID, now: now)
        nextCheckAt = now + configuration.checkPacing
    }

    private mutating func nextPairToCheck() -> Int? {
        while !triggered.isEmpty {
            let id = triggered.removeFirst()
            if let index = pairIndex(id), pairs[index].state != .inProgress { return id }
        }
        guard ordinaryChecksAllowed else { return nil }
        if let waiting = highestPriorityPair(in: .waiting) { return pairs[waiting].id }
        if let frozen = highestPriorityPair(in: .frozen) {
            pairs[frozen].state = .waiting
            return pairs[frozen].id
        }
        return nil
    }

    func highestPriorityPair(in state: PairState) -> Int? {
        var best: Int?
        for index in pairs.indices where pairs[index].state == state {
            if best == nil || pairs[index].priority > pairs[best!].priority { best = index }
        }
        return best
    }

    /// The PRIORITY a check carries: the local candidate's priority recomputed with the
    /// peer-reflexive type preference (RFC 8445 §7.1.1).
    func peerReflexivePriority(for local: IceCandidate) -> UInt32 {
        IceCandidate.priority(
            type: .peerReflexive, localPreference: local.localPreference, component: local.component)
    }

    /// Builds a Binding request (RFC 8445 §7.1, §7.2.2): USERNAME `remote:local`, PRIORITY,
    /// ICE-CONTROLLING or ICE-CONTROLLED, USE-CANDIDATE when nominating, MESSAGE-INTEGRITY
    /// with the remote password and FINGERPRINT.
    mutating func makeCheck(
        local: IceCandidate, remote: IceCredentials, localCredentials: IceCredentials, useCandidate: Bool
    ) -> (TransactionID, [UInt8], StunKey) {
        let id = TransactionID.random(using: &random)
        var attributes: [StunAttribute] = [
            .username("\(remote.usernameFragment):\(localCredentials.usernameFragment)"),
            .priority(peerReflexivePriority(for: local)),
            role == .controlling ? .iceControlling(tieBreaker: tieBreaker) : .iceControlled(tieBreaker: tieBreaker),
        ]
        if useCandidate { attributes.append(.useCandidate) }
        let key = StunKey.shortTerm(password: remote.password)
        let request = StunMessage(method: .binding, messageClass: .request, transactionID: id, attributes: attributes)
        return (id, request.encoded(messageIntegrity: key, fingerprint: true), key)
    }

    /// RTO for a check (RFC 8445 §14.3): `MAX(500 ms, Ta · (Num-Waiting + Num-In-Progress))`.
    var checkRTO: TimeAmount {
        let active = pairs.reduce(0) { $0 + ($1.state == .waiting || $1.state == .inProgress ? 1 : 0) }
        return min(max(configuration.minimumRTO, configuration.checkPacing * Int64(active)), configuration.maximumRTO)
    }

    mutating func startCheck(pairID: Int, now: NIODeadline) {
        guard let index = pairIndex(pairID), let credentials = remoteCredentials else { return }
        guard let local = local(pairs[index].localID) else {
            failPair(pairID)
            return
        }
        let pair = pairs[index]
        let (id, bytes, key) = makeCheck(
            local: local.candidate, remote: credentials, localCredentials: localCredentials,
            useCandidate: pair.nominating && role == .controlling)
        let rto = checkRTO
        transactions.append(CheckTransaction(
            id: id, pairID: pairID, base: pair.base, destination: pair.remoteAddress, bytes: bytes, key: key,
            role: role, useCandidate: pair.nominating && role == .controlling, isConsent: false, rto: rto,
            nextEventAt: now + rto))
        if pair.state != .succeeded { pairs[index].state = .inProgress }
        transmitQueue.append(IceTransmit(base: pair.base, destination: pair.remoteAddress, bytes: bytes))
        statistics.checksSent += 1
    }

    /// Retransmits due checks with a doubling RTO and fails the pairs of checks that got no
    /// response after the last transmission (RFC 8489 §6.2.1, RFC 8445 §7.2.5.2.3).
    mutating func processTransactions(now: NIODeadline) {
        var index = 0
        while index < transactions.count {
            guard transactions[index].nextEventAt <= now else {
                index += 1
                continue
            }
            if transactions[index].transmissions < configuration.checkMaxTransmissions {
                transactions[index].transmissions += 1
                transactions[index].rto = min(transactions[index].rto * 2, configuration.maximumRTO)
                transactions[index].nextEventAt = now + transactions[index].rto
                let transaction = transactions[index]
                transmitQueue.append(IceTransmit(base: transaction.base, destination: transaction.destination, bytes: transaction.bytes))
                statistics.checksSent += 1
                statistics.retransmissions += 1
                if transaction.isConsent { statistics.consentChecksSent += 1 }
                index += 1
                continue
            }
            let transaction = transactions.remove(at: index)
            statistics.checkTimeouts += 1
            if let pairID = transaction.pairID, !transaction.isConsent { failPair(pairID) }
        }
    }

    mutating func failPair(_ pairID: Int) {
        guard let index = pairIndex(pairID) else { return }
        pairs[index].state = .failed
        pairs[index].nominating = false
        pairs[index].nominated = false
        transactions.removeAll { $0.pairID == pairID && !$0.isConsent }
        triggered.removeAll { $0 == pairID }
        if selection?.pairID == pairID {
            // The selected pair's own check failed; consent decides whether the path is gone.
            selection?.pairID = nil
        }
    }

    /// Handles a Binding response to one of our checks (RFC 8445 §7.2.5).
    mutating func handleResponse(
        _ message: StunMessage, from source: TransportAddress, on base: IceBaseID, now: NIODeadline
    ) -> IceReceiveOutcome {
        guard let transactionIndex = transactions.firstIndex(where: { $0.id == message.transactionID }) else {
            return .notForThisAgent
        }
        let transaction = transactions[transactionIndex]
        guard message.hasFingerprint else {
            statistics.fingerprintFailures += 1
            return .rejected(.missingFingerprint)
        }
        // RFC 8489 §9.1.4: a response must be signed with the password of the request.
        guard message.isAuthentic(key: transaction.key) else {
            statistics.integrityFailures += 1
            return .rejected(.badIntegrity)
        }
        transactions.remove(at: transactionIndex)
        statistics.responsesReceived += 1
        // §7.2.5.2.1: the response must come from where the request went, to where it came from.
        guard source == transaction.destination, base == transaction.base else {
            if let pairID = transaction.pairID { failPair(pairID) }
            return .rejected(.unexpectedSource)
        }
        if message.messageClass == .errorResponse {
            if message.errorCode?.code == StunErrorCode.roleConflict.code {
                handleRoleConflictResponse(transaction)
            } else if let pairID = transaction.pairID, !transaction.isConsent {
                failPair(pairID)  // §7.2.5.2.4: an unrecoverable error
            }
            return .handled
        }
        guard let mapped = message.xorMappedAddress else {
            statistics.malformedDrops += 1
            if let pairID = transaction.pairID, !transaction.isConsent { failPair(pairID) }
            return .rejected(.malformed)
        }
        // Any authenticated success on the selected path refreshes consent (RFC 7675 §5.1).
        if let current = selection, current.pair.base == transaction.base,
            current.pair.remoteAddress == transaction.destination
        {
            selection?.lastResponseAt = now
        }
        if let pairID = transaction.pairID, !transaction.isConsent, let index = pairIndex(pairID) {
            pairSucceeded(index, mapped: mapped, transaction: transaction, now: now)
        }
        return .handled
    }

    /// §7.2.5.3: the pair becomes valid, its foundation unfreezes, and nomination follows.
    private mutating func pairSucceeded(
        _ index: Int, mapped: TransportAddress, transaction: CheckTransaction, now: NIODeadline
    ) {
        let validLocal = localCandidate(matching: mapped, base: transaction.base, pairIndex: index)
        pairs[index].validLocalID = validLocal
        pairs[index].state = .succeeded
        pairs[index].lastResponseAt = now
        if firstValidAt == nil { firstValidAt = now }
        let foundation = pairs[index].foundation
        for other in pairs.indices where pairs[other].state == .frozen && pairs[other].foundation == foundation {
            pairs[other].state = .waiting  // §7.2.5.3.3
        }
        if transaction.useCandidate && role == .controlling {
            pairs[index].nominating = false
            pairs[index].nominated = true
        } else if role == .controlled && pairs[index].remoteNominated {
            pairs[index].nominated = true  // §7.3.1.5
        }
        updateSelection(now: now)
    }

    /// The local candidate whose address is the mapped address, or a new peer-reflexive one
    /// (RFC 8445 §7.2.5.3.1), with the priority the check carried.
    private mutating func localCandidate(matching mapped: TransportAddress, base: IceBaseID, pairIndex index: Int) -> Int {
        if let known = locals.first(where: { $0.base == base && $0.candidate.transportAddress == mapped }) {
            return known.id
        }
        // An authenticated peer could still report endless mapped addresses: bound the list.
        guard locals.count(where: { $0.candidate.type == .peerReflexive }) < configuration.maxRemoteCandidates else {
            return pairs[index].localID
        }
        let checked = local(pairs[index].localID)?.candidate
        let baseAddress = checked?.transportAddress
        let candidate = IceCandidate(
            foundation: IceCandidate.foundation(
                type: .peerReflexive, baseAddress: baseAddress?.ip ?? mapped.ip, serverAddress: nil, transport: .udp),
            component: configuration.component, transport: .udp,
            priority: checked.map(peerReflexivePriority(for:))
                ?? IceCandidate.priority(type: .peerReflexive, localPreference: 0, component: configuration.component),
            address: .ip(mapped.ip), port: mapped.port, type: .peerReflexive,
            relatedAddress: baseAddress.map { .ip($0.ip) }, relatedPort: baseAddress?.port)
        let id = makeIdentifier()
        locals.append(LocalCandidate(id: id, candidate: candidate, base: base))
        return id
    }
}
