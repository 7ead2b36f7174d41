public import NIOCore

extension IceAgent {
    /// Every timer and limit of the agent, with the RFCs' defaults.
    public struct Configuration: Hashable, Sendable {
        /// The initial role (RFC 8445 §6.1.1). The offerer (the browser) controls; the desktop is controlled.
        public var role: IceRole
        /// The only component this agent handles (1: RTP with rtcp-mux and BUNDLE).
        public var component: UInt16
        /// Ta: the pacing between connectivity checks (RFC 8445 §14.2; WebRTC uses 20 ms, RFC 8829).
        public var checkPacing: TimeAmount
        /// The lower bound of a check's retransmission timeout (RFC 8445 §14.3: 500 ms).
        public var minimumRTO: TimeAmount
        /// The retransmission timeout doubles up to this.
        public var maximumRTO: TimeAmount
        /// Transmissions of a check before its pair fails (Rc, RFC 8489 §6.2.1).
        public var checkMaxTransmissions: Int
        /// The controlling agent nominates the best valid pair at once when no better pair is
        /// still being checked, otherwise after this long since the first pair became valid
        /// (regular nomination, RFC 8445 §8.1.1).
        public var nominationDelay: TimeAmount
        /// Controlled role: use the best valid pair for application data as soon as it is valid,
        /// before the controlling agent nominates one, and move to the nominated pair when it
        /// comes (as browsers do; RFC 8445 §12.1 lets an agent send on a valid pair before
        /// nomination completes). It makes `connected`, and with it DTLS, start one check
        /// round-trip after the first check instead of after nomination.
        public var useValidPairBeforeNomination: Bool
        /// Mean interval between consent checks on the selected pair, randomized by 0.8–1.2
        /// (RFC 7675 §5.1: 5 s). They are the keep-alives too (RFC 8445 §11).
        public var consentInterval: TimeAmount
        /// `disconnected` after this long without an authenticated response on the selected pair.
        public var disconnectedTimeout: TimeAmount
        /// Consent expires (state `failed`) after this long without one (RFC 7675 §5.1: 30 s).
        public var consentTimeout: TimeAmount
        /// Without end-of-candidates, `failed` once every pair failed and nothing new arrived
        /// for this long (RFC 8838 leaves the timing to the agent).
        public var failureGracePeriod: TimeAmount
        /// Remote candidates kept at most (peer-reflexive ones included); more are dropped.
        public var maxRemoteCandidates: Int
        /// Candidate pairs kept at most (RFC 8445 §6.1.2.5: 100).
        public var maxPairs: Int

        public init(
            role: IceRole = .controlled, component: UInt16 = 1, checkPacing: TimeAmount = .milliseconds(20),
            minimumRTO: TimeAmount = .milliseconds(500), maximumRTO: TimeAmount = .milliseconds(1600),
            checkMaxTransmissions: Int = 7, nominationDelay: TimeAmount = .milliseconds(200),
            useValidPairBeforeNomination: Bool = true,
            consentInterval: TimeAmount = .seconds(5), disconnectedTimeout: TimeAmount = .seconds(7),
            consentTimeout: TimeAmount = .seconds(30), failureGracePeriod: TimeAmount = .seconds(10),
            maxRemoteCandidates: Int = 64, maxPairs: Int = 100
        ) {
            self.role = role
            self.component = component
            self.checkPacing = checkPacing
            self.minimumRTO = minimumRTO
            self.maximumRTO = maximumRTO
            self.checkMaxTransmissions = checkMaxTransmissions
            self.nominationDelay = nominationDelay
            self.useValidPairBeforeNomination = useValidPairBeforeNomination
            self.consentInterval = consentInterval
            self.disconnectedTimeout = disconnectedTimeout
            self.consentTimeout = consentTimeout
            self.failureGracePeriod = failureGracePeriod
            self.maxRemoteCandidates = maxRemoteCandidates
            self.maxPairs = maxPairs
        }
    }
}
