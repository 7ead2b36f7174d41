#if os(Linux)
import CMQTTTransport
import Glibc
import NIOCore
import NIOPosix
import Synchronization

/// MQTT over TCP served by one dedicated thread with epoll (Linux): accepts, reads and writes
/// sockets, and hands what happened to the broker loop in one batch per wake-up; the broker
/// loop hands back writes and closes in one batch per processing round.
///
/// Why not a NIO channel per connection: an idle NIO TCP channel holds several kilobytes of
/// user-space state (channel, pipeline, contexts, a pending-writes ring of 16 slots, a pooled
/// receive buffer, promises, addresses), which made 10,000 idle clients cost 5.8 KB each. Here
/// an idle connection is its kernel socket and one 40-byte slot; the broker's own state is the
/// rest. The thread also puts socket work on the second core, beside the broker loop.
///
/// Connection ids carry the transport's index, a generation and the descriptor, so a stale
/// command for a descriptor that was closed and reused is recognised and dropped.
///
/// Writes: the broker loop sends straight to the socket with ``sendDirectly(_:_:)`` while the
/// I/O thread holds nothing for that connection (one thread hop less per message: the latency
/// target), and hands a partial write's rest to the I/O thread, which then writes everything for
/// that connection until it reports ``Event/drained(_:writes:)``. A descriptor the I/O thread
/// finds closed by the peer is shut down but only closed after ``Command/release(_:)``, so the
/// broker loop never writes to a reused descriptor.
final class MQTTTCPTransport: Sendable {
    /// What the I/O thread reports, in order per connection.
    enum Event: Sendable {
        case opened(MQTTConnectionID)
        case bytes(MQTTConnectionID, ByteBuffer)
        /// The connection is gone (EOF, error, or after a ``Command/close(_:)``); answer with
        /// ``Command/release(_:)``.
        case closed(MQTTConnectionID)
        case writability(MQTTConnectionID, Bool)
        /// The I/O thread holds nothing more for the connection, having completed this many
        /// ``Command/write(_:_:)`` commands for it in all.
        case drained(MQTTConnectionID, writes: UInt64)
    }

    /// What the broker loop asks for.
    enum Command: Sendable {
        case write(MQTTConnectionID, ByteBuffer)
        /// Write what is still pending if the socket takes it now, then close.
        case close(MQTTConnectionID)
        /// The broker loop has seen ``Event/closed(_:)``: the descriptor may be closed and reused.
        case release(MQTTConnectionID)
    }

    /// Writes on the calling thread (the broker loop) to a connection the I/O thread holds
    /// nothing for; see the type's notes. - Returns: the bytes written, or -1 with errno.
    static func sendDirectly(_ id: MQTTConnectionID, _ buffer: ByteBuffer) -> Int {
        let fd = CInt(truncatingIfNeeded: UInt32(truncatingIfNeeded: id.rawValue))
        return buffer.withUnsafeReadableBytes { cmqtt_send(fd, $0.baseAddress, UInt($0.count)) }
    }

    /// Ids of this transport's connections have this bit set (NIO-fed connections count from 1).
    static let idBit: UInt64 = 1 << 63

    let localAddress: SocketAddress
    let index: UInt64
    private let listenFD: CInt
    private let epollFD: CInt
    private let wakeFD: CInt
    private let inbox = Mutex<Inbox>(Inbox())
    private let pool = NIOThreadPool(numberOfThreads: 1)
    private let stopped: EventLoopPromise<Void>

    private struct Inbox: ~Copyable {
        var commands: [Command] = []
        var signaled = false
        var stop = false
    }

    /// The index of the transport an id belongs to, if it belongs to one.
    static func transportIndex(of id: MQTTConnectionID) -> Int? {
        id.rawValue & idBit == 0 ? nil : Int((id.rawValue >> 56) & 0x7F)
    }

