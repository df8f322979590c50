// Riposte's web console: plain JavaScript, no build step, no outside requests. It talks to
// the same API as every other client, with the session cookie set at sign-in and the
// session's CSRF token on every change.
"use strict";

const state = { session: null, timer: null };

// SECDO tools that drop the fragment send /investigationNG/builder?…: same page, by hash.
if (location.pathname === "/investigationNG/builder") {
  location.replace("/#/investigationNG/builder" + location.search);
}

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

function when(t) {
  return t ? esc(String(t).replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "Z")) : "—";
}

function verdictClass(label) {
  if (!label) return "";
  if (label.startsWith("Malicious")) return "verdict-malicious";
  if (label.startsWith("Suspicious")) return "verdict-suspicious";
  return "verdict-none";
}

function canWrite() {
  return state.session && state.session.role !== "viewer";
}

class ApiError extends Error {}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && state.session) headers["X-CSRF-Token"] = state.session.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (resp.status === 401 && path !== "/console/session") {
    state.session = null;
    signIn("Your session ended: sign in again.");
    throw new ApiError("signed out");
  }
  if (!resp.ok) {
    let message = (data && data.error) || `${resp.status} ${resp.statusText}`;
    if (data && Array.isArray(data.fields)) {
      message += ": " + data.fields.map((f) => `${f.field}: ${f.problem || f.message}`).join("; ");
    }
    throw new ApiError(message);
  }
  return data;
}

function main() {
  return document.getElementById("main");
}

function showError(where, err) {
  if (err.message === "signed out") return;
  const box = document.createElement("div");
  box.className = "error";
  box.setAttribute("role", "alert");
  box.textContent = err.message;
  where.prepend(box);
}

function stopTimer() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

function signIn(message) {
  stopTimer();
  document.getElementById("nav").hidden = true;
  document.getElementById("who").textContent = "";
  main().innerHTML = `
    <section class="signin card" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in to Riposte</h1>
      ${message ? `<p class="error" role="alert">${esc(message)}</p>` : ""}
      <form id="signin-form">
        <label for="api-key">API key
          <input id="api-key" name="api_key" type="password" autocomplete="off" required
                 placeholder="rip_…"></label>
        <p class="muted">Create one with <code>riposte apikey create --role analyst</code>.</p>
        <button type="submit">Sign in</button>
      </form>
    </section>`;
  document.getElementById("api-key").focus();
  document.getElementById("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = document.getElementById("api-key").value.trim();
    try {
      state.session = await api("POST", "/console/session", { api_key: key });
      started();
    } catch (err) {
      signIn(err.message === "unknown or revoked API key"
        ? "That key is unknown or revoked: check it, or create one." : err.message);
    }
  });
}

function started() {
  document.getElementById("nav").hidden = false;
  document.getElementById("who").innerHTML =
    `${esc(state.session.name)} (<span id="role">${esc(state.session.role)}</span>)
     <button class="secondary" id="signout" type="button">Sign out</button>`;
  document.getElementById("signout").addEventListener("click", async () => {
    try { await api("DELETE", "/console/session"); } catch (_) { /* signed out anyway */ }
    state.session = null;
    signIn("Signed out.");
  });
  route();
}

// ---- Investigations ----

function investigationRows(items) {
  if (!items.length) {
    return `<tr><td colspan="6" class="muted">No investigations yet: post an alert that a
      rule takes, or import systems into a project.</td></tr>`;
  }
  return items.map((i) => `
    <tr data-id="${esc(i.id)}">
      <td><a href="#/investigations/${esc(i.id)}">${esc(i.title)}</a></td>
      <td class="status">${esc(i.status)}</td>
      <td class="${verdictClass(i.verdict)}">${esc(i.verdict || "—")}</td>
      <td>${esc(i.score ?? "")}</td>
      <td>${esc(i.host)}</td>
      <td>${when(i.created_at)}</td>
    </tr>`).join("");
}

async function investigations(offset) {
  main().innerHTML = `
    <h1>Investigations</h1>
    <table aria-label="Investigations">
      <thead><tr><th>Title</th><th>Status</th><th>Verdict</th><th>Score</th><th>Host</th>
        <th>Started</th></tr></thead>
      <tbody id="inv-rows"><tr><td colspan="6" class="muted">Loading…</td></tr></tbody>
    </table>
    <p><button class="secondary" id="older" type="button">Older</button>
       <button class="secondary" id="newer" type="button">Newer</button></p>`;
  const limit = 50;
  document.getElementById("older").onclick = () => { location.hash = `#/?offset=${offset + limit}`; };
  document.getElementById("newer").onclick = () => { location.hash = `#/?offset=${Math.max(0, offset - limit)}`; };
  const refresh = async () => {
    try {
      const page = await api("GET", `/api/v1/investigations?limit=${limit}&offset=${offset}`);
      const rows = document.getElementById("inv-rows");
      if (rows) rows.innerHTML = investigationRows(page.investigations);
    } catch (err) {
      stopTimer();
      showError(main(), err);
    }
  };
  await refresh();
  // Live: the list refreshes in place while the page is open.
  state.timer = setInterval(refresh, 2000);
}

function alarmRows(alarms) {
  if (!alarms.length) return `<tr><td colspan="5" class="muted">No alarms.</td></tr>`;
  return alarms.map((a) => `
    <tr>
      <td class="sev-${esc(a.severity)}">${esc(a.severity)}</td>
      <td>${a.hunting ? '<span class="tag" title="hunting tier: a lead, not counted toward the verdict">hunting</span> ' : ""}${esc(a.title)}<div class="muted">${esc(a.description)}</div></td>
      <td>${esc(a.detector)}${a.rule_id ? `<div class="mono">${esc(a.rule_id)}</div>` : ""}</td>
      <td>${(a.mitre || []).map((m) => esc(m.technique)).join(", ")}</td>
      <td class="mono">${(a.event_refs || []).slice(0, 5).map((s) =>
        `<a href="#" data-seq="${esc(s)}" class="evref">event ${esc(s)}</a>`).join(" ")}
        ${(a.files || []).map((f) => `<div>${esc(f.path)} ${esc((f.matched || []).join("; "))}</div>`).join("")}</td>
    </tr>`).join("");
}

function jobRows(jobs) {
  return jobs.map((j) => `<tr><td>${esc(j.kind)}</td><td>${esc(j.status)}</td><td>${esc(j.attempts)}</td>
    <td>${esc(j.progress || j.last_error || "")}</td></tr>`).join("") || '<tr><td colspan="4" class="muted">No jobs.</td></tr>';
}

function chainHtml(chain) {
  const nodes = [];
  if (chain.origin) {
    nodes.push(`${esc(chain.origin.kind)}${chain.origin.remote_ip ? " from " + esc(chain.origin.remote_ip) : ""}`);
  }
  for (const link of chain.links || []) {
    const what = link.command || link.process || link.kind;
    nodes.push(`${esc(link.kind)}: ${esc(what)}${link.user ? ` <span class="muted">(${esc(link.user)})</span>` : ""}`);
  }
  nodes.push("alarm");
  return `<div class="chain" role="list" aria-label="${esc(chain.summary)}">${nodes
    .map((n) => `<span class="node" role="listitem">${n}</span>`)
    .join('<span class="arrow" aria-hidden="true">→</span>')}</div>
    <div class="muted">${esc(chain.summary)}</div>`;
}

