public import NIOCore
public import Foundation

/// The web client's files, read once at start-up, and the mapping from a request target to one
/// of them.
///
/// Resolution is a pure function of the request target and the set of files, so traversal
/// cannot reach outside the folder by construction: only names that were found under the root
/// at start-up can be served. Targets that *try* to leave it (`..` segments, also percent-encoded,
/// backslashes, NUL, absolute-form URLs) are refused and counted rather than normalised.
public struct WebRoot: Sendable {
    /// One file: its bytes and the `Content-Type` to send.
    public struct File: Sendable, Hashable {
        public let contents: [UInt8]
        public let contentType: String
        /// The contents as the response body, made once at start: every request shares it
        /// (copy-on-write) instead of copying the file again.
        public let body: ByteBuffer

        public init(contents: [UInt8], contentType: String) {
            self.contents = contents
            self.contentType = contentType
            self.body = ByteBuffer(bytes: contents)
        }
    }

    /// What a request target resolves to.
    public enum Resolution: Hashable, Sendable {
        /// Serve the file with this relative path (e.g. `index.html`, `js/app.js`).
        case file(String)
        /// A path that names a file (its last segment has an extension) that does not exist.
        case notFound
        /// A target that is not a plain path below the root; answered 400 and counted.
        case refused(RefusalReason)
    }

    /// Why a target was refused.
    public enum RefusalReason: String, Error, Hashable, Sendable {
        /// A `..` or `.` segment, literal or percent-encoded (RFC 3986 §5.2.4 would remove it;
        /// we refuse instead, so nothing is served by a path that tries to climb).
        case traversal
        /// Not origin-form (RFC 9112 §3.2.1): absolute URL, `*`, or no leading `/`.
        case notOriginForm
        /// A path beginning `//`, which reads as a network-path reference (RFC 3986 §4.2) or
        /// an absolute file system path once the leading `/` is taken off.
        case absolutePath
        /// Percent-encoding that is not two hex digits, or decodes to invalid UTF-8.
        case badEncoding
        /// A backslash, NUL or other control character, or an encoded `/`, in the path.
        case forbiddenCharacter
    }

    /// The files by relative path (`/`-separated, no leading slash).
    public let files: [String: File]

    public init(files: [String: File]) {
        self.files = files
    }

    /// Reads every regular file below `directory` (following no symbolic links out of it).
    /// - Throws: the file system's error when the folder cannot be listed or a file read.
    public init(directory: URL) throws {
        let root = directory.standardizedFileURL.resolvingSymlinksInPath()
        var files: [String: File] = [:]
        let manager = FileManager.default
        guard let enumerator = manager.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: root.path])
        }
        let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
        for case let url as URL in enumerator {
            let resolved = url.resolvingSymlinksInPath()
            guard resolved.path.hasPrefix(prefix),
                (try? resolved.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true
            else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(prefix.count))
            let data = try Data(contentsOf: resolved)
            files[relative] = File(contents: Array(data), contentType: Self.contentType(forPath: relative))
        }
        self.files = files
    }

    /// Maps a request target (the raw path from the request line, query included or not) to a
    /// file. Unknown paths whose last segment has no extension fall back to `index.html`, so the
    /// single-page app can route them itself.
    public func resolve(target: String) -> Resolution {
        let path: Substring
        if let query = target.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            path = target[..<query]
        } else {
            path = Substring(target)
        }
        guard path.first == "/" else { return .refused(.notOriginForm) }
        if path.hasPrefix("//") { return .refused(.absolutePath) }
        guard let segments = Self.decodedSegments(path) else { return .refused(.badEncoding) }
        var clean: [String] = []
        for segment in segments {
            switch segment {
            case .failure(let reason): return .refused(reason)
            case .success(let text):
                if text == ".." || text == "." { return .refused(.traversal) }
                if text.isEmpty { continue }
                clean.append(text)
            }
        }
        let relative = clean.joined(separator: "/")
        if relative.isEmpty { return files["index.html"] != nil ? .file("index.html") : .notFound }
        if files[relative] != nil { return .file(relative) }
        if files[relative + "/index.html"] != nil { return .file(relative + "/index.html") }
        let last = clean.last ?? ""
        if last.contains(".") { return .notFound }
        return files["index.html"] != nil ? .file("index.html") : .notFound
    }

    /// Splits on `/` and percent-decodes each segment (RFC 3986 §2.1); nil when an escape is
    /// malformed. A segment that decodes to something that may not be in a file name carries
    /// the reason instead.
    static func decodedSegments(_ path: Substring) -> [Result<String, RefusalReason>]? {
        var result: [Result<String, RefusalReason>] = []
        for raw in path.split(separator: "/", omittingEmptySubsequences: false) {
            var bytes: [UInt8] = []
            var iterator = Array(raw.utf8).makeIterator()
            while let byte = iterator.next() {
                if byte == UInt8(ascii: "%") {
                    guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                        return nil
                    }
                    bytes.append(high << 4 | low)
                } else {
                    bytes.append(byte)
                }
            }
            if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "/") }) {
                result.append(.failure(.forbiddenCharacter))
                continue
            }
            guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
            result.append(.success(text))
        }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The `Content-Type` for a file name, by extension; text types say UTF-8.
    public static func contentType(forPath path: String) -> String {
        let ext = path.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch path.contains(".") ? ext : "" {
        case "html", "htm": return "text/html; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json", "map": return "application/json"
        case "webmanifest": return "application/manifest+json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "gif": return "image/gif"
        case "webp": return "image/webp"
        case "ico": return "image/x-icon"
        case "woff": return "font/woff"
        case "woff2": return "font/woff2"
        case "txt": return "text/plain; charset=utf-8"
        case "wasm": return "application/wasm"
        default: return "application/octet-stream"
        }
    }
}
