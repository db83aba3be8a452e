"""The inspector's charts, drawn on the server by pygal as SVG (pure).

Each chart becomes a ``data:image/svg+xml`` URI for an ``<img>``: the page needs no script and
fetches nothing, and pygal's own tooltip script never runs inside an image. Values are printed
on the bars, and every chart comes with the table of its numbers for screen readers and for
copying (:class:`Chart`).
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pygal
from pygal.style import Style

from gateway.console.english import english
from gateway.console.labels import DELIVERY_STATES, TYPES, number

# pygal appends a ``sys.meta_path`` finder of the pre-3.4 protocol (no ``find_spec``) so that
# its map plugins import as ``pygal.maps.*``. The console draws no maps, and Python 3.11 warns
# (ImportWarning) at every later import the finder is asked about: take it out again.
sys.meta_path[:] = [finder for finder in sys.meta_path
                    if not (type(finder).__module__ == "pygal"
                            and type(finder).__name__ == "PluginImportFixer")]

# Okabe-Ito: told apart by people with any common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
STYLE = Style(background="#ffffff", plot_background="#ffffff", foreground="#1f2933",
              foreground_strong="#1f2933", foreground_subtle="#52606d", colors=PALETTE,
              font_family="'DejaVu Sans', 'Liberation Sans', Arial, sans-serif",
              title_font_size=18, label_font_size=13, major_label_font_size=13,
              value_font_size=12, legend_font_size=13, tooltip_font_size=12)
NO_DATA = "Chưa có dữ liệu"


@dataclass(frozen=True)
class Chart:
    """One chart: its title, the image (a data URI), a one-line summary for the image's
    ``alt`` text, and its numbers as a table."""

    key: str
    title: str
    image: str
    summary: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


class _Words:
    """The charts' words and numbers in one language (``vi`` or ``en``)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, text: str) -> str:
        return english(text) if self.lang == "en" else text

    def number(self, value: Any) -> str:
        return number(value, self.lang)


def _options(title: str, say: _Words, **extra: Any) -> dict[str, Any]:
    return {"title": title, "style": STYLE, "js": [], "disable_xml_declaration": True,
            "width": 640, "height": 360, "print_values": True, "no_data_text": say(NO_DATA),
            "value_formatter": say.number, "legend_at_bottom": True, "truncate_label": 40,
            "truncate_legend": 40, **extra}


def _image(chart: Any) -> str:
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _total(values: Sequence[Any], say: _Words) -> str:
    return say.number(sum(values))


def per_day(rows: Sequence[tuple[str, int, int]], lang: str = "vi") -> Chart:
    say = _Words(lang)
    title = say("Đơn thuốc theo ngày")
    chart = pygal.Bar(**_options(title, say, x_label_rotation=-45, print_values=len(rows) <= 14,
                                 x_labels_major_every=max(1, len(rows) // 10),
                                 show_minor_x_labels=len(rows) <= 14))
    chart.x_labels = [row[0] for row in rows]
    chart.add(say("Tất cả đơn"), [row[1] for row in rows])
    chart.add(say("Có thuốc kiểm soát"), [row[2] for row in rows])
    return Chart("per-day", title, _image(chart),
                 say(f"{title}: {_total([r[1] for r in rows], say)} đơn trong {len(rows)} ngày"),
                 (say("Ngày"), say("Tất cả đơn"), say("Có thuốc kiểm soát")),
                 tuple((row[0], say.number(row[1]), say.number(row[2])) for row in rows))


def per_type(rows: Sequence[tuple[str, int]], lang: str = "vi") -> Chart:
    say = _Words(lang)
    title = say("Đơn thuốc theo loại")
    chart = pygal.HorizontalBar(**_options(title, say, show_legend=False))
    chart.x_labels = [say(TYPES.get(kind, kind)) for kind, _ in rows]
    chart.add(say("Đơn thuốc"), [count for _, count in rows])
    return Chart("per-type", title, _image(chart),
                 title + ": " + ", ".join(f"{say(TYPES.get(k, k))} {say.number(v)}"
                                          for k, v in rows),
                 (say("Loại đơn"), say("Số đơn")),
                 tuple((say(TYPES.get(kind, kind)), say.number(count)) for kind, count in rows))


def controlled(rows: Sequence[tuple[str, float, float]], lang: str = "vi") -> Chart:
    say = _Words(lang)
    title = say("Thuốc kiểm soát đặc biệt: số lượng kê và đã bán")
    chart = pygal.HorizontalBar(**_options(title, say, height=max(360, 60 + 48 * len(rows))))
    chart.x_labels = [row[0] for row in rows]
    chart.add(say("Đã kê"), [row[1] for row in rows])
    chart.add(say("Đã bán"), [row[2] for row in rows])
    return Chart("controlled", title, _image(chart), say(f"{title}: {len(rows)} thuốc"),
                 (say("Thuốc"), say("Số lượng kê"), say("Số lượng đã bán")),
                 tuple((row[0], say.number(row[1]), say.number(row[2])) for row in rows))


def facilities(rows: Sequence[tuple[str, int, int]], lang: str = "vi") -> Chart:
    say = _Words(lang)
    title = say("Cơ sở kê đơn nhiều nhất")
    chart = pygal.HorizontalBar(**_options(title, say, height=max(360, 60 + 40 * len(rows))))
    chart.x_labels = [row[0] for row in rows]
    chart.add(say("Đơn thuốc"), [row[1] for row in rows])
    chart.add(say("Đã hủy"), [row[2] for row in rows])
    return Chart("facilities", title, _image(chart), say(f"{title}: {len(rows)} cơ sở"),
                 (say("Cơ sở"), say("Số đơn"), say("Đã hủy")),
                 tuple((row[0], say.number(row[1]), say.number(row[2])) for row in rows))


def drugs(rows: Sequence[tuple[str, int, float]], lang: str = "vi") -> Chart:
    say = _Words(lang)
    title = say("Thuốc được kê nhiều nhất")
    chart = pygal.HorizontalBar(**_options(title, say, show_legend=False,
                                           height=max(360, 60 + 40 * len(rows))))
    chart.x_labels = [row[0] for row in rows]
    chart.add(say("Số đơn"), [row[1] for row in rows])
    return Chart("drugs", title, _image(chart), say(f"{title}: {len(rows)} thuốc"),
                 (say("Thuốc"), say("Số đơn"), say("Số lượng kê")),
                 tuple((row[0], say.number(row[1]), say.number(row[2])) for row in rows))


def deliveries(rows: Sequence[tuple[str, int, int]], lang: str = "vi") -> Chart:
    say = _Words(lang)
    title = say("Tình trạng chuyển giao (đang chờ, bị từ chối, hết hạn gửi lại)")
    chart = pygal.StackedBar(**_options(title, say))
    states = [say(DELIVERY_STATES.get(row[0], row[0])) for row in rows]
    chart.x_labels = states
    chart.add(say("Hệ thống quốc gia"), [row[1] for row in rows])
    chart.add(say("Nhà thuốc"), [row[2] for row in rows])
    return Chart("deliveries", title, _image(chart),
                 title + ": " + ", ".join(f"{state} {say.number(r[1] + r[2])}"
                                          for state, r in zip(states, rows, strict=True)),
                 (say("Trạng thái"), say("Hệ thống quốc gia"), say("Nhà thuốc")),
                 tuple((state, say.number(row[1]), say.number(row[2]))
                       for state, row in zip(states, rows, strict=True)))
