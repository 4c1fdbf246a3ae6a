import SPOCore
import Testing

@Suite struct AcceptEncodingTests {
    @Test(arguments: [
        "gzip", "gzip, deflate, br", "deflate, GZIP", "br;q=1.0, gzip;q=0.8, *;q=0.1", "x-gzip", "*",
        "identity;q=1, *;q=0.5", " gzip ; q=0.001 ",
    ])
    func acceptsGzip(_ header: String) {
        #expect(AcceptEncoding.acceptsGzip(header))
    }

    @Test(arguments: [
        "", "identity", "deflate, br", "gzip;q=0", "gzip; q=0.000", "*, gzip;q=0", "*;q=0", "gzipped", "q=1",
        "gzip;q=junk",
    ])
    func refusesGzip(_ header: String) {
        #expect(!AcceptEncoding.acceptsGzip(header))
    }
}
