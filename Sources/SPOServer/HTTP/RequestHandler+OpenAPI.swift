import SPOCore
import SPOJSON
import SPOPostgres

extension RequestHandler {
    /// `GET /api/openapi.json`: the document of the control tables as they are now, for its
    /// caller (`OpenAPIAudience`), with an `ETag`; 304 when `If-None-Match` names it.
    ///
    /// Whichever worker answers, a change committed a moment ago shows: the tables' fingerprint
    /// (one round trip) says whether this worker's snapshot is current; when it is not (the
    /// change's NOTIFY is on its way), the document is rendered from the tables themselves, as
    /// every request did before renderings were kept. When the control database is away, this
    /// worker's snapshot answers.
    func openAPIDocument(_ request: HTTPRequest, _ context: RequestContext) -> HTTPResponse {
        let audience = OpenAPIAudience(context.principal)
        let current =
            (try? control.withConnection { (connection: PGConnection) throws(PGError) in
                try ConfigurationStore.fingerprint(on: connection)
            }) ?? configuration.fingerprint
        let rendered =
            openAPIDocuments.rendered(for: audience, at: current)
            ?? renderOpenAPIDocument(for: context.principal, audience, current: current)
        let headers = [("ETag", rendered.tag.header)] + context.headers
        if let condition = request.header("if-none-match"), rendered.tag.isMatched(byIfNoneMatch: condition) {
            return HTTPResponse(status: 304, headers: headers)
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")] + headers, body: rendered.body)
    }

    /// Renders the document of the configuration state `current` and keeps it.
    private func renderOpenAPIDocument(for caller: Principal, _ audience: OpenAPIAudience, current: String)
        -> OpenAPICache.Rendered
    {
        let source =
            current == configuration.fingerprint ? configuration : ((try? freshConfiguration()) ?? configuration)
        var body: [UInt8] = []
        body.reserveCapacity(openAPIDocuments.lastSize)
        OpenAPIDocument.make(source, for: caller).write(to: &body)
        let rendered = OpenAPICache.Rendered(body: body, tag: EntityTag(digestOf: body))
        openAPIDocuments.store(rendered, for: audience, at: source.fingerprint)
        return rendered
    }
}
