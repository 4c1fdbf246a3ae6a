import Testing

@testable import SPOCore

@Suite struct CORSPolicyTests {
    let policy = try! #require(try CORSPolicy.parse("https://shop.example.com, http://localhost:3000").get())

    private func value(_ response: HTTPResponse, _ name: String) -> String? {
        response.headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    @Test func originsAreReadStrictly() throws {
        #expect(try CORSPolicy.parse(nil).get() == nil)
        #expect(try CORSPolicy.parse(" ").get() == nil)
        #expect(try CORSPolicy.parse("*").get() == CORSPolicy(origins: nil))
        #expect(try CORSPolicy.parse("HTTPS://Shop.Example.com").get()?.origins == ["https://shop.example.com"])
        for bad in ["shop.example.com", "https://shop.example.com/", "ftp://x", "https://*.example.com", "https://"] {
            #expect(throws: CORSPolicyError.self) { try CORSPolicy.parse(bad).get() }
        }
    }

    @Test func anAllowedOriginGetsItsHeadersAndOthersNone() {
        let plain = HTTPResponse(status: 200, headers: [("X-Correlation-ID", "c")])
        let allowed = policy.decorate(plain, origin: "https://shop.example.com")
        #expect(value(allowed, "Access-Control-Allow-Origin") == "https://shop.example.com")
        #expect(value(allowed, "Vary") == "Origin")
        #expect(value(allowed, "Access-Control-Expose-Headers")?.contains("X-Execution-ID") == true)
        for other in ["https://evil.example.com", "null", nil] {
            let refused = policy.decorate(plain, origin: other)
            #expect(value(refused, "Access-Control-Allow-Origin") == nil)
            #expect(value(refused, "Access-Control-Expose-Headers") == nil)
            #expect(value(refused, "Vary") == "Origin")
        }
        let any = CORSPolicy(origins: nil).decorate(plain, origin: "https://anyone.example")
        #expect(value(any, "Access-Control-Allow-Origin") == "*")
    }

    @Test func thePreflightNamesMethodsHeadersAndMaxAge() {
        let plain = HTTPResponse(status: 204, headers: [("Allow", "POST, OPTIONS")])
        let answer = policy.preflight(
            plain, origin: "http://localhost:3000", method: "POST", allowed: "POST, OPTIONS")
        #expect(answer.status == 204)
        #expect(value(answer, "Access-Control-Allow-Origin") == "http://localhost:3000")
        #expect(value(answer, "Access-Control-Allow-Methods") == "POST, OPTIONS")
        #expect(
            value(answer, "Access-Control-Allow-Headers")
                == "Authorization, Content-Type, Idempotency-Key, Prefer, X-Correlation-ID")
        #expect(value(answer, "Access-Control-Max-Age") == "7200")
        #expect(value(answer, "Vary") == "Origin")
        for (origin, method) in [("https://evil.example.com", "POST"), ("http://localhost:3000", "DELETE")] {
            let refused = policy.preflight(plain, origin: origin, method: method, allowed: "POST, OPTIONS")
            #expect(value(refused, "Access-Control-Allow-Origin") == nil)
            #expect(value(refused, "Access-Control-Allow-Methods") == nil)
        }
    }
}
