import FAST
import Foundation
import FuzzSupport

// The FAST decoder with MOEX's FORTS templates, over any bytes: errors (D, R, S codes)
// are fine, a trap, a hang or an out-of-bounds read is not.
nonisolated(unsafe) let templates = FuzzFiles.require(
    FileManager.default.contents(atPath: FuzzFiles.shared + "/fast-samples/moex-hft-templates/forts_templates.xml")
        .flatMap { try? FASTTemplates(data: $0, path: "forts_templates.xml") }, "fast-samples/moex-hft-templates/forts_templates.xml")
nonisolated(unsafe) let decoder = FASTDecoder(templates: templates)
nonisolated(unsafe) var message = FASTMessage()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = UnsafeRawBufferPointer(start: data, count: size)
    decoder.reset()
    var steps = 0
    while !bytes.isEmpty && steps < 1000 {
        steps += 1
        guard let used = try? decoder.decode(bytes, into: &message) else { break }
        precondition(used > 0 && used <= bytes.count, "the decoder took \(used) of \(bytes.count) bytes")
        bytes = UnsafeRawBufferPointer(rebasing: bytes[used...])
    }
    return 0
}

@_cdecl("FuzzFAST_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
