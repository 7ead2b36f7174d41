public import NIOCore

/// The reconnect schedule: capped exponential backoff with jitter, as a pure function of the
/// attempt number.
///
/// Attempt `n` (1 for the first reconnect after a loss) waits
/// `min(maximumDelay, initialDelay × 2^(n−1)) × (1 − jitter × r)` for a random `r` in `[0, 1)`,
/// so with the defaults 0.5 s, 1 s, 2 s, … 16 s, then 30 s for every later attempt, each shortened
/// by up to 20 %. Jitter only ever shortens, so ``maximumDelay`` is a true cap, and clients that
/// lost the same broker at the same moment spread out instead of reconnecting in lock step.
public struct MQTTReconnectBackoff: Hashable, Sendable {
    /// The wait before the first reconnect attempt.
    public var initialDelay: TimeAmount
    /// The longest wait between attempts.
    public var maximumDelay: TimeAmount
    /// The fraction, in `0...1`, of each wait that is randomly taken off.
    public var jitter: Double

    public init(initialDelay: TimeAmount = .milliseconds(500), maximumDelay: TimeAmount = .seconds(30), jitter: Double = 0.2) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.jitter = jitter
    }

    /// The wait before attempt `attempt`.
    ///
    /// - Parameters:
    ///   - attempt: 1 for the first attempt after a loss; values below 1 count as 1.
    ///   - random: a number in `[0, 1)` (clamped); 0 gives the wait without jitter.
    /// - Returns: a wait in `(maximumDelay × (1 − jitter)) ... maximumDelay` once capped.
    public func delay(attempt: Int, random: Double) -> TimeAmount {
        let initial = max(initialDelay.nanoseconds, 0)
        let cap = max(maximumDelay.nanoseconds, initial)
        var base = initial
        var step = 1
        while step < attempt && base > 0 && base < cap {
            base = base > cap / 2 ? cap : base * 2
            step += 1
        }
        base = min(base, cap)
        let fraction = min(max(jitter, 0), 1) * min(max(random, 0), 1)
        return .nanoseconds(base - Int64(Double(base) * fraction))
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small seeded generator, so that the state machine's
/// jitter is reproducible in tests and needs no system randomness.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }
}
