import NIOCore
import NIOPosix
public import STUNCore

/// The addresses configured on this machine's interfaces, for host candidates.
public enum NetworkInterfaces {
    /// Every IPv4 and IPv6 address of every interface (getifaddrs through SwiftNIO); filter with
    /// ``HostAddressSelection/usable(_:)``.
    /// - Throws: when the system call fails.
    public static func addresses() throws -> [IPAddress] {
        try System.enumerateDevices().compactMap { device in
            guard let address = device.address, let transport = TransportAddress(address) else { return nil }
            return transport.ip
        }
    }
}
