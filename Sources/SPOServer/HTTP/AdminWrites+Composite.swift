import SPOCore
import SPOJSON
import SPOPostgres

extension AdminWrites {
    /// A service that composite services use is not deleted: 409 naming them (a member, a step
    /// or a compensation: any `service` inside their `composite` document).
    func refuseDeletingMember(_ name: String) throws(APIError) {
        let users: PGResult
        do throws(PGError) {
            users = try control.withConnection { (connection: PGConnection) throws(PGError) in
                try connection.execute(
                    """
                    SELECT name FROM spo.service
                    WHERE jsonb_path_exists(composite, '$.**.service ? (@ == $n)', jsonb_build_object('n', $1::text))
                    ORDER BY name
                    """, [name])
            }
        } catch {
            throw Self.unavailable(error)
        }
        guard users.rowCount > 0 else { return }
        let names = (0..<users.rowCount).compactMap { users.value($0, 0) }
        throw APIError(
            .conflict,
            "the service \(name) is a member of " + names.joined(separator: ", ") + "; change or delete those first")
    }
}
