extension JSON {
    /// The canonical encoding (`canonicalBytes`) of a JSON text, written straight from its
    /// bytes without building the value: `verify` re-encodes two documents per event (payload
    /// and metadata as PostgreSQL prints jsonb) to recompute its hash.
    ///
    /// Nil whenever the text is not one this fast path is sure to encode exactly as
    /// `JSON.parse(text).canonicalBytes` would — an escape or a control character in a
    /// string, a key that is not plain ASCII, a duplicate key, invalid UTF-8 or anything that
    /// is not JSON: then parse the text instead.
    public static func canonicalBytes(ofText text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        guard appendCanonicalBytes(ofText: text, to: &out) else { return nil }
        return out
    }

    /// The same encoding appended to `out` (verify writes payload and metadata straight into
    /// the bytes an event's hash covers); false, with `out` as it was, where
    /// `canonicalBytes(ofText:)` would give nil.
    public static func appendCanonicalBytes(ofText text: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        let start = out.count
        var transcoder = CanonicalTranscoder(bytes: text)
        transcoder.skipWhitespace()
        if transcoder.value(into: &out, depth: 0) {
            transcoder.skipWhitespace()
            if transcoder.index == text.count { return true }
        }
        out.removeSubrange(start...)
        return false
    }
}

/// See `JSON.canonicalBytes(ofText:)`. Follows `JSON.Parser`'s grammar and limits, and
/// gives up (false) where the parser would fail or where its output could differ.
private struct CanonicalTranscoder {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func value(into out: inout [UInt8], depth: Int) -> Bool {
        guard depth < 512, index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "{"): return object(into: &out, depth: depth)
        case UInt8(ascii: "["): return array(into: &out, depth: depth)
        case UInt8(ascii: "\""):
            guard let range = string(asciiOnly: false) else { return false }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[range]))
            out.append(UInt8(ascii: "\""))
            return true
        default:
            guard let range = scalar() else { return false }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[range]))
            return true
        }
    }

    /// A literal or a number, whose canonical encoding is its text: its range, or nil.
    mutating func scalar() -> Range<Int>? {
        switch bytes[index] {
        case UInt8(ascii: "t"): literal("true")
        case UInt8(ascii: "f"): literal("false")
        case UInt8(ascii: "n"): literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): number()
        default: nil
        }
    }

    mutating func literal(_ word: StaticString) -> Range<Int>? {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return nil }
        for i in 0..<count where bytes[index + i] != word.utf8Start[i] { return nil }
        index += count
        return (index - count)..<index
    }

    /// The number exactly as written, as the parser keeps it.
    mutating func number() -> Range<Int>? {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let intStart = index
        let intDigits = digits()
        guard intDigits > 0, intDigits == 1 || bytes[intStart] != UInt8(ascii: "0") else { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return nil }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return nil }
        }
        return start..<index
    }

    mutating func digits() -> Int {
        let start = index
        while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 }
        return index - start
    }

    /// The bytes between the quotes of a string with no escape and no control character,
    /// valid UTF-8 (only ASCII when `asciiOnly`); nil otherwise.
    mutating func string(asciiOnly: Bool) -> Range<Int>? {
        index += 1  // opening quote
        let start = index
        var ascii = true
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                let range = start..<index
                index += 1
                if !ascii {
                    guard !asciiOnly, Self.isValidUTF8(UnsafeBufferPointer(rebasing: bytes[range])) else { return nil }
                }
                return range
            }
            if b == UInt8(ascii: "\\") || b < 0x20 { return nil }
            if b >= 0x80 { ascii = false }
            index += 1
        }
        return nil
    }

    mutating func object(into out: inout [UInt8], depth: Int) -> Bool {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            out.append(contentsOf: [UInt8(ascii: "{"), UInt8(ascii: "}")])
            return true
        }
        // A string, number or literal member encodes as its own text: it is copied from the
        // input in key order. Other values are transcoded one after another into one scratch
        // buffer, then copied out: a flat object (every payload and metadata) costs one
        // allocation, a nested one two.
        var members: [(key: Range<Int>, value: Range<Int>, inScratch: Bool)] = []
        var scratch: [UInt8] = []
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = string(asciiOnly: true) else {
                return false
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
            index += 1
            skipWhitespace()
            // The parser's depth limit holds for a member of any kind.
            guard depth + 1 < 512, index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let start = scratch.count
                guard value(into: &scratch, depth: depth + 1) else { return false }
                members.append((key, start..<scratch.count, true))
            case UInt8(ascii: "\""):
                guard let text = string(asciiOnly: false) else { return false }
                members.append((key, (text.lowerBound - 1)..<(text.upperBound + 1), false))
            default:
                guard let range = scalar() else { return false }
                members.append((key, range, false))
            }
            skipWhitespace()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { return false }
            index += 1
            break
        }
        let bytes = self.bytes
        members.sort { a, b in
            UnsafeBufferPointer(rebasing: bytes[a.key]).lexicographicallyPrecedes(UnsafeBufferPointer(rebasing: bytes[b.key]))
        }
        out.append(UInt8(ascii: "{"))
        for (i, member) in members.enumerated() {
            let key = UnsafeBufferPointer(rebasing: bytes[member.key])
            // The parser refuses a key given twice.
            if i > 0, key.elementsEqual(UnsafeBufferPointer(rebasing: bytes[members[i - 1].key])) { return false }
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: key)
            out.append(UInt8(ascii: "\""))
            out.append(UInt8(ascii: ":"))
            if member.inScratch {
                out.append(contentsOf: scratch[member.value])
            } else {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[member.value]))
            }
        }
        out.append(UInt8(ascii: "}"))
        return true
    }

    mutating func array(into out: inout [UInt8], depth: Int) -> Bool {
        index += 1
        out.append(UInt8(ascii: "["))
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            out.append(UInt8(ascii: "]"))
            return true
        }
        var first = true
        while true {
            skipWhitespace()
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            guard value(into: &out, depth: depth + 1) else { return false }
            skipWhitespace()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { return false }
            index += 1
            out.append(UInt8(ascii: "]"))
            return true
        }
    }

    /// Whether `bytes` is well-formed UTF-8 (no overlong forms, surrogates or values past
    /// U+10FFFF): only then does the parser's `String` keep them unchanged.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 {
                i += 1
                continue
            }
            func continuation(_ k: Int) -> Bool { i + k < n && bytes[i + k] & 0xC0 == 0x80 }
            switch b0 {
            case 0xC2...0xDF:
                guard continuation(1) else { return false }
                i += 2
            case 0xE0...0xEF:
                guard continuation(1), continuation(2) else { return false }
                let b1 = bytes[i + 1]
                if b0 == 0xE0, b1 < 0xA0 { return false }  // overlong
                if b0 == 0xED, b1 > 0x9F { return false }  // surrogate
                i += 3
            case 0xF0...0xF4:
                guard continuation(1), continuation(2), continuation(3) else { return false }
                let b1 = bytes[i + 1]
                if b0 == 0xF0, b1 < 0x90 { return false }  // overlong
                if b0 == 0xF4, b1 > 0x8F { return false }  // past U+10FFFF
                i += 4
            default:
                return false
            }
        }
        return true
    }
}
