import SignalingMQTT
import Testing

@Suite("Pre-shared key authentication (config.md)")
struct PSKAuthenticatorTests {
    static let desktop = PodArcadeIdentity.desktop(try! DesktopID("pa"))
    static let user = PodArcadeIdentity.user("user:k3j9x0a")

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var authenticator: PSKAuthenticator
        var identity: PodArcadeIdentity
        var password: String?
        /// nil: accepted; otherwise the expected code and reason code.
        var refusal: (code: PodArcadeAccessError.Code, reasonCode: UInt8)?
        var testDescription: String { name }
    }

    static let keys = PSKAuthenticator(authRequired: true, desktopPSK: "desk-key", clientPSK: "cl\u{E9}-key")
    static let open = PSKAuthenticator(authRequired: false, desktopPSK: "desk-key", clientPSK: "client-key")
    static let noKeys = PSKAuthenticator(authRequired: true, desktopPSK: nil, clientPSK: nil)
    static let emptyKeys = PSKAuthenticator(authRequired: true, desktopPSK: "", clientPSK: "")

    static let cases: [Case] = [
        // AUTH_REQUIRED=false: everyone is accepted.
        .init(name: "without required auth a desktop without password is accepted", authenticator: open, identity: desktop, password: nil, refusal: nil),
        .init(name: "without required auth a desktop with a wrong key is accepted", authenticator: open, identity: desktop, password: "nope", refusal: nil),
        .init(name: "without required auth a user without password is accepted", authenticator: open, identity: user, password: nil, refusal: nil),
        .init(name: "without any configuration a user is accepted", authenticator: PSKAuthenticator(authRequired: false, desktopPSK: nil, clientPSK: nil), identity: user, password: nil, refusal: nil),
        // Desktops need DESKTOP_PSK.
        .init(name: "a desktop with DESKTOP_PSK is accepted", authenticator: keys, identity: desktop, password: "desk-key", refusal: nil),
        .init(name: "a desktop with a wrong key is bad credentials", authenticator: keys, identity: desktop, password: "desk-kez", refusal: (.wrongPassword, 0x86)),
        .init(name: "a desktop with CLIENT_PSK is bad credentials", authenticator: keys, identity: desktop, password: "cl\u{E9}-key", refusal: (.wrongPassword, 0x86)),
        .init(name: "a desktop with a prefix of the key is bad credentials", authenticator: keys, identity: desktop, password: "desk-ke", refusal: (.wrongPassword, 0x86)),
        .init(name: "a desktop with the key and more is bad credentials", authenticator: keys, identity: desktop, password: "desk-key!", refusal: (.wrongPassword, 0x86)),
        .init(name: "a desktop with an empty password is bad credentials", authenticator: keys, identity: desktop, password: "", refusal: (.wrongPassword, 0x86)),
        .init(name: "a desktop without password is bad credentials", authenticator: keys, identity: desktop, password: nil, refusal: (.missingPassword, 0x86)),
        // Users need CLIENT_PSK, compared as UTF-8 bytes.
        .init(name: "a user with CLIENT_PSK is accepted", authenticator: keys, identity: user, password: "cl\u{E9}-key", refusal: nil),
        .init(name: "a user with a differently normalized key is bad credentials", authenticator: keys, identity: user, password: "cle\u{301}-key", refusal: (.wrongPassword, 0x86)),
        .init(name: "a user with DESKTOP_PSK is bad credentials", authenticator: keys, identity: user, password: "desk-key", refusal: (.wrongPassword, 0x86)),
        .init(name: "a user without password is bad credentials", authenticator: keys, identity: user, password: nil, refusal: (.missingPassword, 0x86)),
        // Required but not configured: nothing to check, refused as not authorized.
        .init(name: "a desktop when DESKTOP_PSK is unset is not authorized", authenticator: noKeys, identity: desktop, password: "anything", refusal: (.notConfigured, 0x87)),
        .init(name: "a user when CLIENT_PSK is unset is not authorized", authenticator: noKeys, identity: user, password: nil, refusal: (.notConfigured, 0x87)),
        .init(name: "an empty DESKTOP_PSK counts as unset", authenticator: emptyKeys, identity: desktop, password: "", refusal: (.notConfigured, 0x87)),
        .init(name: "an empty CLIENT_PSK counts as unset", authenticator: emptyKeys, identity: user, password: "", refusal: (.notConfigured, 0x87)),
        .init(name: "a user is refused when only DESKTOP_PSK is set", authenticator: PSKAuthenticator(authRequired: true, desktopPSK: "desk-key", clientPSK: nil), identity: user, password: "desk-key", refusal: (.notConfigured, 0x87)),
        // The server is in process.
        .init(name: "the server is accepted without password", authenticator: keys, identity: .server, password: nil, refusal: nil),
        .init(name: "the server is accepted with nothing configured", authenticator: noKeys, identity: .server, password: nil, refusal: nil),
    ]

    @Test(arguments: cases)
    func authentication(entry: Case) async {
        let result = await entry.authenticator.authenticate(
            identity: entry.identity, username: "ignored", password: entry.password.map { Array($0.utf8) })
        switch (result, entry.refusal) {
        case (.accepted, nil):
            break
        case (.rejected(let error), let refusal?):
            #expect(error.code == refusal.code)
            #expect(error.reasonCodeRawValue == refusal.reasonCode)
            #expect(error.isBadUserNameOrPassword == (refusal.reasonCode == 0x86))
        default:
            Issue.record("got \(result)")
        }
    }

    @Test func aRefusalNeverContainsTheKeyOrThePassword() async {
        let result = await Self.keys.authenticate(identity: Self.desktop, username: "pa", password: Array("guess-123".utf8))
        guard case .rejected(let error) = result else { Issue.record("accepted"); return }
        #expect(!error.reason.contains("desk-key"))
        #expect(!error.reason.contains("guess-123"))
        #expect(!error.description.contains("desk-key"))
    }

    @Test("each refusal maps to its MQTT 5.0 reason code and MQTT 3.1.1 return code", arguments: [
        (PodArcadeAccessError.Code.clientIdentifierNotValid, 0x85, 0x02),
        (.invalidDesktopUsername, 0x86, 0x04),
        (.missingPassword, 0x86, 0x04),
        (.wrongPassword, 0x86, 0x04),
        (.notConfigured, 0x87, 0x05),
    ] as [(PodArcadeAccessError.Code, UInt8, UInt8)])
    func reasonCodes(code: PodArcadeAccessError.Code, v5: UInt8, v311: UInt8) {
        let error = PodArcadeAccessError(code, reason: "test")
        #expect(error.reasonCodeRawValue == v5)
        #expect(error.connectReturnCodeV311 == v311)
    }
}
