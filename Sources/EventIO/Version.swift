public let evdistillVersion = "0.1.0"
