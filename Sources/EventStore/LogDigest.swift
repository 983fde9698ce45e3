import Foundation
import JSON
import Postgres

/// The log's digest: the size and Merkle root (RFC 6962, `MerkleHash`) of the event hashes in
/// log order — the gap-free (transaction id, position) order readers use, settled
/// transactions only. Kept outside the database (or in a period close), it pins the log: a
/// later log that does not hold exactly these events, in this order, as its prefix gives a
/// different root for its first `size` events (`ledger verify --digest`).
///
///     let digest = try LogDigest.current(on: db)      // as `ledger digest` prints it
///     payload["digest"] = digest.json
///
/// Cheap: the tree's upper part is stored (`log_blocks`, `log_nodes`, `log_tail`,
/// Schema/018_log_digest_blocks.sql), extended in log order by whoever may write; a reader that may
/// not (a ledger_reporting login, a hot standby) hashes only the events stored after them.
public struct LogDigest: Sendable, Equatable {
    /// How many events the digest covers.
    public var size: Int64
    /// The Merkle tree's root (32 bytes).
    public var root: [UInt8]
    /// The global position of the last event covered (nil for an empty log).
    public var position: Int64?
    /// When that event was recorded (RFC 3339, as `ledger events` prints it).
    public var recordedAt: String?

    public init(size: Int64, root: [UInt8], position: Int64?, recordedAt: String?) {
        self.size = size
        self.root = root
        self.position = position
        self.recordedAt = recordedAt
    }

    /// The object `ledger digest --format json` prints and a period close stores:
    /// `{"size", "root", "position", "recorded_at"}`.
    public var json: JSON {
        [
            "size": JSON(size), "root": .string(hexString(root)),
            "position": position.map { JSON($0) } ?? .null,
            "recorded_at": recordedAt.map { .string($0) } ?? .null,
        ]
    }

    /// A digest read back from its JSON object; also accepts what holds one: a period
    /// close's payload (`{"digest": {…}}`), an event row of `ledger events` (`payload.digest`)
    /// or a one-element JSON array of either.
    public init(json: JSON) throws(FormatError) {
        var value = json
        if case .array(let items) = value {
            guard items.count == 1 else { throw FormatError("expected one digest object, found a list of \(items.count)") }
            value = items[0]
        }
        if let inner = value["payload"]?["digest"] ?? value["digest"] { value = inner }
        guard case .object = value else { throw FormatError("expected a JSON object with size and root") }
        guard let size = value["size"]?.intValue, size >= 0 else {
            throw FormatError("\"size\" must be a whole number of events")
        }
        guard let hex = value["root"]?.stringValue, let root = Self.bytes(hex: hex), root.count == 32 else {
            throw FormatError("\"root\" must be 64 hexadecimal digits")
        }
        self.size = size
        self.root = root
        self.position = value["position"]?.intValue
        self.recordedAt = value["recorded_at"]?.stringValue
    }

    /// Why a digest file could not be read.
    public struct FormatError: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    // MARK: Computing

    /// The digest of the log as it stands: every settled event, in log order. Extends the
    /// stored tree first when this login may (see `extend(on:)`); otherwise, or on a
    /// standby, writes nothing and hashes the events stored after it in memory. Inside the
    /// caller's transaction when there is one (a period close takes it just before its own
    /// event), else in one read-only snapshot.
    public static func current(on db: PostgresConnection, extending: Bool = true) throws(EventStoreError) -> LogDigest {
        if extending { _ = try extend(on: db) }
        return try reading(db) { tree in try tree.digest() }
    }

    /// The audit path from the event at `position` to the current root, or nil when no
    /// settled event has that position.
    public static func proof(ofPosition position: Int64, on db: PostgresConnection, extending: Bool = true)
        throws(EventStoreError) -> InclusionProof?
    {
        if extending { _ = try extend(on: db) }
        return try reading(db) { tree in try tree.proof(ofPosition: position) }
    }

    /// Stores the tree's leaves and complete subtrees for the settled events not stored yet
    /// (`extend_log_digest()`, Schema/018_log_digest_blocks.sql) and returns how many leaves are
    /// stored, or nil — writing nothing — when this login may not (ledger_reporting), the
    /// server is a standby, or the transaction is read-only.
    @discardableResult
    public static func extend(on db: PostgresConnection) throws(EventStoreError) -> Int64? {
        do {
            let allowed = try db.query(
                """
                SELECT has_function_privilege('extend_log_digest(bigint)', 'EXECUTE')
                   AND NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'
                """)[0].decode(Bool.self, at: 0)
            guard allowed else { return nil }
            return try db.query("SELECT extend_log_digest()", prepared: true)[0].decode(Int64.self, at: 0)
        } catch {
            throw EventStoreError.from(error)
        }
    }

