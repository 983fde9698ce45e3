import EventStore
import JSON
import Testing

/// The digest object and the Merkle hashes, without a database.
@Suite struct LogDigestTests {
    static let root = String(repeating: "ab", count: 32)
    static let object: JSON = ["size": 5, "root": .string(root), "position": 9, "recorded_at": "2026-11-27T09:00:00.000000Z"]

    @Test func aDigestIsReadFromItsObjectAPeriodCloseOrAnEventRow() throws {
        let expected = try LogDigest(json: Self.object)
        #expect(expected.size == 5)
        #expect(expected.position == 9)
        #expect(expected.json == Self.object)
        let close: JSON = ["through": "2026-10-31", "reason": "month end", "digest": Self.object]
        #expect(try LogDigest(json: close) == expected)
        let row: JSON = ["position": 12, "type": "period.closed", "payload": close]
        #expect(try LogDigest(json: .array([row])) == expected)
    }

    @Test func aMalformedDigestIsRefusedWithTheReason() {
        #expect(throws: LogDigest.FormatError.self) { try LogDigest(json: ["size": 5]) }
        #expect(throws: LogDigest.FormatError.self) { try LogDigest(json: ["size": 5, "root": "abc"]) }
        #expect(throws: LogDigest.FormatError.self) { try LogDigest(json: ["size": -1, "root": .string(Self.root)]) }
        #expect(throws: LogDigest.FormatError.self) { try LogDigest(json: .array([Self.object, Self.object])) }
    }

    /// RFC 6962's shape: three leaves hash as node(node(a, b), c), and every audit path of
    /// a small tree verifies while a wrong index does not.
    @Test func rootsAndInclusionFollowRFC6962() {
        let leaves: [[UInt8]] = (0..<7).map { [UInt8](repeating: UInt8($0), count: 32) }
        let (a, b, c) = (MerkleHash.leaf(leaves[0]), MerkleHash.leaf(leaves[1]), MerkleHash.leaf(leaves[2]))
        #expect(MerkleHash.root(leaves[0..<3]) == MerkleHash.node(MerkleHash.node(a, b), c))
        // Leaf 2 of 3: its path is [node(a, b)].
        #expect(MerkleHash.verifyInclusion(eventHash: leaves[2], index: 2, size: 3, path: [MerkleHash.node(a, b)], root: MerkleHash.root(leaves[0..<3])))
        #expect(!MerkleHash.verifyInclusion(eventHash: leaves[2], index: 1, size: 3, path: [MerkleHash.node(a, b)], root: MerkleHash.root(leaves[0..<3])))
        #expect(MerkleHash.root(leaves[0..<0]) == MerkleHash.empty)
    }
}
