import EventStore
import Foundation
import JSON
import Ledger
import Postgres
import Synchronization

/// What `ledger verify` found: an intact ledger, or the first problem.
public enum VerificationResult: Sendable, Equatable {
    /// Every hash chain holds, every event keeps the rules, and every projection compared
    /// equals its events (`projectionsCompared`: false for a login that cannot read them,
    /// or on a standby).
    case intact(events: Int, rows: Int, projectionsCompared: Bool)
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

/// Checks the ledger's integrity from the events alone, in one snapshot and one pass over
/// the log in log order: (a) every stream's hash chain, recomputed version by version, so an
/// edited, deleted or reordered event is found even by someone who bypassed the
/// immutability triggers; (b) every business rule, by replaying each event against the
/// rules that decide commands (`LedgerAudit`), so an event that should never have been
/// recorded is found however it got in, and an unreadable one is named; (c) every
/// projection, folded again up to its checkpoint and compared with the stored rows. The
/// chains and the refold run on two threads while the main one reads the log. Reports the
/// first problem: the earliest in log order for the log, then projections in report order.
///
/// Reads the log through `reporting.event_log`, so a ledger_reporting login and a hot
/// standby can verify it too; projections are compared where this login can read them
/// (`projectionsCompared` says whether they were).
public func verify(connection: PostgresConnection, pageSize: Int = 5_000) throws -> VerificationResult {
    try SettledSnapshot.run(on: connection, readOnly: false) { db, horizon in
        let comparable = try db.query(
            """
            SELECT has_schema_privilege('projections', 'USAGE') AND NOT pg_is_in_recovery()
               AND current_setting('transaction_read_only') = 'off'
            """
        )[0].decode(Bool.self, at: 0)
        var through: [ProjectionName: Checkpoint] = [:]
        if comparable {
            for name in ProjectionName.allCases { through[name] = try ProjectionSQL.checkpoint(of: name, on: db) }
        }
        // Reversals: which positions they reverse, from where in the log, on which streams.
        var reversals = Reversals()
        for row in try db.query(
            """
            SELECT (payload->>'reverses')::bigint, transaction_id::text::bigint, position, stream
            FROM reporting.event_log WHERE type = 'entry.reversed'
            """)
        {
            guard let reversed = try? row.decode(Int64.self, at: 0) else { continue }
            reversals.by[reversed] = Checkpoint(
                transactionID: UInt64(try row.decode(Int64.self, at: 1)), position: try row.decode(Int64.self, at: 2))
            reversals.streams.insert(try row.decode(String.self, at: 3))
        }
        let scan = LogScan(through: through, reversals: reversals)
        try scan.run(on: db, horizon: horizon, pageSize: pageSize)
        if let problem = scan.problem { return .damaged(problem) }
        guard comparable else { return .intact(events: scan.events, rows: 0, projectionsCompared: false) }
        var rows = 0
        for folded in scan.fold.projections {
            rows += folded.rowCount
            if let problem = try folded.compare(on: db) { return .damaged(problem) }
        }
        return .intact(events: scan.events, rows: rows, projectionsCompared: true)
    }
}

/// One event as `verify` reads it: what its hash covers and where it stands in the log,
/// with what can be worked out from the event alone (on any core, before the chain and the
/// fold take the events in log order).
struct ScannedEvent: Sendable {
    var checkpoint: Checkpoint
    var stream: String
    var version: Int64
    var type: String
    /// The canonical encoding the hash covers after the previous hash (`EventHash.body`).
    var body: [UInt8]
    var hash: [UInt8]
    /// The typed event, or why it cannot be read.
    var event: Result<LedgerEvent, UnreadablePayload>
    /// `LedgerAudit.command(for:)` of the event.
    var command: Result<LedgerCommand.Action, Rejection>?
    /// Bit i: the event belongs to the i-th folded projection's slice of the log.
    var projections: UInt32
}

/// Why an event could not be read as a typed event (the decoder's words).
struct UnreadablePayload: Error {
    var reason: String
}

extension ScannedEvent {
    /// Reads one row (layout: `LogScan.columns` after the log place) and does the work that
    /// needs this event only: JSON parsing and canonical re-encoding, decoding, the command.
    init(row: Row, slices: [ProjectionSlice]) throws {
        checkpoint = Checkpoint(
            transactionID: UInt64(try row.decode(Int64.self, at: 0)), position: try row.decode(Int64.self, at: 1))
        stream = try row.decode(String.self, at: 2)
        version = try row.decode(Int64.self, at: 3)
        if let known = row.withBytes(at: 4, { KnownTypes.name($0) }) ?? nil {
            type = known
        } else {
            type = try row.decode(String.self, at: 4)
        }
        let schemaVersion = try row.decode(Int.self, at: 5)
        // jsonb always parses; the fold reports what it cannot read. An object's members are
        // read in order without a dictionary (`JSON.parseMembers`); anything else whole.
        let members = row.withBytes(at: 6) { JSON.parseMembers($0) } ?? nil
        let payload: JSON? = members != nil ? nil : row.withBytes(at: 6) { try? JSON.parse($0) }.flatMap { $0 } ?? .null
        guard !row.isNull(at: 7) else { throw PostgresError(kind: .client, message: "column metadata is NULL") }
        let date = try row.decode(SQLDate.self, at: 8)
        // Payload and metadata are re-encoded straight from their text into the hashed body
        // (each parsed only when the fast path declines it).
        func canonical(_ column: Int, _ parsed: @autoclosure () -> JSON, into out: inout [UInt8]) {
            let done = row.withBytes(at: column) { JSON.appendCanonicalBytes(ofText: $0, to: &out) } ?? false
            if !done { parsed().write(into: &out) }
        }
        // The event id's text is copied when it is already canonical (it always is from
        // `uuid_out`); otherwise parsed and printed again, as the writer did.
        let eventID: UUID? =
            row.withBytes(at: 9) { EventHash.canonicalEventID($0) } == true ? nil : try row.decode(UUID.self, at: 9)
        body = EventHash.body(
            eventID: { out in
                if let eventID {
                    JSON.writeString(eventID.lowercasedString, into: &out)
                } else {
                    _ = row.withBytes(at: 9) { EventHash.appendEventID(text: $0, to: &out) }
                }
            }, stream: stream, version: version, type: type,
            schemaVersion: schemaVersion, businessDate: date,
            reserving: row.length(at: 6) + row.length(at: 7),
            payload: { canonical(6, payload ?? .object(Dictionary(uniqueKeysWithValues: members!)), into: &$0) },
            metadata: { canonical(7, row.withBytes(at: 7) { (try? JSON.parse($0)) ?? .null } ?? .null, into: &$0) })
        hash = try row.decode(Bytes.self, at: 10).bytes
        do {
            let day = try Day(year: date.year, month: date.month, day: date.day)
            let decoded =
                if let members {
                    try LedgerEvent.decode(type: type, schemaVersion: schemaVersion, date: day, members: members)
                } else {
                    try LedgerEvent.decode(type: type, schemaVersion: schemaVersion, date: day, payload: payload ?? .null)
                }
            event = .success(decoded)
            command = LedgerAudit.command(for: decoded)
            projections = 0
            for (i, slice) in slices.enumerated() where slice.contains(decoded, on: stream) { projections |= 1 << i }
        } catch {
            event = .failure(UnreadablePayload(reason: "\(error)"))
            command = nil
            projections = 0
        }
    }
}

/// The event type names this program writes, to read a row's type without allocating a
/// `String` per event (most names are longer than the 15 bytes Swift keeps inline); any
/// other name is read as it is.
enum KnownTypes {
    private static let flat: [UInt8] = LedgerEvent.types.flatMap { Array($0.type.utf8) }
    private static let entries: [(start: Int, count: Int, name: String)] = {
        var start = 0
        return LedgerEvent.types.map { known in
            defer { start += known.type.utf8.count }
            return (start, known.type.utf8.count, known.type)
        }
    }()

