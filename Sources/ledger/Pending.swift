import ArgumentParser
struct DemoCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "demo") }
struct BenchGroup: ParsableCommand { static let configuration = CommandConfiguration(commandName: "bench") }
