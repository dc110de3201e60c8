"use strict";
// Sorting and filtering of the secrets list. The list itself is rendered in
// the page (it reads without this script); the keys to sort and filter on come
// from the JSON data block. Nothing here builds markup from data: rows are only
// shown, hidden and reordered.
(function () {
  const dataBlock = document.getElementById("leakguard-data");
  const list = document.getElementById("secrets");
  const controls = document.getElementById("controls");
  if (!dataBlock || !list || !controls) {
    return;
  }
  const data = JSON.parse(dataBlock.textContent);
  const rows = new Map();
  for (const row of list.querySelectorAll("details.secret")) {
    rows.set(row.id, row);
  }
  const secrets = data.secrets.filter((s) => rows.has(s.id));
  const field = (id) => document.getElementById(id);
  const filters = {
    severity: field("f-severity"),
    rule: field("f-rule"),
    repo: field("f-repo"),
    newest: field("f-newest"),
    text: field("f-text"),
  };
  const shown = field("shown");
  const newestKey = { true: "yes", false: "no", null: "unknown" };

  function keep(s) {
    const rank = filters.severity.value === "" ? 0 : Number(filters.severity.value);
    if (s.rank < rank) {
      return false;
    }
    if (filters.rule.value !== "" && !s.rules.includes(filters.rule.value)) {
      return false;
    }
    if (filters.repo && filters.repo.value !== "" && !s.repos.includes(filters.repo.value)) {
      return false;
    }
    if (filters.newest && filters.newest.value !== "" &&
        newestKey[String(s.newest)] !== filters.newest.value) {
      return false;
    }
    const text = filters.text.value.trim().toLowerCase();
    return text === "" || s.text.includes(text);
  }

  function apply() {
    let count = 0;
    for (const s of secrets) {
      const on = keep(s);
      rows.get(s.id).hidden = !on;
      count += on ? 1 : 0;
    }
    shown.textContent = count + " of " + secrets.length + " secrets shown";
  }

  const sortKeys = {
    severity: (s) => s.rank,
    rule: (s) => s.rules.join(" "),
    value: (s) => s.redacted,
    where: (s) => s.where,
    count: (s) => s.count,
    repos: (s) => s.repos.length ? s.repos[0] : "",
    newest: (s) => (s.newest === true ? 2 : s.newest === false ? 1 : 0),
  };
  const buttons = Array.from(document.querySelectorAll("#secrets-head button[data-sort]"));

  function sortBy(key, direction) {
    const value = sortKeys[key];
    const sign = direction === "ascending" ? 1 : -1;
    const ordered = secrets.slice().sort((a, b) => {
      const x = value(a);
      const y = value(b);
      if (x < y) {
        return -sign;
      }
      if (x > y) {
        return sign;
      }
      return a.order - b.order;
    });
    for (const s of ordered) {
      list.appendChild(rows.get(s.id));
    }
    for (const button of buttons) {
      if (button.dataset.sort === key) {
        button.setAttribute("aria-sort", direction);
      } else {
        button.removeAttribute("aria-sort");
      }
    }
  }

  for (const button of buttons) {
    button.addEventListener("click", () => {
      const now = button.getAttribute("aria-sort");
      const numeric = ["severity", "count", "newest"].includes(button.dataset.sort);
      const first = numeric ? "descending" : "ascending";
      const direction = now === null ? first : now === "ascending" ? "descending" : "ascending";
      sortBy(button.dataset.sort, direction);
    });
  }
  for (const control of Object.values(filters)) {
    if (control) {
      control.addEventListener("input", apply);
    }
  }
  field("expand").addEventListener("click", () => {
    for (const s of secrets) {
      if (!rows.get(s.id).hidden) {
        rows.get(s.id).open = true;
      }
    }
  });
  field("collapse").addEventListener("click", () => {
    for (const row of rows.values()) {
      row.open = false;
    }
  });
  controls.hidden = false;
  apply();
})();