    static func name(_ text: UnsafeBufferPointer<UInt8>) -> String? {
        flat.withUnsafeBufferPointer { flat in
            entries.withUnsafeBufferPointer { entries in
                for entry in entries where entry.count == text.count {
                    if UnsafeBufferPointer(rebasing: flat[entry.start..<(entry.start + entry.count)]).elementsEqual(text) {
                        return entry.name
                    }
                }
                return nil
            }
        }
    }
}

/// Which events a projection folds (`ProjectionName.logFilter`): its streams, plus events of
/// these types.
struct ProjectionSlice: Sendable {
    let prefixes: [String]
    let types: Set<String>

    init(_ name: ProjectionName) {
        let filter = name.logFilter
        prefixes = filter.streamPrefixes ?? []
        types = Set(filter.types)
    }

    func contains(_ event: LedgerEvent, on stream: String) -> Bool {
        types.contains(event.type) || prefixes.contains(where: stream.hasPrefix)
    }
}

/// The pass over the log: the main thread reads pages, any free core prepares their events
/// (`ScannedEvent`), then a chain thread and a fold thread each take them in log order.
final class LogScan {
    let chains = ChainCheck()
    let fold: FoldCheck
    private(set) var events = 0

    /// The columns read after the log place (transaction id, position).
    static let columns = "stream, version, type, schema_version, payload::text, metadata::text, business_date, event_id, hash"

