/// A session description (RFC 8866 §5): the session-level lines, then one
/// ``SDPMediaDescription`` per `m=` line.
///
/// ``parse(_:)`` accepts CRLF and bare LF line endings, checks the grammar of every line and
/// of the attributes this module understands, and keeps everything else (unknown attributes,
/// `i=`, `u=`, `e=`, `p=`, `z=`, `k=`, `r=`) so that ``text`` writes it back. ``text`` uses
/// CRLF and RFC 8866's line order; for a description written in that order (as browsers and
/// aiortc write them) parse → text gives back the same text.
public struct SDPSessionDescription: Hashable, Sendable, SDPAttributeCarrier {
    /// Refused above this many bytes of text.
    public static let maximumSize = 64 * 1024
    /// Refused above this many `m=` lines.
    public static let maximumMediaDescriptions = 64

    /// `v=`, always 0 (RFC 8866 §5.1).
    public var version: Int = 0
    public var origin: SDPOrigin
    /// `s=`; JSEP writes `-` (RFC 8829 §5.2.1).
    public var sessionName: String
    public var information: String?
    public var uri: String?
    public var emails: [String] = []
    public var phones: [String] = []
    public var connection: SDPConnection?
    public var bandwidths: [SDPBandwidth] = []
    /// `t=` lines with their `r=` lines; JSEP writes one `t=0 0`.
    public var timings: [SDPTiming]
    /// `z=`, kept as written.
    public var timeZones: String?
    /// `k=`, kept as written.
    public var encryptionKey: String?
    /// Session-level `a=` lines, in order.
    public var attributes: [SDPAttribute] = []
    public var media: [SDPMediaDescription] = []

    public init(
        origin: SDPOrigin, sessionName: String = "-", timings: [SDPTiming] = [SDPTiming()],
        attributes: [SDPAttribute] = [], media: [SDPMediaDescription] = []
    ) {
        self.origin = origin
        self.sessionName = sessionName
        self.timings = timings
        self.attributes = attributes
        self.media = media
    }

    /// The description as text: CRLF line endings, RFC 8866 §5 order (v o s i u e p c b t r z k a,
    /// then each media section m i c b k a).
    public var text: String {
        var lines = ["v=\(version)", "o=" + origin.value, "s=" + sessionName]
        if let information { lines.append("i=" + information) }
        if let uri { lines.append("u=" + uri) }
        lines += emails.map { "e=" + $0 }
        lines += phones.map { "p=" + $0 }
        if let connection { lines.append("c=" + connection.value) }
        lines += bandwidths.map { "b=" + $0.text }
        for timing in timings {
            lines.append("t=" + timing.value)
            lines += timing.repeats.map { "r=" + $0 }
        }
        if let timeZones { lines.append("z=" + timeZones) }
        if let encryptionKey { lines.append("k=" + encryptionKey) }
        lines += attributes.map { "a=" + $0.description }
        for section in media { lines += section.lines }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// Parses a session description.
    ///
    /// - Parameter text: the description, with CRLF or LF line endings.
    /// - Returns: the description, every known attribute checked against its grammar.
    /// - Throws: ``SDPParseError`` naming the line, the field and the offending text.
    public static func parse(_ text: String) throws(SDPParseError) -> SDPSessionDescription {
        guard text.utf8.count <= maximumSize else {
            throw SDPParseError(.tooLarge, line: 0, field: "session-description", text: "\(text.utf8.count) bytes")
        }
        // Split on LF bytes: in Swift a CRLF pair is one Character, so splitting characters
        // would not find it.
        var rawLines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false)
        // A final line ending leaves empty lines at the end; those are not lines.
        while let last = rawLines.last, last.isEmpty || last.elementsEqual([0x0D]) { rawLines.removeLast() }

        var parser = Parser()
        for (index, raw) in rawLines.enumerated() {
            let bytes = raw.last == 0x0D ? raw.dropLast() : raw
            try parser.consume(Substring(bytes), number: index + 1)
        }
        return try parser.finish(lineCount: rawLines.count)
    }
}

/// The line-by-line state of ``SDPSessionDescription/parse(_:)``.
private struct Parser {
    var origin: SDPOrigin?
    var description: SDPSessionDescription?
    var sessionAttributeLines: [Int] = []
    var mediaAttributeLines: [[Int]] = []
    var mediaLineNumbers: [Int] = []
    var sawVersion = false

    mutating func consume(_ line: Substring, number: Int) throws(SDPParseError) {
        let bytes = line.utf8
        guard bytes.count >= 2, let type = bytes.first, type >= 0x61, type <= 0x7A,
            bytes[bytes.index(after: bytes.startIndex)] == UInt8(ascii: "=")
        else { throw SDPParseError(.malformedLine, line: number, field: "type", text: line) }
        // RFC 8866 §9: text is any byte but NUL, CR and LF.
        guard !bytes.contains(0), !bytes.contains(0x0D) else {
            throw SDPParseError(.malformedLine, line: number, field: "value", text: line)
        }
        let letter = Character(Unicode.Scalar(type))
        // By bytes: a combining mark after `=` would otherwise join it into one Character.
        let value = Substring(line.utf8.dropFirst(2))

        guard sawVersion else {
            guard letter == "v" else { throw SDPParseError(.missingVersion, line: number, field: "proto-version", text: line) }
            guard value == "0" else { throw SDPParseError(.unsupportedVersion, line: number, field: "proto-version", text: line) }
            sawVersion = true
            return
        }
        guard origin != nil else {
            guard letter == "o" else { throw SDPParseError(.missingOrigin, line: number, field: "origin-field", text: line) }
            guard let parsed = SDPOrigin(value: value) else {
                throw SDPParseError(.invalidOrigin, line: number, field: "origin-field", text: line)
            }
            origin = parsed
            return
        }
        guard var session = description else {
            guard letter == "s" else {
                throw SDPParseError(.missingSessionName, line: number, field: "session-name-field", text: line)
            }
            description = SDPSessionDescription(origin: origin!, sessionName: String(value), timings: [])
            return
        }
        defer { description = session }

        if letter == "m" {
            guard session.media.count < SDPSessionDescription.maximumMediaDescriptions else {
                throw SDPParseError(.tooManyMediaDescriptions, line: number, field: "media-description", text: line)
            }
            guard let media = SDPMediaDescription(mediaLine: value) else {
                throw SDPParseError(.invalidMedia, line: number, field: "media-field", text: line)
            }
            if session.timings.isEmpty {
                throw SDPParseError(.missingTiming, line: number, field: "time-description", text: line)
            }
            session.media.append(media)
            mediaAttributeLines.append([])
            mediaLineNumbers.append(number)
            return
        }

        if session.media.isEmpty {
            try consumeSession(letter, value, line: line, number: number, into: &session)
        } else {
            try consumeMedia(letter, value, line: line, number: number, into: &session.media[session.media.count - 1])
        }
    }

