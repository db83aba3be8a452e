"""Signatures and verifications per second on one core, canonicalisation included.

Method: one process, one thread (so the figures are per core). Each operation runs on a
realistic 5-line national prescription (built below) for a fixed wall-clock budget after a
warm-up; the figure is operations / elapsed seconds, best of three rounds. "sign" is
``Signer.sign_document`` (RFC 8785 + SHA-256 + JWS header + signature); "verify" is
``verify_document`` against a JWKS of 3 keys (RFC 8785 + key lookup + signature check).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from signing.canonical import canonicalize
from signing.jws import Signer, verify_document
from signing.key_store import generate_private_key

ROUND_SECONDS = 1.5
ROUNDS = 3


def national_prescription() -> dict[str, Any]:
    lines = [
        ("VD-32243-19", "Panadol", "Paracetamol 500mg", "Viên", 20, "Uống 1 viên khi sốt, cách 6 giờ"),
        ("VD-21345-14", "Augmentin", "Amoxicilin 875mg + Acid clavulanic 125mg", "Viên", 14,
         "Uống 1 viên x 2 lần/ngày sau ăn"),
        ("VN-18818-15", "Telfast", "Fexofenadin 180mg", "Viên", 7, "Uống 1 viên buổi sáng"),
        ("VD-25588-16", "Omeprazol", "Omeprazol 20mg", "Viên", 14, "Uống 1 viên trước ăn sáng 30 phút"),
        ("VD-19812-13", "Oresol", "Natri clorid, Kali clorid, Natri citrat, Glucose", "Gói", 5,
         "Pha 1 gói với 200 ml nước, uống trong ngày"),
    ]
    return {
        "loai_don_thuoc": "c", "ma_don_thuoc": "79001A1B2C3D-c",
        "ho_ten_benh_nhan": "Nguyễn Thị Hồng Nhung", "ma_dinh_danh_y_te": "",
        "ma_dinh_danh_cong_dan": "079190001234", "ngay_sinh_benh_nhan": "15/04/1990",
        "can_nang": 52.5, "gioi_tinh": 3, "ma_so_the_bao_hiem_y_te": "DN4797912345678",
        "thong_tin_nguoi_giam_ho": "", "dia_chi": "12 Nguyễn Trãi, Phường Bến Thành, TP. Hồ Chí Minh",
        "chan_doan": [{"ma_chan_doan": "J02.9", "ten_chan_doan": "Viêm họng cấp",
                       "ket_luan": "Viêm họng cấp, sốt 38.5 độ"}],
        "luu_y": "Dị ứng penicilin: không", "hinh_thuc_dieu_tri": 1,
        "dot_dung_thuoc": [{"dot": 1, "tu_ngay": "02/03/2026", "den_ngay": "08/03/2026"}],
        "thong_tin_don_thuoc": [
            {"ma_thuoc": code, "biet_duoc": brand, "ten_thuoc": name, "don_vi_tinh": unit,
             "so_luong": quantity, "cach_dung": directions}
            for code, brand, name, unit, quantity, directions in lines],
        "loi_dan": "Uống nhiều nước, tái khám nếu sốt trên 3 ngày",
        "so_dien_thoai_nguoi_kham_benh": "0903123456", "ngay_tai_kham": 7,
        "ngay_gio_ke_don": "2026-03-02 09:30:00", "signature": "",
    }


def rate(operation: Callable[[], Any]) -> float:
    for _ in range(50):
        operation()
    best = 0.0
    for _ in range(ROUNDS):
        count, started = 0, time.perf_counter()
        deadline = started + ROUND_SECONDS
        while True:
            for _ in range(50):
                operation()
            count += 50
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - started))
    return best


def run() -> str:
    document = national_prescription()
    size = len(canonicalize(document))
    rows = [f"| RFC 8785 canonicalisation only | — | {rate(lambda: canonicalize(document)):,.0f} |"]
    for alg in ("EdDSA", "ES256"):
        signer = Signer(private_key=generate_private_key(alg))
        others = [Signer(private_key=generate_private_key(alg)).public_jwk for _ in range(2)]
        jwks = {"keys": [*others, signer.public_jwk]}
        jws = signer.sign_document(document)["jws"]
        signs = rate(lambda signer=signer: signer.sign_document(document))
        verifies = rate(lambda jws=jws, jwks=jwks: verify_document(document, jws, jwks))
        rows.append(f"| sign (`sign_document`) | {alg} | {signs:,.0f} |")
        rows.append(f"| verify (`verify_document`) | {alg} | {verifies:,.0f} |")
    return "\n".join([
        "## Signing",
        "",
        f"Operations per second on **one core** (one process, one thread), canonicalisation "
        f"included, for a 5-line national prescription ({size} bytes in canonical form). "
        f"Each figure is operations / elapsed seconds over {ROUND_SECONDS} s after a warm-up, "
        f"best of {ROUNDS} rounds. *sign* is `Signer.sign_document` (RFC 8785 of the document, "
        f"SHA-256, JWS header, signature); *verify* is `verify_document` against a JWKS of 3 "
        f"keys (RFC 8785, key lookup, signature check). The pure-Python RFC 8785 "
        f"implementation (`rfc8785`) costs more than the signature itself. The machine is shared "
        f"with other jobs, so figures vary by about ±20 % between runs.",
        "",
        "| operation | alg | per second per core |",
        "|---|---|---|",
        *rows,
    ])


if __name__ == "__main__":
    print(run())
