/// Names of the message types, for people reading logs and summaries.
public enum FIXMsgTypeNames {
    /// The FIX name of MsgType `type`, if it is a standard one Counterfoil meets.
    public static func name(of type: String) -> String? { names[type] }

    static let names: [String: String] = [
        "0": "Heartbeat", "1": "TestRequest", "2": "ResendRequest", "3": "Reject",
        "4": "SequenceReset", "5": "Logout", "A": "Logon", "8": "ExecutionReport",
        "9": "OrderCancelReject", "D": "NewOrderSingle", "F": "OrderCancelRequest",
        "G": "OrderCancelReplaceRequest", "H": "OrderStatusRequest", "j": "BusinessMessageReject",
        "AE": "TradeCaptureReport", "AR": "TradeCaptureReportAck", "AD": "TradeCaptureReportRequest",
        "AQ": "TradeCaptureReportRequestAck", "AN": "RequestForPositions", "AO": "RequestForPositionsAck",
        "AP": "PositionReport", "BE": "UserRequest", "BF": "UserResponse", "V": "MarketDataRequest",
        "W": "MarketDataSnapshotFullRefresh", "X": "MarketDataIncrementalRefresh", "n": "XMLnonFIX",
        "B": "News", "C": "Email", "J": "AllocationInstruction", "P": "AllocationInstructionAck",
        "AS": "AllocationReport", "AT": "AllocationReportAck", "AK": "Confirmation", "AU": "ConfirmationAck",
    ]
}
