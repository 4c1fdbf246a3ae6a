import SPOCore
import SPOJSON
import SPOPostgres

extension RequestHandler {
    /// `GET /api/openapi.json`: the document of the control tables as they are now, for its
    /// caller (`OpenAPIAudience`), with an `ETag`; 304 when `If-None-Match` names it.
    ///
    /// Whichever worker answers, a change committed a moment ago shows: the configuration
    /// generation (one small query) says whether this worker's snapshot is current, and when it
    /// is not (the change's NOTIFY is on its way) the committed configuration is installed first.
    /// When the control database is away, this worker's snapshot answers.
    func openAPIDocument(_ request: HTTPRequest, _ context: RequestContext) -> HTTPResponse {
        let audience = OpenAPIAudience(context.principal)
        let source = (try? currentConfiguration()) ?? configuration
        var rendered =
            openAPIDocuments.rendered(for: audience, at: source.generation)
            ?? renderOpenAPIDocument(source, for: context.principal, audience)
        // Gzipped here, once per rendering, rather than by nginx on every request: megabytes at
        // 1,000 services would also overflow nginx's FastCGI buffers into a temporary file.
        let gzip = request.header("accept-encoding").map(AcceptEncoding.acceptsGzip) ?? false
        let tag = gzip ? rendered.tag.coded("gzip") : rendered.tag
        let headers = [("ETag", tag.header), ("Vary", "Accept-Encoding")] + context.headers
        if let condition = request.header("if-none-match"), tag.isMatched(byIfNoneMatch: condition) {
            return HTTPResponse(status: 304, headers: headers)
        }
        guard gzip else {
            return HTTPResponse(
                status: 200, headers: [("Content-Type", "application/json")] + headers, body: rendered.body)
        }
        let body = rendered.gzip()
        openAPIDocuments.store(rendered, for: audience, at: source.generation)
        return HTTPResponse(
            status: 200, headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")] + headers,
            body: body)
    }

    /// Renders the document of `source` for its caller and keeps it.
    private func renderOpenAPIDocument(_ source: Configuration, for caller: Principal, _ audience: OpenAPIAudience)
        -> OpenAPICache.Rendered
    {
        var body: [UInt8] = []
        body.reserveCapacity(openAPIDocuments.lastSize)
        OpenAPIDocument.make(source, for: caller, operations: &openAPIOperations).write(to: &body)
        let rendered = OpenAPICache.Rendered(body: body, tag: EntityTag(digestOf: body))
        openAPIDocuments.store(rendered, for: audience, at: source.generation)
        return rendered
    }
}
