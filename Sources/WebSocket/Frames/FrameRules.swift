/// What a ``FrameParser`` checks frames against that is the same for every connection of
/// a context: the role (which decides masking) and the limits, clamped to 32 bits.
struct FrameRules {
    let maxFrameSize: UInt32
    let maxMessageSize: UInt32
    let role: Role

    init(role: Role, limits: FrameLimits = FrameLimits()) {
        self.role = role
        maxFrameSize = FrameLimits.clamped(limits.maxFrameSize)
        maxMessageSize = FrameLimits.clamped(limits.maxMessageSize)
    }
}
