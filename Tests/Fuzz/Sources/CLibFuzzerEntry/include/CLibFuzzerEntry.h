#ifndef PUSHWAVE_CLIBFUZZERENTRY_H
#define PUSHWAVE_CLIBFUZZERENTRY_H

/// Runs libFuzzer on the executable's LLVMFuzzerTestOneInput, with the command
/// line's options; returns the exit status.
///
/// SwiftPM links the `main` of a Swift executable to `<module>_main` (so that tests
/// can link executables), which hides libFuzzer's own `main`: each fuzzer defines
/// `<module>_main` and calls this.
int pushwave_run_libfuzzer(int argc, char **argv);

#endif
