/// The `Prefer` request header (RFC 7240), as far as the API reads it.
public enum Preference {
    /// Whether `header` asks for `respond-async`: one of its comma-separated preferences is that
    /// token (names are case-insensitive), with or without a value or parameters.
    public static func respondsAsync(_ header: String) -> Bool {
        header.split(separator: ",").contains { preference in
            let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
            let name = preference.prefix { $0 != ";" && $0 != "=" }.drop(while: isBlank)
            return String(name.reversed().drop(while: isBlank).reversed()).lowercased() == "respond-async"
        }
    }
}
