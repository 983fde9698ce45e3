import CLibPQ
import Foundation

/// One connection to PostgreSQL through libpq.
///
/// Owns its `PGconn` and closes it in `deinit`. A connection is used by one thread or task
/// at a time, so it is deliberately not `Sendable`: open one per worker.
///
///     let db = try PostgresConnection(url: "postgresql://localhost/ledger")
///     let rows = try db.query("SELECT stream, version FROM events WHERE position > $1", [cursor])
///     for row in rows { let stream = try row.decode(String.self, column: "stream") }
public final class PostgresConnection {
    let handle: OpaquePointer
    private var preparedNames: [String: String] = [:]
    private var seenStatements: Set<String> = []
    private var transactionDepth = 0

    /// Connects with a libpq connection URI or keyword string. An empty or nil `url` uses the
    /// standard libpq environment (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, …).
    /// Sessions run in UTC with ISO dates so timestamps decode the same everywhere; the
    /// server options the user gave (`options` in the URL, else `PGOPTIONS`) are kept, ours
    /// added after them, and `settings` (e.g. `lock_timeout`) after those.
    public init(url: String?, applicationName: String = "ledger", settings: [(String, String)] = []) throws(PostgresError) {
        var options = Self.userOptions(url: url)
        options.append(Self.sessionOptions)
        for (name, value) in settings { options.append("-c \(name)=\(Self.escapeOption(value))") }
        let keywords = ["dbname", "application_name", "options", "connect_timeout"]
        let values = [url ?? "", applicationName, options.joined(separator: " "), "10"]
        let connection = withCStrings(keywords) { k in
            withCStrings(values) { v in PQconnectStartParams(k, v, 1) }
        }
        guard let connection else {
            throw PostgresError(kind: .connection, message: "out of memory while connecting to PostgreSQL")
        }
        // A server in trouble may send a WARNING while we connect: libpq would print it on
        // stderr, before the program's one error line. Notices are ignored until connected.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        Self.completeConnecting(connection)
        guard PQstatus(connection) == CONNECTION_OK else {
            var message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            if message.isEmpty { message = "timeout expired (10 s) while connecting" }
            PQfinish(connection)
            throw PostgresError(kind: .connection, message: Self.redactingSecrets(of: url, in: Self.oneLine(message)))
        }
        self.handle = connection
        installNoticeCollector()
    }

