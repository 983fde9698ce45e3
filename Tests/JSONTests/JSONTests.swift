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

/// `JSON.canonicalBytes(ofText:)` (verify's fast re-encoding) gives exactly what parsing and
/// encoding give, or nil — never other bytes.
@Suite struct CanonicalTextTests {
    static func fast(_ text: String) -> [UInt8]? {
        Array(text.utf8).withUnsafeBufferPointer { JSON.canonicalBytes(ofText: $0) }
    }

    static func slow(_ text: String) -> [UInt8]? {
        (try? JSON.parse(Array(text.utf8)))?.canonicalBytes
    }

    @Test(arguments: [
        #"{"n": 3, "id": "sakura-seed", "amount": "500000000", "currency": "JPY"}"#,
        #"{"actor": "bench", "correlation_id": "0b6f", "idempotency_key": "auto:1"}"#,
        #" { "b" : [ 1 , -2.50 , 1e3, 0, -0.5E+2, true, false, null, [], {} ] , "a" : { "z" : "東京", "c" : "é" } } "#,
        #"{"digest": {"size": 12, "root": "ab", "position": null}, "through": "2026-09-30"}"#,
        #"[]"#, #"{}"#, #""x""#, "12", "-0", "null",
        #"{"ab": 1, "a": 2, "b": 3, "B": 4, "a_b": 5}"#,
    ])
    func sameBytesAsParsingThenEncoding(_ text: String) throws {
        let fast = try #require(Self.fast(text))
        #expect(fast == Self.slow(text))
    }

    @Test(arguments: [
        // What the fast path declines: the parser decides (escapes, non-ASCII keys, duplicates).
        #"{"a": "x\ny"}"#, #"{"a": "q\"uote"}"#, #"{"é": 1}"#, #"{"a": 1, "a": 2}"#,
        // Not JSON: the parser refuses it too.
        "", "{", "[1,]", "{\"a\" 1}", "01", "tru", "\"abc", "[1] x", "{\"a\":1,}", "-", "1.", "\"a\u{01}\"",
    ])
    func declinesWhatItCannotEncodeExactly(_ text: String) {
        #expect(Self.fast(text) == nil)
    }

    /// Appending (verify writes straight into the hashed body): the same bytes after what
    /// the buffer held, or the buffer as it was.
    @Test(arguments: [
        #"{"n": 3, "id": "sakura-seed", "amount": "500000000", "currency": "JPY"}"#,
        #" { "b" : [ 1 , -2.50 , 1e3, true, null, {} ] , "a" : { "z" : "東京" }, "c": "é", "d": false } "#,
        #"{"a": "x\ny"}"#, #"{"a": 1, "a": 2}"#, #"{"a": 1,}"#, #"{"a": 01}"#, #"{"a": tru}"#, #"{"a": "x"#, "12",
    ])
    func appendsTheSameBytesOrLeavesTheBufferAsItWas(_ text: String) {
        var out: [UInt8] = [1, 2, 3]
        let appended = Array(text.utf8).withUnsafeBufferPointer { JSON.appendCanonicalBytes(ofText: $0, to: &out) }
        if let fast = Self.fast(text) {
            #expect(appended && out == [1, 2, 3] + fast)
            #expect(fast == Self.slow(text))
        } else {
            #expect(!appended && out == [1, 2, 3])
        }
    }

    /// A member copied as its own text still counts towards the parser's nesting limit.
    @Test(arguments: [510, 511, 512], ["1", #""x""#, "true"])
    func theParsersDepthLimitHoldsForEveryMember(depth: Int, scalar: String) {
        let text = String(repeating: #"{"a":"#, count: depth) + scalar + String(repeating: "}", count: depth)
        #expect(Self.fast(text) == Self.slow(text))
        #expect((Self.fast(text) == nil) == (depth >= 512))
    }

    @Test func declinesInvalidUTF8() {
        let bytes: [UInt8] = Array(#"{"a": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(bytes.withUnsafeBufferPointer { JSON.canonicalBytes(ofText: $0) } == nil)
        let overlong: [UInt8] = [34, 0xE0, 0x80, 0xAF, 34]
        #expect(overlong.withUnsafeBufferPointer { JSON.canonicalBytes(ofText: $0) } == nil)
    }
}
