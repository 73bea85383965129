// Admin page of the meeting-room box. Plain JavaScript, no dependencies, works offline.
//
// Transcript text is untrusted (speech recognition and LLM output): the DOM is built with
// createElement and textContent only; no data ever goes through innerHTML.
//
// A new area (glossary, minutes) adds a <section id="panel-NAME"> to index.html and one
// registerPanel("NAME", "Title", onShow) call at the bottom of this file.
"use strict";

(() => {
  const API = "/api/v1";
  const TOKEN_KEY = "edge.apiToken";
  // Set while this browser holds a login session (its cookie is HttpOnly, so the page cannot see it):
  // a page opened without it shows the login form without asking the box first.
  const SESSION_KEY = "edge.session";
  const RECONNECT_MS = 3000;
  const HEALTH_REFRESH_MS = 5000;
  const EXPORT_FORMATS = ["txt", "md", "srt", "vtt", "json"];

  const $ = (id) => document.getElementById(id);
  const i18n = window.edgeI18n;
  const t = i18n.t;

  // --- DOM helpers -----------------------------------------------------------------------------

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, String(value));
      else node[key] = value;
    }
    for (const child of children) {
      if (child !== undefined && child !== null) node.append(child); // strings become text nodes
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function clock(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const mm = String(m).padStart(2, "0");
    const ss = String(s).padStart(2, "0");
    return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  const localTime = (iso) => i18n.dateTime(iso);

  const known = (key, value) => (t(key) === key ? value : t(key));
  const meetingStatus = (status) => known(`meetingStatus.${status}`, status);
  const languageName = (code) => known(`language.${code}`, code);

  function showError(id, error) {
    $(id).textContent = error ? String(error.message || error) : "";
  }

  // --- API client ------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  // Who is logged in (GET /session): a person with the session cookie (csrf set) or an API token.
  let session = null;
  const loggedIn = () => Boolean(token() || session);

  function describeDetail(detail, fallback) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    }
    return fallback;
  }

  // A request carries the bearer token, or the session cookie (the browser adds it) with the session's
  // CSRF token on every change: another site can send the cookie but cannot read the CSRF token.
  async function api(path, { method = "GET", json, form, raw = false, headers: extra = {} } = {}) {
    const headers = { ...extra };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    else if (session && session.csrf && method !== "GET") headers["X-CSRF-Token"] = session.csrf;
    let body;
    if (form) body = form;
    else if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    let response;
    try {
      response = await fetch(API + path, { method, headers, body, cache: "no-store" });
    } catch (err) {
      throw new ApiError(0, t("error.unreachable"));
    }
    if (response.status === 401) {
      logout(t(token() ? "login.refused" : "login.notLoggedIn"));
      throw new ApiError(401, t("login.notLoggedIn"));
    }
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        message = describeDetail((await response.json()).detail, message);
      } catch (err) {
        // not JSON: keep the status line
      }
      throw new ApiError(response.status, message);
    }
    return raw ? response : response.json();
  }

  // --- panels and tabs ----------------------------------------------------------------------------

  const panels = [];
  let currentPanel = null;

  function registerPanel(id, onShow) {
    panels.push({ id, onShow });
    $("tabs").append(
      el("button", { type: "button", id: `tab-${id}`, class: "tab", text: t(`tab.${id}`), onclick: () => showPanel(id) })
    );
  }

  function showPanel(id) {
    const panel = panels.find((p) => p.id === id) || panels[0];
    currentPanel = panel.id;
    for (const p of panels) {
      $(`panel-${p.id}`).hidden = p.id !== panel.id;
      $(`tab-${p.id}`).setAttribute("aria-selected", String(p.id === panel.id));
    }
    if (location.hash !== `#${panel.id}`) history.replaceState(null, "", `#${panel.id}`);
    if (panel.onShow) panel.onShow();
  }

  // --- login -------------------------------------------------------------------------------------

  function showLogin(message) {
    $("login").hidden = false;
    $("tabs").hidden = true;
    $("logout-button").hidden = true;
    for (const p of panels) $(`panel-${p.id}`).hidden = true;
    $("login-error").textContent = message || "";
    $("who").hidden = true;
    $("user-input").focus();
  }

  function logout(message) {
    if (session && session.kind === "user" && !token()) {
      // Ends the session on the box too; the cookie alone is then worthless.
      fetch(`${API}/logout`, { method: "POST", headers: { "X-CSRF-Token": session.csrf }, cache: "no-store" })
        .catch(() => {});
    }
    session = null;
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(SESSION_KEY);
    live.disconnect();
    setBadge({ state: "unknown" });
    showLogin(message);
  }

  async function login(value) {
    sessionStorage.setItem(TOKEN_KEY, value.trim());
    try {
      session = await api("/session");
    } catch (err) {
      if (err.status !== 401) showLogin(err.message);
      return;
    }
    enter();
  }

  async function loginWithPassword(name, password) {
    let response;
    try {
      response = await fetch(`${API}/login`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name, password }),
        cache: "no-store",
      });
    } catch (err) {
      showLogin(t("error.unreachable"));
      return;
    }
    if (response.status === 401 || response.status === 422) {
      showLogin(t("login.wrongPassword"));
      return;
    }
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        message = describeDetail((await response.json()).detail, message);
      } catch (err) {
        // not JSON: keep the status line
      }
      showLogin(message);
      return;
    }
    session = await response.json();
    localStorage.setItem(SESSION_KEY, "1");
    enter();
  }

  // A session cookie from before (a reload of the page): the box says whose it is.
  async function resumeSession() {
    if (!localStorage.getItem(SESSION_KEY)) {
      showLogin("");
      return;
    }
    try {
      const response = await fetch(`${API}/session`, { cache: "no-store" });
      if (response.ok) {
        session = await response.json();
        enter();
        return;
      }
      localStorage.removeItem(SESSION_KEY);
    } catch (err) {
      // unreachable: the login form says so when used
    }
    showLogin("");
  }

  function enter() {
    $("token-input").value = "";
    $("password-input").value = "";
    $("login").hidden = true;
    $("tabs").hidden = false;
    $("logout-button").hidden = false;
    $("who").hidden = false;
    $("who").textContent = t("login.who", { name: session.name, role: t(`role.${session.role}`) });
    $("tab-access").hidden = session.role !== "admin";
    live.connect();
    const wanted = location.hash.slice(1) || "live";
    showPanel(wanted === "access" && session.role !== "admin" ? "live" : wanted);
  }

  // The certificate's fingerprints (GET /about, no login): checked by a person before typing a password.
  async function showFingerprint() {
    try {
      const about = await (await fetch(`${API}/about`, { cache: "no-store" })).json();
      if (about.tls) {
        const shown = about.tls.ca_sha256 || about.tls.cert_sha256;
        $("login-fingerprint").textContent = t("login.fingerprint", { fingerprint: shown });
        $("login-fingerprint").hidden = false;
        $("about-fingerprint").textContent = t("access.fingerprint", {
          cert: about.tls.cert_sha256,
          ca: about.tls.ca_sha256 || "-",
        });
      } else {
        $("about-fingerprint").textContent = t("access.plainHttp");
      }
    } catch (err) {
      // an old box without /about: nothing to show
    }
  }

  // The box's state as last told (live stream, /state): the header and the health panel show this one.
  let boxState = { state: "unknown", meeting_id: null };

  function setBadge(state) {
    boxState = state;
    const badge = $("state-badge");
    badge.dataset.state = state.state;
    badge.textContent = state.state === "unknown" ? "…" : t(`state.${state.state}`);
    health.showState();
  }

  // --- transcript lists (live and detail share them) ----------------------------------------------

  class Transcript {
    // `playable`: its segments get a play button when their meeting's audio archive is there.
    constructor(list, { playable = false } = {}) {
      this.list = list;
      this.playable = playable;
      this.items = new Map(); // seq -> <li>
    }

    reset() {
      clear(this.list);
      this.items.clear();
    }

    get lastSeq() {
      let last = -1;
      for (const seq of this.items.keys()) last = Math.max(last, seq);
      return last;
    }

    upsert(segment) {
      const existing = this.items.get(segment.seq);
      if (existing) {
        fillSegment(existing, segment);
        return;
      }
      const item = el("li", { "data-seq": segment.seq });
      if (this.playable) item.dataset.playable = "true";
      fillSegment(item, segment);
      let before = null;
      if (segment.seq < this.lastSeq) {
        for (const [seq, node] of this.items) {
          if (seq > segment.seq && (!before || seq < Number(before.dataset.seq))) before = node;
        }
      }
      this.list.insertBefore(item, before);
      this.items.set(segment.seq, item);
    }

    // A meeting's speakers were (re)named: each of its lines shows its speaker's new name.
    renameSpeakers(meetingId, speakers) {
      const shown = new Map(speakers.map((speaker) => [speaker.label, speaker.display]));
      for (const item of this.items.values()) {
        const segment = item.segment;
        if (!segment || segment.meeting_id !== meetingId || !shown.has(segment.speaker_id)) continue;
        segment.speaker = shown.get(segment.speaker_id);
        const chip = item.querySelector(".speaker");
        if (chip) chip.replaceWith(speakerChip(segment.speaker_id, segment.speaker));
      }
    }
  }

  // --- speakers: the voices the box told apart (S1, S2, ...), named per meeting ---------------------

  const SPEAKER_COLOURS = 8;

  // A label's colour is the same wherever and whenever it is shown: S1..S8 each their own, others hashed.
  function speakerColour(label) {
    const number = /^S(\d+)$/.exec(label);
    if (number) return (((Number(number[1]) - 1) % SPEAKER_COLOURS) + SPEAKER_COLOURS) % SPEAKER_COLOURS;
    let hash = 0;
    for (const char of label) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
    return hash % SPEAKER_COLOURS;
  }

  function speakerChip(label, shown) {
    return el("span", {
      class: `speaker speaker-c${speakerColour(label)}`,
      "data-speaker": label,
      text: shown || label,
      title: t("speakers.chipTitle", { label }),
    });
  }

  function fillSegment(item, segment) {
    clear(item);
    item.segment = segment;
    item.classList.toggle("edited", Boolean(segment.edited));
    const text = el("span", { class: "text", text: segment.text, lang: segmentLanguage(segment) });
    if (segment.text !== segment.text_raw) text.title = t("segment.recognizedAs", { text: segment.text_raw });
    item.append(
      item.dataset.playable && player.canPlay(segment.meeting_id) ? player.button(segment) : "",
      segmentNumber(segment),
      el("span", { class: "time", text: clock(segment.t0_ms) }),
      segment.speaker_id ? speakerChip(segment.speaker_id, segment.speaker) : "",
      text,
      segment.edited ? el("span", { class: "tag", text: t("segment.edited") }) : "",
      el("button", {
        type: "button",
        class: "quiet small edit",
        text: t("common.edit"),
        "aria-label": t("segment.editLabel", { seq: segment.seq }),
        onclick: () => editSegment(item, segment),
      })
    );
  }

  // The segment's own language ("ko", "en") so fonts, line breaking and screen readers follow it.
  const segmentLanguage = (segment) => (/^[a-z]{2,3}$/.test(segment.language || "") ? segment.language : undefined);

  // Minutes cite segments by number ("#12"): every line shows its own.
  const segmentNumber = (segment) =>
    el("span", { class: "seq", text: `#${segment.seq}`, "aria-label": t("segment.number", { seq: segment.seq }) });

  function editSegment(item, segment) {
    clear(item);
    // A text area that grows with the text, for long segments. Enter saves (a segment is one utterance,
    // it has no line breaks), Escape cancels.
    const input = el("textarea", {
      class: "edit-input",
      value: segment.text,
      maxLength: 10000,
      lang: segmentLanguage(segment),
      "aria-label": t("segment.editLabel", { seq: segment.seq }),
    });
    const fit = () => {
      input.style.height = "auto";
      input.style.height = `${input.scrollHeight + 2}px`;
    };
    input.addEventListener("input", fit);
    const error = el("span", { class: "error" });
    const cancel = () => fillSegment(item, segment);
    const save = async () => {
      const text = input.value.trim();
      if (!text || text === segment.text) return cancel();
      try {
        const updated = await api(
          `/meetings/${encodeURIComponent(segment.meeting_id)}/segments/${segment.seq}`,
          { method: "PATCH", json: { text } }
        );
        fillSegment(item, updated);
        glossary.afterEdit(updated);
      } catch (err) {
        error.textContent = err.message;
      }
    };
    input.addEventListener("keydown", (event) => {
      if (event.isComposing) return; // Enter that ends a Hangul syllable's composition is not "save"
      if (event.key === "Enter") {
        event.preventDefault();
        save();
      }
      if (event.key === "Escape") cancel();
    });
    item.append(
      segmentNumber(segment),
      el("span", { class: "time", text: clock(segment.t0_ms) }),
      el(
        "span",
        { class: "edit-form" },
        input,
        el("button", { type: "button", class: "small", text: t("common.save"), onclick: save }),
        el("button", { type: "button", class: "quiet small", text: t("common.cancel"), onclick: cancel }),
        error
      )
    );
    fit();
    input.focus();
  }

  async function loadSegments(meetingId, transcript, { afterSeq = -1, limit = 1000, all = true } = {}) {
    let after = afterSeq;
    for (;;) {
      const page = await api(
        `/meetings/${encodeURIComponent(meetingId)}/segments?after_seq=${after}&limit=${limit}`
      );
      for (const segment of page.items) transcript.upsert(segment);
      if (page.next_after_seq === null || !all) return page.next_after_seq;
      after = page.next_after_seq;
    }
  }

  // --- playing segments from the meeting's audio archive ---------------------------------------------
  //
  // <audio> cannot send the bearer header: the page fetches the bytes of one segment with a Range
  // request, puts a WAV header in front and plays the blob. The archive's own header (read once per
  // meeting) says where the samples start and how many bytes a millisecond is. After a segment, the
  // next one plays (follow-along: the playing segment is marked and kept in view) until stopped.

  const WAV_HEADER_BYTES = 44;

  function parseWavHeader(buffer) {
    const view = new DataView(buffer);
    const tag = (offset) => String.fromCharCode(...new Uint8Array(buffer, offset, 4));
    if (buffer.byteLength < WAV_HEADER_BYTES || tag(0) !== "RIFF" || tag(8) !== "WAVE" || tag(36) !== "data") {
      return null;
    }
    const format = { channels: view.getUint16(22, true), rate: view.getUint32(24, true), bits: view.getUint16(34, true) };
    if (view.getUint16(20, true) !== 1 || !format.channels || !format.rate || format.bits % 8) return null;
    return { ...format, frameBytes: (format.channels * format.bits) / 8, dataStart: WAV_HEADER_BYTES };
  }

  function wavHeader(dataBytes, format) {
    const header = new DataView(new ArrayBuffer(WAV_HEADER_BYTES));
    const put = (offset, text) => [...text].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
    put(0, "RIFF");
    header.setUint32(4, WAV_HEADER_BYTES - 8 + dataBytes, true);
    put(8, "WAVE");
    put(12, "fmt ");
    header.setUint32(16, 16, true);
    header.setUint16(20, 1, true);
    header.setUint16(22, format.channels, true);
    header.setUint32(24, format.rate, true);
    header.setUint32(28, format.rate * format.frameBytes, true);
    header.setUint16(32, format.frameBytes, true);
    header.setUint16(34, format.bits, true);
    put(36, "data");
    header.setUint32(40, dataBytes, true);
    return header.buffer;
  }

  const player = {
    audio: null,
    meetingId: null,
    format: null,
    playingSeq: null,
    url: null,
    run: 0, // a newer play or stop makes an older fetch's answer stale

    init() {
      this.audio = new Audio();
      this.audio.addEventListener("ended", () => this.next());
      this.audio.addEventListener("error", () => {
        if (this.playingSeq === null) return;
        showError("detail-error", t("segment.audioMissing", { seq: this.playingSeq }));
        this.stop();
      });
    },

    canPlay(meetingId) {
      return this.format !== null && meetingId === this.meetingId;
    },

    // The archive's header: without an archive (an import, an upload) segments get no play button.
    async load(meeting) {
      const meetingId = meeting.id;
      this.stop();
      this.meetingId = meetingId;
      this.format = null;
      if (!meeting.has_audio) return;
      try {
        const path = `/meetings/${encodeURIComponent(meetingId)}/audio`;
        const response = await api(path, { raw: true, headers: { Range: `bytes=0-${WAV_HEADER_BYTES - 1}` } });
        const format = parseWavHeader(await response.arrayBuffer());
        if (meetingId === this.meetingId) this.format = format;
      } catch (err) {
        showError("detail-error", err);
      }
    },

    button(segment) {
      const playing = this.playingSeq === segment.seq;
      return el("button", {
        type: "button",
        class: "quiet small play",
        text: playing ? "■" : "▶",
        "aria-label": t(playing ? "segment.stop" : "segment.play", { seq: segment.seq }),
        onclick: () => (this.playingSeq === segment.seq ? this.stop() : this.play(segment.seq)),
      });
    },

    async play(seq) {
      const item = meetings.transcript.items.get(seq);
      if (!item || !this.format) return;
      const run = ++this.run;
      const { t0_ms: t0, t1_ms: t1, meeting_id: meetingId } = item.segment;
      const { rate, frameBytes, dataStart } = this.format;
      const first = dataStart + Math.floor((t0 * rate) / 1000) * frameBytes;
      const last = dataStart + Math.ceil((t1 * rate) / 1000) * frameBytes - 1;
      this.mark(seq);
      try {
        const response = await api(`/meetings/${encodeURIComponent(meetingId)}/audio`, {
          raw: true,
          headers: { Range: `bytes=${first}-${last}` },
        });
        if (response.status !== 206) throw new Error(t("segment.audioNoRange"));
        const samples = await response.arrayBuffer();
        if (run !== this.run) return;
        URL.revokeObjectURL(this.url);
        this.url = URL.createObjectURL(
          new Blob([wavHeader(samples.byteLength, this.format), samples], { type: "audio/wav" })
        );
        this.audio.src = this.url;
        await this.audio.play();
      } catch (err) {
        if (run !== this.run) return;
        this.stop();
        showError("detail-error", err.status === 416 ? t("segment.audioMissing", { seq }) : err);
      }
    },

    // Follow-along: the next segment of the transcript plays after this one.
    next() {
      const later = [...meetings.transcript.items.keys()].filter((seq) => seq > this.playingSeq);
      if (later.length) this.play(Math.min(...later));
      else this.stop();
    },

    stop() {
      this.run += 1;
      if (this.audio) this.audio.pause();
      this.mark(null);
    },

    mark(seq) {
      const previous = meetings.transcript && meetings.transcript.items.get(this.playingSeq);
      this.playingSeq = seq;
      if (previous) {
        previous.classList.remove("playing");
        if (!previous.querySelector(".edit-input")) fillSegment(previous, previous.segment);
      }
      const item = seq === null ? null : meetings.transcript.items.get(seq);
      if (item) {
        item.classList.add("playing");
        if (!item.querySelector(".edit-input")) fillSegment(item, item.segment);
        item.scrollIntoView({ block: "nearest" });
      }
    },
  };

  // --- live panel --------------------------------------------------------------------------------

  const live = {
    source: null,
    timer: null,
    meetingId: null,
    reload: false,
    wasRecording: false,
    transcript: null,

    connect() {
      this.disconnect();
      $("live-connection").textContent = t("live.connecting");
      api("/live/ticket", { method: "POST" })
        .then(({ ticket }) => this.open(ticket))
        .catch((err) => {
          if (err.status !== 401) this.retry();
        });
    },

    // EventSource cannot send headers: it uses a single-use ticket, never the token itself.
    open(ticket) {
      const source = new EventSource(`${API}/live?ticket=${encodeURIComponent(ticket)}`);
      this.source = source;
      source.addEventListener("open", () => {
        $("live-connection").textContent = t("live.connected");
        this.reload = true;
      });
      source.addEventListener("state", (event) => this.onState(JSON.parse(event.data)));
      source.addEventListener("partial", (event) => this.onPartial(JSON.parse(event.data)));
      source.addEventListener("segment", (event) => this.onSegment(JSON.parse(event.data)));
      source.addEventListener("segment_update", (event) => this.onSegment(JSON.parse(event.data)));
      source.addEventListener("speakers", (event) => speakers.onSpeakers(JSON.parse(event.data)));
      source.addEventListener("dropped", () => this.refill());
      source.addEventListener("minutes_progress", (event) => minutesView.onProgress(JSON.parse(event.data)));
      source.addEventListener("minutes", (event) => minutesView.onDone(JSON.parse(event.data)));
      source.addEventListener("health", () => health.refresh());
      source.addEventListener("error", () => {
        source.close();
        if (this.source === source) this.retry();
      });
    },

    retry() {
      this.source = null;
      $("live-connection").textContent = t("live.reconnecting");
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), RECONNECT_MS);
    },

    disconnect() {
      clearTimeout(this.timer);
      if (this.source) this.source.close();
      this.source = null;
      $("live-connection").textContent = "";
    },

    onState(boxState) {
      setBadge(boxState);
      const recording = boxState.state === "recording" && boxState.meeting_id;
      $("start-form").hidden = Boolean(recording);
      $("stop-row").hidden = !recording;
      if (recording && (boxState.meeting_id !== this.meetingId || this.reload)) {
        if (boxState.meeting_id !== this.meetingId) {
          this.transcript.reset();
          $("live-partial").textContent = "";
        }
        this.meetingId = boxState.meeting_id;
        this.refill();
        this.showTitle();
      }
      this.reload = false;
      if (!recording) $("live-title").textContent = t(this.meetingId ? "live.lastMeeting" : "live.title");
      this.updateEmpty();
      // A meeting began or ended: the meetings list on screen shows its new status.
      if (Boolean(recording) !== this.wasRecording && currentPanel === "meetings") meetings.refresh();
      this.wasRecording = Boolean(recording);
    },

    showTitle() {
      const meetingId = this.meetingId;
      api(`/meetings/${encodeURIComponent(meetingId)}`)
        .then((meeting) => {
          if (meetingId === this.meetingId && $("stop-row").hidden === false) {
            $("live-title").textContent = t("live.meeting", { title: meeting.title || t("meetings.untitled") });
            $("live-partial").lang = segmentLanguage(meeting) || ""; // the words still being recognized
          }
        })
        .catch((err) => showError("live-error", err));
    },

    refill() {
      if (!this.meetingId) return;
      loadSegments(this.meetingId, this.transcript)
        .then(() => this.updateEmpty())
        .catch((err) => showError("live-error", err));
    },

    onPartial(partial) {
      if (partial.meeting_id !== this.meetingId) return;
      const partialLine = $("live-partial");
      clear(partialLine);
      partialLine.append(
        el("span", { class: "stable", text: partial.stable || "" }),
        partial.stable && partial.unstable ? " " : "",
        el("span", { class: "unstable", text: partial.unstable || "" })
      );
    },

    onSegment(payload) {
      if (payload.meeting_id !== this.meetingId) {
        meetings.onSegment(payload);
        return;
      }
      const edited = payload.edited || (this.transcript.items.get(payload.seq)?.classList.contains("edited") ?? false);
      this.transcript.upsert({ ...payload, edited });
      $("live-partial").textContent = "";
      this.updateEmpty();
      meetings.onSegment({ ...payload, edited });
      const list = $("live-segments");
      list.lastElementChild?.scrollIntoView({ block: "nearest" });
    },

    updateEmpty() {
      $("live-empty").hidden = this.transcript.items.size > 0 || Boolean(this.meetingId);
    },

    async start(event) {
      event.preventDefault();
      showError("live-error", "");
      const button = $("start-button");
      button.disabled = true;
      try {
        const language = $("meeting-language-select").value;
        const meeting = await api("/meetings", {
          method: "POST",
          json: { title: $("meeting-title-input").value.trim(), ...(language ? { language } : {}) },
        });
        $("meeting-title-input").value = "";
        this.onState({ state: "recording", meeting_id: meeting.id });
      } catch (err) {
        showError("live-error", err);
      } finally {
        button.disabled = false;
      }
    },

    async stop() {
      showError("live-error", "");
      const button = $("stop-button");
      button.disabled = true;
      try {
        if (this.meetingId) await api(`/meetings/${encodeURIComponent(this.meetingId)}/stop`, { method: "POST" });
        this.onState(await api("/state"));
      } catch (err) {
        showError("live-error", err);
      } finally {
        button.disabled = false;
      }
    },
  };

  // --- the open meeting's speakers: a name per label, saved with PUT .../speakers/{label} ------------
  //
  // The live stream's `speakers` event (after a rename here, in another browser, by API or MQTT) renames
  // the chips of every transcript on the page and this list.

  const speakers = {
    meetingId: null,
    items: [],
    loading: false,

    async open(meetingId) {
      this.meetingId = meetingId;
      this.items = [];
      $("speakers").hidden = true;
      clear($("speakers-list"));
      $("speakers-result").textContent = "";
      showError("speakers-error", "");
      await this.load();
    },

    async load() {
      const meetingId = this.meetingId;
      this.loading = true;
      try {
        const result = await api(`/meetings/${encodeURIComponent(meetingId)}/speakers`);
        if (meetingId === this.meetingId) this.render(result.items);
      } catch (err) {
        showError("speakers-error", err);
      } finally {
        this.loading = false;
      }
    },

    render(items) {
      this.items = items;
      $("speakers").hidden = items.length === 0;
      const list = $("speakers-list");
      const focused = document.activeElement && document.activeElement.closest("#speakers-list form");
      const typing = focused ? focused.dataset.speaker : null;
      const readOnly = Boolean(session && session.role === "viewer");
      const labels = new Set(items.map((speaker) => speaker.label));
      for (const row of list.querySelectorAll("form.speaker-row")) {
        if (!labels.has(row.dataset.speaker)) row.closest("li").remove(); // regrouped into another voice
      }
      for (const speaker of items) {
        let row = list.querySelector(`form[data-speaker="${CSS.escape(speaker.label)}"]`);
        if (!row) {
          const input = el("input", {
            type: "text", maxLength: 64, class: "speaker-name", placeholder: t("speakers.placeholder"),
            "aria-label": t("speakers.nameLabel", { label: speaker.label }), disabled: readOnly,
          });
          row = el(
            "form",
            { class: "row controls speaker-row", "data-speaker": speaker.label, autocomplete: "off",
              onsubmit: (event) => this.rename(event, speaker.label, input) },
            speakerChip(speaker.label, speaker.display),
            input,
            el("button", { type: "submit", class: "quiet small", text: t("speakers.save"), disabled: readOnly }),
            el("span", { class: "hint speaker-stats" })
          );
          list.append(el("li", {}, row));
        }
        row.querySelector(".speaker").replaceWith(speakerChip(speaker.label, speaker.display));
        if (typing !== speaker.label) row.querySelector("input").value = speaker.name;
        row.querySelector(".speaker-stats").textContent =
          t("speakers.stats", { n: speaker.segments, time: clock(speaker.speech_ms) });
      }
    },

    async rename(event, label, input) {
      event.preventDefault();
      showError("speakers-error", "");
      $("speakers-result").textContent = "";
      const meetingId = this.meetingId;
      try {
        const speaker = await api(`/meetings/${encodeURIComponent(meetingId)}/speakers/${encodeURIComponent(label)}`, {
          method: "PUT",
          json: { name: input.value },
        });
        input.value = speaker.name;
        $("speakers-result").textContent = t(speaker.name ? "speakers.saved" : "speakers.cleared", { label });
        // The live stream says so too; this covers a page whose stream is reconnecting.
        this.onSpeakers({ meeting_id: meetingId, speakers: [speaker] }, { complete: false });
      } catch (err) {
        showError("speakers-error", err);
      }
    },

    // `complete`: the payload lists every speaker of the meeting (the live stream's), not just one.
    onSpeakers(payload, { complete = true } = {}) {
      for (const transcript of [live.transcript, meetings.transcript]) {
        transcript.renameSpeakers(payload.meeting_id, payload.speakers);
      }
      if (payload.meeting_id !== this.meetingId) return;
      if (complete) {
        this.render(payload.speakers);
        return;
      }
      const merged = new Map(this.items.map((speaker) => [speaker.label, speaker]));
      for (const speaker of payload.speakers) merged.set(speaker.label, speaker);
      this.render([...merged.values()]);
    },

    // A label new to the open meeting (a voice heard for the first time) joins the list.
    onSegment(payload) {
      if (payload.meeting_id !== this.meetingId || !payload.speaker_id || this.loading) return;
      if (!this.items.some((speaker) => speaker.label === payload.speaker_id)) this.load();
    },
  };

  // --- meetings panel ----------------------------------------------------------------------------

  const meetings = {
    offset: 0,
    detailId: null,
    detailNext: null,
    transcript: null,

    // The list is swapped only once the new page is in, so a click during a refresh lands on a live row.
    async refresh() {
      showError("meetings-error", "");
      await this.more({ replace: true });
    },

    async more({ replace = false } = {}) {
      try {
        const offset = replace ? 0 : this.offset;
        const page = await api(`/meetings?limit=50&offset=${offset}`);
        const list = $("meetings-list");
        if (replace) clear(list);
        for (const meeting of page.items) list.append(this.item(meeting));
        this.offset = page.next_offset ?? offset + page.items.length;
        $("meetings-more").hidden = page.next_offset === null;
        if (!page.items.length && !list.childElementCount) {
          list.append(el("li", { class: "hint", text: t("meetings.none") }));
        }
      } catch (err) {
        showError("meetings-error", err);
      }
    },

    item(meeting) {
      return el(
        "li",
        {},
        el(
          "button",
          { type: "button", class: "meeting", onclick: () => this.open(meeting.id) },
          el("span", { class: "meeting-title", text: meeting.title || t("meetings.untitled") }),
          el("span", { class: `status status-${meeting.status}`, text: meetingStatus(meeting.status) }),
          el("span", {
            class: "hint",
            text: `${localTime(meeting.started_at)} · ${t("meetings.segments", { n: meeting.segment_count })}`,
          })
        )
      );
    },

    async open(meetingId) {
      showError("detail-error", "");
      this.detailId = meetingId;
      this.transcript.reset();
      $("meeting-detail").hidden = false;
      minutesView.open(meetingId);
      speakers.open(meetingId);
      try {
        const meeting = await api(`/meetings/${encodeURIComponent(meetingId)}`);
        await player.load(meeting); // before the segments: they get play buttons when there is audio
        $("detail-title").textContent = meeting.title || t("meetings.untitled");
        $("detail-meta").textContent =
          `${meetingStatus(meeting.status)} · ${languageName(meeting.language)} · ${localTime(meeting.started_at)}` +
          (meeting.ended_at ? ` – ${localTime(meeting.ended_at)}` : "") +
          ` · ${t("meetings.segments", { n: meeting.segment_count })} · ${meeting.id}` +
          (meeting.error ? ` · ${meeting.error === CANCELLED ? t("job.cancelledByUser") : meeting.error}` : "");
        this.renderExports(meeting);
        jobView.show(meeting);
        this.detailNext = await loadSegments(meetingId, this.transcript, { limit: 200, all: false });
        $("detail-more").hidden = this.detailNext === null;
        minutesView.segmentsLoaded(meetingId);
      } catch (err) {
        showError("detail-error", err);
      }
    },

    async moreSegments() {
      try {
        this.detailNext = await loadSegments(this.detailId, this.transcript, {
          afterSeq: this.detailNext,
          limit: 200,
          all: false,
        });
        $("detail-more").hidden = this.detailNext === null;
      } catch (err) {
        showError("detail-error", err);
      }
    },

    renderExports(meeting) {
      const exports = $("detail-exports");
      clear(exports);
      exports.append(el("span", { class: "hint", text: t("detail.export") }));
      for (const format of EXPORT_FORMATS) {
        exports.append(
          el("button", { type: "button", class: "quiet small", text: format, onclick: () => this.download(meeting, format) })
        );
      }
      if (meeting.has_audio) {
        exports.append(el("button", {
          type: "button", id: "retranscribe-button", class: "quiet small", text: t("detail.retranscribe"),
          title: t("detail.retranscribeHint"), onclick: (event) => this.retranscribe(meeting, event.currentTarget),
        }));
      }
      const deletable = session && session.role === "admin" && !["recording", "processing"].includes(meeting.status);
      $("delete-meeting-button").hidden = !deletable;
      $("delete-meeting-button").onclick = () => this.remove(meeting);
    },

    // Everything of the meeting goes: transcript, minutes, search entries, audio, its retained MQTT minutes.
    async remove(meeting) {
      if (!window.confirm(t("detail.confirmDelete", { title: meeting.title || t("meetings.untitled") }))) return;
      try {
        await api(`/meetings/${encodeURIComponent(meeting.id)}`, { method: "DELETE", raw: true });
        $("meeting-detail").hidden = true;
        this.detailId = null;
        await this.refresh();
      } catch (err) {
        showError("detail-error", err);
      }
    },

    // The archive becomes a new meeting (the old one stays as it is); it opens while it is transcribed.
    async retranscribe(meeting, button) {
      showError("detail-error", "");
      button.disabled = true;
      try {
        const submitted = await api(`/meetings/${encodeURIComponent(meeting.id)}/retranscribe`, { method: "POST" });
        await this.refresh();
        await this.open(submitted.meeting.id);
      } catch (err) {
        showError("detail-error", err);
        button.disabled = false;
      }
    },

    // A plain link cannot carry the bearer header, so the file is fetched and handed over as a blob.
    async download(meeting, format) {
      try {
        const response = await api(`/meetings/${encodeURIComponent(meeting.id)}/export?format=${format}`, { raw: true });
        const url = URL.createObjectURL(await response.blob());
        const link = el("a", { href: url, download: `meeting-${meeting.id}.${format}` });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (err) {
        showError("detail-error", err);
      }
    },

    onSegment(payload) {
      if (payload.meeting_id === this.detailId && this.detailNext === null) this.transcript.upsert(payload);
      speakers.onSegment(payload);
    },

    async upload(event) {
      event.preventDefault();
      showError("meetings-error", "");
      const file = $("upload-input").files[0];
      if (!file) {
        showError("meetings-error", t("meetings.chooseFile"));
        return;
      }
      const action = event.submitter && event.submitter.value === "transcribe" ? "transcribe" : "import";
      const form = new FormData();
      form.append("file", file, file.name);
      for (const button of [$("import-button"), $("transcribe-button")]) button.disabled = true;
      try {
        const result = await api(`/${action}`, { method: "POST", form });
        $("upload-input").value = "";
        await this.refresh();
        this.open(result.meeting.id);
      } catch (err) {
        showError("meetings-error", err);
      } finally {
        for (const button of [$("import-button"), $("transcribe-button")]) button.disabled = false;
      }
    },
  };

  // --- an uploaded file being transcribed (in the meeting's detail) --------------------------------
  //
  // GET /jobs every JOB_POLL_MS while a 'processing' meeting is open: a bar of the share of its audio
  // decoded (it yields to a meeting in the room, so it may stand still) and a button that cancels it.
  // Once its job is gone (done, failed or cancelled) the meeting is opened again with its new status.

  const JOB_POLL_MS = 2000;
  const CANCELLED = "cancelled by user"; // the reason a cancelled job's meeting ends 'failed' with

  const jobView = {
    meetingId: null,
    timer: null,

    init() {
      $("job-cancel").addEventListener("click", () => this.cancel());
    },

    show(meeting) {
      clearTimeout(this.timer);
      this.meetingId = meeting.status === "processing" ? meeting.id : null;
      $("job-row").hidden = true;
      if (this.meetingId) this.poll();
    },

    async poll() {
      const meetingId = this.meetingId;
      try {
        const job = (await api("/jobs")).items.find((item) => item.meeting_id === meetingId);
        if (meetingId !== this.meetingId || meetingId !== meetings.detailId) return;
        if (!job) {
          this.meetingId = null;
          $("job-row").hidden = true;
          await meetings.open(meetingId);
          return;
        }
        this.render(job);
      } catch (err) {
        showError("detail-error", err);
      }
      if (meetingId === this.meetingId) this.timer = setTimeout(() => this.poll(), JOB_POLL_MS);
    },

    render(job) {
      $("job-row").hidden = false;
      $("job-progress").value = job.progress;
      $("job-label").textContent =
        job.state === "waiting"
          ? t("job.waiting")
          : t("job.progress", {
              percent: Math.floor(job.progress * 100),
              decoded: Math.round(job.decoded_s),
              duration: job.duration_s === null ? "?" : Math.round(job.duration_s),
            });
    },

    async cancel() {
      const meetingId = this.meetingId;
      if (!meetingId) return;
      showError("detail-error", "");
      $("job-cancel").disabled = true;
      try {
        clearTimeout(this.timer);
        this.meetingId = null;
        await api(`/jobs/${encodeURIComponent(meetingId)}/cancel`, { method: "POST" });
        $("job-row").hidden = true;
        await meetings.refresh();
        await meetings.open(meetingId);
      } catch (err) {
        showError("detail-error", err);
      } finally {
        $("job-cancel").disabled = false;
      }
    },
  };

  // --- search across meetings (in the meetings panel) -----------------------------------------------
  //
  // GET /search finds segments and minutes of every meeting; each hit opens its meeting at the segment.
  // Snippets are parts marked as matched or not: <mark> elements with textContent, never markup.

  const SEARCH_LIMIT = 50;
  const SEARCH_PUNCTUATION = /[\s"'`.,!?;:()[\]{}<>“”‘’·…]/g; // the server ignores these around words

  const search = {
    init() {
      $("search-form").addEventListener("submit", (event) => this.run(event));
      $("search-clear").addEventListener("click", () => this.clear());
    },

    async run(event) {
      event.preventDefault();
      showError("meetings-error", "");
      const query = $("search-input").value.trim();
      if (!query) return this.clear();
      if (!query.replace(SEARCH_PUNCTUATION, "")) {
        showError("meetings-error", t("search.noWords"));
        return;
      }
      const button = $("search-button");
      button.disabled = true;
      try {
        const result = await api(`/search?q=${encodeURIComponent(query)}&limit=${SEARCH_LIMIT}`);
        this.render(query, result.items);
      } catch (err) {
        showError("meetings-error", err);
      } finally {
        button.disabled = false;
      }
    },

    render(query, items) {
      const list = $("search-results");
      clear(list);
      $("search-box").hidden = false;
      $("search-summary").textContent = items.length
        ? t("search.count", { n: items.length, query })
        : t("search.none", { query });
      for (const item of items) list.append(this.item(item));
    },

    item(item) {
      const snippet = el("span", { class: "snippet", lang: segmentLanguage(item) });
      for (const part of item.parts) snippet.append(part.match ? el("mark", { text: part.text }) : part.text);
      const where =
        item.kind === "minutes"
          ? t("search.inMinutes")
          : `#${item.seq} ${clock(item.t0_ms)}`;
      return el(
        "li",
        { "data-meeting": item.meeting_id, "data-seq": item.seq ?? "" },
        el(
          "button",
          { type: "button", class: "meeting search-hit", onclick: () => this.open(item) },
          el("span", { class: "meeting-title", text: item.meeting_title || t("meetings.untitled") }),
          el("span", { class: "hint", text: where }),
          snippet,
          el("span", { class: "hint", text: localTime(item.started_at) })
        )
      );
    },

    async open(item) {
      await meetings.open(item.meeting_id);
      if (item.kind === "minutes") $("minutes").scrollIntoView({ block: "start", behavior: "smooth" });
      else await minutesView.showSegment(item.seq);
    },

    clear() {
      $("search-input").value = "";
      $("search-box").hidden = true;
      clear($("search-results"));
    },
  };

  // --- minutes (inside the meeting detail) ---------------------------------------------------------
  //
  // The meeting's minutes: status, live progress while the LLM writes them (the partial output streams
  // in from the live stream's minutes_progress events), the document rendered for reading with evidence
  // links that scroll to the cited segment, approval (as written, or after editing in a form), a
  // regenerate button and the attendees owners are resolved against. Everything shown came from the LLM
  // or from people: textContent and input values only.

  const MINUTES_LISTS = [
    // key (its heading is minutes.list.KEY, its "add" button minutes.add.KEY), fields edited per item
    ["topics", ["title", "summary"]],
    ["decisions", ["text"]],
    ["action_items", ["task", "owner", "due"]],
    ["open_questions", ["text"]],
  ];
  const UNASSIGNED = "unassigned";
  const PARTIAL_TAIL_CHARS = 1200;

  const minutesView = {
    meetingId: null,
    record: null,
    status: "none",
    attendees: [],
    editing: false,

    init() {
      $("minutes-generate-button").addEventListener("click", () => this.generate());
      $("minutes-approve-button").addEventListener("click", () => this.approve(null));
      $("minutes-edit-button").addEventListener("click", () => this.edit());
      $("minutes-cancel-button").addEventListener("click", () => this.cancelEdit());
      $("minutes-save-button").addEventListener("click", () => this.saveEdit());
      $("minutes-download-button").addEventListener("click", () => this.download());
      $("attendees-form").addEventListener("submit", (event) => this.saveAttendees(event));
      $("ask-form").addEventListener("submit", (event) => this.ask(event));
    },

    // --- ask the meeting ---

    async ask(event) {
      event.preventDefault();
      showError("ask-error", "");
      const meetingId = this.meetingId;
      const question = $("ask-input").value.trim();
      if (!question) return;
      const button = $("ask-button");
      button.disabled = true;
      $("ask-answer").hidden = false;
      $("ask-answer-text").textContent = "…";
      $("ask-answer-note").textContent = "";
      clear($("ask-citations"));
      try {
        const answer = await api(`/meetings/${encodeURIComponent(meetingId)}/ask`, { method: "POST", json: { question } });
        if (meetingId !== this.meetingId) return;
        $("ask-answer-text").textContent = answer.answer;
        const source = answer.source === "llm" ? t("ask.byModel", { model: answer.model }) : t("ask.extractive");
        $("ask-answer-note").textContent = [source, answer.note].filter(Boolean).join(" · ");
        $("ask-citations").append(this.evidence(answer.citations));
      } catch (err) {
        $("ask-answer").hidden = true;
        showError("ask-error", err);
      } finally {
        button.disabled = false;
      }
    },

    async open(meetingId) {
      this.meetingId = meetingId;
      this.record = null;
      this.editing = false;
      showError("minutes-error", "");
      showError("ask-error", "");
      $("ask-answer").hidden = true;
      $("attendees-result").textContent = "";
      this.hideProgress();
      this.render();
      await Promise.all([this.load(), this.loadAttendees()]);
    },

    async load() {
      const meetingId = this.meetingId;
      const path = `/meetings/${encodeURIComponent(meetingId)}/minutes`;
      try {
        // The status first: GET .../minutes answers 404 while there are none.
        const state = await api(`${path}/status`);
        const record = state.status === "none" ? null : await api(path);
        if (meetingId !== this.meetingId) return;
        this.record = record;
        this.status = record ? record.status : "none";
        this.queueText = state.queue ? state.queue.text : "";
      } catch (err) {
        if (meetingId !== this.meetingId) return;
        showError("minutes-error", err);
      }
      if (this.status === "generating") this.showProgress(this.queueText || t("minutes.waiting"), null);
      else this.hideProgress();
      if (!this.editing) this.render();
      else this.renderControls();
    },

    async loadAttendees() {
      const meetingId = this.meetingId;
      try {
        const result = await api(`/meetings/${encodeURIComponent(meetingId)}/attendees`);
        if (meetingId !== this.meetingId) return;
        this.attendees = result.names;
        $("attendees-input").value = result.names.join(", ");
      } catch (err) {
        showError("minutes-error", err);
      }
    },

    // --- reading ---

    render() {
      const record = this.record;
      const minutes = record && record.minutes;
      const view = $("minutes-view");
      clear(view);
      $("minutes-form").hidden = true;
      view.hidden = false;
      const note = $("minutes-note");
      note.hidden = !(record && record.error);
      note.textContent = record && record.error ? record.error : "";
      note.classList.toggle("failed", this.status === "failed");
      if (!minutes) {
        view.append(
          el("p", {
            class: "hint",
            text: this.status === "none" ? t("minutes.none") : "",
            hidden: this.status !== "none",
          })
        );
      } else {
        this.renderDocument(view, minutes);
      }
      this.renderControls();
    },

    renderDocument(view, minutes) {
      view.lang = /^[a-z]{2,3}$/.test(minutes.language || "") ? minutes.language : "";
      view.append(el("h4", { class: "minutes-title", text: minutes.title }));
      view.append(el("p", { class: "minutes-summary", text: minutes.summary }));

      if (minutes.topics.length) {
        view.append(el("h5", { text: t("minutes.list.topics") }));
        const list = el("ul", { class: "minutes-topics" });
        for (const topic of minutes.topics) {
          list.append(
            el(
              "li",
              {},
              el("strong", { text: topic.title }),
              topic.summary ? `: ${topic.summary}` : "",
              " ",
              this.evidence(topic.evidence)
            )
          );
        }
        view.append(list);
      }

      view.append(el("h5", { text: t("minutes.list.decisions") }));
      if (minutes.decisions.length) {
        const list = el("ol", { class: "minutes-decisions" });
        for (const decision of minutes.decisions) {
          list.append(el("li", {}, decision.text, " ", this.evidence(decision.evidence)));
        }
        view.append(list);
      } else {
        view.append(el("p", { class: "hint", text: t("minutes.empty") }));
      }

      view.append(el("h5", { text: t("minutes.list.action_items") }));
      if (minutes.action_items.length) {
        const body = el("tbody");
        minutes.action_items.forEach((item, index) => {
          const owner = item.owner === UNASSIGNED ? el("span", { class: "hint", text: t("minutes.unassigned") }) : item.owner;
          body.append(
            el(
              "tr",
              {},
              el("td", { class: "num", text: String(index + 1) }),
              el("td", { class: "task", text: item.task }),
              el("td", { class: "owner" }, owner),
              el("td", { class: "due", text: item.due || "—" }),
              el("td", { class: "evidence" }, this.evidence(item.evidence)),
              el("td", { class: "num", text: `${Math.round(item.confidence * 100)}%` })
            )
          );
        });
        const head = el("tr");
        for (const column of ["number", "task", "owner", "due", "evidence", "confidence"]) {
          head.append(el("th", { text: t(`minutes.column.${column}`) }));
        }
        view.append(el("div", { class: "table-wrap" }, el("table", { class: "todo" }, el("thead", {}, head), body)));
      } else {
        view.append(el("p", { class: "hint", text: t("minutes.empty") }));
      }

      if (minutes.open_questions.length) {
        view.append(el("h5", { text: t("minutes.list.open_questions") }));
        const list = el("ul", { class: "minutes-questions" });
        for (const question of minutes.open_questions) {
          list.append(el("li", {}, question.text, " ", this.evidence(question.evidence)));
        }
        view.append(list);
      }

      if (minutes.gaps.length) {
        view.append(el("h5", { text: t("minutes.gaps") }));
        const list = el("ul", { class: "minutes-gaps" });
        for (const gap of minutes.gaps) {
          list.append(
            el("li", {
              text: `#${gap.first_seq}–#${gap.last_seq} (${clock(gap.t0_ms)}–${clock(gap.t1_ms)}): ${gap.reason}`,
            })
          );
        }
        view.append(list);
      }

      const author = minutes.model === "extractive" ? t("minutes.extractive") : minutes.model;
      const written = [author, localTime(minutes.generated_at), minutes.language].filter(Boolean).join(" · ");
      if (written) view.append(el("p", { class: "hint", text: t("minutes.writtenBy", { who: written }) }));
    },

    // Links to the cited segments: "#12 01:02" scrolls the transcript below to segment 12.
    evidence(seqs) {
      const links = el("span", { class: "evidence-links" });
      for (const seq of seqs) {
        const item = meetings.transcript.items.get(seq);
        const time = item ? item.querySelector(".time")?.textContent : "";
        links.append(
          el("button", {
            type: "button",
            class: "evidence-link",
            "data-seq": seq,
            text: time ? `#${seq} ${time}` : `#${seq}`,
            title: item ? item.querySelector(".text")?.textContent || "" : "",
            onclick: () => this.showSegment(seq),
          })
        );
      }
      return links;
    },

    async showSegment(seq) {
      // Load further pages until the segment is there (a failed page leaves detailNext as it was: stop).
      let previous;
      while (!meetings.transcript.items.has(seq) && meetings.detailNext !== null && meetings.detailNext !== previous) {
        previous = meetings.detailNext;
        await meetings.moreSegments();
      }
      const item = meetings.transcript.items.get(seq);
      if (!item) {
        showError("minutes-error", t("minutes.segmentMissing", { seq }));
        return;
      }
      item.scrollIntoView({ block: "center", behavior: "smooth" });
      item.classList.remove("highlight");
      void item.offsetWidth; // restart the highlight animation
      item.classList.add("highlight");
    },

    renderControls() {
      const status = this.status;
      const pill = $("minutes-status");
      pill.dataset.status = status;
      pill.textContent = t(`minutes.status.${status}`);
      const hasDocument = Boolean(this.record && this.record.minutes);
      const busy = status === "generating" || status === "queued";
      const written = ["draft", "approved", "published"].includes(status) && hasDocument;
      $("minutes-approve-button").hidden = this.editing || status !== "draft" || !hasDocument;
      $("minutes-edit-button").hidden = this.editing || !written;
      $("minutes-save-button").hidden = !this.editing;
      $("minutes-cancel-button").hidden = !this.editing;
      $("minutes-download-button").hidden = this.editing || !hasDocument;
      const generate = $("minutes-generate-button");
      generate.hidden = this.editing;
      generate.disabled = busy;
      generate.textContent = t(status === "none" ? "minutes.generate" : "minutes.regenerate");
    },

    // --- progress (live stream) ---

    onProgress(event) {
      if (event.meeting_id !== this.meetingId) return;
      if (this.status !== "generating") {
        this.status = "generating";
        if (this.editing) this.renderControls();
        else this.render();
      }
      const steps = event.total > 1;
      const params = { step: Math.min(event.done + 1, event.total), total: event.total, attempt: event.attempt };
      const key = `minutes.progress.${event.stage}${steps && event.stage !== "final" ? "Steps" : ""}`;
      const label = ["map", "reduce", "final", "repair"].includes(event.stage) ? t(key, params) : event.stage;
      // One call (total 1) has no steps to count: the bar then only says that work goes on.
      const fraction = event.total > 1 || event.done > 0 ? event.done / event.total : null;
      this.showProgress(`${label}…`, fraction, event.partial);
    },

    onDone(event) {
      if (event.meeting_id !== this.meetingId) return;
      this.hideProgress();
      this.load();
    },

    showProgress(label, fraction, partial) {
      $("minutes-progress").hidden = false;
      $("minutes-progress-label").textContent = label;
      const bar = $("minutes-progress-bar");
      if (fraction === null) bar.removeAttribute("value");
      else bar.value = Math.max(0, Math.min(1, fraction));
      const text = $("minutes-partial");
      if (partial !== undefined) {
        text.textContent = partial.length > PARTIAL_TAIL_CHARS ? `…${partial.slice(-PARTIAL_TAIL_CHARS)}` : partial;
        text.scrollTop = text.scrollHeight;
      }
      text.hidden = !text.textContent;
    },

    hideProgress() {
      $("minutes-progress").hidden = true;
      $("minutes-partial").textContent = "";
    },

    // --- actions ---

    async generate() {
      showError("minutes-error", "");
      const meetingId = this.meetingId;
      $("minutes-generate-button").disabled = true;
      try {
        const requested = await api(`/meetings/${encodeURIComponent(meetingId)}/minutes`, { method: "POST" });
        if (meetingId !== this.meetingId) return;
        if (!requested.queued) {
          // No LLM: the extractive minutes were written at once.
          await this.load();
        } else if (this.status !== "generating") {
          this.status = "queued";
          this.showProgress(requested.detail, null, "");
          if (!this.editing) this.render();
        }
      } catch (err) {
        showError("minutes-error", err);
      } finally {
        this.renderControls();
      }
    },

    async approve(edited) {
      showError("minutes-error", "");
      const meetingId = this.meetingId;
      const buttons = [$("minutes-approve-button"), $("minutes-save-button")];
      for (const button of buttons) button.disabled = true;
      try {
        const options = { method: "POST" };
        if (edited) options.json = edited;
        const record = await api(`/meetings/${encodeURIComponent(meetingId)}/minutes/approve`, options);
        if (meetingId !== this.meetingId) return;
        this.record = record;
        this.status = record.status;
        this.editing = false;
        this.render();
      } catch (err) {
        showError("minutes-error", err);
      } finally {
        for (const button of buttons) button.disabled = false;
      }
    },

    async download() {
      try {
        const meetingId = this.meetingId;
        const response = await api(`/meetings/${encodeURIComponent(meetingId)}/minutes.md`, { raw: true });
        const url = URL.createObjectURL(await response.blob());
        const link = el("a", { href: url, download: `minutes-${meetingId}.md` });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (err) {
        showError("minutes-error", err);
      }
    },

    async saveAttendees(event) {
      event.preventDefault();
      showError("minutes-error", "");
      const names = $("attendees-input")
        .value.split(/[,\n]/)
        .map((name) => name.trim())
        .filter(Boolean);
      try {
        const result = await api(`/meetings/${encodeURIComponent(this.meetingId)}/attendees`, {
          method: "PUT",
          json: { names },
        });
        this.attendees = result.names;
        $("attendees-input").value = result.names.join(", ");
        $("attendees-result").textContent =
t("attendees.saved", { n: result.names.length });
      } catch (err) {
        $("attendees-result").textContent = "";
        showError("minutes-error", err);
      }
    },

    // --- editing: a form per item ---

    edit() {
      if (!this.record || !this.record.minutes) return;
      this.editing = true;
      showError("minutes-error", "");
      const minutes = this.record.minutes;
      const form = $("minutes-form");
      clear(form);
      const owners = el("datalist", { id: "minutes-owner-names" });
      for (const name of [...this.attendees, UNASSIGNED]) owners.append(el("option", { value: name }));
      form.append(
        owners,
        el("label", { htmlFor: "minutes-title-input", text: t("minutes.form.title") }),
        el("input", { id: "minutes-title-input", type: "text", name: "title", value: minutes.title, maxLength: 500 }),
        el("label", { htmlFor: "minutes-summary-input", text: t("minutes.form.summary") }),
        el("textarea", { id: "minutes-summary-input", name: "summary", rows: 4, value: minutes.summary })
      );
      for (const [key, fields] of MINUTES_LISTS) {
        const list = el("ol", { class: "edit-items", "data-list": key });
        for (const item of minutes[key]) list.append(this.itemEditor(key, fields, item));
        form.append(
          el("fieldset", {}, el("legend", { text: t(`minutes.list.${key}`) }), list,
            el("button", {
              type: "button",
              class: "quiet small",
              text: t(`minutes.add.${key}`),
              onclick: () => list.append(this.itemEditor(key, fields, null)),
            })
          )
        );
      }
      $("minutes-view").hidden = true;
      form.hidden = false;
      this.renderControls();
      $("minutes-title-input").focus();
    },

    itemEditor(key, fields, item) {
      const row = el("li", { class: "edit-item", "data-list": key });
      // Fields the form does not show are kept; a person's own action item is certain.
      row.original = item || (key === "action_items" ? { confidence: 1 } : {});
      for (const field of fields) {
        const label = t(`minutes.field.${key}.${field}`);
        const input = el("input", {
          type: "text",
          name: field,
          value: item ? item[field] ?? "" : field === "owner" ? UNASSIGNED : "",
          placeholder: label,
          "aria-label": label,
        });
        if (field === "owner") input.setAttribute("list", "minutes-owner-names");
        row.append(input);
      }
      row.append(
        el("input", {
          type: "text",
          name: "evidence",
          class: "evidence-input",
          value: item ? item.evidence.join(", ") : "",
          placeholder: t("minutes.evidencePlaceholder"),
          "aria-label": t("minutes.evidenceLabel"),
        }),
        el("button", {
          type: "button",
          class: "quiet small remove-item",
          text: t("common.remove"),
          onclick: () => row.remove(),
        })
      );
      return row;
    },

    collect() {
      const form = $("minutes-form");
      const edited = {
        ...this.record.minutes,
        title: $("minutes-title-input").value.trim(),
        summary: $("minutes-summary-input").value.trim(),
      };
      for (const [key, fields] of MINUTES_LISTS) {
        edited[key] = [];
        form.querySelectorAll(`li.edit-item[data-list="${key}"]`).forEach((row, index) => {
          const item = { ...row.original };
          for (const field of fields) {
            const value = row.querySelector(`input[name="${field}"]`).value.trim();
            item[field] = field === "due" ? value || null : field === "owner" ? value || UNASSIGNED : value;
          }
          const evidence = row.querySelector('input[name="evidence"]').value.trim();
          const seqs = evidence ? evidence.split(/[\s,#]+/).filter(Boolean) : [];
          if (seqs.some((seq) => !/^\d+$/.test(seq))) {
            throw new Error(t("minutes.evidenceInvalid", { where: `${key}.${index}.evidence` }));
          }
          item.evidence = seqs.map(Number);
          edited[key].push(item);
        });
      }
      return edited;
    },

    saveEdit() {
      let edited;
      try {
        edited = this.collect();
      } catch (err) {
        showError("minutes-error", err);
        return;
      }
      this.approve(edited);
    },

    // The transcript below arrived: evidence links can show their segment's time.
    segmentsLoaded(meetingId) {
      if (meetingId === this.meetingId && !this.editing && this.record && this.record.minutes) this.render();
    },

    cancelEdit() {
      this.editing = false;
      showError("minutes-error", "");
      this.render();
    },
  };

  // --- health panel ------------------------------------------------------------------------------
  //
  // One verdict line first (all well, or what needs attention, in words), then the values that matter
  // with their thresholds, then every raw counter under "details". The box's state shown here is the
  // header's: both read `boxState`, and a state in /health that differs from it is re-read from /state.

  // Above these a value needs attention; they say what "keeping up" means for a meeting-room box.
  const HEALTH_LIMITS = { rtf: 1.0, asrBacklog: 5, outboxBacklog: 100 };

  // A problem in the page's words where the catalogue has its code, else in the box's own (English) words.
  const problemText = (problem) => {
    const key = `health.problem.${problem.code}`;
    const text = t(key, { ...problem, mb: i18n.number(Number(problem.free_mb ?? 0)) });
    return text === key ? String(problem.message || problem.code) : text;
  };

  const sum = (counters) => Object.values(counters || {}).reduce((total, n) => total + (Number(n) || 0), 0);

  const health = {
    timer: null,

    async refresh() {
      clearTimeout(this.timer);
      if (currentPanel !== "health" || !loggedIn()) return;
      try {
        const response = await fetch(`${API}/health`, { cache: "no-store" });
        this.render(await response.json());
        $("health-updated").textContent = t("health.updated", { time: i18n.time() });
      } catch (err) {
        $("health-updated").textContent = t("health.unreachable");
        this.verdict("bad", t("health.unreachable"));
      }
      await healthPlots.refresh();
      this.timer = setTimeout(() => this.refresh(), HEALTH_REFRESH_MS);
    },

    // The values that matter, each [label, value in words, needs attention, problem sentence].
    checks(data) {
      const rtf = data.rtf === null || data.rtf === undefined ? null : Number(data.rtf);
      const backlog = Number((data.queues || {}).asr_pending || 0);
      const drops = sum(data.drops);
      const gaps = Number(data.capture_gaps || 0);
      const errors = Number(data.asr_errors || 0);
      const outbox = Number(data.outbox_backlog || 0);
      const problems = Array.isArray(data.problems) ? data.problems : [];
      const disk = data.disk || {};
      const checks = [
        [t("health.status"), data.status === "ok" ? t("health.statusOk") : known(`health.verdict.${data.status}`, data.status),
          data.status !== "ok", problems.length ? "" : t("health.problem.status", { status: data.status })],
        // Each problem the box names (disk full, segments held, a stage stopped), in the reader's language.
        ...problems.map((problem) => ["", "", true, problemText(problem)]),
        [t("health.rtf"), rtf === null ? t("health.rtfNone") : t("health.rtfValue", { rtf: i18n.number(rtf) }),
          rtf !== null && rtf > HEALTH_LIMITS.rtf, t("health.problem.rtf", { rtf: i18n.number(rtf ?? 0) })],
        [t("health.asrBacklog"), t("health.asrBacklogValue", { n: backlog }), backlog > HEALTH_LIMITS.asrBacklog,
          t("health.problem.asrBacklog", { n: backlog })],
        [t("health.drops"), t("health.dropsValue", { n: drops }), drops > 0, t("health.problem.drops", { n: drops })],
        [t("health.gaps"), t("health.gapsValue", { n: gaps }), gaps > 0, t("health.problem.gaps", { n: gaps })],
        [t("health.asrErrors"), t("health.asrErrorsValue", { n: errors }), errors > 0,
          t("health.problem.asrErrors", { n: errors })],
        [t("health.outbox"), t("health.outboxValue", { n: outbox }), outbox > HEALTH_LIMITS.outboxBacklog,
          t("health.problem.outbox", { n: outbox })],
      ];
      if (disk.free_mb !== null && disk.free_mb !== undefined) {
        checks.push([t("health.disk"), t("health.diskValue", { mb: i18n.number(Number(disk.free_mb)) }),
          disk.level !== "ok", ""]);
      }
      if (data.uptime_s !== null && data.uptime_s !== undefined) {
        checks.push([t("health.uptime"), clock(Number(data.uptime_s) * 1000), false, ""]);
      }
      return checks;
    },

    render(data) {
      if (data.state && data.state !== boxState.state) {
        // The header missed a change (or this is older): the state is read again, for both.
        api("/state").then((state) => live.onState(state)).catch(() => {});
      }
      const checks = this.checks(data);
      const problems = checks.filter(([, , attention, problem]) => attention && problem).map(([, , , problem]) => problem);
      if (problems.length) this.verdict(data.status === "error" ? "bad" : "warn", problems.join(" · "));
      else this.verdict("ok", t("health.verdictOk"));

      const summary = $("health-summary");
      clear(summary);
      summary.append(el("dt", { text: t("health.state") }), el("dd", { id: "health-state" }));
      this.showState();
      for (const [label, value, attention] of checks) {
        if (!label) continue;
        summary.append(el("dt", { text: label }), el("dd", { text: value, class: attention ? "warn" : "" }));
      }

      const list = $("health-list");
      clear(list);
      const add = (name, value) => list.append(el("dt", { text: name }), el("dd", { text: value }));
      for (const [key, value] of Object.entries(data)) {
        if (key === "v") continue;
        if (value && typeof value === "object") {
          const entries = Object.entries(value);
          if (!entries.length) add(key, t("health.none"));
          for (const [sub, subValue] of entries) {
            add(`${key}: ${sub}`, subValue && typeof subValue === "object" ? JSON.stringify(subValue) : String(subValue));
          }
        } else {
          add(key, value === null ? "—" : String(value));
        }
      }
    },

    verdict(level, text) {
      const line = $("health-verdict");
      line.dataset.level = level;
      line.textContent = `${t(`health.level.${level}`)}: ${text}`;
    },

    showState() {
      const state = $("health-state");
      if (state) state.textContent = boxState.state === "unknown" ? "…" : t(`state.${boxState.state}`);
    },
  };

  // The last hour, one plot per series of GET /health/history, drawn with uPlot (served by the box from
  // what `make setup` installed). A series the platform does not expose is said so, never drawn as zero.
  // The limit, where one applies, is a dashed line: above it the verdict line asks for attention.
  const HEALTH_PLOTS = [
    ["rtf", "health.plot.rtf", HEALTH_LIMITS.rtf],
    ["asr_backlog", "health.plot.asrBacklog", HEALTH_LIMITS.asrBacklog],
    ["drops", "health.plot.drops", null],
    ["outbox_backlog", "health.plot.outbox", HEALTH_LIMITS.outboxBacklog],
    ["memory_mb", "health.plot.memory", null],
    ["temperature_c", "health.plot.temperature", null],
    ["disk_free_gb", "health.plot.disk", null],
  ];

  const healthPlots = {
    charts: [],

    async refresh() {
      const missing = typeof window.uPlot !== "function";
      $("health-plots-missing").hidden = !missing;
      if (missing) return;
      let history;
      try {
        history = await api("/health/history");
      } catch (err) {
        return; // the verdict line already says when the box cannot be reached
      }
      this.draw(history.series || {});
    },

    draw(series) {
      for (const chart of this.charts) chart.destroy();
      this.charts = [];
      const box = $("health-plots");
      clear(box);
      const times = series.t || [];
      const colours = getComputedStyle(document.body);
      const colour = (name) => colours.getPropertyValue(name).trim();
      for (const [name, key, limit] of HEALTH_PLOTS) {
        const values = series[name] || [];
        const known = values.filter((v) => v !== null && v !== undefined);
        const latest = known.length ? i18n.number(known[known.length - 1]) : "";
        const chart = el("div", { class: "chart" });
        box.append(el("figure", { class: "plot", "data-series": name, "data-points": known.length },
          el("figcaption", {}, el("span", { text: t(key) }), el("span", { class: "latest", text: latest })), chart));
        if (!known.length) {
          chart.className = "unavailable";
          chart.textContent = t(times.length ? "health.plots.unavailable" : "health.plots.waiting");
          continue;
        }
        const lines = [{}, { stroke: colour("--accent"), width: 2, fill: colour("--accent-bg") }];
        const data = [times, values];
        if (limit !== null) {
          lines.push({ stroke: colour("--danger"), width: 1, dash: [6, 4], points: { show: false } });
          data.push(times.map(() => limit));
        }
        const axis = { stroke: colour("--muted"), grid: { stroke: colour("--line"), width: 1 }, ticks: { show: false } };
        this.charts.push(new uPlot({
          width: Math.max(200, chart.clientWidth),
          height: 120,
          legend: { show: false },
          cursor: { show: false },
          series: lines,
          scales: { y: { range: (u, min, max) => [Math.min(0, min), Math.max(max, limit ?? max, min + 1)] } },
          axes: [
            { ...axis, size: 30, values: (u, splits) => splits.map((s) => i18n.shortTime(new Date(s * 1000))) },
            { ...axis, size: 48 },
          ],
        }, data, chart));
      }
    },
  };

  // --- glossary panel ------------------------------------------------------------------------------
  //
  // Terms with their aliases (the CSV format: aliases separated by "|"), CSV import and export, and
  // the suggestions that edits of transcript segments make. Every text shown here came from people or
  // the recognizer: textContent only.

  const ALIAS_SEPARATOR = "|";
  const TOAST_MS = 30000;

  // Like the server's match_key: the same term whatever its case, spaces and - _ . /
  const termKey = (text) => text.normalize("NFKC").toLowerCase().replace(/[\s\-_./]+/g, "");

  // --- access (admins): users and API tokens ---------------------------------------------------------

  const access = {
    init() {
      $("user-form").addEventListener("submit", (event) => this.addUser(event));
      $("token-form").addEventListener("submit", (event) => this.createToken(event));
      $("audit-refresh").addEventListener("click", () => this.refreshAudit());
    },

    async refresh() {
      await Promise.all([this.refreshUsers(), this.refreshTokens(), this.refreshAudit()]);
    },

    async refreshAudit() {
      try {
        const page = await api("/audit?limit=200");
        const list = $("audit-list");
        clear(list);
        $("audit-retention").textContent = t("audit.retention", { n: page.retention_days });
        if (!page.items.length) list.append(el("li", { class: "hint", text: t("audit.empty") }));
        for (const entry of page.items) {
          const action = known(`audit.action.${entry.action}`, entry.action);
          list.append(
            el(
              "li",
              { "data-action": entry.action },
              el("span", { class: "hint", text: localTime(entry.at) }),
              " ",
              el("strong", { text: entry.actor }),
              " ",
              el("span", { text: action }),
              " ",
              el("span", { class: "hint", text: [entry.target, entry.detail].filter(Boolean).join(" ") })
            )
          );
        }
        showError("audit-error", null);
      } catch (err) {
        showError("audit-error", err);
      }
    },

    async refreshUsers() {
      try {
        const { items } = await api("/users");
        const list = $("users-list");
        clear(list);
        for (const user of items) {
          list.append(
            el(
              "li",
              { "data-user": user.name },
              el(
                "div",
                { class: "row" },
                el("strong", { text: user.name }),
                el("span", { class: "hint", text: t(`role.${user.role}`) }),
                el("button", {
                  type: "button",
                  class: "quiet small danger",
                  text: t("access.remove"),
                  onclick: () => this.removeUser(user.name),
                })
              )
            )
          );
        }
        showError("users-error", null);
      } catch (err) {
        showError("users-error", err);
      }
    },

    async refreshTokens() {
      try {
        const { items } = await api("/tokens");
        const list = $("tokens-list");
        clear(list);
        if (!items.length) list.append(el("li", { class: "hint", text: t("access.noTokens") }));
        for (const item of items) {
          const used = item.last_used_at ? localTime(item.last_used_at) : t("access.never");
          list.append(
            el(
              "li",
              { "data-token": item.name },
              el(
                "div",
                { class: "row" },
                el("strong", { text: item.name }),
                el("span", { class: "hint", text: t(`role.${item.role}`) }),
                el("button", {
                  type: "button",
                  class: "quiet small danger",
                  text: t("access.revoke"),
                  onclick: () => this.revokeToken(item.name),
                })
              ),
              el("p", { class: "hint", text: t("access.tokenInfo", { by: item.created_by, used }) })
            )
          );
        }
        showError("tokens-error", null);
      } catch (err) {
        showError("tokens-error", err);
      }
    },

    async addUser(event) {
      event.preventDefault();
      try {
        await api("/users", {
          method: "POST",
          json: {
            name: $("new-user-name").value.trim(),
            role: $("new-user-role").value,
            password: $("new-user-password").value,
          },
        });
        $("new-user-name").value = "";
        $("new-user-password").value = "";
        await this.refreshUsers();
      } catch (err) {
        showError("users-error", err);
      }
    },

    async removeUser(name) {
      if (!window.confirm(t("access.confirmRemoveUser", { name }))) return;
      try {
        await api(`/users/${encodeURIComponent(name)}`, { method: "DELETE", raw: true });
        await this.refreshUsers();
      } catch (err) {
        showError("users-error", err);
      }
    },

    async createToken(event) {
      event.preventDefault();
      try {
        const created = await api("/tokens", {
          method: "POST",
          json: { name: $("new-token-name").value.trim(), role: $("new-token-role").value },
        });
        $("new-token-name").value = "";
        $("token-secret").textContent = t("access.newToken", { token: created.token });
        $("token-secret").hidden = false;
        await this.refreshTokens();
      } catch (err) {
        showError("tokens-error", err);
      }
    },

    async revokeToken(name) {
      if (!window.confirm(t("access.confirmRevoke", { name }))) return;
      try {
        await api(`/tokens/${encodeURIComponent(name)}`, { method: "DELETE", raw: true });
        $("token-secret").hidden = true;
        await this.refreshTokens();
      } catch (err) {
        showError("tokens-error", err);
      }
    },
  };

  const glossary = {
    terms: [],
    editing: null, // the term being edited, or null when the form adds a term
    toastTimer: null,

    init() {
      $("glossary-search").addEventListener("input", () => this.renderTerms());
      $("glossary-form").addEventListener("submit", (event) => this.save(event));
      $("glossary-cancel-button").addEventListener("click", () => this.resetForm());
      $("glossary-import-form").addEventListener("submit", (event) => this.importCsv(event));
      $("glossary-export-button").addEventListener("click", () => this.exportCsv());
      $("suggestions-refresh").addEventListener("click", () => this.refreshSuggestions());
    },

    async refresh() {
      await Promise.all([this.refreshTerms(), this.refreshSuggestions()]);
    },

    async refreshTerms() {
      try {
        const page = await api("/glossary/terms");
        this.terms = page.items;
        this.renderTerms();
      } catch (err) {
        showError("glossary-error", err);
      }
    },

    renderTerms() {
      const list = $("glossary-terms");
      clear(list);
      const query = $("glossary-search").value.trim().toLowerCase();
      const shown = this.terms.filter(
        (term) =>
          !query ||
          [term.term, term.note, term.scope, ...term.aliases].some((field) => field.toLowerCase().includes(query))
      );
      $("glossary-count").textContent =
        query
          ? t("glossary.countFiltered", { shown: shown.length, n: this.terms.length })
          : t("glossary.count", { n: this.terms.length });
      if (!shown.length) {
        list.append(
          el("li", { class: "hint", text: t(this.terms.length ? "glossary.noMatch" : "glossary.empty") })
        );
      }
      for (const term of shown) list.append(this.termItem(term));
    },

    termItem(term) {
      const aliases = el("p", { class: "aliases" });
      for (const alias of term.aliases) aliases.append(el("span", { class: "alias", text: alias }));
      if (!term.aliases.length) aliases.append(el("span", { class: "hint", text: t("glossary.noAliases") }));
      return el(
        "li",
        { "data-term": term.term },
        el(
          "div",
          { class: "row" },
          el(
            "span",
            { class: "term-head" },
            el("span", { class: "term", text: term.term }),
            term.scope ? el("span", { class: "tag", text: term.scope }) : ""
          ),
          el(
            "span",
            { class: "term-actions" },
            el("button", {
              type: "button",
              class: "quiet small edit-term",
              text: t("common.edit"),
              "aria-label": t("glossary.editLabel", { term: term.term }),
              onclick: () => this.edit(term),
            }),
            el("button", {
              type: "button",
              class: "quiet small delete-term",
              text: t("common.delete"),
              "aria-label": t("glossary.deleteLabel", { term: term.term }),
              onclick: () => this.remove(term),
            })
          )
        ),
        aliases,
        term.note ? el("p", { class: "hint note", text: term.note }) : ""
      );
    },

    edit(term) {
      this.editing = term.term;
      $("glossary-term-input").value = term.term;
      $("glossary-aliases-input").value = term.aliases.join(` ${ALIAS_SEPARATOR} `);
      $("glossary-note-input").value = term.note;
      $("glossary-scope-input").value = term.scope;
      $("glossary-save-button").textContent = t("glossary.saveChanges");
      $("glossary-cancel-button").hidden = false;
      $("glossary-term-input").focus();
    },

    resetForm() {
      this.editing = null;
      $("glossary-form").reset();
      $("glossary-save-button").textContent = t("glossary.add");
      $("glossary-cancel-button").hidden = true;
    },

    async save(event) {
      event.preventDefault();
      showError("glossary-error", "");
      const term = $("glossary-term-input").value.trim();
      const body = {
        aliases: $("glossary-aliases-input")
          .value.split(ALIAS_SEPARATOR)
          .map((alias) => alias.trim())
          .filter(Boolean),
        note: $("glossary-note-input").value.trim(),
        scope: $("glossary-scope-input").value.trim(),
      };
      const button = $("glossary-save-button");
      button.disabled = true;
      try {
        await api(`/glossary/terms/${encodeURIComponent(term)}`, { method: "PUT", json: body });
        // A new spelling of the same term replaced it; a different term is a rename.
        if (this.editing && termKey(this.editing) !== termKey(term)) {
          await api(`/glossary/terms/${encodeURIComponent(this.editing)}`, { method: "DELETE", raw: true });
        }
        this.resetForm();
        await this.refreshTerms();
      } catch (err) {
        showError("glossary-error", err);
      } finally {
        button.disabled = false;
      }
    },

    async remove(term) {
      if (!window.confirm(t("glossary.confirmDelete", { term: term.term }))) return;
      showError("glossary-error", "");
      try {
        await api(`/glossary/terms/${encodeURIComponent(term.term)}`, { method: "DELETE", raw: true });
        if (this.editing === term.term) this.resetForm();
        await this.refreshTerms();
      } catch (err) {
        showError("glossary-error", err);
      }
    },

    async refreshSuggestions() {
      showError("suggestions-error", "");
      try {
        const page = await api("/glossary/suggestions?status=pending");
        const list = $("suggestions-list");
        clear(list);
        $("suggestions-count").textContent = page.items.length ? t("suggestions.pending", { n: page.items.length }) : "";
        if (!page.items.length) {
          list.append(el("li", { class: "hint", text: t("suggestions.none") }));
        }
        for (const suggestion of page.items) list.append(this.suggestionItem(suggestion));
      } catch (err) {
        showError("suggestions-error", err);
      }
    },

    suggestionItem(suggestion) {
      const where = suggestion.meeting_id
        ? `${t("suggestions.from", { seq: suggestion.seq, meeting: suggestion.meeting_id })} · ${localTime(suggestion.created_at)}`
        : localTime(suggestion.created_at);
      return el(
        "li",
        { "data-suggestion": suggestion.id },
        el(
          "p",
          { class: "suggestion" },
          el("span", { class: "alias", text: suggestion.alias }),
          el("span", { class: "arrow", text: "→", "aria-label": t("suggestions.becomes") }),
          el("span", { class: "term", text: suggestion.term })
        ),
        el("p", { class: "hint", text: where }),
        el(
          "p",
          { class: "row controls" },
          el("button", {
            type: "button",
            class: "small accept",
            text: t("suggestions.accept"),
            onclick: () => this.decide(suggestion, "accept"),
          }),
          el("button", {
            type: "button",
            class: "quiet small reject",
            text: t("suggestions.reject"),
            onclick: () => this.decide(suggestion, "reject"),
          })
        )
      );
    },

    async decide(suggestion, decision) {
      showError("suggestions-error", "");
      try {
        await api(`/glossary/suggestions/${suggestion.id}/${decision}`, { method: "POST" });
        await this.refresh();
      } catch (err) {
        showError("suggestions-error", err);
        await this.refreshSuggestions();
      }
    },

    // After a person edits a segment: say so when the edit suggested glossary entries.
    async afterEdit(segment) {
      try {
        const page = await api(
          `/glossary/suggestions?status=pending&meeting_id=${encodeURIComponent(segment.meeting_id)}&seq=${segment.seq}`
        );
        if (!page.items.length) return;
        const pairs = page.items.map((s) => `${s.alias} → ${s.term}`).join(", ");
        this.toast(t("suggestions.toast", { pairs }));
        if (currentPanel === "glossary") this.refreshSuggestions();
      } catch (err) {
        // The edit itself was saved; a missing hint is not worth an error message.
      }
    },

    toast(message) {
      const toast = $("toast");
      clear(toast);
      toast.append(
        el("span", { id: "toast-text", text: message }),
        el("button", {
          type: "button",
          class: "small",
          text: t("suggestions.review"),
          onclick: () => {
            toast.hidden = true;
            showPanel("glossary");
          },
        }),
        el("button", { type: "button", class: "quiet small", text: t("common.dismiss"), onclick: () => (toast.hidden = true) })
      );
      toast.hidden = false;
      clearTimeout(this.toastTimer);
      this.toastTimer = setTimeout(() => (toast.hidden = true), TOAST_MS);
    },

    async importCsv(event) {
      event.preventDefault();
      showError("glossary-import-error", "");
      $("glossary-import-result").textContent = "";
      const file = $("glossary-file-input").files[0];
      if (!file) {
        showError("glossary-import-error", t("glossary.chooseCsv"));
        return;
      }
      const form = new FormData();
      form.append("file", file, file.name);
      form.append("replace", $("glossary-replace-input").checked ? "true" : "false");
      const button = $("glossary-import-button");
      button.disabled = true;
      try {
        const result = await api("/glossary/import", { method: "POST", form });
        $("glossary-import-result").textContent =
          t("glossary.imported", { n: result.imported, file: file.name, total: result.terms });
        $("glossary-file-input").value = "";
        $("glossary-replace-input").checked = false;
        await this.refreshTerms();
      } catch (err) {
        showError("glossary-import-error", err);
      } finally {
        button.disabled = false;
      }
    },

    // A plain link cannot carry the bearer header, so the file is fetched and handed over as a blob.
    async exportCsv() {
      showError("glossary-import-error", "");
      try {
        const response = await api("/glossary/export.csv", { raw: true });
        const url = URL.createObjectURL(await response.blob());
        const link = el("a", { href: url, download: "glossary.csv" });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (err) {
        showError("glossary-import-error", err);
      }
    },
  };

  // --- start ---------------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", async () => {
    try {
      await i18n.load();
    } catch (err) {
      // Without the catalogues every text shows as its key; the page still works.
    }
    i18n.apply();
    document.body.classList.remove("loading");
    $("language-select").value = i18n.language;
    $("language-select").addEventListener("change", (event) => i18n.choose(event.target.value));
    live.transcript = new Transcript($("live-segments"));
    meetings.transcript = new Transcript($("detail-segments"), { playable: true });
    player.init();

    registerPanel("live", null);
    registerPanel("meetings", () => meetings.refresh());
    registerPanel("glossary", () => glossary.refresh());
    glossary.init();
    minutesView.init();
    search.init();
    jobView.init();
    registerPanel("health", () => health.refresh());
    registerPanel("access", () => access.refresh());
    access.init();

    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if ($("token-input").value.trim()) login($("token-input").value);
      else loginWithPassword($("user-input").value.trim(), $("password-input").value);
    });
    $("logout-button").addEventListener("click", () => logout(""));
    $("start-form").addEventListener("submit", (event) => live.start(event));
    $("stop-button").addEventListener("click", () => live.stop());
    $("meetings-refresh").addEventListener("click", () => meetings.refresh());
    $("meetings-more").addEventListener("click", () => meetings.more());
    $("detail-more").addEventListener("click", () => meetings.moreSegments());
    $("upload-form").addEventListener("submit", (event) => meetings.upload(event));
    window.addEventListener("hashchange", () => {
      if (loggedIn() && location.hash.slice(1) !== currentPanel) showPanel(location.hash.slice(1));
    });

    showFingerprint();
    if (token()) login(token());
    else resumeSession();
  });
})();
