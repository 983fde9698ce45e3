import ArgumentParser
import EventStore
import Foundation
import Ledger
import LedgerApp
import LedgerBench
import Postgres
import Projections
import Synchronization

/// Every failure becomes one line on stderr and a sysexits status, here and only here.
enum CLIError: Error {
    case usage(String)  // 64
    case rejected(String)  // 65
    case unavailable(String)  // 69
    case conflict(String)  // 75
    case forbidden(String)  // 77
    case failed(String)  // 1

    var exitCode: Int32 {
        switch self {
        case .usage: 64
        case .rejected: 65
        case .unavailable: 69
        case .conflict: 75
        case .forbidden: 77
        case .failed: 1
        }
    }

    var message: String {
        switch self {
        case .usage(let m), .rejected(let m), .unavailable(let m), .conflict(let m), .forbidden(let m), .failed(let m): m
        }
    }

    /// A login that may only read (granted ledger_reporting, say) tried to write: 77, naming
    /// the grant that would let it.
    static func mayNotWrite(because reason: String) -> CLIError {
        let login = connectedLogin.withLock { $0 } ?? "<login>"
        return .forbidden(
            "role \(login) may not do this (\(reason)): write commands and `ledger projections run|rebuild` "
                + "need a login granted ledger_app — a DBA runs: GRANT ledger_app TO \(login); "
                + "(reports, events and projections status need only ledger_reporting; db migrate, the database owner)")
    }

    /// Classifies any error the program can meet.
    static func from(_ error: any Error) -> CLIError {
        switch error {
        case let e as CLIError: return e
        case let e as ValueError: return .usage(e.message)
        case let e as Rejection: return .rejected(e.message)
        case let e as CommandHandler.Failure:
            switch e {
            case .conflictPersisted: return .conflict(e.description)
            case .outcomeUnknown: return .unavailable(e.description)
            }
        case let e as BenchError:
            switch e {
            case .unavailable(let m): return .unavailable(m)
            case .failed(let m): return .failed(m)
            }
        case let e as EventStoreError:
            switch e {
            case .conflict: return .conflict("\(e) — retry the command")
            case .idempotencyKeyReused: return .rejected(e.description)
            case .notMigrated: return .unavailable(e.description)
            case .tamperedLog: return .rejected(e.description)
            case .database(let pg): return from(pg)
            }
        case let e as PostgresError:
            if e.isServerGone { return .unavailable(serverGone(e)) }
            if e.sqlState == PostgresError.Code.lockNotAvailable {
                return .failed(
                    "gave up waiting for a lock (lock_timeout, --lock-timeout): \(e.message) — nothing was written; "
                        + "run the command again once the session holding it has finished")
            }
            if e.isOutOfResources {
                return .unavailable(
                    "the PostgreSQL server is out of \(e.sqlState == PostgresError.Code.diskFull ? "disk space" : "resources") "
                        + "(\(e.message)); nothing was written — free space on the server, then run the command again")
            }
            if e.isInsufficientPrivilege { return .mayNotWrite(because: e.message) }
            if e.isTransient {
                // Outside the writers' own retries, this is a read cancelled by a hot
                // standby replaying the primary's cleanup (or a deadlock): try again.
                return .conflict(
                    "\(e.message) — run the command again (on a hot standby, hot_standby_feedback = on "
                        + "keeps the primary's cleanup from cancelling reports)")
            }
            if e.isReadOnlyTransaction {
                return .unavailable(
                    "the database is read-only, a hot standby (\(e.message)): run writes and `ledger projections run` "
                        + "against the primary; reports, events and projections status work here")
            }
            if e.isUndefinedObject {
                return .unavailable("the database schema is not migrated (\(e.message)); run `ledger db migrate`")
            }
            return .failed("PostgreSQL: \(e.description)")
        case let e as Migrator.MigrationError:
            return e.isPermissionProblem ? .forbidden(e.description) : .failed(e.description)
        default:
            return .failed(String(describing: error))
        }
    }
}

/// What a user should hear when the server went away: plainly that it did, why if the
/// server said, and that a write command has already found out what became of its write.
func serverGone(_ error: PostgresError) -> String {
    let why: String
    switch error.sqlState {
    case PostgresError.Code.adminShutdown: why = "the server is shutting down or an administrator ended the session"
    case PostgresError.Code.crashShutdown: why = "the server crashed (another server process failed) and is restarting"
    case PostgresError.Code.cannotConnectNow: why = "the server is starting up, shutting down or recovering"
    case PostgresError.Code.idleSessionTimeout: why = "the session was idle too long"
    default:
        why = error.message.contains("terminating connection because of crash")
            ? "the server crashed and is restarting"
            : "the server crashed, was shut down or restarted, or the network failed (if it crashed, its log says why — a full disk is a common cause)"
    }
    return "lost the connection to PostgreSQL: \(why) — \(error.message)"
}

/// The role the command connected as, for messages that say what to grant it.
let connectedLogin = Mutex<String?>(nil)

/// Prints `error: …` (one line) and exits with the error's status.
func fail(_ error: CLIError) -> Never {
    // One line, and nothing in it a terminal would act on: messages echo what users typed.
    let line = ReportText.terminalSafe(error.message.split(whereSeparator: \.isNewline).joined(separator: " "))
    FileHandle.standardError.write(Data("error: \(line)\n".utf8))
    exit(error.exitCode)
}
