import Foundation

/// An output file written under a temporary name in the destination folder and renamed into
/// place only when complete, so a failed or interrupted run never leaves a partial file.
///
/// ```swift
/// let output = try AtomicOutput(path: "out.h5")
/// try write(to: output.temporaryPath)
/// try output.commit()          // rename(2) onto out.h5: atomic on one file system
/// ```
/// If `commit()` is never called the temporary file is removed when the value is released.
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
        // Create the temporary file now: permission bits do not tell root (or read-only mounts) the truth.
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else {
            throw AtomicOutputError(path: path, problem: "output folder \(folder) is not writable: \(String(cString: strerror(errno)))")
        }
        close(descriptor)
    }

    /// Renames the finished temporary file onto `path`.
    public func commit() throws {
        guard rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw AtomicOutputError(path: path, problem: "cannot move the finished file into place: \(reason)")
        }
        committed = true
    }

    /// Removes the temporary file (idempotent).
    public func discard() {
        if !committed { unlink(temporaryPath) }
    }

    deinit { discard() }
}

public struct AtomicOutputError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public var description: String { "\(path): \(problem)" }
}
