import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// An XML element with its attributes, children and the line it starts on.
final class XMLElement {
    let name: String
    let attributes: [String: String]
    let line: Int
    var children: [XMLElement] = []

    init(name: String, attributes: [String: String], line: Int) {
        self.name = name
        self.attributes = attributes
        self.line = line
    }

    func children(named name: String) -> [XMLElement] { children.filter { $0.name == name } }
    func child(named name: String) -> XMLElement? { children.first { $0.name == name } }
}

/// Reads a whole (small) XML document into a tree, keeping line numbers for messages.
final class XMLTreeBuilder: NSObject, XMLParserDelegate {
    private var stack: [XMLElement] = []
    private(set) var root: XMLElement?
    private var parser: XMLParser?

    static func parse(data: Data, path: String) throws -> XMLElement {
        let builder = XMLTreeBuilder()
        let parser = XMLParser(data: data)
        builder.parser = parser
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            let line = parser.lineNumber
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "not well-formed XML"
            throw DictionaryError("\(path):\(line): \(reason)")
        }
        return root
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        let element = XMLElement(name: elementName, attributes: attributeDict, line: parser.lineNumber)
        if let parent = stack.last { parent.children.append(element) } else { root = element }
        stack.append(element)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        _ = stack.popLast()
    }
}

/// A dictionary file that cannot be used: where and why, on one line.
public struct DictionaryError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
