#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import STUNCore

/// Blocking name resolution through the system resolver (getaddrinfo: /etc/hosts, DNS, and
/// mDNS `.local` names where nss-mdns is installed). Call it off the event loop.
enum HostnameResolver {
    /// The first address the resolver gives for `name`, or nil.
    static func resolve(_ name: String) -> IPAddress? {
        if let literal = IPAddress(name) { return literal }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(first) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let address = current.pointee.ai_addr {
                switch Int32(current.pointee.ai_family) {
                case AF_INET:
                    let v4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
                    return .v4(UInt32(bigEndian: v4.sin_addr.s_addr))
                case AF_INET6:
                    var v6 = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }.sin6_addr
                    return IPAddress(bytes: withUnsafeBytes(of: &v6) { Array($0) })
                default:
                    break
                }
            }
            entry = current.pointee.ai_next
        }
        return nil
    }
}
