import ICEAgent
import NIOCore
import STUNCore

/// Hand-made STUN messages as a peer agent would send them, for single-agent tests.
enum PeerMessages {
    static let peerCredentials = try! IceCredentials(usernameFragment: "peer", password: "peerpasswordpeerpassword")

    /// A connectivity check to `agent` (RFC 8445 §7.2.2), optionally spoiled.
    static func check(
        to localCredentials: IceCredentials, from peer: IceCredentials = peerCredentials,
        priority: UInt32 = 1_862_270_975, controlling: UInt64? = 1, controlled: UInt64? = nil,
        useCandidate: Bool = false, password: String? = nil, fingerprint: Bool = true,
        transactionID: TransactionID = TransactionID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C)
    ) -> [UInt8] {
        var attributes: [StunAttribute] = [
            .username("\(localCredentials.usernameFragment):\(peer.usernameFragment)"), .priority(priority),
        ]
        if let controlling { attributes.append(.iceControlling(tieBreaker: controlling)) }
        if let controlled { attributes.append(.iceControlled(tieBreaker: controlled)) }
        if useCandidate { attributes.append(.useCandidate) }
        let message = StunMessage(method: .binding, messageClass: .request, transactionID: transactionID, attributes: attributes)
        return message.encoded(
            messageIntegrity: .shortTerm(password: password ?? localCredentials.password), fingerprint: fingerprint)
    }

    /// A success response to one of the agent's checks, signed with the peer's password.
    static func success(to request: [UInt8], mapped: TransportAddress, password: String = peerCredentials.password,
                        fingerprint: Bool = true) -> [UInt8] {
        let decoded = try! StunMessage(decoding: request)
        let response = StunMessage(
            method: .binding, messageClass: .successResponse, transactionID: decoded.transactionID,
            attributes: [.xorMappedAddress(mapped)])
        return response.encoded(messageIntegrity: .shortTerm(password: password), fingerprint: fingerprint)
    }

    /// An error response to one of the agent's checks, signed with the peer's password.
    static func error(_ code: StunErrorCode, to request: [UInt8], password: String = peerCredentials.password) -> [UInt8] {
        let decoded = try! StunMessage(decoding: request)
        let response = StunMessage(
            method: .binding, messageClass: .errorResponse, transactionID: decoded.transactionID,
            attributes: [.errorCode(code)])
        return response.encoded(messageIntegrity: .shortTerm(password: password), fingerprint: true)
    }

    /// Flips one bit in the last byte (inside FINGERPRINT when the message ends with it).
    static func corruptingLastByte(_ bytes: [UInt8]) -> [UInt8] {
        var copy = bytes
        copy[copy.count - 1] ^= 0x01
        return copy
    }
}

extension IceAgent {
    /// Drains and returns every pending transmit.
    mutating func drainTransmits() -> [IceTransmit] {
        var out: [IceTransmit] = []
        while let transmit = pollTransmit() { out.append(transmit) }
        return out
    }

    /// Drains and returns every pending event.
    mutating func drainEvents() -> [IceEvent] {
        var out: [IceEvent] = []
        while let event = pollEvent() { out.append(event) }
        return out
    }
}

extension IceTransmit {
    var message: StunMessage { try! StunMessage(decoding: bytes) }
}
