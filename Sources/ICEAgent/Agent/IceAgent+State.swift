import NIOCore

// The connection state (W3C RTCIceConnectionState), derived from the checklist and consent.
extension IceAgent {
    /// Checks, retransmissions or hostname lookups still under way.
    var hasPendingWork: Bool {
        !triggered.isEmpty || remotes.contains { $0.address == nil }
            || pairs.contains { $0.state == .waiting || $0.state == .frozen || $0.state == .inProgress }
            || transactions.contains { !$0.isConsent }
    }

    var hasStarted: Bool {
        !remotes.isEmpty || !pairs.isEmpty || (remoteCredentials != nil && remoteCandidatesEnded)
    }

    /// Without end-of-candidates, when an idle checklist with nothing valid gives up.
    var failureDeadline: NIODeadline? {
        guard selection == nil, !consentExpired, connectionState != .failed, hasStarted, !hasPendingWork,
            !pairs.contains(where: { $0.state == .succeeded })
        else {
            return nil
        }
        return lastProgressAt + configuration.failureGracePeriod
    }

    func computeState(now: NIODeadline) -> IceConnectionState {
        if consentExpired { return .failed }
        if let selection {
            if now >= selection.lastResponseAt + configuration.disconnectedTimeout { return .disconnected }
            // Pairs trickled in after the selection wait unchecked; only checks in flight count.
            let checking = !triggered.isEmpty || pairs.contains {
                $0.state == .inProgress || ($0.state == .waiting && ordinaryChecksAllowed)
            }
            if selection.pairID != nil, selection.nominated, remoteCandidatesEnded, !checking { return .completed }
            return .connected
        }
        guard hasStarted else { return connectionState == .new ? .new : .checking }
        // A valid pair waits for nomination (the controlled side) or is being nominated.
        if hasPendingWork || pairs.contains(where: { $0.state == .succeeded }) { return .checking }
        if (remoteCandidatesEnded && !pairs.isEmpty) || now >= lastProgressAt + configuration.failureGracePeriod {
            return .failed
        }
        return .checking
    }

    mutating func updateState(now: NIODeadline) {
        guard !closed else { return }
        setState(computeState(now: now))
    }
}
