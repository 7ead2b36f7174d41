import NIOCore
import STUNCore

/// Blocking name resolution through the system resolver (NIO's getaddrinfo wrapper: /etc/hosts,
/// DNS, and mDNS `.local` names where nss-mdns is installed), as `TurnConnection` resolves its
/// server. Call it off the event loop.
enum HostnameResolver {
    /// The first address the resolver gives for `name`, or nil.
    static func resolve(_ name: String) -> IPAddress? {
        if let literal = IPAddress(name) { return literal }
        guard let address = try? SocketAddress.makeAddressResolvingHost(name, port: 0) else { return nil }
        return TransportAddress(address)?.ip
    }
}
