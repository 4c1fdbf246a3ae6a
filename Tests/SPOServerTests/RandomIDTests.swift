import Foundation
import Testing

@testable import SPOCore
@testable import SPOServer

@Suite struct RandomIDTests {
    @Test func idsAreVersion7UUIDs() {
        for _ in 0..<600 {  // more than one 4 KiB pool, so a refill happens
            let id = RandomID.uuid()
            #expect(id.count == 36)
            #expect(UUID(uuidString: id) != nil)
            let characters = Array(id)
            #expect(characters[14] == "7")
            #expect("89ab".contains(characters[19]))
            #expect(id == id.lowercased())
        }
    }

    @Test func idsFollowTheClock() throws {
        let before = UInt64(Date().timeIntervalSince1970 * 1000)
        let id = RandomID.uuid()
        let after = UInt64(Date().timeIntervalSince1970 * 1000)
        let stamp = try #require(UInt64(id.replacingOccurrences(of: "-", with: "").prefix(12), radix: 16))
        #expect(stamp >= before && stamp <= after)
        // Ids sort like their times, also within one millisecond (sub-millisecond bits).
        let earlier = RandomID.uuid()
        usleep(2000)
        #expect(earlier < RandomID.uuid())
        let burst = (0..<50).map { _ -> String in
            usleep(5)
            return RandomID.uuid()
        }
        #expect(burst == burst.sorted())
    }

    @Test func hexDigitsTakeTheShapeOfAUUID() {
        #expect(RandomID.uuid(fromHex: "00112233445566778899aabbccddeeff") == "00112233-4455-6677-8899-aabbccddeeff")
        #expect(RandomID.uuid(fromHex: "00112233445566778899AABBCCDDEEFF") == "00112233-4455-6677-8899-AABBCCDDEEFF")
        for odd in [
            "", "00112233445566778899aabbccddeef", "00112233445566778899aabbccddeeff0",
            "00112233445566778899aabbccddeefg", "00112233-4455-6677-8899-aabbccdd", "é0112233445566778899aabbccddeef",
        ] {
            #expect(RandomID.uuid(fromHex: odd) == nil, "\(odd)")
        }
    }

    @Test func idsDoNotRepeat() {
        let ids = (0..<2000).map { _ in RandomID.uuid() }
        #expect(Set(ids).count == ids.count)
    }
}
