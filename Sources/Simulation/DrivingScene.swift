import Foundation

/// The six DDD17 segmentation classes (Alonso & Murillo 2019), in label order.
public enum DrivingClass: UInt8, CaseIterable, Sendable {
    case flat = 0, background, object, vegetation, human, vehicle

    public static let names = ["flat", "background", "object", "vegetation", "human", "vehicle"]
}

/// Lighting of a stretch of a scene: what makes frames fail while events keep their signal.
public enum Lighting: UInt8, Sendable {
    case normal = 0, dark, overexposed
}

/// A procedural driving scene seen from a forward camera: textured road with lane markings,
/// sidewalks, sky, buildings, vegetation, poles and signs, pedestrians and vehicles moving
/// independently, camera ego-motion (forward speed, yaw), and lighting that changes over time.
///
/// `render` gives the scene irradiance (not clipped: event pixels do not saturate; frames do,
/// see `DatasetGenerator`) and the class of every pixel, at any time, deterministically for a seed.
public final class DrivingScene {
    public let width: Int
    public let height: Int
    public let duration: Double

    struct Actor {
        var kind: DrivingClass
        var lateral: Double      // metres right of the camera axis
        var depth0: Double       // metres ahead at t = 0
        var speed: Double        // own speed towards the camera (m/s, adds to ego speed)
        var lateralSpeed: Double // m/s
        var width: Double, height: Double
        var reflectance: Float
        var detail: Float        // second tone (windows, clothes)
    }

    struct LightingStretch { var start: Double; var kind: Lighting; var gain: Float }

    let seed: UInt64
    let egoSpeed: Double
    let yawAmplitude: Double, yawFrequency: Double, yawPhase: Double
    let skyTone: Float, roadTone: Float, sidewalkTone: Float
    let buildings: [(x: Double, width: Double, height: Double, tone: Float)]
    let actors: [Actor]
    let lighting: [LightingStretch]

