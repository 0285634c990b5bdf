// swift-tools-version: 6.1
//
// Counterfoil's libFuzzer targets, in their own package (like Benchmarks/): one
// executable per target, built with the fuzzer and address sanitizers. From the
// repository root, `scripts/fuzz [SECONDS]` builds them and runs each; by hand:
//     cd Fuzz && swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//     .build/release/FuzzFIXParser -max_total_time=60 Corpus/FuzzFIXParser
// Figures (how long each ran, what it found) are kept in FUZZING.md at the root.

import PackageDescription

let fuzzed: [(name: String, dependencies: [String])] = [
    ("FuzzFIXParser", ["FIXCore"]),
    ("FuzzValidatorFIX44", ["FIXCore", "FIXDictionary"]),
    ("FuzzValidatorFIXT", ["FIXCore", "FIXDictionary"]),
    ("FuzzSession", ["FIXCore", "FIXDictionary", "FIXSession"]),
    ("FuzzFAST", ["FAST"]),
    ("FuzzStatements", ["Reconciliation"]),
    ("FuzzSettings", ["FIXSession"]),
]

let package = Package(
    name: "CounterfoilFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Counterfoil", path: "..")],
    targets: [.target(name: "FuzzSupport")] + fuzzed.map { target in
        .executableTarget(
            name: target.name,
            dependencies: ["FuzzSupport"] + target.dependencies.map { .product(name: $0, package: "Counterfoil") }
        )
    }
)
