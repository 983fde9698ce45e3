import JSON
import Testing

@testable import Ledger

/// verify decodes every event from its payload object's members as written
/// (`JSON.parseMembers`, no dictionary): these hold that path to the parsed one, value for
/// value and error for error.
@Suite struct PayloadMembersTests {
    static func members(_ text: String) -> [(key: String, value: JSON)]? {
        var text = text
        return text.withUTF8 { JSON.parseMembers($0) }
    }

    static func parsed(_ text: String) -> Result<JSON, JSONParseError> {
        Result { () throws(JSONParseError) in try JSON.parse(text) }
    }

    /// Texts `parse` reads as objects, as something else, or refuses.
    static let texts: [String] = [
        "{}", " { } ", #"{"a":1}"#, #"{"b": "x", "a": [1, {"c": null}], "d": true, "e": -0.5e3}"#,
        #"{"é":"e\u0301","k":"\"q\"\n"}"#, #"{"a":1,"a":2}"#, #"{"e\u0301":1,"é":2}"#, #"{"a":1,}"#, #"{"a" 1}"#,
        #"{"a":1} x"#, #"{"a":01}"#, #"{a:1}"#, "[1,2]", "\"text\"", "12", "null", "", "{", #"{"a":"\u0000"}"#,
        #"{"a":"\ud800"}"#, "{\"a\":\"tab\there\"}",
        "{\"a\":" + String(repeating: "[", count: 510) + String(repeating: "]", count: 510) + "}",
        "{\"a\":" + String(repeating: "[", count: 511) + String(repeating: "]", count: 511) + "}",
        "{\"a\":" + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}",
    ]

    @Test func membersAreWhatParseGivesForAnObjectAndNothingOtherwise() {
        for text in Self.texts {
            let members = Self.members(text)
            switch Self.parsed(text) {
            case .success(.object(let object)):
                let got = members.map { Dictionary($0, uniquingKeysWith: { _, _ in .null }) }
                #expect(got == object, "\(text)")
                #expect(members?.count == object.count, "\(text)")
            default:
                #expect(members == nil, "\(text)")
            }
        }
    }

    /// Every event kind (with good and bad values), every key dropped or given the wrong
    /// kind of value, decoded both ways.
    @Test func decodingFromMembersGivesTheParsedPathsEventOrError() throws {
        var payloads: [(type: String, schemaVersion: Int, payload: JSON)] = []
        for fact in EventCoding.samples + LedgerAuditTests.events.map(\.fact) {
            let event = LedgerEvent(date: TestLedger.today, fact: fact)
            payloads.append((event.type, event.schemaVersion, event.payload))
            guard case .object(let object) = event.payload else { continue }
            for key in object.keys {
                var dropped = object
                dropped[key] = nil
                payloads.append((event.type, event.schemaVersion, .object(dropped)))
                for other: JSON in [.null, 7, "7", "-1", "x", [1], ["a": 1], true] {
                    var changed = object
                    changed[key] = other
                    payloads.append((event.type, event.schemaVersion, .object(changed)))
                }
            }
            payloads.append((event.type, event.schemaVersion + 1, event.payload))
            payloads.append(("nothing.happened", 1, event.payload))
        }
        #expect(payloads.count > 1_000)
        for (type, schemaVersion, payload) in payloads {
            let text = payload.canonicalString
            let members = try #require(Self.members(text))
            let parsed = try JSON.parse(text)
            func decode(_ body: () throws(EventDecodingError) -> LedgerEvent) -> Result<LedgerEvent, EventDecodingError> {
                do { return .success(try body()) } catch { return .failure(error) }
            }
            let viaMembers = decode { () throws(EventDecodingError) in
                try LedgerEvent.decode(type: type, schemaVersion: schemaVersion, date: TestLedger.today, members: members)
            }
            let viaParse = decode { () throws(EventDecodingError) in
                try LedgerEvent.decode(type: type, schemaVersion: schemaVersion, date: TestLedger.today, payload: parsed)
            }
            #expect(viaMembers == viaParse, "\(type) \(text)")
        }
    }
}
