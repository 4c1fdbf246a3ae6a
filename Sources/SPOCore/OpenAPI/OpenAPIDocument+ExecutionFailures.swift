import SPOJSON

extension OpenAPIDocument {
    /// The statuses `SP_EXECUTION_FAILED` answers on an execution path, from the same table that
    /// chooses them (`SQLStateStatusMap`), each described by the SQLSTATEs that lead to it.
    enum ExecutionFailures {
        /// Over every service (for `POST /api/execute`), keys merged per status.
        static func union(_ services: [ServiceDefinition]) -> [(status: Int, keys: [String])] {
            var byStatus: [Int: [String]] = [:]
            let tables = services.isEmpty ? [SQLStateStatusMap()] : services.map(\.errorStatuses)
            for table in tables {
                for (status, keys) in table.reachableStatuses {
                    for key in keys where !(byStatus[status]?.contains(key) ?? false) {
                        byStatus[status, default: []].append(key)
                    }
                }
            }
            return byStatus.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }

        /// The responses `fixed` (statuses with their shared responses) with every failure status
        /// added; where a status already has a response, one that names both causes replaces it.
        static func merged(_ fixed: [JSONValue.Member], _ failures: [(status: Int, keys: [String])])
            -> [JSONValue.Member]
        {
            var members = fixed
            for (status, keys) in failures {
                let cause = "\(APIError.Code.spExecutionFailed.rawValue): the procedure raised \(describe(keys))"
                guard let index = members.firstIndex(where: { $0.key == String(status) }) else {
                    members.append(.init(String(status), response(cause)))
                    continue
                }
                // The shared 502 already says "any other SQLSTATE".
                if status == SQLStateStatusMap.fallback && keys == ["other"] { continue }
                let shared = members[index].value["$ref"]?.stringValue?.split(separator: "/").last.map(String.init)
                let resolved = shared.flatMap { Components.responses[$0] } ?? members[index].value
                let existing = resolved["description"]?.stringValue
                // The headers it declares stay (the Retry-After of a key in use).
                let kept = (resolved["headers"]?.members ?? []).filter {
                    $0.key != "X-Correlation-ID" && $0.key != "X-Execution-ID"
                }
                members[index].value = response(existing.map { "\($0); or \(cause)" } ?? cause, extraHeaders: kept)
            }
            return members.sorted { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }
        }

        /// `SQLSTATE P0001 or class 22`, `any other SQLSTATE`.
        static func describe(_ keys: [String]) -> String {
            keys.map { key in
                key == "other" ? "any other SQLSTATE" : key.count == 2 ? "SQLSTATE class \(key)" : "SQLSTATE \(key)"
            }.joined(separator: " or ")
        }

        /// An error response in the shared `Error` shape.
        static func response(_ description: String, extraHeaders: [JSONValue.Member] = []) -> JSONValue {
            .object([
                "description": .string(description),
                "headers": .object(
                    [
                        .init("X-Correlation-ID", Components.ref("headers/X-Correlation-ID")),
                        .init("X-Execution-ID", Components.ref("headers/X-Execution-ID")),
                    ] + extraHeaders),
                "content": .object(["application/json": .object(["schema": Components.ref("schemas/Error")])]),
            ])
        }
    }
}
