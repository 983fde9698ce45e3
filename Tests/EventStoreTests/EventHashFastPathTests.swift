import EventStore
import Foundation
import JSON
import Postgres
import Testing

/// `verify` writes each event's hashed body from PostgreSQL's text (the event id's text
/// copied, the date's digits written in place) and compares digests without building
/// them: these hold the fast paths to the bytes and verdicts of the writer's path.
@Suite struct EventHashFastPathTests {
    /// The body as the writer builds it (`EventHash.body` from typed values).
    func writerBody(_ id: UUID, _ date: SQLDate) -> [UInt8] {
        EventHash.body(
            eventID: id, stream: "order-1", version: 3, type: "order.placed", schemaVersion: 1, businessDate: date,
            canonicalPayload: Array(#"{"a":1}"#.utf8), canonicalMetadata: Array("{}".utf8))
    }

    /// The body as verify builds it: the id's text copied when canonical, else parsed.
    func verifyBody(_ idText: String, _ date: SQLDate) throws -> [UInt8] {
        var text = idText
        let canonical = text.withUTF8 { EventHash.canonicalEventID($0) }
        let parsed: UUID? = canonical ? nil : try #require(UUID(uuidString: idText))
        return EventHash.body(
            eventID: { out in
                if let parsed {
                    JSON.writeString(parsed.lowercasedString, into: &out)
                } else {
                    #expect(text.withUTF8 { EventHash.appendEventID(text: $0, to: &out) })
                }
            }, stream: "order-1", version: 3, type: "order.placed", schemaVersion: 1, businessDate: date,
            reserving: 0, payload: { $0.append(contentsOf: #"{"a":1}"#.utf8) }, metadata: { $0.append(contentsOf: "{}".utf8) })
    }

    @Test func theEventIDsTextIsCopiedOnlyWhenItIsTheCanonicalForm() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let id = UUID(uuid: (
                UInt8.random(in: 0...255, using: &generator), 0, 0xFF, 9, 0xA0, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0, 0xFE,
                UInt8.random(in: 0...255, using: &generator)))
            let date = SQLDate(year: 2026, month: 4, day: 1)
            let lower = id.uuidString.lowercased()
            #expect(try verifyBody(lower, date) == writerBody(id, date))
            // Upper case (Foundation's own output) is not copied: it is parsed, and the body
            // still has the lower-case form the writer hashed.
            var upper = id.uuidString
            if upper != lower { #expect(!upper.withUTF8 { EventHash.canonicalEventID($0) }) }
            #expect(try verifyBody(id.uuidString, date) == writerBody(id, date))
        }
        for declined in [
            "", "0", "00000000000000000000000000000000", "{00000000-0000-0000-0000-000000000000}",
            "00000000-0000-0000-0000-00000000000g", "00000000-0000-0000-0000_000000000000",
            "00000000-0000-0000-0000-0000000000000", "0000000-00000-0000-0000-000000000000",
        ] {
            var text = declined
            var out: [UInt8] = [1]
            #expect(!text.withUTF8 { EventHash.appendEventID(text: $0, to: &out) }, "\(declined)")
            #expect(out == [1])
        }
    }

    @Test func theDateIsWrittenAsItsDescription() throws {
        let id = UUID()
        let text = id.uuidString.lowercased()
        var dates: [SQLDate] = []
        for year in [0, 1, 9, 10, 99, 100, 999, 1000, 1970, 2026, 9999, 10000, 12345, -1] {
            for (month, day) in [(1, 1), (2, 29), (12, 31), (0, 0), (9, 9), (10, 10), (99, 99), (100, 7), (-3, 5)] {
                dates.append(SQLDate(year: year, month: month, day: day))
            }
        }
        for date in dates {
            #expect(try verifyBody(text, date) == writerBody(id, date), "\(date)")
        }
    }

    @Test func aDigestComparedInPlaceGivesTheSameVerdictAsTheArray() {
        let body = Array(#"["x",1]"#.utf8)
        for previous in [EventHash.genesis, [UInt8](repeating: 7, count: 32), [1, 2, 3], []] {
            let right = EventHash.hash(previous: previous, body: body)
            #expect(EventHash.hash(previous: previous, body: body, equals: right))
            var wrong = right
            wrong[31] ^= 1
            #expect(!EventHash.hash(previous: previous, body: body, equals: wrong))
            #expect(!EventHash.hash(previous: previous, body: body, equals: Array(right.prefix(31))))
            #expect(!EventHash.hash(previous: previous, body: body, equals: right + [0]))
            #expect(!EventHash.hash(previous: previous, body: body, equals: []))
        }
    }
}
