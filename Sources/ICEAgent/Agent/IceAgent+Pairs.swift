import NIOCore
import STUNCore

// Forming, pruning and ordering candidate pairs (RFC 8445 §6.1.2; trickled pairs as RFC 8838 inserts them).
extension IceAgent {
    func local(_ id: Int) -> LocalCandidate? { locals.first { $0.id == id } }
    func remote(_ id: Int) -> RemoteCandidate? { remotes.first { $0.id == id } }
    func pairIndex(_ id: Int) -> Int? { pairs.firstIndex { $0.id == id } }

    /// Adds a remote candidate whose address is known. One with the address of a
    /// peer-reflexive candidate learnt earlier replaces it, keeping its pairs (RFC 8445 §7.3.1.3).
    mutating func addResolvedRemote(_ candidate: IceCandidate, address: TransportAddress) {
        if let index = remotes.firstIndex(where: { $0.address == address }) {
            guard remotes[index].candidate.type == .peerReflexive else { return }
            remotes[index].candidate = candidate
            recomputePairPriorities()
            refreshSelection(remoteID: remotes[index].id)
            return
        }
        let id = makeIdentifier()
        remotes.append(RemoteCandidate(id: id, candidate: candidate, address: address))
        formPairs(forRemote: id)
    }

    /// Local candidates that stand for their base in pairs: host and relay candidates, and a
    /// server-reflexive one only while its base has no host candidate (RFC 8445 §6.1.2.4).
    func pairsWithLocal(_ entry: LocalCandidate) -> Bool {
        guard entry.candidate.transport == .udp, entry.candidate.transportAddress != nil else { return false }
        switch entry.candidate.type {
        case .host, .relay: return true
        case .serverReflexive:
            return !locals.contains { $0.base == entry.base && ($0.candidate.type == .host || $0.candidate.type == .relay) }
        case .peerReflexive: return false
        }
    }

    mutating func formPairs(forLocal localID: Int) {
        guard let entry = local(localID), pairsWithLocal(entry) else { return }
        for remote in remotes where remote.address != nil && remote.candidate.type != .peerReflexive {
            addPair(local: entry, remote: remote)
        }
        // Peer-reflexive remotes were paired with the base their check arrived on only (§7.3.1.3).
    }

    mutating func formPairs(forRemote remoteID: Int) {
        guard let remote = remote(remoteID) else { return }
        for entry in locals where pairsWithLocal(entry) {
            addPair(local: entry, remote: remote)
        }
    }

    /// The pair priority for the current role (RFC 8445 §6.1.2.3).
    func pairPriority(local: IceCandidate, remote: IceCandidate) -> UInt64 {
        role == .controlling
            ? IceCandidate.pairPriority(controlling: local.priority, controlled: remote.priority)
            : IceCandidate.pairPriority(controlling: remote.priority, controlled: local.priority)
    }

    /// Adds a pair unless it is redundant with one of the same base and remote candidate, in
    /// which case the higher-priority local candidate stays (§6.1.2.4). A new pair is Waiting
    /// when no pair of its foundation is Waiting or In-Progress, Frozen otherwise (§6.1.2.6,
    /// as RFC 8838 does for trickled pairs).
    @discardableResult
    mutating func addPair(local: LocalCandidate, remote: RemoteCandidate) -> Int? {
        guard let remoteAddress = remote.address, let localAddress = local.candidate.transportAddress,
            localAddress.ip.family == remoteAddress.ip.family,
            localAddress.ip.isLoopback == remoteAddress.ip.isLoopback || remote.candidate.type == .peerReflexive
        else { return nil }
        let priority = pairPriority(local: local.candidate, remote: remote.candidate)
        if let index = pairs.firstIndex(where: { $0.base == local.base && $0.remoteID == remote.id }) {
            if priority > pairs[index].priority, pairs[index].state == .frozen || pairs[index].state == .waiting {
                pairs[index].localID = local.id
                pairs[index].priority = priority
                pairs[index].foundation = local.candidate.foundation + ":" + remote.candidate.foundation
            }
            return pairs[index].id
        }
        guard pairs.count < configuration.maxPairs else { return nil }
        let foundation = local.candidate.foundation + ":" + remote.candidate.foundation
        var pair = CandidatePair(
            id: makeIdentifier(), localID: local.id, remoteID: remote.id, base: local.base,
            remoteAddress: remoteAddress, priority: priority, foundation: foundation)
        let foundationBusy = pairs.contains { $0.foundation == foundation && ($0.state == .waiting || $0.state == .inProgress) }
        pair.state = foundationBusy ? .frozen : .waiting
        pairs.append(pair)
        lastProgressAt = lastNow
        return pair.id
    }

    /// After a role change or a candidate update.
    mutating func recomputePairPriorities() {
        for index in pairs.indices {
            guard let local = local(pairs[index].localID), let remote = remote(pairs[index].remoteID) else { continue }
            pairs[index].priority = pairPriority(local: local.candidate, remote: remote.candidate)
        }
    }

    /// Re-reports the selected pair when the remote candidate behind it was updated.
    mutating func refreshSelection(remoteID: Int) {
        guard let pairID = selection?.pairID, let index = pairIndex(pairID), pairs[index].remoteID == remoteID,
            let snapshot = snapshot(of: pairs[index]), snapshot != selection?.pair
        else { return }
        selection?.pair = snapshot
        emit(.selectedPairChanged(snapshot))
    }

    /// The public view of a pair.
    func snapshot(of pair: CandidatePair) -> IceCandidatePair? {
        guard let local = local(pair.validLocalID ?? pair.localID), let remote = remote(pair.remoteID) else { return nil }
        // A resolved mDNS candidate keeps the name the peer signalled; the address is in remoteAddress.
        return IceCandidatePair(
            local: local.candidate, remote: remote.candidate, base: pair.base, remoteAddress: pair.remoteAddress,
            priority: pair.priority)
    }

    /// The local candidate that represents a base in checks (for PRIORITY, §7.2.2): the
    /// highest-priority host, relay or server-reflexive candidate on it.
    func representative(of base: IceBaseID) -> LocalCandidate? {
        locals.filter { $0.base == base && $0.candidate.type != .peerReflexive }
            .max { $0.candidate.priority < $1.candidate.priority }
    }
}
