"""Speakers of one meeting from speaker embeddings: online during the meeting, refined when it ends.

Online: each stretch of speech joins the speaker whose centroid (the duration-weighted mean of what they
said) is most similar, when it is similar enough; otherwise, when it is long enough to trust, it is a
new speaker S<n>. Short speech never founds a speaker nor moves a centroid: a 0.6 s "네" carries too
little voice to tell people apart, so it only takes the nearest label.

At the end (`refine`), with every stretch at hand, the meeting is clustered again as a whole: spectral
clustering of the stretches' similarity graph, with the number of neighbours each stretch keeps and the
number of speakers both chosen by the normalised maximum eigengap (NME-SC, Park et al. 2019), then
clusters whose voices are as close as one person's joined. A short meeting (too few stretches for a
graph) is refined instead by assigning each stretch to the nearest centroid and merging speakers whose
centroids have come together. Final speakers take the online label they overlap most, so S1 stays S1
and only what the online pass got wrong is relabelled. Memory and time are bounded: `max_kept`
stretches are remembered (the earliest keep their online labels), and the graph is built on at most
`GRAPH_STRETCHES` of them, the rest joining the nearest speaker found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ASSIGN_SIMILARITY = 0.85
MERGE_SIMILARITY = 0.85
MIN_FOUNDING_S = 1.2
MAX_SPEAKERS = 12
MAX_KEPT = 10_000  # about 10 MB of 256-value embeddings: a long day of meetings
REFINE_ROUNDS = 20
MIN_GRAPH_STRETCHES = 12  # fewer trusted stretches than this: the centroid refinement
GRAPH_STRETCHES = 600  # an eigendecomposition of 600 x 600 per neighbour count tried: about a second
NEIGHBOUR_COUNTS = 24  # neighbour counts tried, spread between a tenth and a quarter of the stretches
MIN_NEIGHBOUR_SHARE = 0.1


@dataclass
class _Speaker:
    label: str
    total: np.ndarray  # duration-weighted sum of embeddings
    weight: float = 0.0

    @property
    def centroid(self) -> np.ndarray:
        norm = float(np.linalg.norm(self.total))
        return self.total / norm if norm > 0 else self.total


@dataclass(frozen=True)
class Stretch:
    """One embedded stretch of speech: `key` is the caller's (the segment's times), `label` its speaker."""

    key: tuple[int, int]
    embedding: np.ndarray
    duration_s: float
    label: str


@dataclass
class MeetingSpeakers:
    assign_similarity: float = ASSIGN_SIMILARITY
    merge_similarity: float = MERGE_SIMILARITY
    min_founding_s: float = MIN_FOUNDING_S
    max_speakers: int = MAX_SPEAKERS
    max_kept: int = MAX_KEPT
    _speakers: list[_Speaker] = field(default_factory=list)
    _stretches: list[Stretch] = field(default_factory=list)
    _next_number: int = 1

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self._speakers]

    @property
    def stretches(self) -> list[Stretch]:
        return list(self._stretches)

    def assign(self, key: tuple[int, int], embedding: np.ndarray, duration_s: float) -> str:
        """The label of a new stretch of speech (and it is remembered for `refine`)."""
        trusted = duration_s >= self.min_founding_s
        best, similarity = self._nearest(embedding)
        room = len(self._speakers) < self.max_speakers
        if best is None or (similarity < self.assign_similarity and trusted and room):
            best = _Speaker(f"S{self._next_number}", np.zeros_like(embedding, dtype=np.float64))
            self._next_number += 1
            self._speakers.append(best)
            trusted = True  # the first stretch of a speaker founds it, whatever its length
        if trusted:
            best.total = best.total + embedding * duration_s
            best.weight += duration_s
        self._stretches.append(Stretch(key, embedding, duration_s, best.label))
        if len(self._stretches) > self.max_kept:
            del self._stretches[0]
        return best.label

    def refine(self) -> dict[tuple[int, int], str]:
        """Labels after the end-of-meeting pass, for every remembered stretch (key -> label)."""
        if not self._stretches:
            return {}
        embeddings = np.stack([s.embedding for s in self._stretches]).astype(np.float64)
        weights = np.array([s.duration_s for s in self._stretches])
        trusted = weights >= self.min_founding_s
        online = [s.label for s in self._stretches]
        if int(trusted.sum()) >= MIN_GRAPH_STRETCHES:
            clusters = self._graph_clusters(embeddings, weights, trusted)
        else:
            clusters = self._centroid_clusters(embeddings, weights, trusted, online)
        labels = _named_after(clusters, online, weights, first_free=self._next_number)
        return {s.key: label for s, label in zip(self._stretches, labels, strict=True)}

    def _graph_clusters(self, embeddings: np.ndarray, weights: np.ndarray, trusted: np.ndarray) -> np.ndarray:
        """Cluster index of every stretch: spectral clustering of (a spread of) the trusted ones, then each
        stretch to the nearest cluster centroid."""
        chosen = np.flatnonzero(trusted)
        if len(chosen) > GRAPH_STRETCHES:
            chosen = chosen[np.linspace(0, len(chosen) - 1, GRAPH_STRETCHES).round().astype(int)]
        members = nme_spectral_clusters(embeddings[chosen], max_speakers=self.max_speakers)
        # The eigengap can split one voice (a few of its stretches far from the rest): clusters whose voices
        # are as close as one person's are one.
        members = merged_clusters(embeddings[chosen], weights[chosen], members, self.merge_similarity)
        centroids = _centroids_of(embeddings[chosen], weights[chosen], members)
        nearest = np.argmax(embeddings @ centroids.T, axis=1)
        nearest[chosen] = members
        return nearest

    def _centroid_clusters(self, embeddings, weights, trusted, online: list[str]) -> np.ndarray:
        labels = list(online)
        order = {label: number for number, label in enumerate(self.labels)}
        for _ in range(REFINE_ROUNDS):
            names = sorted(set(labels), key=order.__getitem__)
            centroids = self._centroids(names, labels, embeddings, weights, trusted)
            names, centroids = self._merged(names, centroids)
            new = [names[i] for i in np.argmax(embeddings @ centroids.T, axis=1)]
            if new == labels:
                break
            labels = new
        index = {name: number for number, name in enumerate(dict.fromkeys(labels))}
        return np.array([index[label] for label in labels])

    def _nearest(self, embedding: np.ndarray) -> tuple[_Speaker | None, float]:
        if not self._speakers:
            return None, -1.0
        similarities = [float(embedding @ s.centroid) for s in self._speakers]
        index = int(np.argmax(similarities))
        return self._speakers[index], similarities[index]

    @staticmethod
    def _centroids(names, labels, embeddings, weights, trusted) -> np.ndarray:
        rows = []
        for name in names:
            members = np.array([label == name for label in labels])
            use = members & trusted if np.any(members & trusted) else members
            total = (embeddings[use] * weights[use, None]).sum(axis=0)
            rows.append(total / max(float(np.linalg.norm(total)), 1e-12))
        return np.stack(rows)

    def _merged(self, names: list[str], centroids: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Merge the most similar pair of centroids while it is above the merge similarity (the lower
        label stays)."""
        names, centroids = list(names), centroids.copy()
        while len(names) > 1:
            similarity = centroids @ centroids.T
            np.fill_diagonal(similarity, -1.0)
            i, j = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
            if similarity[i, j] < self.merge_similarity:
                break
            keep, drop = min(i, j), max(i, j)
            merged = centroids[keep] + centroids[drop]
            centroids[keep] = merged / np.linalg.norm(merged)
            centroids = np.delete(centroids, drop, axis=0)
            del names[drop]
        return names, centroids


