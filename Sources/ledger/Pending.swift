import ArgumentParser
struct BenchGroup: ParsableCommand { static let configuration = CommandConfiguration(commandName: "bench") }
