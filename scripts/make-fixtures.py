#!/usr/bin/env python3
"""Writes the FIX drop-copy traffic in Fixtures/ (deterministic: same seed, same bytes).

The shapes follow what platforms' drop-copy sessions send: FIX 4.4 ExecutionReports
with a parties group (executing firm, client, trader), fills, partial fills, corrections
and busts, TradeCaptureReports with their sides group, PositionReports with positions and
amounts; and a FIX 4.2 session whose corrections use ExecTransType (20).

    python3 scripts/make-fixtures.py            # rewrites Fixtures/*.log
"""
import datetime
import os
import random

SOH = "\x01"
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Fixtures")

INSTRUMENTS = [  # symbol, currency, price, tick decimals, lot
    ("EUR/USD", "USD", 1.0842, 5, 1000), ("GBP/USD", "USD", 1.2713, 5, 1000),
    ("USD/JPY", "JPY", 151.37, 3, 1000), ("XAU/USD", "USD", 2034.15, 2, 1),
    ("AAPL", "USD", 189.42, 2, 1), ("MSFT", "USD", 411.07, 2, 1), ("VOD.L", "GBP", 71.34, 2, 100),
    ("US500", "USD", 5021.8, 1, 1), ("DE40", "EUR", 17050.5, 1, 1),
]
ACCOUNTS = ["ACC-%04d" % i for i in range(1, 41)]


def message(begin, fields):
    body = "".join("%s=%s%s" % (t, v, SOH) for t, v in fields)
    head = "8=%s%s9=%d%s" % (begin, SOH, len(body), SOH)
    total = head + body
    return total + "10=%03d%s" % (sum(total.encode()) % 256, SOH)


class Session:
    def __init__(self, begin, sender, target, start):
        self.begin, self.sender, self.target = begin, sender, target
        self.seq = 0
        self.clock = start

    def header(self, msg_type):
        self.seq += 1
        self.clock += datetime.timedelta(milliseconds=random.randint(1, 900))
        return [(35, msg_type), (49, self.sender), (56, self.target), (34, self.seq), (52, ts(self.clock))]

    def send(self, msg_type, body):
        return message(self.begin, self.header(msg_type) + body)