    init(through: [ProjectionName: Checkpoint], reversals: Reversals = Reversals()) {
        fold = FoldCheck(through: through, reversals: reversals)
    }

    /// The earliest problem in log order.
    var problem: VerificationProblem? {
        [chains.first, fold.first].compactMap { $0 }.min { $0.checkpoint < $1.checkpoint }?.problem
    }

    func run(on db: PostgresConnection, horizon: String, pageSize: Int = 5_000) throws {
        let chains = self.chains
        let fold = self.fold
        let slices = fold.slices
        let failure = Mutex<(any Error)?>(nil)
        let pipeline = PagePipeline<ScannedEvent>(consumers: [{ chains.check($0) }, { fold.check($0) }])
        defer { pipeline.finish() }
        try SettledSnapshot.forEachPage(on: db, horizon: horizon, columns: Self.columns, pageSize: pageSize) { rows in
            if let error = failure.withLock({ $0 }) { throw error }
            events += rows.count
            pipeline.submit(count: rows.count) { range in
                var scanned: [ScannedEvent] = []
                scanned.reserveCapacity(range.count)
                do {
                    for i in range { scanned.append(try ScannedEvent(row: rows[i], slices: slices)) }
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
                return scanned
            }
        }
        pipeline.finish()
        if let error = failure.withLock({ $0 }) { throw error }
        fold.finish()
    }
}

/// A problem with the place in the log where it was found.
struct LogProblem: Sendable {
    var checkpoint: Checkpoint
    var problem: VerificationProblem
}

/// Every stream's hash chain, checked in log order (a stream's versions come in order in
/// the log: each append reads the stream's head before its transaction id is taken).
/// Touched only by the chain thread, then read after it is done.
final class ChainCheck: @unchecked Sendable {
    private var heads: [String: (version: Int64, hash: [UInt8], position: Int64)] = [:]
    private(set) var first: LogProblem?

    func check(_ chunks: [[ScannedEvent]]) {
        for chunk in chunks { check(chunk) }
    }

    func check(_ batch: [ScannedEvent]) {
        // Each event's fields are read in place: copying the whole prepared event (its
        // typed event, command, body) retained and released every part of it per event.
        batch.withUnsafeBufferPointer { events in
            for i in events.indices { check(events.baseAddress! + i) }
        }
    }

    private func check(_ event: UnsafePointer<ScannedEvent>) {
        let stream = event.pointee.stream
        let version = event.pointee.version
        let checkpoint = event.pointee.checkpoint
        let head = heads[stream] ?? (0, EventHash.genesis, 0)
        func found(_ message: String) {
            guard first == nil else { return }
            first = LogProblem(
                checkpoint: checkpoint, problem: VerificationProblem(position: checkpoint.position, message: message))
        }
        if version != head.version + 1 {
            if head.version == 0 {
                found("stream \(stream) starts at version \(version): its first \(version - 1) event(s) are missing")
            } else if version <= head.version {
                found("stream \(stream) version \(version) comes after version \(head.version) (position \(head.position)) in the log: events were reordered")
            } else {
                found("stream \(stream) goes from version \(head.version) to \(version): an event is missing")
            }
        }
        if version == head.version + 1, head.version > 0, checkpoint.position <= head.position {
            found("stream \(stream) version \(version) has position \(checkpoint.position), before version \(head.version) at position \(head.position): events were reordered")
        }
        if !EventHash.hash(previous: head.hash, body: event.pointee.body, equals: event.pointee.hash) {
            found("stream \(stream) version \(version) does not match its hash: the event (or the one before it in the stream) was changed after it was recorded")
        }
        // Chain on from what is stored, so one bad event is reported once, not with
        // every event after it.
        heads[stream] = (max(version, head.version), event.pointee.hash, checkpoint.position)
    }
}

/// The refold: every event read as the domain's typed event, checked against the rules
/// (`LedgerAudit`) and folded into each projection it belongs to, up to that projection's
/// checkpoint. Touched only by the fold thread, then read after it is done.
final class FoldCheck: @unchecked Sendable {
    private var audit = LedgerAudit()
    private(set) var projections: [any FoldedProjection]
    private(set) var first: LogProblem?

