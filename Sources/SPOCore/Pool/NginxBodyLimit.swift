/// The body limit of the site file, read where ops declare it: nginx's `client_max_body_size`.
///
/// `spo serve` reads it from the file it takes the upstream block from and gives it to every
/// worker, so the one declaration bounds both: a body nginx lets through is one the workers
/// accept, and a worker reached some other way (its direct socket, spawn-fcgi) refuses what nginx
/// would have. With several directives (per `location`), the workers take the largest: nginx
/// enforces each location's own.
public enum NginxBodyLimit {
    /// nginx's default when the file sets none.
    public static let nginxDefault = 1 << 20

    /// The largest `client_max_body_size` in `text`, in bytes (nginx's default without one).
    public static func parse(_ text: String) throws(UpstreamError) -> Int {
        let tokens = UpstreamBlock.tokenize(text)
        var found: [Int] = []
        for index in tokens.indices where tokens[index] == "client_max_body_size" {
            guard index + 2 < tokens.count, tokens[index + 2] == ";" else {
                throw UpstreamError("client_max_body_size takes one size")
            }
            found.append(try bytes(tokens[index + 1]))
        }
        return found.max() ?? nginxDefault
    }

    /// nginx's size syntax: a number, optionally followed by k/K, m/M or g/G. `0` (nginx: no
    /// limit) is refused: a worker holds the whole body in memory and needs a bound.
    static func bytes(_ size: String) throws(UpstreamError) -> Int {
        let units: [Character: Int] = [
            "k": 1 << 10, "K": 1 << 10, "m": 1 << 20, "M": 1 << 20, "g": 1 << 30, "G": 1 << 30,
        ]
        var digits = Substring(size)
        var multiplier = 1
        if let last = size.last, let unit = units[last] {
            digits = digits.dropLast()
            multiplier = unit
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let number = Int(digits), number >= 0 else {
            throw UpstreamError("client_max_body_size \(size): use a size such as 1m, 512k or 1048576")
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow, value <= Int(Int32.max) else {
            throw UpstreamError("client_max_body_size \(size) is larger than a worker can hold (2 GiB)")
        }
        guard value > 0 else {
            throw UpstreamError("client_max_body_size 0 (no limit) is not supported: the workers need a bound")
        }
        return value
    }
}
