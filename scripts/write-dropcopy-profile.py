#!/usr/bin/env python3
"""Writes FixDictionaries/FIX44-DropCopy.xml: Counterfoil's FIX 4.4 drop-copy profile.

The profile is what a drop-copy session needs and no more: the session messages,
ExecutionReport, TradeCaptureReport and its ack, PositionReport, RequestForPositions and its
ack, BusinessMessageReject. Fields follow the FIX 4.4 specification; the layout is
QuickFIX's dictionary format, so QuickFIX users can point a session at it.

    python3 scripts/write-dropcopy-profile.py
"""
import os

FIELDS = [  # tag, name, type, enums
    (1, "Account", "STRING", {}), (6, "AvgPx", "PRICE", {}), (7, "BeginSeqNo", "SEQNUM", {}),
    (8, "BeginString", "STRING", {}), (9, "BodyLength", "LENGTH", {}), (10, "CheckSum", "STRING", {}),
    (11, "ClOrdID", "STRING", {}),
    (12, "Commission", "AMT", {}),
    (13, "CommType", "CHAR", {"1": "PER_UNIT", "2": "PERCENT", "3": "ABSOLUTE", "4": "PERCENTAGE_WAIVED_CASH_DISCOUNT",
                               "5": "PERCENTAGE_WAIVED_ENHANCED_UNITS", "6": "POINTS_PER_BOND_OR_CONTRACT"}),
    (14, "CumQty", "QTY", {}), (15, "Currency", "CURRENCY", {}), (16, "EndSeqNo", "SEQNUM", {}),
    (17, "ExecID", "STRING", {}), (19, "ExecRefID", "STRING", {}),
    (22, "SecurityIDSource", "STRING", {}), (30, "LastMkt", "EXCHANGE", {}), (31, "LastPx", "PRICE", {}),
    (32, "LastQty", "QTY", {}), (34, "MsgSeqNum", "SEQNUM", {}),
    (35, "MsgType", "STRING", {"0": "HEARTBEAT", "1": "TEST_REQUEST", "2": "RESEND_REQUEST", "3": "REJECT",
                               "4": "SEQUENCE_RESET", "5": "LOGOUT", "8": "EXECUTION_REPORT", "A": "LOGON",
                               "j": "BUSINESS_MESSAGE_REJECT", "AE": "TRADE_CAPTURE_REPORT",
                               "AR": "TRADE_CAPTURE_REPORT_ACK", "AN": "REQUEST_FOR_POSITIONS",
                               "AO": "REQUEST_FOR_POSITIONS_ACK", "AP": "POSITION_REPORT"}),
    (36, "NewSeqNo", "SEQNUM", {}), (37, "OrderID", "STRING", {}), (38, "OrderQty", "QTY", {}),
    (39, "OrdStatus", "CHAR", {c: d for c, d in zip("0123456789ABCDE", [
        "NEW", "PARTIALLY_FILLED", "FILLED", "DONE_FOR_DAY", "CANCELED", "REPLACED", "PENDING_CANCEL", "STOPPED",
        "REJECTED", "SUSPENDED", "PENDING_NEW", "CALCULATED", "EXPIRED", "ACCEPTED_FOR_BIDDING", "PENDING_REPLACE"])}),
    (40, "OrdType", "CHAR", {c: d for c, d in zip("123456789DEGIJKLMP", [
        "MARKET", "LIMIT", "STOP", "STOP_LIMIT", "MARKET_ON_CLOSE", "WITH_OR_WITHOUT", "LIMIT_OR_BETTER",
        "LIMIT_WITH_OR_WITHOUT", "ON_BASIS", "PREVIOUSLY_QUOTED", "PREVIOUSLY_INDICATED", "FOREX_SWAP", "FUNARI",
        "MARKET_IF_TOUCHED", "MARKET_WITH_LEFTOVER_AS_LIMIT", "PREVIOUS_FUND_VALUATION_POINT",
        "NEXT_FUND_VALUATION_POINT", "PEGGED"])}),
    (41, "OrigClOrdID", "STRING", {}), (43, "PossDupFlag", "BOOLEAN", {"Y": "YES", "N": "NO"}),
    (44, "Price", "PRICE", {}), (45, "RefSeqNum", "SEQNUM", {}), (48, "SecurityID", "STRING", {}),
    (49, "SenderCompID", "STRING", {}), (50, "SenderSubID", "STRING", {}), (52, "SendingTime", "UTCTIMESTAMP", {}),
    (54, "Side", "CHAR", {c: d for c, d in zip("123456789ABCDEFG", [
        "BUY", "SELL", "BUY_MINUS", "SELL_PLUS", "SELL_SHORT", "SELL_SHORT_EXEMPT", "UNDISCLOSED", "CROSS",
        "CROSS_SHORT", "CROSS_SHORT_EXEMPT", "AS_DEFINED", "OPPOSITE", "SUBSCRIBE", "REDEEM", "LEND", "BORROW"])}),
    (55, "Symbol", "STRING", {}), (56, "TargetCompID", "STRING", {}), (57, "TargetSubID", "STRING", {}),
    (58, "Text", "STRING", {}),
    (59, "TimeInForce", "CHAR", {c: d for c, d in zip("01234567", [
        "DAY", "GOOD_TILL_CANCEL", "AT_THE_OPENING", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL", "GOOD_TILL_CROSSING",
        "GOOD_TILL_DATE", "AT_THE_CLOSE"])}),
    (60, "TransactTime", "UTCTIMESTAMP", {}), (63, "SettlType", "CHAR", {}), (64, "SettlDate", "LOCALMKTDATE", {}),
    (75, "TradeDate", "LOCALMKTDATE", {}), (97, "PossResend", "BOOLEAN", {"Y": "YES", "N": "NO"}),
    (98, "EncryptMethod", "INT", {str(i): d for i, d in enumerate(["NONE_OTHER", "PKCS", "DES", "PKCS_DES", "PGP_DES",
                                                                  "PGP_DES_MD5", "PEM_DES_MD5"])}),
    (99, "StopPx", "PRICE", {}), (103, "OrdRejReason", "INT", {}), (108, "HeartBtInt", "INT", {}),
    (112, "TestReqID", "STRING", {}), (115, "OnBehalfOfCompID", "STRING", {}), (122, "OrigSendingTime", "UTCTIMESTAMP", {}),
    (123, "GapFillFlag", "BOOLEAN", {"Y": "YES", "N": "NO"}), (128, "DeliverToCompID", "STRING", {}),
    (141, "ResetSeqNumFlag", "BOOLEAN", {"Y": "YES", "N": "NO"}),
    (150, "ExecType", "CHAR", {c: d for c, d in zip("03456789ABCDEFGHI", [
        "NEW", "DONE_FOR_DAY", "CANCELED", "REPLACED", "PENDING_CANCEL", "STOPPED", "REJECTED", "SUSPENDED",
        "PENDING_NEW", "CALCULATED", "EXPIRED", "RESTATED", "PENDING_REPLACE", "TRADE", "TRADE_CORRECT",
        "TRADE_CANCEL", "ORDER_STATUS"])}),
    (151, "LeavesQty", "QTY", {}), (198, "SecondaryOrderID", "STRING", {}),
    (371, "RefTagID", "INT", {}), (372, "RefMsgType", "STRING", {}),
    (373, "SessionRejectReason", "INT", {str(i): "" for i in list(range(18)) + [99]}),
    (379, "BusinessRejectRefID", "STRING", {}),
    (380, "BusinessRejectReason", "INT", {str(i): "" for i in range(8)}),
    (447, "PartyIDSource", "CHAR", {c: "" for c in "BCDEFGHI123456789"}), (448, "PartyID", "STRING", {}),
    (452, "PartyRole", "INT", {}), (453, "NoPartyIDs", "NUMINGROUP", {}),
    (487, "TradeReportTransType", "INT", {"0": "NEW", "1": "CANCEL", "2": "REPLACE", "3": "RELEASE", "4": "REVERSE"}),
    (552, "NoSides", "NUMINGROUP", {}), (553, "Username", "STRING", {}), (554, "Password", "STRING", {}),
    (570, "PreviouslyReported", "BOOLEAN", {"Y": "YES", "N": "NO"}), (571, "TradeReportID", "STRING", {}),
    (572, "TradeReportRefID", "STRING", {}),
    (581, "AccountType", "INT", {str(i): "" for i in range(1, 9)}),
    (702, "NoPositions", "NUMINGROUP", {}), (703, "PosType", "STRING", {}), (704, "LongQty", "QTY", {}),
    (705, "ShortQty", "QTY", {}),
    (707, "PosAmtType", "STRING", {v: "" for v in ["FMTM", "IMTM", "TVAR", "SMTM", "PREM", "CRES", "CASH", "VADJ"]}),
    (708, "PosAmt", "AMT", {}), (710, "PosReqID", "STRING", {}), (715, "ClearingBusinessDate", "LOCALMKTDATE", {}),
    (721, "PosMaintRptID", "STRING", {}),
    (724, "PosReqType", "INT", {"0": "POSITIONS", "1": "TRADES", "2": "EXERCISES", "3": "ASSIGNMENTS"}),
    (727, "TotalNumPosReports", "INT", {}),
    (728, "PosReqResult", "INT", {"0": "VALID_REQUEST", "1": "INVALID_OR_UNSUPPORTED_REQUEST", "2": "NO_POSITIONS_FOUND",
                                  "3": "NOT_AUTHORIZED", "4": "REQUEST_FOR_POSITION_NOT_SUPPORTED", "99": "OTHER"}),
    (729, "PosReqStatus", "INT", {"0": "COMPLETED", "1": "COMPLETED_WITH_WARNINGS", "2": "REJECTED"}),
    (730, "SettlPrice", "PRICE", {}), (731, "SettlPriceType", "INT", {"1": "FINAL", "2": "THEORETICAL"}),
    (734, "PriorSettlPrice", "PRICE", {}), (751, "TradeReportRejectReason", "INT", {}), (753, "NoPosAmt", "NUMINGROUP", {}),
    (789, "NextExpectedMsgSeqNum", "SEQNUM", {}),
    (856, "TradeReportType", "INT", {}), (939, "TrdRptStatus", "INT", {"0": "ACCEPTED", "1": "REJECTED"}),
]
NAME = {tag: name for tag, name, _, _ in FIELDS}


