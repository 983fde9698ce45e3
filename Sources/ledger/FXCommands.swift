import ArgumentParser

struct FXGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fx", abstract: "Record exchange rates for reports in a reporting currency.",
        subcommands: writeCommands(in: "fx"))
}
