/// The pool as ops wrote it: the `server` lines of an nginx `upstream` block.
public struct UpstreamBlock: Sendable, Equatable {
    /// Where one worker listens.
    public enum Address: Sendable, Hashable, CustomStringConvertible {
        case unix(path: String)
        case tcp(host: String, port: UInt16)

        public var description: String {
            switch self {
            case .unix(let path): "unix:\(path)"
            case .tcp(let host, let port): "\(host):\(port)"
            }
        }
    }

    public var name: String
    /// One entry per `server` line, in order; each is one worker.
    public var servers: [Address]

    /// Finds `upstream NAME { … }` in an nginx configuration and reads its `server` lines.
    /// Parameters after the address (`weight=`, `max_fails=`, …) are nginx's business and ignored.
    public static func parse(_ text: String, name: String) throws(UpstreamError) -> UpstreamBlock {
        let tokens = tokenize(text)
        var index = 0
        while index < tokens.count {
            if tokens[index] == "upstream", index + 2 < tokens.count, tokens[index + 1] == name,
                tokens[index + 2] == "{"
            {
                return try readBlock(tokens, from: index + 3, name: name)
            }
            index += 1
        }
        throw UpstreamError("no `upstream \(name) { … }` block found")
    }

    private static func readBlock(_ tokens: [String], from start: Int, name: String) throws(UpstreamError)
        -> UpstreamBlock
    {
        var servers: [Address] = []
        var index = start
        var statement: [String] = []
        while index < tokens.count {
            let token = tokens[index]
            index += 1
            switch token {
            case "}":
                guard !servers.isEmpty else { throw UpstreamError("upstream \(name) has no server lines") }
                return UpstreamBlock(name: name, servers: servers)
            case ";":
                if statement.first == "server" {
                    guard statement.count >= 2 else { throw UpstreamError("a server line without an address") }
                    let address = try parseAddress(statement[1])
                    if servers.contains(address) { throw UpstreamError("\(address) is listed twice") }
                    servers.append(address)
                }
                statement = []
            default:
                statement.append(token)
            }
        }
        throw UpstreamError("upstream \(name) is not closed with }")
    }

    static func parseAddress(_ text: String) throws(UpstreamError) -> Address {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/") else { throw UpstreamError("unix socket path must be absolute: \(text)") }
            return .unix(path: path)
        }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else {
            throw UpstreamError("server \(text): use unix:/path or host:port")
        }
        return .tcp(host: String(text[..<colon]), port: port)
    }

    /// Words, `{`, `}` and `;` of an nginx configuration, without comments.
    static func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var inComment = false
        var quote: Character? = nil
        for character in text {
            if inComment {
                if character == "\n" { inComment = false }
                continue
            }
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
                continue
            }
            switch character {
            case "#": inComment = true
            case "\"", "'": quote = character
            case "{", "}", ";":
                if !current.isEmpty { tokens.append(current) }
                current = ""
                tokens.append(String(character))
            case " ", "\t", "\n", "\r":
                if !current.isEmpty { tokens.append(current) }
                current = ""
            default: current.append(character)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }
}

/// The upstream block is missing or malformed.
public struct UpstreamError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
