public import NIOCore
public import STUNCore

extension TurnClient {
    /// How the client reaches the server (RFC 8656 §3.1).
    public enum Mode: Hashable, Sendable {
        /// UDP: requests are retransmitted (RFC 8489 §6.2.1), ChannelData is not padded.
        case datagram
        /// TCP or TLS: no retransmissions (RFC 8489 §6.2.2), ChannelData padded to 4 bytes
        /// (RFC 8656 §12.5); the caller frames input with `StunStreamFramer`.
        case stream
    }

    /// Everything a ``TurnClient`` needs besides time and bytes; defaults follow RFC 8656.
    public struct Configuration: Hashable, Sendable {
        /// The long-term credential username (RFC 8489 §9.2).
        public var username: String
        /// The long-term credential password.
        public var password: String
        public var mode: Mode
        /// The LIFETIME to ask for in Allocate and Refresh, in seconds (RFC 8656 §7.2); nil
        /// lets the server choose (its default, 600 s in §7.2).
        public var requestedLifetime: UInt32?
        /// REQUESTED-ADDRESS-FAMILY for the relayed address (RFC 8656 §7.2, §18.11); nil asks for
        /// the server's default, IPv4. A server without IPv6 relaying answers 440.
        public var requestedAddressFamily: AddressFamily?
        /// Refreshes are sent this long before expiry, but never earlier than halfway through
        /// the lifetime (so short lifetimes are refreshed at half-time). RFC 8656 §8 leaves
        /// the moment to the client; 60 s before expiry is what most clients do.
        public var refreshMargin: TimeAmount
        /// How long a permission lasts on the server: 300 s, not negotiable (RFC 8656 §9).
        /// Shorter values exist only for servers configured that way (coturn `--permission-lifetime`).
        public var permissionLifetime: TimeAmount
        /// How long a channel binding lasts: 600 s (RFC 8656 §12).
        public var channelLifetime: TimeAmount
        /// Retransmission timers for requests; `reliable` is taken from ``mode``.
        public var transaction: StunClientTransaction.Configuration
        /// How many 438 Stale Nonce answers in a row one request may get before it fails.
        public var maxStaleNonceRetries: Int
        /// Send indications queued per peer while its first permission is pending.
        public var maxQueuedPerPeer: Int
        /// SOFTWARE sent in Allocate (RFC 8489 §14.14); nil sends none.
        public var software: String?

        public init(
            username: String, password: String, mode: Mode = .datagram, requestedLifetime: UInt32? = nil,
            requestedAddressFamily: AddressFamily? = nil, refreshMargin: TimeAmount = .seconds(60), permissionLifetime: TimeAmount = .seconds(300),
            channelLifetime: TimeAmount = .seconds(600), transaction: StunClientTransaction.Configuration = .init(),
            maxStaleNonceRetries: Int = 3, maxQueuedPerPeer: Int = 16, software: String? = "pod-arcade"
        ) {
            self.username = username
            self.password = password
            self.mode = mode
            self.requestedLifetime = requestedLifetime
            self.requestedAddressFamily = requestedAddressFamily
            self.refreshMargin = refreshMargin
            self.permissionLifetime = permissionLifetime
            self.channelLifetime = channelLifetime
            self.transaction = transaction
            self.maxStaleNonceRetries = maxStaleNonceRetries
            self.maxQueuedPerPeer = maxQueuedPerPeer
            self.software = software
        }

        /// When to refresh something that was (re)installed at `start` and lasts `lifetime`.
        func refreshTime(from start: NIODeadline, lifetime: TimeAmount) -> NIODeadline {
            let early = lifetime - refreshMargin
            let half = TimeAmount.nanoseconds(lifetime.nanoseconds / 2)
            return start + (early > half ? early : half)
        }
    }
}
