import Foundation
import Synchronization

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// Lower-case hexadecimal digits of `bytes`, written straight into the string's storage
/// (this runs for every hash and key of an import).
public func hexString(_ sequence: some Sequence<UInt8>) -> String {
    let bytes = Array(sequence)
    return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
        var i = 0
        for b in bytes {
            out[i] = hexDigits[Int(b >> 4)]
            out[i + 1] = hexDigits[Int(b & 0xF)]
            i += 2
        }
        return i
    }
}

/// Random bytes from the kernel in 4 KiB refills instead of one system call per UUID.
private let randomPool = Mutex<(bytes: [UInt8], used: Int)>(([], 0))

extension UUID {
    /// A random (version 4) UUID. Foundation's `UUID()` makes a system call each time,
    /// about 3 µs; this draws from a pooled buffer of kernel randomness.
    public static func random() -> UUID {
        var b = randomPool.withLock { pool -> [UInt8] in
            if pool.used + 16 > pool.bytes.count {
                var fresh = [UInt8](repeating: 0, count: 4096)
                fresh.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, $0.count) }
                pool = (fresh, 0)
            }
            defer { pool.used += 16 }
            return Array(pool.bytes[pool.used..<pool.used + 16])
        }
        b[6] = (b[6] & 0x0F) | 0x40  // version 4
        b[8] = (b[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lower case, as PostgreSQL prints it.
    public var lowercasedString: String {
        let u = uuid
        let bytes = [u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
        return String(unsafeUninitializedCapacity: 36) { out in
            var i = 0
            for (k, b) in bytes.enumerated() {
                if k == 4 || k == 6 || k == 8 || k == 10 { out[i] = UInt8(ascii: "-"); i += 1 }
                out[i] = hexDigits[Int(b >> 4)]
                out[i + 1] = hexDigits[Int(b & 0xF)]
                i += 2
            }
            return i
        }
    }
}