    private static func reading<T>(_ db: PostgresConnection, _ body: (inout LogTree) throws -> T)
        throws(EventStoreError) -> T
    {
        do {
            return try SettledSnapshot.run(on: db, readOnly: true) { db, horizon in
                var tree = try LogTree.load(db, horizon: horizon)
                return try body(&tree)
            }
        } catch let error as EventStoreError {
            throw error
        } catch let error as PostgresError {
            throw EventStoreError.from(error)
        } catch {
            throw .database(PostgresError(kind: .client, message: "\(error)"))
        }
    }
}

/// That one event is in the log whose digest is (`size`, `root`): hash the event's leaf
/// with each `path` hash in turn, nearest the leaf first, and the root comes out (RFC 6962
/// audit path; `MerkleHash.verifyInclusion`).
public struct InclusionProof: Sendable, Equatable {
    public var position: Int64
    /// The event's place in log order, from 0.
    public var index: Int64
    public var size: Int64
    public var root: [UInt8]
    /// The event's stored hash; its leaf hash is SHA-256(0x00 ‖ leaf).
    public var leaf: [UInt8]
    public var path: [[UInt8]]

    /// `{"position", "index", "size", "root", "leaf", "path"}` as `ledger prove` prints it.
    public var json: JSON {
        [
            "position": JSON(position), "index": JSON(index), "size": JSON(size), "root": .string(hexString(root)),
            "leaf": .string(hexString(leaf)), "path": .array(path.map { .string(hexString($0)) }),
        ]
    }
}

/// The log's Merkle tree as one snapshot sees it (Schema/018_log_digest_blocks.sql): complete
/// blocks of 256 leaves, whose subtrees from level 8 up are stored and whose lower levels are
/// hashed again from the block's events when a proof needs them; then the stored tail and the
/// settled events after it (`tail`) in memory. Reads only through `reporting.*` views, which
/// every login that may read reports can read.
struct LogTree {
    static let blockLevel = 8
    static let blockSize: Int64 = 1 << 8

    let db: PostgresConnection
    /// Leaves 0 ..< complete are in complete blocks (`log_blocks`).
    let complete: Int64
    /// Where the last complete block ends in the log.
    let completeEnd: Checkpoint?
    /// Leaves complete ..< size: the stored tail, then (unless `storedOnly`) the settled
    /// events after it.
    var tailPositions: [Int64]
    var tailHashes: [[UInt8]]
    private var nodes: [NodeKey: [UInt8]] = [:]
    private var blocks: [Int64: (positions: [Int64], hashes: [[UInt8]])] = [:]

    struct NodeKey: Hashable {
        var level: Int
        var index: Int64
    }

    var size: Int64 { complete + Int64(tailHashes.count) }

    /// `storedOnly`: the stored tree alone (complete blocks and the stored tail), without
    /// the events after it.
    static func load(_ db: PostgresConnection, horizon: String, storedOnly: Bool = false) throws -> LogTree {
        var complete: Int64 = 0
        var after = Checkpoint.start
        if let row = try db.query(
            "SELECT index, transaction_id::text::bigint, position FROM reporting.log_blocks ORDER BY index DESC LIMIT 1",
            prepared: true
        ).first {
            complete = (try row.decode(Int64.self, at: 0) + 1) * blockSize
            after = Checkpoint(
                transactionID: UInt64(try row.decode(Int64.self, at: 1)), position: try row.decode(Int64.self, at: 2))
        }
        let completeEnd = complete > 0 ? after : nil
        var positions: [Int64] = []
        var hashes: [[UInt8]] = []
        for row in try db.query(
            """
            SELECT index, transaction_id::text::bigint, position, hash FROM reporting.log_tail
            WHERE index >= $1 ORDER BY index
            """, [complete], prepared: true)
        {
            // Numbered on from the last block, without gaps (extend_log_digest()).
            guard try row.decode(Int64.self, at: 0) == complete + Int64(positions.count) else { break }
            after = Checkpoint(
                transactionID: UInt64(try row.decode(Int64.self, at: 1)), position: try row.decode(Int64.self, at: 2))
            positions.append(after.position)
            hashes.append(try row.decode(Bytes.self, at: 3).bytes)
        }
        if !storedOnly {
            try SettledSnapshot.forEachEvent(on: db, horizon: horizon, after: after, columns: "hash") { row, at in
                positions.append(at.position)
                hashes.append(try row.decode(Bytes.self, at: 2).bytes)
            }
        }
        return LogTree(db: db, complete: complete, completeEnd: completeEnd, tailPositions: positions, tailHashes: hashes)
    }

