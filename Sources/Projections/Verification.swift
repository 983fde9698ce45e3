import EventStore
import Foundation
import JSON
import Ledger
import Postgres

/// What `ledger verify` found: an intact ledger, or the first problem.
public enum VerificationResult: Sendable, Equatable {
    /// Every hash chain holds and every projection equals its events.
    case intact(events: Int, rows: Int)
    case damaged(VerificationProblem)

    public var isIntact: Bool {
        if case .intact = self { return true }
        return false
    }
}

/// The first difference `verify` found, described for the person who must investigate:
/// `position 42: …` for the event log, `projection orders row ntt-001: …` for a projection.
public struct VerificationProblem: Sendable, Equatable, CustomStringConvertible {
    /// The event concerned, for a problem in the log.
    public var position: Int64?
    /// The projection and row concerned, for a problem in a projection.
    public var projection: ProjectionName?
    public var row: String?
    public var message: String

    public var description: String {
        if let position { return "position \(position): \(message)" }
        if let projection, let row { return "projection \(projection) row \(row): \(message)" }
        if let projection { return "projection \(projection): \(message)" }
        return message
    }
}

/// Checks the ledger's integrity from the events alone: (a) every stream's hash chain,
/// recomputed in version order, so an edited, deleted or reordered event is found even by
/// someone who bypassed the immutability triggers; (b) every projection, folded again up to
/// its checkpoint and compared with the stored rows. Reports the first problem: the one at
/// the lowest position for the log, then projections in report order.
public func verify(connection: PostgresConnection, pageSize: Int = 20_000) throws -> VerificationResult {
    let (events, chainProblem) = try verifyHashChains(connection, pageSize: pageSize)
    if let chainProblem { return .damaged(chainProblem) }
    var rows = 0
    let problem: VerificationProblem? = try connection.transaction(.repeatableRead) { db in
        for name in ProjectionName.allCases {
            func check<Row: ProjectionTable>(_ type: Row.Type) throws -> VerificationProblem? {
                let through = try ProjectionSQL.checkpoint(of: name, on: db)
                var state = ProjectionState<Row>()
                if through > .start {
                    var filter = name.logFilter
                    filter.through = through
                    filter.settledOnly = false
                    try EventLog(connection: db).forEachEvent(filter: filter) { state.apply($0.event) }
                }
                rows += state.rows.count
                if let problem = try compare(state.rows, with: Row.self, name: name, on: db) { return problem }
                return try ReportPages.check(Row.self, on: db)
            }
            if let problem = try check(name.rowType) { return problem }
        }
        return nil
    }
    if let problem { return .damaged(problem) }
    return .intact(events: events, rows: rows)
}

