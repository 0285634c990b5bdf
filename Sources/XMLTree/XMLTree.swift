import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// An XML element with its attributes, children and the line it starts on.
public final class XMLElement {
    public let name: String
    public let attributes: [String: String]
    public let line: Int
    public internal(set) var children: [XMLElement] = []
    /// The character data directly inside the element, whitespace at both ends trimmed.
    public internal(set) var text = ""

    public init(name: String, attributes: [String: String], line: Int, children: [XMLElement] = []) {
        self.name = name
        self.attributes = attributes
        self.line = line
        self.children = children
    }

    public func children(named name: String) -> [XMLElement] { children.filter { $0.name == name } }
    public func child(named name: String) -> XMLElement? { children.first { $0.name == name } }
    /// The text of the first child named `name`, nil when there is none or it is empty.
    public func text(of name: String) -> String? {
        guard let value = child(named: name)?.text, !value.isEmpty else { return nil }
        return value
    }
}

/// Reads a whole (small) XML document into a tree, keeping line numbers for messages.
public final class XMLTreeBuilder: NSObject, XMLParserDelegate {
    private var stack: [XMLElement] = []
    private(set) var root: XMLElement?
    private var parser: XMLParser?

    /// The document's root element, or an `XMLTreeError` naming the file, line and reason.
    public static func parse(data: Data, path: String) throws -> XMLElement {
        let builder = XMLTreeBuilder()
        let parser = XMLParser(data: data)
        builder.parser = parser
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            let line = parser.lineNumber
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "not well-formed XML"
            throw XMLTreeError(description: "\(path):\(line): \(reason)")
        }
        return root
    }

    public func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        let element = XMLElement(name: elementName, attributes: attributeDict, line: parser.lineNumber)
        if let parent = stack.last { parent.children.append(element) } else { root = element }
        stack.append(element)
    }

    public func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        if let element = stack.popLast(), !element.text.isEmpty {
            element.text = element.text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    public func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }
}

/// XML that is not well-formed: where and why, on one line.
public struct XMLTreeError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
