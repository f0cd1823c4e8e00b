import XCTest
import Autograd
import NN
import Tensor
@testable import Distillation

/// Every loss of method.md §3 against an independent Double implementation, value and gradient.
final class DistillationLossTests: XCTestCase {
    func testPredictionKD() {
        let (n, k, h, w, t) = (2, 3, 2, 3, 2.0)
        checkLoss("predictionKD", [randomTensor([n, k, h, w], seed: 1, scale: 3), randomTensor([n, k, h, w], seed: 2, scale: 3)],
                  differentiable: [0], engine: { predictionKD(student: $0[0], teacher: $0[1], temperature: Float(t)) },
                  reference: { x in
            var total = 0.0
            for s in 0..<n { for p in 0..<(h * w) {
                let zs = (0..<k).map { x[0][(s * k + $0) * h * w + p] / t }, zt = (0..<k).map { x[1][(s * k + $0) * h * w + p] / t }
                let (ls, lt) = (logSumExp(zs), logSumExp(zt))
                for c in 0..<k { total += Foundation.exp(zt[c] - lt) * ((zt[c] - lt) - (zs[c] - ls)) }
            } }
            return t * t * total / Double(n * h * w)
        })
    }

    func testAffinityKDWithoutAndWithPooling() {
        // Student 3 channels, teacher 2: only the graphs are compared. Nodes 2×2 from 4×4 maps (2×2 average pooling).
        let (n, h, w) = (2, 4, 4)
        checkLoss("affinityKD", [randomTensor([n, 3, h, w], seed: 3), randomTensor([n, 2, h, w], seed: 4)], differentiable: [0],
                  engine: { affinityKD(student: $0[0], teacher: $0[1], nodes: (2, 2)) }, reference: { x in
            func graph(_ data: [Double], _ c: Int, _ s: Int) -> [[Double]] {
                var nodes: [[Double]] = []
                for ny in 0..<2 { for nx in 0..<2 {
                    nodes.append(unit((0..<c).map { ch in
                        var acc = 0.0
                        for dy in 0..<2 { for dx in 0..<2 { acc += data[((s * c + ch) * h + 2 * ny + dy) * w + 2 * nx + dx] } }
                        return acc / 4
                    }))
                } }
                return nodes.map { a in nodes.map { dot(a, $0) } }
            }
            var total = 0.0
            for s in 0..<n {
                let (gs, gt) = (graph(x[0], 3, s), graph(x[1], 2, s))
                for i in 0..<4 { for j in 0..<4 { total += (gs[i][j] - gt[i][j]) * (gs[i][j] - gt[i][j]) } }
            }
            return total / 16 / Double(n)
        })
    }

    func testChannelDecorrelation() {
        let (n, c, h, w) = (2, 4, 3, 2)
        checkLoss("channelDecorrelation", [randomTensor([n, c, h, w], seed: 5)], differentiable: [0], tolerance: 5e-4,
                  engine: { channelDecorrelation($0[0]) }, reference: { x in
            let r = rows(x[0], n, c, h, w), m = Double(r.count)
            let means = (0..<c).map { j in r.reduce(0) { $0 + $1[j] } / m }
            let vars = (0..<c).map { j in r.reduce(0) { $0 + ($1[j] - means[j]) * ($1[j] - means[j]) } / m }
            let z = r.map { row in (0..<c).map { (row[$0] - means[$0]) / (vars[$0] + 1e-5).squareRoot() } }
            var total = 0.0
            for i in 0..<c { for j in 0..<c where i != j {
                let rij = z.reduce(0) { $0 + $1[i] * $1[j] } / m
                total += rij * rij
            } }
            return total / Double(c * (c - 1))
        })
    }

