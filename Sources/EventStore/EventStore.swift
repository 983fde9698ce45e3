import Foundation
import JSON
import Postgres

/// The append-only log of events in PostgreSQL.
///
///     let store = EventStore(connection: db)
///     try store.append([event], expecting: ["order-ntt-001": .noStream])
///     let events = try store.readStream("order-ntt-001")
///
/// Appends are atomic across streams and checked against expected versions; reads of the
/// global log never pass over an event whose transaction commits late.
public final class EventStore {
    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// The channel notified after every committed append; the payload is the last position.
    public static let notificationChannel = "ledger_events"

    // MARK: Appending

    /// Appends `events` (to one or several streams) in one transaction. Each stream named in
    /// `expecting` must be at the expected version, or nothing is written and
    /// `EventStoreError.conflict` is thrown. Streams without an expectation are appended
    /// as `.any`. `heads` are stream heads the caller already read (saves a round trip).
    ///
    /// With an `idempotencyKey`, a second call with the same key and `commandHash` returns
    /// the first call's events (`replayed`) and appends nothing; with another hash it throws
    /// `idempotencyKeyReused`.
    @discardableResult
    public func append(
        _ events: [NewEvent], expecting: [String: ExpectedVersion] = [:], heads: [String: StreamHead] = [:],
        idempotencyKey: String? = nil, commandHash: String? = nil
    ) throws(EventStoreError) -> AppendResult {
        var attempts = 0
        while true {
            attempts += 1
            do {
                return try appendOnce(
                    events, expecting: expecting, heads: attempts == 1 ? heads : [:], idempotencyKey: idempotencyKey,
                    commandHash: commandHash)
            } catch .conflict(let stream, _, _) where attempts < 5 && (expecting[stream] ?? .any) == .any {
                // Nobody asked for a particular version of this stream: chain to the new head.
                continue
            }
        }
    }