def f(tag, required=False):
    return "   <field name='%s' required='%s' />" % (NAME[tag], "Y" if required else "N")


PARTIES = ["   <component name='Parties' required='N' />"]


def message(name, msgtype, cat, lines):
    return ["  <message name='%s' msgtype='%s' msgcat='%s'>" % (name, msgtype, cat)] + lines + ["  </message>"]


def main():
    out = ["<fix type='FIX' major='4' minor='4' servicepack='0'>",
           " <!-- Counterfoil's FIX 4.4 drop-copy profile: the session messages and what a",
           "      drop-copy session books or reconciles. Written by scripts/write-dropcopy-profile.py. -->",
           " <header>"]
    for tag, req in [(8, 1), (9, 1), (35, 1), (49, 1), (56, 1), (115, 0), (128, 0), (50, 0), (57, 0), (34, 1), (43, 0),
                     (97, 0), (52, 1), (122, 0)]:
        out.append(f(tag, req).replace("   ", "  ", 1))
    out += [" </header>", " <trailer>", "  <field name='CheckSum' required='Y' />", " </trailer>", " <messages>"]
    out += message("Heartbeat", "0", "admin", [f(112)])
    out += message("TestRequest", "1", "admin", [f(112, True)])
    out += message("ResendRequest", "2", "admin", [f(7, True), f(16, True)])
    out += message("Reject", "3", "admin", [f(45, True), f(371), f(372), f(373), f(58)])
    out += message("SequenceReset", "4", "admin", [f(123), f(36, True)])
    out += message("Logout", "5", "admin", [f(58)])
    out += message("Logon", "A", "admin", [f(98, True), f(108, True), f(141), f(789), f(553), f(554)])
    out += message("BusinessMessageReject", "j", "app", [f(45), f(372, True), f(379), f(380, True), f(58)])
    out += message("ExecutionReport", "8", "app",
                   [f(37, True), f(198), f(11), f(41)] + PARTIES +
                   [f(17, True), f(19), f(150, True), f(39, True), f(103), f(1), f(55, True), f(48), f(22), f(54, True),
                    f(38), f(40), f(44), f(99), f(15), f(59), f(32), f(31), f(30), f(151, True), f(14, True),
                    f(6, True), f(75), f(60), f(63), f(64), f(12), f(13), f(58)])
    out += message("TradeCaptureReport", "AE", "app",
                   [f(571, True), f(487), f(856), f(572), f(150), f(570, True), f(55, True), f(48), f(22),
                    f(32, True), f(31, True), f(75, True), f(60, True), f(63), f(64),
                    "   <group name='NoSides' required='Y'>", f(54, True).replace("   ", "    ", 1),
                    f(37, True).replace("   ", "    ", 1), f(11).replace("   ", "    ", 1),
                    "    <component name='Parties' required='N' />", f(1).replace("   ", "    ", 1),
                    f(15).replace("   ", "    ", 1), f(12).replace("   ", "    ", 1), f(13).replace("   ", "    ", 1),
                    "   </group>", f(58)])
    out += message("TradeCaptureReportAck", "AR", "app",
                   [f(571, True), f(487), f(856), f(939), f(751), f(150), f(55, True), f(58)])
    out += message("RequestForPositions", "AN", "app",
                   [f(710, True), f(724, True)] + PARTIES + [f(1, True), f(581, True), f(55), f(15), f(715, True),
                                                             f(60, True)])
    out += message("RequestForPositionsAck", "AO", "app",
                   [f(721, True), f(710), f(727), f(728, True), f(729, True)] + PARTIES +
                   [f(1, True), f(581, True), f(58)])
    out += message("PositionReport", "AP", "app",
                   [f(721, True), f(710), f(724), f(728, True), f(715, True)] + PARTIES +
                   [f(1, True), f(581, True), f(55), f(15), f(730, True), f(731, True), f(734, True),
                    "   <group name='NoPositions' required='Y'>", f(703, True).replace("   ", "    ", 1),
                    f(704).replace("   ", "    ", 1), f(705).replace("   ", "    ", 1), "   </group>",
                    "   <group name='NoPosAmt' required='Y'>", f(707, True).replace("   ", "    ", 1),
                    f(708, True).replace("   ", "    ", 1), "   </group>", f(58)])
    out += [" </messages>", " <components>", "  <component name='Parties'>",
            "   <group name='NoPartyIDs' required='N'>", "    <field name='PartyID' required='N' />",
            "    <field name='PartyIDSource' required='N' />", "    <field name='PartyRole' required='N' />",
            "   </group>", "  </component>", " </components>", " <fields>"]
    for tag, name, typ, enums in FIELDS:
        if not enums:
            out.append("  <field number='%d' name='%s' type='%s' />" % (tag, name, typ))
            continue
        out.append("  <field number='%d' name='%s' type='%s'>" % (tag, name, typ))
        for value, description in enums.items():
            out.append("   <value enum='%s' description='%s' />" % (value, description or "VALUE_" + value))
        out.append("  </field>")
    out += [" </fields>", "</fix>", ""]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "FixDictionaries", "FIX44-DropCopy.xml")
    with open(path, "w") as handle:
        handle.write("\n".join(out))


if __name__ == "__main__":
    main()
