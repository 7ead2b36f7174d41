/// The agent's random source: the system's secure generator, or a seeded SplitMix64 so that
/// tests (and the two-agent harness) are reproducible.
struct IceRandom: RandomNumberGenerator, Sendable {
    private var seeded: UInt64?

    init(seed: UInt64?) { seeded = seed }

    mutating func next() -> UInt64 {
        guard var state = seeded else {
            var system = SystemRandomNumberGenerator()
            return system.next()
        }
        // SplitMix64 (Steele, Lea, Flood 2014).
        state &+= 0x9E37_79B9_7F4A_7C15
        seeded = state
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniformly distributed factor in `range`, for timer jitter (RFC 7675 §5.1).
    mutating func factor(in range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * Double(next() >> 11) / Double(1 << 53)
    }
}
