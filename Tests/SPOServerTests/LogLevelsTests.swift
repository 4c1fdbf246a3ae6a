import Logging
import Testing

@testable import SPOServer

@Suite struct LogLevelsTests {
    @Test func unsetOrEmptyIsInfoForEveryComponent() throws {
        for text in ["", "  "] {
            let levels = try LogLevels(parsing: text)
            #expect(LogComponent.allCases.allSatisfy { levels.level(of: $0) == .info })
        }
    }

    @Test func aBareLevelSetsEveryComponent() throws {
        let levels = try LogLevels(parsing: "warning")
        #expect(LogComponent.allCases.allSatisfy { levels.level(of: $0) == .warning })
    }

    @Test func componentsGetTheirOwnLevelsOverTheDefault() throws {
        let levels = try LogLevels(parsing: "info, executor=debug,audit=WARNING")
        #expect(levels.level(of: .executor) == .debug)
        #expect(levels.level(of: .audit) == .warning)
        #expect(levels.level(of: .worker) == .info)
        #expect(levels.level(of: .supervisor) == .info)
    }

    @Test func onlyComponentsLeavesTheDefaultAtInfo() throws {
        let levels = try LogLevels(parsing: "postgres=debug")
        #expect(levels.level(of: .postgres) == .debug)
        #expect(levels.level(of: .worker) == .info)
    }

    @Test func anUnknownLevelNamesTheLevelsAllowed() {
        #expect {
            try LogLevels(parsing: "info,executor=verbose")
        } throws: { error in
            let text = "\(error)"
            return text.contains("\"verbose\"") && text.contains("trace, debug, info, notice, warning, error, critical")
        }
    }

    @Test func anUnknownComponentNamesTheComponents() {
        #expect {
            try LogLevels(parsing: "info,exector=debug")
        } throws: { error in
            let text = "\(error)"
            return text.contains("\"exector\"") && text.contains("supervisor, worker, executor, audit")
        }
    }

    @Test func emptyItemsAndRepeatsAreRefused() {
        for text in ["info,", "info,,audit=debug", "info,debug", "audit=debug,audit=info", "=debug"] {
            #expect(throws: LogLevels.Problem.self, "\(text)") { try LogLevels(parsing: text) }
        }
    }
}
