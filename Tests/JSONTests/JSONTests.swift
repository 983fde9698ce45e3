import Testing
@testable import JSON

@Suite struct JSONTests {
    @Test func canonicalEncodingSortsKeysAndDropsWhitespace() throws {
        let value = try JSON.parse(#"{ "b": 1, "a": {"z": [true, null, "x\ny"], "c": -2.50} }"#)
        #expect(value.canonicalString == #"{"a":{"c":-2.50,"z":[true,null,"x\ny"]},"b":1}"#)
    }

    @Test func jsonbStyleRewriteReencodesToTheSameBytes() throws {
        // PostgreSQL's jsonb output orders keys by length first and adds spaces.
        let original: JSON = ["amount": "500000000", "currency": "JPY", "id": "sakura-seed", "n": 3]
        let asJSONB = #"{"n": 3, "id": "sakura-seed", "amount": "500000000", "currency": "JPY"}"#
        #expect(try JSON.parse(asJSONB).canonicalBytes == original.canonicalBytes)
    }

    @Test func numbersKeepTheirExactText() throws {
        let value = try JSON.parse("[12345678901234567890.123456789, 1e3]")
        #expect(value.canonicalString == "[12345678901234567890.123456789,1e3]")
    }

    @Test func escapesRoundTrip() throws {
        let text = "quote \" backslash \\ tab \t unicode é \u{1F600} control \u{01}"
        let encoded = JSON.string(text).canonicalString
        #expect(try JSON.parse(encoded) == .string(text))
        #expect(try JSON.parse(#""\u00e9\ud83d\ude00""#) == .string("é\u{1F600}"))
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "tru", "\"abc", "[1] x", "{\"a\":1,}", "-", "1.", "\"\\x\""])
    func malformedInputIsRejected(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSON.parse(text) }
    }
}