    func digest() throws -> LogDigest {
        var tree = self
        let size = tree.size
        guard size > 0 else { return LogDigest(size: 0, root: MerkleHash.empty, position: nil, recordedAt: nil) }
        let root = try tree.hash(0, size)
        let position = tailPositions.last ?? completeEnd!.position
        let recordedAt = try db.query(
            "SELECT recorded_at FROM reporting.event_log WHERE position = $1", [position], prepared: true
        ).first?.decode(Timestamp.self, at: 0).description
        return LogDigest(size: size, root: root, position: position, recordedAt: recordedAt)
    }

    mutating func proof(ofPosition position: Int64) throws -> InclusionProof? {
        let index: Int64
        if let i = tailPositions.firstIndex(of: position) {
            index = complete + Int64(i)
        } else if let row = try db.query(
            // The first block ending at or after the event in log order holds it, if any does.
            """
            SELECT b.index FROM reporting.log_blocks b
            WHERE (b.transaction_id, b.position)
                  >= ((SELECT e.transaction_id FROM reporting.event_log e WHERE e.position = $1), $1::bigint)
            ORDER BY b.transaction_id, b.position LIMIT 1
            """, [position], prepared: true
        ).first {
            let block = try row.decode(Int64.self, at: 0)
            guard let i = try self.block(block).positions.firstIndex(of: position) else { return nil }
            index = block * Self.blockSize + Int64(i)
        } else {
            return nil
        }
        let size = self.size
        let path = try auditPath(index, 0, size)
        return InclusionProof(
            position: position, index: index, size: size, root: try hash(0, size),
            leaf: try leafEvent(at: index).hash, path: path)
    }

    /// PATH(m, D[lo:hi]) of RFC 6962, nearest the leaf first.
    private mutating func auditPath(_ m: Int64, _ lo: Int64, _ hi: Int64) throws -> [[UInt8]] {
        let n = hi - lo
        guard n > 1 else { return [] }
        let k = MerkleHash.split(n)
        if m < lo + k {
            return try auditPath(m, lo, lo + k) + [hash(lo + k, hi)]
        }
        return try auditPath(m, lo + k, hi) + [hash(lo, lo + k)]
    }

    /// MTH(D[lo:hi]): from memory when the range lies in the tail, from a stored node when it
    /// is a complete subtree of a block or more, from its block's events when it is a smaller
    /// complete subtree, else split as RFC 6962 does.
    mutating func hash(_ lo: Int64, _ hi: Int64) throws -> [UInt8] {
        let n = hi - lo
        if lo >= complete {
            return MerkleHash.root(tailHashes[Int(lo - complete)..<Int(hi - complete)])
        }
        if n & (n - 1) == 0, hi <= complete {
            let level = n.trailingZeroBitCount
            if level < Self.blockLevel {
                let block = try self.block(lo / Self.blockSize)
                let start = Int(lo % Self.blockSize)
                return MerkleHash.root(block.hashes[start..<start + Int(n)])
            }
            if let node = try storedNode(level: level, index: lo >> level) { return node }
        }
        let k = MerkleHash.split(n)
        return MerkleHash.node(try hash(lo, lo + k), try hash(lo + k, hi))
    }

    private mutating func storedNode(level: Int, index: Int64) throws -> [UInt8]? {
        let key = NodeKey(level: level, index: index)
        if let node = nodes[key] { return node }
        let rows = try db.query(
            "SELECT hash FROM reporting.log_nodes WHERE level = $1 AND index = $2", [level, index], prepared: true)
        guard let row = rows.first else { return nil }
        let node = try row.decode(Bytes.self, at: 0).bytes
        nodes[key] = node
        return node
    }