    /// Drives a connection started with PQconnectStartParams to success or failure, as
    /// PQconnectdbParams would, giving up after `connect_timeout` (10 s).
    static func completeConnecting(_ connection: OpaquePointer) {
        guard PQstatus(connection) != CONNECTION_BAD else { return }
        let deadline = ContinuousClock.now + .seconds(10)
        var status = PGRES_POLLING_WRITING
        while status != PGRES_POLLING_OK, status != PGRES_POLLING_FAILED {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return }
            var fd = pollfd(
                fd: PQsocket(connection), events: Int16(status == PGRES_POLLING_READING ? POLLIN : POLLOUT), revents: 0)
            let millis = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            let ready = poll(&fd, 1, max(1, millis))
            if ready < 0, errno != EINTR { return }
            if ready == 0 { continue }
            status = PQconnectPoll(connection)
        }
    }

    /// What every session needs to decode values the same way.
    static let sessionOptions = "-c TimeZone=UTC -c DateStyle=ISO"

    /// The `options` the user asked for: in the URL or keyword string, else `PGOPTIONS`.
    /// Passing our own `options` keyword would otherwise replace them silently.
    static func userOptions(url: String?) -> [String] {
        if let url, !url.isEmpty {
            var error: UnsafeMutablePointer<CChar>?
            if let parsed = PQconninfoParse(url, &error) {
                defer { PQconninfoFree(parsed) }
                var option = parsed
                while let keyword = option.pointee.keyword {
                    if String(cString: keyword) == "options", let value = option.pointee.val {
                        let text = String(cString: value)
                        return text.isEmpty ? [] : [text]
                    }
                    option += 1
                }
            }
            if let error { PQfreemem(error) }
        }
        if let env = ProcessInfo.processInfo.environment["PGOPTIONS"], !env.isEmpty { return [env] }
        return []
    }

    /// A value inside libpq's `options`: spaces and backslashes escaped with a backslash.
    static func escapeOption(_ value: String) -> String {
        var out = ""
        for c in value {
            if c == " " || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// `text` with the password of `url` (URI `user:password@` or `password=…`) replaced by
    /// `***`, wherever it appears: libpq echoes a malformed connection string whole.
    public static func redactingSecrets(of url: String?, in text: String) -> String {
        guard let url, let password = password(in: url), !password.isEmpty else { return text }
        var out = text.replacingOccurrences(of: password, with: "***")
        if let decoded = password.removingPercentEncoding, !decoded.isEmpty {
            out = out.replacingOccurrences(of: decoded, with: "***")
        }
        return out
    }

    /// `url` as it may be shown: its password replaced by `***`.
    public static func redacted(_ url: String) -> String { redactingSecrets(of: url, in: url) }

    /// The password written in a connection URI or keyword string, found textually (so it
    /// works on malformed strings too, which are the ones libpq echoes).
    static func password(in url: String) -> String? {
        if let scheme = url.range(of: "://") {
            let rest = url[scheme.upperBound...]
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                return String(authority[authority.index(after: colon)..<at])
            }
            if let query = url.range(of: "password=") {
                let value = url[query.upperBound...].prefix { $0 != "&" && $0 != " " }
                return String(value)
            }
            return nil
        }
        guard let keyword = url.range(of: "password") else { return nil }
        var rest = url[keyword.upperBound...].drop { $0 == " " }
        guard rest.first == "=" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        if rest.first == "'" {
            return String(rest.dropFirst().prefix { $0 != "'" })
        }
        return String(rest.prefix { $0 != " " })
    }

    /// libpq's notices (a server WARNING or NOTICE, e.g. "terminating connection because of
    /// crash of another server process") would otherwise go straight to stderr, around the
    /// program's own one-line error. They are kept here instead: the last few, for messages.
    public private(set) var notices: [String] = []

    private func installNoticeCollector() {
        let me = Unmanaged.passUnretained(self).toOpaque()
        PQsetNoticeProcessor(
            handle,
            { arg, message in
                guard let arg, let message else { return }
                let connection = Unmanaged<PostgresConnection>.fromOpaque(arg).takeUnretainedValue()
                connection.notices.append(PostgresConnection.oneLine(String(cString: message)))
                if connection.notices.count > 8 { connection.notices.removeFirst() }
            }, me)
    }

    /// Reconnects with the same parameters after the connection was lost (libpq's PQreset).
    /// Prepared statements are gone with the old session, so they are forgotten too.
    public func reset() throws(PostgresError) {
        preparedNames = [:]
        seenStatements = []
        transactionDepth = 0
        lostReason = nil
        notices = []
        PQreset(handle)
        guard PQstatus(handle) == CONNECTION_OK else { throw connectionError(sql: nil) }
    }

    deinit { PQfinish(handle) }

    /// True while the connection is usable.
    public var isOpen: Bool { PQstatus(handle) == CONNECTION_OK }

    /// True inside a transaction block (after BEGIN, before COMMIT or ROLLBACK).
    public var isInTransaction: Bool { PQtransactionStatus(handle) != PQTRANS_IDLE }

    /// The server process serving this connection (for `pg_stat_activity`, locks, cancels).
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// The role this connection logged in as.
    public var user: String { PQuser(handle).map { String(cString: $0) } ?? "" }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    // MARK: Statements

    /// Runs one statement with `$n` parameters and returns its rows.
    /// With `prepared: true` the statement is parsed and planned once per connection and
    /// reused: use it on hot paths. It is prepared on its second use, so a short-lived
    /// process that runs it once pays no extra round trip for preparing.
    @discardableResult
    public func query(_ sql: String, _ binds: [any PostgresBindable] = [], prepared: Bool = false) throws(PostgresError) -> Rows {
        let texts = binds.map(\.postgresText)
        let result: OpaquePointer?
        if prepared, preparedNames[sql] == nil, seenStatements.insert(sql).inserted {
            result = withOptionalCStrings(texts) { values in
                PQexecParams(handle, sql, Int32(texts.count), nil, values, nil, nil, 0)
            }
        } else if prepared {
            let name = try preparedName(for: sql, parameterCount: texts.count)
            result = withOptionalCStrings(texts) { values in
                PQexecPrepared(handle, name, Int32(texts.count), values, nil, nil, 0)
            }
        } else {
            result = withOptionalCStrings(texts) { values in
                PQexecParams(handle, sql, Int32(texts.count), nil, values, nil, nil, 0)
            }
        }
        return try consume(result, sql: sql)
    }

    /// Runs one statement and hands each row to `body` as soon as it arrives (libpq's
    /// single-row mode), so a large result is worked on while the server still sends it
    /// and is never held whole. A row stays valid after `body` returns (it owns its result).
    /// When `body` throws, the rest of the result is read and dropped, then the error is
    /// rethrown; the connection stays usable.
    public func forEachRow(_ sql: String, _ binds: [any PostgresBindable] = [], _ body: (Row) throws -> Void) throws {
        let texts = binds.map(\.postgresText)
        let sent = withOptionalCStrings(texts) { values in
            PQsendQueryParams(handle, sql, Int32(texts.count), nil, values, nil, nil, 0)
        }
        guard sent == 1 else { throw connectionError(sql: sql) }
        _ = PQsetSingleRowMode(handle)
        var failure: (any Error)?
        while let result = PQgetResult(handle) {
            switch PQresultStatus(result) {
            case PGRES_SINGLE_TUPLE where failure == nil:
                let rows = Rows(storage: ResultStorage(result), affectedRows: 0)
                do { try body(rows[0]) } catch { failure = error }
            case PGRES_SINGLE_TUPLE, PGRES_TUPLES_OK, PGRES_COMMAND_OK:
                PQclear(result)
            default:
                if failure == nil { failure = serverError(result, sql: sql) }
                PQclear(result)
            }
        }
        if let failure { throw failure }
        if PQstatus(handle) != CONNECTION_OK { throw connectionError(sql: sql) }
    }

    /// Runs one or more statements without parameters (migrations, `BEGIN`, `SET`).
    public func execute(script sql: String) throws(PostgresError) {
        try consume(PQexec(handle, sql), sql: sql)
    }

    private func preparedName(for sql: String, parameterCount: Int) throws(PostgresError) -> String {
        if let name = preparedNames[sql] { return name }
        let name = "s\(preparedNames.count + 1)"
        try consume(PQprepare(handle, name, sql, Int32(parameterCount), nil), sql: sql)
        preparedNames[sql] = name
        return name
    }

    /// Turns a result into rows or into a `PostgresError`; the `PGresult` is owned from here on.
    @discardableResult
    func consume(_ result: OpaquePointer?, sql: String?) throws(PostgresError) -> Rows {
        guard let result else { throw connectionError(sql: sql) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            return Rows(storage: ResultStorage(result), affectedRows: Self.affectedRows(result))
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_PIPELINE_SYNC:
            let affected = Self.affectedRows(result)
            PQclear(result)
            return Rows(storage: nil, affectedRows: affected)
        default:
            let error = serverError(result, sql: sql)
            PQclear(result)
            throw error
        }
    }

    static func affectedRows(_ result: OpaquePointer) -> Int {
        Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    func serverError(_ result: OpaquePointer, sql: String?) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let p = PQresultErrorField(result, code) else { return nil }
            return String(cString: p)
        }
        let sqlState = field(Int32(UInt8(ascii: "C")))
        let message = field(Int32(UInt8(ascii: "M"))) ?? Self.oneLine(String(cString: PQresultErrorMessage(result)))
        if sqlState == nil, PQstatus(handle) != CONNECTION_OK { return connectionError(sql: sql) }
        return PostgresError(
            kind: sqlState == nil
                ? .client
                : (sqlState!.hasPrefix("08") || PostgresError.serverGoneCodes.contains(sqlState!) ? .connection : .server),
            sqlState: sqlState,
            message: message,
            detail: field(Int32(UInt8(ascii: "D"))),
            hint: field(Int32(UInt8(ascii: "H"))),
            constraint: field(Int32(UInt8(ascii: "n"))),
            sql: sql)
    }

    func connectionError(sql: String?) -> PostgresError {
        // Once the connection is gone, libpq's last message may be about a later call on
        // the dead connection ("cannot exit pipeline mode while busy"): keep the first one.
        if PQstatus(handle) != CONNECTION_OK, let lostReason {
            return PostgresError(kind: .connection, message: lostReason, sql: sql)
        }
        var message = Self.oneLine(String(cString: PQerrorMessage(handle)))
        if message.isEmpty { message = "connection to PostgreSQL lost" }
        if let notice = notices.last(where: { $0.contains("terminating connection") }), !message.contains(notice) {
            message = notice + "; " + message
        }
        if PQstatus(handle) != CONNECTION_OK { lostReason = message }
        return PostgresError(kind: .connection, message: message, sql: sql)
    }

    /// Why the connection was lost, as first reported (see `connectionError`).
    private var lostReason: String?

    // MARK: Transactions

    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// `transaction` with typed throws: a body that fails only with `PostgresError` makes a
    /// transaction that does too (BEGIN and COMMIT fail the same way), so its caller turns
    /// it into its own error once, not in a catch for every other kind of error.
    @discardableResult
    public func transaction<T>(
        _ isolation: IsolationLevel = .readCommitted, typed body: (PostgresConnection) throws(PostgresError) -> T
    ) throws(PostgresError) -> T {
        if transactionDepth > 0 { return try body(self) }
        try execute(script: isolation == .readCommitted ? "BEGIN" : "BEGIN ISOLATION LEVEL \(isolation.rawValue)")
        transactionDepth += 1
        defer { transactionDepth -= 1 }
        let value: T
        do {
            value = try body(self)
        } catch {
            if isOpen { try? execute(script: "ROLLBACK") }
            throw error
        }
        try execute(script: "COMMIT")
        return value
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    /// Nested calls run inside the outer transaction.
    @discardableResult
    public func transaction<T>(
        _ isolation: IsolationLevel = .readCommitted, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        // The typed transaction is the one implementation: another kind of error leaves the
        // body as a PostgresError (so the transaction rolls back) and is thrown as itself.
        var other: (any Error)?
        do {
            return try transaction(isolation, typed: { (db) throws(PostgresError) -> T in
                do { return try body(db) } catch { throw Self.typed(error, keeping: &other) }
            })
        } catch {
            throw other ?? error
        }
    }

    /// `error` if it is a `PostgresError`; otherwise a stand-in, with `error` kept in `other`
    /// to be thrown as itself once the typed function it crossed has cleaned up.
    static func typed(_ error: any Error, keeping other: inout (any Error)?) -> PostgresError {
        if let error = error as? PostgresError { return error }
        other = error
        return PostgresError(kind: .client, message: "\(error)")
    }

    /// Runs `body` in a transaction, running it again (up to `attempts` times) when
    /// PostgreSQL reports a serialization failure or deadlock (SQLSTATE 40001/40P01).
    @discardableResult
    public func retryingTransaction<T>(
        _ isolation: IsolationLevel = .readCommitted, attempts: Int = 5, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        var attempt = 1
        while true {
            do {
                return try transaction(isolation, body)
            } catch let error as PostgresError where error.isTransient && attempt < attempts {
                attempt += 1
                usleep(UInt32.random(in: 1_000...5_000) * UInt32(attempt))
            }
        }
    }

    // MARK: COPY

    /// Bulk-loads rows with `COPY … FROM STDIN`. `produce` writes rows in COPY text format
    /// through the writer; data is sent in large chunks. Returns the number of rows copied.
    @discardableResult
    public func copyIn(_ sql: String, _ produce: (inout CopyWriter) throws -> Void) throws -> Int {
        var other: (any Error)?
        do {
            return try copyIn(sql, typed: { (writer) throws(PostgresError) in
                do { try produce(&writer) } catch { throw Self.typed(error, keeping: &other) }
            })
        } catch {
            throw other ?? error
        }
    }

    /// `copyIn` with typed throws (see `transaction(_:typed:)`).
    @discardableResult
    public func copyIn(_ sql: String, typed produce: (inout CopyWriter) throws(PostgresError) -> Void) throws(PostgresError)
        -> Int
    {
        let start = PQexec(handle, sql)
        guard let start else { throw connectionError(sql: sql) }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            let error = serverError(start, sql: sql)
            PQclear(start)
            throw error
        }
        PQclear(start)
        var writer = CopyWriter(connection: self)
        do {
            try produce(&writer)
            try writer.flush()
        } catch {
            _ = PQputCopyEnd(handle, "aborted by client")
            while let r = PQgetResult(handle) { PQclear(r) }
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else { throw connectionError(sql: sql) }
        var rows = Rows(storage: nil, affectedRows: 0)
        var failure: PostgresError?
        while let result = PQgetResult(handle) {
            do { rows = try consume(result, sql: sql) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
        return rows.affectedRows
    }

    func putCopyData(_ bytes: [UInt8]) throws(PostgresError) {
        let ok = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                PQputCopyData(handle, $0, Int32(buffer.count))
            }
        }
        guard ok == 1 else { throw connectionError(sql: "COPY") }
    }

    // MARK: LISTEN / NOTIFY

    /// A notification received on a channel this connection listens to.
    public struct Notification: Sendable, Equatable {
        public var channel: String
        public var payload: String
        public var senderPID: Int32
    }

    /// Subscribes this connection to `channel` (an identifier of ours, quoted).
    public func listen(_ channel: String) throws(PostgresError) {
        try execute(script: "LISTEN \(quoteIdentifier(channel))")
    }

    /// Sends a notification through `pg_notify` (delivered when the transaction commits).
    public func notify(_ channel: String, payload: String = "") throws(PostgresError) {
        try query("SELECT pg_notify($1, $2)", [channel, payload])
    }

    /// Waits up to `timeout` for notifications and returns those that arrived (maybe none).
    /// Throws when the connection is lost, so a caller can reconnect.
    public func waitForNotifications(timeout: Duration) throws(PostgresError) -> [Notification] {
        var received = drainNotifications()
        if !received.isEmpty { return received }
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw connectionError(sql: nil) }
        var fd = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let (seconds, attoseconds) = timeout.components
        let millis = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        let ready = poll(&fd, 1, millis)
        if ready < 0 && errno != EINTR { throw connectionError(sql: nil) }
        if ready > 0 {
            guard PQconsumeInput(handle) == 1 else { throw connectionError(sql: nil) }
        }
        received = drainNotifications()
        if received.isEmpty, PQstatus(handle) != CONNECTION_OK { throw connectionError(sql: nil) }
        return received
    }

    private func drainNotifications() -> [Notification] {
        var out: [Notification] = []
        while let n = PQnotifies(handle) {
            out.append(
                Notification(
                    channel: String(cString: n.pointee.relname),
                    payload: String(cString: n.pointee.extra),
                    senderPID: n.pointee.be_pid))
            PQfreemem(n)
        }
        return out
    }

    // MARK: Pipeline mode

    /// One statement of a pipeline.
    public struct Statement: Sendable {
        public var sql: String
        public var binds: [any PostgresBindable]
        /// Use (and on first use create) the connection's prepared statement for `sql`.
        public var prepared: Bool
        public init(_ sql: String, _ binds: [any PostgresBindable] = [], prepared: Bool = false) {
            self.sql = sql
            self.binds = binds
            self.prepared = prepared
        }
    }

    /// Sends several statements in one round trip (libpq pipeline mode) and returns each
    /// statement's rows in order. They run as one implicit transaction: if one fails, the
    /// later ones are skipped and the first error is thrown.
    public func pipeline(_ statements: [(sql: String, binds: [any PostgresBindable])]) throws(PostgresError) -> [Rows] {
        try pipeline(segments: [statements.map { Statement($0.sql, $0.binds) }])[0].get()
    }

    /// Sends several segments of statements in one round trip (libpq pipeline mode). Each
    /// segment ends with a sync point, so it is its own implicit transaction (unless it says
    /// BEGIN … COMMIT itself) and fails or succeeds on its own: an error skips the rest of
    /// its segment only. Returns each segment's rows, or its first error.
    public func pipeline(segments: [[Statement]]) throws(PostgresError) -> [Result<[Rows], PostgresError>] {
        var names: [String?] = []
        for segment in segments {
            for statement in segment {
                names.append(statement.prepared ? try preparedName(for: statement.sql, parameterCount: statement.binds.count) : nil)
            }
        }
        guard PQenterPipelineMode(handle) == 1 else { throw connectionError(sql: nil) }
        defer { if PQstatus(handle) == CONNECTION_OK { _ = PQexitPipelineMode(handle) } }
        var n = 0
        for segment in segments {
            for statement in segment {
                let texts = statement.binds.map(\.postgresText)
                let name = names[n]
                n += 1
                let sent = withOptionalCStrings(texts) { values in
                    if let name {
                        return PQsendQueryPrepared(handle, name, Int32(texts.count), values, nil, nil, 0)
                    }
                    return PQsendQueryParams(handle, statement.sql, Int32(texts.count), nil, values, nil, nil, 0)
                }
                guard sent == 1 else { throw connectionError(sql: statement.sql) }
            }
            guard PQpipelineSync(handle) == 1 else { throw connectionError(sql: nil) }
        }
        var outcomes: [Result<[Rows], PostgresError>] = []
        for segment in segments {
            var rows: [Rows] = []
            var failure: PostgresError?
            for statement in segment {
                // Each statement's results end with a NULL.
                while let result = PQgetResult(handle) {
                    if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                        PQclear(result)
                        continue
                    }
                    do { rows.append(try consume(result, sql: statement.sql)) } catch { failure = failure ?? error }
                }
            }
            // The segment's sync point.
            while let result = PQgetResult(handle) {
                let status = PQresultStatus(result)
                PQclear(result)
                if status == PGRES_PIPELINE_SYNC { break }
            }
            if PQstatus(handle) != CONNECTION_OK {
                // The connection died during this segment. The segments before it ended at
                // their sync points, so their outcomes stand (an append that committed must
                // not be reported as failed because the wake-up after it was cut off); this
                // one and the rest are lost.
                let lost = failure.flatMap { $0.kind == .connection ? $0 : nil } ?? connectionError(sql: nil)
                while outcomes.count < segments.count { outcomes.append(.failure(lost)) }
                return outcomes
            }
            outcomes.append(failure.map { .failure($0) } ?? .success(rows))
        }
        return outcomes
    }

    // MARK: Quoting

    /// Quotes an identifier of ours (a channel or a generated table name). Values from users
    /// are always bound as parameters instead.
    public func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Buffers COPY text-format rows and sends them to the server in 256 KiB chunks.
