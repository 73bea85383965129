"""Speech recognition: the whisper.cpp binding (the only pywhispercpp importer) and commit policy."""
