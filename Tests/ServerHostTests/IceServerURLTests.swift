import STUNCore
import Testing

@Suite struct IceServerURLTests {
    @Test(arguments: [
        ("stun:stun.example.org", IceServerURL.Scheme.stun, "stun.example.org", 3478, IceServerURL.Transport.udp),
        ("stun:stun.l.google.com:19302", .stun, "stun.l.google.com", 19302, .udp),
        ("stuns:stun.example.org", .stuns, "stun.example.org", 5349, .tcp),
        ("turn:turn.example.org:3478?transport=udp", .turn, "turn.example.org", 3478, .udp),
        ("turns:turn.example.org:443?transport=tcp", .turns, "turn.example.org", 443, .tcp),
        ("turn:192.0.2.1?transport=tcp", .turn, "192.0.2.1", 3478, .tcp),
        ("turn:[2001:db8::1]:3479", .turn, "[2001:db8::1]", 3479, .udp),
        ("stun:10.0.0.10:3478?transport=udp", .stun, "10.0.0.10", 3478, .udp),
        ("STUN:Example.ORG", .stun, "example.org", 3478, .udp),
    ])
    func validURLsParse(text: String, scheme: IceServerURL.Scheme, host: String, port: Int, transport: IceServerURL.Transport) throws {
        let url = try IceServerURL(parsing: text)
        #expect(url.scheme == scheme)
        #expect(url.host.description == host)
        #expect(Int(url.port) == port)
        #expect(url.transport == transport)
        #expect(try IceServerURL(parsing: url.description) == url)
    }

    @Test(arguments: [
        "stun.example.org", "http://example.org", "stun://example.org", "turn:example.org?transport=sctp",
        "turns:example.org?transport=udp", "stun:example.org:0", "stun:example.org:70000", "stun:2001:db8::1",
        "stun:[2001:db8::1", "stun:[not-v6]:3478", "stun:", "turn:ex ample.org", "turn:example.org?foo=bar",
    ])
    func invalidURLsAreRefusedWithAReason(text: String) {
        #expect(throws: IceServerURLError.self) { try IceServerURL(parsing: text) }
    }

    @Test func aListRoundTripsThroughJSON() throws {
        let json = #"[{"urls":["stun:a.example:3478"]},{"urls":["turn:b.example?transport=tcp"],"username":"u","credential":"p","credentialType":"password"}]"#
        let servers = try IceServer.parseList(json: json)
        #expect(try IceServer.parseList(json: IceServer.json(for: servers)) == servers)
    }

    @Test(arguments: ["{}", "[1]", #"[{"urls":[]}]"#, #"[{"urls":[1]}]"#, #"[{"username":"u"}]"#, #"[{"urls":"stun:a","extra":1}]"#, "[", ""])
    func malformedListsAreRefused(json: String) {
        #expect(throws: IceServerListError.self) { try IceServer.parseList(json: json) }
    }
}
