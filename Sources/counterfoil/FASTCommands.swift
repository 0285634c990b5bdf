import ArgumentParser
import FAST
import FASTBooking
import Foundation
import ServiceLifecycle
import NIOPosix
import Logging
import FASTFeed
import Ledger

struct FASTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fast",
        abstract: "Work with FAST feeds and captures.",
        subcommands: [FASTReplayCommand.self, FASTBookCommand.self, FASTFeedCommand.self]
    )
}

extension FASTFraming: ExpressibleByArgument {}

struct FASTReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Decode a FAST capture file: every message, or a summary.",
        discussion: """
        KIND is how messages sit in the file: moex (4-byte little-endian sequence number before \
        each), cme (5-byte preamble), length (4-byte little-endian length), block (stop-bit \
        block size) or raw. The first error stops the replay with its byte offset, field and \
        FAST error code, and exits 1. Long files show their progress on standard error.
        """
    )

    @Option(help: "The FAST template file (XML).") var templates: String
    @Option(help: "moex, cme, length, block or raw.") var framing: FASTFraming = .raw
    @Flag(help: "Only the summary: messages per template, bytes, time.") var summary = false
    @Option(help: "Stop after this many messages.") var limit: Int?
    @Argument(help: "The capture file.") var capture: String

    func run() throws {
        let compiled: FASTTemplates
        do {
            compiled = try FASTTemplates(path: templates)
        } catch let error as FASTTemplateError {
            throw UserError(error.description)
        }
        guard let data = FileManager.default.contents(atPath: capture) else { throw UserError("cannot read \(capture)") }
        let decoder = FASTDecoder(templates: compiled)
        var reader = FASTStreamReader(framing: framing)
        var perTemplate: [UInt32: Int] = [:]
        var count = 0
        let started = Date()
        var lastProgress = started
        let failure = forEachFrame(data, &reader, decoder) { frame, message, buffer in
            guard limit.map({ count < $0 }) ?? true else { return false }
            count += 1
            perTemplate[message.templateID, default: 0] += 1
            if !summary {
                let name = compiled.templates[message.templateID]?.name ?? "?"
                let sequence = frame.sequenceNumber.map { " seq=\($0)" } ?? ""
                let fields = message.tree(compiled).map { "\($0.0)=\($0.1)" }.joined(separator: " ")
                print("#\(count) @\(frame.offset)\(sequence) \(name)(\(message.templateID)) \(fields)")
            }
            if count % 4096 == 0, Date().timeIntervalSince(lastProgress) >= 1 {
                lastProgress = Date()
                let percent = frame.message.upperBound * 100 / max(1, buffer.count)
                FileHandle.standardError.write(Data("  \(count) messages, \(percent)% of \(capture)\n".utf8))
            }
            return true
        }
        let seconds = max(Date().timeIntervalSince(started), 1e-9)
        let names = perTemplate.sorted { $0.key < $1.key }.map { "\(compiled.templates[$0.key]?.name ?? "?")(\($0.key)) \($0.value)" }
        print("\(count) messages, \(reader.offset) of \(data.count) bytes, \(String(format: "%.3f", seconds)) s"
              + (summary ? String(format: ", %.0f messages/s", Double(count) / seconds) : ""))
        print("by template: " + names.joined(separator: ", "))
        if let failure {
            throw UserError("\(capture): message \(count + 1): \(failure)")
        }
    }
}

struct FASTBookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "book",
        abstract: "Book a FAST capture's trades (and price marks) into the ledger, exactly once.",
        discussion: """
        MAPPING is a JSON file naming the templates and fields that make an execution (and, \
        optionally, a mark); see README.md. The feed's sequence numbers (moex and cme framing; \
        else the message's place in the file) are the source's progress: booking the same \
        capture again, or after an interruption, books nothing twice.
        """
    )

    @Option(help: "The FAST template file (XML).") var templates: String
    @Option(help: "The mapping from template fields to executions and marks (JSON).") var mapping: String
    @Option(help: "moex, cme, length, block or raw.") var framing: FASTFraming = .raw
    @OptionGroup var ledger: LedgerOption
    @Argument(help: "The capture file.") var capture: String

    func run() throws {
        let (compiled, mapper) = try loadMapper(templates: templates, mapping: mapping)
        guard let data = FileManager.default.contents(atPath: capture) else { throw UserError("cannot read \(capture)") }
        let books = try Ledger(folder: ledger.folder)
        defer { books.close() }
        let booker = try FASTBooker(ledger: books, mapper: mapper)
        let decoder = FASTDecoder(templates: compiled)
        var reader = FASTStreamReader(framing: framing)
        var index: UInt64 = 0
        var bookingError: Error?
        let failure = forEachFrame(data, &reader, decoder) { frame, message, buffer in
            index += 1
            do {
                try booker.take(message, sequence: frame.sequenceNumber.map(UInt64.init) ?? index, raw: Array(buffer[frame.message]))
                return true
            } catch {
                bookingError = error
                return false
            }
        }
        if let bookingError { throw bookingError }
        try booker.flush()
        let counts = booker.counts
        print("\(counts.messages) messages (\(counts.skipped) booked before), \(counts.booked) executions booked, "
              + "\(counts.duplicates) duplicates, \(counts.parked) parked, \(counts.quarantined + counts.rejected) rejected, "
              + "\(counts.marks) marks; \(mapper.mapping.source) progress \(booker.progress)")
        if let failure { throw UserError("\(capture): message \(index + 1): \(failure)") }
    }
}

