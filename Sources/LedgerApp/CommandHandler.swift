import Crypto
import EventStore
import Foundation
import JSON
import Ledger
import Postgres
import Projections

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
    private var loaded = LoadedStreams()

    public init(connection: PostgresConnection, actor: String, maxAttempts: Int = 8, remembersStreams: Bool = false) {
        self.store = EventStore(connection: connection)
        self.actor = actor
        self.maxAttempts = maxAttempts
        self.remembersStreams = remembersStreams
    }

    /// Why a command was not carried out.
    public enum Failure: Error, CustomStringConvertible {
        /// The streams kept changing under us: every attempt conflicted.
        case conflictPersisted(attempts: Int, EventStoreError)
        public var description: String {
            switch self {
            case .conflictPersisted(let attempts, let error):
                return "\(error); gave up after \(attempts) attempts — retry the command"
            }
        }
    }

    /// The fingerprint of a command for idempotency: equal commands, equal fingerprints.
    public static func fingerprint(of command: LedgerCommand) -> String {
        SHA256.hash(data: command.canonicalJSON.canonicalBytes).withUnsafeBytes { hexString($0) }
    }

    /// Decides `command` and appends its events; returns what was appended (or, for a
    /// repeated idempotency key, what the first call appended).
    /// Throws `Rejection`, `EventStoreError`, `Failure` or `UnreadableEvent`.
    @discardableResult
    public func handle(
        _ command: LedgerCommand, idempotencyKey: String? = nil, fingerprint given: String? = nil,
        metadata extra: [String: JSON] = [:]
    ) throws -> AppendResult {
        let fingerprint = given ?? Self.fingerprint(of: command)
        var attempt = 0
        while true {
            attempt += 1
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
                if let idempotencyKey,
                    let earlier = try store.recordedResult(idempotencyKey: idempotencyKey, commandHash: fingerprint)
                {
                    return earlier
                }
                throw rejection
            }
            let correlation = UUID.random().lowercasedString
            var metadata: [String: JSON] = [
                "actor": .string(actor), "command": .string(command.name), "correlation_id": .string(correlation),
            ]
            if let idempotencyKey { metadata["idempotency_key"] = .string(idempotencyKey) }
            metadata.merge(extra) { _, new in new }
            let events = decisions.map { decision in
                NewEvent(
                    stream: decision.stream.rawValue, type: decision.event.type,
                    schemaVersion: decision.event.schemaVersion, payload: decision.event.payload,
                    metadata: .object(metadata), businessDate: decision.event.date.sqlDate)
            }
            var expecting: [String: ExpectedVersion] = [:]
            for decision in decisions {
                let version = loaded.heads[decision.stream]?.version ?? 0
                expecting[decision.stream.rawValue] = version == 0 ? .noStream : .exactly(version)
            }
            let outcome: Result<AppendResult, EventStoreError>
            do {
                outcome = .success(
                    try store.append(
                        events, expecting: expecting,
                        heads: Dictionary(uniqueKeysWithValues: loaded.heads.map { ($0.key.rawValue, $0.value) }),
                        idempotencyKey: idempotencyKey, commandHash: fingerprint))
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let result):
                if remembersStreams, !result.replayed {
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
            case .failure(.database(let pg)) where pg.isUniqueViolation && idempotencyKey != nil:
                // The same key landed concurrently: its first result is the answer.
                if let earlier = try store.recordedResult(idempotencyKey: idempotencyKey!, commandHash: fingerprint) {
                    return earlier
                }
                throw EventStoreError.database(pg)
            case .failure(let error):
                throw error
            }
        }
    }
}
