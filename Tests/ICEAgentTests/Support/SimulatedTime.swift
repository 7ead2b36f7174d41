import NIOCore

/// Simulated time: `simAt(ms)` is `ms` milliseconds after an arbitrary start.
func simAt(_ milliseconds: Int64) -> NIODeadline {
    .uptimeNanoseconds(UInt64(1_000_000_000 + milliseconds * 1_000_000))
}

/// Milliseconds since the simulated start.
func simMilliseconds(_ deadline: NIODeadline) -> Int64 {
    (Int64(deadline.uptimeNanoseconds) - 1_000_000_000) / 1_000_000
}

/// Milliseconds since the simulated start, rounded up (agents may ask for sub-millisecond deadlines).
func simMillisecondsRoundingUp(_ deadline: NIODeadline) -> Int64 {
    (Int64(deadline.uptimeNanoseconds) - 1_000_000_000 + 999_999) / 1_000_000
}

/// SplitMix64: a small seeded generator so every simulated run is reproducible.
struct SimSeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A double in 0..<1.
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
