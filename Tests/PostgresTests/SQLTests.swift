import Postgres
import Testing

/// The SQL interpolation type numbers placeholders itself (pure: no database).
struct SQLTests {
    @Test func aLiteralHasNoBinds() {
        let sql: SQL = "SELECT 1"
        #expect(sql.text == "SELECT 1")
        #expect(sql.binds.isEmpty)
    }

    @Test func interpolatedValuesBecomeNumberedBinds() {
        let name = "x'; DROP TABLE events; --"
        let sql: SQL = "SELECT * FROM t WHERE a = \(name) AND b <= \(Int64(7))::bigint LIMIT \(3)"
        #expect(sql.text == "SELECT * FROM t WHERE a = $1 AND b <= $2::bigint LIMIT $3")
        #expect(sql.binds.map(\.postgresText) == [name, "7", "3"])
    }

    @Test func appendedFragmentsAreNumberedAfterTheBindsBeforeThem() {
        var sql: SQL = "WHERE a > (\("1")::text::xid8, \(Int64(2))::bigint)"
        let fragment: SQL = " AND c = ANY (\(PostgresArray(["s"]))::text[])"
        sql += fragment
        sql += " AND d = \(Optional<String>.none)"
        #expect(sql.text == "WHERE a > ($1::text::xid8, $2::bigint) AND c = ANY ($3::text[]) AND d = $4")
        #expect(sql.binds.map(\.postgresText) == ["1", "2", "{\"s\"}", nil])
    }

    @Test func aFragmentInterpolatedIsRenumberedInPlace() {
        let inner: SQL = "x = \(1) AND y = \(2)"
        let sql: SQL = "SELECT \(0) WHERE \(inner) AND z = \(3)"
        #expect(sql.text == "SELECT $1 WHERE x = $2 AND y = $3 AND z = $4")
        #expect(sql.binds.map(\.postgresText) == ["0", "1", "2", "3"])
    }

    @Test func literalsAreSplicedAndTakeNoNumber() {
        let relation = "reporting.event_log AS events"
        let sql: SQL = "SELECT count(*) FROM \(literal: relation) WHERE p > \(5)"
        #expect(sql.text == "SELECT count(*) FROM reporting.event_log AS events WHERE p > $1")
        #expect(sql.binds.count == 1)
    }
}
