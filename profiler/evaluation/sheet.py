"""An optional static HTML labelling sheet for a label-sample: captions and image addresses as text.

Nothing on the page loads from the network (a strict Content-Security-Policy, no images, no
links), so opening it reveals nothing to the hosts of the sampled URLs; the labels go into the CSV.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape


def render_sheet(run: str, csv_name: str, rows: list[dict], label_columns: list[str]) -> str:
    env = Environment(loader=PackageLoader("profiler.evaluation", ""), autoescape=select_autoescape(["j2"]))
    return env.get_template("sheet.html.j2").render(run=run, csv_name=csv_name, rows=rows,
                                                    label_columns=label_columns)
