import FIXCore
import FIXDictionary
import FuzzSupport

// Any message that parses is validated against QuickFIX's stock dictionaries; the
// validator may reject it with any reason, but never trap.
nonisolated(unsafe) let validator = FIXValidator(application: FuzzFiles.require(try? FIXDataDictionary(contentsOf: FuzzFiles.spec + "/FIX44.xml"), "FIX44.xml"))
nonisolated(unsafe) let parser = FIXParser(options: FIXParserOptions(allowsEmptyValues: true))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let message = try? parser.parse(bytes), let rejection = validator.validate(message) {
        _ = rejection.description
    }
    return 0
}

@_cdecl("FuzzValidatorFIX44_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
