// swift-tools-version: 6.1
//
// Counterfoil: a broker's back office in one Swift service.
// One library target per concern; arrows point down only (see README.md).

import PackageDescription

let package = Package(
    name: "Counterfoil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "counterfoil", targets: ["counterfoil"]),
        .library(name: "ExactNumbers", targets: ["ExactNumbers"]),
        .library(name: "FIXCore", targets: ["FIXCore"]),
        .library(name: "Ledger", targets: ["Ledger"]),
        .library(name: "FIXDictionary", targets: ["FIXDictionary"]),
        .library(name: "FIXSession", targets: ["FIXSession"]),
        .library(name: "FAST", targets: ["FAST"]),
        .library(name: "Reconciliation", targets: ["Reconciliation"]),
        .library(name: "CRM", targets: ["CRM"]),
        .library(name: "API", targets: ["API"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // LMDB from Debian's liblmdb-dev, through pkg-config.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // Exact decimal arithmetic for prices, quantities and money. No Double anywhere.
        .target(name: "ExactNumbers"),
        // Vector byte scans for the FIX parser (header-only C, inlined into Swift).
        .target(name: "CFIXScan"),
        // glibc's malloc tuning for the serving process and a thread's scheduling policy
        // (mallopt and gettid are not in Swift's Glibc module).
        .target(name: "CMalloc"),
        // Zero-copy FIX tag=value framing, parsing, values and encoding. No I/O.
        .target(name: "FIXCore", dependencies: ["ExactNumbers", "CFIXScan"]),
        // A small XML document reader with line numbers (dictionaries, FAST templates).
        .target(name: "XMLTree"),
        // QuickFIX-format data dictionaries and message validation.
        .target(name: "FIXDictionary", dependencies: ["FIXCore", "ExactNumbers", "XMLTree"]),
        // The FIX session layer: QuickFIX-format settings and the pure session state machine.
        .target(name: "FIXSession", dependencies: ["FIXCore", "FIXDictionary"]),
        // The books in LMDB: journal, positions, cash, settlement. Knows nothing of FIX.
        .target(name: "Ledger", dependencies: ["CLMDB", "CMalloc", "ExactNumbers"]),
        // Reconciliation: statements (CSV, JSON, PositionReports) against the books; breaks and their lifecycle.
        .target(
            name: "Reconciliation",
            dependencies: ["Ledger", "ExactNumbers", "CLMDB", "FIXCore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The CRM link: clients, account links, interactions, KYC/AML, monitoring, sanctions screening, tokens, audit.
        .target(
            name: "CRM",
            dependencies: ["Ledger", "ExactNumbers", "CLMDB", "XMLTree", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The HTTP JSON API (Hummingbird): the CRM's routes, a client's history, recon breaks, events, metrics.
        .target(
            name: "API",
            dependencies: [
                "CRM", "Ledger", "Reconciliation", "ExactNumbers", "CMalloc",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // FIX drop-copy messages to ledger executions.
        .target(name: "FIXBooking", dependencies: ["FIXCore", "Ledger"]),
        // FAST 1.1: templates compiled once, a decoder that reuses its storage.
        .target(name: "FAST", dependencies: ["XMLTree", "CFIXScan"]),
        // FAST feeds: UDP lines (unicast, multicast) arbitrated A/B, TCP streams.
        .target(
            name: "FASTFeed",
            dependencies: [
                "FAST",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // FAST feeds into the books: a JSON mapping from template fields to executions and marks.
        .target(
            name: "FASTBooking",
            dependencies: ["FAST", "FASTFeed", "Ledger", "ExactNumbers", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // The FIX acceptor: TLS/TCP over SwiftNIO, sessions bound to the ledger.
        .target(
            name: "FIXAcceptor",
            dependencies: [
                "FIXCore", "FIXDictionary", "FIXSession", "FIXBooking", "Ledger",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // A trading platform played by Counterfoil itself: realistic executions over a FIX
        // initiator, for the demo and the load generator.
        .target(
            name: "PlatformSimulator",
            dependencies: [
                "FIXCore", "ExactNumbers",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "counterfoil",
            dependencies: [
                "FIXCore",
                "FIXBooking",
                "FIXDictionary",
                "Ledger",
                "FIXSession",
                "FIXAcceptor",
                "PlatformSimulator",
                "FAST",
                "FASTBooking",
                "FASTFeed",
                "Reconciliation",
                "CRM",
                "API",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // What the test targets share (a seeded random generator).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .target(name: "FASTTestSupport", dependencies: ["FAST"], path: "Tests/FASTTestSupport"),
        .testTarget(name: "ExactNumbersTests", dependencies: ["ExactNumbers"]),
        .testTarget(name: "FIXCoreTests", dependencies: ["FIXCore", "TestSupport"]),
        .testTarget(name: "CLMDBTests", dependencies: ["CLMDB"]),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "TestSupport"]),
        .testTarget(name: "FIXDictionaryTests", dependencies: ["FIXDictionary", "FIXCore", "TestSupport"]),
        .testTarget(name: "FIXSessionTests", dependencies: ["FIXSession"]),
        .testTarget(name: "FASTTests", dependencies: ["FAST", "TestSupport"]),
        .testTarget(
            name: "FASTBookingTests",
            dependencies: ["FASTBooking", "FAST", "FASTFeed", "Ledger", "ExactNumbers", "FASTTestSupport",
                           .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(
            name: "FASTFeedTests",
            dependencies: ["FASTFeed", "FAST", "TestSupport", "FASTTestSupport", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(name: "FIXBookingTests", dependencies: ["FIXBooking", "FIXCore", "Ledger"]),
        .testTarget(name: "CRMTests", dependencies: ["CRM", "Ledger", "ExactNumbers", "TestSupport"]),
        .testTarget(
            name: "APITests",
            dependencies: [
                "API", "CRM", "Ledger", "Reconciliation", "ExactNumbers", "TestSupport", "FIXBooking",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(name: "ReconciliationTests", dependencies: ["Reconciliation", "Ledger", "ExactNumbers", "TestSupport"]),
        .testTarget(
            name: "FIXAcceptorTests",
            dependencies: [
                "FIXAcceptor", "FIXSession", "FIXCore", "FIXDictionary", "Ledger", "ExactNumbers", "PlatformSimulator",
                "Reconciliation",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
