// OneNET emulator console: plain DOM + SVG, no libraries. State from /api/state, then live events
// from /api/events (server-sent events). Writes go to POST /api/set, which waits for the set_reply;
// the OTA panel's image goes to POST /api/ota as base64 in JSON.
// Requests are same-origin with Content-Type application/json: the server refuses any other write.
"use strict";
(function () {
  var model = { properties: [], events: [] };
  var EVENTS = 100;
  var devices = new Map(); // "pid/dev" -> { view, el, props: Map(id -> {el, valueEl, timeEl, svg}) }
  var HISTORY = 500;
  var SVGNS = "http://www.w3.org/2000/svg";

  function $(tag, attrs, children) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") el.textContent = attrs[k];
      else if (k === "className") el.className = attrs[k];
      else el.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { el.appendChild(c); });
    return el;
  }
  function svgEl(tag, attrs) {
    var el = document.createElementNS(SVGNS, tag);
    for (var k in attrs) el.setAttribute(k, attrs[k]);
    return el;
  }
  function key(product, device) { return product + "/" + device; }
  function fmtTime(ms) {
    var d = new Date(ms);
    return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }
  function fmtValue(def, v) {
    if (v === undefined) return "–";
    if (def && def.type === "bool") return v ? "true" : "false";
    if (typeof v === "number" && def && (def.type === "float" || def.type === "double")) {
      return String(Math.round(v * 100) / 100);
    }
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  function renderChart(entry, points) {
    var svg = entry.svg;
    if (!svg) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var W = 300, H = 70, L = 34, R = 4, T = 6, B = 12;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("preserveAspectRatio", "none");
    if (!points || points.length === 0) {
      var t = svgEl("text", { x: L, y: H / 2 }); t.textContent = "no data yet"; svg.appendChild(t);
      return;
    }
    var t0 = points[0][0], t1 = points[points.length - 1][0];
    var lo = Infinity, hi = -Infinity;
    points.forEach(function (p) { if (p[1] < lo) lo = p[1]; if (p[1] > hi) hi = p[1]; });
    if (hi === lo) { hi += 1; lo -= 1; }
    if (t1 === t0) t1 = t0 + 1;
    function x(t) { return L + (t - t0) / (t1 - t0) * (W - L - R); }
    function y(v) { return T + (hi - v) / (hi - lo) * (H - T - B); }
    svg.appendChild(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: y(hi), y2: y(hi) }));
    svg.appendChild(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: y(lo), y2: y(lo) }));
    var labels = [[hi, y(hi) + 3], [lo, y(lo) + 3]];
    labels.forEach(function (l) {
      var tx = svgEl("text", { x: 2, y: l[1] }); tx.textContent = String(Math.round(l[0] * 100) / 100); svg.appendChild(tx);
    });
    var ta = svgEl("text", { x: L, y: H - 1 }); ta.textContent = fmtTime(t0).slice(0, 8); svg.appendChild(ta);
    var tb = svgEl("text", { x: W - R, y: H - 1, "text-anchor": "end" }); tb.textContent = fmtTime(t1).slice(0, 8); svg.appendChild(tb);
    var d = points.map(function (p) { return x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1); }).join(" ");
    svg.appendChild(svgEl("polyline", { class: "line", points: d }));
    var last = points[points.length - 1];
    svg.appendChild(svgEl("circle", { class: "dot", cx: x(last[0]), cy: y(last[1]), r: 2.5 }));
    svg.setAttribute("data-points", String(points.length));
  }

  function control(dev, def, entry) {
    var input;
    if (def.type === "bool") {
      input = $("select", { "data-input": def.identifier }, [$("option", { value: "true", text: "true" }), $("option", { value: "false", text: "false" })]);
    } else if (def.type === "enum" && def.labels) {
      input = $("select", { "data-input": def.identifier }, Object.keys(def.labels).map(function (k) {
        return $("option", { value: k, text: k + " " + def.labels[k] });
      }));
    } else {
      input = $("input", { type: def.numeric ? "number" : "text", "data-input": def.identifier });
      if (def.min !== undefined) input.setAttribute("min", def.min);
      if (def.max !== undefined) input.setAttribute("max", def.max);
      if (def.step !== undefined) input.setAttribute("step", def.step);
    }
    var button = $("button", { type: "button", "data-set": def.identifier, text: "Set" });
    var reply = $("div", { className: "reply", "data-reply": def.identifier });
    button.addEventListener("click", function () {
      var raw = input.value, value;
      if (def.type === "bool") value = raw === "true";
      else if (def.numeric || def.type === "enum") {
        if (raw.trim() === "" || !isFinite(Number(raw))) { reply.className = "reply bad"; reply.textContent = "enter a number"; return; }
        value = Number(raw);
      } else value = raw;
      var params = {}; params[def.identifier] = value;
      button.disabled = true;
      reply.className = "reply"; reply.textContent = "set " + JSON.stringify(params) + " … waiting for set_reply";
      fetch("api/set", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ product: dev.product, device: dev.device, params: params }) })
        .then(function (r) { return r.json(); })
        .then(function (res) {
          if (res.ok) {
            reply.className = "reply " + (res.code === 200 ? "ok" : "bad");
            reply.textContent = "set_reply id=" + res.id + " code=" + res.code + (res.msg ? " " + res.msg : "");
          } else {
            reply.className = "reply bad";
            reply.textContent = "failed: " + res.error;
          }
        }, function (e) { reply.className = "reply bad"; reply.textContent = "failed: " + e; })
        .then(function () { button.disabled = false; });
    });
    entry.input = input;
    return [$("div", { className: "control" }, [input, button]), reply];
  }

  function renderDevice(view) {
    var k = key(view.product, view.device);
    var dev = { product: view.product, device: view.device, view: view, props: new Map() };
    var status = $("span", { className: "badge", "data-testid": "status" });
    var since = $("span", { className: "sub" });
    var cadence = $("span", { className: "sub", "data-testid": "cadence" });
    var head = $("div", { className: "head" }, [
      $("h2", { text: view.device }), $("span", { className: "sub", text: "product " + view.product }), status, since, cadence
    ]);
    var grid = $("div", { className: "props" });
    model.properties.forEach(function (def) {
      var valueEl = $("span", { className: "v", text: "–" });
      var valueBox = $("div", { className: "value", "data-value": def.identifier }, [valueEl]);
      if (def.unit) valueBox.appendChild($("span", { className: "unit", text: def.unit }));
      var timeEl = $("div", { className: "time", text: "no report yet" });
      var entry = { valueEl: valueEl, timeEl: timeEl, svg: null, def: def };
      var children = [
        $("div", { className: "name" }, [$("span", { text: def.name + " (" + def.identifier + ")" }), $("span", { text: def.type + (def.writable ? " · rw" : " · r") })]),
        valueBox, timeEl
      ];
      if (def.numeric) {
        entry.svg = svgEl("svg", { "data-chart": def.identifier, role: "img", "aria-label": def.name + " over time" });
        children.push(entry.svg);
      }
      if (def.writable) children = children.concat(control(dev, def, entry));
      var card = $("div", { className: "prop", "data-prop": def.identifier }, children);
      grid.appendChild(card);
      dev.props.set(def.identifier, entry);
    });
    var getButton = $("button", { type: "button", "data-testid": "get", text: "Get all properties" });
    var getReply = $("div", { className: "reply", "data-testid": "get-reply" });
    getButton.addEventListener("click", function () {
      var ids = model.properties.map(function (p) { return p.identifier; });
      getButton.disabled = true;
      getReply.className = "reply"; getReply.textContent = "get " + JSON.stringify(ids) + " … waiting for get_reply";
      fetch("api/get", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ product: view.product, device: view.device, params: ids }) })
        .then(function (r) { return r.json(); })
        .then(function (res) {
          if (res.ok) {
            getReply.className = "reply " + (res.code === 200 ? "ok" : "bad");
            getReply.textContent = "get_reply id=" + res.id + " code=" + res.code + (res.msg ? " " + res.msg : "") +
              (res.data !== undefined ? " data=" + JSON.stringify(res.data) : "");
          } else { getReply.className = "reply bad"; getReply.textContent = "failed: " + res.error; }
        }, function (e) { getReply.className = "reply bad"; getReply.textContent = "failed: " + e; })
        .then(function () { getButton.disabled = false; });
    });
    var kick = $("button", { type: "button", className: "secondary", "data-testid": "disconnect", text: "Disconnect" });
    kick.title = "Close the device's connection from the platform side (to watch it reconnect)";
    kick.addEventListener("click", function () {
      fetch("api/disconnect", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ product: view.product, device: view.device }) });
    });
    var getBox = $("div", { className: "control" }, [getButton, getReply, kick]);
    var eventList = $("ol", {});
    var events = $("div", { className: "events", "data-testid": "events" }, [
      $("div", { className: "title", text: "Events (thing/event/post)" }), eventList
    ]);
    var logList = $("ol", {});
    var subs = $("div", { className: "subs" });
    var log = $("details", { className: "log", open: "" }, [$("summary", { text: "Device log (platform view)" }), logList]);
    dev.el = $("section", { className: "device", "data-device": k }, [head, grid, getBox, events, subs, log]);
    dev.status = status; dev.sinceEl = since; dev.logList = logList; dev.subsEl = subs; dev.cadenceEl = cadence;
    dev.eventList = eventList; dev.eventKeys = new Set();
    dev.posts = view.posts.slice();
    showCadence(dev);
    devices.set(k, dev);
    setOnline(dev, view.online, view.since);
    setSubs(dev, view.subscriptions);
    Object.keys(view.latest).forEach(function (id) { setValue(dev, id, view.latest[id].value, view.latest[id].time, false); });
    dev.props.forEach(function (entry, id) { renderChart(entry, view.history[id] || []); });
    view.log.forEach(function (line) { addLog(dev, line); });
    view.events.forEach(function (event) { addEvent(dev, event); });
    showNoEvents(dev);
    return dev.el;
  }

  function setOnline(dev, online, since) {
    dev.view.online = online;
    dev.status.className = "badge " + (online ? "on" : "off");
    dev.status.textContent = online ? "online" : "offline";
    dev.sinceEl.textContent = "since " + fmtTime(since);
  }
  // The device's report cadence: the gap between its last two property posts, by the times the device
  // put in them (arrival times when it sent none), so the platform's uplink pacing does not blur it.
  function showCadence(dev) {
    var p = dev.posts, n = p.length;
    dev.cadenceEl.textContent = n === 0 ? "· no reports yet" : n === 1 ? "· 1 report" :
      "· reports every " + ((p[n - 1] - p[n - 2]) / 1000).toFixed(1) + " s";
    dev.cadenceEl.setAttribute("data-gap-ms", n >= 2 ? String(p[n - 1] - p[n - 2]) : "");
    dev.cadenceEl.setAttribute("data-posts", String(dev.postCount || 0)); // posts seen since the page loaded
    if (dev.backfilled) dev.cadenceEl.textContent += " · " + dev.backfilled + " values back-filled";
  }
  function setSubs(dev, list) {
    dev.subsEl.textContent = list.length ? "subscribed: " + list.join("  ") : "subscribed: (nothing: no downlink can reach the device)";
  }
  // A back-filled value (history post) goes into the chart at its own time; the value shown stays the newest.
  function setValue(dev, id, value, time, chart, backfill) {
    var entry = dev.props.get(id);
    if (!entry) return;
    if (!backfill) {
      entry.valueEl.textContent = fmtValue(entry.def, value);
      entry.timeEl.textContent = "at " + fmtTime(time);
    }
    if (chart && typeof value === "number") {
      var h = dev.view.history[id] || (dev.view.history[id] = []);
      var last = h[h.length - 1];
      if (last && last[0] === time && last[1] === value) return;
      var at = h.length;
      while (at > 0 && h[at - 1][0] > time) at--;
      h.splice(at, 0, [time, value]);
      if (h.length > HISTORY) h.splice(0, h.length - HISTORY);
      renderChart(entry, h);
    }
  }
  function addLog(dev, line) {
    var li = $("li", { className: line.level, text: fmtTime(line.time) + "  " + line.text });
    dev.logList.insertBefore(li, dev.logList.firstChild);
    while (dev.logList.childNodes.length > 100) dev.logList.removeChild(dev.logList.lastChild);
  }

  // One row per accepted event, newest first: time (the device's, else arrival), identifier, values.
  function addEvent(dev, event) {
    var k = event.id + "/" + event.identifier;
    if (dev.eventKeys.has(k)) return; // also in the state snapshot
    dev.eventKeys.add(k);
    var def = (model.events || []).find(function (e) { return e.identifier === event.identifier; });
    var li = $("li", { "data-event": event.identifier }, [
      $("span", { className: "time", text: fmtTime(event.time) }),
      $("span", { className: "id", text: def && def.name !== event.identifier ? def.name + " (" + event.identifier + ")" : event.identifier }),
      $("span", { className: "values", text: Object.keys(event.value).map(function (name) {
        return name + "=" + JSON.stringify(event.value[name]);
      }).join(" ") })
    ]);
    var empty = dev.eventList.querySelector(".none");
    if (empty) dev.eventList.removeChild(empty);
    dev.eventList.insertBefore(li, dev.eventList.firstChild);
    while (dev.eventList.childNodes.length > EVENTS) dev.eventList.removeChild(dev.eventList.lastChild);
  }
  function showNoEvents(dev) {
    if (dev.eventList.childNodes.length === 0) dev.eventList.appendChild($("li", { className: "none", text: "no events yet" }));
  }

  // OTA panel: start a task (image + version -> POST api/ota) and one row per device with what the
  // device told the fuse-ota API: its version, the last status step as progress, the result.
  var ota = { steps: {}, tasks: new Map(), rows: new Map() };
  function stepText(step) {
    return step <= 100 ? step + "%" : step + " " + (ota.steps[step] || "?");
  }
  function taskText(t) {
    return "tid=" + t.tid + " target=" + t.target + " size=" + t.size + " md5=" + t.md5;
  }
  function showTasks() {
    var list = document.getElementById("ota-tasks");
    list.textContent = "";
    ota.tasks.forEach(function (t, product) {
      list.appendChild($("li", { "data-task": String(t.tid), text: "product " + product + ": " + taskText(t) }));
    });
    if (ota.tasks.size === 0) list.appendChild($("li", { className: "none", text: "no task" }));
  }
  function setOta(k, state, task) {
    var row = ota.rows.get(k);
    if (!row) return;
    if (task) task.products.forEach(function (p) { ota.tasks.set(p, task); });
    showTasks();
    var last = state.steps.length ? state.steps[state.steps.length - 1] : undefined;
    row.version.textContent = state.version || "–";
    row.task.textContent = state.tid ? String(state.tid) : "–";
    row.progress.textContent = "";
    if (last !== undefined && last <= 100) row.progress.appendChild($("progress", { max: "100", value: String(last) }));
    row.progress.appendChild(document.createTextNode(last === undefined ? "–" : stepText(last)));
    row.progress.setAttribute("data-step", last === undefined ? "" : String(last));
    row.result.textContent = state.result === undefined ? "–" : stepText(state.result);
    row.result.className = "result" + (state.result === undefined ? "" : state.result === 201 ? " ok" : " bad");
    row.result.setAttribute("data-result", state.result === undefined ? "" : String(state.result));
    row.notices.textContent = state.informs + " sent, " + state.informReplies + " answered";
  }
  function renderOta(state) {
    ota.steps = state.ota.steps;
    ota.tasks = new Map();
    state.ota.tasks.forEach(function (t) { t.products.forEach(function (p) { ota.tasks.set(p, t); }); });
    var body = document.getElementById("ota-devices");
    body.textContent = "";
    ota.rows = new Map();
    var products = [];
    state.devices.forEach(function (view) {
      var k = key(view.product, view.device);
      if (products.indexOf(view.product) < 0) products.push(view.product);
      var row = { version: $("td", { className: "version" }), task: $("td", { className: "task" }), progress: $("td", { className: "progress" }),
        result: $("td", { className: "result" }), notices: $("td", { className: "notices" }) };
      body.appendChild($("tr", { "data-ota-device": k }, [$("td", { text: view.device + " (" + view.product + ")" }), row.version, row.task, row.progress, row.result, row.notices]));
      ota.rows.set(k, row);
      setOta(k, view.ota);
    });
    var select = document.getElementById("ota-product");
    select.textContent = "";
    if (products.length > 1) select.appendChild($("option", { value: "", text: "all products" }));
    products.forEach(function (p) { select.appendChild($("option", { value: p, text: p })); });
    showTasks();
  }
  function toBase64(buffer) {
    var bytes = new Uint8Array(buffer), parts = [];
    for (var i = 0; i < bytes.length; i += 0x8000) parts.push(String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000)));
    return btoa(parts.join(""));
  }
  document.getElementById("ota-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var reply = document.getElementById("ota-reply");
    var file = document.getElementById("ota-image").files[0];
    var version = document.getElementById("ota-version").value.trim();
    var product = document.getElementById("ota-product").value;
    if (!file || !version) { reply.className = "reply bad"; reply.textContent = "choose an image file and enter its version"; return; }
    reply.className = "reply"; reply.textContent = "uploading " + file.name + " (" + file.size + " bytes) …";
    file.arrayBuffer().then(function (buffer) {
      var body = { version: version, image: toBase64(buffer) };
      if (product) body.product = product;
      return fetch("api/ota", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    }).then(function (r) { return r.json(); }).then(function (res) {
      if (res.ok) {
        res.task.products.forEach(function (p) { ota.tasks.set(p, res.task); });
        showTasks();
        reply.className = "reply ok"; reply.textContent = "task started: " + taskText(res.task);
      } else { reply.className = "reply bad"; reply.textContent = "failed: " + res.error; }
    }, function (err) { reply.className = "reply bad"; reply.textContent = "failed: " + err; });
  });

  function onEvent(ev) {
    if (ev.type === "ota") setOta(key(ev.product, ev.device), ev.ota, ev.task);
    var dev = devices.get(key(ev.product, ev.device));
    if (!dev) return;
    if (ev.type === "online") setOnline(dev, ev.online, ev.time);
    else if (ev.type === "property") setValue(dev, ev.identifier, ev.value, ev.time, true, ev.backfill === true);
    else if (ev.type === "history") {
      dev.backfilled = (dev.backfilled || 0) + ev.values;
      dev.cadenceEl.setAttribute("data-backfilled", String(dev.backfilled));
      showCadence(dev);
    }
    else if (ev.type === "log") addLog(dev, ev.line);
    else if (ev.type === "subscriptions") setSubs(dev, ev.subscriptions);
    else if (ev.type === "event") addEvent(dev, ev.event);
    else if (ev.type === "post") {
      if (dev.posts.length && dev.posts[dev.posts.length - 1] === ev.time) return;
      dev.posts.push(ev.time);
      if (dev.posts.length > 20) dev.posts.shift();
      dev.postCount = (dev.postCount || 0) + 1;
      showCadence(dev);
    }
  }

  var link = document.getElementById("link");
  // Open the event stream first and hold events until the state snapshot is drawn, so nothing that
  // happens between the two requests is missed (a duplicate chart point is skipped in setValue).
  function connect() {
    var ready = false, held = [];
    var es = new EventSource("api/events");
    es.onmessage = function (m) {
      var ev = JSON.parse(m.data);
      if (ready) onEvent(ev); else held.push(ev);
    };
    es.onerror = function () {
      link.className = "badge off"; link.textContent = "reconnecting…";
      es.close();
      setTimeout(connect, 2000);
    };
    es.onopen = function () {
      fetch("api/state").then(function (r) { return r.json(); }).then(function (state) {
        model = state.model;
        devices.clear();
        var main = document.getElementById("devices");
        main.textContent = "";
        if (state.devices.length === 0) main.appendChild($("p", { className: "empty", text: "No devices registered." }));
        state.devices.forEach(function (view) { main.appendChild(renderDevice(view)); });
        renderOta(state);
        ready = true;
        held.forEach(onEvent);
        held = [];
        link.className = "badge on"; link.textContent = "live";
      }, function () { es.onerror(); });
    };
  }
  connect();
})();
