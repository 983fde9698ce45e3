import ArgumentParser
struct DemoCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "demo") }
struct ProjectionsGroup: ParsableCommand { static let configuration = CommandConfiguration(commandName: "projections") }
struct ReportGroup: ParsableCommand { static let configuration = CommandConfiguration(commandName: "report") }
struct VerifyCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "verify") }
struct BenchGroup: ParsableCommand { static let configuration = CommandConfiguration(commandName: "bench") }
