import FuzzSupport
import FIXCore
// Globals are nonisolated(unsafe): libFuzzer calls the target on one thread, one input at a time.

// The framer over a byte stream, the parser over each frame, and every value decoder
// over every field: none may trap, hang or read out of bounds, whatever the bytes.
nonisolated(unsafe) let framer = FIXFramer(messageSizeMax: 64 * 1024)
nonisolated(unsafe) let parser = FIXParser(options: FIXParserOptions(allowsEmptyValues: true))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = UnsafeRawBufferPointer(start: data, count: size)
    var steps = 0
    while !bytes.isEmpty && steps < 10_000 {
        steps += 1
        switch framer.frame(bytes) {
        case .needMoreBytes:
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        case .skip(let length, _):
            precondition(length > 0 && length <= bytes.count, "the framer skipped \(length) of \(bytes.count) bytes")
            bytes = UnsafeRawBufferPointer(rebasing: bytes[length...])
        case .message(let length):
            precondition(length > 0 && length <= bytes.count, "the framer framed \(length) of \(bytes.count) bytes")
            if let message = try? parser.parse(UnsafeRawBufferPointer(rebasing: bytes[..<length])) {
                for position in 0..<message.count {
                    let value = message[position].value
                    _ = try? value.int()
                    _ = try? value.decimal()
                    _ = try? value.bool()
                    _ = try? value.char()
                    _ = try? value.timestamp()
                    _ = try? value.date()
                    _ = try? value.monthYear()
                    _ = try? value.timeOnly()
                }
                _ = message.rendered()
            }
            bytes = UnsafeRawBufferPointer(rebasing: bytes[length...])
        }
    }
    return 0
}

@_cdecl("FuzzFIXParser_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
