import NIOCore
import STUNCore

extension TurnClient {
    // MARK: Data to peers (RFC 8656 §11.1, §12.5)

    /// Sends over a confirmed channel, else as a Send indication under an installed permission,
    /// else queues the bytes behind a CreatePermission.
    mutating func sendData(to peer: TransportAddress, bytes: [UInt8], now: NIODeadline) {
        if let number = boundChannel(to: peer, now: now) {
            // RFC 8656 §12.5: over TCP/TLS ChannelData is padded to a multiple of 4 bytes.
            emit(ChannelData(channel: number, data: bytes).encoded(padded: configuration.mode == .stream))
            statistics.channelDataSent += 1
            statistics.bytesSent += bytes.count
            return
        }
        if hasPermission(for: peer.ip, now: now) {
            emitSendIndication(to: peer, bytes: bytes)
            return
        }
        if permissions[peer.ip] == nil {
            permissions[peer.ip] = TurnPermission(peer: peer)
            requestPermission(for: peer.ip, now: now)
        } else if permissions[peer.ip]!.expiry != nil, !permissions[peer.ip]!.requesting {
            // Installed once but expired without a refresh (cannot normally happen: refreshes run
            // ahead of expiry); ask again.
            requestPermission(for: peer.ip, now: now)
        }
        guard permissions[peer.ip]!.queue.count < configuration.maxQueuedPerPeer else {
            statistics.sendsDropped += 1
            return
        }
        permissions[peer.ip]!.queue.append((peer, bytes))
    }

    /// Sends what waited for a permission that is now installed.
    mutating func flushQueue(for ip: IPAddress, now: NIODeadline) {
        guard let queue = permissions[ip]?.queue, !queue.isEmpty else { return }
        permissions[ip]!.queue = []
        for item in queue { sendData(to: item.peer, bytes: item.bytes, now: now) }
    }

    /// A Send indication: XOR-PEER-ADDRESS and DATA (RFC 8656 §11.1). Indications are not
    /// authenticated (§11).
    private mutating func emitSendIndication(to peer: TransportAddress, bytes: [UInt8]) {
        let indication = StunMessage(
            method: .send, messageClass: .indication, attributes: [.xorPeerAddress(peer), .data(bytes)])
        emit(indication.encoded())
        statistics.sendIndicationsSent += 1
        statistics.bytesSent += bytes.count
    }

    // MARK: Data from peers (RFC 8656 §11.4, §12.6)

    /// A Data indication: accepted only when it names a peer with an installed permission (§9, §11.4).
    mutating func receiveDataIndication(_ message: StunMessage, now: NIODeadline) {
        guard case .xorPeerAddress(let peer)? = message.first(.xorPeerAddress),
            case .data(let bytes)? = message.first(.data)
        else {
            // §11.4: a Data indication without XOR-PEER-ADDRESS or DATA is discarded.
            statistics.malformedDropped += 1
            return
        }
        guard state == .allocated, hasPermission(for: peer.ip, now: now) else {
            statistics.unpermittedDropped += 1
            return
        }
        statistics.dataIndicationsReceived += 1
        statistics.bytesReceived += bytes.count
        events.push(.data(from: peer, bytes: bytes))
    }

    /// ChannelData: accepted only on a channel the server confirmed (§12.6).
    mutating func receiveChannelData(_ message: ChannelData, now: NIODeadline) {
        guard state == .allocated, let peer = channelPeers[message.channel],
            boundChannel(to: peer, now: now) == message.channel
        else {
            statistics.unpermittedDropped += 1
            return
        }
        statistics.channelDataReceived += 1
        statistics.bytesReceived += message.data.count
        events.push(.data(from: peer, bytes: message.data))
    }
}
