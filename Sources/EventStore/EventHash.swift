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
        // The canonical encoding of the array, written element by element.
        var body: [UInt8] = [UInt8(ascii: "[")]
        body.reserveCapacity(reserving + 160)
        let comma = UInt8(ascii: ",")
        JSON.writeString(eventID.lowercasedString, into: &body)
        body.append(comma)
        JSON.writeString(stream, into: &body)
        body.append(comma)
        body.append(contentsOf: String(version).utf8)
        body.append(comma)
        JSON.writeString(type, into: &body)
        body.append(comma)
        body.append(contentsOf: String(schemaVersion).utf8)
        body.append(comma)
        JSON.writeString(businessDate.description, into: &body)
        body.append(comma)
        try payload(&body)
        body.append(comma)
        try metadata(&body)
        body.append(UInt8(ascii: "]"))
        return body
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