    private func appendOnce(
        _ events: [NewEvent], expecting: [String: ExpectedVersion], heads knownHeads: [String: StreamHead],
        idempotencyKey: String?, commandHash: String?
    ) throws(EventStoreError) -> AppendResult {
        var streams: [String] = []
        for event in events where !streams.contains(event.stream) { streams.append(event.stream) }
        for stream in expecting.keys.sorted() where !streams.contains(stream) { streams.append(stream) }

        var heads: [String: StreamHead] = [:]
        var unknown: [String] = []
        for stream in streams {
            if let head = knownHeads[stream] {
                heads[stream] = head
            } else if expecting[stream] == .noStream {
                heads[stream] = .empty
            } else {
                unknown.append(stream)
            }
        }
        if !unknown.isEmpty {
            for (stream, head) in try self.heads(of: unknown) { heads[stream] = head }
            for stream in unknown where heads[stream] == nil { heads[stream] = .empty }
        }
        for stream in streams {
            let head = heads[stream]!
            switch expecting[stream] ?? .any {
            case .any: break
            case .noStream where head.version != 0:
                throw .conflict(stream: stream, expected: 0, actual: head.version)
            case .exactly(let n) where head.version != n:
                throw .conflict(stream: stream, expected: n, actual: head.version)
            default: break
            }
        }

        // Both parameters are written as JSON text directly, each event's payload and
        // metadata encoded once for its hash and the same bytes sent: building `JSON` rows and
        // encoding them again (keys sorted a second time, payload and metadata re-encoded)
        // was a tenth of a command's client CPU. The server parses jsonb and does not care
        // about key order; the text is the canonical encoding all the same.
        var expectations: [UInt8] = [UInt8(ascii: "[")]
        for (i, stream) in streams.enumerated() {
            if i > 0 { expectations.append(UInt8(ascii: ",")) }
            expectations.append(contentsOf: #"{"stream":"#.utf8)
            JSON.writeString(stream, into: &expectations)
            expectations.append(contentsOf: #","version":"#.utf8)
            expectations.append(contentsOf: String(heads[stream]!.version).utf8)
            expectations.append(UInt8(ascii: "}"))
        }
        expectations.append(UInt8(ascii: "]"))
        var rows: [UInt8] = [UInt8(ascii: "[")]
        rows.reserveCapacity(512 * events.count)
        var chain = heads
        for (i, event) in events.enumerated() {
            let head = chain[event.stream]!
            let version = head.version + 1
            let payload = event.payload.canonicalBytes
            let metadata = event.metadata.canonicalBytes
            let hash = EventHash.hash(
                previous: head.hash, eventID: event.eventID, stream: event.stream, version: version, type: event.type,
                schemaVersion: event.schemaVersion, businessDate: event.businessDate, canonicalPayload: payload,
                canonicalMetadata: metadata)
            chain[event.stream] = StreamHead(version: version, hash: hash)
            // Keys in canonical (byte) order, as `JSON.canonicalBytes` wrote them.
            if i > 0 { rows.append(UInt8(ascii: ",")) }
            rows.append(contentsOf: #"{"business_date":""#.utf8)
            rows.append(contentsOf: event.businessDate.description.utf8)
            rows.append(contentsOf: #"","event_id":""#.utf8)
            rows.append(contentsOf: event.eventID.lowercasedString.utf8)
            rows.append(contentsOf: #"","hash":""#.utf8)
            rows.append(contentsOf: hexString(hash).utf8)
            rows.append(contentsOf: #"","metadata":"#.utf8)
            rows.append(contentsOf: metadata)
            rows.append(contentsOf: #","payload":"#.utf8)
            rows.append(contentsOf: payload)
            rows.append(contentsOf: #","previous_hash":""#.utf8)
            rows.append(contentsOf: hexString(head.hash).utf8)
            rows.append(contentsOf: #"","schema_version":"#.utf8)
            rows.append(contentsOf: String(event.schemaVersion).utf8)
            rows.append(contentsOf: #","stream":"#.utf8)
            JSON.writeString(event.stream, into: &rows)
            rows.append(contentsOf: #","type":"#.utf8)
            JSON.writeString(event.type, into: &rows)
            rows.append(contentsOf: #","version":"#.utf8)
            rows.append(contentsOf: String(version).utf8)
            rows.append(UInt8(ascii: "}"))
        }
        rows.append(UInt8(ascii: "]"))
        // One round trip: the append (its own implicit transaction), then the wake-up for
        // followers from a separate one (see Schema/005_wake_followers.sql).
        // Inside a caller's transaction the wake-up joins it, to be sent when it commits.
        let append = PostgresConnection.Statement(
            Self.appendSQL,
            [String(decoding: expectations, as: UTF8.self), String(decoding: rows, as: UTF8.self), idempotencyKey, commandHash],
            prepared: true)
        let outcomes = try database { () throws(PostgresError) -> [Result<[Rows], PostgresError>] in
            if connection.isInTransaction {
                // The caller's transaction decides when the events commit: the wake-up
                // joins it, and goes out (to followers only) when it commits.
                return try connection.pipeline(segments: [
                    [
                        append,
                        .init(
                            "SELECT pg_notify($1, '') WHERE EXISTS (SELECT 1 FROM pg_stat_activity"
                                + " WHERE datname = current_database() AND application_name = $2)",
                            [Self.notificationChannel, Self.followerApplicationName], prepared: true),
                    ]
                ])
            } else if shouldWakeFollowers {
                let outcomes = try connection.pipeline(segments: [[append], Self.notification])
                noteFollowers(outcomes[1])
                return outcomes
            } else {
                return try connection.pipeline(segments: [[append]])
            }
        }
        return try database { () throws(PostgresError) in
            let result = try outcomes[0].get()[0]
            // The rows of events this call sent carry back the payload and metadata it sent
            // (the canonical encoding survives jsonb's round trip): they are taken from the
            // events rather than parsed again, which was ~8% of a command's client CPU. A
            // replay's rows, written by an earlier call, are read in full.
            var sent: [UUID: Int] = [:]
            for (i, event) in events.enumerated() { sent[event.eventID] = i }
            var records: [EventRecord] = []
            records.reserveCapacity(result.count)
            for row in result {
                if let i = sent[try row.decode(UUID.self, at: EventRecord.eventIDColumn)] {
                    records.append(try EventRecord(row: row, payload: events[i].payload, metadata: events[i].metadata))
                } else {
                    records.append(try EventRecord(row: row))
                }
            }
            let replayed = !records.isEmpty && sent[records[0].eventID] == nil
            return AppendResult(events: records, replayed: replayed)
        }
    }

    /// The append statement, built once (not concatenated for every command).
    static let appendSQL = EventRecord.select + " FROM append_events($1, $2, $3, $4)"

    /// The application name followers connect with: writers notify only while one is
    /// connected (see Schema/005_wake_followers.sql).
    public static let followerApplicationName = "ledger follower"

    /// Wakes followers after an append has committed: its own statement, so its own
    /// transaction; it notifies only when a follower is connected, and says whether one is.
    static let notification: [PostgresConnection.Statement] = [.init("SELECT wake_followers()", prepared: true)]

    /// Whether a follower was connected when last asked, and when that was: a writer that
    /// found none skips the wake-up for a second (followers poll every second anyway).
    private var followersSeen: (present: Bool, at: ContinuousClock.Instant)?

    private var shouldWakeFollowers: Bool {
        guard let seen = followersSeen, ContinuousClock.now - seen.at < .seconds(1) else { return true }
        return seen.present
    }

    private func noteFollowers(_ outcome: Result<[Rows], PostgresError>) {
        guard case .success(let rows) = outcome, let row = rows.first?.first,
            let present = try? row.decode(Bool.self, at: 0)
        else { return }
        followersSeen = (present, ContinuousClock.now)
    }

    /// Wakes followers (`ledger projections run --follow`) after a committed append.
    public func notifyFollowers() throws(EventStoreError) {
        guard !connection.isInTransaction else { return }
        try database { () throws(PostgresError) in
            let outcome = try connection.pipeline(segments: [Self.notification])[0]
            noteFollowers(outcome)
            _ = try outcome.get()
        }
    }

    /// The events first appended with `idempotencyKey`, if it was used before. Throws
    /// `idempotencyKeyReused` when it was used with a command other than `commandHash`.
    public func recordedResult(idempotencyKey: String, commandHash: String) throws(EventStoreError) -> AppendResult? {
        let recorded = try database { () throws(PostgresError) -> (hash: String, positions: String)? in
            let rows = try connection.query(
                "SELECT command_hash, positions::text FROM idempotency_keys WHERE key = $1", [idempotencyKey],
                prepared: true)
            guard let row = rows.first else { return nil }
            return (try row.decode(String.self, at: 0), try row.decode(String.self, at: 1))
        }
        guard let recorded else { return nil }
        guard recorded.hash == commandHash else { throw .idempotencyKeyReused(key: idempotencyKey) }
        return try database { () throws(PostgresError) in
            let records = try connection.query(
                EventRecord.select + " FROM events WHERE position = ANY ($1::bigint[]) ORDER BY position",
                [recorded.positions], prepared: true
            ).map { row throws(PostgresError) in try EventRecord(row: row) }
            return AppendResult(events: records, replayed: true)
        }
    }

    /// The one place a PostgreSQL error becomes what it means for the ledger
    /// (`EventStoreError.from`): `body` throws only `PostgresError` — queries and row
    /// decoding are typed — so there is no error of another kind to guess at.
    func database<T>(_ body: () throws(PostgresError) -> T) throws(EventStoreError) -> T {
        do {
            return try body()
        } catch {
            throw EventStoreError.from(error)
        }
    }

    // MARK: Reading streams

    /// The last version and hash of each stream that exists.
    public func heads(of streams: [String]) throws(EventStoreError) -> [String: StreamHead] {
        return try database { () throws(PostgresError) in
            let rows = try connection.query(
                """
                SELECT DISTINCT ON (stream) stream, version, hash FROM events
                WHERE stream = ANY ($1::text[]) ORDER BY stream, version DESC
                """, [PostgresArray(streams)], prepared: true)
            var out: [String: StreamHead] = [:]
            for row in rows {
                out[try row.decode(String.self, at: 0)] = StreamHead(
                    version: try row.decode(Int64.self, at: 1), hash: try row.decode(Bytes.self, at: 2).bytes)
            }
            return out
        }
    }

    /// The streams the command that appended `position` wrote to (empty when there is no
    /// such event): the events of the same transaction with the same correlation id — or,
    /// for imported lines, the same idempotency key. Reversing a command reverses them all.
    public func streamsOfCommand(containing position: Int64) throws(EventStoreError) -> [String] {
        return try database { () throws(PostgresError) in
            return try connection.query(
                """
                SELECT DISTINCT e.stream FROM events t
                JOIN events e ON e.transaction_id = t.transaction_id
                 AND (e.position = t.position
                      OR coalesce(e.metadata->>'correlation_id', e.metadata->>'idempotency_key')
                         = coalesce(t.metadata->>'correlation_id', t.metadata->>'idempotency_key'))
                WHERE t.position = $1
                ORDER BY e.stream
                """, [position], prepared: true
            ).map { row throws(PostgresError) in try row.decode(String.self, at: 0) }
        }
    }

    /// The relation read commands read the log from: the view of Schema/011_reporting_reads.sql,
    /// which a login granted only ledger_reporting may read (aliased `events`, so queries
    /// name its columns as the table's). Writers, who decide against what they read, read
    /// the table itself.
    static let readableLog = "reporting.event_log AS events"

    /// One stream's events in version order (for readers: `ledger events --stream`).
    public func readStream(_ stream: String) throws(EventStoreError) -> [EventRecord] {
        try readStreams([stream], from: Self.readableLog)[stream] ?? []
    }

    /// Several streams' events in one query, each in version order.
    public func readStreams(_ streams: [String]) throws(EventStoreError) -> [String: [EventRecord]] {
        try readStreams(streams, from: "events")
    }

    private func readStreams(_ streams: [String], from relation: String) throws(EventStoreError) -> [String: [EventRecord]] {
        guard !streams.isEmpty else { return [:] }
        return try database { () throws(PostgresError) in
            let rows = try connection.query(
                EventRecord.select + " FROM " + relation + " WHERE stream = ANY ($1::text[]) ORDER BY stream, version",
                [PostgresArray(streams)], prepared: true)
            var out: [String: [EventRecord]] = [:]
            for row in rows {
                let record = try EventRecord(row: row)
                out[record.stream, default: []].append(record)
            }
            return out
        }
    }

    // MARK: Reading the global log

    /// Up to `limit` events after `checkpoint`, in log order (transaction id, position).
    ///
    /// Only transactions older than every transaction of this database still in progress
    /// are read (`log_horizon()`, Schema/004_log_horizon.sql), so an event whose transaction
    /// commits late is returned by a later call instead of being passed over. A writing
    /// transaction that started earlier holds newer events back until it ends; when a short
    /// read finds committed events held back like this, it waits for them up to
    /// `settleTimeout` (transactions are usually milliseconds long) rather than report the
    /// log as shorter than it is.
    public func readAll(
        after checkpoint: Checkpoint, limit: Int = 10_000, settleTimeout: Duration = .seconds(2)
    ) throws(EventStoreError) -> [EventRecord] {
        let clock = ContinuousClock()
        let deadline = clock.now + settleTimeout
        var pause: Duration = .milliseconds(2)
        while true {
            let records = try readSettled(after: checkpoint, limit: limit)
            if records.count >= limit || clock.now >= deadline { return records }
            let from = records.last?.checkpoint ?? checkpoint
            guard try hasHeldBackEvents(after: from) else { return records }
            pause.sleepThread()
            pause = min(pause * 2, .milliseconds(100))
        }
    }

    private func readSettled(after checkpoint: Checkpoint, limit: Int) throws(EventStoreError) -> [EventRecord] {
        return try database { () throws(PostgresError) in
            let rows = try connection.query(
                EventRecord.select + """
                 FROM reporting.event_log AS events
                WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
                  AND transaction_id < (SELECT log_horizon())
                ORDER BY events.transaction_id, events.position
                LIMIT $3
                """, [String(checkpoint.transactionID), checkpoint.position, limit], prepared: true)
            return try rows.map { row throws(PostgresError) in try EventRecord(row: row) }
        }
    }

    /// True when committed events after `checkpoint` are held back by an older transaction.
    private func hasHeldBackEvents(after checkpoint: Checkpoint) throws(EventStoreError) -> Bool {
        return try database { () throws(PostgresError) in
            return try connection.query(
                """
                SELECT EXISTS (SELECT 1 FROM reporting.event_log AS events
                  WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
                    AND transaction_id >= (SELECT log_horizon()))
                """, [String(checkpoint.transactionID), checkpoint.position], prepared: true
            )[0].decode(Bool.self, at: 0)
        }
    }

    /// An open transaction of this database that holds committed events back from readers
    /// of the log (see `readAll`), with what is known of its session. A reader that finds
    /// nothing to read should say so: otherwise lag grows while it reports no work.
    public struct LogHolder: Sendable, CustomStringConvertible {
        public var pid: Int32
        public var application: String?
        public var state: String?
        /// How long its transaction has been open, when the server shows it to us.
        public var seconds: Int64?
        /// Committed events it holds back.
        public var heldBack: Int64

        public var description: String {
            var about = ["PID \(pid)"]
            about.append("application '\(application.flatMap { $0.isEmpty ? nil : $0 } ?? "none")'")
            if let state { about.append(state) }
            if let seconds { about.append("transaction open \(seconds) s") }
            return "\(heldBack) committed events are held back by an open transaction (\(about.joined(separator: ", "))): "
                + "the log is read in commit order, so they are applied once it ends — end it, "
                + "or ask an administrator (SELECT pg_terminate_backend(\(pid)))"
        }
    }

    /// The transaction holding the settled log back, if committed events wait behind it.
    public func logHolder() throws(EventStoreError) -> LogHolder? {
        return try database { () throws(PostgresError) in
            let rows = try connection.query(
                """
                WITH horizon AS (SELECT log_horizon() AS x)
                SELECT a.pid, a.application_name, a.state,
                       round(extract(epoch FROM now() - a.xact_start))::bigint,
                       (SELECT count(*) FROM events WHERE transaction_id >= (SELECT x FROM horizon))
                FROM pg_stat_activity a, horizon
                WHERE a.datname = current_database() AND a.backend_xid = xid(horizon.x)
                """)
            guard let row = rows.first else { return nil }
            let heldBack = try row.decode(Int64.self, at: 4)
            guard heldBack > 0 else { return nil }
            return LogHolder(
                pid: try row.decode(Int32.self, at: 0), application: try row.decode(String?.self, at: 1),
                state: try row.decode(String?.self, at: 2), seconds: try row.decode(Int64?.self, at: 3),
                heldBack: heldBack)
        }
    }

    /// The checkpoint of the event at `position`, so that reading after it continues the
    /// log from there; for a position no event has (a gap left by a rolled-back
    /// transaction), the checkpoint of the nearest event before it.
    public func checkpoint(afterPosition position: Int64) throws(EventStoreError) -> Checkpoint {
        guard position > 0 else { return .start }
        return try database { () throws(PostgresError) in
            let rows = try connection.query(
                """
                SELECT transaction_id::text::bigint, position FROM reporting.event_log AS events
                WHERE position <= $1 ORDER BY position DESC LIMIT 1
                """, [position])
            guard let row = rows.first else { return .start }
            return Checkpoint(
                transactionID: UInt64(try row.decode(Int64.self, at: 0)), position: try row.decode(Int64.self, at: 1))
        }
    }

    /// How many events lie after `checkpoint` (committed ones, read in log order).
    public func count(after checkpoint: Checkpoint) throws(EventStoreError) -> Int64 {
        return try database { () throws(PostgresError) in
            return try connection.query(
                "SELECT count(*) FROM reporting.event_log AS events WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)",
                [String(checkpoint.transactionID), checkpoint.position], prepared: true
            )[0].decode(Int64.self, at: 0)
        }
    }
}
