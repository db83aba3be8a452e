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


def _options(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "style": STYLE, "js": [], "disable_xml_declaration": True,
            "width": 640, "height": 360, "print_values": True, "no_data_text": NO_DATA,
            "value_formatter": number, "legend_at_bottom": True, "truncate_label": 40,
            "truncate_legend": 40, **extra}


def _image(chart: Any) -> str:
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _total(values: Sequence[Any]) -> str:
    return number(sum(values))


def per_day(rows: Sequence[tuple[str, int, int]]) -> Chart:
    title = "Đơn thuốc theo ngày"
    chart = pygal.Bar(**_options(title, x_label_rotation=-45, print_values=len(rows) <= 14,
                                 x_labels_major_every=max(1, len(rows) // 10),
                                 show_minor_x_labels=len(rows) <= 14))
    chart.x_labels = [row[0] for row in rows]
    chart.add("Tất cả đơn", [row[1] for row in rows])
    chart.add("Có thuốc kiểm soát", [row[2] for row in rows])
    return Chart("per-day", title, _image(chart),
                 f"{title}: {_total([r[1] for r in rows])} đơn trong {len(rows)} ngày",
                 ("Ngày", "Tất cả đơn", "Có thuốc kiểm soát"),
                 tuple((row[0], number(row[1]), number(row[2])) for row in rows))


def per_type(rows: Sequence[tuple[str, int]]) -> Chart:
    title = "Đơn thuốc theo loại"
    chart = pygal.HorizontalBar(**_options(title, show_legend=False))
    chart.x_labels = [TYPES.get(kind, kind) for kind, _ in rows]
    chart.add("Đơn thuốc", [count for _, count in rows])
    return Chart("per-type", title, _image(chart),
                 title + ": " + ", ".join(f"{TYPES.get(k, k)} {number(v)}" for k, v in rows),
                 ("Loại đơn", "Số đơn"),
                 tuple((TYPES.get(kind, kind), number(count)) for kind, count in rows))


def controlled(rows: Sequence[tuple[str, float, float]]) -> Chart:
    title = "Thuốc kiểm soát đặc biệt: số lượng kê và đã bán"
    chart = pygal.HorizontalBar(**_options(title, height=max(360, 60 + 48 * len(rows))))
    chart.x_labels = [row[0] for row in rows]
    chart.add("Đã kê", [row[1] for row in rows])
    chart.add("Đã bán", [row[2] for row in rows])
    return Chart("controlled", title, _image(chart),
                 f"{title}: {len(rows)} thuốc",
                 ("Thuốc", "Số lượng kê", "Số lượng đã bán"),
                 tuple((row[0], number(row[1]), number(row[2])) for row in rows))


def facilities(rows: Sequence[tuple[str, int, int]]) -> Chart:
    title = "Cơ sở kê đơn nhiều nhất"
    chart = pygal.HorizontalBar(**_options(title, height=max(360, 60 + 40 * len(rows))))
    chart.x_labels = [row[0] for row in rows]
    chart.add("Đơn thuốc", [row[1] for row in rows])
    chart.add("Đã hủy", [row[2] for row in rows])
    return Chart("facilities", title, _image(chart), f"{title}: {len(rows)} cơ sở",
                 ("Cơ sở", "Số đơn", "Đã hủy"),
                 tuple((row[0], number(row[1]), number(row[2])) for row in rows))


def drugs(rows: Sequence[tuple[str, int, float]]) -> Chart:
    title = "Thuốc được kê nhiều nhất"
    chart = pygal.HorizontalBar(**_options(title, show_legend=False,
                                           height=max(360, 60 + 40 * len(rows))))
    chart.x_labels = [row[0] for row in rows]
    chart.add("Số đơn", [row[1] for row in rows])
    return Chart("drugs", title, _image(chart), f"{title}: {len(rows)} thuốc",
                 ("Thuốc", "Số đơn", "Số lượng kê"),
                 tuple((row[0], number(row[1]), number(row[2])) for row in rows))


def deliveries(rows: Sequence[tuple[str, int, int]]) -> Chart:
    title = "Tình trạng chuyển giao (đang chờ, bị từ chối, hết hạn gửi lại)"
    chart = pygal.StackedBar(**_options(title))
    chart.x_labels = [DELIVERY_STATES.get(row[0], row[0]) for row in rows]
    chart.add("Hệ thống quốc gia", [row[1] for row in rows])
    chart.add("Nhà thuốc", [row[2] for row in rows])
    return Chart("deliveries", title, _image(chart),
                 title + ": " + ", ".join(f"{DELIVERY_STATES.get(r[0], r[0])} {number(r[1] + r[2])}"
                                          for r in rows),
                 ("Trạng thái", "Hệ thống quốc gia", "Nhà thuốc"),
                 tuple((DELIVERY_STATES.get(row[0], row[0]), number(row[1]), number(row[2]))
                       for row in rows))
