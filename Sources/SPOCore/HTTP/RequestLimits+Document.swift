import SPOJSON

extension RequestLimits {
    /// A JSON body parsed and checked against the shape limits (depth, string length, array
    /// length); every problem is named with where it is and which limit it breaks, and the
    /// client's values are never repeated.
    public func decode(_ body: [UInt8]) -> Result<JSONValue, ValidationFailure> {
        let document: JSONValue
        do {
            document = try JSONValue.parse(body)
        } catch {
            // jansson stops at its own depth (2048): that is this limit too, not a syntax error.
            let problem = error.isTooDeep ? depthProblem(nil) : "the body is not valid JSON: \(error)"
            return .failure(ValidationFailure(problems: [ParameterProblem(parameter: nil, problem: problem)]))
        }
        var problems: [ParameterProblem] = []
        check(document, path: nil, depth: 1, &problems)
        return problems.isEmpty ? .success(document) : .failure(ValidationFailure(problems: problems))
    }

    /// The problem of a parameters object with more members than `maxParameters`, if it has.
    public func parameterCountProblems(_ parameters: JSONValue) -> [ParameterProblem] {
        guard let count = parameters.members?.count, count > maxParameters else { return [] }
        let problem =
            "has \(count) parameters; at most \(maxParameters) are accepted (\(Setting.maxParameters.rawValue))"
        return [ParameterProblem(parameter: nil, problem: problem)]
    }

    /// Walks the document once; descends no deeper than the limit, so a deep document costs
    /// `maxDepth` frames at most.
    private func check(_ value: JSONValue, path: String?, depth: Int, _ problems: inout [ParameterProblem]) {
        switch value {
        case .string(let text):
            if isTooLong(text) {
                problems.append(
                    ParameterProblem(
                        parameter: path,
                        problem:
                            "is a string longer than \(maxStringLength) characters (\(Setting.maxStringLength.rawValue))"
                    ))
            }
        case .array(let items):
            guard depth <= maxDepth else {
                return problems.append(ParameterProblem(parameter: path, problem: depthProblem(path)))
            }
            if items.count > maxArrayItems {
                problems.append(
                    ParameterProblem(
                        parameter: path,
                        problem:
                            "is an array of \(items.count) elements; at most \(maxArrayItems) are accepted (\(Setting.maxArrayItems.rawValue))"
                    ))
                return
            }
            for (index, item) in items.enumerated() {
                check(item, path: (path ?? "") + "[\(index)]", depth: depth + 1, &problems)
            }
        case .object(let members):
            guard depth <= maxDepth else {
                return problems.append(ParameterProblem(parameter: path, problem: depthProblem(path)))
            }
            for member in members {
                if isTooLong(member.key) {
                    problems.append(
                        ParameterProblem(
                            parameter: path,
                            problem:
                                "has a member name longer than \(maxStringLength) characters (\(Setting.maxStringLength.rawValue))"
                        ))
                    continue
                }
                check(member.value, path: path.map { $0 + "." + member.key } ?? member.key, depth: depth + 1, &problems)
            }
        default:
            return
        }
    }

    /// Counted in bytes first: a string of at most `maxStringLength` bytes cannot have more
    /// characters, so short strings are never scanned.
    private func isTooLong(_ text: String) -> Bool {
        text.utf8.count > maxStringLength && text.unicodeScalars.count > maxStringLength
    }

    private func depthProblem(_ path: String?) -> String {
        let subject = path == nil ? "the body nests" : "nests"
        return "\(subject) arrays and objects deeper than \(maxDepth) levels (\(Setting.maxDepth.rawValue))"
    }
}
