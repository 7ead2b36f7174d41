#if os(Linux)
import CMQTTTransport
import Glibc
import NIOCore

/// What an ``MQTTTCPTransport`` reports, on its loop, as it happens.
protocol MQTTTCPTransportDelegate: AnyObject {
    func tcpOpened(_ id: MQTTConnectionID)
    /// Bytes read from a connection; packets may span calls and a call may hold several.
    func tcpReceived(_ id: MQTTConnectionID, _ bytes: inout ByteBuffer)
    /// The connection is gone: the peer closed it, it failed, or ``MQTTTCPTransport/close(_:)``.
    func tcpClosed(_ id: MQTTConnectionID)
    /// The bytes the socket did not take went above (false) or back below (true) the limit.
    func tcpWritabilityChanged(_ id: MQTTConnectionID, isWritable: Bool)
    /// Everything one wake-up of the loop brought has been reported: time to process and write.
    func tcpRoundEnded()
}

/// MQTT over TCP served on an ``MQTTEpollEventLoop`` (Linux): accepts, reads and writes
/// sockets on the loop's thread, the thread the broker runs on. A read is handed to the
/// broker at once; after every batch of readiness the broker processes what arrived and its
/// writes go straight to the sockets (`TCP_NODELAY`), so a message crosses no thread.
///
/// Why not a NIO channel per connection: an idle NIO TCP channel holds several kilobytes of
/// user-space state (channel, pipeline, contexts, a pending-writes ring of 16 slots, a pooled
/// receive buffer, promises, addresses), which made 10,000 idle clients cost 5.8 KB each. Here
/// an idle connection is its kernel socket and one small slot; the broker's own state is the
/// rest.
///
/// Connection ids carry ``idBit``, a generation and the descriptor, so a stale write or close
/// for a descriptor that was closed and reused is recognised and dropped. Everything here runs
/// on the loop.
final class MQTTTCPTransport: MQTTEpollHandler, @unchecked Sendable {
    // @unchecked: created on the loop and used only there (tasks it schedules run there too).
    /// Ids of this transport's connections have this bit set (other connections count from 1).
    static let idBit: UInt64 = 1 << 63

    /// Whether a connection id is one of this transport's.
    static func owns(_ id: MQTTConnectionID) -> Bool {
        id.rawValue & idBit != 0
    }

    /// One connection, indexed by its descriptor.
    struct Slot {
        /// 0: free.
        var id: UInt64 = 0
        /// Bytes the socket did not take yet, oldest first.
        var pending: [ByteBuffer] = []
        var pendingBytes = 0
        var watchingOutput = false
        var reportedUnwritable = false
        /// A write failed: the socket is shut down and its end is reported when epoll says so.
        var failed = false
    }

    /// Above this many pending bytes the broker is told the connection is not writable (it then
    /// queues in the session, bounded); below `lowWater` it is told again that it is.
    static let highWater = 256 * 1024
    static let lowWater = 32 * 1024
    static let readSize = 64 * 1024

