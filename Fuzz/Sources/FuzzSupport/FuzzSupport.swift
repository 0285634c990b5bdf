import Foundation

/// Where the fuzz targets find what they load once (dictionaries, templates): the
/// repository's `.cache/quickfix-spec` and `../shared`, found from the working folder,
/// or from COUNTERFOIL_ROOT and COUNTERFOIL_SHARED.
public enum FuzzFiles {
    public static let root: String = {
        if let root = ProcessInfo.processInfo.environment["COUNTERFOIL_ROOT"] { return root }
        var folder = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<4 {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path)
                && FileManager.default.fileExists(atPath: folder.appendingPathComponent("Fuzz").path) {
                return folder.path
            }
            folder = folder.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath
    }()

    public static var spec: String { root + "/.cache/quickfix-spec" }

    /// `../shared` beside the repository, as the tests find it (or /work/shared).
    public static var shared: String {
        if let shared = ProcessInfo.processInfo.environment["COUNTERFOIL_SHARED"] { return shared }
        let sibling = URL(fileURLWithPath: root).deletingLastPathComponent().path + "/shared"
        return FileManager.default.fileExists(atPath: sibling) ? sibling : "/work/shared"
    }

    /// Stops the run with a message: a target that cannot load what it fuzzes with must not
    /// pass for having found nothing.
    public static func require<T>(_ value: T?, _ what: String) -> T {
        guard let value else {
            FileHandle.standardError.write(Data("fuzz target: cannot load \(what)\n".utf8))
            exit(2)
        }
        return value
    }
}

/// libFuzzer's entry for programs that have a `main` of their own.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// Runs libFuzzer over `target` with the program's arguments. SwiftPM links an executable
/// target's `main` as `TARGET_main`; each fuzz target defines that to call this.
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
                      _ target: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &arguments, target)
}