function scopeHtml(scope) {
  if (!scope) return "";
  const list = (title, items, value) => items && items.length
    ? `<div><strong>${title}</strong>: ${items.slice(0, 20).map((i) => esc(value(i))).join(", ")}</div>` : "";
  return list("Hosts", scope.hosts, (i) => i.value) + list("Users", scope.users, (i) => i.value)
    + list("Addresses", scope.ips, (i) => i.ip || i.value) + list("Files", scope.files, (i) => i.path || i.value)
    + list("Processes", scope.processes, (i) => i.value);
}

function eventRows(events, investigation) {
  if (!events.length) return `<tr><td colspan="5" class="muted">No events match.</td></tr>`;
  return events.map((e) => `
    <tr>
      <td>${when(e.time)}</td>
      <td>${esc(e.host)}${investigation ? `<div><a href="#/investigations/${esc(e.investigation_id)}">investigation</a>
        <span class="${verdictClass(e.verdict)}">${esc(e.verdict || "")}</span></div>` : ""}</td>
      <td>${esc(e.action)}</td>
      <td>${esc(e.message)}<details><summary>raw record</summary>
        <pre class="raw">${esc(e.raw || JSON.stringify(e.attributes, null, 1))}</pre>
        <div class="muted mono">${esc(e.origin && e.origin.parser)}
          <a href="#" class="to-evidence" data-path="${esc(e.origin && e.origin.path)}">${esc(e.origin && e.origin.path)}</a></div></details></td>
      <td class="mono">${esc(e.seq)}</td>
    </tr>`).join("");
}

async function investigation(id) {
  main().innerHTML = `<p class="muted">Loading…</p>`;
  let detail;
  try {
    detail = await api("GET", `/api/v1/investigations/${encodeURIComponent(id)}`);
  } catch (err) {
    main().innerHTML = "";
    showError(main(), err);
    return;
  }
  const inv = detail.investigation;
  const verdict = inv.verdict;
  const story = detail.story || {};
  main().innerHTML = `
    <h1>${esc(inv.title)}</h1>
    <section class="card" aria-labelledby="verdict-title">
      <h2 id="verdict-title">Verdict</h2>
      <p id="verdict" class="${verdictClass(verdict && verdict.verdict)}">${esc(verdict ? verdict.verdict : inv.status)}
        ${verdict ? `<span class="muted">(score ${esc(verdict.score)})</span>` : ""}</p>
      <ul>${(verdict ? verdict.reasons : []).map((r) => `<li>${esc(r)}</li>`).join("")}</ul>
      <p class="muted">Host ${esc(inv.host)} · status <span id="inv-status">${esc(inv.status)}</span>
        · ${esc(detail.events_count)} events · started ${when(inv.created_at)}</p>
    </section>
    <section aria-labelledby="jobs-title"><h2 id="jobs-title">Pipeline</h2>
      <table><thead><tr><th>Stage</th><th>Status</th><th>Attempts</th><th>Progress</th></tr></thead>
      <tbody id="job-rows">${jobRows(detail.jobs || [])}</tbody></table></section>
    <section aria-labelledby="alert-title" id="alert-section" hidden><h2 id="alert-title">Originating alert</h2>
      <div class="card" id="alert-box"></div></section>
    <section aria-labelledby="alarms-title"><h2 id="alarms-title">Alarms</h2>
      <table><thead><tr><th>Severity</th><th>Alarm</th><th>Detector / rule</th><th>ATT&amp;CK</th>
        <th>Evidence</th></tr></thead><tbody>${alarmRows(detail.alarms || [])}</tbody></table>
      <div id="evidence-lines"></div></section>
    <section aria-labelledby="story-title"><h2 id="story-title">Story</h2>
      <div id="chains">${(story.chains || []).map(chainHtml).join("") || '<p class="muted">No causality chain.</p>'}</div>
      <div class="card">${scopeHtml(story.scope)}</div></section>
    <section aria-labelledby="timeline-title"><h2 id="timeline-title">Timeline</h2>
      <form class="inline" id="timeline-form" role="search">
        <label for="tl-text">Search<input id="tl-text" type="search" placeholder="command line, IP, hash…"></label>
        <label for="tl-from">From<input id="tl-from" type="datetime-local" step="1"></label>
        <label for="tl-to">To<input id="tl-to" type="datetime-local" step="1"></label>
        <label for="tl-entity">Entity<select id="tl-entity"><option value="">any</option>
          ${["process", "file", "network", "registry", "logon", "service", "task", "other"].map((v) => `<option>${v}</option>`).join("")}
        </select></label>
        <button type="submit">Search</button></form>
      <table><thead><tr><th>Time</th><th>Host</th><th>Action</th><th>Event</th><th>#</th></tr></thead>
        <tbody id="timeline-rows"></tbody></table>
      <p><button class="secondary" id="tl-next" type="button" hidden>Next page</button></p></section>
    <section aria-labelledby="evidence-title"><h2 id="evidence-title">Evidence (chain of custody)</h2>
      <table><thead><tr><th>Original path</th><th>Size</th><th>SHA-256</th><th>Collected</th></tr></thead>
      <tbody id="evidence-rows">${(detail.evidence || []).slice(0, 500).map((e) => `<tr data-path="${esc(e.provenance && e.provenance.original_path)}">
        <td class="mono">${esc(e.provenance && e.provenance.original_path)}</td><td>${esc(e.size)}</td>
        <td class="mono">${esc(e.sha256)}</td><td>${when(e.collected_at || (e.provenance && e.provenance.collected_at))}</td></tr>`).join("")
        || '<tr><td colspan="4" class="muted">No evidence collected.</td></tr>'}</tbody></table></section>
    <section aria-labelledby="actions-title"><h2 id="actions-title">Response actions</h2>
      <table><thead><tr><th>Action</th><th>Status</th><th>Target</th><th>When</th><th></th></tr></thead>
      <tbody id="action-rows">${(detail.actions || []).map((a) => `<tr><td>${esc(a.action)}${a.dry_run ? " (dry run)" : ""}</td>
        <td class="action-status">${esc(a.status)}${a.release_note ? `<div class="muted">${esc(a.release_note)}</div>` : ""}
          ${a.error ? `<div class="error">${esc(a.error.message)}</div>` : ""}</td>
        <td class="mono">${esc(JSON.stringify(a.target))}</td><td>${when(a.created_at)}</td>
        <td>${a.status === "succeeded" && !a.dry_run && canWrite()
          ? `<button type="button" data-release="${esc(a.id)}">Release</button>` : ""}</td></tr>`).join("")
        || '<tr><td colspan="5" class="muted">No response action.</td></tr>'}</tbody></table></section>
    <section aria-labelledby="audit-title"><h2 id="audit-title">Audit trail</h2>
      <table><thead><tr><th>When</th><th>Who</th><th>What</th></tr></thead>
      <tbody>${(detail.audit || []).map((a) => `<tr><td>${when(a.at || a.created_at)}</td><td>${esc(a.actor)}</td>
        <td>${esc(a.action)}</td></tr>`).join("")}</tbody></table></section>`;

  let cursor = null;
  const loadTimeline = async (append) => {
    const params = new URLSearchParams({ limit: "50" });
    const text = document.getElementById("tl-text").value.trim();
    const entity = document.getElementById("tl-entity").value;
    if (text) params.set("text", text);
    if (entity) params.set("entity", entity);
    const micros = (id) => {
      const v = document.getElementById(id).value;
      return v ? String(Date.parse(v + "Z") * 1000) : null;
    };
    if (micros("tl-from")) params.set("from_us", micros("tl-from"));
    if (micros("tl-to")) params.set("to_us", micros("tl-to"));
    if (append && cursor) params.set("cursor", cursor);
    try {
      const page = await api("GET", `/api/v1/investigations/${encodeURIComponent(id)}/timeline?${params}`);
      const rows = document.getElementById("timeline-rows");
      rows.innerHTML = (append ? rows.innerHTML : "") + eventRows(page.events, false);
      cursor = page.next_cursor || null;
      document.getElementById("tl-next").hidden = !cursor;
    } catch (err) {
      showError(document.getElementById("timeline-form"), err);
    }
  };
  document.getElementById("timeline-form").addEventListener("submit", (e) => {
    e.preventDefault();
    loadTimeline(false);
  });
  document.getElementById("tl-next").addEventListener("click", () => loadTimeline(true));
  // An alarm's evidence: the events behind it, shown with their raw lines.
  for (const ref of document.querySelectorAll(".evref")) {
    ref.addEventListener("click", async (e) => {
      e.preventDefault();
      const seqs = ref.closest("td").querySelectorAll(".evref");
      const params = new URLSearchParams({ seq: [...seqs].map((s) => s.dataset.seq).join(",") });
      const box = document.getElementById("evidence-lines");
      try {
        const page = await api("GET", `/api/v1/investigations/${encodeURIComponent(id)}/events?${params}`);
        box.innerHTML = `<table><tbody>${eventRows(page.events, false)}</tbody></table>`;
      } catch (err) {
        showError(box, err);
      }
    });
  }
  if ((inv.alert_ids || []).length) {
    try {
      const alert = await api("GET", `/api/v1/alerts/${encodeURIComponent(inv.alert_ids[0])}`);
      document.getElementById("alert-section").hidden = false;
      document.getElementById("alert-box").innerHTML = `
        <p><strong>${esc(alert.title)}</strong> <span class="sev-${esc(alert.severity)}">${esc(alert.severity)}</span>
          · ${esc(alert.source)} (${esc(alert.vendor)} ${esc(alert.product)}) · ${when(alert.time)}</p>
        <p class="muted">${esc(alert.finding_type)} · target ${esc(JSON.stringify(alert.target))}</p>
        <p>${esc(alert.decision || "")}${inv.alert_ids.length > 1 ? ` · ${inv.alert_ids.length - 1} more alert(s) joined` : ""}</p>
        <details><summary>raw payload</summary><pre class="raw">${esc(JSON.stringify(alert.raw, null, 2))}</pre></details>`;
    } catch (err) {
      showError(document.getElementById("alert-box"), err);
    }
  }
  // An event's origin opens its evidence item (hash and provenance).
  main().onclick = (e) => {
    const link = e.target.closest(".to-evidence");
    if (!link) return;
    e.preventDefault();
    const row = [...document.querySelectorAll("#evidence-rows tr")].find((r) => r.dataset.path === link.dataset.path);
    if (row) {
      row.classList.add("highlight");
      row.scrollIntoView({ block: "center" });
      row.setAttribute("tabindex", "-1");
      row.focus();
    }
  };
  for (const button of document.querySelectorAll("button[data-release]")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api("POST", `/api/v1/actions/${encodeURIComponent(button.dataset.release)}/release`);
        investigation(id);
      } catch (err) {
        button.disabled = false;
        showError(document.getElementById("action-rows").closest("section"), err);
      }
    });
  }
  await loadTimeline(false);
  if (!["complete", "failed"].includes(inv.status)) {
    state.timer = setInterval(async () => {
      try {
        const now = await api("GET", `/api/v1/investigations/${encodeURIComponent(id)}`);
        if (["complete", "failed"].includes(now.investigation.status)) {
          stopTimer();
          investigation(id);
        } else {
          document.getElementById("inv-status").textContent = now.investigation.status;
          document.getElementById("job-rows").innerHTML = jobRows(now.jobs || []);
        }
      } catch (_) { stopTimer(); }
    }, 2000);
  }
}

