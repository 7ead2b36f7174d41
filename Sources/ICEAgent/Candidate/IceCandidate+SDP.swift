extension IceCandidate {
    /// Parses a candidate attribute (RFC 8839 §5.1):
    ///
    /// ```
    /// candidate-attribute = "candidate" ":" foundation SP component-id SP transport SP priority SP
    ///                       connection-address SP port SP cand-type [SP rel-addr] [SP rel-port]
    ///                       *(SP cand-extension)
    /// ```
    ///
    /// Accepts `a=candidate:…`, `candidate:…` (as in `RTCIceCandidateInit.candidate`) and a
    /// trailing CR/LF. Transport and type tokens are case-insensitive.
    /// - Throws: ``IceCandidateParseError`` naming the field and its offset.
    public init(sdp text: some StringProtocol) throws(IceCandidateParseError) {
        var line = Substring(text)
        while let last = line.last, last.isNewline || last == " " { line = line.dropLast() }
        var offset = 0
        if line.hasPrefix("a=") {
            line = line.dropFirst(2)
            offset = 2
        }
        guard line.hasPrefix("candidate:") else {
            throw IceCandidateParseError(.notACandidate, field: "candidate-attribute", offset: 0)
        }
        offset += "candidate:".count
        var tokens = Tokens(line.dropFirst("candidate:".count), start: offset)

        let (foundationText, foundationAt) = try tokens.next("foundation")
        guard (1...32).contains(foundationText.count), foundationText.utf8.allSatisfy(IceCredentials.isIceChar) else {
            throw IceCandidateParseError(.invalidFoundation, field: "foundation", offset: foundationAt)
        }
        let (componentText, componentAt) = try tokens.next("component-id")
        guard (1...3).contains(componentText.count), componentText.utf8.allSatisfy(isDigit),
            let component = UInt16(componentText), (1...256).contains(component)
        else { throw IceCandidateParseError(.invalidComponent, field: "component-id", offset: componentAt) }
        let (transportText, transportAt) = try tokens.next("transport")
        guard let transport = IceTransportProtocol(rawValue: transportText.lowercased()) else {
            throw IceCandidateParseError(.invalidTransport, field: "transport", offset: transportAt)
        }
        let (priorityText, priorityAt) = try tokens.next("priority")
        guard (1...10).contains(priorityText.count), priorityText.utf8.allSatisfy(isDigit),
            let priority = UInt32(priorityText)
        else { throw IceCandidateParseError(.invalidPriority, field: "priority", offset: priorityAt) }
        let (addressText, addressAt) = try tokens.next("connection-address")
        guard let address = IceCandidateAddress(addressText) else {
            throw IceCandidateParseError(.invalidAddress, field: "connection-address", offset: addressAt)
        }
        let (portText, portAt) = try tokens.next("port")
        guard let port = parsePort(portText) else {
            throw IceCandidateParseError(.invalidPort, field: "port", offset: portAt)
        }
        let (typ, typAt) = try tokens.next("cand-type")
        guard typ == "typ" else { throw IceCandidateParseError(.missingType, field: "cand-type", offset: typAt) }
        let (typeText, typeAt) = try tokens.next("candidate-types")
        guard let type = IceCandidateType(rawValue: typeText.lowercased()) else {
            throw IceCandidateParseError(.invalidType, field: "candidate-types", offset: typeAt)
        }
        self.init(
            foundation: String(foundationText), component: component, transport: transport, priority: priority,
            address: address, port: port, type: type)

        // rel-addr and rel-port come first, in that order; then extensions (tcptype among them).
        while let token = tokens.peek() {
            let (name, nameAt) = token
            _ = try tokens.next("cand-extension")
            let value = tokens.peek()?.0
            switch name {
            case "raddr" where relatedAddress == nil && relatedPort == nil && extensions.isEmpty && tcpType == nil:
                guard let text = value, let related = IceCandidateAddress(text) else {
                    throw IceCandidateParseError(.invalidRelatedAddress, field: "rel-addr", offset: nameAt)
                }
                relatedAddress = related
            case "rport" where relatedPort == nil && extensions.isEmpty && tcpType == nil:
                guard let text = value, let related = parsePort(text) else {
                    throw IceCandidateParseError(.invalidRelatedPort, field: "rel-port", offset: nameAt)
                }
                relatedPort = related
            case "tcptype" where tcpType == nil:
                guard let text = value, let tcp = IceTcpType(rawValue: text.lowercased()) else {
                    throw IceCandidateParseError(.invalidTcpType, field: "tcptype", offset: nameAt)
                }
                tcpType = tcp
            default:
                // cand-extension = extension-att-name SP extension-att-value (byte-strings).
                guard let text = value else {
                    throw IceCandidateParseError(.invalidExtension, field: "cand-extension", offset: nameAt)
                }
                extensions.append(Extension(name: String(name), value: String(text)))
            }
            _ = try tokens.next("cand-extension")
        }
    }

    /// The attribute value without the `a=` prefix: `candidate:…`, as signalled in
    /// `RTCIceCandidateInit.candidate`.
    public var sdpValue: String {
        var out = "candidate:\(foundation) \(component) \(transport) \(priority) \(address) \(port) typ \(type)"
        if let relatedAddress { out += " raddr \(relatedAddress)" }
        if let relatedPort { out += " rport \(relatedPort)" }
        if let tcpType { out += " tcptype \(tcpType)" }
        for item in extensions { out += " \(item.name) \(item.value)" }
        return out
    }

    /// The SDP line without its line ending: `a=candidate:…`.
    public var sdpAttribute: String { "a=" + sdpValue }
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

private func parsePort(_ text: Substring) -> UInt16? {
    guard (1...5).contains(text.count), text.utf8.allSatisfy(isDigit) else { return nil }
    return UInt16(text)
}

/// Splits on single spaces and remembers each token's offset; repeated spaces make an empty
/// token, which every field rejects, as the grammar has exactly one SP between fields.
private struct Tokens {
    private var rest: Substring
    private var offset: Int
    private var done = false

    init(_ text: Substring, start: Int) {
        rest = text
        offset = start
        done = text.isEmpty
    }

    func peek() -> (Substring, Int)? {
        guard !done else { return nil }
        let end = rest.firstIndex(of: " ") ?? rest.endIndex
        return (rest[..<end], offset)
    }

    mutating func next(_ field: String) throws(IceCandidateParseError) -> (Substring, Int) {
        guard let (token, at) = peek() else {
            throw IceCandidateParseError(.missingField, field: field, offset: offset)
        }
        if token.endIndex == rest.endIndex {
            done = true
            offset += token.count
            rest = rest[rest.endIndex...]
        } else {
            offset += token.count + 1
            rest = rest[rest.index(after: token.endIndex)...]
        }
        return (token, at)
    }
}
