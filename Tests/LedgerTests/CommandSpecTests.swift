import Testing
@testable import Ledger

/// The write command specs are the one declaration of each command: these hold them to it.
@Suite struct CommandSpecs {
    /// A shell command line as words: double quotes group, `\` at a line end continues it.
    static func words(_ line: String) -> [String] {
        var words: [String] = []
        var word: String?
        var quoted = false
        for c in line {
            if c == "\\" { continue }  // a line continuation: the newline after it separates
            if c == "\"" {
                quoted.toggle()
                word = word ?? ""
            } else if c.isWhitespace && !quoted {
                if let w = word { words.append(w) }
                word = nil
            } else {
                word = (word ?? "") + String(c)
            }
        }
        if let w = word { words.append(w) }
        return words
    }

    @Test(arguments: LedgerCommand.names)
    func everyExampleParsesWithItsOwnSpec(name: String) throws {
        let spec = try #require(LedgerCommand.spec(named: name))
        let words = Self.words(spec.example)
        let prefix = ["ledger"] + name.split(separator: ".").map(String.init)
        #expect(Array(words.prefix(prefix.count)) == prefix, "\(spec.example)")
        var fields: [String: String] = [:]
        var rest = words.dropFirst(prefix.count)
        while let flag = rest.popFirst() {
            #expect(flag.hasPrefix("--"), "\(flag) in \(spec.example)")
            fields[String(flag.dropFirst(2))] = rest.popFirst()
        }
        // Every flag the spec reads is declared (a read of an undeclared one would trap).
        let command = try LedgerCommand.parse(spec, fields: fields, today: TestLedger.today)
        #expect(command.name == name)
        #expect(Set(command.fields.keys).isSubset(of: Set(spec.flags.map(\.name))))
    }

    @Test func namesAreUniqueAndFlagsAreUniquePerCommand() {
        #expect(Set(LedgerCommand.names).count == LedgerCommand.names.count)
        for spec in LedgerCommand.specs {
            let flags = spec.flags.map(\.name)
            #expect(Set(flags).count == flags.count, "\(spec.name)")
            // An amount is in the command's currency: one flag says which.
            let amounts = spec.flags.filter { if case .money = $0.kind { true } else { false } }
            #expect(amounts.isEmpty || spec.flags.contains { $0.name == "currency" }, "\(spec.name)")
        }
    }

}
