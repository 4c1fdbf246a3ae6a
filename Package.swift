// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "SPOrchestrator",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "spo", targets: ["spo"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // C libraries, each behind a system-library shim; only the wrapper targets import them.
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Thin owning wrappers: the only places that touch C pointers.
        .target(name: "SPOJSON", dependencies: ["CJansson"]),
        .target(name: "SPOPostgres", dependencies: ["CLibPQ"]),
        .target(name: "SPOFastCGI", dependencies: ["CFastCGI"]),
        .target(name: "SPOCrypto", dependencies: ["CCrypto"]),

        // The product: configuration model, validation, executor, routing, errors, audit, pool.
        .target(name: "SPOCore", dependencies: ["SPOJSON", "SPOPostgres", "SPOFastCGI", "SPOCrypto"]),
        .executableTarget(
            name: "spo",
            dependencies: [
                "SPOCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "SPOJSONTests", dependencies: ["SPOJSON"]),
        .testTarget(name: "SPOCryptoTests", dependencies: ["SPOCrypto"]),
        .testTarget(name: "SPOCoreTests", dependencies: ["SPOCore", "SPOJSON", "SPOPostgres", "SPOCrypto"]),
        .testTarget(name: "IntegrationTests", dependencies: ["SPOCore", "SPOJSON", "SPOPostgres"]),
    ]
)
