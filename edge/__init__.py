"""The meeting-room box: capture, VAD, whisper.cpp, correction, minutes, MQTT and a local API."""

__version__ = "0.1.0"
