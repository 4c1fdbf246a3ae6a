import Foundation
import Testing

@testable import SPOCore

/// The error `parse` threw, or nil when it succeeded.
private func parseError(_ text: String, name: String = "spo_pool") -> UpstreamError? {
    do {
        _ = try UpstreamBlock.parse(text, name: name)
        return nil
    } catch {
        return error
    }
}

@Suite struct UpstreamBlockTests {
    @Test func readsUnixServersInOrder() throws {
        let block = try UpstreamBlock.parse(
            """
            upstream spo_pool {
                server unix:/run/spo/w1.sock;
                server unix:/run/spo/w0.sock;
            }
            """, name: "spo_pool")
        #expect(block.name == "spo_pool")
        #expect(block.servers == [.unix(path: "/run/spo/w1.sock"), .unix(path: "/run/spo/w0.sock")])
    }

    @Test func readsTCPServers() throws {
        let block = try UpstreamBlock.parse(
            "upstream spo_pool { server 127.0.0.1:9000; server localhost:9001; server [::1]:9002; }",
            name: "spo_pool")
        #expect(
            block.servers == [
                .tcp(host: "127.0.0.1", port: 9000), .tcp(host: "localhost", port: 9001),
                .tcp(host: "[::1]", port: 9002),
            ])
    }

    @Test func parametersAfterTheAddressAreIgnored() throws {
        let block = try UpstreamBlock.parse(
            """
            upstream spo_pool {
                server unix:/run/spo/w0.sock max_fails=3 fail_timeout=5s;
                server 127.0.0.1:9000 weight=2;
            }
            """, name: "spo_pool")
        #expect(block.servers == [.unix(path: "/run/spo/w0.sock"), .tcp(host: "127.0.0.1", port: 9000)])
    }

    @Test func commentsAndOtherDirectivesAreIgnored() throws {
        let block = try UpstreamBlock.parse(
            """
            # upstream spo_pool { server unix:/run/spo/commented.sock; }
            upstream spo_pool {
                least_conn;   # balance on requests in flight
                # server unix:/run/spo/disabled.sock;
                server unix:/run/spo/w0.sock; # the first worker
                zone spo_pool 64k;
            }
            """, name: "spo_pool")
        #expect(block.servers == [.unix(path: "/run/spo/w0.sock")])
    }

    @Test func otherUpstreamBlocksAreIgnored() throws {
        let text = """
            upstream other { server unix:/run/other/a.sock; }
            upstream spo_pool_old { server unix:/run/spo/old.sock; }
            http_thing on;
            upstream spo_pool{server unix:/run/spo/w0.sock;}
            upstream after { server unix:/run/after/b.sock; }
            """
        #expect(try UpstreamBlock.parse(text, name: "spo_pool").servers == [.unix(path: "/run/spo/w0.sock")])
        #expect(try UpstreamBlock.parse(text, name: "other").servers == [.unix(path: "/run/other/a.sock")])
    }

    @Test func quotedAddressesAreUnquoted() throws {
        let block = try UpstreamBlock.parse(
            #"upstream spo_pool { server "unix:/run/spo/w 0.sock"; }"#, name: "spo_pool")
        #expect(block.servers == [.unix(path: "/run/spo/w 0.sock")])
    }

    @Test func addressDescriptions() {
        #expect(UpstreamBlock.Address.unix(path: "/run/spo/w0.sock").description == "unix:/run/spo/w0.sock")
        #expect(UpstreamBlock.Address.tcp(host: "127.0.0.1", port: 9000).description == "127.0.0.1:9000")
    }

    // MARK: Errors

    @Test func missingBlockIsAnError() {
        let error = parseError("upstream other { server unix:/run/spo/w0.sock; }")
        #expect(error?.description.contains("no `upstream spo_pool") == true)
        #expect(parseError("") != nil)
        #expect(parseError("upstream spo_pool") != nil)
    }

    @Test func emptyBlockIsAnError() {
        #expect(parseError("upstream spo_pool { }")?.description == "upstream spo_pool has no server lines")
        #expect(parseError("upstream spo_pool { least_conn; }")?.description == "upstream spo_pool has no server lines")
    }

    @Test func duplicateAddressIsAnError() {
        let error = parseError(
            "upstream spo_pool { server unix:/run/spo/w0.sock; server unix:/run/spo/w0.sock weight=2; }")
        #expect(error?.description == "unix:/run/spo/w0.sock is listed twice")
        #expect(parseError("upstream spo_pool { server 10.0.0.1:80; server 10.0.0.1:80; }") != nil)
    }

    @Test func relativeUnixPathIsAnError() {
        let error = parseError("upstream spo_pool { server unix:run/spo/w0.sock; }")
        #expect(error?.description == "unix socket path must be absolute: unix:run/spo/w0.sock")
    }

    @Test func unclosedBlockIsAnError() {
        let error = parseError("upstream spo_pool { server unix:/run/spo/w0.sock;")
        #expect(error?.description == "upstream spo_pool is not closed with }")
    }

    @Test func serverWithoutAddressIsAnError() {
        #expect(parseError("upstream spo_pool { server; }")?.description == "a server line without an address")
    }

    @Test(arguments: ["localhost", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1:-1", "unix:"])
    func badAddressesAreErrors(address: String) {
        #expect(parseError("upstream spo_pool { server \(address); }") != nil)
    }

    // MARK: The shipped site file

    @Test func parsesTheShippedSiteFile() throws {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("nginx/spo.conf"), encoding: .utf8)
        let block = try UpstreamBlock.parse(text, name: "spo_pool")
        #expect(block.servers == (0..<4).map { .unix(path: "/run/spo/w\($0).sock") })
    }
}
