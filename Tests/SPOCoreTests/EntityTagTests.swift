import Testing

@testable import SPOCore

/// The `ETag` of a body and `If-None-Match` (RFC 9110 §13.1.2: weak comparison).
@Suite struct EntityTagTests {
    let tag = EntityTag(digestOf: Array(#"{"openapi":"3.0.3"}"#.utf8))

    @Test func theTagIsTheBodysDigestQuoted() {
        #expect(tag.opaque.count == 32 && tag.opaque.allSatisfy(\.isHexDigit))
        #expect(tag.header == "\"\(tag.opaque)\"")
        #expect(EntityTag(digestOf: Array(#"{"openapi":"3.0.3"}"#.utf8)) == tag, "equal bodies, equal tags")
        #expect(EntityTag(digestOf: Array(#"{"openapi":"3.0.4"}"#.utf8)) != tag)
    }

    @Test func ifNoneMatchNamesTheTagExactlyWeaklyInAListOrByStar() {
        #expect(tag.isMatched(byIfNoneMatch: tag.header))
        #expect(tag.isMatched(byIfNoneMatch: "W/" + tag.header), "nginx weakens the tag of a body it compressed")
        #expect(tag.isMatched(byIfNoneMatch: "\"0123\", \(tag.header) ,W/\"abcd\""))
        #expect(tag.isMatched(byIfNoneMatch: "*"))
    }

    @Test func otherTagsAndMalformedValuesDoNotMatch() {
        #expect(!tag.isMatched(byIfNoneMatch: ""))
        #expect(!tag.isMatched(byIfNoneMatch: "\"0123\""))
        #expect(!tag.isMatched(byIfNoneMatch: tag.opaque), "unquoted")
        #expect(!tag.isMatched(byIfNoneMatch: "\"\(tag.opaque.dropLast())\""))
        #expect(!tag.isMatched(byIfNoneMatch: "\"\(tag.opaque)x\""))
        #expect(!tag.isMatched(byIfNoneMatch: "w/" + tag.header), "W/ is case-sensitive")
    }
}
