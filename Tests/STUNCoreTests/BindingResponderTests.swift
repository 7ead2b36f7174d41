import STUNCore
import Testing

extension BindingResponder.Statistics {
    /// The counters that are not zero, by name, so a test can compare them all at once.
    var counters: [String: Int] {
        let all = [
            "requests": requests, "successResponses": successResponses, "badRequests": badRequests,
            "unknownAttributeResponses": unknownAttributeResponses, "droppedMalformed": droppedMalformed,
            "droppedIndications": droppedIndications, "droppedResponses": droppedResponses,
            "duplicateAttributes": duplicateAttributes,
        ]
        return all.filter { $0.value != 0 }
    }
}

@Suite("Binding responder")
struct BindingResponderTests {
    static let v4Source = TransportAddress("198.51.100.7:40000")!
    static let v6Source = TransportAddress("[2001:db8::7]:40000")!

    static func request(
        _ attributes: [StunAttribute] = [], method: StunMethod = .binding, messageClass: StunClass = .request
    ) -> [UInt8] {
        StunMessage(method: method, messageClass: messageClass, transactionID: .fixture, attributes: attributes)
            .encoded(fingerprint: true)
    }

    /// The bytes of a `.respond` outcome, recording an issue for a drop.
    static func answer(_ outcome: BindingResponder.Outcome) -> [UInt8]? {
        guard case .respond(let bytes) = outcome else {
            Issue.record("expected a response, got \(outcome)")
            return nil
        }
        return bytes
    }

    /// The reason of a `.drop` outcome, recording an issue for a response.
    static func dropReason(_ outcome: BindingResponder.Outcome) -> BindingResponder.DropReason? {
        guard case .drop(let reason) = outcome else {
            Issue.record("expected a drop, got \(outcome)")
            return nil
        }
        return reason
    }

