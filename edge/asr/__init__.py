"""Speech recognition: the backend table, the whisper.cpp binding (the only pywhispercpp importer), the
one-owner-thread stage and the pure commit policy. May import `edge.core` only."""