// ---- SECDO's query builder ----

const ENTITIES = {
  process: ["run", "parent", "child", "injection", "injector"],
  registry: ["exists", "write_registry", "rename_registry", "delete_registry"],
  file: ["exists", "create_file", "write_file", "read_file", "delete_file", "rename_file"],
  network: ["outgoing_network", "incoming_network", "failed_network"],
  host: [],
};

async function builder(query) {
  const params = new URLSearchParams(query);
  const entity = (params.get("entity") || "network").trim();
  const actions = (params.get("action") || "").split(",").map((a) => a.trim()).filter(Boolean);
  const attr = params.get("attr") || "";
  main().innerHTML = `
    <h1>Event query</h1>
    <form class="inline" id="builder-form" role="search">
      <label for="q-entity">Entity<select id="q-entity">${Object.keys(ENTITIES).map((e) =>
        `<option ${e === entity ? "selected" : ""}>${e}</option>`).join("")}</select></label>
      <fieldset id="q-actions" class="inline"><legend class="muted">Actions</legend></fieldset>
      <label for="q-attr">Attributes (name:value, | between alternatives, * wildcards)
        <input id="q-attr" size="60" value="${esc(attr)}"></label>
      <button type="submit">Run</button>
      <button class="secondary" id="q-copy" type="button">Copy URL</button>
    </form>
    <p class="muted" id="q-url"></p>
    <table aria-label="Matching events"><thead><tr><th>Time</th><th>Host / investigation</th><th>Action</th>
      <th>Event</th><th>#</th></tr></thead><tbody id="q-rows"></tbody></table>
    <p><button class="secondary" id="q-next" type="button" hidden>More</button></p>`;
  const fillActions = (chosen) => {
    const box = document.getElementById("q-actions");
    const name = document.getElementById("q-entity").value;
    box.innerHTML = '<legend class="muted">Actions</legend>' + ENTITIES[name].map((a) =>
      `<label><input type="checkbox" value="${a}" ${chosen.includes(a) ? "checked" : ""}> ${a}</label>`).join("");
  };
  fillActions(actions);
  document.getElementById("q-entity").addEventListener("change", () => fillActions([]));
  const current = () => {
    const q = new URLSearchParams();
    q.set("entity", document.getElementById("q-entity").value);
    const chosen = [...document.querySelectorAll("#q-actions input:checked")].map((i) => i.value);
    if (chosen.length) q.set("action", chosen.join(","));
    const a = document.getElementById("q-attr").value.trim();
    if (a) q.set("attr", a);
    return q;
  };
  let cursor = null;
  const run = async (append) => {
    const q = current();
    const url = `${location.origin}/#/investigationNG/builder?${q}`;
    document.getElementById("q-url").textContent = url;
    if (append && cursor) q.set("cursor", cursor);
    try {
      const page = await api("GET", `/api/v1/events?${q}`);
      const rows = document.getElementById("q-rows");
      rows.innerHTML = (append ? rows.innerHTML : "") + eventRows(page.events, true);
      cursor = page.next_cursor || null;
      document.getElementById("q-next").hidden = !cursor;
    } catch (err) {
      document.getElementById("q-rows").innerHTML = "";
      showError(document.getElementById("builder-form"), err);
    }
  };
  document.getElementById("builder-form").addEventListener("submit", (e) => {
    e.preventDefault();
    history.replaceState(null, "", `#/investigationNG/builder?${current()}`);
    run(false);
  });
  document.getElementById("q-next").addEventListener("click", () => run(true));
  document.getElementById("q-copy").addEventListener("click", async () => {
    const url = document.getElementById("q-url").textContent;
    try { await navigator.clipboard.writeText(url); } catch (_) { /* shown on the page */ }
  });
  // Opened from a link: run it, with the query exactly as given.
  if (query) {
    const q = new URLSearchParams(query);
    document.getElementById("q-url").textContent = `${location.origin}/#/investigationNG/builder?${query}`;
    try {
      const page = await api("GET", `/api/v1/events?${q}`);
      document.getElementById("q-rows").innerHTML = eventRows(page.events, true);
      cursor = page.next_cursor || null;
      document.getElementById("q-next").hidden = !cursor;
    } catch (err) {
      showError(document.getElementById("builder-form"), err);
    }
  }
}

