import NIOCore
import STUNCore

// Consent freshness on the selected pair (RFC 7675); the consent checks are the keep-alives.
extension IceAgent {
    /// The consent interval randomized by 0.8–1.2 (RFC 7675 §5.1).
    mutating func jitteredConsentInterval() -> TimeAmount {
        let factor = random.factor(in: 0.8...1.2)
        let nanoseconds = Double(configuration.consentInterval.nanoseconds) * factor
        return .nanoseconds(Int64(min(max(nanoseconds, 0), Double(Int64.max / 4))))
    }

    /// The next consent event: a check to send, `disconnected`, or expiry.
    var consentDeadline: NIODeadline? {
        guard let selection, !consentExpired else { return nil }
        var deadline = min(selection.nextConsentAt, selection.lastResponseAt + configuration.consentTimeout)
        if connectionState != .disconnected {
            deadline = min(deadline, selection.lastResponseAt + configuration.disconnectedTimeout)
        }
        return deadline
    }

    /// Sends due consent checks and expires consent after ``Configuration/consentTimeout``
    /// without an authenticated response (RFC 7675 §5.1).
    mutating func processConsent(now: NIODeadline) {
        guard var current = selection, !consentExpired else { return }
        if now >= current.lastResponseAt + configuration.consentTimeout {
            consentExpired = true
            selection = nil
            transactions.removeAll { $0.isConsent }
            if let pairID = current.pairID { failPair(pairID) }
            emit(.consentExpired)
            emit(.selectedPairChanged(nil))
            return
        }
        guard now >= current.nextConsentAt else { return }
        current.nextConsentAt = now + jitteredConsentInterval()
        selection = current
        let (id, bytes, key) = makeCheck(
            local: current.pair.local, remote: current.remoteCredentials, localCredentials: current.localCredentials,
            useCandidate: false)
        let rto = configuration.minimumRTO
        transactions.append(CheckTransaction(
            id: id, pairID: nil, base: current.pair.base, destination: current.pair.remoteAddress, bytes: bytes,
            key: key, role: role, useCandidate: false, isConsent: true, rto: rto, nextEventAt: now + rto))
        transmitQueue.append(IceTransmit(base: current.pair.base, destination: current.pair.remoteAddress, bytes: bytes))
        statistics.checksSent += 1
        statistics.consentChecksSent += 1
    }
}
