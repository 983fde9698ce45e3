import CLibPQ
import Foundation

extension Rows {
    /// Rows made in this process rather than sent by the server: `values[i][j]` is row i's
    /// column j in PostgreSQL's text format (nil: NULL). For values the client decoded from
    /// something else — a report row stored as jsonb and sent as text, parsed here because
    /// the server's `jsonb_populate_record` costs ~8 µs a row — that the same `init(row:)`
    /// must read as if the server had sent them as columns. libpq builds the result
    /// (`PQmakeEmptyPGresult`, `PQsetvalue` copies each value), so a `Row` of it behaves as
    /// any other.
    public init(columns: Int, values: [[String?]]) throws(PostgresError) {
        guard let result = PQmakeEmptyPGresult(nil, PGRES_TUPLES_OK) else {
            throw PostgresError(kind: .client, message: "out of memory making a result")
        }
        let storage: ResultStorage
        do {
            let names = (0..<columns).map { strdup("c\($0)")! }
            defer { names.forEach { free($0) } }
            var descriptions = names.map {
                PGresAttDesc(name: $0, tableid: 0, columnid: 0, format: 0, typid: 25, typlen: -1, atttypmod: -1)
            }
            guard PQsetResultAttrs(result, Int32(columns), &descriptions) != 0 else {
                PQclear(result)
                throw PostgresError(kind: .client, message: "cannot describe a result of \(columns) columns")
            }
            for (i, row) in values.enumerated() {
                for j in 0..<columns {
                    let stored: Int32
                    if j < row.count, let text = row[j] {
                        let length = Int32(text.utf8.count)
                        stored = text.withCString { PQsetvalue(result, Int32(i), Int32(j), UnsafeMutablePointer(mutating: $0), length) }
                    } else {
                        stored = PQsetvalue(result, Int32(i), Int32(j), nil, -1)
                    }
                    guard stored != 0 else {
                        PQclear(result)
                        throw PostgresError(kind: .client, message: "out of memory making a result")
                    }
                }
            }
            storage = ResultStorage(result)
        }
        self.init(storage: storage, affectedRows: 0)
    }
}