    private mutating func consumeSession(
        _ letter: Character, _ value: Substring, line: Substring, number: Int, into session: inout SDPSessionDescription
    ) throws(SDPParseError) {
        switch letter {
        case "i" where session.information == nil: session.information = String(value)
        case "u" where session.uri == nil: session.uri = String(value)
        case "e": session.emails.append(String(value))
        case "p": session.phones.append(String(value))
        case "c" where session.connection == nil:
            guard let connection = SDPConnection(value: value) else {
                throw SDPParseError(.invalidConnection, line: number, field: "connection-field", text: line)
            }
            session.connection = connection
        case "b":
            guard let bandwidth = SDPBandwidth(value: value) else {
                throw SDPParseError(.invalidBandwidth, line: number, field: "bandwidth-field", text: line)
            }
            session.bandwidths.append(bandwidth)
        case "t":
            guard let timing = SDPTiming(value: value) else {
                throw SDPParseError(.invalidTiming, line: number, field: "time-field", text: line)
            }
            session.timings.append(timing)
        case "r" where !session.timings.isEmpty:
            session.timings[session.timings.count - 1].repeats.append(String(value))
        case "z" where session.timeZones == nil: session.timeZones = String(value)
        case "k" where session.encryptionKey == nil: session.encryptionKey = String(value)
        case "a":
            session.attributes.append(try parseAttribute(value, line: line, number: number))
            sessionAttributeLines.append(number)
        case "v", "o", "s", "i", "u", "c", "r", "z", "k":
            throw SDPParseError(.lineOutOfPlace, line: number, field: "session-description", text: line)
        default:
            throw SDPParseError(.unknownLineType, line: number, field: "type", text: line)
        }
    }

    private mutating func consumeMedia(
        _ letter: Character, _ value: Substring, line: Substring, number: Int, into media: inout SDPMediaDescription
    ) throws(SDPParseError) {
        switch letter {
        case "i" where media.information == nil: media.information = String(value)
        case "c":
            guard let connection = SDPConnection(value: value) else {
                throw SDPParseError(.invalidConnection, line: number, field: "connection-field", text: line)
            }
            media.connections.append(connection)
        case "b":
            guard let bandwidth = SDPBandwidth(value: value) else {
                throw SDPParseError(.invalidBandwidth, line: number, field: "bandwidth-field", text: line)
            }
            media.bandwidths.append(bandwidth)
        case "k" where media.encryptionKey == nil: media.encryptionKey = String(value)
        case "a":
            media.attributes.append(try parseAttribute(value, line: line, number: number))
            mediaAttributeLines[mediaAttributeLines.count - 1].append(number)
        case "v", "o", "s", "i", "u", "e", "p", "t", "r", "z", "k":
            throw SDPParseError(.lineOutOfPlace, line: number, field: "media-description", text: line)
        default:
            throw SDPParseError(.unknownLineType, line: number, field: "type", text: line)
        }
    }

    /// `attribute = (attribute-name ":" attribute-value) / attribute-name` (RFC 8866 §9).
    private func parseAttribute(_ value: Substring, line: Substring, number: Int) throws(SDPParseError) -> SDPAttribute {
        let colon = value.firstIndex(of: ":")
        let name = value[..<(colon ?? value.endIndex)]
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenChar) else {
            throw SDPParseError(.malformedLine, line: number, field: "attribute-name", text: line)
        }
        return SDPAttribute(String(name), colon.map { String(value[value.index(after: $0)...]) })
    }

    mutating func finish(lineCount: Int) throws(SDPParseError) -> SDPSessionDescription {
        guard sawVersion else { throw SDPParseError(.missingVersion, line: 1, field: "proto-version", text: "") }
        guard origin != nil else { throw SDPParseError(.missingOrigin, line: lineCount + 1, field: "origin-field", text: "") }
        guard let session = description else {
            throw SDPParseError(.missingSessionName, line: lineCount + 1, field: "session-name-field", text: "")
        }
        guard !session.timings.isEmpty else {
            throw SDPParseError(.missingTiming, line: lineCount + 1, field: "time-description", text: "")
        }
        try SDPAttributeGrammar.check(session.attributes, lines: sessionAttributeLines, formats: nil)
        for (index, media) in session.media.enumerated() {
            try SDPAttributeGrammar.check(
                media.attributes, lines: mediaAttributeLines[index], formats: media.isRTP ? media.formats : nil)
        }
        return session
    }
}