    /// The events of complete block `index`, read back from the log by their range in log
    /// order (after the previous block's last event, up to this one's), and checked against
    /// the block's stored root: a proof is never built from events that are not the ones
    /// digested.
    private mutating func block(_ index: Int64) throws -> (positions: [Int64], hashes: [[UInt8]]) {
        if let block = blocks[index] { return block }
        var positions: [Int64] = []
        var hashes: [[UInt8]] = []
        positions.reserveCapacity(Int(Self.blockSize))
        hashes.reserveCapacity(Int(Self.blockSize))
        // Where the block starts and ends in log order, then its events by that range of the
        // log's index (bound values: a join here would make PostgreSQL scan the whole log).
        var start = Checkpoint.start
        var end: Checkpoint?
        for row in try db.query(
            "SELECT index, transaction_id::text::bigint, position FROM reporting.log_blocks WHERE index IN ($1 - 1, $1)",
            [index], prepared: true)
        {
            let at = Checkpoint(
                transactionID: UInt64(try row.decode(Int64.self, at: 1)), position: try row.decode(Int64.self, at: 2))
            if try row.decode(Int64.self, at: 0) == index { end = at } else { start = at }
        }
        if let end {
            for row in try db.query(
                """
                SELECT position, hash FROM reporting.event_log
                WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)
                  AND (transaction_id, position) <= ($3::text::xid8, $4::bigint)
                ORDER BY transaction_id, position
                LIMIT 257
                """, [String(start.transactionID), start.position, String(end.transactionID), end.position], prepared: true
            ) {
                positions.append(try row.decode(Int64.self, at: 0))
                hashes.append(try row.decode(Bytes.self, at: 1).bytes)
            }
        }
        let first = index * Self.blockSize
        guard hashes.count == Int(Self.blockSize), let stored = try storedNode(level: Self.blockLevel, index: index),
            MerkleHash.root(hashes[...]) == stored
        else {
            throw EventStoreError.tamperedLog(
                "the events of leaves \(first)…\(first + Self.blockSize - 1) of the log's digest tree are no longer the ones digested (an event was changed, deleted or moved since): no proof can be given — ledger verify --digest with an earlier digest names the first difference")
        }
        blocks[index] = (positions, hashes)
        return (positions, hashes)
    }

    private mutating func leafEvent(at index: Int64) throws -> (position: Int64, hash: [UInt8]) {
        if index >= complete { return (tailPositions[Int(index - complete)], tailHashes[Int(index - complete)]) }
        let block = try self.block(index / Self.blockSize)
        let i = Int(index % Self.blockSize)
        return (block.positions[i], block.hashes[i])
    }
}

// MARK: Checking a digest against the log

/// What `ledger verify --digest` found: the log still holds the digest's events as its
/// prefix, or where it stops doing so.
public enum DigestCheck: Sendable, Equatable {
    case holds
    /// `position`: the first position that differs, when it can be named (the digest's
    /// event at that place in the log, else the event now there).
    case differs(position: Int64?, message: String)
}

extension LogDigest {
    /// Recomputes the root of the first `size` settled events from the events themselves
    /// (never from the stored tree) and compares. When they differ, names the first
    /// difference: the stored leaves are used for that only if they reproduce this digest's
    /// root — then they are exactly the events the digest covered — and compared with the log
    /// one by one. Writes nothing.
    public func check(on db: PostgresConnection) throws(EventStoreError) -> DigestCheck {
        do {
            return try SettledSnapshot.run(on: db, readOnly: true) { db, horizon in
                try checkInSnapshot(db, horizon: horizon)
            }
        } catch let error as EventStoreError {
            throw error
        } catch let error as PostgresError {
            throw EventStoreError.from(error)
        } catch {
            throw .database(PostgresError(kind: .client, message: "\(error)"))
        }
    }

