import Synchronization

/// What every raw connection to one topic shares: the topic's name and the server's endpoint.
/// One object per topic while it has raw connections (`RawTopicRoutes`), so that each of
/// them keeps one pointer where it kept a name and a pointer, and a long name (over 15
/// bytes, a heap allocation) once rather than once per connection.
final class RawTopicRoute: Sendable {
    let topic: String
    let endpoint: PushEndpoint

    fileprivate init(topic: String, endpoint: PushEndpoint) {
        self.topic = topic
        self.endpoint = endpoint
    }
}

/// The routes of an endpoint's raw connections, counted by holder: a connection takes its
/// route when it is made and gives it back when it goes away (`deinit`, which every
/// connection reaches exactly once, whether it ever opened or not).
final class RawTopicRoutes: Sendable {
    private let routes = Mutex<[String: (route: RawTopicRoute, holders: Int)]>([:])

    /// The route for `topic`, made if no connection holds it yet.
    func take(_ topic: String, endpoint: PushEndpoint) -> RawTopicRoute {
        routes.withLock { routes in
            if let entry = routes[topic] {
                routes[topic] = (entry.route, entry.holders + 1)
                return entry.route
            }
            let route = RawTopicRoute(topic: topic, endpoint: endpoint)
            routes[topic] = (route, 1)
            return route
        }
    }

    /// Gives back a route taken with `take`; the last holder lets it go.
    func giveBack(_ route: RawTopicRoute) {
        routes.withLock { routes in
            guard let entry = routes[route.topic] else { return }
            routes[route.topic] = entry.holders > 1 ? (entry.route, entry.holders - 1) : nil
        }
    }

    /// How many connections hold the route for `topic` (0 when none).
    func holders(of topic: String) -> Int {
        routes.withLock { $0[topic]?.holders ?? 0 }
    }
}