    /// Opens, binds and listens; serving starts with ``start(deliver:)``.
    /// - Parameters:
    ///   - index: 0...127, carried in connection ids.
    ///   - backlog: the listen backlog.
    init(host: String, port: Int, index: Int, backlog: CInt = 1024, loop: any EventLoop) throws {
        precondition((0..<128).contains(index))
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
        guard bound == 0, Glibc.listen(fd, backlog) == 0 else {
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
        let epollFD = cmqtt_epoll_create()
        let wakeFD = cmqtt_eventfd()
        guard epollFD >= 0, wakeFD >= 0, cmqtt_epoll_control(epollFD, 0, fd, 0) == 0,
            cmqtt_epoll_control(epollFD, 0, wakeFD, 0) == 0
        else {
            let code = errno
            Glibc.close(fd)
            if epollFD >= 0 { Glibc.close(epollFD) }
            if wakeFD >= 0 { Glibc.close(wakeFD) }
            throw IOError(errnoCode: code, reason: "epoll")
        }
        self.listenFD = fd
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        self.index = UInt64(index)
        self.localAddress = try SocketAddress(ipAddress: host, port: boundPort)
        self.stopped = loop.makePromise()
    }

    /// Starts the I/O thread.
    /// - Parameter deliver: called on the I/O thread with each batch of events.
    func start(deliver: @escaping @Sendable ([Event]) -> Void) {
        pool.start()
        let io = MQTTTCPTransportIO(transport: self, listenFD: listenFD, epollFD: epollFD, wakeFD: wakeFD, deliver: deliver)
        pool.submit { _ in
            io.run()
            self.stopped.succeed()
        }
    }

    /// Queues writes and closes for the I/O thread and wakes it if it is not already woken.
    func submit(_ commands: [Command]) {
        let wake = inbox.withLock { inbox -> Bool in
            inbox.commands.append(contentsOf: commands)
            if inbox.signaled { return false }
            inbox.signaled = true
            return true
        }
        if wake { signal() }
    }

    /// Stops the thread; it closes the listener and every connection.
    func stop() async {
        inbox.withLock { $0.stop = true }
        signal()
        try? await stopped.futureResult.get()
        try? await pool.shutdownGracefully()
    }

    private func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    /// For the I/O thread: the queued commands, and whether to stop.
    fileprivate func takeCommands() -> ([Command], Bool) {
        var drained: UInt64 = 0
        _ = Glibc.read(wakeFD, &drained, 8)
        return inbox.withLock { inbox in
            let commands = inbox.commands
            inbox.commands = []
            inbox.signaled = false
            return (commands, inbox.stop)
        }
    }
}

/// The I/O thread's state; touched only on that thread.
private final class MQTTTCPTransportIO: @unchecked Sendable {
    // @unchecked: created before the thread starts and then used only by it.
    /// One connection, indexed by its descriptor.
    struct Slot {
        /// 0: free.
        var id: UInt64 = 0
        /// Bytes the socket did not take yet, oldest first.
        var pending: [ByteBuffer] = []
        var pendingBytes = 0
        var watchingOutput = false
        var reportedUnwritable = false
        /// ``MQTTTCPTransport/Command/write(_:_:)`` commands completed.
        var writesDone: UInt64 = 0
        /// Shut down after EOF or an error, waiting for ``MQTTTCPTransport/Command/release(_:)``.
        var awaitingRelease = false
    }

    /// Above this many pending bytes the broker is told the connection is not writable (it then
    /// queues in the session, bounded); below `lowWater` it is told again that it is.
    static let highWater = 256 * 1024
    static let lowWater = 32 * 1024
    static let readSize = 64 * 1024

    let transport: MQTTTCPTransport
    let listenFD: CInt
    let epollFD: CInt
    let wakeFD: CInt
    let deliver: @Sendable ([MQTTTCPTransport.Event]) -> Void
    var slots: [Slot] = []
    var generation: UInt64 = 0
    var events: [MQTTTCPTransport.Event] = []
    let allocator = ByteBufferAllocator()
    /// True while the listener is out of the epoll set because the process ran out of
    /// descriptors (it is readable until a connection is accepted, so it would spin).
    var acceptPaused = false

    init(transport: MQTTTCPTransport, listenFD: CInt, epollFD: CInt, wakeFD: CInt, deliver: @escaping @Sendable ([MQTTTCPTransport.Event]) -> Void) {
        self.transport = transport
        self.listenFD = listenFD
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        self.deliver = deliver
    }

    func run() {
        let capacity = 256
        let fds = UnsafeMutablePointer<CInt>.allocate(capacity: capacity)
        let flags = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 16)
        defer {
            fds.deallocate()
            flags.deallocate()
            scratch.deallocate()
        }
        var running = true
        while running {
            let count = cmqtt_epoll_wait(epollFD, fds, flags, CInt(capacity), acceptPaused ? 100 : -1)
            if acceptPaused && cmqtt_epoll_control(epollFD, 0, listenFD, 0) == 0 { acceptPaused = false }
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in 0..<Int(count) {
                let fd = fds[index]
                let flag = flags[index]
                if fd == wakeFD {
                    let (commands, stop) = transport.takeCommands()
                    for command in commands { perform(command) }
                    if stop { running = false }
                } else if fd == listenFD {
                    acceptAll()
                } else {
                    if flag & 2 != 0 { flushPending(fd) }
                    if flag & 5 != 0 { readFrom(fd, scratch) }
                }
            }
            if !events.isEmpty {
                deliver(events)
                events = []
            }
        }
        for fd in slots.indices where slots[fd].id != 0 {
            let id = slots[fd].id
            let reported = slots[fd].awaitingRelease
            closeSlot(CInt(fd))
            if !reported { events.append(.closed(MQTTConnectionID(id))) }
        }
        if !events.isEmpty { deliver(events) }
        Glibc.close(listenFD)
        Glibc.close(wakeFD)
        Glibc.close(epollFD)
    }

