/// Carries what is published to a topic to the subscribers on the other loops of a server
/// (and, for an implementation over a message engine such as Redis, in other processes).
///
/// A context serves its own loop's subscribers itself, at once: that keeps a connection's
/// output in the order it was issued (see `WebSocket.send(_:kind:)`). The broker carries the
/// message to every other loop that has subscribers to the topic, and hands it over there
/// with `WebSocketContext.deliver(_:_:kind:)` on that loop's thread. It learns where the
/// subscribers are from `subscribe`/`unsubscribe`, which a context calls only when its
/// loop's first subscriber to a topic arrives and its last one leaves, so that a broker can
/// forward (or subscribe upstream to) a topic only where it is wanted.
///
/// Called once per publish, never per subscriber: the per-subscriber work stays in the
/// loop's topics, where a frame is encoded once and batched per subscriber.
public protocol Broker: AnyObject, Sendable {
    /// Carries a message to the subscribers of `topic` on every loop but `origin`'s. Called
    /// on `origin`'s loop, or from any thread with `origin` nil (then every loop gets it).
    /// `payload` is valid only during the call.
    func publish(_ topic: String, _ payload: UnsafeRawBufferPointer, kind: MessageKind, from origin: WebSocketContext?)

    /// `context`'s loop has its first subscriber to `topic`. Called on that loop.
    func subscribe(_ context: WebSocketContext, to topic: String)

    /// `context`'s loop has no subscriber to `topic` any more. Called on that loop.
    func unsubscribe(_ context: WebSocketContext, from topic: String)
}
