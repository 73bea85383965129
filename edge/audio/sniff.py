"""What a file holds, from its first bytes, whatever its name says.

Uploads come named by whoever sent them: a PNG, a text file or an HLS playlist named `.mp3` must be
refused as what it is, and must never reach ffmpeg, whose format probing decodes noise out of random
bytes and whose playlist demuxers open further files. Only containers of audio pass, and ffmpeg is
then told which demuxer to use (`FFMPEG_DEMUXERS`).
"""

from __future__ import annotations

from pathlib import Path

SNIFF_BYTES = 64

# Container -> the ffmpeg demuxer that reads it (containers libsndfile reads have none: they never reach ffmpeg).
FFMPEG_DEMUXERS = {
    "mp3": "mp3",
    "mp4": "mov",
    "matroska": "matroska",
    "ogg": "ogg",
    "aac": "aac",
    "amr": "amr",
    "asf": "asf",
    "wav": "wav",
    "flac": "flac",
    "aiff": "aiff",
    "caf": "caf",
    "au": "au",
    "w64": "w64",
}

# Not audio: named in the refusal so the person knows what they sent.
_NOT_AUDIO = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "a program"),
    (b"#EXTM3U", "a playlist (M3U/HLS), not audio itself"),
    (b"[playlist]", "a playlist (PLS), not audio itself"),
    (b"<?xml", "an XML document"),
)

_W64_GUID = bytes.fromhex("726966662e91cf11a5d628db04c10000")
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def _mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header (MP3 without an ID3 tag): sync, a version, a layer, a bitrate."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0x3, (head[1] >> 1) & 0x3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


def _adts(head: bytes) -> bool:
    """An AAC ADTS frame header: sync, layer 0."""
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0


def container(head: bytes) -> str | None:
    """The audio container whose signature `head` (a file's first bytes) starts with, or None."""
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"caff":
        return "caf"
    if head[:4] == b".snd":
        return "au"
    if head[:16] == _W64_GUID:
        return "w64"
    if head[:16] == _ASF_GUID:
        return "asf"
    if head[:5] == b"#!AMR":
        return "amr"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:3] == b"ID3" or _mpeg_audio_frame(head):
        return "mp3"
    if _adts(head):
        return "aac"
    return None


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut by the sniff window
            return False
        text = head[: exc.start].decode("utf-8")
    return all(char.isprintable() or char in "\t\r\n" for char in text.lstrip("\ufeff"))


def describe(head: bytes) -> str:
    """What a file that is not audio seems to be, for the message that refuses it."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    for magic, what in _NOT_AUDIO:
        if stripped.startswith(magic):
            return what
    if stripped[:1] in (b"<",) and b"html" in stripped[:64].lower():
        return "an HTML page"
    if _looks_like_text(head):
        return "text"
    return "data of no audio format"


def sniff(path: Path) -> tuple[str | None, bytes]:
    """(the file's audio container or None, its first bytes)."""
    with Path(path).open("rb") as file:
        head = file.read(SNIFF_BYTES)
    return container(head), head
