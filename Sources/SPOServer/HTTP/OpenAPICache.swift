import SPOCompression
import SPOCore

/// The OpenAPI documents this worker rendered for the current state of the control tables, one
/// per audience, so a repeated `GET /api/openapi.json` is a lookup rather than a rendering (at
/// 1,000 services the document is megabytes).
///
/// Kept for one configuration generation only (`Configuration.generation`): a new generation
/// drops every rendering of the old. Bounded by `byteLimit` (and `entryLimit`): past it, the
/// renderings used least recently go first; the one just stored always stays.
struct OpenAPICache {
    /// A document as answered: its bytes and their tag, and once a client took it gzipped, that
    /// body too (compressed once per rendering, not per request).
    struct Rendered {
        var body: [UInt8]
        var tag: EntityTag
        var gzipped: [UInt8]? = nil

        /// The gzip body, compressed now if this rendering has none yet.
        mutating func gzip() -> [UInt8] {
            if let gzipped { return gzipped }
            let compressed = Gzip.compress(body)
            gzipped = compressed
            return compressed
        }

        var size: Int { body.count + (gzipped?.count ?? 0) }
    }

    /// Total bytes of renderings kept (a document at 1,000 services is a few MB).
    static let byteLimit = 16 << 20
    /// Renderings kept: one per audience (anonymous, admin, each set of executor grants).
    static let entryLimit = 16

    private(set) var generation: Int64?
    /// Most recently used last.
    private var entries: [(audience: OpenAPIAudience, rendered: Rendered)] = []

    /// The rendering for `audience` of the configuration generation `generation`, if kept.
    mutating func rendered(for audience: OpenAPIAudience, at generation: Int64) -> Rendered? {
        guard generation == self.generation, let index = entries.firstIndex(where: { $0.audience == audience })
        else { return nil }
        let entry = entries.remove(at: index)
        entries.append(entry)
        return entry.rendered
    }

    /// Keeps `rendered` as the document of `audience` at `generation`.
    mutating func store(_ rendered: Rendered, for audience: OpenAPIAudience, at generation: Int64) {
        if generation != self.generation {
            entries.removeAll()
            self.generation = generation
        }
        entries.removeAll { $0.audience == audience }
        entries.append((audience, rendered))
        var bytes = entries.reduce(0) { $0 + $1.rendered.size }
        while entries.count > 1, bytes > Self.byteLimit || entries.count > Self.entryLimit {
            bytes -= entries.removeFirst().rendered.size
        }
    }

    /// The size of the largest rendering kept, to reserve the next one's buffer at once.
    var lastSize: Int { entries.map(\.rendered.body.count).max() ?? 64 * 1024 }

    /// How many renderings are kept (for tests).
    var count: Int { entries.count }
}