// ---- Lists ----

async function listPage(title, path, key, columns, empty, actions, intro) {
  main().innerHTML = `<h1>${esc(title)}</h1>${intro || ""}<table aria-label="${esc(title)}"><thead><tr>${columns
    .map((c) => `<th>${esc(c[0])}</th>`).join("")}${actions && canWrite() ? "<th>Actions</th>" : ""}</tr></thead>
    <tbody id="list-rows"><tr><td class="muted">Loading…</td></tr></tbody></table>`;
  try {
    const data = await api("GET", path);
    const items = data[key] || [];
    document.getElementById("list-rows").innerHTML = items.length ? items.map((item) => `<tr>${columns
      .map((c) => `<td>${c[1](item)}</td>`).join("")}${actions && canWrite() ? `<td>${actions(item)}</td>` : ""}</tr>`).join("")
      : `<tr><td colspan="${columns.length + 1}" class="muted">${esc(empty)}</td></tr>`;
    for (const button of document.querySelectorAll("button[data-delete]")) {
      button.addEventListener("click", async () => {
        if (!confirm("Delete it?")) return;
        try {
          await api("DELETE", button.dataset.delete);
          route();
        } catch (err) { showError(main(), err); }
      });
    }
    for (const button of document.querySelectorAll("button[data-post]")) {
      button.addEventListener("click", async () => {
        try {
          await api("POST", button.dataset.post);
          route();
        } catch (err) { showError(main(), err); }
      });
    }
  } catch (err) {
    showError(main(), err);
  }
  wireEnvironmentForms();
}

const SOURCES = ["any", "guardduty", "crowdstrike", "defender", "sentinelone", "wiz", "secdo", "generic"];
const ACTIONS = {
  stop_instance: "Stop the EC2 instance (needs ec2:StopInstances)",
  isolate_role: "Deny-all policy on the instance's IAM role (needs iam:PutRolePolicy)",
  isolate_security_group: "Swap the instance's security groups for an empty one (needs ec2:CreateSecurityGroup, ec2:ModifyInstanceAttribute)",
  contain_host: "Network-contain the host in the XDR (needs the connection's host-containment permission)",
};
const EVENTS = ["alert_received", "investigation_started", "processing_complete", "processing_with_alarms",
  "response_action_taken", "response_action_failed"];

function splitList(text) {
  return text.split(",").map((t) => t.trim()).filter(Boolean);
}

function tagsOf(text) {
  const tags = {};
  for (const pair of splitList(text)) {
    const [k, ...v] = pair.split("=");
    tags[k.trim()] = v.join("=").trim() || "*";
  }
  return tags;
}

function rules() {
  return listPage("Rules", "/api/v1/rules", "rules", [
    ["Name", (r) => esc(r.name)],
    ["Source", (r) => esc(r.source)],
    ["Environment", (r) => esc(r.environment_id || "any")],
    ["Type", (r) => esc(r.investigation_type)],
    ["Actions", (r) => esc((r.actions || []).map((a) => `${a.action} on ${a.on}`).join(", ") || "—")],
    ["Enabled", (r) => esc(String(r.enabled))],
    ["Version", (r) => esc(r.version)],
  ], "No rules yet: create one to start investigations from alerts.",
  (r) => `${r.enabled
    ? `<button class="secondary" data-post="/api/v1/rules/${esc(r.id)}/disable" type="button">Disable</button>`
    : `<button class="secondary" data-post="/api/v1/rules/${esc(r.id)}/enable" type="button">Enable</button>`}
    <a href="#/rules/${esc(r.id)}/edit">Edit</a>
    <button class="secondary" data-delete="/api/v1/rules/${esc(r.id)}" type="button">Delete</button>`,
  canWrite() ? `<p><a href="#/rules/new" id="new-rule">Create a rule</a></p>` : "");
}

