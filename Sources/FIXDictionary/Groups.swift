import FIXCore

/// The instances of one repeating group in a message, found with the dictionary's
/// layout: each is a range of field positions. Nothing is allocated per instance.
///
/// ```
/// if let parties = message.group(453, layout: executionReport.body) {
///     for instance in parties {
///         let id = message[instance.position(of: 448, in: message)!].value
///     }
/// }
/// ```
public struct FIXGroupInstances: Sequence, IteratorProtocol {
    public let group: FIXGroupLayout
    let message: FIXMessage
    var position: Int
    /// Position of the count field (NumInGroup).
    public let countPosition: Int

    init(group: FIXGroupLayout, message: FIXMessage, countPosition: Int) {
        self.group = group
        self.message = message
        self.countPosition = countPosition
        position = countPosition + 1
    }

    public mutating func next() -> FIXGroupInstance? {
        let count = message.count
        guard position < count, message.tag(at: position) == group.delimiter else { return nil }
        let start = position
        position += 1
        while position < count {
            let tag = message.tag(at: position)
            if tag == group.delimiter || !group.instance.members.contains(tag) { break }
            if let nested = group.instance.groups[tag] {
                // Skip over the nested group's instances.
                var inner = FIXGroupInstances(group: nested, message: message, countPosition: position)
                var end = position + 1
                while let instance = inner.next() { end = instance.positions.upperBound }
                position = end
                continue
            }
            position += 1
        }
        return FIXGroupInstance(positions: start..<position, layout: group.instance)
    }
}

/// One instance of a repeating group: the positions of its fields in the message.
public struct FIXGroupInstance: Sendable {
    public let positions: Range<Int>
    public let layout: FIXLayout

    /// The position of `tag` in this instance (not in nested groups'), if present.
    public func position(of tag: Int, in message: FIXMessage) -> Int? {
        guard let found = message.position(of: tag, from: positions.lowerBound), found < positions.upperBound else { return nil }
        return found
    }

    /// The instances of a group nested in this instance.
    public func group(_ countTag: Int, in message: FIXMessage) -> FIXGroupInstances? {
        guard let nested = layout.groups[countTag], let at = position(of: countTag, in: message) else { return nil }
        return FIXGroupInstances(group: nested, message: message, countPosition: at)
    }
}

extension FIXMessage {
    /// The instances of the group counted by `countTag` at the level `layout` describes
    /// (a message body, or the header).
    public func group(_ countTag: Int, layout: FIXLayout) -> FIXGroupInstances? {
        guard let group = layout.groups[countTag], let at = firstPosition(of: countTag) else { return nil }
        return FIXGroupInstances(group: group, message: self, countPosition: at)
    }
}
