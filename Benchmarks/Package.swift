// swift-tools-version: 6.1
//
// Counterfoil's benchmarks, in their own package so that the product carries no
// benchmark dependencies. Run from this folder:
//     swift package --disable-sandbox benchmark
// Figures and commands are kept in README.md beside this file.

import PackageDescription

let package = Package(
    name: "CounterfoilBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Counterfoil", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "FIXCoreBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "FIXCore", package: "Counterfoil"),
                .product(name: "ExactNumbers", package: "Counterfoil"),
            ],
            path: "Benchmarks/FIXCoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "FIXDictionaryBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "FIXCore", package: "Counterfoil"),
                .product(name: "FIXDictionary", package: "Counterfoil"),
            ],
            path: "Benchmarks/FIXDictionaryBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "FASTBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "FAST", package: "Counterfoil"),
            ],
            path: "Benchmarks/FASTBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "LedgerBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Ledger", package: "Counterfoil"),
                .product(name: "ExactNumbers", package: "Counterfoil"),
            ],
            path: "Benchmarks/LedgerBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        .executableTarget(
            name: "ReconciliationBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Ledger", package: "Counterfoil"),
                .product(name: "Reconciliation", package: "Counterfoil"),
                .product(name: "ExactNumbers", package: "Counterfoil"),
            ],
            path: "Benchmarks/ReconciliationBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // A client's history: the store-level page latency (package-benchmark)…
        .executableTarget(
            name: "APIBenchmarks",
            dependencies: [
                "APIBenchData",
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/APIBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // …and the HTTP API over the same books, for wrk (scripts/api-wrk.sh).
        .executableTarget(
            name: "APIBenchServer",
            dependencies: ["APIBenchData"],
            path: "Sources/APIBenchServer"
        ),
        // One million trades over 10,000 clients, booked once and kept between runs.
        .target(
            name: "APIBenchData",
            dependencies: [
                .product(name: "API", package: "Counterfoil"),
                .product(name: "CRM", package: "Counterfoil"),
                .product(name: "Ledger", package: "Counterfoil"),
                .product(name: "Reconciliation", package: "Counterfoil"),
                .product(name: "ExactNumbers", package: "Counterfoil"),
            ],
            path: "Sources/APIBenchData"
        ),
    ],
    swiftLanguageModes: [.v6]
)
