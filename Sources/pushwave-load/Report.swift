import Push

/// The final report, readable and as JSON.
struct Report {
    let plan: RunPlan
    let totals: RunTotals
    let details: [String: Int]
    /// Child processes that failed (the run then fails too).
    let failures: [String]

    /// Seconds the rates are computed over.
    var seconds: Double {
        if plan.mode == .push || plan.mode == .publish, plan.messages != nil {
            return max(totals.fanoutMilliseconds / 1000, 1e-9)
        }
        return totals.interrupted ? totals.measuredSeconds : plan.duration
    }

    var messagesPerSecond: Double { seconds > 0 ? Double(totals.messages) / seconds : 0 }
    var bytesPerSecond: Double { seconds > 0 ? Double(totals.bytes) / seconds : 0 }

    /// Something was measured: echoes, deliveries, or (connect) open connections.
    var measuredSomething: Bool {
        switch plan.mode {
        case .echo: totals.messages > 0
        case .push: totals.received > 0
        case .connect: totals.connected > 0
        case .publish: totals.messages > 0
        }
    }

    /// Connect: connections opened per second while connecting (TCP connect plus upgrade).
    var handshakesPerSecond: Double {
        totals.setupSeconds > 0 ? Double(totals.connected) / totals.setupSeconds : 0
    }

    /// Connect --measure-close: clean closes per second, from the first close frame sent to
    /// the last clean close.
    var closesPerSecond: Double {
        totals.closeSeconds > 0 ? Double(totals.cleanCloses) / totals.closeSeconds : 0
    }

    var succeeded: Bool {
        totals.errors.total <= plan.maxErrors && measuredSomething && failures.isEmpty
    }

