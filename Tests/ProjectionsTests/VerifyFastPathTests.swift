import Ledger
import Testing

@testable import Projections

/// verify reads a row's type through `KnownTypes` (no `String` allocated for a name this
/// program writes): it must give back exactly the name read, and nothing for any other.
@Suite struct VerifyFastPathTests {
    @Test func knownTypesGiveBackTheNameReadAndNothingElse() {
        #expect(!LedgerEvent.types.isEmpty)
        for known in LedgerEvent.types {
            var text = known.type
            #expect(text.withUTF8 { KnownTypes.name($0) } == known.type)
            for other in [known.type + "x", String(known.type.dropLast()), known.type.uppercased(), "x" + known.type.dropFirst()] {
                var other = other
                #expect(other.withUTF8 { KnownTypes.name($0) } == nil, "\(other)")
            }
        }
        for other in ["", "order", "order.", "entry.reverse", "lab.expense_recorded ", "ordér.placed"] {
            var other = other
            #expect(other.withUTF8 { KnownTypes.name($0) } == nil, "\(other)")
        }
    }
}