public struct CopyWriter: ~Copyable {
    let connection: PostgresConnection
    var buffer: [UInt8] = []

    init(connection: PostgresConnection) {
        self.connection = connection
        buffer.reserveCapacity(1 << 18)
    }

    /// Appends one row: each value escaped for COPY's text format, nil as `\N`.
    public mutating func writeRow(_ values: [String?]) throws(PostgresError) {
        for (i, value) in values.enumerated() {
            if i > 0 { buffer.append(0x09) }
            guard let value else { buffer.append(contentsOf: [92, UInt8(ascii: "N")]); continue }
            appendEscaped(value)
        }
        buffer.append(0x0A)
        if buffer.count >= 1 << 18 { try flush() }
    }

    /// Appends one row whose fields are already UTF-8 bytes (nil for NULL): saves turning
    /// encoded JSON back into strings.
    public mutating func writeRow(bytes values: [[UInt8]?]) throws(PostgresError) {
        for (i, value) in values.enumerated() {
            if i > 0 { buffer.append(0x09) }
            guard let value else { buffer.append(contentsOf: [92, UInt8(ascii: "N")]); continue }
            appendEscaped(value)
        }
        buffer.append(0x0A)
        if buffer.count >= 1 << 18 { try flush() }
    }

    /// Appends one field escaped for COPY's text format, without a separator.
    public mutating func appendEscaped(_ value: String) {
        appendEscaped(value.utf8)
    }

    mutating func appendEscaped(_ utf8: some Collection<UInt8>) {
        if !utf8.contains(where: { $0 == 92 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            buffer.append(contentsOf: utf8)
            return
        }
        for byte in utf8 {
            switch byte {
            case 92: buffer.append(contentsOf: [92, 92])
            case 0x09: buffer.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0x0A: buffer.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: buffer.append(contentsOf: [92, UInt8(ascii: "r")])
            default: buffer.append(byte)
            }
        }
    }

    mutating func flush() throws(PostgresError) {
        guard !buffer.isEmpty else { return }
        try connection.putCopyData(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

// MARK: - C string helpers

func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return body(pointers.map { UnsafePointer($0) } + [nil])
}

func withOptionalCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { pointers.forEach { free($0) } }
    return body(pointers.map { UnsafePointer($0) })
}
