/* occlude report: lays out window.OCCLUDE_REPORT (report/data.js). No network.
 *
 * The gallery shows the images that match the filters, in the chosen order, a page of
 * cards at a time: the next page is added when the end of the gallery scrolls into view
 * (IntersectionObserver) or on "Show more". Thumbnails load lazily. The sort and filter
 * state is kept in the URL's hash (#sort=focus-asc&low=1), so a view can be linked to.
 * Every text comes from the data through textContent, never as HTML.
 */
(function () {
  "use strict";

  var PAGE = 60;
  var data = window.OCCLUDE_REPORT;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") node.textContent = value;
        else if (key === "cls") node.className = value;
        else node.setAttribute(key, value === true ? "" : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function fmt(value, digits) {
    return value === null || value === undefined ? "–" : value.toFixed(digits === undefined ? 3 : digits);
  }

  function plural(n, one, many) {
    return n.toLocaleString("en") + " " + (n === 1 ? one : many);
  }

  // --- sorting and filtering ------------------------------------------------------

  function gap(card) {
    return card.ins === null || card.insR === null ? null : card.ins - card.insR;
  }

  var SORTS = [
    { id: "name", label: "file name", key: null },
    { id: "focus-asc", label: "focus, lowest first", key: function (c) { return c.focus; }, dir: 1, needs: "has_focus" },
    { id: "focus-desc", label: "focus, highest first", key: function (c) { return c.focus; }, dir: -1, needs: "has_focus" },
    { id: "score-asc", label: "class score, lowest first", key: function (c) { return c.score; }, dir: 1 },
    { id: "score-desc", label: "class score, highest first", key: function (c) { return c.score; }, dir: -1 },
    { id: "faith-asc", label: "insertion AUC minus random, lowest first", key: gap, dir: 1, needs: "has_metrics" },
    { id: "deletion-desc", label: "deletion AUC, highest first", key: function (c) { return c.del; }, dir: -1, needs: "has_metrics" }
  ];

  var state = { sort: "name", low: false, unfaithful: false, q: "" };
  var view = [];
  var rendered = 0;

  function sortById(id) {
    return SORTS.filter(function (s) { return s.id === id; })[0] || SORTS[0];
  }

  /* Indices of the matching cards, in order; missing values go last, ties keep file order. */
  function computeView() {
    var q = state.q.trim().toLowerCase();
    var out = [];
    data.cards.forEach(function (card, i) {
      if (state.low && !card.low) return;
      if (state.unfaithful && !card.unfaithful) return;
      if (q && (card.name + " " + card.cls).toLowerCase().indexOf(q) < 0) return;
      out.push(i);
    });
    var sort = sortById(state.sort);
    if (sort.key) {
      out.sort(function (a, b) {
        var x = sort.key(data.cards[a]), y = sort.key(data.cards[b]);
        if (x === null && y === null) return a - b;
        if (x === null) return 1;
        if (y === null) return -1;
        return x === y ? a - b : (x < y ? -sort.dir : sort.dir);
      });
    }
    return out;
  }

  // --- one card -------------------------------------------------------------------

  function thumbnail(card) {
    var img = card.thumb
      ? el("img", { src: card.thumb, alt: "heatmap of " + card.name, loading: "lazy", decoding: "async" })
      : el("span", { cls: "none", text: card.links.heatmap ? "no thumbnail" : "heatmap missing" });
    return card.links.heatmap
      ? el("a", { cls: "thumb", href: card.links.heatmap, title: "open the full heatmap" }, [img])
      : el("div", { cls: "thumb" }, [img]);
  }

  function focusRow(card) {
    if (card.focus === null && data.min_focus === null) return null;
    var bar = el("div", { cls: "bar", title: "share of the map's positive part inside the expected region" }, [
      el("div", { cls: "fill", style: "width:" + (100 * (card.focus || 0)).toFixed(1) + "%" })
    ]);
    if (data.min_focus !== null) {
      bar.appendChild(el("div", { cls: "tick", style: "left:" + (100 * data.min_focus).toFixed(1) + "%",
                                  title: "min focus " + data.min_focus }));
    }
    return el("div", { cls: "focus" }, [el("span", { text: "focus" }), bar,
                                         el("span", { cls: "num", text: fmt(card.focus) })]);
  }

  function metricRow(name, map, random, lowerIsBetter) {
    var verdict = "";
    if (map !== null && random !== null && map !== random) {
      verdict = (map < random) === lowerIsBetter ? "better" : "worse";
    }
    return el("tr", null, [
      el("td", { text: name }),
      el("td", { cls: "num " + verdict, text: fmt(map) }),
      el("td", { cls: "num", text: fmt(random) }),
      el("td", { cls: verdict, text: verdict ? (verdict === "better" ? "✓ better" : "✗ worse") : "" })
    ]);
  }

  function metrics(card) {
    if (card.ins === null && card.del === null) return null;
    return el("table", { cls: "metrics" }, [
      el("thead", null, [el("tr", null, [el("th", { text: "AUC" }), el("th", { text: "map" }),
                                        el("th", { text: "random" }), el("th", { text: "vs random" })])]),
      el("tbody", null, [metricRow("deletion ↓", card.del, card.delR, true),
                         metricRow("insertion ↑", card.ins, card.insR, false)])
    ]);
  }

  function badges(card) {
    var list = [];
    if (card.low) {
      list.push(el("span", { cls: "badge bad",
        text: card.focus === null ? "no focus (fails the gate)" : "focus below " + data.min_focus }));
    }
    if (card.unfaithful) list.push(el("span", { cls: "badge warn", text: "insertion below random" }));
    return list.length ? el("p", { cls: "badges" }, list) : null;
  }

  function links(card) {
    var names = [["heatmap", "heatmap"], ["sheet", "per-scale sheet"], ["animation", "sweep"], ["record", "JSON"]];
    return el("p", { cls: "links" }, names.filter(function (n) { return card.links[n[0]]; }).map(function (n) {
      return el("a", { href: card.links[n[0]], text: n[1] });
    }));
  }

  function cardNode(card) {
    return el("article", { cls: "card" + (card.low ? " low" : "") + (card.unfaithful ? " unfaithful" : "") }, [
      thumbnail(card),
      el("div", { cls: "body" }, [
        el("h3", { cls: "name", title: card.name, text: card.name }),
        el("p", { cls: "cls" }, [el("span", { text: card.cls }), " ",
                                 el("span", { cls: "score num", text: "score " + fmt(card.score) })]),
        card.top1 ? el("p", { cls: "top1", text: "model's top-1: " + card.top1 }) : null,
        focusRow(card),
        metrics(card),
        badges(card),
        links(card)
      ])
    ]);
  }

  // --- the gallery ----------------------------------------------------------------

  var observer = null;

  function renderMore() {
    var end = Math.min(view.length, rendered + PAGE);
    var fragment = document.createDocumentFragment();
    for (var i = rendered; i < end; i++) fragment.appendChild(cardNode(data.cards[view[i]]));
    $("gallery").appendChild(fragment);
    rendered = end;
    updateCount();
    if (observer && rendered < view.length) {  // fire again if the end is still in view
      observer.unobserve($("sentinel"));
      observer.observe($("sentinel"));
    }
  }

  function updateCount() {
    var total = data.cards.length;
    var text = view.length === total ? plural(total, "image", "images")
      : view.length.toLocaleString("en") + " of " + plural(total, "image", "images") + " match";
    if (rendered < view.length) text += " (showing " + rendered.toLocaleString("en") + ")";
    $("count").textContent = text;
    $("more").hidden = rendered >= view.length;
    $("empty").hidden = view.length > 0;
  }

  function refresh(keepHash) {
    view = computeView();
    rendered = 0;
    $("gallery").textContent = "";
    // A new order starts at its first card: scroll back up if the gallery's top is gone.
    if ($("gallery-section").getBoundingClientRect().top < 0) $("gallery-section").scrollIntoView();
    renderMore();
    if (!keepHash) saveHash();
  }

  function readHash() {
    var params = new URLSearchParams(window.location.hash.slice(1));
    if (params.has("sort") && $("sort").querySelector('option[value="' + CSS.escape(params.get("sort")) + '"]')) {
      state.sort = params.get("sort");
    }
    state.low = params.get("low") === "1" && !$("only-low").disabled;
    state.unfaithful = params.get("unfaithful") === "1" && !$("only-unfaithful").disabled;
    state.q = params.get("q") || "";
  }

  function saveHash() {
    var params = new URLSearchParams();
    if (state.sort !== "name") params.set("sort", state.sort);
    if (state.low) params.set("low", "1");
    if (state.unfaithful) params.set("unfaithful", "1");
    if (state.q) params.set("q", state.q);
    var hash = params.toString();
    try {
      history.replaceState(null, "", hash ? "#" + hash : window.location.pathname);
    } catch (e) { /* some browsers refuse history on file:// pages: the view still works */ }
  }

  function setupControls() {
    var select = $("sort");
    SORTS.forEach(function (s) {
      if (!s.needs || data[s.needs]) select.appendChild(el("option", { value: s.id, text: s.label }));
    });
    var lowCount = data.cards.filter(function (c) { return c.low; }).length;
    var lowBox = $("only-low");
    if (data.min_focus === null) {
      lowBox.disabled = true;
      $("only-low-box").classList.add("disabled");
      $("only-low-box").title = "Build the report with --min-focus F to mark images whose focus is below F";
      $("only-low-label").textContent = "Below min focus only (no --min-focus given)";
      if (!data.has_focus) $("only-low-box").hidden = true;
    } else {
      $("only-low-label").textContent = "Below min focus " + data.min_focus + " only (" + lowCount.toLocaleString("en") + ")";
    }
    var unfaithful = data.cards.filter(function (c) { return c.unfaithful; }).length;
    $("only-unfaithful-label").textContent = "Insertion AUC below random only (" + unfaithful.toLocaleString("en") + ")";
    $("only-unfaithful").disabled = !data.has_metrics;
    $("only-unfaithful-box").hidden = !data.has_metrics;

    readHash();
    select.value = state.sort;
    lowBox.checked = state.low;
    $("only-unfaithful").checked = state.unfaithful;
    $("search").value = state.q;

    select.addEventListener("change", function () { state.sort = select.value; refresh(); });
    lowBox.addEventListener("change", function () { state.low = lowBox.checked; refresh(); });
    $("only-unfaithful").addEventListener("change", function () {
      state.unfaithful = $("only-unfaithful").checked; refresh();
    });
    $("search").addEventListener("input", function () { state.q = $("search").value; refresh(); });
    $("more").addEventListener("click", renderMore);
    if ("IntersectionObserver" in window) {
      observer = new IntersectionObserver(function (entries) {
        if (entries.some(function (e) { return e.isIntersecting; }) && rendered < view.length) renderMore();
      }, { rootMargin: "600px 0px" });
      observer.observe($("sentinel"));
    }
  }

  function legend() {
    var parts = [];
    if (data.has_focus) {
      parts.push("Focus: the share of the map's positive (supporting) part inside the expected region; " +
                 "higher is better" + (data.min_focus !== null ? ", the tick marks the minimum " + data.min_focus : "") + ".");
    }
    if (data.has_metrics) {
      parts.push("Deletion AUC: the class score as the map's top pixels are removed; lower than for a random " +
                 "order is better. Insertion AUC: the score as they are added back; higher than random is better.");
    }
    parts.push("Click a thumbnail for the full heatmap.");
    $("legend").textContent = parts.join(" ");
  }

  // --- failures and robustness ----------------------------------------------------

  function fillFailures(tableId, failures) {
    var body = $(tableId).querySelector("tbody");
    failures.forEach(function (f) {
      body.appendChild(el("tr", null, [el("td", { text: f.input }), el("td", { text: f.message })]));
    });
  }

  function interval(low, high) {
    return low === null || high === null ? "–" : "[" + fmt(low) + ", " + fmt(high) + "]";
  }

  function gateFails(gate, row) {
    if (!gate || row.fraction === null || Math.abs(row.fraction - gate.at) > 1e-9) return false;
    var value = gate.on === "lower" ? row.accuracy_low_images : row.accuracy;
    return value === null || value < gate.min_accuracy;
  }

  function fillRobustness(r) {
    $("robustness-section").hidden = false;
    var about = [];
    if (r.model) about.push("model " + r.model);
    if (r.repeats) about.push(plural(r.repeats, "placement", "placements") + " per image, method and fraction");
    about.push("accuracy is top-1; the interval over images is the one to judge by");
    $("robustness-about").textContent = about.join(" · ") + ".";
    if (r.note) { $("robustness-note").hidden = false; $("robustness-note").textContent = r.note; }
    if (r.gate) {
      var g = $("robustness-gate");
      g.hidden = false;
      g.className = "gate " + (r.gate.passed ? "passed" : "failed");
      g.textContent = "Gate " + (r.gate.passed ? "passed" : "failed") + ": accuracy at fraction " + r.gate.at +
        " at least " + r.gate.min_accuracy + ", judged on " +
        (r.gate.on === "lower" ? "the lower bound of the 95% interval over images" : "the point estimate") + ".";
    }
    if (r.plot) {
      $("robustness-figure").hidden = false;
      $("robustness-plot").src = r.plot;
      $("robustness-plot-link").href = r.plot;
    }
    if (r.rows.length) {
      $("robustness-table").hidden = false;
      var body = $("robustness-table").querySelector("tbody");
      r.rows.forEach(function (row) {
        body.appendChild(el("tr", { cls: gateFails(r.gate, row) ? "fails" : null }, [
          el("td", { text: row.method }), el("td", { text: fmt(row.fraction, 2) }),
          el("td", { text: fmt(row.accuracy) }),
          el("td", { text: interval(row.accuracy_low_images, row.accuracy_high_images) }),
          el("td", { text: interval(row.accuracy_low, row.accuracy_high) }),
          el("td", { text: fmt(row.mean_true_score) }),
          el("td", { text: row.n === null ? "–" : String(row.n) }),
          el("td", { text: row.images === null ? "–" : String(row.images) })
        ]));
      });
    }
    if (r.failures.length) {
      $("robustness-failures-box").hidden = false;
      fillFailures("robustness-failures", r.failures);
    }
  }

  // --- the page -------------------------------------------------------------------

  function summary() {
    var parts = [], nav = $("nav"), n = data.cards.length;
    if (n) {
      parts.push(plural(n, "image", "images"));
      nav.appendChild(el("a", { href: "#gallery-section", text: "Maps (" + n.toLocaleString("en") + ")" }));
    }
    if (data.models.length) parts.push((data.models.length > 1 ? "models " : "model ") + data.models.join(", "));
    if (data.min_focus !== null) {
      var low = data.cards.filter(function (c) { return c.low; }).length;
      parts.push(low.toLocaleString("en") + " below min focus " + data.min_focus);
    }
    if (data.failures.length) {
      parts.push(plural(data.failures.length, "failed input", "failed inputs"));
      nav.appendChild(el("a", { href: "#failures-section",
                                text: "Failed inputs (" + data.failures.length.toLocaleString("en") + ")" }));
    }
    if (data.robustness) {
      parts.push("robustness results");
      nav.appendChild(el("a", { href: "#robustness-section", text: "Robustness" }));
    }
    $("summary").textContent = parts.join(" · ");
    $("built").textContent = "built " + data.built;
  }

  function main() {
    if (!data) { $("load-error").hidden = false; return; }
    summary();
    if (data.cards.length) {
      $("gallery-section").hidden = false;
      $("gallery-total").textContent = "(" + data.cards.length.toLocaleString("en") + ")";
      legend();
      setupControls();
      refresh(true);
      if (window.performance && performance.mark) performance.mark("occlude:first-cards");
    }
    if (data.failures.length) {
      $("failures-section").hidden = false;
      $("failures-total").textContent = "(" + data.failures.length.toLocaleString("en") + ")";
      fillFailures("failures", data.failures);
    }
    if (data.robustness) fillRobustness(data.robustness);
  }

  main();
})();
