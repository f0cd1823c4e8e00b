import Foundation

/// An output file written under a temporary name in the destination folder and renamed into
/// place only when complete, so a failed or interrupted run never leaves a partial file.
///
/// ```swift
/// let output = try AtomicOutput(path: "out.h5")
/// try write(to: output.temporaryPath)
/// try output.commit()          // rename(2) onto out.h5: atomic on one file system
/// ```
/// If `commit()` is never called the temporary file is removed when the value is released, and
/// an interrupt (SIGINT, SIGTERM) removes every live temporary file before the process exits
/// with 128 + the signal number, as a shell expects.
public final class AtomicOutput {
    public let path: String
    public let temporaryPath: String
    private var committed = false

    /// Checks that the folder exists and is writable before any work is done.
    public init(path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw AtomicOutputError(path: path, problem: "output folder \(folder) does not exist")
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw AtomicOutputError(path: path, problem: "is a folder; give a file name")
        }
        temporaryPath = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // Registered before it exists: an interrupt between open and register would miss it.
        InterruptCleanup.shared.register(temporaryPath)
        // Create the temporary file now: permission bits do not tell root (or read-only mounts) the truth.
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else {
            InterruptCleanup.shared.unregister(temporaryPath)
            throw AtomicOutputError(path: path, problem: "output folder \(folder) is not writable: \(String(cString: strerror(errno)))")
        }
        close(descriptor)
    }

    /// Installs the SIGINT/SIGTERM handling now rather than with the first output: a program
    /// calls this at start, so the handling is in place before any temporary file exists.
    public static func removeTemporaryFilesOnInterrupt() { _ = InterruptCleanup.shared }

    /// Renames the finished temporary file onto `path`.
    public func commit() throws {
        guard rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw AtomicOutputError(path: path, problem: "cannot move the finished file into place: \(reason)")
        }
        committed = true
        InterruptCleanup.shared.unregister(temporaryPath)
    }

    /// Removes the temporary file (idempotent).
    public func discard() {
        if !committed { unlink(temporaryPath) }
        InterruptCleanup.shared.unregister(temporaryPath)
    }

    deinit { discard() }
}

public struct AtomicOutputError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public var description: String { "\(path): \(problem)" }
}

/// The temporary files of live `AtomicOutput`s, removed on SIGINT or SIGTERM. The signals are
/// taken by dispatch sources (installed with the first output), so the cleanup runs on an
/// ordinary thread rather than in a signal handler, where almost nothing is safe to call.
final class InterruptCleanup: @unchecked Sendable {
    static let shared = InterruptCleanup()
    private let lock = NSLock()
    private var paths = Set<String>()
    private var sources: [DispatchSourceSignal] = []

    private init() {
        let queue = DispatchQueue(label: "evdistill.interrupt-cleanup")
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)  // the default action would kill us before the source runs
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [unowned self] in
                self.lock.lock()
                for path in self.paths { unlink(path) }
                self.lock.unlock()
                FileHandle.standardError.write(Data("interrupted: partial output removed\n".utf8))
                // _exit, not exit: atexit handlers (libhdf5 closing its files) would race the
                // thread still writing.
                _exit(128 + signalNumber)
            }
            source.resume()
            sources.append(source)
        }
    }

    func register(_ path: String) {
        lock.lock()
        paths.insert(path)
        lock.unlock()
    }

    func unregister(_ path: String) {
        lock.lock()
        paths.remove(path)
        lock.unlock()
    }
}
