import STUNCore
import Testing

@Suite("IP and transport addresses")
struct IPAddressTests {
    @Test("address literals parse and print in canonical form", arguments: [
        ("192.0.2.1", IPAddress.v4(0xC000_0201), "192.0.2.1"),
        ("0.0.0.0", .v4(0), "0.0.0.0"),
        ("255.255.255.255", .v4(.max), "255.255.255.255"),
        ("::", .v6(0, 0), "::"),
        ("::1", .v6(0, 1), "::1"),
        ("2001:db8::1", .v6(0x2001_0DB8_0000_0000, 1), "2001:db8::1"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", .v6(0x2001_0DB8_0000_0000, 1), "2001:db8::1"),
        ("2001:db8:1234:5678:11:2233:4455:6677", .v6(0x2001_0DB8_1234_5678, 0x0011_2233_4455_6677), "2001:db8:1234:5678:11:2233:4455:6677"),
        // RFC 5952 §4.2.2: a single zero field is not compressed; §4.2.3: the longest run is.
        ("2001:db8:0:1:1:1:1:1", .v6(0x2001_0DB8_0000_0001, 0x0001_0001_0001_0001), "2001:db8:0:1:1:1:1:1"),
        ("2001:0:0:1:0:0:0:1", .v6(0x2001_0000_0000_0001, 1), "2001:0:0:1::1"),
        ("fe80::1%eth0", .v6(0xFE80_0000_0000_0000, 1), "fe80::1"),
        ("fe80::1%25", .v6(0xFE80_0000_0000_0000, 1), "fe80::1"),
        ("::ffff:192.0.2.1", .v6(0, 0xFFFF_C000_0201), "::ffff:192.0.2.1"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .v6(.max, .max), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ])
    func parsesAndPrints(text: String, address: IPAddress, canonical: String) throws {
        let parsed = try #require(IPAddress(text))
        #expect(parsed == address)
        #expect(parsed.description == canonical)
        #expect(IPAddress(canonical) == address)
        #expect(IPAddress(bytes: address.bytes) == address)
        #expect(address.bytes.count == (address.family == .ipv4 ? 4 : 16))
    }

    @Test("garbage is not an address", arguments: [
        "", " ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 ", "0x01.2.3.4", "abc", "localhost",
        ":::", "1::2::3", "2001:db8::g", "12345::", "1:2:3:4:5:6:7:8:9", "[::1]", "%eth0", "1.2.3.4\u{0}", "1.2.3.4\u{0}junk",
        "::1\u{0}", String(repeating: "0", count: 46), "١.٢.٣.٤",
    ])
    func garbageIsRejected(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func addressesFromBytesNeedFourOrSixteen() {
        #expect(IPAddress(bytes: [192, 0, 2, 1]) == .v4(0xC000_0201))
        #expect(IPAddress(bytes: [UInt8](repeating: 0, count: 15) + [1]) == .v6(0, 1))
        for count in [0, 3, 5, 15, 17] {
            #expect(IPAddress(bytes: [UInt8](repeating: 0, count: count)) == nil)
        }
    }

    @Test func loopbackLinkLocalAndMappedAddressesAreRecognised() {
        #expect(IPAddress("127.0.0.1")!.isLoopback)
        #expect(IPAddress("127.255.0.9")!.isLoopback)
        #expect(IPAddress("::1")!.isLoopback)
        #expect(!IPAddress("128.0.0.1")!.isLoopback)
        #expect(!IPAddress("::2")!.isLoopback)
        #expect(IPAddress("169.254.1.2")!.isLinkLocal)
        #expect(IPAddress("fe80::1")!.isLinkLocal)
        #expect(IPAddress("febf::1")!.isLinkLocal)
        #expect(!IPAddress("fec0::1")!.isLinkLocal)
        #expect(!IPAddress("169.253.1.2")!.isLinkLocal)
        #expect(IPAddress("::ffff:192.0.2.1")!.unmappedIPv4 == IPAddress("192.0.2.1"))
        #expect(IPAddress("::192.0.2.1")!.unmappedIPv4 == nil)
        #expect(IPAddress("192.0.2.1")!.unmappedIPv4 == nil)
    }

    @Test("transport addresses parse and print", arguments: [
        ("192.0.2.1:3478", "192.0.2.1:3478"),
        ("0.0.0.0:0", "0.0.0.0:0"),
        ("255.255.255.255:65535", "255.255.255.255:65535"),
        ("[2001:db8::1]:3478", "[2001:db8::1]:3478"),
        ("[2001:0db8:0:0::1]:443", "[2001:db8::1]:443"),
        ("[::]:1", "[::]:1"),
        ("[fe80::1%eth0]:5000", "[fe80::1]:5000"),
        ("[::ffff:192.0.2.1]:80", "[::ffff:192.0.2.1]:80"),
        ("192.0.2.1:0080", "192.0.2.1:80"),
    ])
    func transportAddressesRoundTrip(text: String, canonical: String) throws {
        let address = try #require(TransportAddress(text))
        #expect(address.description == canonical)
        #expect(TransportAddress(canonical) == address)
    }

    @Test("malformed transport addresses are rejected", arguments: [
        "", "192.0.2.1", "192.0.2.1:", "192.0.2.1:65536", "192.0.2.1:-1", "192.0.2.1:80:90", "192.0.2.1:8o",
        "2001:db8::1:80", "[2001:db8::1]", "[2001:db8::1]80", "[2001:db8::1:80", "[2001:db8::1]:", "[]:80",
        "host:80", ":80", "[garbage]:80", "192.0.2.1:+80", "192.0.2.1:-0", "192.0.2.1: 80", "[192.0.2.1]:80",
    ])
    func malformedTransportAddresses(text: String) {
        #expect(TransportAddress(text) == nil)
    }

    @Test func theFamilyFollowsTheAddress() {
        #expect(TransportAddress.v4Sample.ip.family == .ipv4)
        #expect(TransportAddress.v6Sample.ip.family == .ipv6)
        #expect(AddressFamily.ipv4.rawValue == 1)
        #expect(AddressFamily.ipv6.rawValue == 2)
    }
}