// The rule wizard: source and filters → environment or XDR connection → investigation,
// response actions (with the permissions they need) and notifications.
async function ruleWizard(id) {
  let rule = null;
  let environments = [];
  let connections = [];
  let webhooks = [];
  try {
    environments = (await api("GET", "/api/v1/environments")).environments;
    connections = (await api("GET", "/api/v1/connections").catch(() => ({ connections: [] }))).connections || [];
    webhooks = (await api("GET", "/api/v1/webhooks").catch(() => ({ webhooks: [] }))).webhooks || [];
    if (id) rule = await api("GET", `/api/v1/rules/${encodeURIComponent(id)}`);
  } catch (err) {
    main().innerHTML = "";
    showError(main(), err);
    return;
  }
  const r = rule || { name: "", source: "any", filters: {}, investigation_type: "triage", actions: [], notifications: [] };
  const f = r.filters || {};
  main().innerHTML = `
    <h1>${rule ? "Edit rule" : "New rule"}</h1>
    <form id="rule-form">
      <section class="card step" id="step-1" aria-labelledby="s1"><h2 id="s1">1. Source and filters</h2>
        <label for="r-name">Name<input id="r-name" required value="${esc(r.name)}"></label>
        <label for="r-source">Alert source<select id="r-source">${SOURCES.map((x) =>
          `<option ${x === r.source ? "selected" : ""}>${x}</option>`).join("")}</select></label>
        <label for="r-severity">Lowest severity<select id="r-severity">${["", "low", "medium", "high", "critical"].map((x) =>
          `<option value="${x}" ${x === (f.min_severity || "") ? "selected" : ""}>${x || "any"}</option>`).join("")}</select></label>
        <label for="r-findings">Finding types (comma-separated, * and ? wildcards)
          <input id="r-findings" value="${esc((f.finding_types || []).join(", "))}"></label>
        <label for="r-titles">Titles (comma-separated patterns)<input id="r-titles" value="${esc((f.titles || []).join(", "))}"></label>
        <button type="button" class="next" data-to="2">Next</button></section>
      <section class="card step" id="step-2" hidden aria-labelledby="s2"><h2 id="s2">2. Where the systems are</h2>
        <label for="r-env">Environment<select id="r-env"><option value="">any environment</option>${environments.map((e) =>
          `<option value="${esc(e.id)}" ${e.id === r.environment_id ? "selected" : ""}>${esc(e.name)}</option>`).join("")}</select></label>
        <label for="r-conn">XDR connection (CrowdStrike, Defender)<select id="r-conn"><option value="">none</option>${connections.map((c) =>
          `<option value="${esc(c.id)}" ${c.id === r.connection_id ? "selected" : ""}>${esc(c.name)} (${esc(c.vendor)})</option>`).join("")}</select></label>
        <button type="button" class="secondary back" data-to="1">Back</button>
        <button type="button" class="next" data-to="3">Next</button></section>
      <section class="card step" id="step-3" hidden aria-labelledby="s3"><h2 id="s3">3. Investigation, response and notifications</h2>
        <label for="r-type">Investigation<select id="r-type">${["triage", "full"].map((x) =>
          `<option ${x === r.investigation_type ? "selected" : ""}>${x}</option>`).join("")}</select></label>
        <fieldset><legend>Response actions</legend>${Object.entries(ACTIONS).map(([a, why]) => {
          const chosen = (r.actions || []).find((x) => x.action === a);
          return `<div><label><input type="checkbox" class="r-action" value="${a}" ${chosen ? "checked" : ""}> ${a}</label>
            <label>on<select class="r-on" data-action="${a}">${["malicious", "suspicious"].map((o) =>
              `<option ${chosen && chosen.on === o ? "selected" : ""}>${o}</option>`).join("")}</select></label>
            <span class="muted">${esc(why)}</span></div>`;
        }).join("")}</fieldset>
        <fieldset><legend>Notify</legend>${webhooks.length ? webhooks.map((w) => {
          const chosen = (r.notifications || []).find((n) => n.webhook === w.name || n.webhook === w.id);
          return `<div><strong>${esc(w.name)}</strong> ${EVENTS.map((e) =>
            `<label><input type="checkbox" class="r-notify" data-webhook="${esc(w.name)}" value="${e}"
              ${chosen && chosen.events.includes(e) ? "checked" : ""}> ${e}</label>`).join("")}</div>`;
        }).join("") : '<span class="muted">No webhooks yet (Settings › Integrations › Webhooks).</span>'}</fieldset>
        <button type="button" class="secondary back" data-to="2">Back</button>
        <button type="submit" id="r-save">${rule ? "Save" : "Create rule"}</button></section>
    </form>`;
  const show = (n) => {
    for (const step of document.querySelectorAll(".step")) step.hidden = step.id !== `step-${n}`;
    document.querySelector(`#step-${n} input, #step-${n} select`)?.focus();
  };
  for (const b of document.querySelectorAll("button[data-to]")) b.addEventListener("click", () => show(b.dataset.to));
  document.getElementById("rule-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const filters = {};
    if (document.getElementById("r-severity").value) filters.min_severity = document.getElementById("r-severity").value;
    const findings = splitList(document.getElementById("r-findings").value);
    if (findings.length) filters.finding_types = findings;
    const titles = splitList(document.getElementById("r-titles").value);
    if (titles.length) filters.titles = titles;
    const notifications = {};
    for (const box of document.querySelectorAll(".r-notify:checked")) {
      (notifications[box.dataset.webhook] ||= []).push(box.value);
    }
    const spec = {
      name: document.getElementById("r-name").value.trim(),
      source: document.getElementById("r-source").value,
      filters,
      investigation_type: document.getElementById("r-type").value,
      actions: [...document.querySelectorAll(".r-action:checked")].map((box) => ({
        action: box.value, on: document.querySelector(`.r-on[data-action="${box.value}"]`).value,
      })),
      notifications: Object.entries(notifications).map(([webhook, events]) => ({ webhook, events })),
    };
    const env = document.getElementById("r-env").value;
    if (env) spec.environment_id = env;
    const conn = document.getElementById("r-conn").value;
    if (conn) spec.connection_id = conn;
    try {
      if (rule) await api("PUT", `/api/v1/rules/${encodeURIComponent(rule.id)}`, spec);
      else await api("POST", "/api/v1/rules", spec);
      location.hash = "#/rules";
    } catch (err) {
      document.querySelectorAll("#rule-form .error").forEach((x) => x.remove());
      showError(document.getElementById("rule-form"), err);
    }
  });
  show(1);
}

function environments() {
  return listPage("Environments", "/api/v1/environments", "environments", [
    ["Name", (e) => esc(e.name)],
    ["Scopes", (e) => (e.scopes || []).map((s) => esc(scopeText(s))).join("<br>")],
    ["Updated", (e) => when(e.updated_at)],
  ], "No environments yet: add a group of systems Riposte may collect from.",
  (e) => `<button class="secondary" data-delete="/api/v1/environments/${esc(e.id)}" type="button">Delete</button>`,
  `${canWrite() ? `<details class="card" id="add-group"><summary>Add group</summary>
    <form id="env-form" class="inline">
      <label for="e-name">Name<input id="e-name" required></label>
      <label for="e-kind">Kind<select id="e-kind"><option value="local">library folder</option>
        <option value="aws">AWS accounts/regions/tags</option><option value="ssh">SSH ranges</option></select></label>
      <label for="e-folder" class="k-local">Folder (inside the evidence library)<input id="e-folder" size="40"></label>
      <label for="e-accounts" class="k-aws" hidden>Accounts (comma-separated, or all)<input id="e-accounts" value="all"></label>
      <label for="e-regions" class="k-aws" hidden>Regions<input id="e-regions" placeholder="us-east-1, eu-west-1"></label>
      <label for="e-tags" class="k-aws" hidden>Tags (key=value, …)<input id="e-tags" placeholder="env=prod"></label>
      <label for="e-role" class="k-aws" hidden>Role to assume<input id="e-role" placeholder="RiposteResponder"></label>
      <label for="e-cidrs" class="k-ssh" hidden>Networks<input id="e-cidrs" placeholder="10.0.0.0/8"></label>
      <label for="e-hosts" class="k-ssh" hidden>Host name patterns<input id="e-hosts" placeholder="web-*.corp"></label>
      <label for="e-cred" class="k-ssh" hidden>SSH credential<input id="e-cred"></label>
      <button type="submit">Add</button></form></details>` : ""}
   <details class="card" id="resolve"><summary>Which scope covers a system?</summary>
    <form id="resolve-form" class="inline">
      <label for="v-host">Host name<input id="v-host"></label><label for="v-ip">IP<input id="v-ip"></label>
      <label for="v-instance">Instance id<input id="v-instance"></label><label for="v-region">Region<input id="v-region"></label>
      <button type="submit">Resolve</button></form><div id="resolve-answer"></div></details>`);
}

