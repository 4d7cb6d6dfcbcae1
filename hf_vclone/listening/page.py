"""The listening test's HTML: a name form, then every sample blinded with a 1-5 scale, and the results."""

from __future__ import annotations

import html

from .mos import MOS, markdown
from .trials import Trial

STYLE = """body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
.trial{border:1px solid #ddd;border-radius:8px;padding:.8rem 1rem;margin:.8rem 0}
.trial p{margin:.2rem 0 .5rem}.scale label{margin-right:.9rem}.saved{color:#2a7;font-size:.9rem;margin-left:.5rem}
.error{color:#c22}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .7rem;text-align:right}
th:first-child,td:first-child{text-align:left}"""
SCALE = [(1, "Bad"), (2, "Poor"), (3, "Fair"), (4, "Good"), (5, "Excellent")]

SCRIPT = """
async function rate(input) {
  const box = input.closest('.trial'), mark = box.querySelector('.saved');
  mark.textContent = 'saving...'; mark.className = 'saved';
  const res = await fetch('rate', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({rater: document.body.dataset.rater, trial: box.dataset.trial, score: Number(input.value)})});
  const answer = await res.json();
  if (res.ok) { mark.textContent = 'saved'; box.dataset.rated = input.value; }
  else { mark.textContent = answer.error; mark.className = 'saved error'; }
  document.getElementById('progress').textContent =
    document.querySelectorAll('.trial[data-rated]').length + ' of ' + document.querySelectorAll('.trial').length + ' rated';
}
"""


def _page(title: str, body: str, rater: str = "") -> bytes:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body data-rater=\"{html.escape(rater)}\">{body}</body></html>").encode()


def welcome(count: int) -> bytes:
    return _page("Listening test", f"""<h1>Listening test</h1>
<p>You will hear {count} short recordings, in an order of your own. Rate how natural each one sounds,
from 1 (bad) to 5 (excellent). Use headphones if you can, and listen to each sample to the end.</p>
<form method=get action="."><label>Your name or initials <input name=rater required autofocus></label>
<button type=submit>Start</button></form>""")


def trials_page(rater: str, trials: list[Trial], given: dict[str, int]) -> bytes:
    items = []
    for number, trial in enumerate(trials, 1):
        rated = f' data-rated="{given[trial.id]}"' if trial.id in given else ""
        radios = "".join(
            f'<label><input type=radio name="t{trial.id}" value={score} onchange="rate(this)"'
            f'{" checked" if given.get(trial.id) == score else ""}> {score} {label}</label>'
            for score, label in SCALE)
        items.append(f'<div class=trial data-trial="{trial.id}"{rated}><p><b>{number}.</b> '
                     f'&ldquo;{html.escape(trial.text)}&rdquo;</p><audio controls preload=none src="audio/{trial.id}"></audio>'
                     f'<div class=scale>{radios}<span class=saved>{"saved" if rated else ""}</span></div></div>')
    body = (f"<h1>Listening test</h1><p>Listener: <b>{html.escape(rater)}</b>. Every answer is saved the moment "
            f"you click it; you can close the page and come back.</p><p id=progress>{len(given)} of {len(trials)} "
            f"rated</p>{''.join(items)}<script>{SCRIPT}</script><p><a href=results>Results</a></p>")
    return _page("Listening test", body, rater)


def results_page(rows: list[MOS]) -> bytes:
    if not rows:
        return _page("Results", "<h1>Results</h1><p>No ratings yet.</p>")
    table = markdown(rows).splitlines()[2:]
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in line.strip("|").split("|")) + "</tr>"
                    for line in table)
    return _page("Results", "<h1>Results</h1><table id=mos><tr><th>system</th><th>MOS</th><th>95% CI</th>"
                 f"<th>ratings</th><th>listeners</th></tr>{cells}</table>"
                 "<p>Download: <a href=results.csv>CSV</a> &middot; <a href=results.md>markdown</a></p>")
