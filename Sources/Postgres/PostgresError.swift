/// An error from PostgreSQL or from libpq, with everything a caller needs to tell one
/// failure from another: a version conflict (unique violation on a known constraint), a
/// serialization failure worth retrying, or a lost connection.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The server could not be reached or the connection was lost.
        case connection
        /// The server rejected a statement; see `sqlState`.
        case server
        /// The client library failed or was misused (e.g. decoding a column to a wrong type).
        case client
    }

    public var kind: Kind
    /// Five-character SQLSTATE code (`23505` unique violation, `40001` serialization failure…).
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    /// The statement that failed, when there is one. Never contains bound values.
    public var sql: String?

    public init(
        kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil, hint: String? = nil,
        constraint: String? = nil, sql: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.sql = sql
    }

    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += ": \(detail)" }
        return text
    }

    /// The SQLSTATEs the ledger acts on, named once (PostgreSQL's errcodes.txt).
    public enum Code {
        public static let uniqueViolation = "23505"
        /// The role lacks a right (GRANT, ownership, CREATEROLE).
        public static let insufficientPrivilege = "42501"
        /// A write in a read-only transaction: on a hot standby, every transaction is one.
        public static let readOnlySQLTransaction = "25006"
        public static let serializationFailure = "40001"
        public static let deadlockDetected = "40P01"
        public static let lockNotAvailable = "55P03"
        public static let queryCanceled = "57014"
        /// The server is shutting down (smart/fast shutdown, or pg_terminate_backend).
        public static let adminShutdown = "57P01"
        /// Another backend crashed; the server is resetting every connection.
        public static let crashShutdown = "57P02"
        /// The server is starting up, shutting down or in recovery.
        public static let cannotConnectNow = "57P03"
        public static let databaseDropped = "57P04"
        public static let idleSessionTimeout = "57P05"
        /// Class 53: insufficient resources (53100 disk full, 53200 out of memory, …).
        public static let diskFull = "53100"
        public static let outOfMemory = "53200"
        /// The schema is not there (not migrated): a table, a function or a schema.
        public static let undefinedTable = "42P01"
        public static let undefinedFunction = "42883"
        public static let invalidSchemaName = "3F000"
        /// CREATE of a table that another migrator created meanwhile.
        public static let duplicateTable = "42P07"
        /// A name taken by another object, e.g. a table's row type created by a concurrent
        /// `CREATE TABLE IF NOT EXISTS` at the same instant.
        public static let duplicateObject = "42710"
        /// The ledger's own, raised by `append_events` and `append_staged_events`: a stream is
        /// not at the version the command was decided against, or another writer took the
        /// version meanwhile (DETAIL is JSON: stream, expected, actual; Schema/014).
        public static let ledgerConflict = "LE001"
        /// The ledger's own: an idempotency key already used for another command (DETAIL is
        /// JSON: key, recorded_command_hash, command_hash; Schema/014).
        public static let ledgerIdempotencyKeyReused = "LE002"
    }

    /// Serialization failures and deadlocks: the transaction may succeed if run again.
    public var isTransient: Bool { sqlState == Code.serializationFailure || sqlState == Code.deadlockDetected }

    public var isUniqueViolation: Bool { sqlState == Code.uniqueViolation }

    /// The server went away: the connection is lost (class 08), or the server ended the
    /// session — shut down, crashed, terminated by an administrator, starting or stopping.
    /// All of them are worth a new connection; none of them says what became of a
    /// statement that was in flight.
    public var isServerGone: Bool {
        if kind == .connection { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || Self.serverGoneCodes.contains(sqlState)
    }

    static let serverGoneCodes: Set<String> = [
        Code.adminShutdown, Code.crashShutdown, Code.cannotConnectNow, Code.idleSessionTimeout,
    ]

    /// The server could not write: disk full, or out of memory (SQLSTATE class 53).
    public var isOutOfResources: Bool { sqlState?.hasPrefix("53") ?? false }

    /// The role lacks a right (SQLSTATE 42501, insufficient_privilege): exit 77.
    public var isInsufficientPrivilege: Bool { sqlState == Code.insufficientPrivilege }

    /// A write on a read-only server or transaction, e.g. on a hot standby (SQLSTATE 25006).
    public var isReadOnlyTransaction: Bool { sqlState == Code.readOnlySQLTransaction }

    /// The relation or schema does not exist: the database has not been migrated.
    public var isUndefinedObject: Bool {
        sqlState == Code.undefinedTable || sqlState == Code.invalidSchemaName || sqlState == Code.undefinedFunction
    }
}