    static func errorResponse(
        to bytes: [UInt8], from source: TransportAddress = v4Source, responder: inout BindingResponder
    ) throws -> StunMessage {
        let response = try StunMessage(decoding: try #require(answer(responder.handle(bytes, from: source))))
        #expect(response.messageClass == .errorResponse)
        #expect(response.transactionID == .fixture)
        return response
    }

    @Test("a Binding request gets a success response naming its source", arguments: [v4Source, v6Source])
    func successResponse(source: TransportAddress) throws {
        var responder = BindingResponder()
        let bytes = try #require(Self.answer(responder.handle(Self.request(), from: source)))
        let response = try StunMessage(decoding: bytes)  // also checks FINGERPRINT
        #expect(response.method == .binding)
        #expect(response.messageClass == .successResponse)
        #expect(response.transactionID == .fixture)
        #expect(response.xorMappedAddress == source)
        #expect(response.software == "pod-arcade")
        #expect(response.hasFingerprint)
        #expect(response.attributes.map(\.type) == [.xorMappedAddress, .software, .fingerprint])
        #expect(responder.statistics.counters == ["requests": 1, "successResponses": 1])
    }

    @Test("the success response has the bytes of the equivalent StunMessage", arguments: [
        BindingResponder.Configuration(), .init(software: nil), .init(software: "a"), .init(software: "ab"),
        .init(software: "abc"), .init(software: "caf\u{E9}"), .init(fingerprint: false), .init(software: nil, fingerprint: false),
    ])
    func successResponseBytes(configuration: BindingResponder.Configuration) throws {
        for source in [Self.v4Source, Self.v6Source] {
            var responder = BindingResponder(configuration: configuration)
            let bytes = try #require(Self.answer(responder.handle(Self.request(), from: source)))
            let expected = StunMessage(
                method: .binding, messageClass: .successResponse, transactionID: .fixture,
                attributes: [.xorMappedAddress(source)] + (configuration.software.map { [.software($0)] } ?? []))
            #expect(bytes == expected.encoded(fingerprint: configuration.fingerprint))
        }
    }

    @Test func softwareAndFingerprintFollowTheConfiguration() throws {
        var responder = BindingResponder(configuration: .init(software: nil, fingerprint: false))
        let bytes = try #require(Self.answer(responder.handle(Self.request(), from: Self.v4Source)))
        let response = try StunMessage(decoding: bytes)
        #expect(response.attributes == [.xorMappedAddress(Self.v4Source)])
    }

    @Test("an unknown comprehension-required attribute gets 420 listing it", arguments: [0x7F01, 0x0000, 0x0002, 0x7FFF] as [UInt16])
    func unknownComprehensionRequired(type: UInt16) throws {
        var responder = BindingResponder()
        let bytes = Self.request([.software("client"), .unknown(type: StunAttributeType(type), value: [1, 2, 3, 4])])
        let response = try Self.errorResponse(to: bytes, responder: &responder)
        #expect(response.method == .binding)
        #expect(response.errorCode?.code == 420)
        #expect(response.first(.unknownAttributes) == .unknownAttributes([StunAttributeType(type)]))
        #expect(response.hasFingerprint)
        #expect(responder.statistics.counters == ["requests": 1, "unknownAttributeResponses": 1])
    }

    @Test func severalUnknownAttributesAreEachListedOnce() throws {
        var responder = BindingResponder()
        let bytes = Self.request([
            .unknown(type: StunAttributeType(0x7F01), value: []), .unknown(type: StunAttributeType(0x7F02), value: []),
            .unknown(type: StunAttributeType(0x7F01), value: [1]),
        ])
        let response = try Self.errorResponse(to: bytes, responder: &responder)
        #expect(response.first(.unknownAttributes) == .unknownAttributes([StunAttributeType(0x7F01), StunAttributeType(0x7F02)]))
        #expect(responder.statistics.duplicateAttributes == 1)
    }

    @Test("CHANGE-REQUEST with a flag set gets 420, as this server has no alternate address", arguments: [
        (true, false), (false, true), (true, true),
    ])
    func changeRequestWithFlags(changeIP: Bool, changePort: Bool) throws {
        var responder = BindingResponder()
        let bytes = Self.request([.changeRequest(changeIP: changeIP, changePort: changePort)])
        let response = try Self.errorResponse(to: bytes, responder: &responder)
        #expect(response.errorCode?.code == 420)
        #expect(response.first(.unknownAttributes) == .unknownAttributes([.changeRequest]))
        #expect(responder.statistics.unknownAttributeResponses == 1)
    }

    @Test func responsePortGets420() throws {
        var responder = BindingResponder()
        let response = try Self.errorResponse(to: Self.request([.responsePort(5000)]), responder: &responder)
        #expect(response.first(.unknownAttributes) == .unknownAttributes([.responsePort]))
    }

    @Test func changeRequestWithoutFlagsIsAnsweredNormally() throws {
        var responder = BindingResponder()
        let bytes = Self.request([.changeRequest(changeIP: false, changePort: false)])
        let response = try StunMessage(decoding: try #require(Self.answer(responder.handle(bytes, from: Self.v4Source))))
        #expect(response.messageClass == .successResponse)
    }

    @Test("an unknown comprehension-optional attribute is ignored", arguments: [0xC001, 0x8FFF, 0xFFFF] as [UInt16])
    func unknownComprehensionOptional(type: UInt16) throws {
        var responder = BindingResponder()
        let bytes = Self.request([.unknown(type: StunAttributeType(type), value: [1, 2])])
        let response = try StunMessage(decoding: try #require(Self.answer(responder.handle(bytes, from: Self.v4Source))))
        #expect(response.messageClass == .successResponse)
        #expect(responder.statistics.counters == ["requests": 1, "successResponses": 1])
    }

    @Test("a request whose attributes do not parse gets 400", arguments: [
        tlv(0x0006, [0xC3, 0x28]),  // USERNAME not UTF-8
        tlv(0x0020, [0, 1, 0]),  // XOR-MAPPED-ADDRESS too short
        [0x80, 0x22, 0x00, 0x40],  // SOFTWARE value past the end
    ])
    func malformedAttributesGet400(attributes: [UInt8]) throws {
        var responder = BindingResponder()
        let response = try Self.errorResponse(to: stunMessage(attributes: attributes), responder: &responder)
        #expect(response.method == .binding)
        #expect(response.errorCode?.code == 400)
        #expect(response.hasFingerprint)
        #expect(responder.statistics.counters == ["requests": 1, "badRequests": 1])
    }

    @Test("a request for another method gets 400", arguments: [StunMethod.allocate, .refresh, StunMethod(rawValue: 0xFFF)])
    func otherMethodsGet400(method: StunMethod) throws {
        var responder = BindingResponder()
        let bytes = Self.request(method: method)
        let response = try Self.errorResponse(to: bytes, responder: &responder)
        #expect(response.method == method)
        #expect(response.errorCode?.code == 400)
        #expect(responder.statistics.counters == ["requests": 1, "badRequests": 1])
        if method == .allocate {
            let raw = try #require(Self.answer(responder.handle(bytes, from: Self.v4Source)))
            #expect(Array(raw[0..<2]) == [0x01, 0x13])  // Allocate error response
        }
    }

    @Test func indicationsAreDropped() {
        var responder = BindingResponder()
        #expect(Self.dropReason(responder.handle(Self.request(messageClass: .indication), from: Self.v4Source)) == .indication)
        #expect(responder.statistics.counters == ["droppedIndications": 1])
    }

    @Test("responses are dropped", arguments: [StunClass.successResponse, .errorResponse])
    func responsesAreDropped(messageClass: StunClass) {
        var responder = BindingResponder()
        #expect(Self.dropReason(responder.handle(Self.request(messageClass: messageClass), from: Self.v4Source)) == .response)
        #expect(responder.statistics.counters == ["droppedResponses": 1])
    }

    @Test("garbage is dropped as malformed", arguments: [
        ([UInt8](), StunDecodingError.Code.truncatedHeader),
        (Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), .notStun),
        // A DTLS record: STUN's top bits, but its "length" (0xfd00) is not the datagram's.
        (hex("16 fefd 0000 000000000000 0010") + [UInt8](repeating: 0, count: 16), .lengthMismatch),
        (hex("80 60 0001 00000000 00000000") + [UInt8](repeating: 0, count: 12), .notStun),
        (withLength(stunMessage(attributes: []), 8), .lengthMismatch),
    ])
    func garbageIsDropped(bytes: [UInt8], code: StunDecodingError.Code) {
        var responder = BindingResponder()
        guard case .malformed(let error)? = Self.dropReason(responder.handle(bytes, from: Self.v4Source)) else {
            Issue.record("not dropped as malformed")
            return
        }
        #expect(error.code == code)
        #expect(responder.statistics.counters == ["droppedMalformed": 1])
    }

    @Test func aRequestWithAWrongFingerprintIsDroppedNotAnswered() {
        var responder = BindingResponder()
        var bytes = Self.request([.software("x")])
        bytes[bytes.count - 1] ^= 0xFF
        guard case .malformed(let error)? = Self.dropReason(responder.handle(bytes, from: Self.v4Source)) else {
            Issue.record("not dropped as malformed")
            return
        }
        #expect(error.code == .fingerprintMismatch)
        #expect(responder.statistics.counters == ["droppedMalformed": 1])
    }

    @Test func statisticsAccumulateOverManyDatagrams() throws {
        var responder = BindingResponder()
        _ = responder.handle(Self.request(), from: Self.v4Source)
        _ = responder.handle(Self.request([.software("a"), .software("b")]), from: Self.v6Source)
        _ = responder.handle(Self.request([.unknown(type: StunAttributeType(0x7F01), value: [])]), from: Self.v4Source)
        _ = responder.handle(Self.request(method: .allocate), from: Self.v4Source)
        _ = responder.handle(stunMessage(attributes: tlv(0x0006, [0xFF])), from: Self.v4Source)
        _ = responder.handle(Self.request(messageClass: .indication), from: Self.v4Source)
        _ = responder.handle(Self.request(messageClass: .successResponse), from: Self.v4Source)
        _ = responder.handle([1, 2, 3], from: Self.v4Source)
        #expect(responder.statistics.counters == [
            "requests": 5, "successResponses": 2, "badRequests": 2, "unknownAttributeResponses": 1, "droppedMalformed": 1,
            "droppedIndications": 1, "droppedResponses": 1, "duplicateAttributes": 1,
        ])
    }

