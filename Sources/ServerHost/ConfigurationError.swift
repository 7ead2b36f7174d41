/// A setting that cannot be used, reported at start-up in one line naming the variable
/// (config.md: "An invalid value stops start-up with one line naming the variable, the value
/// and what was expected").
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The environment variable name, e.g. `STUN_PORT`.
    public let variable: String
    /// The offending value; secrets are never echoed.
    public let value: String?
    /// What was expected instead.
    public let expected: String

    public init(variable: String, value: String?, expected: String) {
        self.variable = variable
        self.value = value
        self.expected = expected
    }

    public var description: String {
        if let value { return "invalid \(variable)=\(value.debugDescription): \(expected)" }
        return "invalid \(variable): \(expected)"
    }
}