def _named_after(clusters: np.ndarray, online: list[str], weights: np.ndarray, *, first_free: int) -> list[str]:
    """A label for each cluster: the online label it shares the most speech with (each label used once, the
    biggest overlaps first), or a new one."""
    overlap: dict[tuple[int, str], float] = {}
    for cluster, label, weight in zip(clusters.tolist(), online, weights.tolist(), strict=True):
        overlap[(cluster, label)] = overlap.get((cluster, label), 0.0) + weight
    names: dict[int, str] = {}
    for (cluster, label), _ in sorted(overlap.items(), key=lambda item: -item[1]):
        if cluster not in names and label not in names.values():
            names[cluster] = label
    for cluster in sorted(set(clusters.tolist())):
        if cluster not in names:
            names[cluster] = f"S{first_free}"
            first_free += 1
    return [names[cluster] for cluster in clusters.tolist()]


def _centroids_of(embeddings: np.ndarray, weights: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Unit duration-weighted mean embedding of each cluster 0..k-1."""
    rows = []
    for cluster in range(int(members.max()) + 1):
        inside = members == cluster
        total = (embeddings[inside] * weights[inside, None]).sum(axis=0)
        rows.append(total / max(float(np.linalg.norm(total)), 1e-12))
    return np.stack(rows)


def merged_clusters(embeddings: np.ndarray, weights: np.ndarray, members: np.ndarray, similarity: float) -> np.ndarray:
    """`members` with the two clusters of the most similar centroids joined, again and again, while that
    similarity is at least `similarity`; clusters renumbered 0..k-1."""
    members = members.copy()
    while True:
        _, members = np.unique(members, return_inverse=True)
        if members.max() < 1:
            return members
        centroids = _centroids_of(embeddings, weights, members)
        closeness = centroids @ centroids.T
        np.fill_diagonal(closeness, -1.0)
        keep, drop = np.unravel_index(int(np.argmax(closeness)), closeness.shape)
        if closeness[keep, drop] < similarity:
            return members
        members[members == drop] = keep


def nme_spectral_clusters(embeddings: np.ndarray, *, max_speakers: int, seed: int = 0) -> np.ndarray:
    """Cluster index of each unit embedding by NME-SC: for each neighbour count p, the graph keeping each
    row's p most similar (binarised, symmetrised) and its Laplacian's largest normalised eigengap g_p among
    the first `max_speakers`; the p with the least p / g_p wins, its gap gives the number of speakers, and
    k-means on the Laplacian's first eigenvectors the clusters."""
    n = len(embeddings)
    similarity = embeddings @ embeddings.T
    ranked = np.argsort(-similarity, axis=1)
    # Fewer neighbours than a tenth of the stretches cut the graph into cliques of a few stretches each, whose
    # eigengap counts cliques, not people.
    fewest = max(2, round(n * MIN_NEIGHBOUR_SHARE))
    counts = np.unique(np.geomspace(fewest, max(fewest, n // 4), NEIGHBOUR_COUNTS).round().astype(int))
    best: tuple[float, int, np.ndarray] | None = None
    for p in counts:
        graph = np.zeros_like(similarity)
        np.put_along_axis(graph, ranked[:, :p], 1.0, axis=1)
        graph = (graph + graph.T) / 2
        laplacian = np.diag(graph.sum(axis=1)) - graph
        eigenvalues = np.linalg.eigvalsh(laplacian)
        gaps = np.diff(eigenvalues[: min(max_speakers, n - 1) + 1])
        gap = float(gaps.max()) / max(float(eigenvalues[-1]), 1e-12)
        ratio = p / max(gap, 1e-12)
        if best is None or ratio < best[0]:
            best = (ratio, int(np.argmax(gaps)) + 1, laplacian)
    assert best is not None
    _, speakers, laplacian = best
    _, vectors = np.linalg.eigh(laplacian)
    return kmeans(vectors[:, :speakers], speakers, seed=seed)


def kmeans(points: np.ndarray, k: int, *, seed: int = 0, rounds: int = 100) -> np.ndarray:
    """Lloyd's k-means from a k-means++ start (seeded: the same meeting clusters the same way)."""
    rng = np.random.default_rng(seed)
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        distance = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(axis=-1), axis=1)
        total = float(distance.sum())
        pick = rng.choice(len(points), p=distance / total) if total > 0 else rng.integers(len(points))
        centres.append(points[pick])
    centre = np.array(centres)
    members = np.zeros(len(points), dtype=int)
    for _ in range(rounds):
        members = np.argmin(((points[:, None, :] - centre[None]) ** 2).sum(axis=-1), axis=1)
        moved = np.array([points[members == j].mean(axis=0) if np.any(members == j) else centre[j] for j in range(k)])
        if np.allclose(moved, centre):
            break
        centre = moved
    _, members = np.unique(members, return_inverse=True)  # no empty cluster numbers
    return members
