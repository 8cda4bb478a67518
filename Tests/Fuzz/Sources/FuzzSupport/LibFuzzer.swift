import CLibFuzzerEntry

/// Runs libFuzzer; each fuzzer's `<module>_main` calls this (see CLibFuzzerEntry.h).
public func runLibFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    pushwave_run_libfuzzer(argc, argv)
}
