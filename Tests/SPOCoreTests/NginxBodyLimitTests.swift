import Foundation
import Testing

@testable import SPOCore

@Suite struct NginxBodyLimitTests {
    @Test func sizesAreReadInNginxsUnits() throws {
        #expect(try NginxBodyLimit.parse("client_max_body_size 1m;") == 1 << 20)
        #expect(try NginxBodyLimit.parse("client_max_body_size 64K;") == 64 << 10)
        #expect(try NginxBodyLimit.parse("client_max_body_size 2047m;") == 2047 << 20)
        #expect(try NginxBodyLimit.parse("client_max_body_size 1000;") == 1000)
        #expect(try NginxBodyLimit.parse("server { listen 80; }") == NginxBodyLimit.nginxDefault)
    }

    @Test func theLargestOfSeveralIsTheWorkersAndCommentsDoNotCount() throws {
        let text = """
            # client_max_body_size 100m;
            server {
                client_max_body_size 1m;
                location /api/upload { client_max_body_size 8m; }
            }
            """
        #expect(try NginxBodyLimit.parse(text) == 8 << 20)
    }

    @Test func noLimitAndNonsenseAreRefused() {
        for text in [
            "client_max_body_size 0;", "client_max_body_size ten;", "client_max_body_size 1x;",
            "client_max_body_size;", "client_max_body_size 1m 2m;", "client_max_body_size 99999999g;",
            "client_max_body_size 2g;",
        ] {
            #expect(throws: UpstreamError.self, "\(text)") { try NginxBodyLimit.parse(text) }
        }
    }

    /// The shipped site file declares the limit the workers default to.
    @Test func theShippedSiteFileSaysOneMebibyte() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../nginx/spo.conf"
        ).path
        #expect(
            try NginxBodyLimit.parse(String(contentsOfFile: path, encoding: .utf8))
                == RequestLimits.defaults.maxBodyBytes)
    }
}
