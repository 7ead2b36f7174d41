#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as STUN carries it (RFC 8489 §14.1: family 0x01 or 0x02).
///
/// A value type with no socket behind it, so engines can compare and hash addresses
/// without touching the network. Transports convert to and from their socket types.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 address, most significant byte first.
    case v4(UInt32)
    /// An IPv6 address as two 64-bit halves, most significant first.
    case v6(UInt64, UInt64)

    /// The STUN address family (RFC 8489 §14.1).
    public var family: AddressFamily { if case .v4 = self { .ipv4 } else { .ipv6 } }

    /// The 4 or 16 bytes of the address in network order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value):
            return [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        case .v6(let high, let low):
            var out = [UInt8]()
            out.reserveCapacity(16)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((high >> UInt64(shift)) & 0xFF)) }
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((low >> UInt64(shift)) & 0xFF)) }
            return out
        }
    }

    /// Builds an address from 4 (IPv4) or 16 (IPv6) bytes in network order.
    /// - Returns: nil for any other count.
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        switch bytes.count {
        case 4:
            self = .v4(bytes.reduce(UInt32(0)) { ($0 << 8) | UInt32($1) })
        case 16:
            var high: UInt64 = 0, low: UInt64 = 0
            for (index, byte) in bytes.enumerated() {
                if index < 8 { high = (high << 8) | UInt64(byte) } else { low = (low << 8) | UInt64(byte) }
            }
            self = .v6(high, low)
        default:
            return nil
        }
    }

    /// Parses dotted-quad IPv4 or RFC 4291 text IPv6 (an optional `%zone` suffix is dropped;
    /// brackets are not accepted here).
    /// - Returns: nil when the text is not an address literal.
    public init?(_ text: some StringProtocol) {
        var literal = String(text)
        if let percent = literal.firstIndex(of: "%") { literal = String(literal[..<percent]) }
        // inet_pton stops at a NUL, so "1.2.3.4\0junk" would otherwise parse.
        if literal.isEmpty || literal.count > 45 || literal.utf8.contains(0) { return nil }
        var v4 = in_addr()
        if literal.withCString({ inet_pton(AF_INET, $0, &v4) }) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        if literal.withCString({ inet_pton(AF_INET6, $0, &v6) }) == 1 {
            let raw = withUnsafeBytes(of: &v6) { Array($0) }
            self.init(bytes: raw)
            return
        }
        return nil
    }

    /// RFC 5952 text form for IPv6, dotted quad for IPv4.
    public var description: String {
        var raw = bytes
        var out = [CChar](repeating: 0, count: 64)
        let family = self.family == .ipv4 ? AF_INET : AF_INET6
        let ok = raw.withUnsafeMutableBytes { source in
            out.withUnsafeMutableBufferPointer { inet_ntop(family, source.baseAddress, $0.baseAddress, 64) != nil }
        }
        guard ok else { return "?" }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// True for 127.0.0.0/8 and ::1.
    public var isLoopback: Bool {
        switch self {
        case .v4(let value): return value >> 24 == 127
        case .v6(let high, let low): return high == 0 && low == 1
        }
    }

    /// True for 169.254.0.0/16 and fe80::/10.
    public var isLinkLocal: Bool {
        switch self {
        case .v4(let value): return value >> 16 == 0xA9FE
        case .v6(let high, _): return high >> 54 == 0x3FA
        }
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), if it is one.
    public var unmappedIPv4: IPAddress? {
        if case .v6(let high, let low) = self, high == 0, low >> 32 == 0xFFFF { return .v4(UInt32(truncatingIfNeeded: low)) }
        return nil
    }
}

/// STUN address family codes (RFC 8489 §14.1, RFC 8656 §18.11).
public enum AddressFamily: UInt8, Hashable, Sendable, CustomStringConvertible {
    case ipv4 = 0x01
    case ipv6 = 0x02

    public var description: String { self == .ipv4 ? "IPv4" : "IPv6" }
}

/// An IP address and port: what STUN calls a transport address.
public struct TransportAddress: Hashable, Sendable, CustomStringConvertible {
    public var ip: IPAddress
    public var port: UInt16

    public init(ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// Parses `1.2.3.4:5` or `[2001:db8::1]:5`.
    public init?(_ text: some StringProtocol) {
        let string = String(text)
        let host: Substring, portText: Substring
        if string.hasPrefix("[") {
            guard let close = string.firstIndex(of: "]") else { return nil }
            host = string[string.index(after: string.startIndex)..<close]
            let rest = string[string.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = string.lastIndex(of: ":"), string.firstIndex(of: ":") == colon else { return nil }
            host = string[..<colon]
            portText = string[string.index(after: colon)...]
        }
        // Brackets hold IPv6 only (RFC 3986 §3.2.2); a port is digits only (UInt16 also takes "+80", "-0").
        guard let ip = IPAddress(host), (ip.family == .ipv6) == string.hasPrefix("["),
            portText.allSatisfy({ ("0"..."9").contains($0) }), let port = UInt16(portText)
        else { return nil }
        self.init(ip: ip, port: port)
    }

    public var description: String {
        switch ip {
        case .v4: return "\(ip):\(port)"
        case .v6: return "[\(ip)]:\(port)"
        }
    }
}
