// swift-tools-version: 6.0
import PackageDescription

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
        .target(name: "SPOJSON", dependencies: ["CJansson"]),
        .target(name: "SPOPostgres", dependencies: ["CLibPQ"]),
        .target(name: "SPOFastCGI", dependencies: ["CFastCGI"]),
        .target(name: "SPOCrypto", dependencies: ["CCrypto"]),
        .target(name: "SPOCompression", dependencies: ["CZlib"]),
        // Memory shared between the pool's processes (the metrics' counters), as Swift words; the
        // atomic loads and stores are inline C (a header, no library).
        .systemLibrary(name: "CSharedMemory"),
        .target(name: "SPOSharedMemory", dependencies: ["CSharedMemory"]),
        // ppoll(2), which Swift's Glibc module leaves out: waits finer than a millisecond.
        .systemLibrary(name: "CPoll"),

        // The pure core: configuration model, validation, call plans, errors, the endpoint table,
        // OpenAPI. Holds no connection, socket, process or file; uses only the wrappers' value types.
        .target(name: "SPOCore", dependencies: ["SPOJSON", "SPOPostgres", "SPOCrypto"]),
        // The server: worker loop, handlers, executor, audit writer and spool, supervisor.
        .target(
            name: "SPOServer",
            dependencies: [
                "SPOCore", "SPOJSON", "SPOPostgres", "SPOFastCGI", "SPOCrypto", "SPOCompression", "SPOSharedMemory",
                "CPoll", .product(name: "Logging", package: "swift-log"),
            ]),
        // The local instance (`spo dev`): a throwaway PostgreSQL cluster, the pool and nginx.
        .target(name: "SPODev", dependencies: ["SPOServer", "SPOCore", "SPOJSON", "SPOPostgres", "SPOCrypto"]),
        .executableTarget(
            name: "spo",
            dependencies: [
                "SPOCore", "SPOServer", "SPODev", "SPOJSON", "SPOPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
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
