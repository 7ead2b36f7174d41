public import NIOCore

extension TransportAddress {
    /// The transport address of an IPv4 or IPv6 socket address; nil for Unix sockets.
    public init?(_ socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let address):
            let raw = UInt32(bigEndian: address.address.sin_addr.s_addr)
            self.init(ip: .v4(raw), port: UInt16(bigEndian: address.address.sin_port))
        case .v6(let address):
            var storage = address.address.sin6_addr
            let bytes = withUnsafeBytes(of: &storage) { Array($0) }
            guard let ip = IPAddress(bytes: bytes) else { return nil }
            // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; STUN reports them as IPv4.
            self.init(ip: ip.unmappedIPv4 ?? ip, port: UInt16(bigEndian: address.address.sin6_port))
        case .unixDomainSocket:
            return nil
        }
    }
}

extension SocketAddress {
    /// The socket address of a transport address.
    public init(_ address: TransportAddress) throws {
        try self.init(ipAddress: address.ip.description, port: Int(address.port))
    }
}