/// Walks every stream in version order; returns the number of events and the problem at
/// the lowest position, if any.
func verifyHashChains(_ db: PostgresConnection, pageSize: Int) throws -> (Int, VerificationProblem?) {
    var first: VerificationProblem?
    func found(_ position: Int64, _ message: String) {
        if first == nil || position < first!.position! {
            first = VerificationProblem(position: position, message: message)
        }
    }
    var count = 0
    var stream = ""
    var previousVersion: Int64 = 0
    var previousPosition: Int64 = 0
    var previousHash = EventHash.genesis
    var cursorStream = ""
    var cursorVersion: Int64 = 0
    try db.transaction(.repeatableRead) { db in
        while true {
            let rows = try db.query(
                """
                SELECT position, stream, version, type, schema_version, payload::text, metadata::text,
                       business_date, event_id, hash
                FROM events WHERE (stream, version) > ($1, $2::bigint)
                ORDER BY stream, version LIMIT $3
                """, [cursorStream, cursorVersion, pageSize], prepared: true)
            for row in rows {
                count += 1
                let position = try row.decode(Int64.self, at: 0)
                let rowStream = try row.decode(String.self, at: 1)
                let version = try row.decode(Int64.self, at: 2)
                let storedHash = try row.decode(Bytes.self, at: 9).bytes
                if rowStream != stream {
                    stream = rowStream
                    previousVersion = 0
                    previousPosition = 0
                    previousHash = EventHash.genesis
                }
                if version != previousVersion + 1 {
                    found(
                        position,
                        previousVersion == 0
                            ? "stream \(stream) starts at version \(version): its first \(version - 1) event(s) are missing"
                            : "stream \(stream) goes from version \(previousVersion) to \(version): an event is missing")
                } else if position <= previousPosition {
                    found(
                        position,
                        "stream \(stream) version \(version) is before version \(previousVersion) in the log (position \(previousPosition)): events were reordered")
                }
                let hash = EventHash.hash(
                    previous: previousHash, eventID: try row.decode(UUID.self, at: 8), stream: rowStream,
                    version: version, type: try row.decode(String.self, at: 3),
                    schemaVersion: try row.decode(Int.self, at: 4), businessDate: try row.decode(SQLDate.self, at: 7),
                    payload: try row.decode(JSON.self, at: 5), metadata: try row.decode(JSON.self, at: 6))
                if hash != storedHash {
                    found(
                        position,
                        "stream \(stream) version \(version) does not match its hash: the event (or the one before it in the stream) was changed after it was recorded")
                }
                // Chain on from what is stored, so one bad event is reported once, not with
                // every event after it.
                previousHash = storedHash
                previousVersion = version
                previousPosition = position
                cursorStream = rowStream
                cursorVersion = version
            }
            if rows.count < pageSize { break }
        }
    }
    return (count, first)
}

/// Compares the rows folded from the events with the stored ones, column by column, by
/// loading the expected rows into a temporary copy of the table and letting PostgreSQL
/// compare typed values (so `100` and `100.00`, or reordered JSON keys, are equal).
func compare<Row: ProjectionTable>(
    _ expected: [String: Row], with type: Row.Type, name: ProjectionName, on db: PostgresConnection
) throws -> VerificationProblem? {
    let temporary = "verify_\(name.rawValue)"
    try db.execute(script: "CREATE TEMPORARY TABLE \(temporary) (LIKE \(Row.table)) ON COMMIT DROP")
    try ProjectionSQL.copy(expected.values, into: temporary, on: db)
    let key = Row.keyColumn
    let rows = try db.query(
        """
        SELECT coalesce(s.\(key), e.\(key)), to_jsonb(s)::text, to_jsonb(e)::text
        FROM \(Row.table) s FULL JOIN \(temporary) e ON s.\(key) = e.\(key)
        WHERE s IS NULL OR e IS NULL OR ROW(s.*) IS DISTINCT FROM ROW(e.*)
        ORDER BY 1 LIMIT 1
        """)
    try db.execute(script: "DROP TABLE \(temporary)")
    guard let row = rows.first else { return nil }
    let rowKey = try row.decode(String.self, at: 0)
    let stored = try row.decode(String?.self, at: 1).map { try JSON.parse($0) }
    let wanted = try row.decode(String?.self, at: 2).map { try JSON.parse($0) }
    func problem(_ message: String) -> VerificationProblem {
        VerificationProblem(projection: name, row: rowKey, message: message)
    }
    guard let stored else { return problem("missing: the events give this row but it is not stored") }
    guard let wanted else { return problem("stored, but no event gives this row") }
    for column in Row.tableColumns {
        let column = column.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        let s = stored[column] ?? .null
        let w = wanted[column] ?? .null
        if !sameValue(s, w) {
            return problem("stored \(column) \(display(s)) but events give \(display(w))")
        }
    }
    return problem("stored row differs from the one the events give")
}

/// Equal as PostgreSQL values: numbers by value (`100` = `100.00`).
private func sameValue(_ a: JSON, _ b: JSON) -> Bool {
    if case .number(let x) = a, case .number(let y) = b, let dx = Decimal(string: x), let dy = Decimal(string: y) {
        return dx == dy
    }
    return a == b
}

private func display(_ value: JSON) -> String {
    switch value {
    case .string(let s): s
    case .number(let n): n
    case .null: "NULL"
    default: value.canonicalString
    }
}
