/// The name of an event stream: one stream per aggregate instance, `<kind>-<id>`
/// (`startup-sakana-ai`, `investment-sakana-seed`, `lab-tokyo-ai-lab`, `order-ntt-001`,
/// `supply-h100-sxm5-80gb`). The event store orders and versions events per stream, which is
/// what makes each aggregate's decision consistent under concurrent writers.
public struct StreamName: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public static func startup(_ id: String) -> StreamName { StreamName(rawValue: "startup-" + id) }
    public static func investment(_ id: String) -> StreamName { StreamName(rawValue: "investment-" + id) }
    public static func lab(_ id: String) -> StreamName { StreamName(rawValue: "lab-" + id) }
    public static func order(_ id: String) -> StreamName { StreamName(rawValue: "order-" + id) }
    public static func supply(sku: String) -> StreamName { StreamName(rawValue: "supply-" + sku) }
    /// Every period close and reopen.
    public static let periods = StreamName(rawValue: "periods")

    /// The kinds of stream, in the prefix form they take in a name.
    public static let kinds = ["startup", "investment", "lab", "order", "supply", "fx"]

    /// The kind (`order`) and id (`ntt-001`) of a well-formed stream name, else nil.
    public var parts: (kind: String, id: String)? {
        for kind in StreamName.kinds where rawValue.hasPrefix(kind + "-") {
            let id = String(rawValue.dropFirst(kind.count + 1))
            if (try? Identifier(id)) != nil { return (kind, id) }
        }
        return nil
    }

    public var description: String { rawValue }

    public static func < (lhs: StreamName, rhs: StreamName) -> Bool { lhs.rawValue < rhs.rawValue }
}
