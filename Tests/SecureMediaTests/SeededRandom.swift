@testable import SecureMedia

/// The seeded generator (SplitMix64) the tests use for reproducible loss, reordering and
/// mutations: the one the media sender uses for its report jitter.
typealias SplitMix64 = MediaSenderRandom
