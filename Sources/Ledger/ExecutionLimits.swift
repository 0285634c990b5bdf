import ExactNumbers

/// The bounds an execution's numbers keep to before anything is journaled. A value from
/// outside (a FIX field, a FAST field, a file) is held to them in `Booking.validate`; an
/// execution outside them is quarantined with the reason and its raw message.
///
/// They are chosen so that the arithmetic of booking cannot overflow: a quantity has at
/// most 18 significant digits, a price at most 18, and their product (the notional) is
/// below 10^18. A position's cost is carried at 16 decimals (quantity's 6, the average
/// cost's 10), so one trade's cost takes at most 34 of the 128-bit mantissa's 38 digits,
/// and a position or balance can sum about 17,000 trades of the largest notional before
/// its own (checked) sum refuses and the books set the entry aside. Digits are counted
/// without trailing fractional zeros: `100.000000000` is a quantity of 100.
public enum ExecutionLimits {
    /// Quantities: up to 999,999,999,999 (12 digits before the point), 6 decimals.
    public static let quantityIntegerDigits = 12
    public static let quantityScale = 6
    /// Prices: up to 9,999,999,999 (10 digits before the point), 8 decimals.
    public static let priceIntegerDigits = 10
    public static let priceScale = 8
    /// Commissions and fees: up to 15 digits before the point, 8 decimals.
    public static let chargeIntegerDigits = 15
    public static let chargeScale = 8
    /// Quantity × price: below 10^18 (a quintillion in the trade's currency).
    public static let notionalIntegerDigits = 18

    /// `execution` with trailing fractional zeros dropped from any number written with
    /// more decimals than its limit (`100.000000000000` becomes `100`), so that the
    /// arithmetic works at the scales the limits allow for; nil when none is. Exactly-once
    /// is unaffected: an execution's fingerprint is taken of normalized numbers.
    @inline(__always)
    public static func trimmed(_ execution: Execution) -> Execution? {
        guard execution.quantity.scale > quantityScale || execution.price.scale > priceScale
            || execution.commission.scale > chargeScale || execution.fees.scale > chargeScale else { return nil }
        var trimmed = execution
        trimmed.quantity = trimmed.quantity.normalized
        trimmed.price = trimmed.price.normalized
        trimmed.commission = trimmed.commission.normalized
        trimmed.fees = trimmed.fees.normalized
        // Nil when no trailing zero went: the value is over its limit, for `violation` to say.
        let shorter = trimmed.quantity.scale < execution.quantity.scale || trimmed.price.scale < execution.price.scale
            || trimmed.commission.scale < execution.commission.scale || trimmed.fees.scale < execution.fees.scale
        return shorter ? trimmed : nil
    }

    /// Why `execution`'s numbers are outside the limits, or nil.
    @inline(__always)
    public static func violation(_ execution: Execution) -> String? {
        if !execution.quantity.fits(integerDigits: quantityIntegerDigits, scale: quantityScale) {
            return "quantity \(execution.quantity) is outside the limits (\(quantityIntegerDigits) digits before the point, \(quantityScale) after)"
        }
        if !execution.price.fits(integerDigits: priceIntegerDigits, scale: priceScale) {
            return "price \(execution.price) is outside the limits (\(priceIntegerDigits) digits before the point, \(priceScale) after)"
        }
        // Both factors are within their limits, so the product fits and its scale is at most 14.
        let notional = execution.quantity * execution.price
        if !notional.fits(integerDigits: notionalIntegerDigits, scale: quantityScale + priceScale) {
            return "notional \(execution.quantity) × \(execution.price) is outside the limits (below 10^\(notionalIntegerDigits))"
        }
        if !execution.commission.fits(integerDigits: chargeIntegerDigits, scale: chargeScale) {
            return "commission \(execution.commission) is outside the limits (\(chargeIntegerDigits) digits before the point, \(chargeScale) after)"
        }
        if !execution.fees.fits(integerDigits: chargeIntegerDigits, scale: chargeScale) {
            return "fees \(execution.fees) are outside the limits (\(chargeIntegerDigits) digits before the point, \(chargeScale) after)"
        }
        return nil
    }
}
