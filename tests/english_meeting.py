"""A short English meeting as a WebVTT transcript: stories260K writes English, so the real tiny model
can produce schema-valid minutes from it."""

LINES = (
    "Good morning everyone, let's start the weekly infrastructure meeting.",
    "The first item is the Kubernetes cluster upgrade.",
    "Staging was upgraded yesterday, but pods still restart sometimes.",
    "We decided to upgrade production only after the restart problem is fixed.",
    "Tom, can you find the cause of the restarts by next Wednesday?",
    "Yes, I will write it up in a GitHub issue by Wednesday.",
)
VTT = "WEBVTT\n\n" + "\n".join(
    f"00:00:{i * 5:02d}.000 --> 00:00:{i * 5 + 4:02d}.000\n{line}\n" for i, line in enumerate(LINES)
)
