import NIOCore
import STUNCore

// Nomination and the selected pair (RFC 8445 §8.1).
extension IceAgent {
    /// When the controlling agent nominates even though better pairs are still being checked.
    var nominationDeadline: NIODeadline? {
        guard role == .controlling, remoteCredentials != nil, let firstValidAt,
            !pairs.contains(where: { $0.nominated || $0.nominating }),
            pairs.contains(where: { $0.state == .succeeded })
        else { return nil }
        return firstValidAt + configuration.nominationDelay
    }

    /// Regular nomination (§8.1.1): the controlling agent picks the highest-priority valid
    /// pair once no better pair is still pending (or after ``Configuration/nominationDelay``)
    /// and checks it again with USE-CANDIDATE as a triggered check.
    mutating func considerNomination(now: NIODeadline) {
        guard role == .controlling, remoteCredentials != nil,
            !pairs.contains(where: { $0.nominated || $0.nominating }),
            let best = highestPriorityPair(in: .succeeded)
        else { return }
        let bestPriority = pairs[best].priority
        let betterPending = pairs.contains {
            ($0.state == .waiting || $0.state == .frozen || $0.state == .inProgress) && $0.priority > bestPriority
        }
        if betterPending, let deadline = nominationDeadline, now < deadline { return }
        pairs[best].nominating = true
        triggered.removeAll { $0 == pairs[best].id }
        triggered.insert(pairs[best].id, at: 0)
        sendPacedCheck(now: now)
    }

    /// Selects the highest-priority nominated valid pair (§8.1.1) and, on a change, reports it,
    /// stops ordinary checks (§8.1.2: Waiting and Frozen pairs are removed) and starts consent.
    /// Controlled, with ``Configuration/useValidPairBeforeNomination``, the best valid pair is
    /// selected provisionally until a nomination arrives (checks go on meanwhile).
    mutating func updateSelection(now: NIODeadline) {
        var best: Int?
        for index in pairs.indices where pairs[index].nominated && pairs[index].state == .succeeded {
            if best == nil || pairs[index].priority > pairs[best!].priority { best = index }
        }
        var nominated = true
        if best == nil, role == .controlled, configuration.useValidPairBeforeNomination,
            selection?.pairID == nil || selection?.nominated == false
        {
            best = highestPriorityPair(in: .succeeded)
            nominated = false
        }
        guard let best, let credentials = remoteCredentials, let snapshot = snapshot(of: pairs[best]) else { return }
        let pairID = pairs[best].id
        if selection?.pairID == pairID {
            // The provisional pair is now nominated: no pair change, but checks stop (§8.1.2).
            guard nominated, selection?.nominated == false else { return }
            selection?.nominated = true
            pairs.removeAll { $0.state == .frozen || $0.state == .waiting }
            triggered.removeAll { id in !pairs.contains { $0.id == id } }
            return
        }
        let interval = jitteredConsentInterval()
        selection = Selection(
            pair: snapshot, pairID: pairID, nominated: nominated, remoteCredentials: credentials,
            localCredentials: localCredentials, lastResponseAt: pairs[best].lastResponseAt ?? now,
            nextConsentAt: now + interval)
        transactions.removeAll { $0.isConsent }
        if nominated {
            pairs.removeAll { $0.state == .frozen || $0.state == .waiting }
            triggered.removeAll { id in !pairs.contains { $0.id == id } }
        }
        emit(.selectedPairChanged(snapshot))
    }
}
