import Testing

@testable import SPOCore

@Suite struct HTTPHeadersTests {
    @Test func aHeaderIsFoundByItsNameAndAnAbsentOneIsNil() {
        let headers: HTTPHeaders = ["content-type": "application/json", "x-correlation-id": "c-1"]
        #expect(headers["x-correlation-id"] == "c-1")
        #expect(headers["content-type"] == "application/json")
        #expect(headers["authorization"] == nil)
        #expect(headers["Content-Type"] == nil, "names are given in lowercase")
    }

    /// The worker's form: the values of every parameter it read, the headers' first.
    @Test func valuesBeyondTheNamesBelongToNoHeader() {
        let headers = HTTPHeaders(names: ["prefer", "origin"], values: [nil, "https://a.example", "POST", "/x"])
        #expect(headers["prefer"] == nil)
        #expect(headers["origin"] == "https://a.example")
        #expect(headers["POST"] == nil && headers["/x"] == nil)
    }

    @Test func settingAddsReplacesAndRemoves() {
        var headers = HTTPHeaders(names: ["prefer"], values: ["respond-async", "trailing"])
        headers["authorization"] = "Bearer k"
        #expect(headers["authorization"] == "Bearer k")
        #expect(headers["prefer"] == "respond-async")
        headers["prefer"] = nil
        #expect(headers["prefer"] == nil)
        headers["authorization"] = "Bearer other"
        #expect(headers["authorization"] == "Bearer other")
        headers["if-none-match"] = nil
        #expect(headers["if-none-match"] == nil)
    }

    @Test func aDictionaryBecomesTheSameHeaders() {
        let headers = HTTPHeaders(["accept-encoding": "gzip", "origin": "https://b.example"])
        #expect(headers["accept-encoding"] == "gzip")
        #expect(headers["origin"] == "https://b.example")
    }
}