    // MARK: RFC 3489 clients (RFC 8489 §12)

    static let rfc3489ID = hex("0102 0304 b7e7a701 bc34d686 fa87dfae")

    static func rfc3489Request(_ attributes: [UInt8] = []) -> [UInt8] {
        [0x00, 0x01, UInt8(attributes.count >> 8), UInt8(attributes.count & 0xFF)] + rfc3489ID + attributes
    }

    @Test func anRFC3489RequestGetsMappedAddressAndItsSixteenByteID() throws {
        var responder = BindingResponder()
        let bytes = try #require(Self.answer(responder.handle(Self.rfc3489Request(), from: Self.v4Source)))
        #expect(Array(bytes[0..<2]) == [0x01, 0x01])
        #expect(Array(bytes[4..<20]) == Self.rfc3489ID)
        let response = try StunMessage(decoding: bytes, requireMagicCookie: false)
        #expect(!response.hasMagicCookie)
        #expect(response.rfc3489TransactionPrefix == 0x0102_0304)
        #expect(response.attributes == [.mappedAddress(Self.v4Source)])
        #expect(responder.statistics.counters == ["requests": 1, "successResponses": 1])
    }

    @Test func aMalformedRFC3489RequestGets400WithItsSixteenByteID() throws {
        var responder = BindingResponder()
        let bytes = try #require(Self.answer(responder.handle(Self.rfc3489Request(tlv(0x0006, [0xFF])), from: Self.v4Source)))
        #expect(Array(bytes[4..<20]) == Self.rfc3489ID)
        let response = try StunMessage(decoding: bytes, requireMagicCookie: false)
        #expect(response.errorCode?.code == 400)
        #expect(!response.hasFingerprint)
        #expect(response.software == nil)
    }

    @Test func anRFC3489RequestWithAnUnknownAttributeGets420WithItsSixteenByteID() throws {
        var responder = BindingResponder()
        let request = Self.rfc3489Request(tlv(0x7F01, []))
        let bytes = try #require(Self.answer(responder.handle(request, from: Self.v4Source)))
        #expect(Array(bytes[4..<20]) == Self.rfc3489ID)
        let response = try StunMessage(decoding: bytes, requireMagicCookie: false)
        #expect(response.errorCode?.code == 420)
        #expect(response.first(.unknownAttributes) == .unknownAttributes([StunAttributeType(0x7F01)]))
    }

    @Test func anRFC3489RequestIsDroppedWhenRFC3489IsOff() {
        var responder = BindingResponder(configuration: .init(answerRFC3489: false))
        guard case .malformed(let error)? = Self.dropReason(responder.handle(Self.rfc3489Request(), from: Self.v4Source)) else {
            Issue.record("not dropped as malformed")
            return
        }
        #expect(error.code == .badMagicCookie)
    }
}