    private func acceptAll() {
        // A bounded number per wake-up, so that a connection storm does not starve reads.
        for _ in 0..<256 {
            let fd = cmqtt_accept(listenFD)
            guard fd >= 0 else {
                if errno == EMFILE || errno == ENFILE {
                    // Try again in 100 ms rather than spin; pending connections wait in the backlog.
                    acceptPaused = cmqtt_epoll_control(epollFD, 2, listenFD, 0) == 0
                }
                return
            }
            guard cmqtt_epoll_control(epollFD, 0, fd, 0) == 0 else {
                Glibc.close(fd)
                continue
            }
            if Int(fd) >= slots.count {
                slots.append(contentsOf: repeatElement(Slot(), count: max(Int(fd) + 1 - slots.count, slots.count / 2)))
            }
            generation = (generation + 1) & 0x00FF_FFFF
            let id = MQTTTCPTransport.idBit | transport.index << 56 | generation << 32 | UInt64(UInt32(fd))
            slots[Int(fd)] = Slot(id: id)
            events.append(.opened(MQTTConnectionID(id)))
        }
    }

    private func readFrom(_ fd: CInt, _ scratch: UnsafeMutableRawBufferPointer) {
        guard Int(fd) < slots.count, slots[Int(fd)].id != 0, !slots[Int(fd)].awaitingRelease else { return }
        let id = slots[Int(fd)].id
        let count = Glibc.read(fd, scratch.baseAddress, scratch.count)
        if count > 0 {
            // An exact-size copy: decoded payloads are slices of it and may wait in queues.
            var bytes = allocator.buffer(capacity: count)
            bytes.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
            events.append(.bytes(MQTTConnectionID(id), bytes))
            return
        }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
        endSlot(fd)
    }

    /// The peer closed or the socket failed: stop watching it and shut it down (the broker loop
    /// may still be writing to it), report it, and close it on ``MQTTTCPTransport/Command/release(_:)``.
    private func endSlot(_ fd: CInt) {
        guard !slots[Int(fd)].awaitingRelease else { return }
        _ = cmqtt_epoll_control(epollFD, 2, fd, 0)
        _ = cmqtt_shutdown(fd)
        slots[Int(fd)].awaitingRelease = true
        slots[Int(fd)].pending = []
        slots[Int(fd)].pendingBytes = 0
        events.append(.closed(MQTTConnectionID(slots[Int(fd)].id)))
    }

    private func slotIndex(_ id: MQTTConnectionID) -> Int? {
        let fd = Int(UInt32(truncatingIfNeeded: id.rawValue))
        guard fd < slots.count, slots[fd].id == id.rawValue else { return nil }
        return fd
    }

    private func perform(_ command: MQTTTCPTransport.Command) {
        switch command {
        case .write(let id, let buffer):
            guard let fd = slotIndex(id), !slots[fd].awaitingRelease else { return }
            slots[fd].writesDone += 1
            if slots[fd].pending.isEmpty {
                let written = buffer.withUnsafeReadableBytes { cmqtt_send(CInt(fd), $0.baseAddress, UInt($0.count)) }
                if written == buffer.readableBytes {
                    events.append(.drained(id, writes: slots[fd].writesDone))
                    return
                }
                if written < 0 && errno != EAGAIN && errno != EINTR {
                    endSlot(CInt(fd))
                    return
                }
                var rest = buffer
                rest.moveReaderIndex(forwardBy: max(written, 0))
                enqueue(rest, fd: fd)
            } else {
                enqueue(buffer, fd: fd)
            }
        case .close(let id):
            guard let fd = slotIndex(id) else { return }
            if !slots[fd].pending.isEmpty && !slots[fd].awaitingRelease { flushPending(CInt(fd)) }
            if slots[fd].awaitingRelease { return }  // already reported closed; freed on release
            closeSlot(CInt(fd))
            events.append(.closed(id))
        case .release(let id):
            guard let fd = slotIndex(id), slots[fd].awaitingRelease else { return }
            closeSlot(CInt(fd))
        }
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
            events.append(.writability(MQTTConnectionID(slots[fd].id), false))
        }
    }

    /// Writes pending bytes while the socket takes them.
    private func flushPending(_ fd: CInt) {
        let index = Int(fd)
        guard index < slots.count, slots[index].id != 0, !slots[index].awaitingRelease else { return }
        let id = slots[index].id
        while !slots[index].pending.isEmpty {
            let buffer = slots[index].pending[0]
            let written = buffer.withUnsafeReadableBytes { cmqtt_send(fd, $0.baseAddress, UInt($0.count)) }
            if written < 0 {
                if errno == EAGAIN || errno == EINTR { break }
                endSlot(fd)
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
            events.append(.drained(MQTTConnectionID(id), writes: slots[index].writesDone))
        }
        if slots[index].reportedUnwritable && slots[index].pendingBytes < Self.lowWater {
            slots[index].reportedUnwritable = false
            events.append(.writability(MQTTConnectionID(id), true))
        }
    }

    private func closeSlot(_ fd: CInt) {
        _ = cmqtt_epoll_control(epollFD, 2, fd, 0)
        Glibc.close(fd)
        slots[Int(fd)] = Slot()
    }
}
#endif
