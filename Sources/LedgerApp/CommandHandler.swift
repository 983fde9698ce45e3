import Crypto
import EventCodec
import EventStore
import Foundation
import JSON
import Ledger
import Postgres

/// The application layer's one place that loads, decides and appends.
///
/// For each command: load the streams it needs (asking the command which, until it needs
/// no more), fold them into a `LedgerWorld`, let the pure domain decide, and append the
/// events with the versions that were read. When another writer got there first the append
/// is a conflict: reload and decide again, a bounded number of times.
///
/// A long-lived handler (`remembersStreams`) keeps the streams it has seen, so a steady
/// stream of commands costs one round trip each: a cached state is only a guess, and the
/// expected version on the append is what keeps it honest — a stale guess conflicts and
/// is reloaded.
public final class CommandHandler {
    public let store: EventStore
    public let actor: String
    public let maxAttempts: Int
    private let remembersStreams: Bool
    /// The streams loaded so far. Reset for every command unless the handler remembers
    /// streams; reset after every conflict regardless.
    private var loaded: LoadedStreams
    /// The log's digest object (`size, root, position, recorded_at`) as `ledger digest`
    /// prints it: a period close stores the one taken just before it (`LogDigest.current`).
    public var logDigest: (() throws -> JSON)?

    /// `today`: the latest business date a command may carry (today in the ledger's time
    /// zone, `Day.today()`); nil checks no upper bound (domain tests of old dates).
    public init(
        connection: PostgresConnection, actor: String, maxAttempts: Int = 8, remembersStreams: Bool = false,
        today: Day? = Day.todayOrNil()
    ) {
        self.store = EventStore(connection: connection)
        self.actor = actor
        self.maxAttempts = maxAttempts
        self.remembersStreams = remembersStreams
        self.loaded = LoadedStreams(today: today)
        let connection = store.connection
        self.logDigest = { try LogDigest.current(on: connection).json }
    }

    /// Why a command was not carried out.
    public enum Failure: Error, CustomStringConvertible {
        /// The streams kept changing under us: every attempt conflicted.
        case conflictPersisted(attempts: Int, EventStoreError)
        /// The connection was lost while the append was in flight and could not be reopened
        /// to find out whether it committed. `key` is the command's idempotency key: the same
        /// command run again with it prints the events if they were stored, and stores them
        /// once if not.
        case outcomeUnknown(key: String, cause: PostgresError)
        public var description: String {
            switch self {
            case .conflictPersisted(let attempts, let error):
                return "\(error); gave up after \(attempts) attempts — retry the command"
            case .outcomeUnknown(let key, let cause):
                return "lost the connection to PostgreSQL while the command was being stored (\(cause.message)) "
                    + "and could not reconnect to check: it may or may not have been stored. Run the same command "
                    + "again with --idempotency-key \(key) once the server is back: it prints the events if they "
                    + "were stored and stores them once if not"
            }
        }
    }

    /// How long to keep trying to reconnect after a connection was lost mid-append, to learn
    /// whether the append committed (a restarting server refuses connections for a while).
    public var reconnectPatience: Duration = .seconds(20)

    /// The key a command is stored under when the caller gives none: every append carries
    /// one, so that after a lost connection its outcome can be looked up rather than guessed.
    public static func generatedKey() -> String { "auto:" + UUID.random().lowercasedString }

    /// The fingerprint of a command for idempotency: equal commands, equal fingerprints.
    public static func fingerprint(of command: LedgerCommand) -> String {
        SHA256.hash(data: command.canonicalJSON.canonicalBytes).withUnsafeBytes { hexString($0) }
    }

