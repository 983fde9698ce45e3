import ArgumentParser
import EventStore
import Foundation
import Ledger
import LedgerApp
import Postgres
import Projections

/// Every failure becomes one line on stderr and a sysexits status, here and only here.
enum CLIError: Error {
    case usage(String)  // 64
    case rejected(String)  // 65
    case unavailable(String)  // 69
    case conflict(String)  // 75
    case failed(String)  // 1

    var exitCode: Int32 {
        switch self {
        case .usage: 64
        case .rejected: 65
        case .unavailable: 69
        case .conflict: 75
        case .failed: 1
        }
    }

    var message: String {
        switch self {
        case .usage(let m), .rejected(let m), .unavailable(let m), .conflict(let m), .failed(let m): m
        }
    }

    /// Classifies any error the program can meet.
    static func from(_ error: any Error) -> CLIError {
        switch error {
        case let e as CLIError: return e
        case let e as ValueError: return .usage(e.message)
        case let e as Rejection: return .rejected(e.message)
        case let e as CommandHandler.Failure: return .conflict(e.description)
        case let e as EventStoreError:
            switch e {
            case .conflict: return .conflict("\(e) — retry the command")
            case .idempotencyKeyReused: return .rejected(e.description)
            case .notMigrated: return .unavailable(e.description)
            case .database(let pg): return from(pg)
            }
        case let e as PostgresError:
            if e.kind == .connection { return .unavailable("lost the connection to PostgreSQL: \(e.message)") }
            if e.isUndefinedObject {
                return .unavailable("the database schema is not migrated (\(e.message)); run `ledger db migrate`")
            }
            return .failed("PostgreSQL: \(e.description)")
        case let e as Migrator.MigrationError:
            return .failed(e.description)
        default:
            return .failed(String(describing: error))
        }
    }
}

/// Prints `error: …` (one line) and exits with the error's status.
func fail(_ error: CLIError) -> Never {
    let line = error.message.split(whereSeparator: \.isNewline).joined(separator: " ")
    FileHandle.standardError.write(Data("error: \(line)\n".utf8))
    exit(error.exitCode)
}
