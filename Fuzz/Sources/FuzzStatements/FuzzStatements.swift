import FuzzSupport
import Reconciliation

// A platform's or clearer's statement, as CSV and as JSON: a bad file is an error naming
// its line and field, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? StatementReader.read(bytes: bytes, origin: "statement.csv")
    _ = try? StatementReader.read(bytes: bytes, origin: "statement.json")
    return 0
}

@_cdecl("FuzzStatements_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
