import FAST
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The FAST samples from ../shared (or COUNTERFOIL_SHARED).
public let samples: String = {
    if let shared = ProcessInfo.processInfo.environment["COUNTERFOIL_SHARED"] { return shared + "/fast-samples" }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let sibling = root.deletingLastPathComponent().appendingPathComponent("shared/fast-samples").path
    return FileManager.default.fileExists(atPath: sibling) ? sibling : "/work/shared/fast-samples"
}()

/// The MOEX capture's records, renumbered 1...N (the feed's own numbering), with the
/// MsgSeqNum each message carries.
public func moexRecords() throws -> [(datagram: [UInt8], seqNum: UInt32)] {
    let data = Array(try Data(contentsOf: URL(fileURLWithPath: samples + "/gofast-moex-asts/data.dat")))
    let templates = try FASTTemplates(path: samples + "/gofast-moex-asts/test.xml")
    let decoder = FASTDecoder(templates: templates)
    var reader = FASTStreamReader(framing: .sequence4)
    var message = FASTMessage()
    var records: [(datagram: [UInt8], seqNum: UInt32)] = []
    try data.withUnsafeBytes { buffer in
        while let frame = try reader.next(buffer, decoder: decoder, into: &message) {
            let number = UInt32(records.count + 1)
            let header = [UInt8(number & 0xFF), UInt8(number >> 8 & 0xFF), UInt8(number >> 16 & 0xFF), UInt8(number >> 24)]
            records.append((header + Array(buffer[frame.message]), frame.sequenceNumber ?? 0))
        }
    }
    return records
}

/// Sends datagrams to 127.0.0.1 or a multicast group.
public struct Sender {
    public let fd: Int32

    /// Multicast goes out of `multicastInterface` (an IPv4 address), or the default route's interface.
    public init(multicastInterface: String? = "127.0.0.1") {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        if let multicastInterface {
            var address = in_addr(s_addr: inet_addr(multicastInterface))
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &address, socklen_t(MemoryLayout<in_addr>.size))
        }
    }

    public func send(_ bytes: [UInt8], to host: String, port: Int) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        _ = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    public func close() { Glibc.close(fd) }
}

public func freeUDPPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

