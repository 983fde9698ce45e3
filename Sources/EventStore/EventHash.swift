import Crypto
import Foundation
import JSON
import Postgres

/// The hash chain: each event's hash is SHA-256 over its predecessor's hash (32 zero bytes
/// for a stream's first event) followed by the canonical JSON encoding of
/// `[event_id, stream, version, type, schema_version, business_date, payload, metadata]`.
/// Canonical JSON (sorted keys, no whitespace, numbers as written) survives a JSONB round
/// trip, so `verify` can recompute every hash from what PostgreSQL returns.
public enum EventHash {
    public static let genesis = [UInt8](repeating: 0, count: 32)

    public static func hash(
        previous: [UInt8], eventID: UUID, stream: String, version: Int64, type: String, schemaVersion: Int,
        businessDate: SQLDate, payload: JSON, metadata: JSON
    ) -> [UInt8] {
        hash(
            previous: previous, eventID: eventID, stream: stream, version: version, type: type,
            schemaVersion: schemaVersion, businessDate: businessDate, canonicalPayload: payload.canonicalBytes,
            canonicalMetadata: metadata.canonicalBytes)
    }

    /// The same hash from payload and metadata already in canonical JSON (a writer that
    /// also sends those bytes to the database encodes them once).
    public static func hash(
        previous: [UInt8], eventID: UUID, stream: String, version: Int64, type: String, schemaVersion: Int,
        businessDate: SQLDate, canonicalPayload: [UInt8], canonicalMetadata: [UInt8]
    ) -> [UInt8] {
        hash(
            previous: previous,
            body: body(
                eventID: eventID, stream: stream, version: version, type: type, schemaVersion: schemaVersion,
                businessDate: businessDate, canonicalPayload: canonicalPayload, canonicalMetadata: canonicalMetadata))
    }

    /// What the hash covers besides the previous hash: the canonical encoding of the array.
    /// It needs nothing but the event, so `verify` encodes it on any core and only chains
    /// the hashes in log order.
    public static func body(
        eventID: UUID, stream: String, version: Int64, type: String, schemaVersion: Int,
        businessDate: SQLDate, canonicalPayload: [UInt8], canonicalMetadata: [UInt8]
    ) -> [UInt8] {
        body(
            eventID: eventID, stream: stream, version: version, type: type, schemaVersion: schemaVersion,
            businessDate: businessDate, reserving: canonicalPayload.count + canonicalMetadata.count,
            payload: { $0.append(contentsOf: canonicalPayload) }, metadata: { $0.append(contentsOf: canonicalMetadata) })
    }

    /// The same bytes, with payload and metadata written in place by `payload` and
    /// `metadata` (each appends its document's canonical encoding): `verify` transcodes
    /// them from PostgreSQL's text straight into the body instead of into arrays of their
    /// own. `reserving`: about how many bytes the two will take.
    public static func body(
        eventID: UUID, stream: String, version: Int64, type: String, schemaVersion: Int,
        businessDate: SQLDate, reserving: Int, payload: (inout [UInt8]) throws -> Void,
        metadata: (inout [UInt8]) throws -> Void
    ) rethrows -> [UInt8] {
        try body(
            eventID: { JSON.writeString(eventID.lowercasedString, into: &$0) }, stream: stream, version: version,
            type: type, schemaVersion: schemaVersion, businessDate: businessDate, reserving: reserving,
            payload: payload, metadata: metadata)
    }

    /// The same bytes, with the event id's JSON string also written by a closure: `verify`
    /// copies PostgreSQL's text of the uuid when it is already the canonical form
    /// (`appendEventID(text:to:)`) instead of parsing it and printing it again.
    public static func body(
        eventID: (inout [UInt8]) -> Void, stream: String, version: Int64, type: String, schemaVersion: Int,
        businessDate: SQLDate, reserving: Int, payload: (inout [UInt8]) throws -> Void,
        metadata: (inout [UInt8]) throws -> Void
    ) rethrows -> [UInt8] {
        // The canonical encoding of the array, written element by element.
        var body: [UInt8] = [UInt8(ascii: "[")]
        body.reserveCapacity(reserving + 160)
        let comma = UInt8(ascii: ",")
        eventID(&body)
        body.append(comma)
        JSON.writeString(stream, into: &body)
        body.append(comma)
        body.append(contentsOf: String(version).utf8)
        body.append(comma)
        JSON.writeString(type, into: &body)
        body.append(comma)
        body.append(contentsOf: String(schemaVersion).utf8)
        body.append(comma)
        appendDate(businessDate, to: &body)
        body.append(comma)
        try payload(&body)
        body.append(comma)
        try metadata(&body)
        body.append(UInt8(ascii: "]"))
        return body
    }

    /// Appends `"YYYY-MM-DD"` exactly as `JSON.writeString(date.description)` would, without
    /// building the strings (verify writes one per event).
    static func appendDate(_ date: SQLDate, to out: inout [UInt8]) {
        guard (0...9999).contains(date.year), (0...99).contains(date.month), (0...99).contains(date.day) else {
            JSON.writeString(date.description, into: &out)
            return
        }
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        out.append(UInt8(ascii: "\""))
        digits(date.year, 4)
        out.append(UInt8(ascii: "-"))
        digits(date.month, 2)
        out.append(UInt8(ascii: "-"))
        digits(date.day, 2)
        out.append(UInt8(ascii: "\""))
    }

    /// Appends the JSON string of an event id given as PostgreSQL prints a uuid, when that
    /// text is already what `JSON.writeString(id.lowercasedString)` writes (36 characters,
    /// lower-case hex, dashes at 8, 13, 18, 23 — `uuid_out` always prints that); false, with
    /// `out` unchanged, otherwise (then parse it and write it out).
    public static func appendEventID(text: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        guard canonicalEventID(text) else { return false }
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: text)
        out.append(UInt8(ascii: "\""))
        return true
    }

    /// Whether a uuid's text is the form `appendEventID(text:to:)` copies.
    public static func canonicalEventID(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard text.count == 36 else { return false }
        for (i, byte) in text.enumerated() {
            switch i {
            case 8, 13, 18, 23: guard byte == UInt8(ascii: "-") else { return false }
            default: guard (48...57).contains(byte) || (97...102).contains(byte) else { return false }
            }
        }
        return true
    }

    /// Whether SHA-256(previous ‖ body) is `stored`, without building the digest's array
    /// (verify checks one per event).
    public static func hash(previous: [UInt8], body: [UInt8], equals stored: [UInt8]) -> Bool {
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: body)
        return hasher.finalize().withUnsafeBytes { $0.elementsEqual(stored) }
    }

    /// SHA-256(previous ‖ body).
    public static func hash(previous: [UInt8], body: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: body)
        return Array(hasher.finalize())
    }

    public static func hash(of record: EventRecord, previous: [UInt8]) -> [UInt8] {
        hash(
            previous: previous, eventID: record.eventID, stream: record.stream, version: record.version,
            type: record.type, schemaVersion: record.schemaVersion, businessDate: record.businessDate,
            payload: record.payload, metadata: record.metadata)
    }
}
