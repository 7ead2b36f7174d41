import NIOCore

// MQTT 5.0 §2.2.2: a property block is a Variable Byte Integer length, then properties, each a
// Variable Byte Integer identifier and a value whose type the identifier fixes (Table 2-4).

extension MQTTProperties {
    // MARK: Decoding

    /// Reads a property block for `context`.
    ///
    /// Unknown identifiers are malformed; a property not allowed in `context`, a repeated property
    /// that may appear only once, and out-of-range values are protocol errors (MQTT 5.0 §2.2.2.2).
    static func decode(
        from reader: inout MQTTCodecReader, context: MQTTPropertyContext, field: String
    ) throws(MQTTDecodingError) -> MQTTProperties {
        let start = reader.offset
        let length = try reader.readVariableByteInteger(field + ".length")
        return try reader.withScope(length: length, field: field + ".length", at: start) {
            (reader: inout MQTTCodecReader) throws(MQTTDecodingError) -> MQTTProperties in
            var properties = MQTTProperties()
            var seen: UInt64 = 0
            while !reader.isAtEnd {
                let idOffset = reader.offset
                let raw = try reader.readVariableByteInteger(field + ".identifier")
                guard raw <= 0xFF, let id = MQTTPropertyIdentifier(rawValue: UInt8(raw)) else {
                    throw MQTTDecodingError(.unknownProperty, field: field + ".identifier", offset: idOffset)
                }
                guard id.isAllowed(in: context) else {
                    throw MQTTDecodingError(.propertyNotAllowed, field: "\(field).\(id)", offset: idOffset)
                }
                let bit = UInt64(1) << id.rawValue
                if seen & bit != 0 && !id.mayRepeat(in: context) {
                    throw MQTTDecodingError(.duplicateProperty, field: "\(field).\(id)", offset: idOffset)
                }
                seen |= bit
                try properties.readValue(of: id, from: &reader, field: field)
            }
            return properties
        }
    }

    private mutating func readValue(
        of id: MQTTPropertyIdentifier, from reader: inout MQTTCodecReader, field prefix: String
    ) throws(MQTTDecodingError) {
        let offset = reader.offset
        func invalid(_ code: MQTTDecodingError.Code = .invalidPropertyValue) -> MQTTDecodingError {
            MQTTDecodingError(code, field: "\(prefix).\(id)", offset: offset)
        }
        /// A Byte that must be 0 or 1 (§3.1.2.11.6, §3.1.2.11.7, §3.2.2.3.4, §3.2.2.3.5, §3.2.2.3.11–13).
        func flag() throws(MQTTDecodingError) -> UInt8 {
            let value = try reader.readByte("\(prefix).\(id)")
            guard value <= 1 else { throw invalid() }
            return value
        }
        func nonZero<T: FixedWidthInteger>(_ value: T) throws(MQTTDecodingError) -> T {
            guard value != 0 else { throw invalid() }
            return value
        }
        switch id {
        case .payloadFormatIndicator: payloadFormatIndicator = try flag()
        case .messageExpiryInterval: messageExpiryInterval = try reader.readUInt32("\(prefix).\(id)")
        case .contentType: contentType = try reader.readString("\(prefix).\(id)")
        case .responseTopic: responseTopic = try reader.readString("\(prefix).\(id)")
        case .correlationData: correlationData = try reader.readBinary("\(prefix).\(id)")
        case .subscriptionIdentifier:
            // §3.3.2.3.8: "It is a Protocol Error if the Subscription Identifier has a value of 0."
            subscriptionIdentifiers.append(try nonZero(reader.readVariableByteInteger("\(prefix).\(id)")))
        case .sessionExpiryInterval: sessionExpiryInterval = try reader.readUInt32("\(prefix).\(id)")
        case .assignedClientIdentifier: assignedClientIdentifier = try reader.readString("\(prefix).\(id)")
        case .serverKeepAlive: serverKeepAlive = try reader.readUInt16("\(prefix).\(id)")
        case .authenticationMethod: authenticationMethod = try reader.readString("\(prefix).\(id)")
        case .authenticationData: authenticationData = try reader.readBinary("\(prefix).\(id)")
        case .requestProblemInformation: requestProblemInformation = try flag()
        case .willDelayInterval: willDelayInterval = try reader.readUInt32("\(prefix).\(id)")
        case .requestResponseInformation: requestResponseInformation = try flag()
        case .responseInformation: responseInformation = try reader.readString("\(prefix).\(id)")
        case .serverReference: serverReference = try reader.readString("\(prefix).\(id)")
        case .reasonString: reasonString = try reader.readString("\(prefix).\(id)")
        // §3.1.2.11.3: "It is a Protocol Error to include the Receive Maximum value ... 0."
        case .receiveMaximum: receiveMaximum = try nonZero(reader.readUInt16("\(prefix).\(id)"))
        case .topicAliasMaximum: topicAliasMaximum = try reader.readUInt16("\(prefix).\(id)")
        case .topicAlias:
            // §3.3.2.3.4: a Topic Alias of 0 is not permitted; the receiver closes with 0x94.
            let alias = try reader.readUInt16("\(prefix).\(id)")
            guard alias != 0 else { throw invalid(.invalidTopicAlias) }
            topicAlias = alias
        case .maximumQoS: maximumQoS = MQTTQoS(rawValue: try flag())
        case .retainAvailable: retainAvailable = try flag() == 1
        case .userProperty:
            let name = try reader.readString("\(prefix).\(id).name")
            let value = try reader.readString("\(prefix).\(id).value")
            userProperties.append(MQTTUserProperty(name: name, value: value))
        // §3.1.2.11.4: "It is a Protocol Error to include the Maximum Packet Size ... 0."
        case .maximumPacketSize: maximumPacketSize = try nonZero(reader.readUInt32("\(prefix).\(id)"))
        case .wildcardSubscriptionAvailable: wildcardSubscriptionAvailable = try flag() == 1
        case .subscriptionIdentifierAvailable: subscriptionIdentifiersAvailable = try flag() == 1
        case .sharedSubscriptionAvailable: sharedSubscriptionAvailable = try flag() == 1
        }
    }

