public import STUNCore

/// Which local addresses become host candidates (RFC 8445 §5.1.1.1), and which addresses those
/// candidates advertise when the desktop sits behind a 1:1 NAT or a forwarded port
/// (`WEBRTC_IPS`, seed-peer-to-peer.md "Port Forwarding").
public struct HostAddressSelection: Hashable, Sendable {
    /// Offer 127.0.0.1 / ::1 (tests and single-machine setups); off by default, as browsers do.
    public var includeLoopback: Bool
    /// Offer IPv6 addresses (global and unique-local; link-local ones are never offered because
    /// a candidate cannot carry their zone).
    public var includeIPv6: Bool
    /// `WEBRTC_IPS`: when not empty, the host candidates advertise exactly these addresses
    /// instead of the interfaces' own (NAT 1:1), each on the shared socket's port.
    public var advertisedAddresses: [IPAddress]

    public init(includeLoopback: Bool = false, includeIPv6: Bool = true, advertisedAddresses: [IPAddress] = []) {
        self.includeLoopback = includeLoopback
        self.includeIPv6 = includeIPv6
        self.advertisedAddresses = advertisedAddresses
    }

    /// The interface addresses to open sockets on, in a stable order (IPv4 first, as the
    /// candidate priorities will prefer IPv6 anyway), without duplicates.
    public func usable(_ interfaceAddresses: [IPAddress]) -> [IPAddress] {
        var seen = Set<IPAddress>()
        let chosen = interfaceAddresses.filter { address in
            if address.isLinkLocal { return false }
            if address.isLoopback && !includeLoopback { return false }
            if address.family == .ipv6 && !includeIPv6 { return false }
            if case .v4(0) = address { return false }
            if address.unmappedIPv4 != nil { return false }
            return seen.insert(address).inserted
        }
        return chosen.filter { $0.family == .ipv4 } + chosen.filter { $0.family == .ipv6 }
    }

    /// Parses `WEBRTC_IPS`: comma-separated IPv4 or IPv6 literals, spaces allowed around commas.
    /// - Throws: a message naming the entry that is not an address.
    public static func parseAdvertisedAddresses(_ text: String) throws(HostAddressSelectionError) -> [IPAddress] {
        var addresses: [IPAddress] = []
        for (index, part) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let entry = trimmed(part)
            if entry.isEmpty {
                if trimmed(text).isEmpty { return [] }
                throw HostAddressSelectionError(entry: index, text: String(part), problem: "empty entry")
            }
            let literal = entry.hasPrefix("[") && entry.hasSuffix("]") ? String(entry.dropFirst().dropLast()) : entry
            guard let address = IPAddress(literal), !entry.contains("%") else {
                throw HostAddressSelectionError(entry: index, text: entry, problem: "not an IPv4 or IPv6 address")
            }
            if case .v4(0) = address {
                throw HostAddressSelectionError(entry: index, text: entry, problem: "the unspecified address cannot be advertised")
            }
            if !addresses.contains(address) { addresses.append(address) }
        }
        return addresses
    }
}

/// A `WEBRTC_IPS` entry that is not an address.
public struct HostAddressSelectionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Zero-based index of the entry.
    public let entry: Int
    public let text: String
    public let problem: String
    public var description: String { "entry \(entry) '\(text)': \(problem)" }
}

/// `text` without leading and trailing white space.
private func trimmed(_ text: some StringProtocol) -> String {
    var slice = Substring(text)
    while slice.first?.isWhitespace == true { slice.removeFirst() }
    while slice.last?.isWhitespace == true { slice.removeLast() }
    return String(slice)
}
