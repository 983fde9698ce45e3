import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP proxy between the `ledger` binary and PostgreSQL that loses the server's answer to
/// a statement the server has already run: the network failing at the worst moment, which
/// no fault inside the server can reproduce (a backend terminated after its commit has
/// already sent the answer).
///
/// Each connection is passed through byte for byte until the client has sent a chunk
/// containing `trigger`; from the client's next chunk on, nothing the server sends on that
/// connection reaches the client, until `cut()` closes it. Other connections (a reconnect)
/// are passed through untouched.
final class AnswerDroppingProxy: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let targetPort: UInt16
    private let trigger: [UInt8]
    private let lock = NSLock()
    private var connections: [Connection] = []

    private final class Connection: @unchecked Sendable {
        let client: Int32
        let server: Int32
        var sawTrigger = false
        var dropping = false
        var dropped = 0
        /// Pumps finished: the second one closes both sockets.
        var ended = 0
        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }
    }

    struct SocketError: Error, CustomStringConvertible {
        var call: String
        var description: String { "\(call) failed: errno \(errno)" }
    }

    init(targetPort: UInt16, dropAnswersAfterTheClientSends trigger: String) throws {
        self.targetPort = targetPort
        self.trigger = Array(trigger.utf8)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(call: "socket") }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw SocketError(call: "bind/listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Connections accepted so far.
    var accepted: Int { lock.withLock { connections.count } }

    /// Bytes of server answers withheld from the client so far.
    var droppedBytes: Int { lock.withLock { connections.reduce(0) { $0 + $1.dropped } } }

    /// Closes every connection whose answers are being dropped: the client sees the
    /// connection lost, the server a client gone.
    func cut() {
        for connection in lock.withLock({ connections.filter { $0.dropping && $0.ended == 0 } }) {
            shutdown(connection.client, Int32(SHUT_RDWR))
            shutdown(connection.server, Int32(SHUT_RDWR))
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        // Only sockets not closed yet (a closed descriptor may have been reused).
        for connection in lock.withLock({ connections.filter { $0.ended == 0 } }) {
            shutdown(connection.client, Int32(SHUT_RDWR))
            shutdown(connection.server, Int32(SHUT_RDWR))
        }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(client)
                close(server)
                continue
            }
            let connection = Connection(client: client, server: server)
            lock.withLock { connections.append(connection) }
            Thread { [self] in pump(connection, fromClient: true) }.start()
            Thread { [self] in pump(connection, fromClient: false) }.start()
        }
    }

    private func pump(_ connection: Connection, fromClient: Bool) {
        let from = fromClient ? connection.client : connection.server
        let to = fromClient ? connection.server : connection.client
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            let chunk = buffer[0..<n]
            var forward = true
            lock.withLock {
                if fromClient {
                    // Set before the chunk goes on, so its answer cannot slip through.
                    if connection.sawTrigger {
                        connection.dropping = true
                    } else if Self.contains(chunk, trigger) {
                        connection.sawTrigger = true
                    }
                } else if connection.dropping {
                    connection.dropped += n
                    forward = false
                }
            }
            if forward {
                var sent = 0
                while sent < n {
                    let w = buffer.withUnsafeBytes { write(to, $0.baseAddress! + sent, n - sent) }
                    guard w > 0 else { break }
                    sent += w
                }
            }
        }
        shutdown(connection.client, Int32(SHUT_RDWR))
        shutdown(connection.server, Int32(SHUT_RDWR))
        let last = lock.withLock {
            connection.ended += 1
            return connection.ended == 2
        }
        if last {
            close(connection.client)
            close(connection.server)
        }
    }

    private static func contains(_ chunk: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard chunk.count >= needle.count else { return false }
        var i = chunk.startIndex
        while i + needle.count <= chunk.endIndex {
            if chunk[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}
