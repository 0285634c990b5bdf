import FuzzSupport
import FIXSession

// A QuickFIX settings file, as an operator might mistype it: a bad one is an error naming
// its line and key, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let file = try? SettingsFile(text: text, path: "fuzz.cfg") {
        _ = try? SessionSettings.load(file)
    }
    return 0
}

@_cdecl("FuzzSettings_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
