/// The `Accept-Encoding` request header (RFC 9110 §12.5.3), as far as the API reads it: whether
/// the client takes a gzip body.
public enum AcceptEncoding {
    /// Whether `header` accepts gzip: `gzip` (or its alias `x-gzip`) listed with a weight above
    /// zero, or else `*` with one. `gzip;q=0` refuses it even where `*` is listed.
    public static func acceptsGzip(_ header: String) -> Bool {
        var wildcard = false
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";")
            guard let first = parts.first else { continue }
            let coding = trimmed(first).lowercased()
            let accepted = parts.dropFirst().allSatisfy { parameter in
                let pair = parameter.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, trimmed(pair[0]).lowercased() == "q" else { return true }
                return (Double(trimmed(pair[1])) ?? 0) > 0
            }
            if coding == "gzip" || coding == "x-gzip" { return accepted }
            if coding == "*" { wildcard = accepted }
        }
        return wildcard
    }

    private static func trimmed(_ text: Substring) -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(text.drop(while: isBlank).reversed().drop(while: isBlank).reversed())
    }
}
