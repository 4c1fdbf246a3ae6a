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
        let rendered =
            openAPIDocuments.rendered(for: audience, at: source.generation)
            ?? renderOpenAPIDocument(source, for: context.principal, audience)
        let headers = [("ETag", rendered.tag.header)] + context.headers
        if let condition = request.header("if-none-match"), rendered.tag.isMatched(byIfNoneMatch: condition) {
            return HTTPResponse(status: 304, headers: headers)
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")] + headers, body: rendered.body)
    }

    /// Renders the document of `source` for its caller and keeps it.
    private func renderOpenAPIDocument(_ source: Configuration, for caller: Principal, _ audience: OpenAPIAudience)
        -> OpenAPICache.Rendered
    {
        var body: [UInt8] = []
        body.reserveCapacity(openAPIDocuments.lastSize)
        OpenAPIDocument.make(source, for: caller).write(to: &body)
        let rendered = OpenAPICache.Rendered(body: body, tag: EntityTag(digestOf: body))
        openAPIDocuments.store(rendered, for: audience, at: source.generation)
        return rendered
    }
}
