import JSON
import Postgres

/// Why an append or a read failed, in terms a caller can act on.
public enum EventStoreError: Error, Sendable, CustomStringConvertible {
    /// A stream was not at the expected version: someone else appended first. Nothing of
    /// the batch was written; reload and decide again.
    case conflict(stream: String, expected: Int64?, actual: Int64?)
    /// The idempotency key was first used with a different command.
    case idempotencyKeyReused(key: String)
    /// The event tables do not exist: run `ledger db migrate`.
    case notMigrated
    /// The log no longer holds what was digested (a proof cannot be given): a data error,
    /// like `verify` finding one, not a failure of the tool.
    case tamperedLog(String)
    case database(PostgresError)

    public var description: String {
        switch self {
        case .conflict(let stream, let expected, let actual):
            let e = expected.map { $0 == 0 ? "no stream" : "version \($0)" } ?? "an earlier version"
            let a = actual.map { $0 == 0 ? "no stream" : "version \($0)" } ?? "a newer version"
            return "stream \(stream) changed concurrently (expected \(e), found \(a))"
        case .idempotencyKeyReused(let key):
            return "idempotency key '\(key)' was already used for a different command; use a new key"
        case .notMigrated:
            return "the database schema is not migrated; run `ledger db migrate`"
        case .tamperedLog(let message):
            return message
        case .database(let error):
            return error.description
        }
    }

    /// Maps a PostgreSQL error from an append to what it means for the ledger.
    static func from(_ error: PostgresError) -> EventStoreError {
        switch error.sqlState {
        case PostgresError.Code.ledgerConflict:
            // DETAIL carries {"stream":…,"actual":…,"expected":…} (see append_events).
            let detail = error.detail.flatMap { try? JSON.parse($0) }
            return .conflict(
                stream: detail?["stream"]?.stringValue ?? "?", expected: detail?["expected"]?.intValue,
                actual: detail?["actual"]?.intValue)
        case PostgresError.Code.ledgerIdempotencyKeyReused:
            // DETAIL carries {"key":…,"recorded_command_hash":…,"command_hash":…} (Schema/014).
            let detail = error.detail.flatMap { try? JSON.parse($0) }
            return .idempotencyKeyReused(key: detail?["key"]?.stringValue ?? "?")
        case PostgresError.Code.undefinedTable, PostgresError.Code.undefinedFunction, PostgresError.Code.invalidSchemaName:
            return .notMigrated
        default:
            return .database(error)
        }
    }
}