function scopeText(s) {
  if (s.kind === "local") return `library folder ${s.folder}`;
  if (s.kind === "aws") {
    return `AWS ${Array.isArray(s.accounts) ? s.accounts.join(", ") : s.accounts} · ${(s.regions || []).join(", ") || "every region"}${Object.keys(s.tags || {}).length ? " · " + Object.entries(s.tags).map(([k, v]) => `${k}=${v}`).join(", ") : ""}`;
  }
  return `SSH ${(s.cidrs || []).concat(s.hostname_patterns || []).join(", ")} as ${s.credential}`;
}

function wireEnvironmentForms() {
  const kind = document.getElementById("e-kind");
  if (kind) {
    kind.addEventListener("change", () => {
      for (const k of ["local", "aws", "ssh"]) {
        document.querySelectorAll(`.k-${k}`).forEach((el) => { el.hidden = kind.value !== k; });
      }
    });
    document.getElementById("env-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const v = (id) => document.getElementById(id).value.trim();
      let scope;
      if (kind.value === "local") scope = { kind: "local", folder: v("e-folder") };
      if (kind.value === "aws") {
        scope = { kind: "aws", accounts: v("e-accounts") === "all" ? "all" : splitList(v("e-accounts")),
          regions: splitList(v("e-regions")), tags: tagsOf(v("e-tags")) };
        if (v("e-role")) scope.role_name = v("e-role");
      }
      if (kind.value === "ssh") {
        scope = { kind: "ssh", cidrs: splitList(v("e-cidrs")), hostname_patterns: splitList(v("e-hosts")), credential: v("e-cred") };
      }
      try {
        await api("POST", "/api/v1/environments", { name: v("e-name"), scopes: [scope] });
        route();
      } catch (err) {
        showError(document.getElementById("env-form"), err);
      }
    });
  }
  const resolve = document.getElementById("resolve-form");
  if (resolve) {
    resolve.addEventListener("submit", async (e) => {
      e.preventDefault();
      const v = (id) => document.getElementById(id).value.trim();
      const target = {};
      if (v("v-host")) target.hostname = v("v-host");
      if (v("v-ip")) target.ips = [v("v-ip")];
      if (v("v-instance")) target.instance_id = v("v-instance");
      if (v("v-region")) target.region = v("v-region");
      const box = document.getElementById("resolve-answer");
      try {
        const answer = await api("POST", "/api/v1/environments/resolve", target);
        box.innerHTML = answer.covered
          ? `<p>Covered by <strong>${esc(answer.scope.environment)}</strong> (scope ${esc(answer.scope.scope_index)}): ${esc(answer.scope.matched_on)}</p>`
          : `<p>Not covered:</p><ul>${(answer.reasons || []).map((r) => `<li>${esc(r)}</li>`).join("")}</ul>`;
      } catch (err) {
        box.innerHTML = "";
        showError(box, err);
      }
    });
  }
}

function alerts() {
  return listPage("Alerts", "/api/v1/alerts", "alerts", [
    ["Title", (a) => esc(a.title)],
    ["Source", (a) => esc(a.source)],
    ["Severity", (a) => `<span class="sev-${esc(a.severity)}">${esc(a.severity)}</span>`],
    ["Time", (a) => when(a.time)],
    ["Decision", (a) => esc(a.decision || "pending")],
    ["Investigation", (a) => a.investigation_id ? `<a href="#/investigations/${esc(a.investigation_id)}">open</a>` : "—"],
  ], "No alerts yet: point a source at Riposte (a push integration, a pull connection, or the SECDO API).");
}

function hunts() {
  return listPage("Hunts", "/api/v1/hunts", "hunts", [
    ["Name", (h) => esc(h.name)],
    ["Schedule", (h) => esc(`${h.schedule.cron} (${h.schedule.time_zone})`)],
    ["Next run", (h) => when(h.next_run_at)],
    ["Enabled", (h) => esc(String(h.enabled))],
  ], "No hunts yet: schedule one (POST /api/v1/hunts).",
  (h) => `<button class="secondary" data-post="/api/v1/hunts/${esc(h.id)}/run" type="button">Run now</button>`);
}

// ---- Settings: integrations, connections, webhooks, SIEM exports, API keys ----

function isAdmin() {
  return state.session && state.session.role === "admin";
}

function secretBox(title, value) {
  return `<div class="card" role="alert" id="one-time"><strong>${esc(title)}</strong>
    <p class="muted">Shown once: copy it now.</p><pre class="raw" id="one-time-value">${esc(value)}</pre></div>`;
}