def ts(t, digits=3):
    text = t.strftime("%Y%m%d-%H:%M:%S")
    return text + ".%03d" % (t.microsecond // 1000) if digits == 3 else text + ".%06d" % t.microsecond


def price_text(p, decimals):
    return ("%%.%df" % decimals) % p


def fix44_dropcopy(count):
    random.seed(20261129)
    s = Session("FIX.4.4", "PLATFORM1", "COUNTERFOIL", datetime.datetime(2026, 11, 27, 8, 0, 0))
    out = [s.send("A", [(98, 0), (108, 30), (141, "Y")])]
    prices = {sym: p for sym, _, p, _, _ in INSTRUMENTS}
    order_no, exec_no = 100000, 500000
    fills = []
    while len(out) < count:
        r = random.random()
        if r < 0.03:
            out.append(s.send("0", []))
            continue
        if r < 0.05 and fills:
            # Bust or correct an earlier fill (ExecType H / G with ExecRefID).
            ref = random.choice(fills)
            exec_no += 1
            sym, ccy, px, dec, lot, acct, side, qty, oid = ref[1:]
            correct = random.random() < 0.5
            new_qty = qty if not correct else max(lot, qty - lot)
            out.append(s.send("8", [
                (37, oid), (17, "E%d" % exec_no), (19, ref[0]), (150, "G" if correct else "H"), (39, "2"),
                (1, acct), (55, sym), (54, side), (38, qty), (32, new_qty if correct else 0),
                (31, price_text(px, dec)), (15, ccy), (151, 0), (14, new_qty if correct else 0),
                (6, price_text(px, dec)), (60, ts(s.clock, 6)), (75, s.clock.strftime("%Y%m%d"))]))
            continue
        sym, ccy, _, dec, lot = random.choice(INSTRUMENTS)
        prices[sym] *= 1 + random.uniform(-0.0005, 0.0005)
        px = prices[sym]
        acct = random.choice(ACCOUNTS)
        side = random.choice("12")
        qty = lot * random.randint(1, 50)
        order_no += 1
        oid = "O%d" % order_no
        parts = [qty] if random.random() < 0.7 else [qty // 2, qty - qty // 2]
        cum = 0
        for i, part in enumerate(parts):
            if part == 0:
                continue
            exec_no += 1
            cum += part
            done = cum == qty
            eid = "E%d" % exec_no
            fill_px = price_text(px, dec)
            out.append(s.send("8", [
                (37, oid), (11, "C%d" % order_no), (17, eid), (150, "F"), (39, "2" if done else "1"),
                (1, acct), (55, sym), (54, side), (38, qty), (40, "2"), (44, fill_px), (32, part),
                (31, fill_px), (15, ccy), (151, qty - cum), (14, cum), (6, fill_px),
                (60, ts(s.clock, 6)), (75, s.clock.strftime("%Y%m%d")), (12, "%.2f" % (part * px * 0.00002)), (13, "3"),
                (453, 3), (448, "EXECBROKER1"), (447, "D"), (452, 1), (448, acct), (447, "D"), (452, 3),
                (448, "TRADER%02d" % random.randint(1, 12)), (447, "D"), (452, 11)]))
            fills.append((eid, sym, ccy, float(fill_px), dec, lot, acct, side, part, oid))
        if random.random() < 0.06:
            # A trade capture report for the last fill, as platforms send to clearing.
            f = fills[-1]
            out.append(s.send("AE", [
                (571, "TR%d" % exec_no), (487, 0), (856, 0), (570, "N"), (55, f[1]), (32, f[8]),
                (31, price_text(f[3], f[4])), (75, s.clock.strftime("%Y%m%d")), (60, ts(s.clock, 6)),
                (552, 1), (54, f[7]), (37, f[9]), (453, 1), (448, "EXECBROKER1"), (447, "D"), (452, 1),
                (1, f[6]), (15, f[2])]))
        if random.random() < 0.02:
            acct = random.choice(ACCOUNTS)
            sym, ccy, px, dec, _ = random.choice(INSTRUMENTS)
            out.append(s.send("AP", [
                (721, "P%d" % s.seq), (724, 0), (728, 0), (715, s.clock.strftime("%Y%m%d")), (1, acct), (581, 1),
                (55, sym), (15, ccy), (730, price_text(px, dec)), (731, 1), (734, price_text(px, dec)),
                (702, 1), (703, "TOT"), (704, random.randint(0, 20) * 100), (705, random.randint(0, 20) * 100),
                (753, 1), (707, "FMTM"), (708, "%.2f" % random.uniform(-5000, 5000))]))
    out.append(s.send("5", [(58, "end of day")]))
    return out


def fix42_dropcopy(count):
    random.seed(42)
    s = Session("FIX.4.2", "BRIDGE42", "COUNTERFOIL", datetime.datetime(2026, 11, 27, 9, 30, 0))
    out = [s.send("A", [(98, 0), (108, 30)])]
    exec_no = 7000
    fills = []
    while len(out) < count:
        sym, ccy, px, dec, lot = random.choice(INSTRUMENTS)
        exec_no += 1
        if fills and random.random() < 0.05:
            ref = random.choice(fills)
            cancel = random.random() < 0.5
            out.append(s.send("8", [
                (37, ref[5]), (17, "X%d" % exec_no), (20, "1" if cancel else "2"), (19, ref[0]), (150, "2"),
                (39, "2"), (1, ref[1]), (55, ref[2]), (54, ref[3]), (38, ref[4]), (32, 0 if cancel else ref[4]),
                (31, ref[6]), (151, 0), (14, 0 if cancel else ref[4]), (6, ref[6]), (15, ref[7]),
                (60, ts(s.clock))]))
            continue
        acct = random.choice(ACCOUNTS)
        side = random.choice("12")
        qty = lot * random.randint(1, 20)
        oid = "B%d" % exec_no
        fill_px = price_text(px * (1 + random.uniform(-0.001, 0.001)), dec)
        eid = "X%d" % exec_no
        out.append(s.send("8", [
            (37, oid), (17, eid), (20, "0"), (150, "2"), (39, "2"), (1, acct), (55, sym), (54, side),
            (38, qty), (32, qty), (31, fill_px), (151, 0), (14, qty), (6, fill_px), (15, ccy),
            (60, ts(s.clock))]))
        fills.append((eid, acct, sym, side, qty, oid, fill_px, ccy))
    out.append(s.send("5", []))
    return out


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    with open(os.path.join(FIXTURES, "dropcopy-fix44.log"), "w", newline="") as f:
        for m in fix44_dropcopy(3000):
            f.write(m + "\n")
    with open(os.path.join(FIXTURES, "dropcopy-fix42-pipe.log"), "w", newline="") as f:
        for m in fix42_dropcopy(400):
            f.write(m.replace(SOH, "|") + "\n")


if __name__ == "__main__":
    main()
