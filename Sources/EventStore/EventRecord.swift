import Foundation
import JSON
import Postgres

/// An event as the store keeps it. The store knows streams, versions and bytes; what the
/// payload means is the domain's business.
public struct EventRecord: Sendable, Equatable {
    public var position: Int64
    /// The writing transaction's id: with `position`, the log's safe reading order.
    public var transactionID: UInt64
    public var stream: String
    public var version: Int64
    public var type: String
    public var schemaVersion: Int
    public var payload: JSON
    public var metadata: JSON
    public var businessDate: SQLDate
    public var recordedAt: Timestamp
    public var eventID: UUID
    public var hash: [UInt8]

    public var checkpoint: Checkpoint { Checkpoint(transactionID: transactionID, position: position) }

    /// The select list, in the order `init(row:)` reads it.
    static let select =
        "SELECT position, transaction_id::text::bigint, stream, version, type, schema_version, payload, metadata, business_date, recorded_at, event_id, hash"

    init(row: Row) throws(PostgresError) {
        position = try row.decode(Int64.self, at: 0)
        transactionID = UInt64(try row.decode(Int64.self, at: 1))
        stream = try row.decode(String.self, at: 2)
        version = try row.decode(Int64.self, at: 3)
        type = try row.decode(String.self, at: 4)
        schemaVersion = try row.decode(Int.self, at: 5)
        payload = try row.decode(JSON.self, at: 6)
        metadata = try row.decode(JSON.self, at: 7)
        businessDate = try row.decode(SQLDate.self, at: 8)
        recordedAt = try row.decode(Timestamp.self, at: 9)
        eventID = try row.decode(UUID.self, at: 10)
        hash = try row.decode(Bytes.self, at: 11).bytes
    }

    /// The column of `event_id` in `select`.
    static let eventIDColumn = 10

    /// A row whose payload and metadata the caller already holds as they were sent: the
    /// other columns are read, those two are not parsed again.
    init(row: Row, payload: JSON, metadata: JSON) throws(PostgresError) {
        position = try row.decode(Int64.self, at: 0)
        transactionID = UInt64(try row.decode(Int64.self, at: 1))
        stream = try row.decode(String.self, at: 2)
        version = try row.decode(Int64.self, at: 3)
        type = try row.decode(String.self, at: 4)
        schemaVersion = try row.decode(Int.self, at: 5)
        self.payload = payload
        self.metadata = metadata
        businessDate = try row.decode(SQLDate.self, at: 8)
        recordedAt = try row.decode(Timestamp.self, at: 9)
        eventID = try row.decode(UUID.self, at: Self.eventIDColumn)
        hash = try row.decode(Bytes.self, at: 11).bytes
    }
}

/// An event to append.
public struct NewEvent: Sendable, Equatable {
    public var stream: String
    public var type: String
    public var schemaVersion: Int
    public var payload: JSON
    public var metadata: JSON
    public var businessDate: SQLDate
    public var eventID: UUID

    public init(
        stream: String, type: String, schemaVersion: Int = 1, payload: JSON, metadata: JSON = [:],
        businessDate: SQLDate, eventID: UUID = .random()
    ) {
        self.stream = stream
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
        self.metadata = metadata
        self.businessDate = businessDate
        self.eventID = eventID
    }
}

/// A place in the global log: events are read in (transaction id, position) order.
public struct Checkpoint: Sendable, Hashable, Comparable {
    public var transactionID: UInt64
    public var position: Int64
    public init(transactionID: UInt64, position: Int64) {
        self.transactionID = transactionID
        self.position = position
    }
    public static let start = Checkpoint(transactionID: 0, position: 0)
    public static func < (a: Checkpoint, b: Checkpoint) -> Bool {
        (a.transactionID, a.position) < (b.transactionID, b.position)
    }
}

/// What a stream must look like for an append to go ahead.
public enum ExpectedVersion: Sendable, Equatable {
    /// The stream must not exist yet.
    case noStream
    /// The stream's last event must have exactly this version.
    case exactly(Int64)
    /// Whatever the stream holds now.
    case any
}

/// The last event of a stream, which the next event chains to.
public struct StreamHead: Sendable, Equatable {
    public var version: Int64
    public var hash: [UInt8]
    public init(version: Int64, hash: [UInt8]) {
        self.version = version
        self.hash = hash
    }
    /// The head of a stream that does not exist yet.
    public static let empty = StreamHead(version: 0, hash: EventHash.genesis)
}

/// What an append returned: the stored events, and whether they were written by an earlier
/// call with the same idempotency key.
public struct AppendResult: Sendable, Equatable {
    public var events: [EventRecord]
    public var replayed: Bool
}