async function settings() {
  main().innerHTML = `<h1>Settings</h1>
    <div id="settings-msg"></div>
    <section aria-labelledby="wh-title"><h2 id="wh-title">Webhooks</h2>
      <table><thead><tr><th>Name</th><th>Preset</th><th>Events</th><th>URL</th><th>Enabled</th><th></th></tr></thead>
      <tbody id="wh-rows"></tbody></table>
      ${isAdmin() ? `<details class="card" id="wh-add"><summary>Add a webhook</summary>
      <form id="wh-form">
        <label for="wh-name">Name<input id="wh-name" required></label>
        <label for="wh-preset">Preset<select id="wh-preset">${["custom", "slack", "teams", "jira"].map((p) => `<option>${p}</option>`).join("")}</select></label>
        <label for="wh-url">URL<input id="wh-url" type="url" required size="50"></label>
        <fieldset><legend>Events</legend>${EVENTS.concat(["hunt_completed"]).map((e) =>
          `<label><input type="checkbox" class="wh-event" value="${e}" ${e === "processing_with_alarms" ? "checked" : ""}> ${e}</label>`).join("")}</fieldset>
        <label for="wh-template">Template ($Title, $Event, $Details, $Verdict, $Host, $Url, …; empty: the preset's)
          <textarea id="wh-template" rows="4" cols="70"></textarea></label>
        <p class="muted">Preview of the sample notification:</p><pre class="raw" id="wh-preview" aria-live="polite"></pre>
        <button type="submit">Add webhook</button></form></details>` : ""}</section>
    <section aria-labelledby="int-title"><h2 id="int-title">Push integrations</h2>
      <table><thead><tr><th>Name</th><th>Source</th><th>Push URL</th><th></th></tr></thead><tbody id="int-rows"></tbody></table>
      ${isAdmin() ? `<form id="int-form" class="inline">
        <label for="int-name">Name<input id="int-name" required></label>
        <label for="int-source">Source<select id="int-source">${SOURCES.filter((x) => x !== "any").map((x) => `<option>${x}</option>`).join("")}</select></label>
        <button type="submit">Add integration</button></form>` : ""}</section>
    <section aria-labelledby="conn-title"><h2 id="conn-title">XDR and cloud connections</h2>
      <table><thead><tr><th>Name</th><th>Vendor</th><th>Enabled</th><th>Last poll</th><th>Last error</th><th></th></tr></thead>
      <tbody id="conn-rows"></tbody></table><div id="conn-msg" aria-live="polite"></div>
      ${isAdmin() ? `<details class="card" id="conn-add"><summary>Add a connection</summary><form id="conn-form">
        <label for="conn-name">Name<input id="conn-name" required></label>
        <label for="conn-vendor">Vendor<select id="conn-vendor"><option>crowdstrike</option><option>defender</option>
          <option>guardduty</option></select></label>
        <label for="conn-settings">Settings (JSON: CrowdStrike <code>base_url</code>, <code>client_id</code>; Defender
          <code>tenant_id</code>, <code>client_id</code>; GuardDuty <code>regions</code>)
          <textarea id="conn-settings" rows="3" cols="70">{}</textarea></label>
        <label for="conn-secret">Secret (client secret; sealed, never shown again)<input id="conn-secret" type="password" autocomplete="off"></label>
        <button type="submit">Add connection</button></form></details>` : ""}</section>
    <section aria-labelledby="siem-title"><h2 id="siem-title">SIEM exports</h2>
      <table><thead><tr><th>Name</th><th>Kind</th><th>Events</th><th>Enabled</th></tr></thead><tbody id="siem-rows"></tbody></table>
      ${isAdmin() ? `<details class="card" id="siem-add"><summary>Add a SIEM export</summary><form id="siem-form">
        <label for="siem-name">Name<input id="siem-name" required></label>
        <label for="siem-kind">Kind<select id="siem-kind"><option value="splunk_hec">Splunk HEC</option>
          <option value="elasticsearch">Elasticsearch / OpenSearch</option></select></label>
        <label for="siem-url">URL<input id="siem-url" type="url" required size="50"></label>
        <label for="siem-token">Token (sealed, never shown again)<input id="siem-token" type="password" autocomplete="off"></label>
        <button type="submit">Add export</button></form></details>` : ""}</section>
    ${isAdmin() ? `<section aria-labelledby="key-title"><h2 id="key-title">API keys</h2>
      <table><thead><tr><th>Name</th><th>Role</th><th>Prefix</th><th>Created</th><th></th></tr></thead><tbody id="key-rows"></tbody></table>
      <form id="key-form" class="inline">
        <label for="key-name">Name<input id="key-name" required></label>
        <label for="key-role">Role<select id="key-role"><option>viewer</option><option>analyst</option><option>admin</option></select></label>
        <button type="submit">Create key</button></form></section>` : ""}`;
  const msg = document.getElementById("settings-msg");
  const fill = async (id, path, key, row, empty) => {
    try {
      const items = (await api("GET", path))[key] || [];
      document.getElementById(id).innerHTML = items.map(row).join("")
        || `<tr><td colspan="6" class="muted">${esc(empty)}</td></tr>`;
    } catch (err) {
      showError(document.getElementById(id).closest("section"), err);
    }
  };
  await Promise.all([
    fill("wh-rows", "/api/v1/webhooks", "webhooks", (w) => `<tr><td>${esc(w.name)}</td><td>${esc(w.preset)}</td>
      <td>${esc((w.events || []).join(", "))}</td><td class="mono">${esc(w.url)}</td><td>${esc(String(w.enabled))}</td>
      <td>${canWrite() ? `<button type="button" class="secondary" data-test="${esc(w.id)}">Send test</button>` : ""}</td></tr>`,
      "No webhooks yet: add one to tell Slack, Teams, JIRA or your own receiver."),
    fill("int-rows", "/api/v1/integrations", "integrations", (i) => `<tr><td>${esc(i.name)}</td><td>${esc(i.source)}</td>
      <td class="mono">${esc(i.url)}</td><td>${isAdmin() ? `<button type="button" class="secondary" data-rotate="${esc(i.id)}">Rotate secret</button>` : ""}</td></tr>`,
      "No push integrations yet: add one per sender (GuardDuty via EventBridge, CrowdStrike, Wiz…)."),
    fill("conn-rows", "/api/v1/connections", "connections", (c) => `<tr><td>${esc(c.name)}</td><td>${esc(c.vendor)}</td>
      <td>${esc(String(c.enabled))}</td><td>${when(c.last_polled_at)}</td><td>${esc(c.last_error || "")}</td>
      <td>${canWrite() ? `<button type="button" class="secondary" data-conn-test="${esc(c.id)}">Test</button>
        <button type="button" class="secondary" data-conn-poll="${esc(c.id)}">Poll now</button>` : ""}</td></tr>`,
      "No connections yet: connect CrowdStrike, Defender or GuardDuty to pull their alerts."),
    fill("siem-rows", "/api/v1/siem-exports", "siem_exports", (x) => `<tr><td>${esc(x.name)}</td><td>${esc(x.kind)}</td>
      <td>${esc((x.events || []).join(", "))}</td><td>${esc(String(x.enabled))}</td></tr>`,
      "No SIEM exports yet: push alarms and verdicts to Splunk or Elasticsearch."),
    isAdmin() ? fill("key-rows", "/api/v1/apikeys", "apikeys", (k) => `<tr><td>${esc(k.name)}</td><td>${esc(k.role)}</td>
      <td class="mono">${esc(k.prefix)}</td><td>${when(k.created_at)}</td>
      <td><button type="button" class="secondary" data-revoke="${esc(k.id)}">Revoke</button></td></tr>`, "No keys.") : null,
  ]);
  const click = (selector, handler) => {
    for (const b of document.querySelectorAll(selector)) {
      b.addEventListener("click", async () => {
        try { await handler(b); } catch (err) { showError(msg, err); }
      });
    }
  };
  click("button[data-test]", async (b) => {
    const r = await api("POST", `/api/v1/webhooks/${encodeURIComponent(b.dataset.test)}/test`);
    msg.innerHTML = r.ok ? `<p class="card" role="status">Test delivered (HTTP ${esc(r.status_code)}).</p>`
      : `<p class="error" role="alert">Test failed: ${esc(r.error || r.status_code)} ${esc(r.response_excerpt || "")}</p>`;
  });
  click("button[data-rotate]", async (b) => {
    const r = await api("POST", `/api/v1/integrations/${encodeURIComponent(b.dataset.rotate)}/secret`);
    msg.innerHTML = secretBox("New integration secret", r.secret);
  });
  click("button[data-conn-test]", async (b) => {
    const r = await api("POST", `/api/v1/connections/${encodeURIComponent(b.dataset.connTest)}/test`);
    document.getElementById("conn-msg").innerHTML = r.ok ? `<p class="card">Connection works.</p>`
      : `<p class="error" role="alert">${esc(r.error || JSON.stringify(r))}</p>`;
  });
  click("button[data-conn-poll]", async (b) => {
    await api("POST", `/api/v1/connections/${encodeURIComponent(b.dataset.connPoll)}/poll`);
    document.getElementById("conn-msg").innerHTML = `<p class="card">Poll queued.</p>`;
  });
  click("button[data-revoke]", async (b) => {
    await api("DELETE", `/api/v1/apikeys/${encodeURIComponent(b.dataset.revoke)}`);
    settings();
  });
  const preview = async () => {
    const box = document.getElementById("wh-preview");
    if (!box) return;
    const template = document.getElementById("wh-template").value;
    const request = { preset: document.getElementById("wh-preset").value };
    if (template.trim()) request.template = template;
    try {
      const r = await api("POST", "/api/v1/webhooks/preview", request);
      box.classList.remove("error");
      box.textContent = r.body;
    } catch (err) {
      box.classList.add("error");
      box.textContent = err.message;
    }
  };
  let pending = null;
  for (const id of ["wh-template", "wh-preset"]) {
    document.getElementById(id)?.addEventListener("input", () => {
      clearTimeout(pending);
      pending = setTimeout(preview, 250);
    });
  }
  if (document.getElementById("wh-form")) {
    preview();
    document.getElementById("wh-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = {
        name: document.getElementById("wh-name").value.trim(),
        preset: document.getElementById("wh-preset").value,
        url: document.getElementById("wh-url").value.trim(),
        events: [...document.querySelectorAll(".wh-event:checked")].map((c) => c.value),
      };
      const template = document.getElementById("wh-template").value;
      if (template.trim()) body.template = template;
      try {
        await api("POST", "/api/v1/webhooks", body);
        settings();
      } catch (err) {
        showError(document.getElementById("wh-form"), err);
      }
    });
  }
  document.getElementById("int-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const r = await api("POST", "/api/v1/integrations", {
        name: document.getElementById("int-name").value.trim(),
        source: document.getElementById("int-source").value,
      });
      await settings();
      document.getElementById("settings-msg").innerHTML = secretBox(`Secret of ${r.name} (push to ${r.url})`, r.secret);
    } catch (err) {
      showError(document.getElementById("int-form"), err);
    }
  });
  document.getElementById("conn-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    let settingsJson;
    try {
      settingsJson = JSON.parse(document.getElementById("conn-settings").value || "{}");
    } catch (err) {
      showError(document.getElementById("conn-form"), new ApiError(`settings: not JSON (${err.message})`));
      return;
    }
    const body = { name: document.getElementById("conn-name").value.trim(),
      vendor: document.getElementById("conn-vendor").value, settings: settingsJson };
    const secret = document.getElementById("conn-secret").value;
    if (secret) body.secret = secret;
    try {
      await api("POST", "/api/v1/connections", body);
      settings();
    } catch (err) {
      showError(document.getElementById("conn-form"), err);
    }
  });
  document.getElementById("siem-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const kind = document.getElementById("siem-kind").value;
    const token = document.getElementById("siem-token").value;
    const body = { name: document.getElementById("siem-name").value.trim(), kind,
      url: document.getElementById("siem-url").value.trim(),
      events: ["processing_with_alarms", "response_action_taken", "response_action_failed"] };
    if (token) body.auth = kind === "splunk_hec" ? { type: "splunk", token } : { type: "bearer", token };
    try {
      await api("POST", "/api/v1/siem-exports", body);
      settings();
    } catch (err) {
      showError(document.getElementById("siem-form"), err);
    }
  });
  document.getElementById("key-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const r = await api("POST", "/api/v1/apikeys", {
        name: document.getElementById("key-name").value.trim(),
        role: document.getElementById("key-role").value,
      });
      await settings();
      document.getElementById("settings-msg").innerHTML = secretBox(`API key ${r.name} (${r.role})`, r.key);
    } catch (err) {
      showError(document.getElementById("key-form"), err);
    }
  });
}