    /// Decides `command` and appends its events; returns what was appended (or, for a
    /// repeated idempotency key, what the first call appended).
    /// Throws `Rejection`, `EventStoreError`, `Failure` or `UnreadableEvent`.
    @discardableResult
    public func handle(
        _ given: LedgerCommand, idempotencyKey: String? = nil, fingerprint givenFingerprint: String? = nil,
        metadata extra: [String: JSON] = [:]
    ) throws -> AppendResult {
        let fingerprint = givenFingerprint ?? Self.fingerprint(of: given)
        var command = given
        let explicitKey = idempotencyKey
        let idempotencyKey = idempotencyKey ?? Self.generatedKey()
        // Set once an append's outcome was in doubt and turned out not stored: a command
        // decided again may then be refused because its first attempt did land after all.
        var wasInDoubt = false
        var attempt = 0
        while true {
            attempt += 1
            // A close stores the digest of the log as it is just before it (taken again on
            // every attempt: a conflict means the log moved).
            if case .period(.close, _) = given.action, let logDigest {
                command = given.withDigest(try logDigest())
            }
            if !remembersStreams || attempt > 1 { loaded.forget() }
            try loaded.load(for: command, from: store)
            let decisions: [(stream: StreamName, event: LedgerEvent)]
            switch Result(catching: { () throws(Rejection) in try command.decide(in: loaded.world) }) {
            case .success(let decided):
                decisions = decided
            case .failure(let rejection):
                // A retried command may be refused now because it already happened: with a
                // key it was recorded under, the answer is what it appended then. (A command
                // decided again needs no such look-up: append_events replays its key.)
                if explicitKey != nil || wasInDoubt,
                    let earlier = try store.recordedResult(idempotencyKey: idempotencyKey, commandHash: fingerprint)
                {
                    return earlier
                }
                throw rejection
            }
            let events = AppendEnvelope(actor: actor, command: command, idempotencyKey: explicitKey, extra: extra)
                .events(for: decisions)
            var expecting: [String: ExpectedVersion] = [:]
            // The heads of the streams this append names, not of every stream a long-lived
            // handler remembers (copying all of those was per command, growing with them).
            var heads: [String: StreamHead] = [:]
            for stream in decisions.map(\.stream) + LedgerCommand.guardedStreams {
                let head = loaded.heads[stream]
                let version = head?.version ?? 0
                expecting[stream.rawValue] = version == 0 ? .noStream : .exactly(version)
                if let head { heads[stream.rawValue] = head }
            }
            let outcome: Result<AppendResult, EventStoreError>
            let backend = store.connection.backendPID
            let ownTransaction = !store.connection.isInTransaction
            do {
                outcome = .success(
                    try store.append(
                        events, expecting: expecting,
                        heads: heads,
                        idempotencyKey: idempotencyKey, commandHash: fingerprint))
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let result):
                if case .reverse = command.action {
                    // Reversed events leave the fold: fold the streams again next time.
                    loaded.forget()
                } else if remembersStreams, !result.replayed {
                    for (decision, record) in zip(decisions, result.events) {
                        loaded.world.apply(decision.event, in: decision.stream)
                        loaded.heads[decision.stream] = StreamHead(version: record.version, hash: record.hash)
                    }
                }
                return result
            case .failure(.conflict(let stream, let expected, let actual)):
                loaded.forget()
                guard attempt < maxAttempts else {
                    throw Failure.conflictPersisted(
                        attempts: attempt, .conflict(stream: stream, expected: expected, actual: actual))
                }
                // Back off a little, more each time, so contending writers spread out.
                usleep(UInt32.random(in: 200...1_000) * UInt32(attempt))
            case .failure(.database(let pg)) where pg.isUniqueViolation:
                // The same key landed concurrently: its first result is the answer.
                if let earlier = try store.recordedResult(idempotencyKey: idempotencyKey, commandHash: fingerprint) {
                    return earlier
                }
                throw EventStoreError.database(pg)
            case .failure(.database(let pg)) where pg.isServerGone && ownTransaction:
                // The append was sent but its answer never came: it may have committed or
                // not. Never guess — reconnect and look its key up.
                if let stored = try resolveInDoubt(
                    key: idempotencyKey, fingerprint: fingerprint, sent: Set(events.map(\.eventID)), backend: backend,
                    cause: pg)
                {
                    return stored
                }
                // Not stored, and it cannot be any more: decide and append again.
                wasInDoubt = true
                loaded.forget()
                guard attempt < maxAttempts else { throw EventStoreError.database(pg) }
            case .failure(let error):
                throw error
            }
        }
    }

    /// After a lost connection mid-append: reconnects (for up to `reconnectPatience`), makes
    /// sure the backend that ran the append is gone — after a network cut rather than a
    /// crash it may still be running the transaction, and could commit it after we looked —
    /// and returns what the key stored, if anything. Throws `Failure.outcomeUnknown` when
    /// the server cannot be reached to tell.
    private func resolveInDoubt(
        key: String, fingerprint: String, sent: Set<UUID>, backend: Int32, cause: PostgresError
    ) throws -> AppendResult? {
        let connection = store.connection
        let clock = ContinuousClock()
        let deadline = clock.now + reconnectPatience
        var pause: Duration = .milliseconds(100)
        while true {
            do {
                try connection.reset()
                break
            } catch {
                guard clock.now + pause < deadline else { throw Failure.outcomeUnknown(key: key, cause: cause) }
                pause.sleepThread()
                pause = min(pause * 2, .seconds(2))
            }
        }
        do {
            // Only a backend of ours, with our application name and still in a transaction.
            _ = try connection.query(
                """
                SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
                WHERE pid = $1 AND pid <> pg_backend_pid() AND usename = current_user
                  AND application_name = current_setting('application_name') AND xact_start IS NOT NULL
                """, [Int(backend)])
            guard let stored = try store.recordedResult(idempotencyKey: key, commandHash: fingerprint) else { return nil }
            // Our own first attempt, not a replay of an earlier command with this key.
            let ours = stored.events.contains { sent.contains($0.eventID) }
            var result = stored
            result.replayed = !ours
            return result
        } catch let error as PostgresError where error.isServerGone {
            throw Failure.outcomeUnknown(key: key, cause: cause)
        } catch EventStoreError.database(let error) where error.isServerGone {
            throw Failure.outcomeUnknown(key: key, cause: cause)
        }
    }
}
