import SignalingMQTT
import Testing

@Suite("Desktop and session ids (protocol.md, Ids)")
struct PodArcadeIDTests {
    struct Invalid: Sendable, CustomTestStringConvertible {
        var id: String
        var code: PodArcadeIDError.Code
        var offset: Int
        var testDescription: String { "\"\(id)\" is \(code) at byte \(offset)" }
    }

    static let validDesktopIDs = [
        "pa-desktop", "a", "0", "a-b", "a--b", "abc123", "123", "living-room-pc-2",
        String(repeating: "a", count: 32), "a" + String(repeating: "-", count: 30) + "z",
    ]

    @Test("a valid desktop id is kept as given", arguments: validDesktopIDs)
    func validDesktopID(id: String) throws {
        #expect(try DesktopID(id).value == id)
        #expect(try DesktopID(id).description == id)
    }

    static let invalidDesktopIDs: [Invalid] = [
        .init(id: "", code: .empty, offset: 0),
        .init(id: String(repeating: "a", count: 33), code: .tooLong, offset: 32),
        .init(id: "-a", code: .leadingOrTrailingHyphen, offset: 0),
        .init(id: "a-", code: .leadingOrTrailingHyphen, offset: 1),
        .init(id: "-", code: .leadingOrTrailingHyphen, offset: 0),
        .init(id: "--", code: .leadingOrTrailingHyphen, offset: 0),
        .init(id: "A", code: .invalidCharacter, offset: 0),
        .init(id: "Pa-desktop", code: .invalidCharacter, offset: 0),
        .init(id: "pa_desktop", code: .invalidCharacter, offset: 2),
        .init(id: "pa desktop", code: .invalidCharacter, offset: 2),
        .init(id: "pa.desktop", code: .invalidCharacter, offset: 2),
        .init(id: "a/b", code: .invalidCharacter, offset: 1),
        .init(id: "a+", code: .invalidCharacter, offset: 1),
        .init(id: "caf\u{E9}", code: .invalidCharacter, offset: 3),
        .init(id: "-A", code: .invalidCharacter, offset: 1),
    ]

    @Test("an invalid desktop id is refused with its code and offset", arguments: invalidDesktopIDs)
    func invalidDesktopID(entry: Invalid) {
        do {
            _ = try DesktopID(entry.id)
            Issue.record("\(entry.id) was accepted")
        } catch {
            #expect(error.code == entry.code)
            #expect(error.offset == entry.offset)
            #expect(error.field == .desktopID)
            #expect(error.text == entry.id)
        }
    }

    static let validSessionIDs = [
        "k3j9x0a", "a", "0", "ABCxyz09", String(repeating: "Z", count: 32),
    ]

    @Test("a valid session id is kept as given", arguments: validSessionIDs)
    func validSessionID(id: String) throws {
        #expect(try SessionID(id).value == id)
    }

    static let invalidSessionIDs: [Invalid] = [
        .init(id: "", code: .empty, offset: 0),
        .init(id: String(repeating: "a", count: 33), code: .tooLong, offset: 32),
        .init(id: "a-b", code: .invalidCharacter, offset: 1),
        .init(id: "a_b", code: .invalidCharacter, offset: 1),
        .init(id: "a b", code: .invalidCharacter, offset: 1),
        .init(id: "-", code: .invalidCharacter, offset: 0),
        .init(id: "\u{E9}", code: .invalidCharacter, offset: 0),
        .init(id: "ab/", code: .invalidCharacter, offset: 2),
    ]

    @Test("an invalid session id is refused with its code and offset", arguments: invalidSessionIDs)
    func invalidSessionID(entry: Invalid) {
        do {
            _ = try SessionID(entry.id)
            Issue.record("\(entry.id) was accepted")
        } catch {
            #expect(error.code == entry.code)
            #expect(error.offset == entry.offset)
            #expect(error.field == .sessionID)
        }
    }

    @Test func theOriginalWebClientsSessionIDsAreValid() throws {
        // client-web: Math.random().toString(36).substring(2, 9): seven base-36 characters.
        var random = TopicCorpus.Random(seed: 36)
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        for _ in 0..<200 {
            let id = String((0..<7).map { _ in alphabet.randomElement(using: &random)! })
            _ = try SessionID(id)
        }
    }
}
