/// Lamping and Veach's jump consistent hash: maps a key to one of `buckets` so that adding
/// a bucket moves only 1/n of the keys. Topics pick their Redis shard with it.
enum JumpHash {
    static func bucket(_ key: UInt64, buckets: Int) -> Int {
        precondition(buckets > 0, "at least one bucket")
        var key = key
        var bucket: Int64 = -1
        var next: Int64 = 0
        while next < Int64(buckets) {
            bucket = next
            key = key &* 2_862_933_555_777_941_757 &+ 1
            next = Int64(Double(bucket + 1) * (Double(1 << 31) / Double((key >> 33) + 1)))
        }
        return Int(bucket)
    }

    /// A stable 64-bit FNV-1a hash of a topic name (Swift's `hashValue` changes per process,
    /// and every node must pick the same shard).
    static func bucket(of topic: String, buckets: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in topic.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return bucket(hash, buckets: buckets)
    }
}
