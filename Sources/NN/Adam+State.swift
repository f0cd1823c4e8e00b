import Autograd
import Tensor

/// Adam's moments and step counts as named tensors, so a training run can stop and resume
/// exactly (`optimizer.safetensors` beside the checkpoint). Names follow PyTorch's optimizer
/// state: `<parameter index>.exp_avg`, `.exp_avg_sq`, `.step`.
extension Adam {
    public func stateTensors() -> [String: Tensor] {
        var state: [String: Tensor] = [:]
        for index in parameters.indices where steps[index] > 0 {
            state["\(index).step"] = Tensor(shape: [1], scalars: [Float(steps[index])])
            if let m = firstMoments[index] { state["\(index).exp_avg"] = m }
            if let v = secondMoments[index] { state["\(index).exp_avg_sq"] = v }
        }
        return state
    }

    public struct StateError: Error, CustomStringConvertible {
        public let problem: String
        public var description: String { "optimizer state: \(problem)" }
    }

    public func loadState(_ state: [String: Tensor]) throws {
        for index in parameters.indices {
            guard let step = state["\(index).step"] else {
                steps[index] = 0
                firstMoments[index] = nil
                secondMoments[index] = nil
                continue
            }
            guard let m = state["\(index).exp_avg"], let v = state["\(index).exp_avg_sq"],
                  m.shape == parameters[index].shape, v.shape == parameters[index].shape else {
                throw StateError(problem: "moments of parameter \(index) are missing or have the wrong shape")
            }
            steps[index] = Int(step.scalars[0])
            firstMoments[index] = m
            secondMoments[index] = v
        }
        let known = Set(parameters.indices.flatMap { ["\($0).step", "\($0).exp_avg", "\($0).exp_avg_sq"] })
        if let stray = state.keys.first(where: { !known.contains($0) }) {
            throw StateError(problem: "unknown entry \(stray): saved for another model?")
        }
    }
}
