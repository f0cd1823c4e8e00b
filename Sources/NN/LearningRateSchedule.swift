#if canImport(Glibc)
import Glibc
#endif

/// Learning rate as a function of the step (closed forms of PyTorch's schedulers).
public enum LearningRateSchedule: Sendable {
    /// base · (1 − min(t, T)/T)^power (PyTorch `PolynomialLR`; DeepLab's "poly" uses 0.9).
    case poly(base: Float, totalSteps: Int, power: Float = 0.9)
    /// minimum + (base − minimum)·(1 + cos(π·t/T))/2 (closed form of `CosineAnnealingLR`),
    /// held at `minimum` after T.
    case cosine(base: Float, totalSteps: Int, minimum: Float = 0)
    /// A constant rate.
    case constant(Float)

    /// The rate to use for step `t` (0-based).
    public func rate(atStep t: Int) -> Float {
        switch self {
        case let .poly(base, total, power):
            let progress = Float(min(max(t, 0), total)) / Float(max(total, 1))
            return base * powf(1 - progress, power)
        case let .cosine(base, total, minimum):
            let progress = Double(min(max(t, 0), total)) / Double(max(total, 1))
            return minimum + (base - minimum) * Float((1 + cos(Double.pi * progress)) / 2)
        case let .constant(rate):
            return rate
        }
    }
}
