import Testing

@testable import SPOCore

@Suite struct JSONMediaTypeTests {
    @Test(arguments: [
        "application/json", "application/json; charset=utf-8", "Application/JSON", "APPLICATION/JSON;charset=UTF-8",
        "application/merge-patch+json", "application/vnd.api+JSON",
    ])
    func jsonIsAccepted(_ contentType: String) {
        #expect(JSONMediaType.accepts(contentType))
    }

    @Test func noContentTypeIsAccepted() {
        #expect(JSONMediaType.accepts(nil))
        #expect(JSONMediaType.accepts(""))
    }

    @Test(arguments: [
        "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json",
        "application/jso", "application\u{0F}json", "text/json+xml", "+jsoN\u{0B}", "application/ｊson",
    ])
    func otherTypesAreRefused(_ contentType: String) {
        #expect(!JSONMediaType.accepts(contentType))
    }
}