    var json: JSON {
        var fields: [(String, JSON)] = [
            ("mode", .string(plan.mode.rawValue)),
            ("url", .string(plan.httpTarget.map(\.description) ?? plan.url.description)),
            ("connections", .int(totals.connected)),
            ("connections_attempted", .int(totals.attempted)),
            ("threads", .int(plan.threads)),
            ("processes", .int(plan.processCount)),
            ("duration_s", .figure(seconds)),
            ("interrupted", .bool(totals.interrupted)),
            ("messages", .int(totals.messages)),
            ("messages_per_second", .figure(messagesPerSecond)),
            ("bytes_per_second", .figure(bytesPerSecond)),
            ("latency_us", plan.mode == .connect ? totals.connectLatency.summaryJSON : totals.latency.summaryJSON),
            ("errors", totals.errors.json),
            ("error_total", .int(totals.errors.total)),
            ("generator_cpu_s", .figure(totals.cpuSeconds)),
        ]
        switch plan.mode {
        case .echo:
            fields += [
                ("size", .int(plan.size)),
                ("binary", .bool(plan.binary)),
                ("raw_echo", .bool(plan.rawEcho)),
                plan.rate.map { ("rate", .figure($0)) } ?? ("pipeline", .int(plan.pipeline)),
                ("warmup_s", .figure(plan.warmup)),
            ]
            if totals.received > 0 {
                // CPU while the traffic ran (warm-up included) over every echo in that time.
                fields.append(("generator_cpu_ns_per_message", .figure(totals.cpuSeconds * 1e9 / Double(max(1, totals.received)))))
            }
        case .push:
            fields += [
                ("size", .int(plan.size)),
                ("binary", .bool(plan.binary)),
                ("subscribers", .int(plan.subscribers)),
                ("publishers", .int(plan.publishers)),
                ("rate", .figure(plan.rate ?? 0)),
                ("published", .int(totals.published)),
                ("deliveries", .int(totals.received)),
                ("expected_deliveries", .int(totals.expectedDeliveries)),
                ("deliveries_per_second", .figure(messagesPerSecond)),
                ("fanout_ms", .figure(totals.fanoutMilliseconds)),
                ("warmup_s", .figure(plan.warmup)),
                ("hold_s", .figure(plan.hold)),
            ]
        case .connect:
            fields += [
                plan.connectInFlight.map { ("in_flight", .int($0)) } ?? ("connect_rate", .figure(plan.connectRate)),
                ("setup_s", .figure(totals.setupSeconds)),
                ("handshakes_per_second", .figure(handshakesPerSecond)),
            ]
            if case .measured = plan.closing {
                fields += [
                    ("closes_started", .int(totals.closesStarted)),
                    ("clean_closes", .int(totals.cleanCloses)),
                    ("close_s", .figure(totals.closeSeconds)),
                    ("closes_per_second", .figure(closesPerSecond)),
                ]
            }
        case .publish:
            fields += [
                ("size", .int(plan.size)),
                ("binary", .bool(plan.binary)),
                ("pipeline", .int(plan.pipeline)),
                ("published", .int(totals.published)),
                ("answered_200", .int(totals.statuses[200] ?? 0)),
                ("publishes_per_second", .figure(messagesPerSecond)),
                ("statuses", totals.statusesJSON),
            ]
            if let count = plan.messages { fields.append(("count", .int(count))) }
            if totals.received > 0 {
                fields.append(("generator_cpu_ns_per_publish", .figure(totals.cpuSeconds * 1e9 / Double(max(1, totals.received)))))
            }
        }
        fields += [
            ("connected", .int(totals.connected)),
            ("connect_latency_us", totals.connectLatency.summaryJSON),
            ("error_details", .object(details.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
        ]
        if !failures.isEmpty { fields.append(("failures", .array(failures.map(JSON.string)))) }
        return .object(fields)
    }

    var text: String {
        var lines = ["pushwave-load \(plan.mode.rawValue)  \(plan.httpTarget.map(\.description) ?? plan.url.description)"]
        if totals.interrupted {
            lines.append("  interrupted: the figures cover the \(fixed(seconds, 1)) s measured until then")
        }
        let shape = "\(grouped(totals.connected)) of \(grouped(totals.attempted)) connections open, \(plan.threads) thread\(plan.threads == 1 ? "" : "s")"
            + (plan.processCount > 1 ? " x \(plan.processCount) processes" : "")
        let payload = "\(grouped(plan.size)) B \(plan.binary ? "binary" : "text")"
        switch plan.mode {
        case .echo:
            let load = plan.rate.map { "open loop at \(grouped(Int($0))) msg/s" } ?? "pipeline \(plan.pipeline)"
            let warm = plan.warmup > 0 ? " after \(fixed(plan.warmup, 1)) s warm-up" : ""
            lines.append("  \(shape); \(load), \(payload)\(plan.rawEcho ? " (raw echo)" : ""); \(fixed(seconds, 1)) s measured\(warm)")
            lines.append("  messages      \(grouped(totals.messages))   \(grouped(Int(messagesPerSecond.rounded()))) msg/s   \(byteRate(bytesPerSecond))")
            lines.append("  latency (us)  \(totals.latency.summaryText)")
            if totals.received > 0 {
                lines.append("  generator     \(fixed(totals.cpuSeconds, 2)) CPU s, \(fixed(totals.cpuSeconds * 1e9 / Double(totals.received), 0)) ns per echo")
            }
        case .push:
            let what = plan.messages.map { "\(grouped($0)) messages" } ?? "\(fixed(plan.duration, 1)) s"
            lines.append("  \(shape); \(grouped(plan.subscribers)) subscribers, \(plan.publishers) publisher\(plan.publishers == 1 ? "" : "s") at \(grouped(Int(plan.rate ?? 0))) msg/s, \(payload), \(what)")
            lines.append("  published     \(grouped(totals.published))   deliveries \(grouped(totals.received)) of \(grouped(totals.expectedDeliveries)) expected")
            lines.append("  deliveries/s  \(grouped(Int(messagesPerSecond.rounded())))   \(byteRate(bytesPerSecond))   fan-out \(fixed(totals.fanoutMilliseconds, 2)) ms (first publish to last delivery)")
            lines.append("  latency (us)  \(totals.latency.summaryText)")
        case .connect:
            let pace = plan.connectInFlight.map { "\(grouped($0)) handshakes in flight" } ?? "\(grouped(Int(plan.connectRate))) connects/s"
            lines.append("  \(shape); \(pace), held \(fixed(plan.duration, 1)) s")
            lines.append("  handshakes/s  \(grouped(Int(handshakesPerSecond.rounded())))   (\(grouped(totals.connected)) opened in \(fixed(totals.setupSeconds, 3)) s)")
            if case .measured = plan.closing {
                lines.append("  closes/s      \(grouped(Int(closesPerSecond.rounded())))   (\(grouped(totals.cleanCloses)) of \(grouped(totals.closesStarted)) closed cleanly in \(fixed(totals.closeSeconds, 3)) s: the server's close 1000, then the end of the connection)")
            }
        case .publish:
            let what = plan.messages.map { "\(grouped($0)) publishes" } ?? "\(fixed(plan.duration, 1)) s"
            lines.append("  \(shape); pipeline \(plan.pipeline), \(payload) bodies, \(what)")
            lines.append("  publishes     \(grouped(totals.messages)) answered 200   \(grouped(Int(messagesPerSecond.rounded()))) publishes/s   \(grouped(totals.published)) sent")
            let others = totals.statuses.filter { $0.key != 200 }.sorted { $0.key < $1.key }
            if !others.isEmpty {
                lines.append("  other answers " + others.map { "\($0.key): \(grouped($0.value))" }.joined(separator: ", "))
            }
            lines.append("  latency (us)  \(totals.latency.summaryText)")
            if totals.received > 0 {
                lines.append("  generator     \(fixed(totals.cpuSeconds, 2)) CPU s, \(fixed(totals.cpuSeconds * 1e9 / Double(totals.received), 0)) ns per publish")
            }
        }
        lines.append("  connect (us)  \(totals.connectLatency.summaryText)")
        lines.append("  errors        \(totals.errors.summary)")
        for (detail, count) in details.sorted(by: { $0.value > $1.value }).prefix(8) {
            lines.append("    \(grouped(count)) x \(detail)")
        }
        for failure in failures { lines.append("  failure: \(failure)") }
        if !measuredSomething { lines.append("  nothing was measured") }
        return lines.joined(separator: "\n")
    }
}

extension JSON {
    /// A figure of the report, rounded to three decimals: finer digits are noise to its readers.
    static func figure(_ value: Double) -> JSON {
        .double((value * 1000).rounded() / 1000)
    }
}
