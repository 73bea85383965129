"""Writes tests/data/resemblyzer_reference.json: Resemblyzer's own embeddings (PyTorch and librosa, as its
authors run it) of three fixture clips, which tests/test_speaker_model.py compares with the project's
converted ONNX model and its numpy features. Run it where PyTorch, librosa and Resemblyzer 0.1.4 are
installed (not the project's venv):

    python tests/make_speaker_reference.py ../shared/fixtures > tests/data/resemblyzer_reference.json

The clips are brought up to -30 dBFS as Resemblyzer's preprocess_wav does; its silence trimming (webrtcvad)
is left out, because the box embeds what its own VAD cut.
"""

import json
import sys
from pathlib import Path

import soundfile
from resemblyzer import VoiceEncoder
from resemblyzer.audio import normalize_volume

CLIPS = ("audio/jfk.wav", "audio/leopard/test_ko.wav", "audio/leopard/diarization_test.wav")


def main() -> None:
    fixtures = Path(sys.argv[1])
    encoder = VoiceEncoder("cpu", verbose=False)
    embeddings = {}
    for clip in CLIPS:
        wav, rate = soundfile.read(fixtures / clip, dtype="float32")
        assert rate == 16_000 and wav.ndim == 1, (clip, rate, wav.shape)
        embedding = encoder.embed_utterance(normalize_volume(wav, -30, increase_only=True))
        embeddings[clip] = [round(float(value), 7) for value in embedding]
    print(json.dumps({"resemblyzer": "0.1.4", "embeddings": embeddings}, indent=1))


if __name__ == "__main__":
    main()
