import Foundation
import JSON
import Postgres

/// One command's events in a bulk append: all of them land, or none.
public struct BulkCommand: Sendable {
    public var events: [NewEvent]
    public var idempotencyKey: String?
    public var commandHash: String?
    public init(events: [NewEvent], idempotencyKey: String? = nil, commandHash: String? = nil) {
        self.events = events
        self.idempotencyKey = idempotencyKey
        self.commandHash = commandHash
    }
}

extension EventStore {
    /// Appends many commands' events in one transaction with COPY: the fast path for imports.
    ///
    /// `heads` are the stream heads the commands were decided against; versions and hashes
    /// chain from them. If another writer appended to one of these streams meanwhile, the
    /// unique (stream, version) constraint fails the whole batch with `.conflict` and nothing
    /// is written: reload and decide again. Returns the new heads of the touched streams.
    @discardableResult
    public func appendInBulk(_ commands: [BulkCommand], heads: [String: StreamHead]) throws(EventStoreError)
        -> [String: StreamHead]
    {
        let eventCount = commands.reduce(0) { $0 + $1.events.count }
        guard eventCount > 0 else { return [:] }
        var chain = heads
        defer { try? notifyFollowers() }
        return try database { () throws(PostgresError) in
            try connection.transaction(typed: { (db) throws(PostgresError) in
                // The period lock, as append_events takes it (Schema/010): wait for a close
                // in progress, then the `periods` stream must be where it was when the batch
                // was decided, or the batch is decided again (and a line dated inside a
                // period closed meanwhile is refused).
                if let periods = heads["periods"] {
                    try db.query("SELECT expect_periods_version($1)", [periods.version], prepared: true)
                }
                // Application logins may not write to events themselves: the batch goes into
                // this session's staging tables, and one function of the ledger's checks and
                // moves it, assigning positions (Schema/009_appends_through_functions.sql).
                try db.query("SELECT begin_staged_append()", prepared: true)
                var keys: [(first: Int, count: Int, key: String, hash: String)] = []
                try db.copyIn(
                    "COPY pg_temp.staged_events (stream, version, type, schema_version, payload, metadata, business_date, event_id, hash, previous_hash) FROM STDIN",
                    typed: { (writer) throws(PostgresError) in
                    var staged = 0
                    for command in commands {
                        for event in command.events {
                            let head = chain[event.stream] ?? .empty
                            let version = head.version + 1
                            let payload = event.payload.canonicalBytes
                            let metadata = event.metadata.canonicalBytes
                            let hash = EventHash.hash(
                                previous: head.hash, eventID: event.eventID, stream: event.stream, version: version,
                                type: event.type, schemaVersion: event.schemaVersion,
                                businessDate: event.businessDate, canonicalPayload: payload,
                                canonicalMetadata: metadata)
                            chain[event.stream] = StreamHead(version: version, hash: hash)
                            try writer.writeRow(bytes: [
                                Array(event.stream.utf8), Array(String(version).utf8),
                                Array(event.type.utf8), Array(String(event.schemaVersion).utf8), payload, metadata,
                                Array(event.businessDate.description.utf8), Array(event.eventID.lowercasedString.utf8),
                                Array(("\\x" + hexString(hash)).utf8), Array(("\\x" + hexString(head.hash)).utf8),
                            ])
                        }
                        if let key = command.idempotencyKey, !command.events.isEmpty {
                            keys.append((staged, command.events.count, key, command.commandHash ?? ""))
                        }
                        staged += command.events.count
                    }
                })
                if !keys.isEmpty {
                    try db.copyIn(
                        "COPY pg_temp.staged_keys (first, count, key, command_hash) FROM STDIN",
                        typed: { (writer) throws(PostgresError) in
                            for k in keys { try writer.writeRow([String(k.first), String(k.count), k.key, k.hash]) }
                        })
                }
                try db.query("SELECT append_staged_events()", prepared: true)
                var touched: [String: StreamHead] = [:]
                for command in commands { for e in command.events { touched[e.stream] = chain[e.stream] } }
                return touched
            })
        }
    }

    /// Which of `keys` were already used.
    public func usedIdempotencyKeys(_ keys: [String]) throws(EventStoreError) -> [String: String] {
        guard !keys.isEmpty else { return [:] }
        return try database { () throws(PostgresError) in
            var out: [String: String] = [:]
            for row in try connection.query(
                "SELECT key, command_hash FROM idempotency_keys WHERE key = ANY ($1::text[])", [PostgresArray(keys)])
            {
                out[try row.decode(String.self, at: 0)] = try row.decode(String.self, at: 1)
            }
            return out
        }
    }
}