// ---- Detections › Integrations: one card per source ----

const SOURCE_NAMES = {
  guardduty: "Amazon GuardDuty", crowdstrike: "CrowdStrike Falcon", defender: "Microsoft Defender",
  sentinelone: "SentinelOne", wiz: "Wiz", secdo: "SECDO enrichment API (firewalls, AV)", generic: "Generic alerts",
};

async function integrationCards() {
  main().innerHTML = `<h1>Integrations</h1><div id="cards"><p class="muted">Loading…</p></div>`;
  try {
    const [ints, conns, alerts] = await Promise.all([
      api("GET", "/api/v1/integrations"),
      api("GET", "/api/v1/connections"),
      api("GET", "/api/v1/alerts?limit=200"),
    ]);
    document.getElementById("cards").innerHTML = Object.entries(SOURCE_NAMES).map(([source, name]) => {
      const pushes = (ints.integrations || []).filter((i) => i.source === source);
      const pulls = (conns.connections || []).filter((c) => c.vendor === source);
      const recent = (alerts.alerts || []).filter((a) => a.source === source).slice(0, 5);
      const intake = source === "secdo"
        ? `<p>POST <code>${esc(location.origin)}/publicapi/v2/enrich_with_secdo/</code> with an API key as <code>apikey</code>.</p>`
        : source === "generic" ? `<p>POST <code>${esc(location.origin)}/api/v1/alerts</code> with an API key.</p>` : "";
      return `<section class="card source-card" data-source="${source}" aria-labelledby="card-${source}">
        <h2 id="card-${source}">${esc(name)}</h2>${intake}
        ${pushes.map((i) => `<p>Push: <strong>${esc(i.name)}</strong> <code>${esc(i.url)}</code></p>`).join("")}
        ${pulls.map((c) => `<p>Pull: <strong>${esc(c.name)}</strong> ${c.enabled ? "enabled" : "disabled"}, last poll ${when(c.last_polled_at)}${c.last_error ? ` <span class="error">${esc(c.last_error)}</span>` : ""}</p>`).join("")}
        ${!pushes.length && !pulls.length && !intake ? '<p class="muted">Not connected: add a push integration or a connection in Settings.</p>' : ""}
        <h3>Recent alerts</h3>${recent.length ? `<ul>${recent.map((a) => `<li>${when(a.time)} ${esc(a.title)} — ${esc(a.decision || "pending")}${a.investigation_id ? ` <a href="#/investigations/${esc(a.investigation_id)}">investigation</a>` : ""}</li>`).join("")}</ul>` : '<p class="muted">None yet.</p>'}
      </section>`;
    }).join("");
  } catch (err) {
    showError(main(), err);
  }
}

// ---- Router ----

function route() {
  stopTimer();
  main().onclick = null;
  if (!state.session) return;
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split(/\?(.*)/s);
  const m = path.match(/^\/investigations\/([0-9a-f-]+)$/i);
  document.querySelectorAll("#main .error").forEach((e) => e.remove());
  if (m) return investigation(m[1]);
  if (path === "/investigationNG/builder") return builder(query || "");
  if (path === "/rules") return rules();
  if (path === "/rules/new") return ruleWizard(null);
  const edit = path.match(/^\/rules\/([0-9a-f-]+)\/edit$/i);
  if (edit) return ruleWizard(edit[1]);
  if (path === "/environments") return environments();
  if (path === "/alerts") return alerts();
  if (path === "/hunts") return hunts();
  if (path === "/settings") return settings();
  if (path === "/detections/integrations") return integrationCards();
  const offset = Number(new URLSearchParams(query || "").get("offset")) || 0;
  return investigations(offset);
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  try {
    state.session = await api("GET", "/console/session");
    started();
  } catch (_) {
    signIn();
  }
});
