// swift-tools-version: 6.0
import PackageDescription

/// Release builds leave out the run-time exclusivity checks (`-enforce-exclusivity=unchecked`):
/// they cost about 5,500 instructions a request on the execute path (a tenth of a worker's own
/// work, README Benchmarks). The compile-time checks stay, and debug builds — every unit and
/// integration test — keep the run-time ones, so an overlapping access is still caught there.
let releaseSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "SPOrchestrator",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "spo", targets: ["spo"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The Swift server ecosystem's logging API; the JSON handler is ours (SPOServer/Logging).
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries, each behind a system-library shim; only the wrapper targets import them.
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Thin owning wrappers: the only places that touch C pointers.
        .target(name: "SPOJSON", dependencies: ["CJansson"], swiftSettings: releaseSettings),
        .target(name: "SPOPostgres", dependencies: ["CLibPQ"], swiftSettings: releaseSettings),
        .target(name: "SPOFastCGI", dependencies: ["CFastCGI"], swiftSettings: releaseSettings),
        .target(name: "SPOCrypto", dependencies: ["CCrypto"], swiftSettings: releaseSettings),
        .target(name: "SPOCompression", dependencies: ["CZlib"], swiftSettings: releaseSettings),
        // Memory shared between the pool's processes (the metrics' counters), as Swift words; the
        // atomic loads and stores are inline C (a header, no library).
        .systemLibrary(name: "CSharedMemory"),
        .target(name: "SPOSharedMemory", dependencies: ["CSharedMemory"], swiftSettings: releaseSettings),
        // ppoll(2), which Swift's Glibc module leaves out: waits finer than a millisecond.
        .systemLibrary(name: "CPoll"),

        // The pure core: configuration model, validation, call plans, errors, the endpoint table,
        // OpenAPI. Holds no connection, socket, process or file; uses only the wrappers' value types.
        .target(
            name: "SPOCore", dependencies: ["SPOJSON", "SPOPostgres", "SPOCrypto"], swiftSettings: releaseSettings),
        // The server: worker loop, handlers, executor, audit writer and spool, supervisor.
        .target(
            name: "SPOServer",
            dependencies: [
                "SPOCore", "SPOJSON", "SPOPostgres", "SPOFastCGI", "SPOCrypto", "SPOCompression", "SPOSharedMemory",
                "CPoll", .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: releaseSettings),
        // The local instance (`spo dev`): a throwaway PostgreSQL cluster, the pool and nginx.
        .target(
            name: "SPODev", dependencies: ["SPOServer", "SPOCore", "SPOJSON", "SPOPostgres", "SPOCrypto"],
            swiftSettings: releaseSettings),
        .executableTarget(
            name: "spo",
            dependencies: [
                "SPOCore", "SPOServer", "SPODev", "SPOJSON", "SPOPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: releaseSettings
        ),

        .testTarget(name: "SPOJSONTests", dependencies: ["SPOJSON"]),
        .testTarget(name: "SPOCryptoTests", dependencies: ["SPOCrypto"]),
        .testTarget(name: "SPOCompressionTests", dependencies: ["SPOCompression"]),
        .testTarget(name: "SPOCoreTests", dependencies: ["SPOCore", "SPOJSON", "SPOPostgres", "SPOCrypto"]),
        .testTarget(
            name: "SPOServerTests",
            dependencies: [
                "SPOServer", "SPOCore", "SPOJSON", "SPOPostgres", "SPOSharedMemory",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "SPODevTests", dependencies: ["SPODev", "SPOCore"]),
        .testTarget(
            name: "IntegrationTests", dependencies: ["SPODev", "SPOServer", "SPOCore", "SPOJSON", "SPOPostgres"]),
    ]
)
