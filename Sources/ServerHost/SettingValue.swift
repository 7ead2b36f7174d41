/// Parsing of setting values shared by the executables (config.md).
public enum SettingValue {
    /// Booleans accept true/false/1/0/yes/no, in any case.
    public static func bool(_ text: String, variable: String) throws(ConfigurationError) -> Bool {
        switch text.trimmingWhitespace().lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigurationError(variable: variable, value: text, expected: "a boolean (true/false/1/0/yes/no)")
        }
    }

    /// A port: 1–65535, 0 for any free port, or -1 to disable when `allowDisable`.
    /// - Returns: nil when disabled.
    public static func port(_ text: String, variable: String, allowDisable: Bool = true) throws(ConfigurationError) -> Int? {
        let expected = allowDisable ? "a port number 0-65535, or -1 to disable" : "a port number 0-65535"
        guard let value = Int(text.trimmingWhitespace()) else { throw ConfigurationError(variable: variable, value: text, expected: expected) }
        if value == -1 && allowDisable { return nil }
        guard (0...65535).contains(value) else { throw ConfigurationError(variable: variable, value: text, expected: expected) }
        return value
    }
}

/// The log levels of config.md's `LOG_LEVEL`.
public enum LogLevelSetting: String, CaseIterable, Sendable {
    case trace, debug, info, warning, error

    public init(parsing text: String) throws(ConfigurationError) {
        var name = text.trimmingWhitespace().lowercased()
        if name == "warn" { name = "warning" }
        guard let level = LogLevelSetting(rawValue: name) else {
            throw ConfigurationError(variable: "LOG_LEVEL", value: text, expected: "one of trace, debug, info, warning, error")
        }
        self = level
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
