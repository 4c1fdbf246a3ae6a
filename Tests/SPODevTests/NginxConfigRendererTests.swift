import Foundation
import Testing

@testable import SPOCore
@testable import SPODev

private let renderer = NginxConfigRenderer(
    runtimeDirectory: "/home/dev/spo/.spo/run", wwwDirectory: "/home/dev/spo/www/",
    swaggerDirectory: "/home/dev/spo/.build/swagger-ui", logDirectory: "/home/dev/spo/.spo/log",
    listen: "127.0.0.1:8080")

private func shippedSiteFile() throws -> String {
    let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return try String(contentsOf: root.appendingPathComponent("nginx/spo.conf"), encoding: .utf8)
}

@Suite struct NginxConfigRendererTests {
    @Test func replacesAllFivePlaceholders() {
        let template = """
            upstream spo_pool { server unix:/run/spo/w0.sock; }
            server {
                listen 8080;
                access_log /var/log/spo/access.log spo_json;
                location /admin/ { alias /usr/share/spo/www/; }
                location /docs/ { alias /usr/share/spo/swagger-ui/; }
            }
            """
        let expected = """
            upstream spo_pool { server unix:/home/dev/spo/.spo/run/w0.sock; }
            server {
                listen 127.0.0.1:8080;
                access_log /home/dev/spo/.spo/log/access.log spo_json;
                location /admin/ { alias /home/dev/spo/www/; }
                location /docs/ { alias /home/dev/spo/.build/swagger-ui/; }
            }
            """
        #expect(renderer.renderSite(template) == expected)
    }

    @Test func everyOccurrenceIsReplaced() {
        let rendered = renderer.renderSite("/run/spo/a /run/spo/b /var/log/spo/x /var/log/spo/y")
        #expect(
            rendered
                == "/home/dev/spo/.spo/run/a /home/dev/spo/.spo/run/b /home/dev/spo/.spo/log/x /home/dev/spo/.spo/log/y"
        )
    }

    @Test func nothingElseChanges() {
        let template = """
            # a comment about /run/spo without its slash
            listen 80;
            listen 8080 ssl;
            listen 18080;
            root /usr/share/spo/other/;
            error_log /var/log/nginx/error.log;
            location /run/ { return 404; }
            """
        #expect(renderer.renderSite(template) == template)
    }

    @Test func renderedShippedFileKeepsNoProductionPath() throws {
        let template = try shippedSiteFile()
        let rendered = renderer.renderSite(template)
        for prefix in ["/run/spo/", "/usr/share/spo/", "/var/log/spo/", "listen 8080;"] {
            #expect(template.contains(prefix))
            #expect(!rendered.contains(prefix))
        }
        #expect(rendered.contains("listen 127.0.0.1:8080;"))
        #expect(rendered.contains("server unix:/home/dev/spo/.spo/run/w0.sock max_fails=0;"))
        #expect(rendered.contains("alias /home/dev/spo/www/;"))
        #expect(rendered.contains("alias /home/dev/spo/.build/swagger-ui/;"))
        #expect(rendered.contains("alias /home/dev/spo/www/swagger-initializer.js;"))
        #expect(rendered.contains("access_log /home/dev/spo/.spo/log/access.log spo_json buffer=64k flush=1s;"))
        // Lines without any production path come out exactly as they went in.
        let templateLines = template.split(separator: "\n", omittingEmptySubsequences: false)
        let renderedLines = rendered.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(templateLines.count == renderedLines.count)
        for (before, after) in zip(templateLines, renderedLines)
        where !["/run/spo/", "/usr/share/spo/", "/var/log/spo/", "listen 8080;"].contains(where: before.contains) {
            #expect(before == after)
        }
    }

    @Test func renderedShippedFileStillHasThePool() throws {
        let rendered = renderer.renderSite(try shippedSiteFile())
        let block = try UpstreamBlock.parse(rendered, name: "spo_pool")
        #expect(block.servers == (0..<4).map { .unix(path: "/home/dev/spo/.spo/run/w\($0).sock") })
    }

    @Test func renderMainIncludesTheSiteAndStatePaths() {
        let main = renderer.renderMain(
            sitePath: "/home/dev/spo/.spo/nginx/spo.conf", stateDirectory: "/home/dev/spo/.spo", runAsUser: nil)
        #expect(main.contains("include /home/dev/spo/.spo/nginx/spo.conf;"))
        #expect(main.contains("pid /home/dev/spo/.spo/nginx/nginx.pid;"))
        #expect(main.contains("error_log /home/dev/spo/.spo/log/nginx-error.log warn;"))
        #expect(main.contains("client_body_temp_path /home/dev/spo/.spo/nginx/body;"))
        #expect(main.contains("events {"))
        #expect(main.contains("http {"))
        #expect(main.contains("worker_processes auto;"))
        #expect(!main.contains("user "))
    }

    @Test func renderMainSetsTheUserOnlyWhenAsked() {
        let asRoot = renderer.renderMain(sitePath: "/s.conf", stateDirectory: "/state/", runAsUser: "root")
        #expect(asRoot.contains("\nuser root;\n"))
        #expect(asRoot.contains("pid /state/nginx/nginx.pid;"))
        let plain = renderer.renderMain(sitePath: "/s.conf", stateDirectory: "/state/", runAsUser: nil)
        #expect(!plain.contains("user root;"))
        #expect(
            plain.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("user") }.isEmpty
        )
    }

    /// The answers nginx writes itself use the API's codes, with the status each code has.
    @Test func nginxAnswersInTheAPIsErrorCodes() throws {
        let site = try shippedSiteFile()
        var found: [(Int, String)] = []
        for line in site.split(separator: "\n") where line.contains("return ") && line.contains("\"code\":\"") {
            let words = line.split(separator: " ")
            guard let index = words.firstIndex(of: "return"), let status = Int(words[index + 1]) else { continue }
            let code = line.split(separator: "\"code\":\"")[1].prefix { $0 != "\"" }
            found.append((status, String(code)))
        }
        #expect(found.contains { $0.1 == "POOL_UNAVAILABLE" })
        #expect(found.contains { $0 == (429, "RATE_LIMITED") })
        for (status, code) in found {
            let known = APIError.Code(rawValue: code)
            #expect(known != nil, "nginx answers \(code), which is not an API error code")
            #expect(known?.httpStatus == status, "nginx answers \(code) with \(status)")
        }
    }
}