    /// Weak: the loop's thread holds this transport (its handler) until it ends, and the loop
    /// ends when the last reference to it goes.
    private weak var loop: MQTTEpollEventLoop?
    private let epollFD: CInt
    weak var delegate: (any MQTTTCPTransportDelegate)?
    private var listeners: [CInt] = []
    private var slots: [Slot] = []
    private var generation: UInt64 = 0
    private let allocator = ByteBufferAllocator()
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 16)
    /// Listeners taken out of the epoll set because the process ran out of descriptors (they
    /// stay readable until a connection is accepted, so they would spin); retried after 100 ms.
    private var pausedListeners: [CInt] = []

    /// Creates the transport and makes it its loop's descriptor handler; call on the loop.
    init(loop: MQTTEpollEventLoop, delegate: any MQTTTCPTransportDelegate) {
        self.loop = loop
        self.epollFD = loop.epollFD
        self.delegate = delegate
        loop.setHandler(self)
    }

    deinit {
        scratch.deallocate()
    }

    /// Opens, binds and listens; call on the loop.
    /// - Parameter backlog: the listen backlog.
    /// - Returns: the bound address (port 0 picks a free one).
    func listen(host: String, port: Int, backlog: CInt = 1024) throws -> SocketAddress {
        let address = try SocketAddress(ipAddress: host, port: port)
        let isIPv6 = address.protocol == .inet6
        let fd = socket(isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        func option(_ level: CInt, _ name: CInt, _ value: CInt) {
            var value = value
            _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<CInt>.size))
        }
        option(SOL_SOCKET, SO_REUSEADDR, 1)
        // `::` serves IPv4 too (mapped addresses), like a NIO listener on `::`.
        if isIPv6 { option(CInt(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
        let bound = address.withSockAddr { pointer, length in Glibc.bind(fd, pointer, socklen_t(length)) }
        guard bound == 0, Glibc.listen(fd, backlog) == 0, cmqtt_epoll_control(epollFD, 0, fd, 0) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw IOError(errnoCode: code, reason: "bind/listen(\(host):\(port))")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let boundPort = Int(UInt16(bigEndian: withUnsafeBytes(of: &storage) { $0.load(fromByteOffset: 2, as: UInt16.self) }))
        listeners.append(fd)
        return try SocketAddress(ipAddress: host, port: boundPort)
    }

    // MARK: Readiness (MQTTEpollHandler)

    func descriptorReady(_ fd: CInt, flags: UInt32) {
        if listeners.contains(fd) {
            acceptAll(fd)
            return
        }
        if flags & 2 != 0 { flushPending(fd) }
        if flags & 5 != 0 { readFrom(fd) }
    }

    func readinessBatchEnded() {
        delegate?.tcpRoundEnded()
    }

    func loopEnding() {
        closeAll()
    }

    // MARK: Writes and closes (from the broker, on the loop)

    /// Writes now what the socket takes; the rest waits for the socket to drain.
    func write(_ id: MQTTConnectionID, _ buffer: ByteBuffer) {
        guard let fd = slotIndex(id), !slots[fd].failed else { return }
        if !slots[fd].pending.isEmpty {
            enqueue(buffer, fd: fd)
            return
        }
        let written = buffer.withUnsafeReadableBytes { cmqtt_send(CInt(fd), $0.baseAddress, UInt($0.count)) }
        if written == buffer.readableBytes { return }
        if written < 0 && errno != EAGAIN && errno != EINTR {
            fail(fd)
            return
        }
        var rest = buffer
        rest.moveReaderIndex(forwardBy: max(written, 0))
        enqueue(rest, fd: fd)
    }

    /// Writes what is still pending if the socket takes it now, then closes; the delegate hears
    /// ``MQTTTCPTransportDelegate/tcpClosed(_:)`` and ``MQTTTCPTransportDelegate/tcpRoundEnded()``
    /// in a task after this returns.
    func close(_ id: MQTTConnectionID) {
        guard let fd = slotIndex(id) else { return }
        if !slots[fd].pending.isEmpty && !slots[fd].failed { flushPending(CInt(fd)) }
        closeSlot(CInt(fd))
        loop?.execute { [weak self] in
            self?.delegate?.tcpClosed(id)
            self?.delegate?.tcpRoundEnded()
        }
    }

    /// Closes the listeners and every connection, reporting each connection closed.
    func closeAll() {
        for fd in listeners + pausedListeners {
            _ = cmqtt_epoll_control(epollFD, 2, fd, 0)
            Glibc.close(fd)
        }
        listeners = []
        pausedListeners = []
        for fd in slots.indices where slots[fd].id != 0 {
            let id = MQTTConnectionID(slots[fd].id)
            closeSlot(CInt(fd))
            delegate?.tcpClosed(id)
        }
        slots = []
    }

    // MARK: Internals

    private func acceptAll(_ listenFD: CInt) {
        // A bounded number per wake-up, so that a connection storm does not starve reads.
        for _ in 0..<256 {
            let fd = cmqtt_accept(listenFD)
            guard fd >= 0 else {
                if errno == EMFILE || errno == ENFILE { pause(listenFD) }
                return
            }
            guard cmqtt_epoll_control(epollFD, 0, fd, 0) == 0 else {
                Glibc.close(fd)
                continue
            }
            if Int(fd) >= slots.count {
                slots.append(contentsOf: repeatElement(Slot(), count: max(Int(fd) + 1 - slots.count, slots.count / 2)))
            }
            generation = (generation + 1) & 0x7FFF_FFFF
            let id = Self.idBit | generation << 32 | UInt64(UInt32(fd))
            slots[Int(fd)] = Slot(id: id)
            delegate?.tcpOpened(MQTTConnectionID(id))
        }
    }

    /// Out of descriptors: stop watching the listener (pending connections wait in the backlog)
    /// and try again in 100 ms rather than spin.
    private func pause(_ listenFD: CInt) {
        guard cmqtt_epoll_control(epollFD, 2, listenFD, 0) == 0 else { return }
        listeners.removeAll { $0 == listenFD }
        pausedListeners.append(listenFD)
        _ = loop?.scheduleTask(in: .milliseconds(100)) { [weak self] in
            guard let self, let index = self.pausedListeners.firstIndex(of: listenFD) else { return }
            self.pausedListeners.remove(at: index)
            if cmqtt_epoll_control(self.epollFD, 0, listenFD, 0) == 0 {
                self.listeners.append(listenFD)
            } else {
                Glibc.close(listenFD)
            }
        }
    }

    private func readFrom(_ fd: CInt) {
        guard Int(fd) < slots.count, slots[Int(fd)].id != 0 else { return }
        let id = MQTTConnectionID(slots[Int(fd)].id)
        let count = Glibc.read(fd, scratch.baseAddress, scratch.count)
        if count > 0 {
            guard !slots[Int(fd)].failed else { return }
            // An exact-size copy: decoded payloads are slices of it and may wait in queues.
            var bytes = allocator.buffer(capacity: count)
            bytes.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
            delegate?.tcpReceived(id, &bytes)
            return
        }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
        closeSlot(fd)
        delegate?.tcpClosed(id)
    }

    /// A write failed: shut the socket down; epoll then reports it and ``readFrom(_:)`` ends it
    /// (not here, so that the broker does not hear of it in the middle of its own output).
    private func fail(_ fd: Int) {
        slots[fd].failed = true
        slots[fd].pending = []
        slots[fd].pendingBytes = 0
        _ = cmqtt_shutdown(CInt(fd))
    }

    private func slotIndex(_ id: MQTTConnectionID) -> Int? {
        let fd = Int(UInt32(truncatingIfNeeded: id.rawValue))
        guard fd < slots.count, slots[fd].id == id.rawValue else { return nil }
        return fd
    }

    private func enqueue(_ buffer: ByteBuffer, fd: Int) {
        slots[fd].pending.append(buffer)
        slots[fd].pendingBytes += buffer.readableBytes
        if !slots[fd].watchingOutput {
            slots[fd].watchingOutput = true
            _ = cmqtt_epoll_control(epollFD, 1, CInt(fd), 1)
        }
        if slots[fd].pendingBytes > Self.highWater && !slots[fd].reportedUnwritable {
            slots[fd].reportedUnwritable = true
            delegate?.tcpWritabilityChanged(MQTTConnectionID(slots[fd].id), isWritable: false)
        }
    }

    /// Writes pending bytes while the socket takes them.
    private func flushPending(_ fd: CInt) {
        let index = Int(fd)
        guard index < slots.count, slots[index].id != 0, !slots[index].failed else { return }
        while !slots[index].pending.isEmpty {
            let buffer = slots[index].pending[0]
            let written = buffer.withUnsafeReadableBytes { cmqtt_send(fd, $0.baseAddress, UInt($0.count)) }
            if written < 0 {
                if errno == EAGAIN || errno == EINTR { break }
                fail(index)
                return
            }
            slots[index].pendingBytes -= written
            if written == buffer.readableBytes {
                slots[index].pending.removeFirst()
            } else {
                slots[index].pending[0].moveReaderIndex(forwardBy: written)
                break
            }
        }
        if slots[index].pending.isEmpty {
            slots[index].pending = []  // free the array's storage
            if slots[index].watchingOutput {
                slots[index].watchingOutput = false
                _ = cmqtt_epoll_control(epollFD, 1, fd, 0)
            }
        }
        if slots[index].reportedUnwritable && slots[index].pendingBytes < Self.lowWater {
            slots[index].reportedUnwritable = false
            delegate?.tcpWritabilityChanged(MQTTConnectionID(slots[index].id), isWritable: true)
        }
    }

    private func closeSlot(_ fd: CInt) {
        _ = cmqtt_epoll_control(epollFD, 2, fd, 0)
        Glibc.close(fd)
        slots[Int(fd)] = Slot()
    }
}
#endif