    private func checkInSnapshot(_ db: PostgresConnection, horizon: String) throws -> DigestCheck {
        var positions: [Int64] = []
        var hashes: [[UInt8]] = []
        positions.reserveCapacity(Int(min(size, 10_000_000)))
        hashes.reserveCapacity(Int(min(size, 10_000_000)))
        try SettledSnapshot.forEachEvent(on: db, horizon: horizon, limit: size, columns: "hash") { row, at in
            positions.append(at.position)
            hashes.append(try row.decode(Bytes.self, at: 2).bytes)
        }
        let rootHex = hexString(root)
        if hashes.count == Int(size), MerkleHash.root(hashes[...]) == root {
            if let position, let last = positions.last, last != position {
                return .differs(
                    position: position,
                    message: "the digest's last event (position \(position)) is now at position \(last): the log's events were moved")
            }
            return .holds
        }

        // Which event differs: from the leaves the stored tree recorded when they were
        // digested (position and hash prefix for complete blocks, the whole hash in the tail),
        // if they are the digest's own.
        var storedPositions: [Int64] = []
        var storedPrefixes: [UInt64] = []
        storedPositions.reserveCapacity(Int(min(size, 10_000_000)))
        storedPrefixes.reserveCapacity(Int(min(size, 10_000_000)))
        try db.forEachRow(
            "SELECT leaves FROM reporting.log_blocks WHERE index < $1 ORDER BY index",
            [(size + LogTree.blockSize - 1) / LogTree.blockSize]
        ) { row in
            try row.decode(Bytes.self, at: 0).bytes.withUnsafeBufferPointer { leaves in
                for leaf in 0..<leaves.count / 16 where storedPositions.count < Int(size) {
                    storedPositions.append(Int64(bitPattern: Self.bigEndian(leaves, at: leaf * 16)))
                    storedPrefixes.append(Self.bigEndian(leaves, at: leaf * 16 + 8))
                }
            }
        }
        let complete = Int64(storedPositions.count)
        if complete % LogTree.blockSize == 0 {
            try db.forEachRow(
                "SELECT index, position, hash FROM reporting.log_tail WHERE index >= $1 AND index < $2 ORDER BY index",
                [complete, size]
            ) { row in
                guard try row.decode(Int64.self, at: 0) == Int64(storedPositions.count) else { return }
                storedPositions.append(try row.decode(Int64.self, at: 1))
                storedPrefixes.append(try row.decode(Bytes.self, at: 2).bytes.withUnsafeBufferPointer { Self.bigEndian($0, at: 0) })
            }
        }
        // They are the digest's own when the stored tree gives its root; that cannot be
        // recomputed when the digest ends inside a block completed since (only the block's
        // root and its leaves' prefixes are kept): then the prefixes are compared as they are.
        var storedTree = try LogTree.load(db, horizon: horizon, storedOnly: true)
        let confirmable = size % LogTree.blockSize == 0 ? size <= storedTree.complete : size >= storedTree.complete
        guard storedPositions.count == Int(size),
            !confirmable || (size <= storedTree.size && (try? storedTree.hash(0, size)) == root)
        else {
            if hashes.count < Int(size) {
                return .differs(
                    position: nil,
                    message: "the log holds \(hashes.count) settled events but the digest covers \(size): \(Int(size) - hashes.count) or more are missing (root \(rootHex))")
            }
            return .differs(
                position: nil,
                message: "the log's first \(size) events do not give the digest's root \(rootHex): an event was changed, deleted, inserted or reordered (the stored digest tree does not match the digest either, so the first difference cannot be named)")
        }
        for i in 0..<Int(size) {
            let digested = storedPositions[i]
            guard i < hashes.count else {
                return .differs(
                    position: digested,
                    message: "the log ends after \(i) of the digest's \(size) events: the event at position \(digested) and \(Int(size) - i - 1) after it are missing")
            }
            if positions[i] == digested, hashes[i].withUnsafeBufferPointer({ Self.bigEndian($0, at: 0) }) == storedPrefixes[i] {
                continue
            }
            if positions[i] == digested {
                return .differs(
                    position: digested,
                    message: "event \(i) of the digest's \(size) was changed: its hash is not the one the digest covers")
            }
            if let now = positions.firstIndex(of: digested) {
                return .differs(
                    position: digested,
                    message: "event \(i) of the digest's \(size) is now event \(now) of the log (position \(positions[i]) took its place): events were deleted, inserted or reordered")
            }
            return .differs(
                position: digested,
                message: "event \(i) of the digest's \(size) is missing from the log (position \(positions[i]) is in its place): it was deleted")
        }
        // Same leaves, different root: cannot happen unless SHA-256 (or, in a block completed
        // after the digest, a 64-bit hash prefix) collides.
        return .differs(position: nil, message: "the log's first \(size) events do not give the digest's root \(rootHex)")
    }

    /// The 8 bytes at `offset` as a big-endian number.
    static func bigEndian(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for byte in bytes[offset..<offset + 8] { value = value << 8 | UInt64(byte) }
        return value
    }
}