    // MARK: Encoding

    /// Writes the property block for `context`: the properties `context` allows, in identifier
    /// order, the others left out. `maximumQoS` of `.exactlyOnce` is left out too: absence means
    /// QoS 2 (§3.2.2.3.4).
    /// - Throws: ``MQTTEncodingError`` for values the decoder would reject (0 where 0 is a
    ///   protocol error, flags other than 0 or 1, several Subscription Identifiers in SUBSCRIBE)
    ///   and for strings that cannot be represented.
    /// - Returns: the length of the properties, without their length prefix.
    @discardableResult
    func encode(into buffer: inout ByteBuffer, context: MQTTPropertyContext, field: String) throws(MQTTEncodingError)
        -> Int
    {
        try buffer.writeMQTTLengthPrefixed(field: field + ".length") {
            (buffer: inout ByteBuffer) throws(MQTTEncodingError) in
            try encodeProperties(into: &buffer, context: context, field: field)
        }
    }

    private func encodeProperties(
        into buffer: inout ByteBuffer, context: MQTTPropertyContext, field prefix: String
    ) throws(MQTTEncodingError) {
        func start(_ id: MQTTPropertyIdentifier) -> Bool {
            guard id.isAllowed(in: context) else { return false }
            buffer.writeInteger(id.rawValue)  // every identifier is below 128: a 1-byte VBI
            return true
        }
        func invalid(_ id: MQTTPropertyIdentifier) -> MQTTEncodingError {
            MQTTEncodingError(.invalidValue, field: "\(prefix).\(id)")
        }
        func flag(_ value: UInt8, _ id: MQTTPropertyIdentifier) throws(MQTTEncodingError) {
            guard value <= 1 else { throw invalid(id) }
            buffer.writeInteger(value)
        }
        func nonZero<T: FixedWidthInteger>(_ value: T, _ id: MQTTPropertyIdentifier) throws(MQTTEncodingError) {
            guard value != 0 else { throw invalid(id) }
            buffer.writeInteger(value)
        }

        if let value = payloadFormatIndicator, start(.payloadFormatIndicator) {
            try flag(value, .payloadFormatIndicator)
        }
        if let value = messageExpiryInterval, start(.messageExpiryInterval) { buffer.writeInteger(value) }
        if let value = contentType, start(.contentType) {
            try buffer.writeMQTTString(value, field: "\(prefix).contentType")
        }
        if let value = responseTopic, start(.responseTopic) {
            try buffer.writeMQTTString(value, field: "\(prefix).responseTopic")
        }
        if let value = correlationData, start(.correlationData) {
            try buffer.writeMQTTBinary(value, field: "\(prefix).correlationData")
        }
        if MQTTPropertyIdentifier.subscriptionIdentifier.isAllowed(in: context) {
            if context == .subscribe && subscriptionIdentifiers.count > 1 { throw invalid(.subscriptionIdentifier) }
            for value in subscriptionIdentifiers {
                guard (1...MQTTVariableByteInteger.maximum).contains(value) else {
                    throw invalid(.subscriptionIdentifier)
                }
                _ = start(.subscriptionIdentifier)
                try MQTTVariableByteInteger.write(value, to: &buffer, field: "\(prefix).subscriptionIdentifier")
            }
        }
        if let value = sessionExpiryInterval, start(.sessionExpiryInterval) { buffer.writeInteger(value) }
        if let value = assignedClientIdentifier, start(.assignedClientIdentifier) {
            try buffer.writeMQTTString(value, field: "\(prefix).assignedClientIdentifier")
        }
        if let value = serverKeepAlive, start(.serverKeepAlive) { buffer.writeInteger(value) }
        if let value = authenticationMethod, start(.authenticationMethod) {
            try buffer.writeMQTTString(value, field: "\(prefix).authenticationMethod")
        }
        if let value = authenticationData, start(.authenticationData) {
            try buffer.writeMQTTBinary(value, field: "\(prefix).authenticationData")
        }
        if let value = requestProblemInformation, start(.requestProblemInformation) {
            try flag(value, .requestProblemInformation)
        }
        if let value = willDelayInterval, start(.willDelayInterval) { buffer.writeInteger(value) }
        if let value = requestResponseInformation, start(.requestResponseInformation) {
            try flag(value, .requestResponseInformation)
        }
        if let value = responseInformation, start(.responseInformation) {
            try buffer.writeMQTTString(value, field: "\(prefix).responseInformation")
        }
        if let value = serverReference, start(.serverReference) {
            try buffer.writeMQTTString(value, field: "\(prefix).serverReference")
        }
        if let value = reasonString, start(.reasonString) {
            try buffer.writeMQTTString(value, field: "\(prefix).reasonString")
        }
        if let value = receiveMaximum, start(.receiveMaximum) { try nonZero(value, .receiveMaximum) }
        if let value = topicAliasMaximum, start(.topicAliasMaximum) { buffer.writeInteger(value) }
        if let value = topicAlias, start(.topicAlias) { try nonZero(value, .topicAlias) }
        if let value = maximumQoS, value != .exactlyOnce, start(.maximumQoS) { buffer.writeInteger(value.rawValue) }
        if let value = retainAvailable, start(.retainAvailable) { buffer.writeInteger(UInt8(value ? 1 : 0)) }
        if MQTTPropertyIdentifier.userProperty.isAllowed(in: context) {
            for property in userProperties {
                _ = start(.userProperty)
                try buffer.writeMQTTString(property.name, field: "\(prefix).userProperty.name")
                try buffer.writeMQTTString(property.value, field: "\(prefix).userProperty.value")
            }
        }
        if let value = maximumPacketSize, start(.maximumPacketSize) { try nonZero(value, .maximumPacketSize) }
        if let value = wildcardSubscriptionAvailable, start(.wildcardSubscriptionAvailable) {
            buffer.writeInteger(UInt8(value ? 1 : 0))
        }
        if let value = subscriptionIdentifiersAvailable, start(.subscriptionIdentifierAvailable) {
            buffer.writeInteger(UInt8(value ? 1 : 0))
        }
        if let value = sharedSubscriptionAvailable, start(.sharedSubscriptionAvailable) {
            buffer.writeInteger(UInt8(value ? 1 : 0))
        }
    }
}
