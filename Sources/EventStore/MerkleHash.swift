import Crypto

/// The hashes of the log's Merkle tree, exactly as RFC 6962 (section 2.1) defines them, so
/// that anyone can recompute a digest or check a proof with a few lines of their own code:
/// a leaf is SHA-256(0x00 ‖ event hash), an inner node SHA-256(0x01 ‖ left ‖ right), the
/// empty tree SHA-256 of nothing, and a range of n > 1 leaves splits at the largest power
/// of two below n. The different first bytes keep a leaf from passing for a node.
public enum MerkleHash {
    public static func leaf(_ eventHash: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x00])
        hasher.update(data: eventHash)
        return Array(hasher.finalize())
    }

    public static func node(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x01])
        hasher.update(data: left)
        hasher.update(data: right)
        return Array(hasher.finalize())
    }

    /// The root of the tree of no leaves.
    public static let empty: [UInt8] = Array(SHA256.hash(data: [UInt8]()))

    /// The largest power of two strictly below `n` (n ≥ 2): where RFC 6962 splits a range.
    static func split(_ n: Int64) -> Int64 {
        precondition(n >= 2)
        var k: Int64 = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// The root over `eventHashes` (the leaves' event hashes, in log order), in memory.
    public static func root(_ eventHashes: ArraySlice<[UInt8]>) -> [UInt8] {
        switch eventHashes.count {
        case 0: return empty
        case 1: return leaf(eventHashes.first!)
        default:
            let k = Int(split(Int64(eventHashes.count)))
            let lo = eventHashes.startIndex
            return node(root(eventHashes[lo..<lo + k]), root(eventHashes[(lo + k)...]))
        }
    }

    /// Whether `path` (nearest the leaf first) leads from leaf `index` of a tree of `size`
    /// leaves to `root` (RFC 9162, section 2.1.3.2).
    public static func verifyInclusion(
        eventHash: [UInt8], index: Int64, size: Int64, path: [[UInt8]], root: [UInt8]
    ) -> Bool {
        guard index >= 0, index < size else { return false }
        var fn = index
        var sn = size - 1
        var r = leaf(eventHash)
        for p in path {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = node(p, r)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                r = node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }
}
