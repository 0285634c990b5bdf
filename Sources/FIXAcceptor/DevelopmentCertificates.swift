import Crypto
import Foundation
import X509

/// A private certificate authority for development and demos, made on first use and kept
/// in a folder: the acceptor's server certificate (for `localhost`) and a client
/// certificate for the demo platform, both signed by it. Never for production: the CA's
/// key sits beside the certificates it signed.
///
/// Files (PEM): `ca.pem`, `ca.key`, `server.pem`, `server.key`, `<client>.pem`, `<client>.key`.
public struct DevelopmentCertificates: Sendable {
    public let folder: String

    public var authority: String { folder + "/ca.pem" }
    public var serverCertificate: String { folder + "/server.pem" }
    public var serverKey: String { folder + "/server.key" }
    public func clientCertificate(_ name: String) -> String { folder + "/\(name).pem" }
    public func clientKey(_ name: String) -> String { folder + "/\(name).key" }

    /// Makes whatever of the CA, the server's and `clients`' certificates is missing.
    /// Returns whether anything was made.
    @discardableResult
    public static func ensure(folder: String, clients: [String]) throws -> (DevelopmentCertificates, made: Bool) {
        let files = FileManager.default
        try files.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                  attributes: [.posixPermissions: 0o700])
        let certificates = DevelopmentCertificates(folder: folder)
        var made = false
        var newAuthority = false
        let caName = try DistinguishedName {
            OrganizationName("Counterfoil development")
            CommonName("Counterfoil development CA")
        }
        let caKey: P256.Signing.PrivateKey
        if files.fileExists(atPath: certificates.authority), files.fileExists(atPath: folder + "/ca.key") {
            caKey = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: folder + "/ca.key", encoding: .utf8))
        } else {
            caKey = P256.Signing.PrivateKey()
            let ca = try issue(subject: caName, key: caKey, issuer: caName, issuerKey: caKey, extensions: Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            })
            try write(ca, key: caKey, certificate: certificates.authority, keyFile: folder + "/ca.key")
            made = true
            newAuthority = true
        }
        let leaves = [("server", "localhost", true)] + clients.map { ($0, $0, false) }
        for (file, commonName, server) in leaves {
            let certificate = folder + "/\(file).pem"
            guard !files.fileExists(atPath: certificate) || newAuthority else { continue }
            let key = P256.Signing.PrivateKey()
            let subject = try DistinguishedName {
                OrganizationName("Counterfoil development")
                CommonName(commonName)
            }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([server ? .serverAuth : .clientAuth])
                if server { SubjectAlternativeNames([.dnsName("localhost")]) }
            }
            let leaf = try issue(subject: subject, key: key, issuer: caName, issuerKey: caKey, extensions: extensions)
            try write(leaf, key: key, certificate: certificate, keyFile: folder + "/\(file).key")
            made = true
        }
        return (certificates, made)
    }

    private static func issue(subject: DistinguishedName, key: P256.Signing.PrivateKey, issuer: DistinguishedName,
                              issuerKey: P256.Signing.PrivateKey, extensions: Certificate.Extensions) throws -> Certificate {
        let now = Date()
        return try Certificate(version: .v3, serialNumber: Certificate.SerialNumber(),
                               publicKey: Certificate.PublicKey(key.publicKey),
                               notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(825 * 86_400),
                               issuer: issuer, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
                               extensions: extensions, issuerPrivateKey: Certificate.PrivateKey(issuerKey))
    }

    private static func write(_ certificate: Certificate, key: P256.Signing.PrivateKey, certificate path: String, keyFile: String) throws {
        try certificate.serializeAsPEM().pemString.write(toFile: path, atomically: true, encoding: .utf8)
        let files = FileManager.default
        guard files.createFile(atPath: keyFile, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw AcceptorError("cannot write \(keyFile)")
        }
    }
}
