internal import CZlib

/// gzip (RFC 1952) through zlib, for a body that is compressed once and sent many times: the
/// OpenAPI document at 1,000 services is megabytes of repetitive JSON, a few hundred kB gzipped,
/// so it fits nginx's FastCGI buffers instead of spilling to a temporary file.
public enum Gzip {
    /// `bytes` gzipped at `level` (1 fastest … 9 smallest; 6 is zlib's default).
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        // Fails only without memory or with a level out of range: nothing a caller could recover.
        precondition(spo_deflate_init_gzip(&stream, level) == Z_OK, "zlib's deflateInit2 failed")
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))))
        let written = bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                // deflateBound is enough for the whole output: one call finishes the stream.
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END, "zlib's deflate did not finish")
                return Int(stream.total_out)
            }
        }
        output.removeSubrange(written...)
        return output
    }
}
