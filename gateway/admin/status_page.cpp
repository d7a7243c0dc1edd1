#include "gateway/admin/status_page.hpp"

namespace rtmpgate::gateway::admin {

const std::string_view status_page_html = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rtmpgate: streams</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
  table { border-collapse: collapse; }
  th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; vertical-align: top; }
  th { background: #f4f4f4; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  #state { color: #666; }
  #state.error { color: #b00; }
</style>
</head>
<body>
<h1>Streams</h1>
<p id="state">loading…</p>
<table id="streams">
  <thead><tr>
    <th>stream</th><th>route</th><th>publisher</th><th>codecs</th>
    <th>in kbit/s</th><th>out kbit/s</th><th>players</th><th>uptime</th><th>player</th>
  </tr></thead>
  <tbody></tbody>
</table>
<script>
"use strict";
const body = document.querySelector("#streams tbody");
const state = document.getElementById("state");

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function kbits(bps) { return (bps / 1000).toFixed(0); }

function duration(seconds) {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (s % 60) + "s";
}

// The player page on the http listener (https when there is none): on the host this page was
// reached by when the listener takes every address.
function playerUrl(data, app, name) {
  if (!data.player_page) return null;
  const listeners = data.listeners;
  const scheme = listeners.http ? "http" : listeners.https ? "https" : null;
  if (!scheme) return null;
  const l = listeners[scheme];
  const wildcard = l.host === "" || l.host === "0.0.0.0" || l.host === "::";
  let host = wildcard ? location.hostname : l.host;
  if (host.includes(":") && !host.startsWith("[")) host = "[" + host + "]";
  // One segment each: a '/' in the name is escaped, as the gateway's /play/<app>/<stream> wants.
  const path = encodeURIComponent(app) + "/" + encodeURIComponent(name);
  return scheme + "://" + host + ":" + l.port + "/play/" + path;
}

function render(data) {
  body.replaceChildren();
  for (const s of data.streams) {
    const row = body.insertRow();
    row.dataset.key = s.key;
    cell(row, s.key);
    cell(row, s.route ? "#" + s.route.index + " " + s.route.app + " → " + s.route.to : "none");
    cell(row, s.publisher ? s.publisher.transport + " " + s.publisher.address : "none");
    cell(row, [s.codecs.video, s.codecs.audio].filter(Boolean).join(", ") || "—");
    cell(row, kbits(s.bitrate_in), "num");
    cell(row, kbits(s.bitrate_out), "num");
    const players = Object.entries(s.players).map(([t, n]) => t + ": " + n);
    if (s.pushes) players.push("pushes: " + s.pushes);
    cell(row, players.join(", ") || "none").className = "players";
    cell(row, s.published ? duration(s.uptime_seconds) : "not published", "num");
    const link = cell(row, "");
    const url = playerUrl(data, s.app, s.name);
    if (url) {
      const a = document.createElement("a");
      a.href = url;
      a.textContent = "play";
      link.append(a);
    }
  }
  state.className = "";
  state.textContent = data.streams.length + " stream(s), updated " +
                      new Date().toLocaleTimeString();
}

async function refresh() {
  try {
    const reply = await fetch("/streams", {cache: "no-store"});
    if (!reply.ok) throw new Error("HTTP " + reply.status);
    render(await reply.json());
  } catch (e) {
    state.className = "error";
    state.textContent = "cannot read /streams: " + e.message;
  }
  setTimeout(refresh, 2000);
}
refresh();
</script>
</body>
</html>
)html";

}  // namespace rtmpgate::gateway::admin