    /// The slices of the log `projections` fold, in the same order (`ScannedEvent.projections`).
    let slices: [ProjectionSlice]

    init(through: [ProjectionName: Checkpoint], reversals: Reversals) {
        audit = LedgerAudit(streamsWithReversals: reversals.streams)
        let names = ProjectionName.allCases.filter { through[$0] != nil }
        projections = names.map { name in
            func folded<Row: ProjectionTable>(_ type: Row.Type) -> any FoldedProjection {
                Folded<Row>(name: name, through: through[name]!, reversals: reversals)
            }
            return folded(name.rowType)
        }
        slices = names.map(ProjectionSlice.init)
    }

    private func found(_ checkpoint: Checkpoint, _ message: String) {
        guard first == nil else { return }
        first = LogProblem(
            checkpoint: checkpoint, problem: VerificationProblem(position: checkpoint.position, message: message))
    }

    func check(_ chunks: [[ScannedEvent]]) {
        for chunk in chunks { check(chunk) }
    }

    func check(_ batch: [ScannedEvent]) {
        for scanned in batch {
            let event: LedgerEvent
            switch scanned.event {
            case .success(let decoded): event = decoded
            case .failure(let unreadable):
                found(scanned.checkpoint, "\(scanned.type) on stream \(scanned.stream) cannot be read: \(unreadable.reason)")
                continue
            }
            do {
                try audit.check(event, on: scanned.stream, at: scanned.checkpoint.position, command: scanned.command)
            } catch {
                found(
                    scanned.checkpoint,
                    "\(scanned.type) on stream \(scanned.stream) breaks a rule (\(error.rule)): \(error.message)")
            }
            for i in projections.indices where scanned.projections & (1 << i) != 0 {
                projections[i].apply(event, at: scanned.checkpoint)
            }
        }
    }

    /// After the last event: an allocation or cancel whose stock side never came.
    func finish() {
        if let (position, message) = audit.missingStockSide {
            found(Checkpoint(transactionID: .max, position: position), message)
            first?.problem.position = position
        }
    }
}

/// One projection folded again from the events, to compare with its stored rows.
protocol FoldedProjection {
    /// Folds in an event of this projection's slice of the log (`ProjectionSlice`).
    mutating func apply(_ event: LedgerEvent, at checkpoint: Checkpoint)
    var rowCount: Int { get }
    func compare(on db: PostgresConnection) throws -> VerificationProblem?
}

struct Folded<Row: ProjectionTable>: FoldedProjection {
    let name: ProjectionName
    let through: Checkpoint
    var state = ProjectionState<Row>(tracksTouched: false)
    /// Positions reversed by a reversal up to `through`: a projection's rows are the fold
    /// of the events that remain, as the runner leaves them.
    let reversed: Set<Int64>

    init(name: ProjectionName, through: Checkpoint, reversals: Reversals) {
        self.name = name
        self.through = through
        reversed = Set(reversals.by.filter { $0.value <= through }.keys)
    }

    mutating func apply(_ event: LedgerEvent, at checkpoint: Checkpoint) {
        guard checkpoint <= through, !reversed.contains(checkpoint.position) else {
            return
        }
        state.apply(event)
    }

    var rowCount: Int { state.rows.count }

    func compare(on db: PostgresConnection) throws -> VerificationProblem? {
        var rows = state.rows
        try Row.complete(&rows, keys: Array(rows.keys), on: db)
        if let problem = try Projections.compare(rows, with: Row.self, name: name, on: db) { return problem }
        return try ReportPages.check(Row.self, on: db)
    }
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

/// The reversals in the log: the position each reverses, with the reversal's own place in
/// the log, and the streams that hold them.
struct Reversals: Sendable {
    var by: [Int64: Checkpoint] = [:]
    var streams: Set<String> = []
}
