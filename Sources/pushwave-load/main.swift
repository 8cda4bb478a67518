// Before any thread exists: Ctrl-C then ends a run with its report (Interruption).
Interruption.blockInEveryThread()
LoadCommand.main()
