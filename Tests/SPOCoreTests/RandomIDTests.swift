import Foundation
import Testing

@testable import SPOCore

@Suite struct RandomIDTests {
    @Test func idsAreVersion4UUIDs() {
        for _ in 0..<600 {  // more than one 4 KiB pool, so a refill happens
            let id = RandomID.uuid()
            #expect(id.count == 36)
            #expect(UUID(uuidString: id) != nil)
            let characters = Array(id)
            #expect(characters[14] == "4")
            #expect("89ab".contains(characters[19]))
            #expect(id == id.lowercased())
        }
    }

    @Test func idsDoNotRepeat() {
        let ids = (0..<2000).map { _ in RandomID.uuid() }
        #expect(Set(ids).count == ids.count)
    }
}
