import SignalingMQTT
import Testing

@Suite("MQTT topic names (§4.7)")
struct TopicNameTests {
    struct Invalid: Sendable, CustomTestStringConvertible {
        var name: String
        var code: MQTTTopicError.Code
        var offset: Int
        var testDescription: String { "\"\(name.prefix(40))\" is \(code) at byte \(offset)" }
    }

    static let valid: [String] = [
        "sport", "sport/tennis/player1", "/", "//", "/finance", "sport/", " ", "a b/c",
        "$SYS/monitor/Clients", "$", "caf\u{E9}/\u{1F3AE}", "desktops/pa-desktop/status",
        String(repeating: "a", count: MQTTTopicName.maximumLength),
    ]

    @Test("a valid topic name keeps its value and its levels", arguments: valid)
    func validNames(name: String) throws {
        let topic = try MQTTTopicName(name)
        #expect(topic.value == name)
        #expect(topic.levels.joined(separator: "/") == name)
        #expect(topic.description == name)
    }

    static let invalid: [Invalid] = [
        // [MQTT-4.7.3-1]
        .init(name: "", code: .empty, offset: 0),
        // 3.1.1 [MQTT-4.7.1-1], 5.0 [MQTT-4.7.0-1]
        .init(name: "sport/+", code: .wildcardInTopicName, offset: 6),
        .init(name: "sport/#", code: .wildcardInTopicName, offset: 6),
        .init(name: "+", code: .wildcardInTopicName, offset: 0),
        .init(name: "#", code: .wildcardInTopicName, offset: 0),
        .init(name: "sport/tennis#", code: .wildcardInTopicName, offset: 12),
        .init(name: "a+b", code: .wildcardInTopicName, offset: 1),
        .init(name: "\u{E9}+", code: .wildcardInTopicName, offset: 2),  // offsets count UTF-8 bytes
        // [MQTT-4.7.3-2]
        .init(name: "a\u{0}b", code: .nullCharacter, offset: 1),
        .init(name: "\u{0}", code: .nullCharacter, offset: 0),
        // [MQTT-4.7.3-3]
        .init(name: String(repeating: "a", count: MQTTTopicName.maximumLength + 1), code: .tooLong, offset: 65_535),
        .init(name: String(repeating: "\u{E9}", count: 32_768), code: .tooLong, offset: 65_535),
    ]

    @Test("an invalid topic name is refused with its code and offset", arguments: invalid)
    func invalidNames(entry: Invalid) {
        #expect {
            try MQTTTopicName(entry.name)
        } throws: { error in
            guard let error = error as? MQTTTopicError else { return false }
            return error.code == entry.code && error.offset == entry.offset && error.text == entry.name
        }
    }

    @Test("levels keep empty levels at the start, the middle and the end")
    func emptyLevels() throws {
        #expect(try MQTTTopicName("/a//b/").levels == ["", "a", "", "b", ""])
        #expect(try MQTTTopicName("/").levels == ["", ""])
    }

    @Test("a name starting with a dollar sign is a system topic", arguments: [
        ("$SYS/monitor", true), ("$", true), ("$share/x", true), ("SYS/$x", false), ("/$SYS", false), ("sport", false),
    ])
    func systemTopics(name: String, isSystem: Bool) throws {
        #expect(try MQTTTopicName(name).isSystem == isSystem)
    }

    @Test("names are compared by their bytes, without Unicode normalization (§4.7.3)")
    func byteWiseEquality() throws {
        let composed = try MQTTTopicName("caf\u{E9}")
        let decomposed = try MQTTTopicName("cafe\u{301}")
        #expect(composed.value == decomposed.value)  // Swift's String equality normalizes…
        #expect(composed != decomposed)  // …MQTT does not.
        #expect(Set([composed, decomposed]).count == 2)
        #expect(try MQTTTopicName("Sport") != MQTTTopicName("sport"))
        #expect(try MQTTTopicName("a/b") == MQTTTopicName("a" + "/b"))
    }
}