/// Decodes `data` frame by frame, calling `body` with each frame, its message and the whole
/// buffer until it
/// returns false or the data ends; the decoding error that stopped it, if any.
func forEachFrame(_ data: Data, _ reader: inout FASTStreamReader, _ decoder: FASTDecoder,
                  _ body: (FASTFrame, FASTMessage, UnsafeRawBufferPointer) -> Bool) -> FASTError? {
    var message = FASTMessage()
    return data.withUnsafeBytes { buffer in
        while true {
            do throws(FASTError) {
                guard let frame = try reader.next(buffer, decoder: decoder, into: &message) else { return nil }
                if !body(frame, message, buffer) { return nil }
            } catch {
                return error
            }
        }
    }
}

/// Compiles the templates and the mapping over them; what is wrong with either is a user error.
func loadMapper(templates: String, mapping: String) throws -> (FASTTemplates, FASTMapper) {
    do {
        let compiled = try FASTTemplates(path: templates)
        return (compiled, try FASTMapper(mapping: try FASTMapping.load(path: mapping), templates: compiled))
    } catch let error as FASTTemplateError {
        throw UserError(error.description)
    } catch let error as FASTMappingError {
        throw UserError("\(mapping): \(error)")
    }
}

/// `counterfoil fast feed`: a live feed into the books until stopped.
struct FASTFeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "Book a live FAST feed (UDP lines arbitrated A/B, or a TCP stream) until stopped.",
        discussion: """
        Each message is decoded with the templates and booked through the mapping in batches, \
        with the feed's sequence number as the source's progress: stopped and started again, \
        it books nothing twice. Sequence numbers neither line delivered are reported as gaps. \
        SIGINT or SIGTERM books what is pending and exits.
        """
    )

    @Option(help: "The FAST template file (XML).") var templates: String
    @Option(help: "The mapping from template fields to executions and marks (JSON).") var mapping: String
    @Option(help: "moex, cme, length or block (UDP lines need a sequence number: moex or cme).") var framing: FASTFraming = .sequence4
    @Option(name: .customLong("udp"), help: "A UDP line, HOST:PORT (a multicast group is joined); give it twice for lines A and B.")
    var udp: [String] = []
    @Option(help: "With multicast: the interface's IPv4 address to join on.") var interface: String?
    @Option(help: "A TCP stream instead, HOST:PORT (length or block framing).") var tcp: String?
    @OptionGroup var ledger: LedgerOption

    func run() async throws {
        let (compiled, mapper) = try loadMapper(templates: templates, mapping: mapping)
        func line(_ text: String) throws -> FeedLine {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else {
                throw ValidationError("'\(text)' is not HOST:PORT")
            }
            return FeedLine(host: String(text[..<colon]), port: port, interface: interface)
        }
        let configuration: FeedConfiguration
        switch (udp.count, tcp) {
        case (1...2, nil):
            configuration = FeedConfiguration(transport: .udp, framing: framing, lineA: try line(udp[0]),
                                              lineB: udp.count == 2 ? try line(udp[1]) : nil)
        case (0, let address?):
            configuration = FeedConfiguration(transport: .tcp, framing: framing, lineA: try line(address))
        default:
            throw ValidationError("give one or two --udp lines, or one --tcp stream")
        }
        let books = try Ledger(folder: ledger.folder)
        defer { books.close() }
        var logger = Logger(label: "counterfoil.fast")
        logger.logLevel = .info
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let booking = FeedBooking(booker: try FASTBooker(ledger: books, mapper: mapper), loop: loop)
        let problems = logger
        booking.onProblem = { problems.warning("\($0)") }
        let feed = FASTFeed(configuration: configuration, templates: compiled, loop: loop, delegate: booking)
        do {
            try await feed.start()
        } catch {
            throw UserError("cannot open the feed: \(error)")
        }
        logger.info("feed open", metadata: ["source": "\(mapper.mapping.source)", "progress": "\(booking.progress)",
                                            "lines": "\(udp.isEmpty ? [tcp ?? ""] : udp)"])
        let service = FeedService(feed: feed, booking: booking, logger: logger)
        let serviceGroup = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await serviceGroup.run()
        try await group.shutdownGracefully()
        let counts = booking.counts
        print("\(counts.messages) messages (\(counts.skipped) booked before), \(counts.booked) executions booked, "
              + "\(counts.marks) marks, \(booking.gaps.count) gaps; \(mapper.mapping.source) progress \(booking.progress)")
    }
}

/// Runs until shutdown, saying every ten seconds how far the feed has been booked; then
/// stops the feed and books what is pending.
struct FeedService: Service {
    let feed: FASTFeed
    let booking: FeedBooking
    let logger: Logger

    func run() async throws {
        var last: UInt64 = booking.progress
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(10)) }
            let progress = booking.progress
            if progress != last {
                let counts = booking.counts
                logger.info("booked", metadata: ["progress": "\(progress)", "executions": "\(counts.booked)", "gaps": "\(booking.gaps.count)"])
                last = progress
            }
        }
        await feed.stop()
        await booking.stop()
    }
}