    public init(width: Int, height: Int, duration: Double, seed: UInt64) {
        self.width = width
        self.height = height
        self.duration = duration
        self.seed = seed
        var random = SeededRandom(seed: seed &* 0x9E37_79B9 &+ 17)
        func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * random.uniform() }
        egoSpeed = uniform(6, 16)
        yawAmplitude = uniform(0.02, 0.08)
        yawFrequency = uniform(0.2, 0.6)
        yawPhase = uniform(0, 2 * .pi)
        skyTone = Float(uniform(0.6, 0.9))
        roadTone = Float(uniform(0.18, 0.32))
        sidewalkTone = Float(uniform(0.4, 0.55))
        var blocks: [(Double, Double, Double, Float)] = []
        var x = -3.0
        while x < 3.0 {
            let w = uniform(0.15, 0.5)
            blocks.append((x, w, uniform(0.05, 0.35), Float(uniform(0.2, 0.7))))
            x += w + uniform(0, 0.1)
        }
        buildings = blocks
        var actors: [Actor] = []
        let span = egoSpeed * duration + 60
        // Poles and signs along both kerbs, pedestrians on the sidewalks, vehicles on the road.
        for _ in 0..<Int(span / 12) {
            actors.append(Actor(kind: .object, lateral: (random.next() & 1 == 0 ? -1 : 1) * uniform(4.5, 6.5),
                                depth0: uniform(4, span), speed: 0, lateralSpeed: 0, width: uniform(0.15, 0.6),
                                height: uniform(2.5, 5), reflectance: Float(uniform(0.55, 0.95)), detail: Float(uniform(0.05, 0.3))))
        }
        for _ in 0..<Int(span / 10) {
            actors.append(Actor(kind: .human, lateral: (random.next() & 1 == 0 ? -1 : 1) * uniform(4, 7),
                                depth0: uniform(4, span), speed: uniform(-1, 1), lateralSpeed: uniform(-1.2, 1.2),
                                width: 0.5, height: uniform(1.5, 1.9), reflectance: Float(uniform(0.3, 0.9)), detail: Float(uniform(0.1, 0.5))))
        }
        for _ in 0..<Int(span / 9) {
            let oncoming = random.next() & 1 == 0
            actors.append(Actor(kind: .vehicle, lateral: oncoming ? uniform(-3.5, -2) : uniform(1.2, 3),
                                depth0: uniform(6, span), speed: oncoming ? uniform(5, 14) : uniform(-8, 2),
                                lateralSpeed: uniform(-0.3, 0.3), width: uniform(1.7, 2.5), height: uniform(1.3, 2.2),
                                reflectance: Float(uniform(0.1, 0.95)), detail: Float(uniform(0.05, 0.2))))
        }
        self.actors = actors
        // Lighting: stretches of 0.4–0.9 s cycling normal, dark, normal, over-exposed from a random
        // phase, so every scene of a couple of seconds has frames that fail in both ways.
        let pattern: [Lighting] = [.normal, .dark, .normal, .overexposed]
        var phase = Int(random.next() % 4)
        var stretches: [LightingStretch] = []
        var t = 0.0
        while t < duration {
            let kind = pattern[phase % 4]
            phase += 1
            let gain: Float = kind == .normal ? Float(uniform(0.8, 1.2)) : (kind == .dark ? Float(uniform(0.005, 0.02)) : Float(uniform(2.5, 4)))
            stretches.append(LightingStretch(start: t, kind: kind, gain: gain))
            t += uniform(0.4, 0.9)
        }
        lighting = stretches
    }

    /// Lighting class and global gain at time t (gains blend over 0.15 s between stretches).
    public func lighting(at time: Double) -> (kind: Lighting, gain: Float) {
        let index = max(0, (lighting.lastIndex { $0.start <= time }) ?? 0)
        let current = lighting[index]
        guard index > 0 else { return (current.kind, current.gain) }
        let blend = Float(min(1, (time - current.start) / 0.15))
        let previous = lighting[index - 1].gain
        return (current.kind, exp(log(previous) * (1 - blend) + log(current.gain) * blend))
    }

    /// Deterministic value noise in [0, 1): smooth at scale 1, used for all textures.
    @inline(__always)
    func noise(_ x: Double, _ y: Double, _ salt: UInt64) -> Float {
        let ix = x.rounded(.down), iy = y.rounded(.down)
        let fx = Float(x - ix), fy = Float(y - iy)
        func lattice(_ i: Double, _ j: Double) -> Float {
            var h = UInt64(bitPattern: Int64(i)) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(bitPattern: Int64(j)) &* 0xC2B2_AE3D_27D4_EB4F ^ (seed &+ salt)
            h ^= h >> 29
            h = h &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 32
            return Float(h >> 40) * 0x1p-24
        }
        let sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy)
        let top = lattice(ix, iy) * (1 - sx) + lattice(ix + 1, iy) * sx
        let bottom = lattice(ix, iy + 1) * (1 - sx) + lattice(ix + 1, iy + 1) * sx
        return top * (1 - sy) + bottom * sy
    }

    /// Scene irradiance `[H·W]` (gain applied, may exceed 1) and labels `[H·W]` at `time` s.
    public func render(at time: Double, irradiance: inout [Float], labels: inout [UInt8]) {
        let (w, h) = (width, height)
        precondition(irradiance.count == w * h && labels.count == w * h, "buffers must hold H·W values")
        let focal = 0.9 * Double(w)
        let cameraHeight = 1.4
        let yaw = yawAmplitude * sin(2 * .pi * yawFrequency * time + yawPhase)
        let travelled = egoSpeed * time
        let horizon = 0.42 * Double(h) + 2 * sin(2 * .pi * 0.7 * time)  // small pitch bounce
        let centre = Double(w) / 2 - yaw * focal
        let gain = lighting(at: time).gain

        for y in 0..<h {
            let row = Double(y) + 0.5
            for x in 0..<w {
                let column = Double(x) + 0.5
                var value: Float
                var label: DrivingClass
                if row < horizon {
                    // Sky, then buildings and vegetation standing on the horizon (far: pure yaw parallax).
                    let azimuth = (column - centre) / focal
                    value = skyTone - 0.25 * Float(row / horizon) + 0.1 * (noise(azimuth * 6 + time * 0.05, row / 12, 1) - 0.5)
                    label = .background
                    let elevation = (horizon - row) / focal
                    if let block = buildings.first(where: { azimuth >= $0.x && azimuth < $0.x + $0.width }), elevation < block.height {
                        let windowPattern = (Int((azimuth - block.x) * 60) % 3 == 0 && Int(elevation * 80) % 3 == 0) ? Float(0.5) : 1
                        value = block.tone * windowPattern * (0.85 + 0.3 * noise(azimuth * 40, elevation * 40, 2))
                    }
                    let canopy = 0.03 + 0.05 * Double(noise(azimuth * 8, 0, 3))
                    if elevation < canopy {
                        value = 0.25 + 0.35 * noise(azimuth * 90 + travelled * 0.02, elevation * 90, 4)
                        label = .vegetation
                    }
                } else {
                    // Ground: depth from the row, lateral position from the column (flat-world perspective).
                    let depth = focal * cameraHeight / max(row - horizon, 0.5)
                    let lateral = (column - centre) * depth / focal
                    let along = depth + travelled
                    if abs(lateral) < 4 {
                        value = roadTone * (0.8 + 0.4 * noise(lateral * 3, along * 3, 5))
                        let dashed = along.truncatingRemainder(dividingBy: 6) < 3
                        if (abs(lateral) < 0.08 && dashed) || abs(abs(lateral) - 3.8) < 0.1 { value = 0.85 }
                    } else if abs(lateral) < 8 {
                        value = sidewalkTone * (0.85 + 0.3 * noise(lateral * 2, along * 2, 6))
                    } else {
                        value = 0.3 + 0.3 * noise(lateral * 4, along * 4, 7)
                        label = .vegetation
                        irradiance[y * w + x] = value * gain
                        labels[y * w + x] = label.rawValue
                        continue
                    }
                    label = .flat
                }
                irradiance[y * w + x] = value * gain
                labels[y * w + x] = label.rawValue
            }
        }

        // Actors, far to near, as upright boxes (vehicles with windows and wheels, people with heads).
        var visible: [(depth: Double, actor: Actor)] = []
        for actor in actors {
            let depth = actor.depth0 - travelled - actor.speed * time
            if depth > 2.5 && depth < 80 { visible.append((depth, actor)) }
        }
        visible.sort { $0.depth > $1.depth }
        for (depth, actor) in visible {
            let lateral = actor.lateral + actor.lateralSpeed * time
            let x0 = centre + (lateral - actor.width / 2) * focal / depth
            let x1 = centre + (lateral + actor.width / 2) * focal / depth
            let yBottom = horizon + cameraHeight * focal / depth
            let yTop = horizon + (cameraHeight - actor.height) * focal / depth
            let left = max(0, Int(x0.rounded())), right = min(w, Int(x1.rounded()))
            let top = max(0, Int(yTop.rounded())), bottom = min(h, Int(yBottom.rounded()))
            guard left < right, top < bottom else { continue }  // off screen
            let columns = left..<right, rows = top..<bottom
            for y in rows {
                let v = (Double(y) + 0.5 - yTop) / max(yBottom - yTop, 1e-6)  // 0 top … 1 bottom
                for x in columns {
                    let u = (Double(x) + 0.5 - x0) / max(x1 - x0, 1e-6)
                    var value = actor.reflectance
                    switch actor.kind {
                    case .vehicle:
                        if v > 0.15 && v < 0.45 && u > 0.1 && u < 0.9 { value = actor.detail }  // windows
                        if v > 0.85 && (u < 0.25 || u > 0.75) { value = 0.04 }               // wheels
                    case .human:
                        let head = v < 0.15 && abs(u - 0.5) < 0.25
                        let body = v >= 0.15 && abs(u - 0.5) < 0.5 - 0.2 * v
                        guard head || body else { continue }
                        if v > 0.55 { value = actor.detail }  // trousers
                    case .object:
                        if v > 0.25 && abs(u - 0.5) > 0.15 { continue }  // a pole with a sign on top
                        if v < 0.25 { value = actor.detail + 0.5 }
                    default:
                        break
                    }
                    irradiance[y * w + x] = value * (0.9 + 0.2 * noise(u * 8, v * 8, 8)) * gain
                    labels[y * w + x] = actor.kind.rawValue
                }
            }
        }
    }
}
