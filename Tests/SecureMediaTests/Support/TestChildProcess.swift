import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process for interop tests (openssl, python with aiortc or selenium) in which every
/// wait has a deadline and none blocks a thread of Swift's cooperative pool: reads poll the pipe
/// on a Dispatch thread, and stopping escalates from closing stdin to SIGTERM and SIGKILL of the
/// child's whole process group (it is spawned as a session leader, so chromedriver and Chromium
/// go with it). A child that outlives `lifetime` is killed, however the test ended.
final class TestChildProcess: Sendable {
    enum Failure: Error, CustomStringConvertible {
        case spawn(String, Int32)
        var description: String {
            switch self {
            case .spawn(let path, let code): "could not start \(path): \(String(cString: strerror(code)))"
            }
        }
    }

    /// Where the child's standard error goes.
    enum ErrorOutput {
        case discard
        case standardOutput
        case file(String)
    }

    let pid: pid_t
    private let stdinFD: Mutex<Int32>
    private let stdoutFD: Int32
    /// Everything read so far and how much of it `readLine` has consumed.
    private let output = Mutex<(bytes: [UInt8], consumed: Int, eof: Bool)>(([], 0, false))
    private let exitStatus = Mutex<Int32?>(nil)

    init(_ arguments: [String], errorOutput: ErrorOutput = .discard, lifetime: Duration = .seconds(120)) throws {
        precondition(!arguments.isEmpty)
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw Failure.spawn(arguments[0], errno) }
        // Our ends must not leak into other children the test process spawns meanwhile.
        for fd in [toChild[1], fromChild[0]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        switch errorOutput {
        case .discard: posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        case .standardOutput: posix_spawn_file_actions_adddup2(&actions, fromChild[1], 2)
        case .file(let path): posix_spawn_file_actions_addopen(&actions, 2, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new session: the child leads its own process group, which `stop` signals as a whole.
        // glibc's POSIX_SPAWN_SETSID (0x80, glibc 2.26+), which the Glibc module does not export
        // without _GNU_SOURCE.
        posix_spawnattr_setflags(&attributes, 0x80)
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawnp(&child, arguments[0], &actions, &attributes, argv, environ)
        close(toChild[0])
        close(fromChild[1])
        guard result == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw Failure.spawn(arguments[0], result)
        }
        pid = child
        stdinFD = Mutex(toChild[1])
        stdoutFD = fromChild[0]
        signal(SIGPIPE, SIG_IGN)
        DispatchQueue.global().asyncAfter(deadline: .now() + lifetime.timeInterval) { [self] in
            if !hasExited { Glibc.kill(-pid, SIGKILL) }
        }
    }

    deinit {
        close(stdoutFD)
        stdinFD.withLock { if $0 >= 0 { close($0) } }
    }

    /// Writes `text` to the child's stdin; false once stdin is closed or the child is gone.
    @discardableResult
    func write(_ text: String) -> Bool {
        stdinFD.withLock { fd in
            guard fd >= 0 else { return false }
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return false }
                bytes = bytes.dropFirst(written)
            }
            return true
        }
    }

    func closeInput() {
        stdinFD.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    /// The next line of output without its newline; nil at end of file or after `timeout`.
    func readLine(timeout: Duration = .seconds(60)) async -> String? {
        await read(timeout: timeout) { state in
            let unread = state.bytes[state.consumed...]
            guard let newline = unread.firstIndex(of: 0x0A) else { return nil }
            state.consumed = newline + 1
            return String(decoding: unread[..<newline], as: UTF8.self)
        }
    }

    /// All output so far, once it contains `needle`; nil at end of file or after `timeout`.
    func waitForOutput(containing needle: String, timeout: Duration = .seconds(60)) async -> String? {
        await read(timeout: timeout) { state in
            let text = String(decoding: state.bytes, as: UTF8.self)
            return text.contains(needle) ? text : nil
        }
    }

    /// Reads on a Dispatch thread, in bounded polls, until `match` finds something.
    private func read(timeout: Duration, _ match: @escaping @Sendable (inout (bytes: [UInt8], consumed: Int, eof: Bool)) -> String?) async -> String? {
        let deadline = Date().addingTimeInterval(timeout.timeInterval)
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async { [self] in
                while true {
                    let (found, eof) = output.withLock { state in (match(&state), state.eof) }
                    if found != nil || eof {
                        continuation.resume(returning: found)
                        return
                    }
                    let remaining = deadline.timeIntervalSinceNow
                    guard remaining > 0 else {
                        continuation.resume(returning: nil)
                        return
                    }
                    var descriptor = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
                    guard poll(&descriptor, 1, Int32(min(remaining, 0.2) * 1000) + 1) > 0 else { continue }
                    var chunk = [UInt8](repeating: 0, count: 65536)
                    let count = chunk.withUnsafeMutableBytes { Glibc.read(stdoutFD, $0.baseAddress, $0.count) }
                    if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                    output.withLock { state in
                        if count > 0 { state.bytes += chunk[..<count] } else { state.eof = true }
                    }
                }
            }
        }
    }

    var hasExited: Bool {
        exitStatus.withLock { status in
            if status != nil { return true }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw }
            return status != nil
        }
    }

    /// The raw wait status once the child has exited.
    var terminationStatus: Int32? { hasExited ? exitStatus.withLock { $0 } : nil }

    /// Closes stdin and gives the child `grace` to exit by itself, then SIGTERM and after 3 s
    /// SIGKILL to its process group. Waits on a Dispatch thread; at most grace + 3 s + a poll.
    func stop(grace: Duration = .seconds(10)) async {
        closeInput()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async { [self] in
                for (signal, wait) in [(Int32(0), grace.timeInterval), (SIGTERM, 3.0), (SIGKILL, 5.0)] {
                    if signal != 0 && !hasExited { Glibc.kill(-pid, signal) }
                    let deadline = Date().addingTimeInterval(wait)
                    while !hasExited && Date() < deadline { usleep(20_000) }
                    if hasExited { break }
                }
                // The leader is gone; whatever it left in its group goes too.
                Glibc.kill(-pid, SIGKILL)
                continuation.resume()
            }
        }
    }

    /// For `defer`: kills the whole group at once, without waiting. A no-op after `stop`.
    func killGroup() {
        closeInput()
        if !hasExited {
            Glibc.kill(-pid, SIGKILL)
            DispatchQueue.global().async { [self] in
                while !hasExited { usleep(20_000) }
            }
        }
    }
}

extension Duration {
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
