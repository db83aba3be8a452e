"""The printable prescription over HTTP (README "Printable prescription"): the A5 PDF and the
HTML view for browsers, each audited as ``prescription.printed``."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template
from flask_smorest import Blueprint
from markupsafe import Markup

from gateway.prescriptions.print_pdf import MODULE_MM
from gateway.prescriptions.printing import qr_svg
from gateway.web.context import services
from gateway.web.problems import PROBLEM_MEDIA_TYPE, ProblemSchema
from gateway.web.security import current_party, requires

blp = Blueprint("printing", __name__, template_folder="templates",
                description="Printable prescriptions: an A5 PDF with a signed QR code, and an "
                            "HTML view for browsers")

_PROBLEM = {PROBLEM_MEDIA_TYPE: {"schema": ProblemSchema}}
_ACCESS = {"401": {"description": "no or invalid token", "content": _PROBLEM},
           "403": {"description": "a pharmacy, an admin, or another facility's clinic or "
                                  "doctor: only the issuing facility and regulators print",
                   "content": _PROBLEM},
           "404": {"description": "unknown prescription", "content": _PROBLEM}}
# The page carries patient data and links nothing: no caching, no scripts, nothing fetched.
_PRIVATE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"}
_HTML_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


@blp.route("/v2/prescriptions/<code>/print", methods=["GET"])
@blp.doc(responses={"200": {
    "description": "the prescription on one or more A5 pages, in the layout of the "
                   "Vietnamese prescription form, with its code in large type and as a QR "
                   "code (a compact JWS signed by the gateway, README \"Printable "
                   "prescription\"); a cancelled or expired prescription carries its mark",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
    **_ACCESS})
@requires("clinic", "doctor", "regulator")
def print_pdf(code: str) -> Any:
    """The printable prescription (PDF, A5)."""
    printing = services().printing
    stored, form = printing.form(code, current_party())
    body = printing.pdf(form)
    services().reading.note_event(stored, "prescription.printed",
                                    {"format": "pdf", "status": form.status})
    return Response(body, mimetype="application/pdf", headers={
        **_PRIVATE, "Content-Disposition": f'inline; filename="don-thuoc-{stored["_id"]}.pdf"'})


@blp.route("/v2/prescriptions/<code>/print.html", methods=["GET"])
@blp.doc(responses={"200": {
    "description": "the same form as a self-contained HTML page to print from a browser "
                   "(A5 page size, the QR code as inline SVG, nothing fetched)",
    "content": {"text/html": {"schema": {"type": "string"}}}}, **_ACCESS})
@requires("clinic", "doctor", "regulator")
def print_html(code: str) -> Any:
    """The printable prescription (HTML view for browsers)."""
    stored, form = services().printing.form(code, current_party())
    page = render_template("print.html", form=form,
                           qr=Markup(qr_svg(form.qr_text, module_mm=MODULE_MM)))
    services().reading.note_event(stored, "prescription.printed",
                                    {"format": "html", "status": form.status})
    return Response(page, mimetype="text/html", headers={
        **_PRIVATE, "Content-Security-Policy": _HTML_POLICY})