    func testUniformity() {
        let (n, c, h, w) = (2, 3, 2, 2)
        checkLoss("uniformity", [randomTensor([n, c, h, w], seed: 6)], differentiable: [0],
                  engine: { uniformity($0[0], nodes: (2, 2)) }, reference: { x in
            let u = rows(x[0], n, c, h, w).map { unit($0) }
            var total = 0.0
            for i in u.indices { for j in u.indices where i != j {
                let d = zip(u[i], u[j]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
                total += Foundation.exp(-2 * d)
            } }
            return Foundation.log(total / Double(u.count * (u.count - 1)))
        })
    }

    func testMomentMatching() {
        let (n, c, h, w) = (2, 3, 2, 3)
        checkLoss("momentMatching", [randomTensor([n, c, h, w], seed: 7), randomTensor([n, c, h, w], seed: 8, scale: 2)],
                  differentiable: [0], engine: { momentMatching(student: $0[0], teacher: $0[1]) }, reference: { x in
            func moments(_ data: [Double]) -> ([Double], [Double]) {
                let r = rows(data, n, c, h, w), m = Double(r.count)
                let mu = (0..<c).map { j in r.reduce(0) { $0 + $1[j] } / m }
                let sigma = (0..<c).map { j in (r.reduce(0) { $0 + ($1[j] - mu[j]) * ($1[j] - mu[j]) } / m + 1e-5).squareRoot() }
                return (mu, sigma)
            }
            let (ms, ss) = moments(x[0]), (mt, st) = moments(x[1])
            var total = 0.0
            for j in 0..<c {
                let dm = ms[j] - mt[j], ds = ss[j] - st[j]
                total += dm * dm + ds * ds
            }
            return total / Double(c)
        })
    }

    func testInfoNCE() {
        let (m, d, tau) = (5, 4, 0.5)
        checkLoss("infoNCE", [randomTensor([m, d], seed: 9), randomTensor([m, d], seed: 10)], differentiable: [0, 1],
                  engine: { infoNCE(queries: $0[0], keys: $0[1], temperature: Float(tau)) }, reference: { x in
            let q = (0..<m).map { unit(Array(x[0][($0 * d)..<(($0 + 1) * d)])) }
            let k = (0..<m).map { unit(Array(x[1][($0 * d)..<(($0 + 1) * d)])) }
            func direction(_ a: [[Double]], _ b: [[Double]]) -> Double {
                (0..<m).reduce(0) { total, i in
                    let logits = b.map { dot(a[i], $0) / tau }
                    return total + logSumExp(logits) - logits[i]
                } / Double(m)
            }
            return (direction(q, k) + direction(k, q)) / 2
        })
    }

    /// Aligned embeddings score lower than shuffled ones; the teacher backbone gets no gradient.
    func testContrastiveKDPrefersMatchingPairs() {
        var generator = SeededGenerator(seed: 11)
        let head = ProjectionHead(inputChannels: 3, hidden: 8, dimension: 6, using: &generator)
        let features = Variable(randomTensor([2, 3, 4, 4], seed: 12), requiresGrad: true)
        let teacher = Variable(features.value, requiresGrad: true)
        let matched = contrastiveKD(student: features, teacher: teacher, studentHead: head, teacherHead: head, nodes: (2, 2))
        let other = Variable(randomTensor([2, 3, 4, 4], seed: 13))
        let unmatched = contrastiveKD(student: other, teacher: teacher, studentHead: head, teacherHead: head, nodes: (2, 2))
        XCTAssertLessThan(matched.value.scalar, unmatched.value.scalar)
        matched.backward()
        XCTAssertNotNil(features.grad)
        XCTAssertNil(teacher.grad, "the teacher is frozen")
        XCTAssertNotNil(head.second.weight.grad, "the projection heads train")
    }

    /// The discriminator learns to tell matched from shuffled pairs; the student term is finite
    /// and reaches the student.
    func testMutualInformationKDTrainsItsDiscriminator() {
        var generator = SeededGenerator(seed: 14)
        let (studentHead, teacherHead) = (ProjectionHead(inputChannels: 3, hidden: 8, dimension: 8, using: &generator),
                                          ProjectionHead(inputChannels: 3, hidden: 8, dimension: 8, using: &generator))
        let discriminator = PairDiscriminator(embedding: 8, width: 16, using: &generator)
        let optimizer = Adam(parameters: discriminator.parameters(), learningRate: 0.01)
        let student = Variable(randomTensor([2, 3, 4, 4], seed: 15), requiresGrad: true)
        let teacher = Variable(randomTensor([2, 3, 4, 4], seed: 16))
        func losses() -> MutualInformationKD {
            MutualInformationKD(student: student, teacher: teacher, auxiliary: nil, studentHead: studentHead, teacherHead: teacherHead,
                                auxiliaryHead: nil, discriminator: discriminator, nodes: (2, 2))
        }
        let first = losses().discriminatorLoss.value.scalar
        for _ in 0..<60 {
            discriminator.zeroGrad()
            losses().discriminatorLoss.backward()
            optimizer.step()
        }
        let trained = losses()
        XCTAssertLessThan(trained.discriminatorLoss.value.scalar, first * 0.5, "the discriminator separates matched pairs")
        XCTAssertTrue(trained.studentLoss.value.scalar.isFinite)
        trained.studentLoss.backward()
        XCTAssertNotNil(student.grad)
    }
}
