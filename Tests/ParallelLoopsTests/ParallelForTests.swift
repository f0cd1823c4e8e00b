import Foundation
import Synchronization
import XCTest
@testable import ParallelLoops

/// `parallelFor` on the worker pool: every iteration exactly once, across many back-to-back
/// calls, nested calls, calls from two threads at once, and calls after the workers fell asleep.
final class ParallelForTests: XCTestCase {
    /// Runs `parallelFor(count)` and returns how often each iteration ran.
    private static func runCounts(_ count: Int, work: Int = 0) -> [Int] {
        let counts = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: count)
        for i in 0..<count { (counts + i).initialize(to: Atomic<Int>(0)) }
        defer { counts.deallocate() }
        parallelFor(count) { i in
            var x = 0
            for k in 0..<work { x &+= k }
            if x == -1 { print(x) }
            counts[i].add(1, ordering: .relaxed)
        }
        return (0..<count).map { counts[$0].load(ordering: .relaxed) }
    }

    func testEveryIterationRunsOnceInBackToBackCalls() throws {
        let before = WorkerPool.shared.callsRun.load(ordering: .relaxed)
        var multiple = 0
        for call in 0..<3_000 {
            let count = 1 + call % 37
            if count > 1 { multiple += 1 }
            XCTAssertEqual(Self.runCounts(count, work: call % 5 == 0 ? 2_000 : 0), Array(repeating: 1, count: count), "call \(call)")
        }
        try XCTSkipIf(availableCores < 2, "one core: no workers, calls go to Dispatch")
        XCTAssertEqual(WorkerPool.shared.callsRun.load(ordering: .relaxed) - before, multiple, "calls of several iterations ran on the pool")
    }

    func testNestedCallsRunEveryInnerIteration() {
        let total = Atomic<Int>(0)
        parallelFor(6) { _ in
            parallelFor(5) { _ in total.add(1, ordering: .relaxed) }
        }
        XCTAssertEqual(total.load(ordering: .relaxed), 30)
    }

    func testCallsFromTwoThreadsAtOnce() {
        let done = DispatchGroup()
        let failures = Atomic<Int>(0)
        for _ in 0..<2 {
            DispatchQueue.global().async(group: done) {
                for call in 0..<500 where Self.runCounts(1 + call % 11) != Array(repeating: 1, count: 1 + call % 11) {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        done.wait()
        XCTAssertEqual(failures.load(ordering: .relaxed), 0)
    }

    /// After the workers have slept, a call still gets a second thread: iteration 0 waits for
    /// iteration 1 to start, which only another thread can do while 0 runs.
    func testSleepingWorkersJoinTheNextCall() throws {
        try XCTSkipIf(availableCores < 2, "needs two cores")
        for round in 0..<3 {
            usleep(20_000)  // far longer than the workers spin
            let started = Atomic<Bool>(false)
            let joined = Atomic<Bool>(false)
            parallelFor(2) { i in
                if i == 1 {
                    started.store(true, ordering: .releasing)
                    return
                }
                let deadline = Date().addingTimeInterval(5)
                while !started.load(ordering: .acquiring), Date() < deadline {}
                joined.store(started.load(ordering: .acquiring), ordering: .relaxed)
            }
            XCTAssertTrue(joined.load(ordering: .relaxed), "round \(round): no second thread joined within 5 s")
        }
    }
}
