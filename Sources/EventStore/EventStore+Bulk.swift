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
        do {
            return try connection.transaction { db in
                // The transaction id first, then positions: see Schema/001_event_store.sql.
                try db.query("SELECT pg_current_xact_id()")
                let positions = try db.query(
                    "SELECT nextval(pg_get_serial_sequence('events', 'position')) FROM generate_series(1, $1)",
                    [eventCount], prepared: true
                ).map { try $0.decode(Int64.self, at: 0) }
                var next = 0
                var keys: [(key: String, hash: String, positions: [Int64])] = []
                try db.copyIn(
                    "COPY events (position, stream, version, type, schema_version, payload, metadata, business_date, event_id, hash) FROM STDIN"
                ) { writer in
                    for command in commands {
                        var commandPositions: [Int64] = []
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
                            let position = positions[next]
                            next += 1
                            commandPositions.append(position)
                            try writer.writeRow(bytes: [
                                Array(String(position).utf8), Array(event.stream.utf8), Array(String(version).utf8),
                                Array(event.type.utf8), Array(String(event.schemaVersion).utf8), payload, metadata,
                                Array(event.businessDate.description.utf8), Array(event.eventID.lowercasedString.utf8),
                                Array(("\\x" + hexString(hash)).utf8),
                            ])
                        }
                        if let key = command.idempotencyKey {
                            keys.append((key, command.commandHash ?? "", commandPositions))
                        }
                    }
                }
                if !keys.isEmpty {
                    try db.copyIn("COPY idempotency_keys (key, command_hash, positions) FROM STDIN") { writer in
                        for k in keys {
                            try writer.writeRow([k.key, k.hash, "{" + k.positions.map(String.init).joined(separator: ",") + "}"])
                        }
                    }
                }
                var touched: [String: StreamHead] = [:]
                for command in commands { for e in command.events { touched[e.stream] = chain[e.stream] } }
                return touched
            }
        } catch let error as PostgresError {
            throw EventStoreError.from(error)
        } catch let error as EventStoreError {
            throw error
        } catch {
            throw .database(PostgresError(kind: .client, message: "\(error)"))
        }
    }

    /// Which of `keys` were already used.
    public func usedIdempotencyKeys(_ keys: [String]) throws(EventStoreError) -> [String: String] {
        guard !keys.isEmpty else { return [:] }
        do {
            var out: [String: String] = [:]
            for row in try connection.query(
                "SELECT key, command_hash FROM idempotency_keys WHERE key = ANY ($1::text[])", [PostgresArray(keys)])
            {
                out[try row.decode(String.self, at: 0)] = try row.decode(String.self, at: 1)
            }
            return out
        } catch {
            throw EventStoreError.from(error)
        }
    }
}
