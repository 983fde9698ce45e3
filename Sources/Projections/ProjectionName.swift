import EventStore
import Ledger
import Postgres

/// The four projections, one per report. The name is what `ledger projections status`
/// prints and what `ledger projections rebuild NAME` takes.
public enum ProjectionName: String, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case portfolio, labs, orders, supply

    public var description: String { rawValue }

    public static func < (a: ProjectionName, b: ProjectionName) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Parses a name given by a user; the error lists the valid ones.
    public init(parsing text: String) throws(UnknownProjection) {
        guard let name = ProjectionName(rawValue: text) else { throw UnknownProjection(name: text) }
        self = name
    }

    /// The row type stored in this projection's table.
    var rowType: any ProjectionTable.Type {
        switch self {
        case .portfolio: PortfolioPosition.self
        case .labs: LabSummary.self
        case .orders: OrderSummary.self
        case .supply: SupplyPosition.self
        }
    }
}

/// A projection name that is not one of the four.
public struct UnknownProjection: Error, Sendable, CustomStringConvertible {
    public var name: String
    public var description: String {
        "unknown projection '\(name)' — use one of: \(ProjectionName.allCases.map(\.rawValue).joined(separator: ", "))"
    }
}

/// The rows of one projection, keyed as the table is, with the set changed since loading.
struct ProjectionState<Row: ProjectionTable> {
    var rows: [String: Row] = [:]
    var touched: Set<String> = []
    /// Whether `apply` records the keys it touched: the runner writes back only those;
    /// verify compares every row and skips the set (a second hash of the key per event).
    var tracksTouched = true

    /// Folds one event in, exactly as `Reports` does: the first event of a key starts the
    /// row, the others are applied to it.
    mutating func apply(_ event: LedgerEvent) {
        guard let key = Row.key(of: event) else { return }
        if let index = rows.index(forKey: key) {
            rows.values[index].apply(event)
        } else if let row = Row(startingWith: event) {
            rows[key] = row
        } else {
            return
        }
        if tracksTouched { touched.insert(key) }
    }
}

/// Projection-table SQL shared by the runner, the rebuild, the reports and verify.
enum ProjectionSQL {
    /// Loads the rows with the given keys (all rows when `keys` is nil).
    static func load<Row: ProjectionTable>(_ type: Row.Type, keys: [String]?, from db: PostgresConnection) throws
        -> [String: Row]
    {
        var out: [String: Row] = [:]
        let rows: Rows
        if let keys {
            guard !keys.isEmpty else { return [:] }
            // Table and column names are this program's constants; keys are bound.
            rows = try db.query(
                "SELECT " + Row.loadColumns + " FROM " + Row.table + " WHERE " + Row.keyColumn + " = ANY ($1::text[])",
                [PostgresArray(keys)], prepared: true)
        } else {
            rows = try db.query("SELECT " + Row.loadColumns + " FROM " + Row.table, prepared: true)
        }
        out.reserveCapacity(rows.count)
        for row in rows {
            let value = try Row(row: row)
            out[value.key] = value
        }
        return out
    }

    /// Replaces the rows with the given keys by `rows` (DELETE, then COPY): one statement
    /// each, however many rows.
    static func replace<Row: ProjectionTable>(
        _ keys: [String]?, with rows: some Sequence<Row>, in table: String = Row.table, on db: PostgresConnection
    ) throws {
        if let keys {
            guard !keys.isEmpty else { return }
            try db.query("DELETE FROM " + table + " WHERE " + Row.keyColumn + " = ANY ($1::text[])", [PostgresArray(keys)])
        } else {
            try db.query("DELETE FROM " + table)
        }
        try copy(rows, into: table, on: db)
    }

    static func copy<Row: ProjectionTable>(_ rows: some Sequence<Row>, into table: String, on db: PostgresConnection)
        throws
    {
        var iterator = rows.makeIterator()
        guard let first = iterator.next() else { return }
        try db.copyIn("COPY \(table) (\(Row.tableColumns.joined(separator: ", "))) FROM STDIN") { writer in
            try writer.writeRow(first.columnValues)
            while let row = iterator.next() { try writer.writeRow(row.columnValues) }
        }
    }

    static func checkpoint(of name: ProjectionName, on db: PostgresConnection) throws -> Checkpoint {
        let rows = try db.query(
            "SELECT transaction_id, position FROM projections.checkpoints WHERE projection = $1", [name.rawValue],
            prepared: true)
        guard let row = rows.first else { return .start }
        return Checkpoint(
            transactionID: UInt64(try row.decode(Int64.self, at: 0)), position: try row.decode(Int64.self, at: 1))
    }

    static func setCheckpoint(_ name: ProjectionName, to checkpoint: Checkpoint, on db: PostgresConnection) throws {
        try db.query(
            """
            INSERT INTO projections.checkpoints (projection, transaction_id, position, updated_at)
            VALUES ($1, $2, $3, now())
            ON CONFLICT (projection) DO UPDATE
            SET transaction_id = excluded.transaction_id, position = excluded.position, updated_at = now()
            """, [name.rawValue, Int64(checkpoint.transactionID), checkpoint.position], prepared: true)
    }

    /// Takes the lock that lets one writer at a time change this projection, until the
    /// transaction ends: its checkpoint row, FOR UPDATE. Only roles that may update
    /// projections.checkpoints (ledger_app, the owner) can take it — an advisory lock key is a
    /// constant any login could hold to stall the runners. The row is written in the same
    /// transaction anyway, so locking it costs no transaction id the batch would not take.
    /// When another session holds it, `waiting` is told that session's PID first (the row's
    /// xmax names the locking transaction), then this waits for it.
    static func lock(
        _ name: ProjectionName, on db: PostgresConnection, waiting: ((ProjectionName, Int32?) -> Void)?
    ) throws {
        let got = try db.query(
            "SELECT 1 FROM projections.checkpoints WHERE projection = $1 FOR UPDATE SKIP LOCKED", [name.rawValue],
            prepared: true)
        if !got.isEmpty { return }
        let holder = try db.query(
            """
            SELECT l.pid FROM projections.checkpoints c
            JOIN pg_locks l ON l.locktype = 'transactionid' AND l.transactionid = c.xmax
                           AND l.mode = 'ExclusiveLock' AND l.granted
            WHERE c.projection = $1
            LIMIT 1
            """, [name.rawValue]
        ).first.map { try $0.decode(Int32.self, at: 0) }
        if holder == nil {
            // Perhaps no row to lock (deleted by hand): make it, and it is ours.
            let made = try db.query(
                "INSERT INTO projections.checkpoints (projection) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1",
                [name.rawValue])
            if !made.isEmpty { return }
        }
        waiting?(name, holder)
        try db.query("SELECT 1 FROM projections.checkpoints WHERE projection = $1 FOR UPDATE", [name.rawValue])
    }
}
